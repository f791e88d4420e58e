package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/targets"
)

// Options configure a run.
type Options struct {
	// Target is the server under test; nil: a fresh embedded fake server for every run. A
	// conflictlab server is driven through its admin API; any other gets a fault proxy in
	// front of it. A run that needs what the target cannot do is skipped with the reason.
	Target *targets.Target
	// Dir holds the SQLite stores; empty: a temporary directory per run, removed after.
	Dir string
	// Timeout is each client's HTTP timeout unless the scenario sets timeoutMs (default 10 s).
	Timeout time.Duration
	// InMemory serves the embedded server through its in-memory transport instead of a
	// loopback socket: the same answers, much faster. Go's HTTP transport retries a GET once
	// when a kept-alive connection closes before the answer; in memory nothing is retried.
	// Only the built-in Go client can use it; with another client the server listens.
	InMemory bool
	// Client is the client under test for every device that does not name its own: "go"
	// (the default, conflictlab's own), "js", or a driver's command line (docs/drivers.md).
	Client string
	// Drivers finds a client's driver by name; nil: drivers.Lookup.
	Drivers func(name string) (drivers.Factory, error)
	// KeepHistory keeps the timeline of a run that passed too (a failed one always has it).
	KeepHistory bool
}

// Runs lists the strategies a scenario is played under: its strategies, or one run ("")
// where each client keeps its own.
func (s *Scenario) Runs() []string {
	if len(s.Strategies) == 0 {
		return []string{""}
	}
	return s.Strategies
}

// Run plays a scenario under one strategy and returns its result; it never panics on a bad
// server or client, it fails the result.
func Run(ctx context.Context, sc *Scenario, strategy string, opts Options) reports.Result {
	s := Start(ctx, sc, strategy, opts)
	for _, st := range sc.Steps {
		if s.Do(st) != nil {
			break
		}
	}
	return s.Finish()
}

// Session plays a scenario one step at a time, for callers that make the steps up as they go
// (the property tests): Start sets up its server and clients, Do plays a step, Finish runs the
// end-of-scenario checks and returns the result. Run is Start, Do for each step, Finish.
type Session struct {
	r     *runner
	res   reports.Result
	start time.Time
	done  bool
	// spans are the steps played, for the timeline.
	spans []span
}

// Start sets up the server and the clients of sc (its steps are not played) for strategy.
// A setup that fails makes a session whose result has failed; Do then plays nothing.
func Start(ctx context.Context, sc *Scenario, strategy string, opts Options) *Session {
	s := &Session{start: time.Now(), r: &runner{ctx: ctx, sc: sc, strategy: strategy, opts: opts, devices: map[string]*device{}},
		res: reports.Result{Scenario: sc.Name, File: sc.File, Description: sc.Description, Labels: sc.Labels,
			Strategy: strategy, Status: reports.Passed}}
	if t := opts.Target; t != nil && !t.Resettable() {
		s.r.suffix = newSuffix()
	}
	err := s.guard(s.r.setUp)
	s.describe()
	switch {
	case s.r.skip != "":
		s.res.Status, s.res.Reason = reports.Skipped, s.r.skip
	case err != nil:
		s.res.Status = reports.Failed
		s.res.Failure = &reports.Failure{What: "setting up the server and clients", Expectation: "a working setup", Got: err.Error()}
	}
	return s
}

// guard runs fn, turning a panic into an error: a broken client or server fails the result
// instead of the process.
func (s *Session) guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &stepError{expectation: "no panic", got: fmt.Sprint(p)}
		}
	}()
	return fn()
}

// Do plays one step (unless the strategy or the server rules it out) and returns the failure
// it caused, nil if none. After a failure the session plays nothing more.
func (s *Session) Do(st *Step) *reports.Failure {
	if s.res.Status != reports.Passed || s.done || !st.runsUnder(s.r.strategy) {
		return nil
	}
	s.res.Steps++
	mark := s.r.mark()
	began := time.Since(s.start)
	own := s.r.ownStep(st)
	err := s.guard(func() error { return s.r.step(own) })
	if s.r.lenient && st.While != nil {
		st.While.Expect = ExpectOutcome(st.While, s.r.whileErr)
	}
	if err == nil && s.r.historyErr != nil {
		err = fail("the server's history can be read", "%v", s.r.historyErr)
	}
	s.spans = append(s.spans, span{st: st, start: began, end: time.Since(s.start), from: mark, to: s.r.mark()})
	switch {
	case s.r.skip != "":
		// The client cannot express the step: the run says nothing about it.
		s.res.Status, s.res.Reason = reports.Skipped, s.r.skip
	case err != nil:
		s.res.Status = reports.Failed
		s.res.Failure = s.r.failure(st, mark, err)
		return s.res.Failure
	}
	return nil
}

// Skipped is why the session stopped without a verdict ("" while it has not): the client
// cannot do what the scenario asks.
func (s *Session) Skipped() string { return s.r.skip }

// Finish runs the end-of-scenario checks, closes everything and returns the result.
func (s *Session) Finish() reports.Result {
	if s.done {
		return s.res
	}
	s.done = true
	if s.res.Status == reports.Passed {
		mark, began := s.r.mark(), time.Since(s.start)
		err := s.guard(s.r.finish)
		s.spans = append(s.spans, span{start: began, end: time.Since(s.start), from: mark, to: s.r.mark()})
		if err != nil {
			s.res.Status = reports.Failed
			s.res.Failure = s.r.failure(nil, 0, err)
		}
	}
	if s.r.server != nil && (s.res.Status == reports.Failed || s.r.opts.KeepHistory) {
		s.res.History = s.history()
	}
	s.r.close()
	if s.r.skip != "" && s.res.Status == reports.Passed {
		s.res.Status, s.res.Reason = reports.Skipped, s.r.skip
	}
	s.res.Duration = time.Since(s.start)
	s.res.Properties = s.r.tally.Results()
	s.res.SkippedSteps = s.r.skipped
	return s.res
}

// stepError is why a step failed: what was expected, what happened, and the property when a
// checker failed.
type stepError struct {
	expectation, got, property string
}

func (e *stepError) Error() string { return e.expectation + ": " + e.got }

func fail(expectation, format string, args ...any) error {
	return &stepError{expectation: expectation, got: fmt.Sprintf(format, args...)}
}

type runner struct {
	ctx      context.Context
	sc       *Scenario
	strategy string
	opts     Options
	target   *targets.Target
	server   targets.Server
	// suffix, when not "", is added to every id of the scenario: the run keeps apart from
	// the rows of other runs on a server that cannot be emptied.
	suffix  string
	dialect string
	devices map[string]*device
	drivers map[string]drivers.Driver // by client name
	tally   check.Tally
	skipped []reports.SkippedStep
	dir     string
	tempDir bool
	// skip, once set, is why the run says nothing: the client cannot do what it asks.
	skip string
	// historyErr is the last failure to read the server's history: the step that met it
	// cannot be judged, and fails.
	historyErr error
	// lenient plays steps without judging their expectations (the properties still are):
	// for a property test that learns each step's outcome and writes it down. lastErr is the
	// last op's own error.
	lenient bool
	lastErr error
	// whileErr is the own error of the last step's while; holds counts the holds put in force.
	whileErr error
	holds    int
}

// device is one client of the scenario: a device of its driver, on its store.
type device struct {
	spec     *ClientSpec
	strategy string
	client   string // the driver's name
	cfg      drivers.DeviceConfig
	dev      drivers.Device
	// tables are the tables it has written to or pulled, lower-case → as named.
	tables map[string]string
	// lastErrs are the unhandled errors its last push left.
	lastErrs []drivers.OpError
}

func (r *runner) setUp() error {
	r.dialect = string(r.sc.Server.Dialect)
	if r.dialect == "" {
		r.dialect = "v2"
	}
	r.target = r.opts.Target
	if r.target == nil {
		r.target = targets.Embedded()
	}
	// The drivers first, so that even a skipped result names its client.
	if err := r.startDrivers(); err != nil || r.skip != "" {
		return err
	}
	if lack := r.target.Lacks(r.requirements()); lack != "" {
		r.skip = "the target cannot serve it: " + lack
		return nil
	}
	seed := r.sc.Server.Seed
	if seed == 0 {
		seed = 1
	}
	var err error
	if r.target.Kind == targets.KindEmbedded {
		r.server, err = targets.StartEmbedded(fakeserver.Config{
			Dialect: r.sc.Server.Dialect, PageSize: r.sc.Server.PageSize, MaxTop: r.sc.Server.MaxTop, Seed: seed,
			HardDelete: !r.sc.Server.SoftDelete,
			Clock:      fakeserver.SimClock(time.Time{}).WithStep(time.Duration(r.sc.Server.ClockStepMs) * time.Millisecond),
		}, r.inMemory())
	} else {
		// A conflictlab server is reset with what the embedded server would have been.
		hard, step, pageSize := !r.sc.Server.SoftDelete, int64(r.sc.Server.ClockStepMs), r.sc.Server.PageSize
		if pageSize == 0 {
			pageSize = fakeserver.DefaultPageSize
		}
		r.server, err = targets.Connect(r.ctx, r.target, fakeserver.ResetSettings{PageSize: pageSize,
			HardDelete: &hard, Seed: seed, ClockStepMs: &step})
	}
	if err != nil {
		return err
	}
	for _, tr := range r.ownTables(r.sc.Server.Tables) {
		for _, row := range tr.Rows {
			if err := r.serverWrite("insert", tr.Table, row, ""); err != nil {
				return fmt.Errorf("the initial row %s/%v: %w", tr.Table, row["id"], err)
			}
		}
	}
	r.dir = r.opts.Dir
	for _, spec := range r.sc.Clients {
		if spec.Store == "sqlite" && r.dir == "" {
			if r.dir, err = os.MkdirTemp("", "conflictlab-"+r.sc.Name+"-"); err != nil {
				return err
			}
			r.tempDir = true
		}
	}
	for _, spec := range r.sc.Clients {
		d := r.devices[spec.Name]
		if spec.Store == "sqlite" {
			d.cfg.Store.Path = filepath.Join(r.dir, r.sc.Name+"-"+r.strategy+"-"+spec.Name+".db")
			_ = os.Remove(d.cfg.Store.Path)
		}
		if err := r.open(d); err != nil {
			return fmt.Errorf("client %s: %w", spec.Name, err)
		}
	}
	return nil
}

// clientOf is the driver name of a device.
func (r *runner) clientOf(spec *ClientSpec) string {
	switch {
	case spec.Client != "":
		return spec.Client
	case r.opts.Client != "":
		return r.opts.Client
	}
	return "go"
}

// startDrivers starts the driver of every client the scenario's devices use and checks
// that each can do what its devices need; a client that cannot makes the run skipped.
func (r *runner) startDrivers() error {
	r.drivers = map[string]drivers.Driver{}
	lookup := r.opts.Drivers
	if lookup == nil {
		lookup = drivers.Lookup
	}
	for _, spec := range r.sc.Clients {
		d := &device{spec: spec, tables: map[string]string{}, strategy: spec.Strategy, client: r.clientOf(spec)}
		if d.strategy == "" {
			d.strategy = r.strategy
		}
		if d.strategy == "" {
			d.strategy = "manual"
		}
		r.devices[spec.Name] = d
		drv, ok := r.drivers[d.client]
		if !ok {
			factory, err := lookup(d.client)
			if err != nil {
				return err
			}
			if drv, err = factory(r.ctx); err != nil {
				return fmt.Errorf("client %s: %w", d.client, err)
			}
			r.drivers[d.client] = drv
		}
		if lack := drv.Info().Capabilities.Lacks(r.needs(d)); lack != "" {
			r.skip = fmt.Sprintf("%s: %s: %s", spec.Name, drv.Info(), lack)
			return nil
		}
	}
	return nil
}

// needs is what a device asks of its client: its strategy, options and store, the server's
// dialect, and the ops of its steps.
func (r *runner) needs(d *device) drivers.Needs {
	store := d.spec.Store
	if store == "" {
		store = "memory"
	}
	n := drivers.Needs{Strategies: []string{d.strategy}, Options: d.spec.Options.Names(), Stores: []string{store},
		Dialects: []string{string(r.sc.Server.Dialect)}}
	if n.Dialects[0] == "" {
		n.Dialects[0] = "v2"
	}
	for _, st := range r.sc.Steps {
		if st.Actor == d.spec.Name && st.runsUnder(r.strategy) && st.Op.Op != "restart" {
			n.Ops = append(n.Ops, st.Op.Op)
		}
		if w := st.While; w != nil && w.Actor == d.spec.Name && st.runsUnder(r.strategy) && w.Op.Op != "restart" {
			n.Ops = append(n.Ops, w.Op.Op)
		}
		if st.Actor == "converge" {
			n.Ops = append(n.Ops, "push", "pull")
		}
	}
	return n
}

// inMemory reports whether the embedded server is served without a socket: only when asked
// and every device uses the built-in client.
func (r *runner) inMemory() bool {
	if !r.opts.InMemory {
		return false
	}
	for _, d := range r.devices {
		if d.client != "go" {
			return false
		}
	}
	return true
}

// open (re)opens a device on its store.
func (r *runner) open(d *device) error {
	timeout := r.opts.Timeout
	if d.spec.Options.TimeoutMs > 0 {
		timeout = time.Duration(d.spec.Options.TimeoutMs) * time.Millisecond
	}
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	store := d.spec.Store
	if store == "" {
		store = "memory"
	}
	d.cfg = drivers.DeviceConfig{Name: d.spec.Name, URL: r.server.URL(), Dialect: r.dialect, InstallationID: d.spec.Name,
		Store: drivers.StoreConfig{Kind: store, Path: d.cfg.Store.Path}, Strategy: d.strategy, Options: d.spec.Options.Options,
		Timeout: timeout, Transport: r.server.Transport()}
	dev, err := r.drivers[d.client].Open(r.ctx, d.cfg)
	if err != nil {
		return r.driverError(err)
	}
	d.dev = dev
	return nil
}

// driverError notes an error that says the client cannot do what was asked: the run is
// then skipped, with the client's words as the reason.
func (r *runner) driverError(err error) error {
	if drivers.IsUnsupported(err) && r.skip == "" {
		var de *drivers.Error
		errors.As(err, &de)
		r.skip = r.clientLabel() + " cannot do this: " + de.Message
	}
	return err
}

func (r *runner) close() {
	for _, name := range sortedNames(r.devices) {
		if d := r.devices[name]; d.dev != nil {
			_ = d.dev.Close(context.WithoutCancel(r.ctx))
		}
	}
	for _, drv := range r.drivers {
		_ = drv.Close()
	}
	if r.server != nil {
		r.server.Close()
	}
	if r.tempDir {
		_ = os.RemoveAll(r.dir)
	}
}

// mark is where the requests of a step start.
func (r *runner) mark() int {
	if r.server == nil {
		return 0
	}
	m, err := r.server.Mark(r.ctx)
	if err != nil {
		r.historyErr = err
	}
	return int(m)
}

// events are the server's history since mark: the server's own, or what crossed its proxy.
func (r *runner) events(mark int) []fakeserver.Event {
	if r.server == nil {
		return nil
	}
	events, err := r.server.Since(r.ctx, uint64(mark))
	if err != nil {
		r.historyErr = err
	}
	return events
}

// requests are the requests since mark, of one client ("" every client), for the checkers.
func (r *runner) requests(mark int, who string) []check.Request {
	var out []check.Request
	for _, e := range r.events(mark) {
		if e.Source != fakeserver.SourceHTTP || who != "" && e.Client != who {
			continue
		}
		out = append(out, check.Request{Method: e.Method, Path: e.Path, Table: e.Table, ItemID: e.ItemID, Status: e.Status,
			Applied: e.Applied, Answered: Answered(e), Precondition: e.Precondition, Query: e.Query, Rows: e.Rows,
			Version: shownVersion(e), Unread: unread(e) && len(e.Precondition) == 0})
	}
	return out
}

// unread reports whether a fault answered a request in the server's stead (a status, a
// reset, a partition, a timeout): the server never read its body, so the history holds its
// If-Match but not a version its body carried.
func unread(e fakeserver.Event) bool {
	for _, f := range e.Faults {
		switch f.Action {
		case "status", "reset", "offline", "timeout":
			return true
		}
	}
	return false
}

// shownVersion is the row version an answer showed the client: a write's new row, a read
// row, or the server's row a 409 or 412 carried (the row's version when the server refused
// the write, which the embedded server records; a proxy's history does not, and an answer a
// status fault made carries no row).
func shownVersion(e fakeserver.Event) string {
	for _, f := range e.Faults {
		if f.Action == "status" {
			return ""
		}
	}
	switch {
	case e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed:
		return e.VersionBefore
	case e.Status >= 200 && e.Status < 300 && e.Op != fakeserver.OpQuery:
		return e.VersionAfter
	}
	return ""
}

func (r *runner) failure(st *Step, mark int, err error) *reports.Failure {
	f := &reports.Failure{Got: err.Error(), Expectation: "no error"}
	var se *stepError
	if errors.As(err, &se) {
		f.Expectation, f.Got, f.Property = se.expectation, se.got, se.property
	}
	if st != nil {
		f.Step, f.Line, f.What = st.Index, st.Line, st.Describe()
	} else {
		f.What = "the end-of-scenario checks"
	}
	if r.target != nil && r.target.Kind != targets.KindEmbedded || r.target != nil && r.target.Personality != "" {
		// Against a server conflictlab did not write, say which rule of the protocol it broke
		// when its requests show one: the failure is that server's, not the harness's.
		scope := r.events(mark)
		if st == nil {
			scope = r.events(0)
		}
		f.Rule = deviationIn(scope)
	}
	if f.Rule == "" && r.foreignClient() {
		// A client conflictlab did not write: say which rule of the client semantics it broke.
		f.Rule = semanticRuleOf(st, f)
	}
	from := max(mark-3, 0)
	for _, e := range r.events(from) {
		line := fmt.Sprintf("#%d %s", e.Seq, describeEvent(e))
		if int(e.Seq) > mark && st != nil {
			line += "   <- this step"
		}
		f.Requests = append(f.Requests, line)
	}
	if len(f.Requests) > 40 {
		f.Requests = append(f.Requests[:40], fmt.Sprintf("… %d more", len(f.Requests)-40))
	}
	replay := "conflictlab run"
	if r.strategy != "" {
		replay += " --strategy " + r.strategy
	}
	if r.target != nil && r.target.Kind != targets.KindEmbedded {
		replay += " --server " + r.target.URL
		if r.target.File != "" {
			replay = "conflictlab run --target " + r.target.File
			if r.strategy != "" {
				replay += " --strategy " + r.strategy
			}
		}
	}
	if r.opts.Client != "" && r.opts.Client != "go" {
		replay += " --client '" + r.opts.Client + "'"
	}
	f.Replay = replay + " " + r.sc.File
	return f
}

func describeEvent(e fakeserver.Event) string {
	var b strings.Builder
	if e.Source == fakeserver.SourceHTTP {
		fmt.Fprintf(&b, "%s: %s %s", e.Client, e.Method, e.Path)
		if e.Query != "" {
			q, err := url.QueryUnescape(e.Query)
			if err != nil {
				q = e.Query
			}
			b.WriteString("?" + q)
		}
		if e.Status == 0 {
			b.WriteString(" → no answer")
		} else {
			fmt.Fprintf(&b, " → %d", e.Status)
		}
	} else {
		fmt.Fprintf(&b, "server: %s %s/%s → %d", e.Op, e.Table, e.ItemID, e.Status)
	}
	for _, h := range e.Faults {
		fmt.Fprintf(&b, " [fault %s: %s]", h.ID, h.Action)
	}
	return b.String()
}

// requestLines renders requests as "METHOD /path", for expect.requests.
func requestLines(reqs []check.Request) []string {
	out := make([]string, len(reqs))
	for i, q := range reqs {
		out[i] = q.Method + " " + q.Path
	}
	return out
}

// matchRequests matches got against a pattern in which "..." stands for any run of requests.
func matchRequests(pattern, got []string) bool {
	if len(pattern) == 0 {
		return len(got) == 0
	}
	if pattern[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if matchRequests(pattern[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && strings.EqualFold(pattern[0], got[0]) && matchRequests(pattern[1:], got[1:])
}

// finish runs the end-of-scenario checks: P7 over the whole history.
func (r *runner) finish() error {
	return r.property(check.ServerIntegrity(r.events(0)))
}

// property records a finding and fails on a violation.
func (r *runner) property(f check.Finding) error {
	r.tally.Add(f)
	if f.Verdict == reports.Violated {
		return &stepError{expectation: f.Property + " (" + check.Names[f.Property] + ") holds", got: f.Detail, property: f.Property}
	}
	return nil
}

// knownTables are every table any device has used or the scenario names, for snapshots.
func (r *runner) knownTables(d *device, extra ...string) []string {
	seen := map[string]string{}
	for _, t := range r.sc.Server.Tables {
		seen[strings.ToLower(t.Table)] = t.Table
	}
	for _, st := range r.sc.Steps {
		if st.Op != nil && st.Op.Table != "" {
			seen[strings.ToLower(st.Op.Table)] = st.Op.Table
		}
		if w := st.While; w != nil && w.Op.Table != "" {
			seen[strings.ToLower(w.Op.Table)] = w.Op.Table
		}
	}
	for k, v := range d.tables {
		seen[k] = v
	}
	for _, t := range extra {
		seen[strings.ToLower(t)] = t
	}
	out := make([]string, 0, len(seen))
	for _, t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// serverRow is the server's row (v2 names), nil when absent; deleted reports a tombstone.
func (r *runner) serverRow(table, id string) (row map[string]any, deleted bool, err error) {
	row, err = r.server.Row(r.ctx, table, id)
	if err != nil || row == nil {
		return nil, false, err
	}
	return check.Normalize(row), row["deleted"] == true, nil
}

// liveRows are the server's live rows of a table (of this run's, when runs keep apart).
func (r *runner) liveRows(table string) ([]map[string]any, error) {
	rows, err := r.server.Rows(r.ctx, table)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, row := range rows {
		if row["deleted"] != true && r.ours(row) {
			out = append(out, row)
		}
	}
	return out, nil
}

// serverWrite is the server actor: another writer, straight into the server.
func (r *runner) serverWrite(op, table string, item map[string]any, id string) error {
	if id == "" {
		id, _ = item["id"].(string)
	}
	return r.server.Write(r.ctx, op, table, id, item)
}

// actorError is an error of the server actor (another writer) as a driver error, so that a
// step's expect reads it like any client's: a direct write into the embedded server fails
// with the fake server's error, a write through the table API with the client's.
func actorError(err error) error {
	var fe *fakeserver.Error
	if !errors.As(err, &fe) {
		return drivers.FromClientError(err)
	}
	kind := drivers.KindHTTP
	switch fe.Status {
	case http.StatusNotFound:
		kind = drivers.KindNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		kind = drivers.KindConflict
	}
	return &drivers.Error{Kind: kind, Message: fe.Error(), Status: fe.Status}
}

// pushError is the error a push step fails with when its push did not complete cleanly:
// push-cancelled or push-failed, with the push's status and errors.
func pushError(res drivers.PushResult) error {
	if res.Complete() {
		return nil
	}
	kind := drivers.KindPushFailed
	if res.Status == drivers.StatusCancelledByOperation {
		kind = drivers.KindPushCancelled
	}
	msg := "the push ended " + res.Status
	if len(res.Errors) > 0 {
		msg += fmt.Sprintf(" with %d unhandled operation error(s)", len(res.Errors))
	}
	return &drivers.Error{Kind: kind, Message: msg, PushStatus: res.Status, Errors: res.Errors}
}

// ExpectOutcome is the expect that pins an outcome a step had: nothing for a success; for a
// push that ended with a push error, its status; otherwise the most specific kind of the
// error. A property test writes it into the steps it makes up, so that the scenario replays
// the same way.
func ExpectOutcome(st *Step, err error) *Expect {
	if err == nil {
		return nil
	}
	var de *drivers.Error
	if st.Op != nil && st.Op.Op == "push" && errors.As(err, &de) && de.PushStatus != "" {
		return &Expect{Status: de.PushStatus}
	}
	for _, kind := range ErrorKinds {
		if drivers.Matches(err, kind) {
			return &Expect{Error: kind}
		}
	}
	return &Expect{Error: "any"}
}

// expectError judges a step's error against its expect: an expected kind must be the error;
// otherwise the step must succeed, except that a push whose expect names its status or errors
// may end as a push error.
func (r *runner) expectError(st *Step, err error) error {
	r.lastErr = err
	if r.driverError(err); r.skip != "" {
		return err
	}
	if drivers.KindOf(err) == drivers.KindDriver {
		return fail("the client's driver works", "%v", err)
	}
	if r.lenient {
		return nil
	}
	ex := st.Expect
	if ex != nil && ex.Error != "" {
		if err == nil {
			return fail("the step fails with "+ex.Error, "it succeeded")
		}
		if !drivers.Matches(err, ex.Error) {
			return fail("the step fails with "+ex.Error, "it failed with: %v", err)
		}
		return nil
	}
	if err == nil {
		return nil
	}
	var de *drivers.Error
	if ex != nil && (ex.Status != "" || ex.HasErrors) && errors.As(err, &de) && de.PushStatus != "" {
		return nil
	}
	return fail("the step succeeds", "it failed: %v", err)
}

// matchFields compares the fields a check names with a row; only those given are compared,
// and a column that is missing is null. Versions are opaque, so a check compares them with
// the server's: "$server" is the server's current value of the column, "!$server" any other.
// server is the server's row, for those.
func matchFields(want, got, server map[string]any) string {
	g := check.Normalize(got)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	equal := func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) && (a == nil) == (b == nil) }
	var bad []string
	for _, k := range keys {
		if strings.EqualFold(k, "deleted") || k == writesKey {
			continue
		}
		w := want[k]
		name := strings.TrimPrefix(k, "__")
		v := g[name]
		switch w {
		case serverValue, notServerValue:
			sv, ok := check.Normalize(server)[name]
			switch {
			case server == nil || !ok:
				bad = append(bad, fmt.Sprintf("%s cannot be compared with the server's: the server has no such row or column", k))
			case w == serverValue && !equal(v, sv):
				bad = append(bad, fmt.Sprintf("%s is %v (want the server's, %v)", k, show(v), show(sv)))
			case w == notServerValue && equal(v, sv):
				bad = append(bad, fmt.Sprintf("%s is the server's, %v (want another)", k, show(v)))
			}
		default:
			if !equal(v, w) {
				if _, ok := g[name]; !ok {
					bad = append(bad, fmt.Sprintf("%s is missing (want %v)", k, show(w)))
				} else {
					bad = append(bad, fmt.Sprintf("%s is %v (want %v)", k, show(v), show(w)))
				}
			}
		}
	}
	return strings.Join(bad, "; ")
}

// What a check can name instead of a value: the server's current value of a column, any
// other value, and (as a key of a server row) how many writes the history shows applied to
// the row.
const (
	serverValue    = "$server"
	notServerValue = "!$server"
	writesKey      = "$writes"
)

func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func wantsDeleted(fields map[string]any) bool {
	for k, v := range fields {
		if strings.EqualFold(strings.TrimPrefix(k, "__"), "deleted") && v == true {
			return true
		}
	}
	return false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Answered reports whether the client got the answer an event records: not when a fault
// dropped or cut it, nor when the connection closed with no answer at all.
func Answered(e fakeserver.Event) bool {
	if e.Status == 0 {
		return false
	}
	for _, h := range e.Faults {
		switch h.Action {
		case "drop-response", "truncate", "reset", "offline", "timeout":
			return false
		}
	}
	return true
}

// foreignClient reports whether a device of the run uses a client other than conflictlab's
// own.
func (r *runner) foreignClient() bool {
	for _, d := range r.devices {
		if d.client != "go" {
			return true
		}
	}
	return false
}

// clientLabel names the client of the run's devices ("conflictlab-js (azure-mobile-apps-client
// 2.0.1)"), or "a client" when they use several.
func (r *runner) clientLabel() string {
	if len(r.drivers) != 1 {
		return "a client"
	}
	for _, drv := range r.drivers {
		return drv.Info().String()
	}
	return "a client"
}
