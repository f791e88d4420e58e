package targets

import (
	"fmt"
	"slices"
	"strings"
)

// Requirements are what a scenario run needs of a server. The scenario runner derives them
// from a scenario's steps and server block (and a scenario may declare more).
type Requirements struct {
	// Faults are the fault actions its steps put in force.
	Faults []string
	// Clock: it moves the server's clock, or puts in force a fault that stamps rows
	// (clock-skew, clock-freeze) or writes between pages (page-shift).
	Clock bool
	// ClockStepMs, when not nil, is a clock step per write of its own (0: writes share one
	// updatedAt): a simulated clock's.
	ClockStepMs *int
	// Dialect is v2 or v1.
	Dialect string
	// Tables are the tables it uses.
	Tables []string
	// SoftDelete, when not nil, is the delete behaviour its deletes rely on.
	SoftDelete *bool
	// PageSize, when not 0, is the page size it relies on, capping even an explicit $top.
	PageSize int
	// MaxTop, when not 0, is the largest $top it relies on.
	MaxTop int
	// Declared are requirements the scenario names itself (`requires:`), beyond these.
	Declared []string
}

// Declarable are the requirements a scenario can name in `requires:`.
var Declarable = []string{"faults", "clock", "controlled"}

// serverFaults are the fault actions only a server conflictlab controls can act out: they
// change the server's own clock or rows.
var serverFaults = []string{"clock-skew", "clock-freeze", "page-shift"}

// Lacks says why the target cannot serve a run with these requirements, "" when it can.
// Faults at the HTTP level work in front of any server (a proxy is put in its way).
func (t *Target) Lacks(r Requirements) string {
	if t.Controlled() {
		return t.lacksSettings(r)
	}
	var why []string
	for _, f := range r.Faults {
		if slices.Contains(serverFaults, f) {
			why = append(why, "the fault "+f+" needs a server conflictlab controls (its clock and rows): this one is "+t.String())
		}
	}
	if r.Clock {
		why = append(why, "moving the server's clock needs a server conflictlab controls")
	}
	if r.ClockStepMs != nil {
		why = append(why, fmt.Sprintf("a clock that steps %d ms per write (clockStepMs) needs a conflictlab server on a simulated clock", *r.ClockStepMs))
	}
	if slices.Contains(r.Declared, "controlled") || slices.Contains(r.Declared, "clock") {
		why = append(why, "the scenario requires a server conflictlab controls")
	}
	if len(why) > 0 {
		return strings.Join(slices.Compact(why), "; ")
	}
	return t.lacksSettings(r)
}

// lacksSettings compares the settings a run relies on with the target's.
func (t *Target) lacksSettings(r Requirements) string {
	if t.Kind == KindEmbedded {
		return "" // configured for each run
	}
	var why []string
	if r.Dialect != "" && t.Dialect != "" && r.Dialect != t.Dialect {
		why = append(why, fmt.Sprintf("the scenario speaks %s; the target speaks %s", r.Dialect, t.Dialect))
	}
	if t.Kind == KindConflictlab {
		// conflictlab serve is reset with the run's page size, delete and seed (Connect);
		// what it cannot change is its dialect, its largest $top and its kind of clock. One
		// that imitates another server (a personality) keeps that server's ways, which the
		// checks below compare like any other server's.
		if r.ClockStepMs != nil && !t.SimulatedClock {
			why = append(why, fmt.Sprintf("a clock that steps %d ms per write (clockStepMs) needs conflictlab serve --sim-clock", *r.ClockStepMs))
		}
		star, _ := t.Table("*")
		if r.MaxTop > 0 && star.MaxTop != r.MaxTop {
			why = append(why, fmt.Sprintf("the scenario relies on a largest $top of %d; the server's is %s (serve --max-top)", r.MaxTop, orUnknown(star.MaxTop)))
		}
		if t.Personality == "" {
			return strings.Join(why, "; ")
		}
		r.MaxTop = 0
	}
	for _, name := range r.Tables {
		tb, ok := t.Table(name)
		if !ok {
			why = append(why, fmt.Sprintf("the target has no table %s (its tables: %s)", name, strings.Join(t.tableNames(), ", ")))
			continue
		}
		if r.SoftDelete != nil {
			switch {
			case tb.SoftDelete == nil:
				why = append(why, fmt.Sprintf("the scenario's deletes rely on %s; the target does not say what table %s does (tables.%s.softDelete)",
					deleteKind(*r.SoftDelete), name, name))
			case *tb.SoftDelete != *r.SoftDelete:
				why = append(why, fmt.Sprintf("the scenario's deletes rely on %s; table %s does %s", deleteKind(*r.SoftDelete), name,
					deleteKind(*tb.SoftDelete)))
			}
		}
		if r.PageSize > 0 {
			switch {
			case tb.PageSize == 0:
				why = append(why, fmt.Sprintf("the scenario relies on pages of %d rows; the target does not say its page size (tables.%s.pageSize)", r.PageSize, name))
			case tb.PageSize != r.PageSize:
				why = append(why, fmt.Sprintf("the scenario relies on pages of %d rows; table %s pages by %d", r.PageSize, name, tb.PageSize))
			case tb.PageSizeCapsTop == nil || !*tb.PageSizeCapsTop:
				why = append(why, fmt.Sprintf("the scenario relies on a page size that caps $top; table %s's page size is only its default $top", name))
			}
		}
		if r.MaxTop > 0 && tb.MaxTop != r.MaxTop {
			why = append(why, fmt.Sprintf("the scenario relies on a largest $top of %d; table %s's is %s", r.MaxTop, name, orUnknown(tb.MaxTop)))
		}
	}
	return strings.Join(slices.Compact(why), "; ")
}

func (t *Target) tableNames() []string {
	var out []string
	for k := range t.Tables {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func deleteKind(soft bool) string {
	if soft {
		return "soft delete (tombstones)"
	}
	return "hard delete"
}

func orUnknown(n int) string {
	if n == 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}
