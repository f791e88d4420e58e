package scenarios

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/targets"
)

// span is a step as played, for the run's timeline: when it ran, and where the server's
// history stood before and after it.
type span struct {
	st         *Step // nil for the end-of-scenario checks
	start, end time.Duration
	from, to   int
}

// history is the run's timeline: its steps, and every event of the server's history (or of
// the proxy in front of it) with the step that caused it and the lane it belongs in.
func (s *Session) history() *reports.History {
	h := &reports.History{Started: s.start}
	for _, sp := range s.spans {
		ss := reports.StepSpan{Start: sp.start, End: sp.end, What: "end-of-scenario checks"}
		if sp.st != nil {
			ss.Index, ss.Line, ss.What = sp.st.Index, sp.st.Line, sp.st.Describe()
		}
		h.Steps = append(h.Steps, ss)
	}
	for _, sk := range s.r.skipped {
		h.Steps = append(h.Steps, reports.StepSpan{Index: sk.Step, What: sk.What, Skipped: sk.Reason})
	}
	for _, e := range s.r.events(0) {
		if e.Source == fakeserver.SourceDropped {
			h.Steps = append(h.Steps, reports.StepSpan{What: fmt.Sprintf("%d event(s) dropped from the server's capped history", e.Dropped),
				Skipped: "the server's history is capped"})
			continue
		}
		ev := reports.Event{Seq: int(e.Seq), Method: e.Method, Path: e.Path, Query: e.Query, Op: string(e.Op), Table: e.Table,
			ItemID: e.ItemID, Status: e.Status, Error: e.Error, Rows: e.Rows, IfMatch: e.Precondition,
			VersionBefore: e.VersionBefore, Version: e.VersionAfter, Applied: e.Applied, Actor: s.actor(e)}
		if !Answered(e) {
			ev.Status = 0
		}
		ev.Conflict = ev.Status == http.StatusConflict || ev.Status == http.StatusPreconditionFailed
		for _, f := range e.Faults {
			ev.Faults = append(ev.Faults, reports.FaultHit{ID: f.ID, Action: f.Action})
		}
		if e.Body != nil {
			if raw, err := json.Marshal(e.Body); err == nil {
				ev.RequestBody = string(raw)
			}
		}
		for _, sp := range s.spans {
			if int(e.Seq) > sp.from && int(e.Seq) <= sp.to {
				if sp.st != nil {
					ev.Step = sp.st.Index
				}
				ev.Start, ev.End = sp.start, sp.end
			}
		}
		if !e.Began.IsZero() {
			ev.Start, ev.End = e.Began.Sub(s.start), e.Ended.Sub(s.start)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// actor is the lane of an event: the device that sent it, the server actor for another
// writer's direct writes, and the writer lane for the writes a fault made.
func (s *Session) actor(e fakeserver.Event) string {
	if e.Source == fakeserver.SourceDirect || e.Client == targets.ActorID {
		for _, f := range e.Faults {
			if f.Action == "concurrent-write" {
				return reports.ActorWriter
			}
		}
		return reports.ActorServer
	}
	if _, ok := s.r.devices[e.Client]; ok {
		return e.Client
	}
	if e.Client == "" {
		return reports.ActorWriter
	}
	return e.Client
}

// describe fills what a result says of its run: the target, the client and each device.
func (s *Session) describe() {
	r := s.r
	t := r.target
	if t == nil {
		t = targets.Embedded()
	}
	// The embedded server speaks each scenario's dialect: it is one target whatever they say.
	s.res.Target = &reports.Target{Kind: t.Kind, URL: t.URL, Dialect: t.Dialect, Personality: t.Personality}
	clients := map[string]*reports.Client{}
	for name, drv := range r.drivers {
		info := drv.Info()
		clients[name] = &reports.Client{Driver: info.Driver, SDK: info.SDK, Version: info.Version}
	}
	main := r.opts.Client
	if main == "" {
		main = "go"
	}
	s.res.Client = clients[main]
	for _, spec := range r.sc.Clients {
		d := r.devices[spec.Name]
		if d == nil {
			continue
		}
		dev := reports.Device{Name: spec.Name, Strategy: d.strategy, Store: spec.Store}
		if d.client != main {
			dev.Client = clients[d.client]
		}
		s.res.Devices = append(s.res.Devices, dev)
	}
}
