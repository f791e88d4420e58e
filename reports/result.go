// Package reports holds the result model of a conflictlab run (scenarios under strategies,
// property verdicts) and renders it: JSON (results.json, the source of every other form),
// Markdown, self-contained HTML and JUnit XML. It depends on nothing else in conflictlab:
// runners produce a Run, and reports only reads it.
package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Status is the outcome of one scenario under one strategy.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped" // nothing ran: the scenario cannot run here (e.g. it needs the embedded server)
)

// Verdict is a property checker's answer. A checker that could not decide says Unknown,
// never Holds.
type Verdict string

const (
	Holds    Verdict = "holds"
	Violated Verdict = "violated"
	Unknown  Verdict = "unknown"
)

// Run is everything one `conflictlab run` (or `make report`) did, or several such result
// sets merged by Merge.
type Run struct {
	// Provenance says what made the run: conflictlab's version, Go, the targets and clients,
	// seeds, date and command line. Every format shows it first.
	Provenance *Provenance `json:"provenance,omitempty"`
	// Server is "embedded" or the URL of the external server; Target says more, per result.
	Server   string        `json:"server"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNs"`
	// Limits bound the histories kept in results.json (limits.go); nil is DefaultLimits.
	Limits  *Limits  `json:"limits,omitempty"`
	Results []Result `json:"results"`
	// Campaigns are the property campaigns (conflictlab fuzz) the run includes; shards of
	// one campaign are merged into one entry by Merge.
	Campaigns []Campaign `json:"campaigns,omitempty"`
	// Inputs are the result sets a merged run was made of, each with its own provenance
	// (empty for a run that was not merged).
	Inputs []Input `json:"inputs,omitempty"`
}

// Result is one scenario played under one strategy.
type Result struct {
	Scenario    string   `json:"scenario"`
	File        string   `json:"file,omitempty"`
	Description string   `json:"description,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	// Strategy is the strategy the scenario was expanded under; "" when it lists none and
	// each client keeps its own.
	Strategy string        `json:"strategy,omitempty"`
	Status   Status        `json:"status"`
	Duration time.Duration `json:"durationNs"`
	// Steps is how many steps ran (those skipped by `when` or by the server do not count).
	Steps int `json:"steps"`
	// Failure says what went wrong, for a failed result.
	Failure *Failure `json:"failure,omitempty"`
	// SkippedSteps are steps that could not run here, with the reason (a fault step against
	// an external server). The result still passes or fails on the rest.
	SkippedSteps []SkippedStep `json:"skippedSteps,omitempty"`
	// Reason says why a Skipped result did not run.
	Reason string `json:"reason,omitempty"`
	// Properties are the verdicts of every property checked, by id (P1…P11).
	Properties []PropertyResult `json:"properties,omitempty"`

	// Target is the server the result was played against; Client the client under test
	// (the driver every device used, unless a device names its own).
	Target *Target `json:"target,omitempty"`
	Client *Client `json:"client,omitempty"`
	// Devices are the scenario's clients as they ran: each one's strategy (the one it
	// resolved conflicts with, also when the scenario lists none), store and client.
	Devices []Device `json:"devices,omitempty"`
	// History is what happened on the wire, step by step (history.go); kept for failing
	// results, for passing ones only when asked (Limits.PassingHistories).
	History *History `json:"history,omitempty"`
	// Set names the result set the result came from, when Merge put together sets that
	// neither the target nor the client tells apart; "" otherwise.
	Set string `json:"set,omitempty"`
}

// Failure is the first thing that went wrong in a scenario.
type Failure struct {
	// Step is the 1-based index of the step in the file, 0 for the end-of-scenario checks;
	// Line is its line in the file.
	Step int    `json:"step"`
	Line int    `json:"line,omitempty"`
	What string `json:"what"` // the step as written, e.g. "phone: pull todoitem (queryId all)"
	// Expectation is what should have happened, Got what did.
	Expectation string `json:"expectation"`
	Got         string `json:"got"`
	// Property is the id of the violated property (P1…), when a property checker failed.
	Property string `json:"property,omitempty"`
	// Rule names the rule of docs/semantics.md or docs/protocol.md that the server or the client
	// broke, when the runner knows it ("pull pushes first"): what makes a failure a
	// deviation of the target rather than of the harness.
	Rule string `json:"rule,omitempty"`
	// Requests are the requests around the failure, one per line, as METHOD /path status.
	Requests []string `json:"requests,omitempty"`
	// Replay is the command that plays the scenario again.
	Replay string `json:"replay,omitempty"`
}

// SkippedStep is a step that could not run.
type SkippedStep struct {
	Step   int    `json:"step"`
	What   string `json:"what"`
	Reason string `json:"reason"`
}

// PropertyResult is one property's verdict over a scenario: how many times it was checked,
// and, when it was violated or could not be decided, why.
type PropertyResult struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Checks  int     `json:"checks"`
	Detail  string  `json:"detail,omitempty"`
}

// Counts tallies results by status.
type Counts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Counts returns how many results passed, failed and were skipped.
func (r *Run) Counts() Counts {
	var c Counts
	for _, res := range r.Results {
		switch res.Status {
		case Passed:
			c.Passed++
		case Failed:
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}

// Summary is the one-line summary every runner prints last: "N passed, N failed, N skipped".
func (c Counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

// WriteJSON writes the run as indented JSON: results.json.
func WriteJSON(w io.Writer, run *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(run)
}

// ReadJSON reads what WriteJSON wrote.
func ReadJSON(r io.Reader) (*Run, error) {
	var run Run
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("reports: not a results.json: %w", err)
	}
	return &run, nil
}
