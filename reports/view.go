package reports

import (
	"cmp"
	"fmt"
	"path"
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

	Provenance []provLine
	Inputs     []Input

	// Sides are the target × client (× set) combinations of the results, in the order they
	// first appear; MultiSide is when there are several, and the matrix then has a column
	// per strategy and side, the sides of one strategy adjacent.
	Sides     []sideView
	MultiSide bool
	Groups    []columnGroup // the strategies over the columns, each spanning its sides
	Columns   []column
	Rows      []matrixRow
	Labels    []string // every label, for the filter
	Differing int      // cells whose status differs from another side's, same scenario and strategy

	Properties  []propertyRow // overall tallies
	PropColumns []string      // the per-column property table's headers: matrix columns, then campaigns
	PropRows    []propMatrixRow
	Verdicts    []verdictNote // every verdict other than holds, with the checker's detail

	Campaigns []campaignView
	Failures  []failureEntry
	Timelines []timelineView

	SkippedResults []reasonGroup // results that did not run at all
	SkippedSteps   []reasonGroup // steps that could not run, in results that did

	results []resultSide // in report order
}

// provLine is one line of the provenance: a key and its value.
type provLine struct {
	Key, Value string
}

// sideView is one target × client (× set) of the results.
type sideView struct {
	Key    string
	Label  string // short, for column headers: only the parts that differ between sides
	Title  string // in full
	Counts Counts
}

// columnGroup is one strategy over its columns.
type columnGroup struct {
	Strategy string
	Span     int
}

// column is one strategy on one side.
type column struct {
	Strategy string
	Side     int
	Label    string // the header: the strategy, or the side's label when MultiSide
	Title    string // strategy and side in full
	Totals   Counts
}

// matrixRow is one scenario across every column.
type matrixRow struct {
	Scenario    string
	Description string
	DescHead    string // the description's first sentence, shown folded
	DescMore    bool   // the description has more than its head
	File        string
	FileLink    string // File relative to where the report is written
	Labels      []string
	Cells       []matrixCell // one per report.Columns
	Statuses    string       // the statuses of its cells, for the filter: "pass fail skip"
	Differs     bool
}

// matrixCell is one scenario under one strategy on one side.
type matrixCell struct {
	Class    string // pass, fail, skip or none: the HTML class
	Text     string // pass, "FAIL step 4 (P5)", skip or –
	Anchor   string // where the cell links: its failure, else its timeline
	Timeline string // the anchor of its timeline, "" when it has none
	Title    string // the skip reason or the failure's expectation, as a tooltip
	Devices  string // the strategy each device used, when the scenario names none
	Differs  bool
}

// propertyRow tallies one property over every result that checked it.
type propertyRow struct {
	ID, Name                          string
	Results, Holds, Violated, Unknown int
}

// propMatrixRow is one property per column and per campaign.
type propMatrixRow struct {
	ID, Name string
	Cells    []propCell
}

// propCell is how a property fared in one column or campaign.
type propCell struct {
	Class, Text, Title string
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
	Side               string // the side's label when MultiSide
	File               string
	Step               string // "step 4, line 23" or "end-of-scenario checks"
	Timeline           string // the anchor of its timeline, "" when it has none
	*Failure                  // never nil: an empty Failure when the result carried none
	history            *History
}

// campaignView is one property campaign.
type campaignView struct {
	Anchor          string
	Name            string
	Side            string // target and client
	Status          Status
	Class           string
	Strategy        string
	Clients         string
	Seed            uint64
	Shards          string // "1/4, 2/4; missing 3/4, 4/4", "" when unsharded
	Interleavings   int
	Actions         int
	Rate            string // actions per second
	Duration        string
	Properties      []PropertyCount
	Counterexamples []counterexampleView
}

// counterexampleView is a campaign's failure.
type counterexampleView struct {
	Counterexample
	Link     string // Path relative to where the report is written
	ShardOf  string // "2/4" when sharded
	Timeline string
}

// timelineView is one history, drawn by the page's script from Data.
type timelineView struct {
	Anchor  string
	Title   string
	Class   string // pass, fail: the result's status
	Events  int
	Lanes   []string
	Cut     string // what the limits left out, in words
	Data    string // the history as the script reads it (JSON)
	Failing int    // the failing step, -1 for none
	history *History
	devices []Device
}

// noReason stands for a skip whose reason was left empty.
const noReason = "(no reason given)"

// Matrix column names that are not strategies a scenario lists.
const (
	// columnMixed holds results whose devices used different strategies.
	columnMixed = "mixed"
	// columnOwn holds results of a scenario that names no strategy and whose devices are
	// not recorded (a results.json from before devices were).
	columnOwn = "own"
)

// columnOf is the strategy column a result shows in: its strategy, else the one its
// devices all used, else mixed (or own when the devices are not known).
func columnOf(res *Result) string {
	if res.Strategy != "" {
		return res.Strategy
	}
	if len(res.Devices) == 0 {
		return columnOwn
	}
	s := res.Devices[0].Strategy
	for _, d := range res.Devices[1:] {
		if d.Strategy != s {
			return columnMixed
		}
	}
	return cmp.Or(s, columnOwn)
}

// devicesText is each device's strategy, for a result whose scenario names none and whose
// devices did not all use the same (the column says it when they did).
func devicesText(res *Result) string {
	if res.Strategy != "" || len(res.Devices) == 0 || columnOf(res) != columnMixed {
		return ""
	}
	return strings.Join(deviceStrategies(res), ", ")
}

func deviceStrategies(res *Result) []string {
	out := make([]string, len(res.Devices))
	for i, d := range res.Devices {
		out[i] = d.Name + ": " + cmp.Or(d.Strategy, "?")
	}
	return out
}

// strategyOrder orders the matrix's columns.
var strategyOrder = map[string]int{"client-wins": 0, "server-wins": 1, "cancel": 2, "manual": 3, columnMixed: 4, columnOwn: 5}

func compareStrategies(a, b string) int {
	oa, aok := strategyOrder[a]
	ob, bok := strategyOrder[b]
	switch {
	case aok && bok:
		return cmp.Compare(oa, ob)
	case aok != bok:
		if aok {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// Strategies lists the matrix's strategy columns, in a fixed order: the strategies results
// were played under, a scenario that names none under the strategy its devices used.
func (run *Run) Strategies() []string {
	var out []string
	for i := range run.Results {
		if c := columnOf(&run.Results[i]); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, compareStrategies)
	return out
}

// sideKey identifies the target × client × set a result belongs to.
func sideKey(run *Run, res *Result) string {
	t := res.Target
	if t == nil {
		t = targetOfServer(run.Server)
	}
	return res.Set + "\x00" + t.String() + "\x00" + res.Client.String()
}

// resultSide is a result with its side and column, for arranging.
type resultSide struct {
	*Result
	side   int
	column string
}

// newReport arranges run for reading. Results are ordered by scenario name, then by
// column; nothing in run is changed. linkBase, when not "", is prefixed to relative
// scenario file paths to link them from where the report is written.
func newReport(run *Run, linkBase string) *report {
	rep := &report{
		Server:   run.Server,
		Duration: formatDuration(run.Duration),
		Counts:   run.Counts(),
		Inputs:   run.Inputs,
	}
	rep.Summary = rep.Counts.String()
	if !run.Started.IsZero() {
		rep.Started = run.Started.Format("2006-01-02 15:04:05 MST")
	}

	// Sides, in order of appearance.
	sideIndex := map[string]int{}
	results := make([]resultSide, len(run.Results))
	type sideParts struct{ set, target, client string }
	var parts []sideParts
	for i := range run.Results {
		res := &run.Results[i]
		key := sideKey(run, res)
		idx, ok := sideIndex[key]
		if !ok {
			idx = len(rep.Sides)
			sideIndex[key] = idx
			t := res.Target
			if t == nil {
				t = targetOfServer(run.Server)
			}
			title := t.String()
			if res.Client != nil {
				title += "; client " + res.Client.String()
			}
			if res.Set != "" {
				title = res.Set + ": " + title
			}
			rep.Sides = append(rep.Sides, sideView{Key: key, Title: title})
			parts = append(parts, sideParts{res.Set, t.Label(), res.Client.Label()})
		}
		results[i] = resultSide{Result: res, side: idx, column: columnOf(res)}
		addCount(&rep.Sides[idx].Counts, res.Status)
	}
	rep.MultiSide = len(rep.Sides) > 1
	for i := range rep.Sides {
		var label []string
		differ := func(get func(sideParts) string) bool {
			return slices.ContainsFunc(parts, func(p sideParts) bool { return get(p) != get(parts[0]) })
		}
		if differ(func(p sideParts) string { return p.set }) {
			label = append(label, parts[i].set)
		}
		if differ(func(p sideParts) string { return p.target }) {
			label = append(label, parts[i].target)
		}
		if differ(func(p sideParts) string { return p.client }) {
			label = append(label, cmp.Or(parts[i].client, "client ?"))
		}
		rep.Sides[i].Label = cmp.Or(strings.Join(label, " · "), parts[i].target)
	}

	// Columns: each strategy, and in it each side.
	strategies := run.Strategies()
	colIndex := map[[2]any]int{}
	for _, s := range strategies {
		rep.Groups = append(rep.Groups, columnGroup{Strategy: s, Span: len(rep.Sides)})
		for k, side := range rep.Sides {
			c := column{Strategy: s, Side: k, Label: s, Title: s}
			if rep.MultiSide {
				c.Label, c.Title = side.Label, s+" on "+side.Title
			}
			colIndex[[2]any{s, k}] = len(rep.Columns)
			rep.Columns = append(rep.Columns, c)
		}
	}
	colOf := func(r resultSide) int { return colIndex[[2]any{r.column, r.side}] }

	slices.SortStableFunc(results, func(a, b resultSide) int {
		return cmp.Or(strings.Compare(a.Scenario, b.Scenario), cmp.Compare(colOf(a), colOf(b)))
	})
	for _, r := range results {
		addCount(&rep.Columns[colOf(r)].Totals, r.Status)
	}
	rep.results = results
	rep.Rows = matrix(results, colOf, len(rep.Columns), linkBase)
	rep.Differing = markDifferences(rep.Rows, rep.Columns)
	labels := map[string]bool{}
	for _, row := range rep.Rows {
		for _, l := range row.Labels {
			labels[l] = true
		}
	}
	for l := range labels {
		rep.Labels = append(rep.Labels, l)
	}
	slices.Sort(rep.Labels)

	rep.Properties, rep.Verdicts = properties(results, rep.MultiSide, rep.Sides)

	// Timelines, in report order: failed results first, then passed ones, then campaigns'.
	timelineOf := map[*Result]string{}
	addTimeline := func(h *History, devices []Device, title, class string, failing int) string {
		tv := timelineView{Anchor: "timeline-" + strconv.Itoa(len(rep.Timelines)+1), Title: title, Class: class,
			Events: len(h.Events), Failing: failing, history: h, devices: devices}
		rep.Timelines = append(rep.Timelines, tv)
		return tv.Anchor
	}
	titleOf := func(r resultSide) string {
		t := r.Scenario + " × " + r.column
		if rep.MultiSide {
			t += " on " + rep.Sides[r.side].Label
		}
		return t
	}
	for _, pass := range []bool{false, true} {
		for _, r := range results {
			if r.History == nil || (r.Status != Failed) != pass {
				continue
			}
			failing := -1
			class := "pass"
			if r.Status == Failed {
				class, failing = "fail", 0
				if r.Failure != nil {
					failing = r.Failure.Step
				}
			} else if r.Status == Skipped {
				class = "skip"
			}
			timelineOf[r.Result] = addTimeline(r.History, r.Devices, titleOf(r), class, failing)
		}
	}

	anchors := map[[2]int]string{} // the first failure of each row × column
	rowOf := map[string]int{}
	for i, row := range rep.Rows {
		rowOf[row.Scenario] = i
	}
	skippedResults := map[string][]skipItem{}
	skippedSteps := map[string][]skipItem{}
	for _, r := range results {
		strategy := r.column
		if rep.MultiSide {
			strategy += " on " + rep.Sides[r.side].Label
		}
		if r.Status == Failed {
			f := newFailureEntry(len(rep.Failures)+1, *r.Result)
			f.Strategy = r.column
			if rep.MultiSide {
				f.Side = rep.Sides[r.side].Label
			}
			f.Timeline = timelineOf[r.Result]
			f.history = r.History
			rep.Failures = append(rep.Failures, f)
			key := [2]int{rowOf[r.Scenario], colOf(r)}
			if _, ok := anchors[key]; !ok {
				anchors[key] = f.Anchor
			}
		}
		if r.Status != Passed && r.Status != Failed {
			reason := cmp.Or(r.Reason, noReason)
			skippedResults[reason] = append(skippedResults[reason], skipItem{Scenario: r.Scenario, Strategy: strategy})
		}
		for _, st := range r.SkippedSteps {
			reason := cmp.Or(st.Reason, noReason)
			skippedSteps[reason] = append(skippedSteps[reason], skipItem{Scenario: r.Scenario, Strategy: strategy, Step: st.Step, What: st.What})
		}
		if tl := timelineOf[r.Result]; tl != "" {
			cell := &rep.Rows[rowOf[r.Scenario]].Cells[colOf(r)]
			if cell.Timeline == "" {
				cell.Timeline = tl
			}
		}
	}
	rep.SkippedResults = groups(skippedResults)
	rep.SkippedSteps = groups(skippedSteps)

	// Point each failed cell at its entry under Failures (the matrix shows the first
	// failure of a scenario × column too), any other at its timeline.
	for i, row := range rep.Rows {
		for j := range row.Cells {
			c := &row.Cells[j]
			c.Anchor = c.Timeline
			if c.Class == "fail" {
				c.Anchor = cmp.Or(anchors[[2]int{i, j}], c.Timeline)
			}
		}
	}

	for i := range run.Campaigns {
		rep.Campaigns = append(rep.Campaigns, newCampaignView(i+1, &run.Campaigns[i], linkBase, addTimeline))
	}
	rep.PropColumns, rep.PropRows = propertyMatrix(results, rep, colOf, run.Campaigns)
	rep.Provenance = provenanceLines(run)
	for i := range rep.Timelines {
		rep.Timelines[i].finish()
	}
	return rep
}

func addCount(c *Counts, s Status) {
	switch s {
	case Passed:
		c.Passed++
	case Failed:
		c.Failed++
	default:
		c.Skipped++
	}
}

// matrix builds one row per scenario from results sorted by scenario, then column.
func matrix(results []resultSide, colOf func(resultSide) int, width int, linkBase string) []matrixRow {
	var rows []matrixRow
	// The status shown when a scenario has several results in one column (it should
	// not): the worst of them.
	rank := map[Status]int{Failed: 3, Passed: 2}
	shown := map[int]Status{}
	for _, r := range results {
		if len(rows) == 0 || rows[len(rows)-1].Scenario != r.Scenario {
			cells := make([]matrixCell, width)
			for i := range cells {
				cells[i] = matrixCell{Class: "none", Text: "–", Title: "did not run here"}
			}
			rows = append(rows, matrixRow{Scenario: r.Scenario, Cells: cells})
			clear(shown)
		}
		row := &rows[len(rows)-1]
		for _, l := range r.Labels {
			if !slices.Contains(row.Labels, l) {
				row.Labels = append(row.Labels, l)
			}
		}
		if row.Description == "" && r.Description != "" {
			row.Description = strings.TrimSpace(r.Description)
			row.DescHead = firstSentence(row.Description)
			row.DescMore = row.DescHead != row.Description
		}
		if row.File == "" && r.File != "" {
			row.File = r.File
			row.FileLink = fileLink(linkBase, r.File)
		}
		col := colOf(r)
		if prev, ok := shown[col]; ok && rank[prev] >= rank[r.Status] {
			continue
		}
		shown[col] = r.Status
		row.Cells[col] = newCell(r.Result)
	}
	for i := range rows {
		var st []string
		for _, c := range rows[i].Cells {
			if c.Class != "none" && !slices.Contains(st, c.Class) {
				st = append(st, c.Class)
			}
		}
		rows[i].Statuses = strings.Join(st, " ")
	}
	return rows
}

// markDifferences marks the cells whose status differs from another side's under the same
// strategy, and the rows that have any; it returns how many cells it marked.
func markDifferences(rows []matrixRow, cols []column) int {
	n := 0
	for i := range rows {
		row := &rows[i]
		for start := 0; start < len(cols); {
			end := start
			for end < len(cols) && cols[end].Strategy == cols[start].Strategy {
				end++
			}
			seen := map[string]bool{}
			for j := start; j < end; j++ {
				if c := row.Cells[j].Class; c != "none" {
					seen[c] = true
				}
			}
			if len(seen) > 1 {
				for j := start; j < end; j++ {
					if row.Cells[j].Class != "none" {
						row.Cells[j].Differs = true
						n++
					}
				}
				row.Differs = true
			}
			start = end
		}
	}
	return n
}

// firstSentence is s up to its first sentence end or line break, at most about 120 bytes.
func firstSentence(s string) string {
	end := len(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		end = i
	}
	if i := strings.Index(s[:end], ". "); i >= 0 {
		end = i + 1
	}
	head := strings.TrimSpace(s[:end])
	if len(head) > 120 {
		cut := 117
		for cut > 0 && (head[cut]&0xC0) == 0x80 {
			cut--
		}
		head = head[:cut] + "…"
	}
	return head
}

// fileLink is file as a link from where the report is written.
func fileLink(base, file string) string {
	if base == "" || path.IsAbs(file) || strings.Contains(file, "://") {
		return file
	}
	return path.Join(base, file)
}

// newCell is how one result shows in the matrix.
func newCell(res *Result) matrixCell {
	var c matrixCell
	switch res.Status {
	case Passed:
		c = matrixCell{Class: "pass", Text: "pass"}
	case Failed:
		c = matrixCell{Class: "fail", Text: "FAIL"}
		if f := res.Failure; f != nil {
			c.Text += " " + failurePointer(f)
			c.Title = f.Expectation
		}
	default:
		c = matrixCell{Class: "skip", Text: "skip", Title: res.Reason}
	}
	c.Devices = devicesText(res)
	if res.Strategy == "" && len(res.Devices) > 0 && c.Title == "" {
		c.Title = "the scenario names no strategy: each device used its own (" + strings.Join(deviceStrategies(res), ", ") + ")"
	}
	return c
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
		Strategy: columnOf(&res),
		File:     res.File,
		Step:     step,
		Failure:  f,
	}
}

// properties tallies property verdicts by id, and lists every verdict that is not holds.
func properties(results []resultSide, multi bool, sides []sideView) ([]propertyRow, []verdictNote) {
	byID := map[string]*propertyRow{}
	var notes []verdictNote
	for _, r := range results {
		for _, p := range r.Properties {
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
				strategy := r.column
				if multi {
					strategy += " on " + sides[r.side].Label
				}
				notes = append(notes, verdictNote{ID: p.ID, Name: p.Name, Scenario: r.Scenario,
					Strategy: strategy, Verdict: cmp.Or(p.Verdict, Unknown), Detail: p.Detail})
			}
		}
	}
	rows := make([]propertyRow, 0, len(byID))
	for _, row := range byID {
		rows = append(rows, *row)
	}
	slices.SortFunc(rows, func(a, b propertyRow) int { return CompareIDs(a.ID, b.ID) })
	// results are already in report order; keep it within each property.
	slices.SortStableFunc(notes, func(a, b verdictNote) int { return CompareIDs(a.ID, b.ID) })
	for i := range notes {
		notes[i].Name = cmp.Or(notes[i].Name, byID[notes[i].ID].Name)
	}
	return rows, notes
}

// propertyMatrix is every property (of the results and the campaigns) by matrix column
// and by campaign.
func propertyMatrix(results []resultSide, rep *report, colOf func(resultSide) int, campaigns []Campaign) ([]string, []propMatrixRow) {
	type tally struct{ results, holds, violated, unknown int }
	names := map[string]string{}
	byID := map[string][]tally{}
	width := len(rep.Columns) + len(campaigns)
	get := func(id, name string) []tally {
		names[id] = cmp.Or(names[id], name)
		if byID[id] == nil {
			byID[id] = make([]tally, width)
		}
		return byID[id]
	}
	for _, r := range results {
		for _, p := range r.Properties {
			t := &get(p.ID, p.Name)[colOf(r)]
			t.results++
			switch p.Verdict {
			case Holds:
				t.holds++
			case Violated:
				t.violated++
			default:
				t.unknown++
			}
		}
	}
	for i, c := range campaigns {
		for _, p := range c.Properties {
			t := &get(p.ID, p.Name)[len(rep.Columns)+i]
			t.results += p.Checks
			t.holds += p.Holds
			t.violated += p.Violated
			t.unknown += p.Unknown
		}
	}
	if len(byID) == 0 {
		return nil, nil
	}
	var headers []string
	for _, c := range rep.Columns {
		h := c.Strategy
		if rep.MultiSide {
			h += " · " + rep.Sides[c.Side].Label
		}
		headers = append(headers, h)
	}
	for _, c := range rep.Campaigns {
		headers = append(headers, "campaign "+c.Name+sideSuffix(c.Side))
	}
	var rows []propMatrixRow
	for id, ts := range byID {
		row := propMatrixRow{ID: id, Name: names[id]}
		for i, t := range ts {
			unit := "result"
			if i >= len(rep.Columns) {
				unit = "check"
			}
			var c propCell
			switch {
			case t.results == 0:
				c = propCell{Class: "none", Text: "–", Title: "not checked here"}
			case t.violated > 0:
				c = propCell{Class: "fail", Text: fmt.Sprintf("%d violated", t.violated)}
			case t.unknown > 0:
				c = propCell{Class: "skip", Text: fmt.Sprintf("%d unknown", t.unknown)}
			default:
				c = propCell{Class: "pass", Text: fmt.Sprintf("%d/%d", t.holds, t.results)}
			}
			if t.results > 0 {
				c.Title = fmt.Sprintf("%d %s(s): %d holds, %d violated, %d unknown", t.results, unit, t.holds, t.violated, t.unknown)
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b propMatrixRow) int { return CompareIDs(a.ID, b.ID) })
	return headers, rows
}

func sideSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// newCampaignView arranges the n-th campaign.
func newCampaignView(n int, c *Campaign, linkBase string, addTimeline func(*History, []Device, string, string, int) string) campaignView {
	v := campaignView{Anchor: "campaign-" + strconv.Itoa(n), Name: cmp.Or(c.Name, "campaign"), Status: cmp.Or(c.Status, Passed),
		Strategy: cmp.Or(c.Strategy, "each interleaving draws one"), Seed: c.Seed,
		Interleavings: c.Interleavings, Actions: c.Actions, Duration: formatDuration(c.Duration),
		Properties: slices.Clone(c.Properties)}
	slices.SortFunc(v.Properties, func(a, b PropertyCount) int { return CompareIDs(a.ID, b.ID) })
	v.Class = "pass"
	if v.Status == Failed {
		v.Class = "fail"
	} else if v.Status == Skipped {
		v.Class = "skip"
	}
	var side []string
	if c.Target != nil {
		side = append(side, c.Target.String())
	}
	if c.Client != nil {
		side = append(side, "client "+c.Client.String())
	}
	v.Side = strings.Join(side, "; ")
	v.Clients = "each interleaving draws 2 to 4"
	if c.Clients > 0 {
		v.Clients = strconv.Itoa(c.Clients)
	}
	if c.Duration > 0 {
		v.Rate = fmt.Sprintf("%.0f", float64(c.Actions)/c.Duration.Seconds())
	}
	shardText := func(s Shard) string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }
	switch {
	case c.Shard != nil:
		v.Shards = "shard " + shardText(*c.Shard)
	case len(c.Shards) > 0:
		var parts []string
		for _, s := range c.Shards {
			t := shardText(s)
			if s.Status == Failed {
				t += " (failed)"
			}
			parts = append(parts, t)
		}
		v.Shards = strings.Join(parts, ", ")
		if missing := c.MissingShards(); len(missing) > 0 {
			var m []string
			for _, i := range missing {
				m = append(m, fmt.Sprintf("%d/%d", i, c.Shards[0].Count))
			}
			v.Shards += "; missing " + strings.Join(m, ", ")
		}
	}
	for i, ce := range c.Counterexamples {
		cv := counterexampleView{Counterexample: ce, Link: fileLink(linkBase, ce.Path)}
		if ce.Shard != nil {
			cv.ShardOf = shardText(*ce.Shard)
		} else if c.Shard != nil {
			cv.ShardOf = shardText(*c.Shard)
		}
		if ce.History != nil {
			title := fmt.Sprintf("campaign %s, counterexample %d", v.Name, i+1)
			if ce.Property != "" {
				title += " (" + ce.Property + ")"
			}
			cv.Timeline = addTimeline(ce.History, nil, title, "fail", -1)
		}
		v.Counterexamples = append(v.Counterexamples, cv)
	}
	return v
}

// provenanceLines is what made the run, line by line.
func provenanceLines(run *Run) []provLine {
	var lines []provLine
	add := func(k, v string) {
		if v != "" {
			lines = append(lines, provLine{k, v})
		}
	}
	p := run.Provenance
	if p == nil {
		p = &Provenance{}
	}
	version := p.Version
	if p.Commit != "" {
		c := p.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		version = strings.TrimSpace(version + " commit " + c)
		if p.Modified {
			version += " (modified)"
		}
	}
	add("conflictlab", version)
	add("Go", strings.TrimSpace(p.GoVersion+" "+p.Platform))
	if !p.Date.IsZero() {
		add("date", p.Date.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	add("command", strings.Join(p.Command, " "))
	var targets []string
	for _, t := range p.Targets {
		targets = append(targets, t.String())
	}
	if len(targets) == 0 {
		seen := map[string]bool{}
		for i := range run.Results {
			t := run.Results[i].Target
			if t == nil {
				t = targetOfServer(run.Server)
			}
			if s := t.String(); !seen[s] {
				seen[s] = true
				targets = append(targets, s)
			}
		}
	}
	add("targets", strings.Join(targets, "; "))
	var clients []string
	for _, c := range p.Clients {
		clients = append(clients, c.String())
	}
	add("clients", strings.Join(clients, "; "))
	var seeds []string
	for _, s := range p.Seeds {
		seeds = append(seeds, strconv.FormatUint(s, 10))
	}
	add("seeds", strings.Join(seeds, ", "))
	l := DefaultLimits
	if run.Limits != nil {
		l = *run.Limits
	}
	add("histories", l.String())
	return lines
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

// CompareIDs orders property ids by prefix, then number: P2 before P10.
func CompareIDs(a, b string) int {
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

// FileName is the last element of a scenario file's path, for its link.
func (*report) FileName(p string) string { return path.Base(p) }
