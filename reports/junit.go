package reports

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The JUnit XML that CI tools read (the Jenkins / Ant schema): testsuites, a testsuite per
// scenario, a testcase per strategy.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property,omitempty"`
		Cases      []junitCase     `xml:"testcase"`

		total time.Duration
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		Skipped   *junitSkipped `xml:"skipped,omitempty"`
		SystemOut *junitText    `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",innerxml"` // escaped by xmlText
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
	junitText struct {
		Text string `xml:",innerxml"` // escaped by xmlText
	}
)

// WriteJUnit writes the run as junit.xml, opening with the provenance as a comment: a
// <testsuite> per scenario (sorted by name) and in it a <testcase> per strategy, classname
// the scenario and name the strategy (with the side, "client-wins [node · js 2.0.1]", when
// several targets or clients are compared); a failed result carries a <failure> with the
// expectation, what happened and the requests, a skipped one <skipped> with its reason, and
// skipped steps go to <system-out>. Each campaign is a <testsuite> too, with a <testcase>
// per property it checked.
func WriteJUnit(w io.Writer, run *Run) error {
	rep := newReport(run, "")
	doc := junitSuites{Name: "conflictlab", Time: seconds(run.Duration)}
	var timestamp string
	if !run.Started.IsZero() {
		timestamp = run.Started.Format("2006-01-02T15:04:05")
	}
	// Every suite says what made it (the whole provenance is the comment at the top).
	var provProps []junitProperty
	for _, p := range rep.Provenance {
		if p.Key == "conflictlab" || p.Key == "targets" || p.Key == "clients" {
			provProps = append(provProps, junitProperty{Name: p.Key, Value: p.Value})
		}
	}
	labels := map[string][]string{}
	for _, row := range rep.Rows {
		labels[row.Scenario] = row.Labels
	}
	for _, r := range rep.results {
		if n := len(doc.Suites); n == 0 || doc.Suites[n-1].Name != r.Scenario {
			suite := junitSuite{Name: r.Scenario, Timestamp: timestamp}
			if run.Server != "" {
				suite.Properties = append(suite.Properties, junitProperty{Name: "server", Value: run.Server})
			}
			if l := labels[r.Scenario]; len(l) > 0 {
				suite.Properties = append(suite.Properties, junitProperty{Name: "labels", Value: strings.Join(l, ",")})
			}
			if r.File != "" {
				suite.Properties = append(suite.Properties, junitProperty{Name: "file", Value: r.File})
			}
			suite.Properties = append(suite.Properties, provProps...)
			doc.Suites = append(doc.Suites, suite)
		}
		suite := &doc.Suites[len(doc.Suites)-1]
		name := r.column
		if rep.MultiSide {
			name += " [" + rep.Sides[r.side].Label + "]"
		}
		if d := devicesText(r.Result); d != "" {
			name += " (" + d + ")"
		}
		tc := junitCase{
			Name:      name,
			Classname: r.Scenario,
			Time:      seconds(r.Duration),
			File:      r.File,
		}
		switch r.Status {
		case Passed:
		case Failed:
			tc.Failure = junitFailureOf(r.Failure)
			suite.Failures++
		default:
			tc.Skipped = &junitSkipped{Message: cmp.Or(r.Reason, noReason)}
			suite.Skipped++
		}
		if len(r.SkippedSteps) > 0 {
			var b strings.Builder
			for _, st := range r.SkippedSteps {
				fmt.Fprintf(&b, "skipped step %d (%s): %s\n", st.Step, st.What, cmp.Or(st.Reason, noReason))
			}
			tc.SystemOut = &junitText{Text: xmlText(b.String())}
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
		suite.total += r.Duration
		suite.Time = seconds(suite.total)
	}
	for i := range run.Campaigns {
		doc.Suites = append(doc.Suites, campaignSuite(&run.Campaigns[i], rep.Campaigns[i], timestamp, provProps))
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	if len(rep.Provenance) > 0 {
		var b strings.Builder
		b.WriteString("<!-- conflictlab compatibility report\n")
		for _, p := range rep.Provenance {
			fmt.Fprintf(&b, "     %s: %s\n", p.Key, xmlComment(p.Value))
		}
		b.WriteString("-->\n")
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// campaignSuite is a campaign as a test suite: a case per property it checked, failed when
// the property was violated (with the counterexample), skipped when never decided.
func campaignSuite(c *Campaign, v campaignView, timestamp string, prov []junitProperty) junitSuite {
	name := "campaign " + v.Name
	suite := junitSuite{Name: name, Timestamp: timestamp, Time: seconds(c.Duration)}
	suite.Properties = append(suite.Properties,
		junitProperty{Name: "seed", Value: strconv.FormatUint(c.Seed, 10)},
		junitProperty{Name: "interleavings", Value: strconv.Itoa(c.Interleavings)},
		junitProperty{Name: "actions", Value: strconv.Itoa(c.Actions)})
	if v.Shards != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "shards", Value: v.Shards})
	}
	if v.Side != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "target", Value: v.Side})
	}
	suite.Properties = append(suite.Properties, prov...)
	for _, p := range v.Properties {
		tc := junitCase{Name: strings.TrimSpace(p.ID + " " + p.Name), Classname: name, Time: "0.000"}
		switch {
		case p.Violated > 0:
			var b strings.Builder
			fmt.Fprintf(&b, "%d of %d checks violated %s\n", p.Violated, p.Checks, p.ID)
			for _, ce := range c.Counterexamples {
				if ce.Property != "" && ce.Property != p.ID {
					continue
				}
				fmt.Fprintf(&b, "counterexample: %s (seed %d)\n", cmp.Or(ce.Path, "not written"), ce.Seed)
				if ce.Replay != "" {
					fmt.Fprintf(&b, "replay: %s\n", ce.Replay)
				}
				if ce.Message != "" {
					fmt.Fprintf(&b, "%s\n", ce.Message)
				}
			}
			tc.Failure = &junitFailure{Message: fmt.Sprintf("%s violated in %d of %d checks", p.ID, p.Violated, p.Checks), Type: p.ID, Text: xmlText(b.String())}
			suite.Failures++
		case p.Checks == 0 || p.Holds == 0:
			tc.Skipped = &junitSkipped{Message: fmt.Sprintf("%s was never decided (%d unknown)", p.ID, p.Unknown)}
			suite.Skipped++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	if len(v.Properties) == 0 {
		tc := junitCase{Name: "campaign", Classname: name, Time: seconds(c.Duration)}
		if c.Status == Failed {
			tc.Failure = &junitFailure{Message: "a property was violated"}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	return suite
}

// xmlComment makes s safe inside an XML comment: one line, no "--".
func xmlComment(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-‐")
	}
	return strings.TrimSuffix(s, "-")
}

// junitFailureOf is the <failure> of a failed result: a one-line message, the violated
// property as its type, and the whole story as its text.
func junitFailureOf(f *Failure) *junitFailure {
	if f == nil {
		return &junitFailure{Message: "failed"}
	}
	msg := failurePointer(f)
	if first, _, _ := strings.Cut(strings.TrimSpace(oneNewline.Replace(f.Expectation)), "\n"); first != "" {
		msg += ": expected " + first
	}
	var b strings.Builder
	step := newFailureEntry(0, Result{Failure: f}).Step
	fmt.Fprintf(&b, "%s: %s\n", step, f.What)
	if f.Property != "" {
		fmt.Fprintf(&b, "property: %s\n", f.Property)
	}
	if f.Rule != "" {
		fmt.Fprintf(&b, "rule: %s\n", f.Rule)
	}
	fmt.Fprintf(&b, "expected: %s\n", indentLines(f.Expectation))
	fmt.Fprintf(&b, "got: %s\n", indentLines(f.Got))
	if len(f.Requests) > 0 {
		b.WriteString("requests:\n")
		for _, r := range f.Requests {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	if f.Replay != "" {
		fmt.Fprintf(&b, "replay: %s\n", f.Replay)
	}
	return &junitFailure{Message: msg, Type: cmp.Or(f.Property, "expectation"), Text: xmlText(b.String())}
}

// indentLines indents every line of s after the first, so a multi-line value stays under
// its key.
func indentLines(s string) string {
	return strings.ReplaceAll(strings.TrimRight(oneNewline.Replace(s), "\n"), "\n", "\n  ")
}

// xmlText escapes s as XML character data but keeps its line breaks as they are (encoding/xml
// writes them as &#xA;, which no person reads well). Characters XML cannot hold at all
// become U+FFFD, as encoding/xml does.
func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(oneNewline.Replace(s))) // a bytes.Buffer does not fail
	return strings.ReplaceAll(b.String(), "&#xA;", "\n")
}
