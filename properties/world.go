package properties

import (
	"fmt"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/scenarios"
)

// The world of an interleaving: which tables, which ids, what the server is like and how each
// client is set up. rapid draws it when the interleaving starts, so a failure shrinks towards
// the plainest world that still shows it (every draw's first choice is the plain one: one table,
// ids that differ, a server that pages at 50 on a stepping clock, soft delete, v2, clients with
// no option set).
//
// The world is where the bugs users meet hide: a server page size below the client's cuts pulls
// short; a clock step of 0 gives rows one updatedAt, the delta token's edge; ids that differ
// only in case meet in case-insensitive stores; two tables show a push or a purge reaching past
// the one it was asked for; each client option of docs/semantics.md changes what a push, a pull
// or a purge must do.

// tablePool are the tables an interleaving may use: the first always.
var tablePool = []string{"todoitem", "note"}

// idPool are the item ids: small, so that devices meet on the same items. caseIDs adds an id
// that differs from the first only in case: the same item to every store and to the server.
var (
	idPool  = []string{"a", "b", "c"}
	caseIDs = []string{"A"}
)

// world is what one interleaving plays in.
type world struct {
	tables []string
	ids    []string // before the run's suffix
	// hard is true when the server deletes rows for real.
	hard bool
	// purgeQueries lets purges carry a query.
	purgeQueries bool
}

// drawWorld draws the world into the scenario (its server and clients) and returns what the
// actions need of it. A narrow world is the machine's first one: one table, three ids, a v2
// server paging at 3 with soft delete, clients with a page size of 2.
func drawWorld(t *rapid.T, cfg Config, sc *scenarios.Scenario, n int) world {
	w := world{tables: tablePool[:1], ids: idPool}
	sc.Server = scenarios.ServerSpec{Dialect: fakeserver.V2, PageSize: 3, SoftDelete: true,
		ClockStepMs: rapid.SampledFrom([]int{1, 0}).Draw(t, "clockStepMs"), Seed: 1}
	wide := !cfg.Narrow
	if wide {
		tables := cfg.tables()
		w.tables = tables[:rapid.IntRange(1, len(tables)).Draw(t, "tables")]
		if rapid.Bool().Draw(t, "caseIDs") {
			w.ids = append(append([]string(nil), idPool...), caseIDs...)
		}
		w.purgeQueries = rapid.Bool().Draw(t, "purgeQueries")
		// Rows the server holds before anyone syncs (other ids than the pool's): what a first
		// pull pages through, and a crash in the middle of it can lose.
		if seeded := rapid.IntRange(0, 4).Draw(t, "seededRows"); seeded > 0 {
			var rows []map[string]any
			for i := range seeded {
				rows = append(rows, map[string]any{"id": fmt.Sprintf("r%d", i+1), "text": words[i%len(words)], "n": float64(i)})
			}
			sc.Server.Tables = []scenarios.TableRows{{Table: w.tables[0], Rows: rows}}
		}
		sc.Server.PageSize = rapid.SampledFrom([]int{50, 3, 2, 1}).Draw(t, "serverPageSize")
		w.hard = rapid.Bool().Draw(t, "hardDelete")
		sc.Server.SoftDelete = !w.hard
		// A server's dialect is its own unless it is the embedded one, built for each run.
		if rapid.Bool().Draw(t, "v1") && cfg.can("dialect", "v1") && cfg.Target == nil {
			sc.Server.Dialect = fakeserver.V1
		}
	}
	if !cfg.controlled() {
		// Another server has its own page size, clock, delete and dialect: the machine
		// relies on none of them.
		sc.Server.PageSize, sc.Server.ClockStepMs, sc.Server.SoftDelete = 0, 1, true
		sc.Server.Dialect = fakeserver.V2
		if cfg.Target.Dialect == "v1" {
			sc.Server.Dialect = fakeserver.V1
		}
		w.hard = false
	}
	if cfg.Target != nil && (!cfg.controlled() || cfg.Target.Personality != "") {
		w.ids = idPool // another server's ids, or a personality's, may be case-sensitive (Node's are)
	}
	for i := range n {
		c := &scenarios.ClientSpec{Name: fmt.Sprintf("c%d", i), Store: "memory"}
		if i == 0 && cfg.sqlite() {
			c.Store = "sqlite"
		}
		c.Options.Options = drawOptions(t, cfg, c.Name, wide)
		sc.Clients = append(sc.Clients, c)
	}
	return w
}

// drawOptions draws one client's options among those it has (docs/semantics.md).
func drawOptions(t *rapid.T, cfg Config, name string, wide bool) drivers.Options {
	var o drivers.Options
	flag := func(option string) bool {
		return rapid.Bool().Draw(t, name+"."+option) && cfg.can("option", option)
	}
	o.CollapseUpdateDeleteToTail = flag("collapseUpdateDeleteToTail")
	if cfg.can("option", "pageSize") {
		o.PageSize = 2
	}
	if !wide {
		return o
	}
	if cfg.can("option", "pageSize") {
		o.PageSize = rapid.SampledFrom([]int{2, 1, 3, 50}).Draw(t, name+".pageSize")
	}
	if flag("pushScope") {
		o.PushScope = "table"
	}
	o.PurgePushesFirst = flag("purgePushesFirst")
	o.TreatIdenticalAsSuccess = flag("treatIdenticalAsSuccess")
	o.SkippedRowsMoveToken = flag("skippedRowsMoveToken")
	// Client wins may need five sends to settle a conflict (an insert's 409, the update's
	// 404 from a deleted row, the undelete, the update again, and a racing writer's): with
	// fewer, a converge could wait for it for ever. So the option is drawn above the default.
	if tries := rapid.SampledFrom([]int{0, 6}).Draw(t, name+".maxTries"); tries > 0 && cfg.can("option", "maxTries") {
		o.MaxTries = tries
	}
	return o
}

// tables are the tables of the pool the server has: another server has only those it was
// set up with (a target names them), and the first is always there.
func (cfg Config) tables() []string {
	if cfg.Target == nil {
		return tablePool
	}
	out := []string{tablePool[0]}
	for _, name := range tablePool[1:] {
		if _, ok := cfg.Target.Table(name); ok {
			out = append(out, name)
		}
	}
	return out
}

// table draws one of the world's tables.
func (w world) table(t *rapid.T) string {
	if len(w.tables) == 1 {
		return w.tables[0]
	}
	return rapid.SampledFrom(w.tables).Draw(t, "table")
}
