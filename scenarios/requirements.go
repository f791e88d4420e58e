package scenarios

import (
	"slices"
	"strings"

	"github.com/conflictlab/conflictlab/targets"
)

// clockFaults are the fault actions that act on the server's clock or rows.
var clockFaults = []string{"clock-skew", "clock-freeze", "page-shift"}

// requirements are what this run needs of its server, from the scenario's server block and
// the steps that run under its strategy.
func (r *runner) requirements() targets.Requirements {
	sc := r.sc
	req := targets.Requirements{Dialect: string(sc.Server.Dialect), PageSize: sc.Server.PageSize, MaxTop: sc.Server.MaxTop,
		Declared: sc.Requires}
	if req.Dialect == "" {
		req.Dialect = "v2"
	}
	// The clock steps once per write unless the scenario asks otherwise; a real server's clock
	// moves on its own and cannot be told to stand still.
	if sc.Server.ClockStepMs != 1 {
		step := sc.Server.ClockStepMs
		req.ClockStepMs = &step
	}
	seen := map[string]bool{}
	table := func(name string) {
		if name != "" && !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			req.Tables = append(req.Tables, name)
		}
	}
	for _, tr := range sc.Server.Tables {
		table(tr.Table)
	}
	deletes := false
	for _, st := range sc.Steps {
		if !st.runsUnder(r.strategy) {
			continue
		}
		switch {
		case st.Actor == "fault":
			if !slices.Contains(req.Faults, st.Fault.Action) {
				req.Faults = append(req.Faults, st.Fault.Action)
			}
			if slices.Contains(clockFaults, st.Fault.Action) {
				req.Clock = true
			}
		case st.Actor == "clock":
			req.Clock = true
		case st.Op != nil:
			table(st.Op.Table)
			deletes = deletes || st.Op.Op == "delete" || st.Op.Op == "undelete"
		}
		if w := st.While; w != nil {
			// The pull waits at a page under a hold fault (a proxy holds it in front of another
			// server) while the other op plays.
			if !slices.Contains(req.Faults, "hold") {
				req.Faults = append(req.Faults, "hold")
			}
			table(w.Op.Table)
			deletes = deletes || w.Op.Op == "delete" || w.Op.Op == "undelete"
		}
	}
	if deletes {
		soft := sc.Server.SoftDelete
		req.SoftDelete = &soft
	}
	return req
}
