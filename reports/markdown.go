package reports

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteMarkdown writes the run as report.md: the summary and provenance, the matrix of
// scenarios by strategy (and side, when several targets or clients are compared) with its
// totals, the property tallies (overall, then by column and campaign), the campaigns,
// every failure with its requests, the events around it and its replay command, and what
// was skipped, grouped by reason.
func WriteMarkdown(w io.Writer, run *Run) error {
	rep := newReport(run, "")
	md := &mdWriter{w: w}

	md.printf("# conflictlab compatibility report\n\n")
	md.printf("Server %s", codeSpan(rep.Server))
	if rep.Started != "" {
		md.printf(", started %s", rep.Started)
	}
	md.printf(", took %s.\n\n**%s**", rep.Duration, rep.Summary)
	if n := len(rep.Campaigns); n > 0 {
		md.printf(" and %d campaign(s)", n)
	}
	md.printf("\n\n")
	for _, p := range rep.Provenance {
		md.printf("- %s: %s\n", p.Key, codeSpan(p.Value))
	}
	if len(rep.Inputs) > 0 {
		md.printf("\nResult sets:\n\n")
		for _, in := range rep.Inputs {
			md.printf("- **%s** %s: %s", mdText(in.Name), codeSpan(cmp.Or(in.Path, in.Name)), in.Counts)
			if in.Campaigns > 0 {
				md.printf(", %d campaign(s)", in.Campaigns)
			}
			if p := in.Provenance; p != nil {
				if v := strings.TrimSpace(p.Version + " " + p.Commit); v != "" {
					md.printf("; conflictlab %s", codeSpan(v))
				}
				if !p.Date.IsZero() {
					md.printf("; %s", p.Date.UTC().Format("2006-01-02 15:04 MST"))
				}
			}
			md.printf("\n")
		}
	}

	md.printf("\n## Matrix\n\n")
	if len(rep.Rows) == 0 {
		md.printf("No scenario ran.\n")
	} else {
		if rep.MultiSide {
			md.printf("Sides: ")
			for i, s := range rep.Sides {
				if i > 0 {
					md.printf("; ")
				}
				md.printf("**%s** = %s (%s)", mdText(s.Label), mdText(s.Title), s.Counts)
			}
			md.printf(". %d cell(s) differ between sides (marked ≠).\n\n", rep.Differing)
		}
		md.printf("| scenario | labels |")
		for _, c := range rep.Columns {
			h := c.Strategy
			if rep.MultiSide {
				h += " · " + c.Label
			}
			md.printf(" %s |", mdText(h))
		}
		md.printf("\n|---|---|%s\n", strings.Repeat("---|", len(rep.Columns)))
		for _, row := range rep.Rows {
			md.printf("| %s | %s |", mdText(row.Scenario), mdText(strings.Join(row.Labels, ", ")))
			for _, c := range row.Cells {
				text := c.Text
				if c.Differs {
					text = "≠ " + text
				}
				if c.Devices != "" {
					text += " (" + c.Devices + ")"
				}
				md.printf(" %s |", mdText(text))
			}
			md.printf("\n")
		}
		md.printf("| **total** | |")
		for _, c := range rep.Columns {
			md.printf(" %d✓ %d✗ %d– |", c.Totals.Passed, c.Totals.Failed, c.Totals.Skipped)
		}
		md.printf("\n\nA cell is the result of the scenario under the column's strategy: pass; FAIL with the step " +
			"of its first failure and the violated property; skip (it could not run here); – (not played). " +
			"A scenario that names no strategy is under the strategy its devices used (each device's in brackets).\n")
	}

	md.printf("\n## Properties\n\n")
	if len(rep.Properties) == 0 && len(rep.PropRows) == 0 {
		md.printf("No property was checked.\n")
	}
	if len(rep.Properties) > 0 {
		md.printf("| property | name | results | holds | violated | unknown |\n|---|---|--:|--:|--:|--:|\n")
		for _, p := range rep.Properties {
			md.printf("| %s | %s | %d | %d | %d | %d |\n", mdText(p.ID), mdText(p.Name), p.Results, p.Holds, p.Violated, p.Unknown)
		}
	}
	if len(rep.PropRows) > 0 && (len(rep.PropColumns) > 1 || len(rep.Campaigns) > 0) {
		md.printf("\nBy column (results holding / results checking; for a campaign, checks):\n\n| property |")
		for _, h := range rep.PropColumns {
			md.printf(" %s |", mdText(h))
		}
		md.printf("\n|---|%s\n", strings.Repeat("---|", len(rep.PropColumns)))
		for _, row := range rep.PropRows {
			md.printf("| %s |", mdText(strings.TrimSpace(row.ID+" "+row.Name)))
			for _, c := range row.Cells {
				md.printf(" %s |", mdText(c.Text))
			}
			md.printf("\n")
		}
	}
	if len(rep.Verdicts) > 0 {
		md.printf("\nNot shown to hold:\n\n")
		for _, v := range rep.Verdicts {
			md.printf("- **%s** %s %s in %s × %s", mdText(v.ID), mdText(v.Name), v.Verdict, mdText(v.Scenario), mdText(v.Strategy))
			if v.Detail != "" {
				md.printf(": ")
				md.block("  ", v.Detail)
			} else {
				md.printf("\n")
			}
		}
	}

	if len(rep.Campaigns) > 0 {
		md.printf("\n## Campaigns\n")
		for _, c := range rep.Campaigns {
			verdict := "no property violated"
			if c.Class == "fail" {
				verdict = "a property was violated"
			}
			md.printf("\n### %s: %s\n\n", mdText(c.Name), verdict)
			if c.Side != "" {
				md.printf("- **Target, client:** %s\n", mdText(c.Side))
			}
			md.printf("- **Interleavings:** %d, **actions:** %d", c.Interleavings, c.Actions)
			if c.Rate != "" {
				md.printf(" (%s per second)", c.Rate)
			}
			md.printf(", took %s\n- **Seed:** %s\n", c.Duration, codeSpan(strconv.FormatUint(c.Seed, 10)))
			if c.Shards != "" {
				md.printf("- **Shards:** %s\n", mdText(c.Shards))
			}
			md.printf("- **Strategy:** %s; **clients:** %s\n", mdText(c.Strategy), mdText(c.Clients))
			if len(c.Properties) > 0 {
				md.printf("\n| property | checks | holds | violated | unknown |\n|---|--:|--:|--:|--:|\n")
				for _, p := range c.Properties {
					md.printf("| %s | %d | %d | %d | %d |\n", mdText(strings.TrimSpace(p.ID+" "+p.Name)), p.Checks, p.Holds, p.Violated, p.Unknown)
				}
			}
			for i, ce := range c.Counterexamples {
				md.printf("\n**Counterexample %d**", i+1)
				if ce.Property != "" {
					md.printf(" (%s)", mdText(ce.Property))
				}
				if ce.ShardOf != "" {
					md.printf(", shard %s", ce.ShardOf)
				}
				md.printf(": seed %s", codeSpan(strconv.FormatUint(ce.Seed, 10)))
				if ce.Path != "" {
					md.printf(", scenario %s", codeSpan(ce.Path))
				}
				md.printf("\n")
				if ce.Message != "" {
					md.printf("\n")
					md.fence("", ce.Message)
				}
				if ce.Replay != "" {
					md.printf("\nReplay: %s\n", codeSpan(ce.Replay))
				}
			}
		}
	}

	md.printf("\n## Failures\n")
	if len(rep.Failures) == 0 {
		md.printf("\nNone.\n")
	}
	for i, f := range rep.Failures {
		md.printf("\n### %d. %s × %s", i+1, mdText(f.Scenario), mdText(f.Strategy))
		if f.Side != "" {
			md.printf(" on %s", mdText(f.Side))
		}
		md.printf("\n\n")
		if f.File != "" {
			md.printf("- **File:** %s\n", codeSpan(f.File))
		}
		md.printf("- **At:** %s", f.Step)
		if f.What != "" {
			md.printf(": %s", codeSpan(f.What))
		}
		md.printf("\n")
		if f.Property != "" {
			md.printf("- **Property:** %s\n", mdText(f.Property))
		}
		if f.Rule != "" {
			md.printf("- **Rule:** %s\n", mdText(f.Rule))
		}
		md.printf("- **Expected:** ")
		md.block("  ", f.Expectation)
		md.printf("- **Got:** ")
		md.block("  ", f.Got)
		if len(f.Requests) > 0 {
			md.printf("- **Requests:**\n")
			md.fence("  ", strings.Join(f.Requests, "\n"))
		}
		if h := f.history; h != nil {
			events := eventsAround(h, f.Failure.Step, 8)
			if len(events) > 0 {
				md.printf("- **History** (the failing step and the events before it; the timeline is in report.html):\n")
				lines := make([]string, len(events))
				for j := range events {
					lines[j] = eventLine(&events[j])
				}
				md.fence("  ", strings.Join(lines, "\n"))
			}
		}
		if f.Replay != "" {
			md.printf("- **Replay:** ")
			md.block("  ", f.Replay)
		}
	}

	if len(rep.SkippedResults) > 0 {
		md.printf("\n## Skipped scenarios\n")
		for _, g := range rep.SkippedResults {
			md.printf("\n**%s** (%d)\n\n", mdText(g.Reason), len(g.Items))
			for _, it := range g.Items {
				md.printf("- %s × %s\n", mdText(it.Scenario), mdText(it.Strategy))
			}
		}
	}
	if len(rep.SkippedSteps) > 0 {
		md.printf("\n## Skipped steps\n")
		for _, g := range rep.SkippedSteps {
			md.printf("\n**%s** (%d)\n\n", mdText(g.Reason), len(g.Items))
			for _, it := range g.Items {
				md.printf("- %s × %s, step %d", mdText(it.Scenario), mdText(it.Strategy), it.Step)
				if it.What != "" {
					md.printf(": %s", codeSpan(it.What))
				}
				md.printf("\n")
			}
		}
	}
	return md.err
}

// mdWriter writes Markdown to w and keeps the first error, so a report is written with
// plain calls and checked once.
type mdWriter struct {
	w   io.Writer
	err error
}

func (md *mdWriter) printf(format string, args ...any) {
	if md.err == nil {
		_, md.err = fmt.Fprintf(md.w, format, args...)
	}
}

// block ends the current line with s: inline as a code span when it is one line, else as a
// fenced block on the next lines, indented by indent (to stay inside a list item).
func (md *mdWriter) block(indent, s string) {
	s = strings.TrimRight(s, "\n")
	if !strings.ContainsAny(s, "\r\n") {
		md.printf("%s\n", codeSpan(s))
		return
	}
	md.printf("\n")
	md.fence(indent, s)
}

// fence writes s as a fenced code block, each line indented by indent. The fence is longer
// than any run of backticks in s, so s cannot close it.
func (md *mdWriter) fence(indent, s string) {
	f := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	md.printf("%s%s\n", indent, f)
	for _, line := range strings.Split(oneNewline.Replace(s), "\n") {
		md.printf("%s%s\n", indent, line)
	}
	md.printf("%s%s\n", indent, f)
}

// codeSpan shows s verbatim inline: Markdown inside it does not render, and the delimiter
// is longer than any run of backticks in s. A table cell must still escape its pipes.
func codeSpan(s string) string {
	s = strings.ReplaceAll(oneNewline.Replace(s), "\n", " ")
	if s == "" {
		return "*(empty)*"
	}
	d := strings.Repeat("`", longestRun(s, '`')+1)
	// CommonMark strips one space from each end of a span that has both, and a backtick at
	// either end would join the delimiter: pad those.
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		(strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.TrimSpace(s) != "") {
		return d + " " + s + " " + d
	}
	return d + s + d
}

// mdText makes s one line of plain Markdown text, fit for a table cell: pipes, backslashes
// and the characters that start emphasis, links, code or HTML are escaped.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		if strings.ContainsRune("\\`*_[]<>|&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// oneNewline turns every line ending into "\n".
var oneNewline = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}
