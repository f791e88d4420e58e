package fakeserver

import (
	"encoding/binary"
	"fmt"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Server is a fake versioned table server. It is safe for concurrent use: every request and
// every direct write is applied under one lock, so a conditional write is atomic and the
// history is a true linearisation of what happened.
type Server struct {
	cfg     Config
	seed    int64
	handler http.Handler
	admin   http.Handler
	hist    *history

	mu      sync.Mutex
	tables  map[string]*table // by lower-case name
	fixed   map[string]string // lower-case → name, when the table list is fixed
	hard    map[string]bool   // lower-case names of hard-delete tables
	counter uint64            // the last version handed out
	rng     *rand.ChaCha8
	faults  *Faults
	// stampWith, set while a request or direct write that a clock fault hit is applied,
	// changes the updatedAt the clock gives its writes.
	stampWith func(time.Time) time.Time
	// up is the server a proxy forwards to; nil for a fake server.
	up *upstream
}

// New returns a server configured by cfg. It panics if cfg is invalid, as a programming error
// (like regexp.MustCompile); NewServer returns the error instead.
func New(cfg Config) *Server {
	s, err := NewServer(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// NewServer returns a server configured by cfg, or an error saying what in cfg is wrong.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, seed: cfg.Seed, hard: map[string]bool{}}
	if s.seed == 0 {
		s.seed = time.Now().UnixNano()
	}
	s.faults = newFaults(s.seed)
	if cfg.Upstream != "" {
		u, err := parseUpstream(cfg.Upstream)
		if err != nil {
			return nil, err
		}
		s.up = newUpstream(u)
		s.faults.refuse = proxyRefuses
	}
	s.hist = newHistory(cfg)
	for _, t := range cfg.HardDeleteTables {
		s.hard[strings.ToLower(t)] = true
	}
	if len(cfg.Tables) > 0 {
		s.fixed = map[string]string{}
		for _, t := range cfg.Tables {
			s.fixed[strings.ToLower(t)] = t
		}
	}
	s.resetLocked()
	s.handler = s.routes()
	s.admin = s.adminRoutes()
	return s, nil
}

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Seed is the seed of the server's random choices, the one given or the one picked.
func (s *Server) Seed() int64 { return s.seed }

// Clock is the clock that stamps writes.
func (s *Server) Clock() Clock { return s.cfg.Clock }

// Start serves the server on a free port of 127.0.0.1, through Listener. The caller closes it.
func (s *Server) Start() *httptest.Server {
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Listener = s.Listener(ts.Listener)
	ts.Start()
	return ts
}

// Handler serves the table protocol, and the admin API under /_conflictlab/ to loopback
// clients only (whatever Config.AdminOpen says).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, adminPrefix) {
			loopbackOnly(s.admin).ServeHTTP(w, r)
			return
		}
		s.handler.ServeHTTP(w, r)
	})
}

// TableHandler serves the table protocol alone, for hosting the admin API elsewhere.
func (s *Server) TableHandler() http.Handler { return s.handler }

// AdminHandler serves the admin API alone (paths under /_conflictlab/), for hosting it on an
// address of its own: to loopback clients only, unless Config.AdminOpen.
func (s *Server) AdminHandler() http.Handler {
	if s.cfg.AdminOpen {
		return s.admin
	}
	return loopbackOnly(s.admin)
}

// Reset empties every table and the history, heals every fault, and restarts the version
// counter, the fault ids and the random sources from the seed: the server is as new, except
// for its clock, which is the caller's.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.tables = map[string]*table{}
	for lower, name := range s.fixed {
		s.tables[lower] = newTable(name, s.cfg.HardDelete || s.hard[lower])
		s.tables[lower].node = s.node()
	}
	s.counter = 0
	s.hist.reset()
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(s.seed))
	s.rng = rand.NewChaCha8(seed)
	s.faults.restart(s.seed)
}

// ResetSettings are what a reset may change besides emptying the server: what a scenario
// run asks of its server (conflictlab run --server reconfigures a conflictlab server this way
// before every run). Zero values keep the server's own setting.
type ResetSettings struct {
	// PageSize caps the rows of one response.
	PageSize int `json:"pageSize,omitempty"`
	// HardDelete makes every table delete rows for real.
	HardDelete *bool `json:"hardDelete,omitempty"`
	// Seed restarts generated ids and probabilistic faults from this seed.
	Seed int64 `json:"seed,omitempty"`
	// ClockStepMs sets a simulated clock's step per write (0: every write shares one
	// updatedAt); a server on the real clock refuses any step but 1.
	ClockStepMs *int64 `json:"clockStepMs,omitempty"`
}

// ResetWith is Reset with new settings; it is meant for the quiet between two runs, not for
// a server under traffic. A setting the server cannot take is an *Error (400), and then
// nothing changes.
func (s *Server) ResetWith(rs ResetSettings) error {
	if rs.PageSize < 0 || rs.ClockStepMs != nil && *rs.ClockStepMs < 0 {
		return badRequest("pageSize and clockStepMs must not be negative")
	}
	if s.up != nil {
		return badRequest("a proxy has no tables to configure")
	}
	if s.cfg.Personality != "" && rs.HardDelete != nil && *rs.HardDelete {
		return badRequest("the %s personality soft-deletes, as that server does: it cannot delete for real", s.cfg.Personality)
	}
	sim, simulated := s.cfg.Clock.(*SimulatedClock)
	if rs.ClockStepMs != nil && !simulated && *rs.ClockStepMs != 1 {
		return badRequest("a clock step of %d ms needs a simulated clock (conflictlab serve --sim-clock); this server runs on the real clock", *rs.ClockStepMs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs.PageSize > 0 {
		s.cfg.PageSize = rs.PageSize
	}
	if rs.HardDelete != nil {
		s.cfg.HardDelete = *rs.HardDelete
	}
	if rs.Seed != 0 {
		s.seed = rs.Seed
	}
	if rs.ClockStepMs != nil && simulated {
		sim.SetStep(time.Duration(*rs.ClockStepMs) * time.Millisecond)
	}
	s.resetLocked()
	return nil
}

// History returns a copy of every event kept, in order: HistorySince(0).
func (s *Server) History() []Event { return s.hist.since(0) }

// LastSeq is the sequence number of the newest event, 0 for an empty history. Events are
// numbered from 1 without gaps, dropped ones included.
func (s *Server) LastSeq() uint64 { return s.hist.last() }

// HistorySince returns the events with Seq greater than seq. The history keeps the newest
// Config.HistoryLimit events: when some of those asked for were dropped, the slice starts with
// a marker event (Source SourceDropped) whose Dropped says how many are missing, so a gap is
// never silent.
func (s *Server) HistorySince(seq uint64) []Event { return s.hist.since(seq) }

// HistoryStats says how many events the history keeps and how many it dropped.
func (s *Server) HistoryStats() HistoryStats { return s.hist.stats() }

// FlushHistory writes out what is buffered for Config.HistoryWriter and returns the first
// error met writing or encoding an event (nil without a writer). After an error, events are
// no longer written; the in-memory history goes on.
func (s *Server) FlushHistory() error { return s.hist.flushOut() }

// Tables lists the tables that exist, sorted.
func (s *Server) Tables() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tables))
	for _, t := range s.tables {
		out = append(out, t.name)
	}
	sort.Strings(out)
	return out
}

// Rows returns every row of table, tombstones included, ordered by id, with v2 column names
// and numbers as float64.
func (s *Server) Rows(tableName string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[strings.ToLower(tableName)]
	var out []map[string]any
	for _, r := range t.sorted() {
		out = append(out, r.public())
	}
	return out
}

// Row returns one row, tombstone or not, and whether it exists.
func (s *Server) Row(tableName, id string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.tables[strings.ToLower(tableName)].get(id)
	if r == nil {
		return nil, false
	}
	return r.public(), true
}

// Insert writes a new row as another writer would, straight into the server: the same rules,
// versions, timestamps and history as a POST. item's id is generated when absent.
func (s *Server) Insert(tableName string, item map[string]any) (map[string]any, error) {
	return public(s.directWrite(OpInsert, tableName, "", item))
}

// Update merges patch into a live row, as a PATCH without If-Match would. A "version" in
// patch makes it conditional (409 on mismatch), as in a request body.
func (s *Server) Update(tableName, id string, patch map[string]any) (map[string]any, error) {
	return public(s.directWrite(OpUpdate, tableName, id, patch))
}

// Write is the "another writer" of a scenario: it updates the row if it is live and inserts
// it if it does not exist, in one atomic step. A tombstone is a 404, as for a PATCH.
func (s *Server) Write(tableName, id string, patch map[string]any) (map[string]any, error) {
	return public(s.directWrite(opWrite, tableName, id, patch))
}

// Delete deletes a live row as a DELETE without If-Match would. After a hard delete there
// is no row to return: the map is nil.
func (s *Server) Delete(tableName, id string) (map[string]any, error) {
	return public(s.directWrite(OpDelete, tableName, id, nil))
}

// Undelete brings a soft-deleted row back, as POST /tables/{t}/{id} would.
func (s *Server) Undelete(tableName, id string) (map[string]any, error) {
	return public(s.directWrite(OpUndelete, tableName, id, nil))
}

// opWrite is the upsert of Write; it never travels over the table protocol.
const opWrite Op = "write"

func public(rec *record, err *Error) (map[string]any, error) {
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, nil
	}
	return rec.public(), nil
}

// directWrite applies one server-side write under the lock and records it in the history.
// On a 409 or 412 the error carries the current row.
func (s *Server) directWrite(op Op, tableName, id string, item map[string]any) (*record, *Error) {
	if s.up != nil {
		return nil, badRequest("a proxy keeps no tables: write to the upstream %s instead", s.up.base)
	}
	hits, stamp := s.faults.clockFor(directTarget(op, tableName, id, item))
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := &Event{Source: SourceDirect, Client: "server", Op: op, Table: tableName, ItemID: id, Faults: hits}
	return s.directEventLocked(ev, stamp, op, tableName, id, item)
}

// directEventLocked applies and records a direct write described by ev, its writes stamped
// through stamp when not nil.
func (s *Server) directEventLocked(ev *Event, stamp func(time.Time) time.Time, op Op, tableName, id string, item map[string]any) (*record, *Error) {
	s.stampWith = stamp
	res := s.directLocked(ev, op, tableName, id, item)
	s.stampWith = nil
	if op == opWrite {
		ev.Op = OpUpdate
		if res.before == nil {
			ev.Op = OpInsert
		}
	}
	s.recordLocked(ev, res)
	if res.err != nil {
		if res.rec != nil {
			res.err.Row = res.rec.public()
		}
		return nil, res.err
	}
	return res.rec, nil
}

func (s *Server) directLocked(ev *Event, op Op, tableName, id string, item map[string]any) result {
	if op == OpInsert {
		b, err := splitBody(V2, item)
		if err != nil {
			return failed(err)
		}
		ev.Body = bodyOf(b)
		return s.insertLocked(ev, tableName, b)
	}
	if err := checkID(id); err != nil {
		return failed(err)
	}
	switch op {
	case OpDelete:
		return s.deleteLocked(ev, tableName, id, nil)
	case OpUndelete:
		return s.undeleteLocked(ev, tableName, id, nil)
	case OpUpdate, opWrite:
	default:
		return failed(badRequest("unknown write %q: want insert, update, write, delete or undelete", op))
	}
	b, err := splitBody(V2, item)
	if err != nil {
		return failed(err)
	}
	ev.Body = bodyOf(b)
	if b.hasID && idKey(b.id) != idKey(id) {
		return failed(badRequest("the item's id %q differs from %q", b.id, id))
	}
	if op == opWrite {
		t, terr := s.table(tableName)
		if terr != nil {
			return failed(terr)
		}
		if t.get(id) == nil {
			b.id, b.hasID = id, true
			return s.insertLocked(ev, tableName, b)
		}
	}
	return s.updateLocked(ev, tableName, id, b, nil)
}

// result is what an operation did: the status a client would get, the row to show it (the
// new row, or the current row on a 409 or 412), or the refusal.
type result struct {
	status  int
	rec     *record
	err     *Error
	applied bool
	before  *record
	table   string
	id      string
	rows    int
	page    *page
	// eval, when set, is a query still to be evaluated, outside the lock.
	eval queryEval
}

// conditional notes on ev the versions a write is conditional on.
func conditional(ev *Event, m *ifMatch, b *body) {
	switch {
	case m != nil && !m.any:
		ev.Precondition = append([]string(nil), m.versions...)
	case m == nil && b != nil && b.hasVersion && b.badVersion == nil:
		ev.Precondition = []string{b.version}
	}
}

func failed(err *Error) result { return result{status: err.Status, err: err} }

// recordLocked completes ev from res and appends it to the history.
func (s *Server) recordLocked(ev *Event, res result) {
	fillEvent(ev, res)
	s.appendEvent(ev)
}

// fillEvent completes ev with the outcome res.
func fillEvent(ev *Event, res result) {
	ev.Status = res.status
	ev.Applied = res.applied
	if res.table != "" {
		ev.Table = res.table
	}
	if res.id != "" {
		ev.ItemID = res.id
	}
	if res.before != nil {
		ev.VersionBefore = res.before.wireVersion()
	}
	if res.applied {
		if res.rec != nil { // nil after a hard delete: the row is gone
			ev.VersionAfter = res.rec.wireVersion()
			ev.UpdatedAt = res.rec.updatedAt
		}
	} else {
		ev.VersionAfter = ev.VersionBefore
	}
	if res.err != nil {
		ev.Error = res.err.Message
	}
	ev.Rows = res.rows
	if res.page != nil {
		ev.Cut, ev.Next = res.page.cut, res.page.next
		for _, r := range res.page.rows {
			if r.deleted {
				ev.Tombstones++
			}
		}
	}
}

// appendEvent records ev in the history. Writes call it under the lock, so that the history's
// order is the order they were applied in.
func (s *Server) appendEvent(ev *Event) { s.hist.append(ev, s.cfg.Clock.Now) }

// table resolves a table name for reading: nil (and no error) for a table that may exist but
// has not been written yet.
func (s *Server) table(name string) (*table, *Error) {
	if !validTableName(name) {
		return nil, badRequest("invalid table name %q: use letters, digits and _, at most 128", name)
	}
	lower := strings.ToLower(name)
	if s.fixed != nil {
		if _, ok := s.fixed[lower]; !ok {
			return nil, errorf(http.StatusNotFound, "table %q does not exist", name)
		}
	}
	return s.tables[lower], nil
}

// tableForWrite is table, creating the table on its first write.
func (s *Server) tableForWrite(name string) (*table, *Error) {
	t, err := s.table(name)
	if err != nil || t != nil {
		return t, err
	}
	lower := strings.ToLower(name)
	t = newTable(name, s.cfg.HardDelete || s.hard[lower])
	t.node = s.node()
	s.tables[lower] = t
	return t, nil
}

// store writes the next state of a row: stamped by the clock (createdAt too, for a new row)
// and given the next value of the server-wide version counter. Records are never changed in
// place, so this is the only way a row changes.
func (s *Server) store(ev *Event, t *table, next record) *record {
	clockNow := s.cfg.Clock.Stamp()
	now := clockNow
	if s.stampWith != nil {
		now = s.stampWith(now) // a clock fault: the row's time, not the event's
	}
	if prev := t.get(next.id); prev != nil && mutants.On(mutants.ForgetUpdatedAt) {
		now = prev.updatedAt
	}
	s.counter++
	next.version, next.updatedAt = s.counter, now
	if t.node {
		nodeStamp(t, &next)
	}
	next.vtext = EncodeVersion(s.counter) // wireVersion prefers a node tag
	next.json = &rowJSON{etag: []string{etag(next.vtext)}}
	next.cols = t.columnsOf(next.data)
	if next.createdAt.IsZero() {
		next.createdAt = now
	}
	t.put(&next)
	ev.Time = clockNow
	return &next
}

func (s *Server) newID() string {
	id, err := uuid.NewRandomFromReader(s.rng)
	if err != nil {
		// ChaCha8 never fails to read; keep a unique id even if that changes.
		return fmt.Sprintf("%016x-%d", s.rng.Uint64(), s.counter)
	}
	return id.String()
}

func (s *Server) insertLocked(ev *Event, tableName string, b *body) result {
	t, err := s.table(tableName)
	if err != nil {
		return failed(err)
	}
	id := b.id
	if !b.hasID {
		id = s.newID()
	}
	res := result{table: tableName, id: id}
	if t != nil {
		res.table = t.name
	}
	if cur := t.get(id); cur != nil {
		res.status, res.rec, res.before = http.StatusConflict, cur, cur
		res.err = errorf(http.StatusConflict, "an item with id %q already exists", id)
		if cur.deleted {
			res.err.Message += " (deleted)"
		}
		return res
	}
	data, err := t.canonical(b.data)
	if err != nil {
		return withErr(res, err)
	}
	t, _ = s.tableForWrite(tableName)
	t.learn(data)
	rec := s.store(ev, t, record{id: id, data: data, tag: nodeInsertTag(t, b)})
	res.table, res.status, res.rec, res.applied = t.name, http.StatusCreated, rec, true
	return res
}

func withErr(res result, err *Error) result {
	res.status, res.err = err.Status, err
	return res
}

// live finds the row a write or lookup addresses; existence comes before any version check.
func (s *Server) live(tableName, id string, includeDeleted bool) (*table, *record, result) {
	res := result{table: tableName, id: id}
	if err := checkID(id); err != nil {
		return nil, nil, withErr(res, err)
	}
	t, err := s.table(tableName)
	if err != nil {
		return nil, nil, withErr(res, err)
	}
	if t != nil {
		res.table = t.name
	}
	cur := t.get(id)
	if cur == nil || (cur.deleted && !includeDeleted) {
		if cur != nil {
			res.before = cur
		}
		return t, nil, withErr(res, errorf(http.StatusNotFound, "item %q not found in table %q", id, res.table))
	}
	res.before, res.id = cur, cur.id
	return t, cur, res
}

func preconditionFailed(res result, cur *record) result {
	res.rec = cur
	return withErr(res, errorf(http.StatusPreconditionFailed, "the server's version did not match the passed version"))
}

func (s *Server) updateLocked(ev *Event, tableName, id string, b *body, m *ifMatch) result {
	conditional(ev, m, b)
	t, cur, res := s.live(tableName, id, false)
	if cur == nil {
		return res
	}
	version := cur.wireVersion()
	ignore := mutants.On(mutants.IgnoreIfMatch)
	if m != nil && !m.matches(version) && !ignore {
		return preconditionFailed(res, cur)
	}
	if m == nil && b.badVersion != nil {
		return withErr(res, b.badVersion)
	}
	if m == nil && b.hasVersion && b.version != version && !ignore {
		res.rec = cur
		return withErr(res, errorf(http.StatusConflict, "the item's version %q does not match the server's", b.version))
	}
	data, err := t.canonical(b.data)
	if err != nil {
		return withErr(res, err)
	}
	merged := make(map[string]any, len(cur.data)+len(data))
	for k, v := range cur.data {
		merged[k] = v
	}
	for k, v := range data {
		merged[k] = v
	}
	t.learn(data)
	rec := s.store(ev, t, record{id: cur.id, data: merged, createdAt: cur.createdAt})
	res.status, res.rec, res.applied = http.StatusOK, rec, true
	return res
}

func (s *Server) deleteLocked(ev *Event, tableName, id string, m *ifMatch) result {
	conditional(ev, m, nil)
	if mutants.On(mutants.VersionBeforeExistence) && m != nil {
		// The bug: the version is checked on the row as stored, tombstone included.
		if _, cur, res := s.live(tableName, id, true); cur != nil && !m.matches(cur.wireVersion()) {
			return preconditionFailed(res, cur)
		}
	}
	t, cur, res := s.live(tableName, id, false)
	if cur == nil {
		return res
	}
	if m != nil && !m.matches(cur.wireVersion()) && !mutants.On(mutants.IgnoreIfMatch) {
		return preconditionFailed(res, cur)
	}
	// A hard delete is a write too: it takes a version and a timestamp before the row goes.
	rec := s.store(ev, t, record{id: cur.id, data: cur.data, createdAt: cur.createdAt, deleted: true})
	res.applied = true
	if t.hardDelete {
		if !mutants.On(mutants.HardDeleteKeepsRow) {
			t.remove(id)
		}
		res.status = http.StatusNoContent
		return res
	}
	res.status, res.rec = http.StatusOK, rec
	if s.cfg.DeleteNoContent {
		res.status = http.StatusNoContent
	}
	return res
}

func (s *Server) undeleteLocked(ev *Event, tableName, id string, m *ifMatch) result {
	conditional(ev, m, nil)
	t, cur, res := s.live(tableName, id, true)
	if cur == nil {
		return res
	}
	if m != nil && !m.matches(cur.wireVersion()) {
		return preconditionFailed(res, cur)
	}
	res.status, res.rec = http.StatusOK, cur
	if !cur.deleted && !t.node { // Node's undelete is an UPDATE: it writes a live row again
		return res
	}
	if mutants.On(mutants.UndeleteKeepsVersion) {
		back := *cur // the bug: the flag flipped in place, no new version or updatedAt
		back.deleted, back.json = false, nil
		t.put(&back)
		res.rec, res.applied = &back, true
		return res
	}
	res.rec = s.store(ev, t, record{id: cur.id, data: cur.data, createdAt: cur.createdAt})
	res.applied = true
	return res
}

func (s *Server) lookupLocked(tableName, id string, includeDeleted bool) result {
	_, cur, res := s.live(tableName, id, includeDeleted)
	if cur == nil {
		return res
	}
	res.status, res.rec = http.StatusOK, cur
	return res
}
