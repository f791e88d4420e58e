package reports

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Limits bound what histories add to results.json and the pages made from it. The runner
// records a history for every result; Bounded keeps:
//
//   - the history of every failed result, and of every campaign counterexample;
//   - the histories of passed results only with PassingHistories (--keep-history);
//   - each body and row cut to BodyBytes (JSON text, ending in a marker saying how much
//     was cut);
//   - each history cut to ResultBytes: the events of the failing step first, then those
//     nearest to it (for a passed result, the first ones), the rest counted in History.Cut;
//   - all histories together within TotalBytes, failed results first: a passed result's
//     history that no longer fits is left out (History.Cut says so), a failed one is cut to
//     its failing step without bodies and kept, so every failure still has its timeline.
//
// So results.json holds the results themselves (a few hundred bytes each, growing with
// the number of results), at most TotalBytes of histories, and for each failed result
// beyond that its failing step's events without bodies. Sizes are of the JSON encoding.
type Limits struct {
	PassingHistories bool `json:"passingHistories,omitempty"`
	// BodyBytes, ResultBytes and TotalBytes: 0 takes DefaultLimits' value.
	BodyBytes   int `json:"bodyBytes,omitempty"`
	ResultBytes int `json:"resultBytes,omitempty"`
	TotalBytes  int `json:"totalBytes,omitempty"`
}

// DefaultLimits are the limits of a run that names none.
var DefaultLimits = Limits{BodyBytes: 2 << 10, ResultBytes: 256 << 10, TotalBytes: 32 << 20}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.BodyBytes <= 0 {
		l.BodyBytes = DefaultLimits.BodyBytes
	}
	if l.ResultBytes <= 0 {
		l.ResultBytes = DefaultLimits.ResultBytes
	}
	if l.TotalBytes <= 0 {
		l.TotalBytes = DefaultLimits.TotalBytes
	}
	return l
}

// String says the limits in words, for a report's provenance.
func (l Limits) String() string {
	l = l.withDefaults()
	keep := "failed results"
	if l.PassingHistories {
		keep = "every result"
	}
	return fmt.Sprintf("histories of %s; bodies cut at %s, each history at %s, all at %s",
		keep, byteSize(l.BodyBytes), byteSize(l.ResultBytes), byteSize(l.TotalBytes))
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Bounded returns the run with its histories within its Limits (DefaultLimits when nil),
// and Limits set to the limits applied. run is not changed: results whose history changes
// are copied. Applying it again changes nothing. WriteAll writes the bounded run.
func (run *Run) Bounded() *Run {
	l := DefaultLimits
	if run.Limits != nil {
		l = run.Limits.withDefaults()
	}
	out := *run
	out.Limits = &l
	out.Results = slices.Clone(run.Results)
	out.Campaigns = slices.Clone(run.Campaigns)

	// Who gets a history, failed results and counterexamples first.
	type slot struct {
		h       **History
		failing bool
		focus   int // the failing step, -1 for none
	}
	var slots []slot
	for i := range out.Results {
		res := &out.Results[i]
		if res.History == nil {
			continue
		}
		if res.Status == Failed {
			focus := 0
			if res.Failure != nil {
				focus = res.Failure.Step
			}
			slots = append(slots, slot{h: &res.History, failing: true, focus: focus})
		}
	}
	for i := range out.Campaigns {
		c := &out.Campaigns[i]
		if len(c.Counterexamples) == 0 {
			continue
		}
		c.Counterexamples = slices.Clone(c.Counterexamples)
		for j := range c.Counterexamples {
			if c.Counterexamples[j].History != nil {
				slots = append(slots, slot{h: &c.Counterexamples[j].History, failing: true, focus: -1})
			}
		}
	}
	for i := range out.Results {
		res := &out.Results[i]
		if res.History == nil || res.Status == Failed {
			continue
		}
		if !l.PassingHistories {
			res.History = nil
			continue
		}
		slots = append(slots, slot{h: &res.History, focus: -1})
	}

	total := 0
	for _, s := range slots {
		h := cutBodies(*s.h, l.BodyBytes)
		h = cutEvents(h, l.ResultBytes, s.focus, fmt.Sprintf("the per-result cap of %s", byteSize(l.ResultBytes)))
		size := historySize(h)
		if total+size > l.TotalBytes {
			if !s.failing {
				cut := HistoryCut{Reason: fmt.Sprintf("the cap of %s on all histories", byteSize(l.TotalBytes))}
				if h.Cut != nil {
					cut.Events, cut.Bodies = h.Cut.Events, h.Cut.Bodies
				}
				cut.Events += len(h.Events)
				h = &History{Started: h.Started, Steps: h.Steps, Lanes: h.Lanes, Cut: &cut}
			} else {
				h = cutBodies(h, 0)
				h = cutEvents(h, min(l.ResultBytes, minimalBytes), s.focus, fmt.Sprintf("the cap of %s on all histories", byteSize(l.TotalBytes)))
			}
			size = historySize(h)
		}
		total += size
		*s.h = h
	}
	return &out
}

// minimalBytes bounds the history a failed result keeps once all histories fill
// TotalBytes: its failing step, without bodies.
const minimalBytes = 16 << 10

// cutMarker ends a cut body: how many bytes of it were left out.
const cutMarker = "…[%d bytes cut]"

// cutText returns s cut to at most n bytes (its marker included), at a rune boundary; n 0
// leaves nothing. The second result says whether it was cut.
func cutText(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	if n == 0 {
		return "", true
	}
	keep := max(0, n-len(fmt.Sprintf(cutMarker, len(s))))
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + fmt.Sprintf(cutMarker, len(s)-keep), true
}

// cutBodies returns h with every body and row cut to n bytes (h itself when none is longer).
func cutBodies(h *History, n int) *History {
	var out *History
	for i := range h.Events {
		e := h.Events[i]
		cut := 0
		for _, f := range []*string{&e.RequestBody, &e.ResponseBody, &e.RowBefore, &e.RowAfter} {
			var c bool
			if *f, c = cutText(*f, n); c {
				cut++
			}
		}
		if cut == 0 {
			continue
		}
		if out == nil {
			out = copyHistory(h)
		}
		out.Events[i] = e
		out.Cut.Bodies += cut
	}
	if out == nil {
		return h
	}
	return out
}

// copyHistory copies h deeply enough to change its events and its cut.
func copyHistory(h *History) *History {
	c := *h
	c.Events = slices.Clone(h.Events)
	if h.Cut != nil {
		cut := *h.Cut
		c.Cut = &cut
	} else {
		c.Cut = &HistoryCut{}
	}
	return &c
}

// cutEvents returns h with as many events as fit in n bytes: those of step focus first
// (focus -1: from the first event on), then those nearest to them; order is kept.
func cutEvents(h *History, n, focus int, reason string) *History {
	if historySize(h) <= n {
		return h
	}
	sizes := make([]int, len(h.Events))
	budget := n - historySize(&History{Started: h.Started, Steps: h.Steps, Lanes: h.Lanes, Cut: &HistoryCut{Events: len(h.Events), Bodies: len(h.Events) * 4, Reason: reason}})
	for i := range h.Events {
		sizes[i] = jsonSize(&h.Events[i]) + 1
	}
	// The window starts at the focus step's events: all of step 0 (the end checks) sit at
	// the end of the history, a failing step's where it ran.
	lo, hi := 0, -1
	if focus >= 0 {
		lo = len(h.Events)
		for i, e := range h.Events {
			if e.Step == focus && (focus != 0 || i >= lastNonZeroStep(h.Events)) {
				lo, hi = min(lo, i), i
			}
		}
		if hi < 0 { // the step made no request: around the end
			lo, hi = len(h.Events), len(h.Events)-1
		}
	}
	keep := make([]bool, len(h.Events))
	used := 0
	take := func(i int) bool {
		if used+sizes[i] > budget {
			return false
		}
		keep[i], used = true, used+sizes[i]
		return true
	}
	for i := lo; i <= hi; i++ {
		if !take(i) {
			break
		}
	}
	left, right := lo-1, hi+1
	if hi < lo { // nothing in the step: start just before where it would be
		left, right = lo-1, lo
	}
	for left >= 0 || right < len(h.Events) {
		progress := false
		if right < len(h.Events) && take(right) {
			right++
			progress = true
		}
		if left >= 0 && take(left) {
			left--
			progress = true
		}
		if !progress {
			break
		}
	}
	out := copyHistory(h)
	out.Events = out.Events[:0]
	for i, e := range h.Events {
		if keep[i] {
			out.Events = append(out.Events, e)
		}
	}
	out.Cut.Events += len(h.Events) - len(out.Events)
	out.Cut.Reason = reason
	return out
}

// lastNonZeroStep is the index after the last event of a numbered step: where the end
// checks' events begin.
func lastNonZeroStep(events []Event) int {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Step != 0 {
			return i + 1
		}
	}
	return 0
}

// historySize is the size of h's JSON encoding, near enough (no indentation).
func historySize(h *History) int { return jsonSize(h) }

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
