package properties

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/targets"
)

// Config shapes the state machine.
type Config struct {
	// Clients is how many devices (2 to 4); 0 draws it.
	Clients int
	// Strategy fixes the strategy; "" draws one of client-wins, server-wins, cancel, manual.
	Strategy string
	// SQLite keeps the first client on a SQLite store, so restarts are real (P8).
	SQLite bool
	// Faults lets the machine add and heal faults.
	Faults bool
	// InMemory serves the embedded server without sockets (much faster; see
	// scenarios.Options.InMemory).
	InMemory bool
	// Target is the server under test; nil: the embedded fake server. Against a server
	// conflictlab does not control, the machine draws no clock faults, no clock steps and no
	// page size of its own, and its ids carry the run's suffix when the server cannot be
	// emptied.
	Target *targets.Target
	// Out is where a counterexample is written (as <Name>.yaml); "" writes none.
	Out string
	// StoreDir is where each interleaving's SQLite stores go, in a directory of its own
	// removed after it; "": the system's temporary directory. The stores are scratch: on a
	// RAM-backed file system (conflictlab fuzz picks /dev/shm when it can) their fsyncs cost
	// nothing, and restarts (P8) still close and reopen the files.
	StoreDir string
	// Name names the counterexample file and scenario; default "counterexample".
	Name string
	// Concurrent adds an action that writes locally while a pull waits for one of its pages
	// (a pull step with a while: docs/scenario-format.md); its counterexamples replay.
	Concurrent bool
	// Narrow plays the machine's first world: one table, ids that never differ only in case,
	// a v2 server paging at 3 with soft delete, clients with no option but a page size of 2
	// and collapseUpdateDeleteToTail. The default is the wide world of world.go; the narrow
	// one is kept to measure what the wide one costs.
	Narrow bool
	// Stats, when not nil, counts what the machine did.
	Stats *Stats
	// Client is the client under test ("go", "js", a driver's command); see
	// scenarios.Options.Client.
	Client string
	// Drivers, when set, finds the client's driver (see scenarios.Options.Drivers): a campaign
	// keeps one driver process for all its interleavings this way.
	Drivers func(name string) (drivers.Factory, error)
	// Capabilities are what the client can do, when it is not conflictlab's own: the machine
	// draws only strategies, options, stores and ops the client has (nil: all of them).
	// Campaign fills it in by asking the client's driver once.
	Capabilities *drivers.Capabilities
	// Context, when set, bounds every action: once it ends, the interleaving under way stops
	// where it is (its goroutine exits, its session closed), so an interrupted campaign ends
	// at once and reports nothing it did not finish. nil: context.Background().
	Context context.Context

	// sink, when set, takes the counterexample's scenario file instead of Out: a campaign
	// writes only the one it reports. played, when set, is told of every run's scenario
	// and how many actions it played.
	sink   func([]byte)
	played func(sc *scenarios.Scenario, actions int)
}

// name is the counterexample's name.
func (cfg Config) name() string {
	if cfg.Name == "" {
		return "counterexample"
	}
	return cfg.Name
}

// Stats count the work of a campaign.
type Stats struct {
	Runs    int // interleavings explored (rapid test cases)
	Actions int // actions played
	// Properties count the checks of each property over every interleaving, by id.
	Properties map[string]reports.PropertyCount
	// Counterexample is the path of the last counterexample written.
	Counterexample string
}

// add adds another count of work (not its counterexample) to s.
func (s *Stats) add(o Stats) {
	s.Runs += o.Runs
	s.Actions += o.Actions
	for id, c := range o.Properties {
		if s.Properties == nil {
			s.Properties = map[string]reports.PropertyCount{}
		}
		sum := s.Properties[id]
		sum.ID, sum.Name = c.ID, c.Name
		sum.Checks += c.Checks
		sum.Holds += c.Holds
		sum.Violated += c.Violated
		sum.Unknown += c.Unknown
		s.Properties[id] = sum
	}
}

// can reports whether the client has a capability (what: strategy, option, store, op).
func (cfg Config) can(what, name string) bool {
	c := cfg.Capabilities
	if c == nil {
		return true
	}
	list := map[string][]string{"strategy": c.Strategies, "option": c.Options, "store": c.Stores, "op": c.Ops, "dialect": c.Dialects}[what]
	return slices.Contains(list, name)
}

// strategies are the strategies the machine draws from: those the client has.
func (cfg Config) strategies() []string {
	var out []string
	for _, s := range scenarios.Strategies {
		if cfg.can("strategy", s) {
			out = append(out, s)
		}
	}
	return out
}

// sqlite reports whether the first client keeps a SQLite store (and restarts on it).
func (cfg Config) sqlite() bool { return cfg.SQLite && cfg.can("store", "sqlite") }

// controlled reports whether the machine's server is one conflictlab drives itself.
func (cfg Config) controlled() bool { return cfg.Target == nil || cfg.Target.Controlled() }

var words = []string{"eggs", "milk", "bread"}

// machine is one run: a scenario being written step by step while a session plays it.
type machine struct {
	cfg      Config
	ctx      context.Context
	sc       *scenarios.Scenario
	sess     *scenarios.Session
	names    []string
	strategy string
	faultN   int
	faults   []string
	world    world
	finished bool
	counted  bool
	p7       check.Integrity
	p7mark   int
	model    *serverModel
	modelAt  int // the history the model has followed
	played   int // actions played so far
	// ids are the item ids it draws: ids, with the run's suffix against a server that keeps
	// the rows of earlier runs.
	ids []string
	// forced, when set, is the client every action draws (a crash's next action).
	forced string
	// purged are the rows (lower-case ids, by client|table) a purge took away while it kept
	// the table's delta token: incremental pulls rightly leave them away (P9 excuses them)
	// until a full pull brings them back or the token goes.
	purged map[string]map[string]bool
	// down is the client whose store crashed, until its restart: what it answered meanwhile
	// a dead process never saw, so the machine's own checks of it wait for the restart (P8).
	down string
}

// Run is the property: one interleaving, drawn by rapid, played and checked. Use it with
// rapid.Check or rapid.MakeFuzz.
func Run(cfg Config) func(*rapid.T) {
	return func(t *rapid.T) {
		m := newMachine(t, cfg)
		defer m.close(t)
		t.Repeat(m.actions())
		m.finish(t)
	}
}

func newMachine(t *rapid.T, cfg Config) *machine {
	n := cfg.Clients
	if n == 0 {
		n = rapid.IntRange(2, 4).Draw(t, "clients")
	}
	strategy := cfg.Strategy
	if strategy == "" {
		strategy = rapid.SampledFrom(cfg.strategies()).Draw(t, "strategy")
	}
	name := cfg.name()
	ctx := cfg.Context
	if ctx == nil {
		ctx = context.Background()
	}
	m := &machine{cfg: cfg, ctx: ctx, strategy: strategy}
	m.sc = &scenarios.Scenario{
		Name:        name,
		Description: "Written by the property tests: a failing interleaving, shrunk.",
		Labels:      []string{"counterexample"},
		Strategies:  []string{strategy},
	}
	m.world = drawWorld(t, cfg, m.sc, n)
	m.model = newServerModel(m.world.hard)
	for _, c := range m.sc.Clients {
		m.names = append(m.names, c.Name)
	}
	opts := scenarios.Options{InMemory: cfg.InMemory, Target: cfg.Target, Client: cfg.Client, Drivers: cfg.Drivers}
	if cfg.sqlite() && cfg.StoreDir != "" {
		dir, err := os.MkdirTemp(cfg.StoreDir, "conflictlab-fuzz-")
		if err != nil {
			t.Fatalf("a directory for the SQLite stores: %v", err)
		}
		opts.Dir = dir
		t.Cleanup(func() { _ = os.RemoveAll(dir) }) // after the session is finished: Run defers that
	}
	m.sess = scenarios.Start(m.ctx, m.sc, strategy, opts)
	m.sess.SetLenient(true)
	// Run closes the session once the machine is made; until then, a failed setup closes
	// what it opened (clients, driver processes, the stores' directory).
	if f := m.sess.Failure(); f != nil {
		m.sess.Finish()
		t.Fatalf("setting up: %s", f.Got)
	}
	if why := m.sess.Skipped(); why != "" {
		m.sess.Finish()
		t.Fatalf("the client or the server cannot play this machine: %s", why)
	}
	for _, id := range m.world.ids {
		m.ids = append(m.ids, id+m.sess.Suffix())
	}
	if cfg.Stats != nil {
		cfg.Stats.Runs++
	}
	return m
}

func (m *machine) close(*rapid.T) {
	if !m.finished {
		m.finished = true
		m.sess.Finish()
	}
	m.count()
}

// count adds the checks of the interleaving to the campaign's counts, once.
func (m *machine) count() {
	if m.counted {
		return
	}
	m.counted = true
	if m.cfg.played != nil {
		m.cfg.played(m.sc, m.played)
	}
	if m.cfg.Stats == nil {
		return
	}
	var props Stats
	for _, c := range m.sess.PropertyCounts() {
		props.add(Stats{Properties: map[string]reports.PropertyCount{c.ID: c}})
	}
	m.cfg.Stats.add(props)
}

func (m *machine) actions() map[string]func(*rapid.T) {
	a := map[string]func(*rapid.T){
		"insert":       func(t *rapid.T) { m.localWrite(t, store.Insert) },
		"update":       func(t *rapid.T) { m.localWrite(t, store.Update) },
		"delete":       func(t *rapid.T) { m.localWrite(t, store.Delete) },
		"push":         m.push,
		"pull":         m.pull,
		"purge":        m.purge,
		"server-write": m.serverWrite,
		"query":        m.query,
		"":             m.invariants,
	}
	if m.cfg.Faults {
		a["fault"] = m.addFault
		a["heal"] = m.heal
	}
	if m.cfg.sqlite() {
		a["restart"] = m.restart
	}
	if m.cfg.can("op", "store-fault") && m.cfg.controlled() {
		a["store-fault"] = m.storeFault
	}
	if !m.cfg.can("op", "query") {
		delete(a, "query")
	}
	if !m.cfg.can("op", "purge") {
		delete(a, "purge")
	}
	if m.cfg.Concurrent {
		a["write-during-pull"] = m.writeDuringPull
	}
	if m.strategy == "client-wins" || m.strategy == "server-wins" {
		a["converge"] = m.converge // cancel and manual leave conflicts for a person: they never settle
	} else if m.cfg.can("op", "resolve") {
		a["resolve"] = m.resolve
	}
	return a
}

// play appends a step to the scenario, plays it, and writes its outcome into the step's
// expect, so the scenario replays the same way. A failure (an expectation or a property the
// session judged) fails the run.
func (m *machine) play(t *rapid.T, st *scenarios.Step) (mark int, err error) {
	if m.ctx.Err() != nil {
		m.close(t)
		runtime.Goexit() // interrupted: nothing after this is the system's doing
	}
	st.Index = len(m.sc.Steps) + 1
	m.sc.Steps = append(m.sc.Steps, st)
	mark = m.sess.Mark()
	failure := m.sess.Do(st)
	err = m.sess.LastError()
	if st.Op != nil {
		st.Expect = scenarios.ExpectOutcome(st, err)
	}
	m.played++
	if m.cfg.Stats != nil {
		m.cfg.Stats.Actions++
	}
	if failure != nil {
		m.fail(t, failure)
	}
	return mark, err
}

// judge records the verdict of one of the machine's own checkers on the last step.
func (m *machine) judge(t *rapid.T, mark int, f check.Finding) {
	if m.down != "" && m.sc.Steps[len(m.sc.Steps)-1].Actor == m.down {
		return // the device died during the step: its restart is judged (P8)
	}
	if failure := m.sess.Judge(m.sc.Steps[len(m.sc.Steps)-1], mark, f); failure != nil {
		m.fail(t, failure)
	}
}

// fail writes the scenario so far as the counterexample and fails the run. rapid runs the
// shrunk case last, so the file left behind is the shortest.
func (m *machine) fail(t *rapid.T, f *reports.Failure) {
	where := ""
	if m.cfg.Out != "" {
		data, err := scenarios.Marshal(m.sc)
		where = filepath.Join(m.cfg.Out, m.sc.Name+".yaml")
		switch {
		case err != nil:
		case m.cfg.sink != nil:
			m.cfg.sink(data)
		default:
			if err = os.MkdirAll(m.cfg.Out, 0o755); err == nil {
				err = os.WriteFile(where, data, 0o644)
			}
		}
		if err != nil {
			where = "(could not write the counterexample: " + err.Error() + ")"
		}
		if m.cfg.Stats != nil {
			m.cfg.Stats.Counterexample = where
		}
	}
	prop := ""
	if f.Property != "" {
		prop = f.Property + " (" + check.Names[f.Property] + ") violated\n"
	}
	t.Fatalf("%sstep %d: %s\nexpected: %s\ngot:      %s\nrequests:\n  %s\ncounterexample: %s (replay: conflictlab run %s)",
		prop, f.Step, f.What, f.Expectation, f.Got, strings.Join(f.Requests, "\n  "), where, where)
}

// options are a client's options.
func (m *machine) options(name string) drivers.Options {
	for _, c := range m.sc.Clients {
		if c.Name == name {
			return c.Options.Options
		}
	}
	return drivers.Options{}
}

func (m *machine) client(t *rapid.T) string {
	if m.forced != "" {
		return m.forced
	}
	return rapid.SampledFrom(m.names).Draw(t, "client")
}

func (m *machine) item(t *rapid.T) map[string]any {
	return map[string]any{"id": rapid.SampledFrom(m.ids).Draw(t, "item"), "text": rapid.SampledFrom(words).Draw(t, "text"),
		"n": float64(rapid.IntRange(0, 3).Draw(t, "n"))}
}

func (m *machine) snapshot(t *rapid.T, name string) check.Snapshot {
	return m.read(t, name, m.world.tables)
}

// queue reads a client's queue, errors and tokens but not its rows: what P3 and P6 judge.
// Reading the store is most of what an action costs, and rows cost most of a reading.
func (m *machine) queue(t *rapid.T, name string) check.Snapshot { return m.read(t, name, nil) }

func (m *machine) read(t *rapid.T, name string, tables []string) check.Snapshot {
	if state, crashed := drivers.CrashState(m.sess.Device(name)); crashed {
		m.down = name
		return state // what the dead process left on disk: what its restart must find
	}
	snap, err := m.sess.Device(name).Snapshot(m.ctx, tables)
	if err != nil {
		t.Fatalf("reading %s's store: %v", name, err)
	}
	return snap
}

// localWrite is an insert, update or delete by one client, judged by P3 against the model.
func (m *machine) localWrite(t *rapid.T, kind store.OpKind) {
	name := m.client(t)
	table := m.world.table(t)
	item := m.item(t)
	id := item["id"].(string)
	if kind == store.Delete {
		item = map[string]any{"id": id}
	}
	before := m.snapshot(t, name)
	_, exists := before.Rows[table][strings.ToLower(id)]
	want, wantFail := collapse(fromStore(before.Ops), kind, table, id, exists, m.options(name).CollapseUpdateDeleteToTail)
	op := map[store.OpKind]string{store.Insert: "insert", store.Update: "update", store.Delete: "delete"}[kind]
	mark, err := m.play(t, &scenarios.Step{Actor: name, Op: &scenarios.Op{Op: op, Table: table, Item: item}})
	if drivers.KindOf(err) == drivers.KindStore {
		want, wantFail = fromStore(before.Ops), true // a failed store transaction: nothing of it stays
	}
	after := m.queue(t, name)
	m.judge(t, mark, check.Queue(fmt.Sprintf("%s's %s of %s", name, op, id), entries(want), check.Entries(after.Ops),
		wantFail, drivers.KindOf(err) == drivers.KindInvalidOperation || drivers.KindOf(err) == drivers.KindStore))
}

// push pushes one client's queue, or with several tables sometimes one table's, judged by
// P6 (P5 is the session's).
func (m *machine) push(t *rapid.T) {
	name := m.client(t)
	table := ""
	if len(m.world.tables) > 1 && rapid.Bool().Draw(t, "oneTable") {
		table = m.world.table(t)
	}
	before := m.queue(t, name)
	mark, _ := m.play(t, &scenarios.Step{Actor: name, Op: &scenarios.Op{Op: "push", Table: table}})
	after := m.queue(t, name)
	m.judgeQueue(t, mark, name, before, after)
}

// judgeQueue judges what a push (or a pull's push) did to a client's queue and its errors:
// P6 and P11's ErrorsKept.
func (m *machine) judgeQueue(t *rapid.T, mark int, name string, before, after check.Snapshot) {
	reqs := m.sess.Requests(mark, name)
	m.judge(t, mark, check.NoSilentLoss(m.strategy, m.options(name).TreatIdenticalAsSuccess, before.Ops, after.Ops, reqs))
	m.judge(t, mark, check.ErrorsKept(before, after, reqs))
}

// pull pulls the table, in full or incrementally; P1 and P5 are the session's, P6 and P9 the
// machine's.
func (m *machine) pull(t *rapid.T) {
	m.pullOf(t, m.client(t), m.world.table(t), rapid.Bool().Draw(t, "incremental"), nil, 0)
}

// pullOf is one client's pull of one table, judged; while, when set, is played while the
// pull waits for page atPage.
func (m *machine) pullOf(t *rapid.T, name, table string, incremental bool, while *scenarios.Step, atPage int) {
	queryID := ""
	if incremental {
		queryID = "all"
	}
	before := m.queue(t, name)
	mark, err := m.play(t, &scenarios.Step{Actor: name, Op: &scenarios.Op{Op: "pull", Table: table, QueryID: queryID},
		While: while, AtPage: atPage})
	read := m.queue
	if incremental && err == nil {
		read = m.snapshot // P9 compares the rows with the server's
	}
	after := read(t, name)
	m.judgeQueue(t, mark, name, before, after)
	if !incremental && err == nil {
		delete(m.purged, name+"|"+table) // a full pull brought back what a purge took
	}
	if !incremental || err != nil {
		return
	}
	key := "deltaToken|" + table + "|" + queryID
	token := after.Config[key]
	if token == "" {
		return // nothing pulled yet: nothing is below the token
	}
	at, perr := time.Parse(time.RFC3339Nano, token)
	if perr != nil {
		t.Fatalf("%s's delta token %q: %v", name, token, perr)
	}
	// Nothing written while it paged: the rows at the token are local (or gone) too, and the
	// rows it skipped for an operation queued meanwhile (a while step) are not below it.
	obs := check.IncrementalObs{Table: table, Token: at, Local: after, AtToken: true, Skipped: true,
		SkipMoves: m.options(name).SkippedRowsMoveToken, Moved: before.Config[key] != token}
	for _, e := range m.sess.Events(mark) {
		for _, h := range e.Faults {
			if h.Action == "page-shift" {
				obs.AtToken, obs.Skipped = false, false
			}
		}
	}
	var server []map[string]any
	for _, row := range m.serverRows(t, table) {
		if !m.purged[name+"|"+table][strings.ToLower(fmt.Sprint(row["id"]))] {
			server = append(server, row)
		}
	}
	obs.Server = server
	m.judge(t, mark, check.Incremental(obs))
}

// purge purges a table (P2 is the session's): forced, or not, with its query id so the
// token goes with the rows, or not and with a query, so only the rows it matches go (and the
// token stays: the rows it took stay away from incremental pulls).
func (m *machine) purge(t *rapid.T) {
	name := m.client(t)
	op := &scenarios.Op{Op: "purge", Table: m.world.table(t), QueryID: "all"}
	switch {
	case rapid.Bool().Draw(t, "force"):
		op.QueryID, op.Force = "", true
	case m.world.purgeQueries && rapid.Bool().Draw(t, "purgeQuery"):
		op.QueryID = ""
		op.Query = &scenarios.Query{Filter: "text eq '" + rapid.SampledFrom(words).Draw(t, "purgeText") + "'"}
	}
	key := name + "|" + op.Table
	if op.QueryID != "" || op.Force {
		_, err := m.play(t, &scenarios.Step{Actor: name, Op: op})
		if err == nil {
			delete(m.purged, key) // the token went with the rows
		}
		return
	}
	before := m.snapshot(t, name)
	_, err := m.play(t, &scenarios.Step{Actor: name, Op: op})
	if err != nil {
		return
	}
	after := m.snapshot(t, name)
	for id := range before.Rows[op.Table] {
		if _, kept := after.Rows[op.Table][id]; !kept {
			if m.purged == nil {
				m.purged = map[string]map[string]bool{}
			}
			if m.purged[key] == nil {
				m.purged[key] = map[string]bool{}
			}
			m.purged[key][id] = true
		}
	}
}

// writeDuringPull updates an item locally while a pull of the table waits for page 1, 2 or 3:
// a step whose while is the update (the session holds that page's query until the update is
// done). The session judges P1 with the update: the pull must not overwrite the row while it
// is queued, on that page or any later one. The step replays with conflictlab run like any
// other; a pull with fewer pages plays the update after it.
func (m *machine) writeDuringPull(t *rapid.T) {
	name := m.client(t)
	item := m.item(t)
	// An item with no queued operation: the pull's own push leaves it alone, so the checks
	// of that push (P5, P6) and of the rows queued before the pull (P1) see only the pull.
	if _, queued := m.queued(t, name, item["id"].(string)); queued {
		t.Skip("the item has a queued operation")
	}
	table := m.world.table(t)
	atPage := rapid.IntRange(1, 3).Draw(t, "atPage")
	m.pullOf(t, name, table, rapid.Bool().Draw(t, "incremental"),
		&scenarios.Step{Actor: name, Op: &scenarios.Op{Op: "update", Table: table, Item: item}}, atPage)
}

// queued reports whether a client has an operation queued for an item.
func (m *machine) queued(t *rapid.T, name, id string) (store.Operation, bool) {
	for _, op := range m.queue(t, name).Ops {
		if strings.EqualFold(op.ItemID, id) {
			return op, true
		}
	}
	return store.Operation{}, false
}

// query is an app's online read of the server (no store): P7 judges what it returns.
func (m *machine) query(t *rapid.T) {
	m.play(t, &scenarios.Step{Actor: m.client(t), Op: &scenarios.Op{Op: "query", Table: m.world.table(t)}})
}

// serverWrite is another writer's insert, update, delete or undelete.
func (m *machine) serverWrite(t *rapid.T) {
	op := rapid.SampledFrom([]string{"insert", "update", "delete", "undelete"}).Draw(t, "write")
	item := m.item(t)
	st := &scenarios.Op{Op: op, Table: m.world.table(t), Item: item}
	if op == "delete" || op == "undelete" {
		st.Item, st.ID = nil, item["id"].(string)
	}
	m.play(t, &scenarios.Step{Actor: "server", Op: st})
}

// faultMenu are the faults the machine adds: on writes only where a closed connection would
// make Go's transport retry a GET (which it does over a socket and not in memory).
func (m *machine) faultMenu(t *rapid.T) fakeserver.Rule {
	writes := []string{"POST", "PATCH", "DELETE"}
	client := m.client(t)
	pick := rapid.IntRange(0, 6).Draw(t, "fault")
	if !m.cfg.controlled() && (pick == 4 || pick == 5) {
		pick = 6 // the clock and the rows between pages are the server's own: a proxy cannot
	}
	switch pick {
	case 0:
		return fakeserver.Rule{Action: "drop-response", Match: fakeserver.Match{Method: writes, Times: 1}}
	case 1:
		return fakeserver.Rule{Action: "reset", Match: fakeserver.Match{Method: writes, Times: 1}}
	case 2:
		return fakeserver.Rule{Action: "status", Params: map[string]any{"code": 500.0}, Match: fakeserver.Match{Times: 1}}
	case 3:
		return fakeserver.Rule{Action: "offline", Match: fakeserver.Match{Client: client}}
	case 4:
		return fakeserver.Rule{Action: "clock-freeze"}
	case 5:
		return fakeserver.Rule{Action: "page-shift", Match: fakeserver.Match{Times: 2}} // unbounded, it doubles a frozen table per pull
	default:
		// Another writer: once, or racing a client's retries too, now and then more often
		// than client wins may retry (MaxTries, default 5).
		times := rapid.SampledFrom([]int{1, 2, 3, 7}).Draw(t, "raceTimes")
		return fakeserver.Rule{Action: "concurrent-write", Match: fakeserver.Match{Method: writes, Times: times}}
	}
}

func (m *machine) addFault(t *rapid.T) {
	r := m.faultMenu(t)
	m.faultN++
	r.ID = fmt.Sprintf("f%d", m.faultN)
	r, err := r.Validate()
	if err != nil {
		t.Fatalf("the fault menu: %v", err)
	}
	m.faults = append(m.faults, r.ID)
	m.play(t, &scenarios.Step{Actor: "fault", Fault: &r})
}

func (m *machine) heal(t *rapid.T) {
	if len(m.faults) == 0 {
		t.Skip("no fault to heal")
	}
	id := rapid.SampledFrom(append([]string{"all"}, m.faults...)).Draw(t, "heal")
	if id == "all" {
		m.faults = nil
	} else {
		for i, f := range m.faults {
			if f == id {
				m.faults = append(m.faults[:i], m.faults[i+1:]...)
				break
			}
		}
	}
	m.play(t, &scenarios.Step{Actor: "heal", Heal: id})
}

// restart closes the first client and opens it again on its SQLite store: P8. After a
// crash, what the store must hold is what the dead process had committed.
func (m *machine) restart(t *rapid.T) {
	before := m.snapshot(t, m.names[0])
	mark, _ := m.play(t, &scenarios.Step{Actor: m.names[0], Op: &scenarios.Op{Op: "restart"}})
	m.down = ""
	m.judge(t, mark, check.Durable(before, m.snapshot(t, m.names[0])))
}

// storeFault makes a client's store fail its Nth transaction from now (the operation under
// way fails and nothing of that transaction stays), or, on the SQLite client, kill the
// client right after its Nth transaction from now commits: then one more action of that
// client (which may run into the crash) and a restart, judged by P8 against what the dead
// process had committed. A client that splits one change over two transactions (a page's
// token and its rows) is caught by what the restart finds: P9 at the next incremental pull.
func (m *machine) storeFault(t *rapid.T) {
	name := m.client(t)
	n := rapid.IntRange(1, 3).Draw(t, "transaction")
	crash := name == m.names[0] && m.cfg.sqlite() && rapid.IntRange(0, 3).Draw(t, "crash") > 0
	op := &scenarios.Op{Op: "store-fault", Fail: n}
	if crash {
		op.Fail, op.Crash = 0, n
	}
	m.play(t, &scenarios.Step{Actor: name, Op: op})
	if !crash {
		return
	}
	m.forced = name
	back := func() {} // what the app does again once it is back
	// Mostly a sync, whose transactions (a page's rows, its token, an operation leaving the
	// queue) are where a client that splits one change over two is caught.
	next := rapid.SampledFrom([]string{"pull", "pull", "pull", "push", "push", "update", "insert", "delete", "purge"}).Draw(t, "then")
	switch next {
	case "pull":
		// An app that was pulling when it died pulls again once it is back: what the crash
		// left of the pull (a token without its page's rows, say) shows at that pull (P9).
		table, incremental := m.world.table(t), rapid.SampledFrom([]bool{true, true, false}).Draw(t, "incremental")
		m.pullOf(t, name, table, incremental, nil, 0)
		back = func() { m.pullOf(t, name, table, incremental, nil, 0) }
	case "push":
		m.push(t)
	case "purge":
		m.purge(t)
	default:
		m.localWrite(t, map[string]store.OpKind{"update": store.Update, "insert": store.Insert, "delete": store.Delete}[next])
	}
	m.forced = ""
	m.restart(t)
	back()
}

// converge heals and settles everyone (P4 and P5 are the session's); then the server's rows
// prune the reference model's branches.
func (m *machine) converge(t *rapid.T) {
	m.faults = nil
	mark, _ := m.play(t, &scenarios.Step{Actor: "converge", Converge: &scenarios.Converge{Rounds: 10}})
	if m.sess.Target().Exact() {
		m.followModel(t, mark)
		for _, table := range m.world.tables {
			m.judge(t, mark, m.model.observe(table, m.serverRows(t, table)))
		}
	}
}

// resolve settles by hand an error a client's last push left (manual and cancel).
func (m *machine) resolve(t *rapid.T) {
	name := m.client(t)
	errs, err := m.sess.Device(name).Errors(m.ctx)
	if err != nil {
		t.Fatalf("reading %s's errors: %v", name, err)
	}
	if len(errs) == 0 {
		t.Skip("nothing to resolve")
	}
	e := errs[rapid.IntRange(0, len(errs)-1).Draw(t, "error")]
	how := rapid.SampledFrom([]string{"cancel-and-update", "cancel-and-discard", "update-operation"}).Draw(t, "how")
	if how == "cancel-and-update" && e.ServerItem == nil {
		how = "cancel-and-discard"
	}
	m.play(t, &scenarios.Step{Actor: name, Op: &scenarios.Op{Op: "resolve", Table: e.Table, ID: e.ItemID, How: how}})
}

// invariants run after every action: P7 over the whole history.
func (m *machine) invariants(t *rapid.T) {
	if len(m.sc.Steps) == 0 {
		return
	}
	events := m.sess.Events(m.p7mark)
	if len(events) > 0 {
		m.p7mark = int(events[len(events)-1].Seq)
	}
	m.judge(t, 0, m.p7.Feed(events))
	m.followModel(t, 0)
}

// followModel feeds the reference model what happened since it last looked.
func (m *machine) followModel(t *rapid.T, mark int) {
	if !m.sess.Target().Exact() {
		return // against a server conflictlab does not control: not modelled (its proxy sees only answers)
	}
	events := m.sess.Events(m.modelAt)
	if len(events) > 0 {
		m.modelAt = int(events[len(events)-1].Seq)
	}
	m.model.feed(events)
	if f, final := m.model.verdict(); final {
		m.judge(t, mark, f)
	}
}

// finish ends the run with the session's end-of-scenario checks.
func (m *machine) finish(t *rapid.T) {
	m.finished = true
	res := m.sess.Finish()
	if res.Status == reports.Failed && res.Failure != nil {
		m.fail(t, res.Failure)
	}
}

// serverRows are the server's rows of a table (of this run's ids), tombstones included.
func (m *machine) serverRows(t *rapid.T, table string) []map[string]any {
	rows, err := m.sess.Target().Rows(m.ctx, table)
	if err != nil {
		t.Fatalf("reading the server's rows: %v", err)
	}
	var out []map[string]any
	for _, row := range rows {
		if id, _ := row["id"].(string); strings.HasSuffix(id, m.sess.Suffix()) {
			out = append(out, row)
		}
	}
	return out
}
