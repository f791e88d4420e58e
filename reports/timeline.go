package reports

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// timelineData is a history as the page's script draws it.
type timelineData struct {
	Lanes   []string    `json:"lanes"`
	Steps   []StepSpan  `json:"steps"`
	Events  []Event     `json:"events"`
	Failing int         `json:"failing"`
	Cut     *HistoryCut `json:"cut,omitempty"`
}

// finish works out the timeline's lanes, what was cut, and its data for the script.
func (tv *timelineView) finish() {
	h := tv.history
	tv.Lanes = lanesOf(h, tv.devices)
	tv.Cut = describeCut(h.Cut)
	data := timelineData{Lanes: tv.Lanes, Steps: h.Steps, Events: h.Events, Failing: tv.Failing, Cut: h.Cut}
	if data.Steps == nil {
		data.Steps = []StepSpan{}
	}
	if data.Events == nil {
		data.Events = []Event{}
	}
	// json.Marshal escapes <, > and & (and U+2028, U+2029), so the data cannot close the
	// <script> element that holds it.
	b, err := json.Marshal(data)
	if err != nil {
		b = []byte(`{"lanes":[],"steps":[],"events":[],"failing":-1}`)
	}
	tv.Data = string(b)
}

// describeCut says in words what the limits left out of a history.
func describeCut(c *HistoryCut) string {
	if c == nil || (c.Events == 0 && c.Bodies == 0) {
		return ""
	}
	var parts []string
	if c.Events > 0 {
		parts = append(parts, fmt.Sprintf("%d event(s) left out", c.Events))
	}
	if c.Bodies > 0 {
		parts = append(parts, fmt.Sprintf("%d body/row(s) cut short", c.Bodies))
	}
	s := strings.Join(parts, ", ")
	if c.Reason != "" {
		s += " by " + c.Reason
	}
	return s
}

// lanesOf is the order of a timeline's lanes: the history's own, else the devices in the
// scenario's order, any other device as it first appears, then the server and another
// writer.
func lanesOf(h *History, devices []Device) []string {
	lanes := slices.Clone(h.Lanes)
	add := func(l string) {
		if l != "" && !slices.Contains(lanes, l) {
			lanes = append(lanes, l)
		}
	}
	for _, d := range devices {
		add(d.Name)
	}
	for _, e := range h.Events {
		if e.Actor != ActorServer && e.Actor != ActorWriter {
			add(e.Actor)
		}
	}
	add(ActorServer)
	for _, e := range h.Events {
		add(e.Actor)
	}
	return lanes
}

// eventLine is one event as a line of text, for the Markdown report:
// "#12 +3.201ms phone PATCH /tables/todoitem/e1 If-Match AAA= → 412 conflict [fault drop-response]".
func eventLine(e *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d +%s %s", e.Seq, formatDuration(e.Start), e.Actor)
	if e.Step > 0 {
		fmt.Fprintf(&b, " (step %d)", e.Step)
	}
	if e.Method != "" {
		b.WriteString(" " + e.Method + " " + e.Path)
		if e.Query != "" {
			b.WriteString("?" + e.Query)
		}
	} else if e.Op != "" {
		b.WriteString(" " + e.Op)
		if e.Table != "" {
			b.WriteString(" " + e.Table + "/" + e.ItemID)
		}
	}
	if len(e.IfMatch) > 0 {
		b.WriteString(" If-Match " + strings.Join(e.IfMatch, ","))
	}
	b.WriteString(" → ")
	if e.Status == 0 {
		b.WriteString("no answer")
	} else {
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Version != "" {
		b.WriteString(" version " + e.Version)
	}
	if e.IsConflict() {
		b.WriteString(" conflict")
	}
	if e.Error != "" {
		b.WriteString(" (" + e.Error + ")")
	}
	for _, f := range e.Faults {
		b.WriteString(" [fault " + f.Action)
		if f.ID != "" {
			b.WriteString(" " + f.ID)
		}
		b.WriteString("]")
	}
	return b.String()
}

// eventsAround are the events of a failed result's history to print in text: those of the
// failing step and up to before events before it (for the end checks, the last ones).
func eventsAround(h *History, step, before int) []Event {
	if h == nil || len(h.Events) == 0 {
		return nil
	}
	lo, hi := -1, -1
	for i, e := range h.Events {
		if e.Step == step && step > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		hi = len(h.Events) - 1
		lo = hi + 1
	}
	lo = max(0, lo-before)
	return h.Events[lo : hi+1]
}
