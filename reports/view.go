package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is a Run arranged for reading: what the Markdown and HTML renderers show, in the
// order they show it. Both render this one value, so the two never disagree.
type report struct {
	Server   string
	Started  string // "" when the run has no start time
	Duration string
	Summary  string
	Counts   Counts

	Strategies []string // the matrix's columns, as shown ("own" for "")
	Rows       []matrixRow

	Properties []propertyRow
	Verdicts   []verdictNote // every verdict other than holds, with the checker's detail

	Failures []failureEntry

	SkippedResults []reasonGroup // results that did not run at all
	SkippedSteps   []reasonGroup // steps that could not run, in results that did
}

// matrixRow is one scenario across every strategy of the run.
type matrixRow struct {
	Scenario string
	Labels   []string
	Cells    []matrixCell // one per report.Strategies
}

// matrixCell is one scenario under one strategy.
type matrixCell struct {
	Class  string // pass, fail, skip or none: the HTML class
	Text   string // pass, "FAIL step 4 (P5)", skip or –
	Anchor string // for a failed cell, the id of its entry under Failures
	Title  string // the skip reason or the failure's expectation, as a tooltip
}

// propertyRow tallies one property over every result that checked it.
type propertyRow struct {
	ID, Name                          string
	Results, Holds, Violated, Unknown int
}

// verdictNote is a property that did not hold in one result.
type verdictNote struct {
	ID, Name           string
	Scenario, Strategy string
	Verdict            Verdict
	Detail             string
}

// failureEntry is one failed result.
type failureEntry struct {
	Anchor             string // failure-N, 1-based, in report order
	Scenario, Strategy string
	File               string
	Step               string // "step 4, line 23" or "end-of-scenario checks"
	*Failure                  // never nil: an empty Failure when the result carried none
}

// reasonGroup is everything skipped for one reason.
type reasonGroup struct {
	Reason string
	Items  []skipItem
}

// skipItem is a skipped result (Step 0, What "") or a skipped step of a result.
type skipItem struct {
	Scenario, Strategy string
	Step               int
	What               string
}

// noReason stands for a skip whose reason was left empty.
const noReason = "(no reason given)"

// strategyName is how a strategy is shown: the scenario-less "" is each client's own.
func strategyName(s string) string {
	if s == "" {
		return "own"
	}
	return s
}

// newReport arranges run for reading. Results are ordered by scenario name, then by the
// run's strategy order; nothing in run is changed.
func newReport(run *Run) *report {
	strategies := run.Strategies()
	column := make(map[string]int, len(strategies))
	rep := &report{
		Server:   run.Server,
		Duration: formatDuration(run.Duration),
		Counts:   run.Counts(),
	}
	rep.Summary = rep.Counts.String()
	if !run.Started.IsZero() {
		rep.Started = run.Started.Format("2006-01-02 15:04:05 MST")
	}
	for i, s := range strategies {
		column[s] = i
		rep.Strategies = append(rep.Strategies, strategyName(s))
	}

	results := sortedResults(run.Results, column)
	rep.Rows = matrix(results, column, len(strategies))
	rep.Properties, rep.Verdicts = properties(results)

	anchors := map[[2]string]string{} // the first failure of each scenario × strategy
	skippedResults := map[string][]skipItem{}
	skippedSteps := map[string][]skipItem{}
	for _, res := range results {
		strategy := strategyName(res.Strategy)
		if res.Status == Failed {
			f := newFailureEntry(len(rep.Failures)+1, res)
			rep.Failures = append(rep.Failures, f)
			key := [2]string{res.Scenario, res.Strategy}
			if _, ok := anchors[key]; !ok {
				anchors[key] = f.Anchor
			}
		}
		if res.Status != Passed && res.Status != Failed {
			reason := cmp.Or(res.Reason, noReason)
			skippedResults[reason] = append(skippedResults[reason], skipItem{Scenario: res.Scenario, Strategy: strategy})
		}
		for _, st := range res.SkippedSteps {
			reason := cmp.Or(st.Reason, noReason)
			skippedSteps[reason] = append(skippedSteps[reason], skipItem{Scenario: res.Scenario, Strategy: strategy, Step: st.Step, What: st.What})
		}
	}
	rep.SkippedResults = groups(skippedResults)
	rep.SkippedSteps = groups(skippedSteps)

	// Point each failed cell at its entry under Failures (the matrix shows the first
	// failure of a scenario × strategy too).
	for _, row := range rep.Rows {
		for i := range row.Cells {
			if row.Cells[i].Class == "fail" {
				row.Cells[i].Anchor = anchors[[2]string{row.Scenario, strategies[i]}]
			}
		}
	}
	return rep
}

// sortedResults returns a copy of results ordered by scenario, then strategy column.
func sortedResults(results []Result, column map[string]int) []Result {
	out := slices.Clone(results)
	slices.SortStableFunc(out, func(a, b Result) int {
		return cmp.Or(strings.Compare(a.Scenario, b.Scenario), cmp.Compare(column[a.Strategy], column[b.Strategy]))
	})
	return out
}

// matrix builds one row per scenario from results sorted by sortedResults.
func matrix(results []Result, column map[string]int, width int) []matrixRow {
	var rows []matrixRow
	// The status shown when a scenario has several results under one strategy (it should
	// not): the worst of them.
	rank := map[Status]int{Failed: 3, Passed: 2}
	shown := map[int]Status{}
	for _, res := range results {
		if len(rows) == 0 || rows[len(rows)-1].Scenario != res.Scenario {
			cells := make([]matrixCell, width)
			for i := range cells {
				cells[i] = matrixCell{Class: "none", Text: "–", Title: "did not run under this strategy"}
			}
			rows = append(rows, matrixRow{Scenario: res.Scenario, Cells: cells})
			clear(shown)
		}
		row := &rows[len(rows)-1]
		for _, l := range res.Labels {
			if !slices.Contains(row.Labels, l) {
				row.Labels = append(row.Labels, l)
			}
		}
		col := column[res.Strategy]
		if prev, ok := shown[col]; ok && rank[prev] >= rank[res.Status] {
			continue
		}
		shown[col] = res.Status
		row.Cells[col] = newCell(res)
	}
	return rows
}

// newCell is how one result shows in the matrix.
func newCell(res Result) matrixCell {
	switch res.Status {
	case Passed:
		return matrixCell{Class: "pass", Text: "pass"}
	case Failed:
		c := matrixCell{Class: "fail", Text: "FAIL"}
		if f := res.Failure; f != nil {
			c.Text += " " + failurePointer(f)
			c.Title = f.Expectation
		}
		return c
	default:
		return matrixCell{Class: "skip", Text: "skip", Title: res.Reason}
	}
}

// failurePointer is where a failure happened, short enough for a matrix cell: "step 4 (P5)".
func failurePointer(f *Failure) string {
	s := "step " + strconv.Itoa(f.Step)
	if f.Step == 0 {
		s = "at end"
	}
	if f.Property != "" {
		s += " (" + f.Property + ")"
	}
	return s
}

// newFailureEntry is the n-th failure of the report, from a failed result.
func newFailureEntry(n int, res Result) failureEntry {
	f := res.Failure
	step := "end-of-scenario checks"
	if f == nil {
		f, step = &Failure{}, "not recorded"
	} else if f.Step > 0 {
		step = "step " + strconv.Itoa(f.Step)
	}
	if f.Line > 0 {
		step += ", line " + strconv.Itoa(f.Line)
	}
	return failureEntry{
		Anchor:   "failure-" + strconv.Itoa(n),
		Scenario: res.Scenario,
		Strategy: strategyName(res.Strategy),
		File:     res.File,
		Step:     step,
		Failure:  f,
	}
}

// properties tallies property verdicts by id, and lists every verdict that is not holds.
func properties(results []Result) ([]propertyRow, []verdictNote) {
	byID := map[string]*propertyRow{}
	var notes []verdictNote
	for _, res := range results {
		for _, p := range res.Properties {
			row := byID[p.ID]
			if row == nil {
				row = &propertyRow{ID: p.ID}
				byID[p.ID] = row
			}
			row.Name = cmp.Or(row.Name, p.Name)
			row.Results++
			switch p.Verdict {
			case Holds:
				row.Holds++
			case Violated:
				row.Violated++
			default:
				row.Unknown++
			}
			if p.Verdict != Holds {
				notes = append(notes, verdictNote{ID: p.ID, Name: p.Name, Scenario: res.Scenario,
					Strategy: strategyName(res.Strategy), Verdict: cmp.Or(p.Verdict, Unknown), Detail: p.Detail})
			}
		}
	}
	rows := make([]propertyRow, 0, len(byID))
	for _, row := range byID {
		rows = append(rows, *row)
	}
	slices.SortFunc(rows, func(a, b propertyRow) int { return compareIDs(a.ID, b.ID) })
	// results are already in report order; keep it within each property.
	slices.SortStableFunc(notes, func(a, b verdictNote) int { return compareIDs(a.ID, b.ID) })
	for i := range notes {
		notes[i].Name = cmp.Or(notes[i].Name, byID[notes[i].ID].Name)
	}
	return rows, notes
}

// compareIDs orders property ids by prefix, then number: P2 before P10.
func compareIDs(a, b string) int {
	pa, na := splitID(a)
	pb, nb := splitID(b)
	return cmp.Or(strings.Compare(pa, pb), cmp.Compare(na, nb), strings.Compare(a, b))
}

// splitID splits "P12" into "P" and 12; an id without a trailing number has -1.
func splitID(id string) (string, int) {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(id[i:])
	if err != nil {
		return id, -1
	}
	return id[:i], n
}

// groups sorts skip groups by reason.
func groups(byReason map[string][]skipItem) []reasonGroup {
	out := make([]reasonGroup, 0, len(byReason))
	for reason, items := range byReason {
		out = append(out, reasonGroup{Reason: reason, Items: items})
	}
	slices.SortFunc(out, func(a, b reasonGroup) int { return strings.Compare(a.Reason, b.Reason) })
	return out
}

// formatDuration rounds d for a person: milliseconds, or microseconds below one.
func formatDuration(d time.Duration) string {
	if d > -time.Millisecond && d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// seconds is d in seconds, as JUnit wants it.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}
