package check

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
)

// PullObs is one pull as a client lived it.
type PullObs struct {
	Table string
	// Before and After are the client's store around the pull (Rows holds Table at least).
	Before, After Snapshot
	// Requests are the client's requests during the pull, in order.
	Requests []Request
	// PushFailed is true when the pull failed because its push did not complete cleanly.
	PushFailed bool
	// Failed is true when the pull returned any error.
	Failed bool
	// During are rows written locally while the pull ran (by id, as the write stored them):
	// the pull must not overwrite them while their operation is queued.
	During map[string]map[string]any
	// QueryID is the pull's query id ("" for a full pull); Top its query's $top, nil for none.
	QueryID string
	Top     *int
}

// PushBeforePull checks P1: every operation of the table queued when the pull started is
// sent before its first GET (or the push fails and no GET is sent), and no row that keeps a
// queued operation through the pull is changed by it.
func PushBeforePull(o PullObs) Finding {
	const p = "P1"
	queued := opsOf(o.Before.Ops, o.Table)
	// The pull's first GET is its first query of the table. A GET of one item is not the
	// pull's: a push reads a row it met a conflict on when the answer did not carry it.
	firstGET := -1
	for i, r := range o.Requests {
		if r.Method == "GET" && r.ItemID == "" && strings.EqualFold(r.Table, o.Table) {
			firstGET = i
			break
		}
	}
	if len(queued) > 0 {
		if o.PushFailed {
			if firstGET >= 0 {
				return violated(p, "the pull's push failed, yet it sent %s", o.Requests[firstGET])
			}
		} else if !o.Failed {
			if firstGET < 0 {
				firstGET = len(o.Requests)
			}
			for _, op := range queued {
				if !sentBefore(o.Requests[:firstGET], op) {
					return violated(p, "the %s of %s/%s was queued when the pull started but not sent before its first GET (requests: %s)",
						op.Kind, op.Table, op.ItemID, list(o.Requests))
				}
			}
		}
	}
	after := map[string]bool{}
	for _, op := range opsOf(o.After.Ops, o.Table) {
		after[op.ID] = true
	}
	rowsBefore, rowsAfter := o.Before.Rows[strings.ToLower(o.Table)], o.After.Rows[strings.ToLower(o.Table)]
	for _, op := range queued {
		if !after[op.ID] {
			continue
		}
		id := strings.ToLower(op.ItemID)
		if writtenDuring(o.During, id) {
			continue // the device changed it itself while the pull ran: judged below, as written
		}
		if b, a := rowsBefore[id], rowsAfter[id]; !same(b, a) {
			if a == nil {
				return violated(p, "the pull deleted %s/%s, which has a queued %s", op.Table, op.ItemID, op.Kind)
			}
			return violated(p, "the pull overwrote %s/%s, which has a queued %s: %s", op.Table, op.ItemID, op.Kind, diff(b, a))
		}
	}
	for id, row := range o.During {
		id = strings.ToLower(id)
		if _, queued := find(o.After.Ops, o.Table, id); !queued {
			continue
		}
		if a := rowsAfter[id]; !same(row, a) {
			return violated(p, "the pull overwrote %s/%s, written locally while it ran and still queued: %s", o.Table, id, diff(row, a))
		}
	}
	return holds(p)
}

// writtenDuring reports whether id (lower case) is among the rows written during a pull.
func writtenDuring(during map[string]map[string]any, id string) bool {
	for k := range during {
		if strings.ToLower(k) == id {
			return true
		}
	}
	return false
}

// sentBefore reports whether a write request for op's item is among reqs.
func sentBefore(reqs []Request, op store.Operation) bool {
	method := map[store.OpKind]string{store.Insert: "POST", store.Update: "PATCH", store.Delete: "DELETE"}[op.Kind]
	for _, r := range reqs {
		if r.isWrite() && strings.EqualFold(r.Table, op.Table) && strings.EqualFold(r.ItemID, op.ItemID) &&
			(r.Method == method || r.Method == "POST" || r.Method == "PATCH") {
			return true
		}
	}
	return false
}

func list(reqs []Request) string {
	if len(reqs) == 0 {
		return "none"
	}
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// PurgeObs is one purge as a client lived it.
type PurgeObs struct {
	Table   string
	QueryID string
	// Match selects the rows the purge's query names; nil: every row.
	Match func(row map[string]any) bool
	Force bool
	// PushesFirst is the PurgePushesFirst option: the purge may push, so it may send
	// requests and change the queue.
	PushesFirst bool
	// Before and After are the store around the purge, over every table the client knows.
	Before, After Snapshot
	Requests      []Request
	// Err is the purge's error; PendingChanges is true when it is ErrPurgePendingChanges.
	Err            error
	PendingChanges bool
}

// Purge checks P2.
func Purge(o PurgeObs) Finding {
	const p = "P2"
	table := strings.ToLower(o.Table)
	if !o.PushesFirst && len(o.Requests) > 0 {
		return violated(p, "the purge sent requests: %s", list(o.Requests))
	}
	if o.PushesFirst && !o.Force {
		// The push may change the rows it pushed, the queue and the errors (P5 and P6 judge
		// that); the purge itself may only remove the rows it names, and only if it succeeded.
		queued := map[string]bool{}
		for _, op := range o.Before.Ops {
			queued[strings.ToLower(op.Table+"/"+op.ItemID)] = true
		}
		pushable := o.Err == nil || o.PendingChanges // not a push cut short before it sent (a store error)
		if pending := opsOf(o.Before.Ops, o.Table); len(pending) > 0 && pushable && !slices.ContainsFunc(o.Requests, Request.isWrite) {
			// (In the context scope the push may stop at another table's operation first; it
			// cannot send nothing at all.)
			return violated(p, "the purge of %s pushes first, yet with the %s of %s/%s queued there it sent no write", o.Table,
				pending[0].Kind, pending[0].Table, pending[0].ItemID)
		}
		after := o.After.Rows[table]
		for id, row := range o.Before.Rows[table] {
			if queued[table+"/"+id] {
				continue
			}
			gone := after[id] == nil
			named := o.Match == nil || o.Match(row)
			switch {
			case o.Err != nil && gone:
				return violated(p, "a purge that failed (%v) removed %s/%s", o.Err, o.Table, id)
			case o.Err == nil && named && !gone:
				return violated(p, "the purge left %s/%s, which its query names", o.Table, id)
			case !named && gone:
				return violated(p, "the purge removed %s/%s, which its query does not name", o.Table, id)
			}
		}
		return holds(p)
	}
	queued := len(opsOf(o.Before.Ops, o.Table)) > 0
	switch {
	case o.Err != nil:
		if !o.Force && queued && !o.PendingChanges {
			return violated(p, "a purge of a table with queued operations failed with %v, not ErrPurgePendingChanges", o.Err)
		}
		return unchanged(p, o.Before, o.After, "a failed purge")
	case !o.Force && queued:
		return violated(p, "a non-forced purge of %s succeeded although %d operation(s) were queued", o.Table, len(opsOf(o.Before.Ops, o.Table)))
	}
	// What the purge must leave: everything, less what it removes.
	want := Snapshot{Rows: map[string]map[string]map[string]any{}, Config: map[string]string{}}
	for t, rows := range o.Before.Rows {
		kept := map[string]map[string]any{}
		for id, row := range rows {
			if t == table && (o.Force || o.Match == nil || o.Match(row)) {
				continue
			}
			kept[id] = row
		}
		want.Rows[t] = kept
	}
	for k, v := range o.Before.Config {
		if o.Force && strings.HasPrefix(k, "deltaToken|"+table+"|") || !o.Force && o.QueryID != "" && k == "deltaToken|"+table+"|"+o.QueryID {
			continue
		}
		want.Config[k] = v
	}
	for _, op := range o.Before.Ops {
		if !(o.Force && strings.EqualFold(op.Table, o.Table)) {
			want.Ops = append(want.Ops, op)
		}
	}
	for _, e := range o.Before.Errors {
		if !(o.Force && strings.EqualFold(e.Table, o.Table)) {
			want.Errors = append(want.Errors, e)
		}
	}
	return unchanged(p, want, o.After, "the purge")
}

// unchanged compares what a store should hold with what it holds.
func unchanged(p string, want, got Snapshot, what string) Finding {
	for t, rows := range want.Rows {
		g := got.Rows[t]
		for id, row := range rows {
			if !same(row, g[id]) {
				if g[id] == nil {
					return violated(p, "%s removed %s/%s", what, t, id)
				}
				return violated(p, "%s changed %s/%s: %s", what, t, id, diff(row, g[id]))
			}
		}
		for id := range g {
			if _, ok := rows[id]; !ok {
				return violated(p, "%s left %s/%s, which it should have removed", what, t, id)
			}
		}
	}
	if ids(want.Ops) != ids(got.Ops) {
		return violated(p, "%s left the queue %s, want %s", what, ids(got.Ops), ids(want.Ops))
	}
	if errIDs(want.Errors) != errIDs(got.Errors) {
		return violated(p, "%s left the errors %s, want %s", what, errIDs(got.Errors), errIDs(want.Errors))
	}
	if !reflect.DeepEqual(want.Config, got.Config) {
		return violated(p, "%s left the settings (delta tokens) %v, want %v", what, got.Config, want.Config)
	}
	return holds(p)
}

func ids(ops []store.Operation) string {
	var out []string
	for _, op := range ops {
		out = append(out, fmt.Sprintf("%s %s/%s", op.Kind, op.Table, op.ItemID))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func errIDs(errs []store.OperationError) string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s/%s %d", e.Table, e.ItemID, e.Status))
	}
	slices.Sort(out)
	return "[" + strings.Join(out, ", ") + "]"
}

// Converged checks P4 for one client and one table: its rows equal the server's live rows,
// system columns included.
func Converged(client, table string, local, server []map[string]any) Finding {
	const p = "P4"
	index := func(rows []map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, r := range rows {
			id, _ := r["id"].(string)
			m[strings.ToLower(id)] = r
		}
		return m
	}
	l, s := index(local), index(server)
	for id, row := range s {
		if l[id] == nil {
			return violated(p, "%s lacks %s/%s, which the server has", client, table, row["id"])
		}
		if !same(row, l[id]) {
			return violated(p, "%s's %s/%s differs from the server's: %s", client, table, row["id"], diff(row, l[id]))
		}
	}
	for id, row := range l {
		if s[id] == nil {
			return violated(p, "%s has %s/%s, which the server has not (or has deleted)", client, table, row["id"])
		}
	}
	return holds(p)
}

// PushObs is one push (a push step, or the push a pull or purge started) as a client lived it.
type PushObs struct {
	// Strategy is the client's: client-wins, server-wins, cancel or manual.
	Strategy string
	// Before and After are the store around the push.
	Before, After Snapshot
	Requests      []Request
	// Status is the push's status, as PushStatus.String() renders it.
	Status string
	// Server returns the server's row after the push (nil: absent or deleted).
	Server func(table, id string) map[string]any
	// IdenticalIsSuccess is the TreatIdenticalAsSuccess option: a conflict whose server item
	// equals what was sent is a success, under every strategy.
	IdenticalIsSuccess bool
	// Removed, when set, says which rows the step removed after its push (a purge that
	// pushes first removes its table's rows): P5 does not judge a local row that is gone
	// when the step removed it (P2 judges what a purge removes).
	Removed func(table, id string) bool
	// Scope are the tables the push was asked for; nil: every table.
	Scope []string
	// MaxTries is the client's MaxTries option (0: the default, DefaultMaxTries).
	MaxTries int
	// Partial is true when the server's history dropped some of the push's requests (its
	// cap): Requests are not all it sent.
	Partial bool
}

// Strategy checks P5 for every conflict (a 409 or 412, or a 404 on an update) the push met.
func Strategy(o PushObs) Finding {
	const p = "P5"
	if o.IdenticalIsSuccess {
		if f := identicalSettled(o); f.Verdict == reports.Violated {
			return f
		}
	}
	if o.Strategy != "client-wins" && o.Strategy != "server-wins" && o.Strategy != "cancel" {
		return unknown(p, "strategy %q: P5 judges client-wins, server-wins and cancel", o.Strategy)
	}
	if o.Status == "CancelledByStoreError" && HasConflict(o.Requests) {
		// The local store failed under the push: a resolution may have been decided and not
		// stored. Nothing is lost (P6 and P8 judge that); the strategy's outcome is unknown.
		return unknown(p, "the push ended with a store error: the resolution of its conflict may not have been stored")
	}
	seen := map[string]bool{}
	for i, r := range o.Requests {
		if !r.Answered || !r.conflict() {
			continue // the client met no conflict it knew of
		}
		key := strings.ToLower(r.Table + "/" + r.ItemID)
		if seen[key] {
			continue
		}
		seen[key] = true
		op, ok := find(o.Before.Ops, r.Table, r.ItemID)
		if !ok {
			return unknown(p, "%s met a conflict on %s/%s, which had no queued operation", r, r.Table, r.ItemID)
		}
		id := strings.ToLower(r.ItemID)
		localBefore := o.Before.Rows[strings.ToLower(r.Table)][id]
		localAfter := o.After.Rows[strings.ToLower(r.Table)][id]
		_, stillQueued := find(o.After.Ops, r.Table, r.ItemID)
		if localAfter == nil && o.Removed != nil && o.Removed(r.Table, r.ItemID) && o.Strategy != "client-wins" {
			continue // what the push left locally, the step removed after it
		}
		server := o.Server(r.Table, r.ItemID)
		if o.IdenticalIsSuccess && !stillQueued && (r.Status == 409 || r.Status == 412) {
			// perhaps the identical item the option makes a success (the push may have gone
			// on to stop at a later conflict); P6 judges the rest
			continue
		}
		switch o.Strategy {
		case "client-wins":
			// Each retry must carry the version the last conflict showed: sending the same
			// stale version again can never win.
			var tried []string
			for _, q := range o.Requests[i:] {
				if q.isWrite() && q.Answered && strings.EqualFold(q.Table, r.Table) && strings.EqualFold(q.ItemID, r.ItemID) &&
					(q.Status == 409 || q.Status == 412) && len(q.Precondition) > 0 {
					if slices.Contains(tried, q.Precondition[0]) {
						return violated(p, "client wins: %s/%s was sent again with the version %s it was refused with", r.Table, r.ItemID, q.Precondition[0])
					}
					tried = append(tried, q.Precondition[0])
				}
			}
			if o.Status != "Complete" {
				continue // the push stopped for another reason: the resolution never finished
			}
			if stillQueued {
				if _, recorded := findError(o.After.Errors, r.Table, r.ItemID); recorded {
					continue // it gave up after its tries (MaxTries), every one against a newer version
				}
				return violated(p, "client wins: the %s of %s/%s is still queued after a complete push", op.Kind, r.Table, r.ItemID)
			}
			if op.Kind == store.Delete {
				if server != nil {
					return violated(p, "client wins: %s/%s was deleted locally but is live on the server", r.Table, r.ItemID)
				}
				continue
			}
			if server == nil {
				return violated(p, "client wins: %s/%s is not on the server", r.Table, r.ItemID)
			}
			for k, v := range userFields(Normalize(localBefore)) {
				if !SameValue(k, Normalize(server)[k], v) {
					return violated(p, "client wins: the local change did not reach the server: %s/%s %s is %v on the server, %v locally",
						r.Table, r.ItemID, k, Normalize(server)[k], v)
				}
			}
		case "server-wins":
			if stillQueued {
				return violated(p, "server wins: the %s of %s/%s is still queued", op.Kind, r.Table, r.ItemID)
			}
			if server == nil && localAfter == nil {
				continue
			}
			if !same(server, localAfter) {
				if localAfter == nil {
					return violated(p, "server wins: %s/%s is gone locally but live on the server", r.Table, r.ItemID)
				}
				return violated(p, "server wins: the local row is not the server's: %s/%s %s", r.Table, r.ItemID, diff(server, localAfter))
			}
		case "cancel":
			if o.Status != "CancelledByOperation" {
				return violated(p, "cancel: the push met a conflict on %s/%s but ended %s, not CancelledByOperation", r.Table, r.ItemID, o.Status)
			}
			for _, later := range o.Before.Ops {
				if later.Sequence < op.Sequence {
					continue
				}
				if _, ok := find(o.After.Ops, later.Table, later.ItemID); !ok {
					return violated(p, "cancel: the %s of %s/%s left the queue", later.Kind, later.Table, later.ItemID)
				}
			}
			for _, after := range o.Requests[i+1:] {
				if after.isWrite() {
					return violated(p, "cancel: the push went on after the conflict: %s", after)
				}
			}
			if !same(localBefore, localAfter) {
				return violated(p, "cancel: the local row of %s/%s changed: %s", r.Table, r.ItemID, diff(localBefore, localAfter))
			}
		}
	}
	return holds(p)
}

// identicalSettled checks, under TreatIdenticalAsSuccess and whatever the strategy, that an
// insert or update refused with a 409 or 412 whose item the server holds exactly as it was
// sent (user columns) left the queue: the option makes that conflict a success.
func identicalSettled(o PushObs) Finding {
	const p = "P5"
	if o.Status == "CancelledByStoreError" || strings.HasPrefix(o.Status, "failed") {
		return holds(p) // the store failed under the push: the success may not have been stored
	}
	for _, r := range o.Requests {
		if r.Method == "DELETE" || !r.isWrite() || !r.Answered || r.Status != 409 && r.Status != 412 {
			continue
		}
		op, queued := find(o.Before.Ops, r.Table, r.ItemID)
		if !queued || op.Kind == store.Delete {
			continue
		}
		if _, still := find(o.After.Ops, r.Table, r.ItemID); !still {
			continue
		}
		local := o.Before.Rows[strings.ToLower(r.Table)][strings.ToLower(r.ItemID)]
		sent := userFields(Normalize(local))
		server := o.Server(r.Table, r.ItemID)
		if len(sent) == 0 || server == nil || !reflect.DeepEqual(userFields(Normalize(server)), sent) || server["id"] != local["id"] {
			continue // (ids that differ in case only: whether they are identical, docs/semantics.md does not say)
		}
		return violated(p, "%s/%s: the server holds what the %s sent (%v), and TreatIdenticalAsSuccess makes its %d a success, yet it is still queued",
			r.Table, r.ItemID, op.Kind, sent, r.Status)
	}
	return holds(p)
}

// HasConflict reports whether a push met a conflict it knew of: an answered 409 or 412 to a
// write it sent, or a 404 to an update.
func HasConflict(reqs []Request) bool {
	for _, r := range reqs {
		if r.Answered && r.conflict() {
			return true
		}
	}
	return false
}

func findError(errs []store.OperationError, table, id string) (store.OperationError, bool) {
	for _, e := range errs {
		if strings.EqualFold(e.Table, table) && strings.EqualFold(e.ItemID, id) {
			return e, true
		}
	}
	return store.OperationError{}, false
}

func find(ops []store.Operation, table, id string) (store.Operation, bool) {
	for _, op := range ops {
		if strings.EqualFold(op.Table, table) && strings.EqualFold(op.ItemID, id) {
			return op, true
		}
	}
	return store.Operation{}, false
}

// ServerIntegrity checks P7 over a history, in order: versions of a row strictly increase; a
// write whose precondition names a stale version never applies; updatedAt never goes backwards
// except for writes a clock fault (clock-skew, clock-freeze) stamped; no query without
// __includeDeleted returns a deleted row. Events with an unknown VersionBefore (a history
// recorded by a client) are judged against the last version seen for the row.
func ServerIntegrity(events []fakeserver.Event) Finding {
	var in Integrity
	return in.Feed(events)
}

// Integrity is ServerIntegrity fed a growing history a piece at a time, so that checking
// after every action costs what the action added.
type Integrity struct {
	last      map[string]string
	latest    time.Time
	undecided string
	violation *Finding
}

// Feed checks the events that follow those fed before, and returns the verdict so far.
func (in *Integrity) Feed(events []fakeserver.Event) Finding {
	const p = "P7"
	if in.violation != nil {
		return *in.violation
	}
	if in.last == nil {
		in.last = map[string]string{}
	}
	fail := func(f Finding) Finding { in.violation = &f; return f }
	for _, e := range events {
		if e.Source == fakeserver.SourceDropped {
			// A capped history dropped events here: what they held cannot be checked, and a
			// verdict of "holds" would claim it was.
			in.undecided = fmt.Sprintf("the server's history dropped %d event(s) up to event %d (its cap): P7 was not checked over them", e.Dropped, e.Seq)
			continue
		}
		if e.Op == fakeserver.OpQuery {
			if !e.IncludeDeleted && e.Tombstones > 0 {
				return fail(violated(p, "event %d: a query without __includeDeleted returned %d deleted row(s): %s %s?%s", e.Seq, e.Tombstones, e.Method, e.Path, e.Query))
			}
			if e.Cut && !e.Next && e.Status == 200 {
				return fail(violated(p, "event %d: the page size cut the answer to %s %s?%s at %d row(s), and it carries no Link to the next page", e.Seq,
					e.Method, e.Path, e.Query, e.Rows))
			}
			continue
		}
		if !e.Applied {
			continue
		}
		key := strings.ToLower(e.Table + "/" + e.ItemID)
		before := e.VersionBefore
		if before == "" {
			before = in.last[key]
		}
		if len(e.Precondition) > 0 && before != "" && !slices.Contains(e.Precondition, before) {
			return fail(violated(p, "event %d: %s of %s applied with the stale version %s (the row was at %s)", e.Seq, e.Op, key, strings.Join(e.Precondition, ","), before))
		}
		if prev, ok := in.last[key]; ok && e.VersionBefore == "" && e.VersionAfter == prev {
			continue // seen from a client: a write that changed nothing (an undelete of a live row)
		}
		if e.VersionAfter != "" {
			if prev, ok := in.last[key]; ok {
				a, errA := fakeserver.DecodeVersion(prev)
				b, errB := fakeserver.DecodeVersion(e.VersionAfter)
				switch {
				case errA != nil || errB != nil:
					in.undecided = "versions are opaque (not 8-byte counters): their order was not checked"
				case b <= a:
					return fail(violated(p, "event %d: the version of %s went from %s to %s", e.Seq, key, prev, e.VersionAfter))
				}
			}
			in.last[key] = e.VersionAfter
		}
		if e.UpdatedAt.IsZero() {
			continue
		}
		clockFault := false
		for _, h := range e.Faults {
			if h.Action == "clock-skew" || h.Action == "clock-freeze" {
				clockFault = true // the fault's own time: not a step of the clock
			}
		}
		if clockFault {
			continue
		}
		if e.UpdatedAt.Before(in.latest) {
			return fail(violated(p, "event %d: %s of %s has updatedAt %s, before the %s of an earlier write, with no clock fault", e.Seq, e.Op, key,
				e.UpdatedAt.Format(fakeserver.TimeFormat), in.latest.Format(fakeserver.TimeFormat)))
		}
		in.latest = e.UpdatedAt
	}
	if in.undecided != "" {
		return unknown(p, "%s", in.undecided)
	}
	return holds(p)
}

// QueueEntry is one queued operation as P3 compares queues: its kind and item, in order.
type QueueEntry struct {
	Kind   store.OpKind
	Table  string
	ItemID string
}

func (e QueueEntry) String() string { return fmt.Sprintf("%s %s/%s", e.Kind, e.Table, e.ItemID) }

// Entries renders a store's queue for Queue.
func Entries(ops []store.Operation) []QueueEntry {
	sorted := slices.Clone(ops)
	slices.SortFunc(sorted, func(a, b store.Operation) int { return int(a.Sequence - b.Sequence) })
	out := make([]QueueEntry, len(sorted))
	for i, op := range sorted {
		out[i] = QueueEntry{Kind: op.Kind, Table: strings.ToLower(op.Table), ItemID: strings.ToLower(op.ItemID)}
	}
	return out
}

// Queue checks P3: after a local write, the queue is the reference model's, and the write
// failed exactly when the model says it must (ErrInvalidOperation).
func Queue(what string, want, got []QueueEntry, wantFail, failed bool) Finding {
	const p = "P3"
	switch {
	case wantFail && !failed:
		return violated(p, "%s succeeded, but the collapse matrix refuses it", what)
	case !wantFail && failed:
		return violated(p, "%s was refused, but the collapse matrix allows it", what)
	case !slices.Equal(want, got):
		return violated(p, "after %s the queue is %v, the collapse matrix says %v", what, got, want)
	}
	return holds(p)
}

// NoSilentLoss checks P6 over a push: every operation that left the queue is accounted for —
// applied on the server (an applied request for its item), already gone (a 404 to a delete),
// or dropped by the strategy (server wins over a conflict), or settled by a conflict whose
// server item equals what was sent when identicalIsSuccess (the TreatIdenticalAsSuccess
// option; P5 judges that the items were equal). Anything else was lost silently.
func NoSilentLoss(strategy string, identicalIsSuccess bool, before, after []store.Operation, reqs []Request) Finding {
	const p = "P6"
	kept := map[string]bool{}
	for _, op := range after {
		kept[op.ID] = true
	}
	for _, op := range before {
		if kept[op.ID] {
			continue
		}
		accounted := false
		for _, r := range reqs {
			if !r.isWrite() || !strings.EqualFold(r.Table, op.Table) || !strings.EqualFold(r.ItemID, op.ItemID) {
				continue
			}
			conflict := r.conflict()
			identical := identicalIsSuccess && (r.Status == 409 || r.Status == 412) && r.Method != "DELETE"
			if r.Applied || r.Method == "DELETE" && r.Status == 404 || conflict && strategy == "server-wins" || identical {
				accounted = true
			}
		}
		if !accounted {
			return violated(p, "the %s of %s/%s left the queue with nothing on the server to show for it (requests: %s)", op.Kind, op.Table, op.ItemID, list(reqs))
		}
	}
	return holds(p)
}

func belowOrAt(at, token time.Time) string {
	if at.Equal(token) {
		return "at"
	}
	return "below"
}

// Durable checks P8: a store closed and opened again holds what it held.
func Durable(before, after Snapshot) Finding {
	return unchanged("P8", before, after, "closing and reopening the store")
}

// IncrementalComplete checks P9 after an incremental pull of a whole table: every live server
// row whose updatedAt is below the saved token is in the local store at the server's version,
// and every row the server deleted below it is not, unless the item has a queued operation.
// serverRows are the server's rows (v2 names), tombstones included.
func IncrementalComplete(table string, token time.Time, serverRows []map[string]any, local Snapshot) Finding {
	return Incremental(IncrementalObs{Table: table, Token: token, Server: serverRows, Local: local})
}

// IncrementalCompleteAt is IncrementalComplete judged right after the pull, when no row was
// written while it paged (no page-shift): then the rows at the token's own updatedAt were
// there for its last query, which asked for updatedAt ge the token, so they are local too.
// A client that asks gt, or stops short at the token, leaves them behind until a row with a
// later updatedAt comes, which under a coarse or frozen clock may be never.
func IncrementalCompleteAt(table string, token time.Time, serverRows []map[string]any, local Snapshot) Finding {
	return Incremental(IncrementalObs{Table: table, Token: token, Server: serverRows, Local: local, AtToken: true})
}

// IncrementalObs is what P9 judges after an incremental pull.
type IncrementalObs struct {
	Table string
	// Token is the delta token the pull saved; Server the server's rows of the table
	// (v2 names, tombstones included); Local the client's store after the pull.
	Token  time.Time
	Server []map[string]any
	Local  Snapshot
	// AtToken judges the rows at the token's own updatedAt too (IncrementalCompleteAt).
	AtToken bool
	// Skipped, when set and the pull moved the token (Moved), judges the rows the pull
	// skipped for an operation queued while it ran: without the SkippedRowsMoveToken option
	// (SkipMoves false) they do not count, so the token it saved is the updatedAt of a row it
	// stored, not only of rows it skipped.
	Skipped, SkipMoves, Moved bool
}

// Incremental checks P9 (see IncrementalComplete).
func Incremental(o IncrementalObs) Finding {
	const p = "P9"
	table, token, atToken := o.Table, o.Token, o.AtToken
	local := o.Local
	rows := local.Rows[strings.ToLower(table)]
	if o.Skipped && o.Moved && !o.SkipMoves {
		var skipped, counted []string
		for _, row := range o.Server {
			at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(row["updatedAt"]))
			if err != nil || !at.Equal(token) {
				continue
			}
			mine := Normalize(rows[strings.ToLower(fmt.Sprint(row["id"]))])
			_, queued := find(local.Ops, table, fmt.Sprint(row["id"]))
			// Stored, a live row would hold the server's version. A tombstone tells nothing
			// (stored, it removed the row, which a local write may have made again): it counts.
			if queued && row["deleted"] != true && (mine == nil || mine["version"] != row["version"]) {
				skipped = append(skipped, fmt.Sprint(row["id"]))
			} else {
				counted = append(counted, fmt.Sprint(row["id"]))
			}
		}
		if len(skipped) > 0 && len(counted) == 0 {
			return violated(p, "the pull moved the delta token to %s, the updatedAt of %s/%s only, which it skipped for a queued operation: "+
				"skipped rows do not move the token (without SkippedRowsMoveToken), and the next incremental pull will not bring it",
				token.Format(fakeserver.TimeFormat), table, strings.Join(skipped, ", "))
		}
	}
	for _, row := range o.Server {
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(row["updatedAt"]))
		if err != nil {
			return unknown(p, "the server row %v has no readable updatedAt", row["id"])
		}
		if at.After(token) || at.Equal(token) && !atToken {
			continue
		}
		id := strings.ToLower(fmt.Sprint(row["id"]))
		mine := Normalize(rows[id])
		if _, queued := find(local.Ops, table, id); queued {
			continue
		}
		switch {
		case row["deleted"] == true:
			if mine != nil {
				return violated(p, "%s/%s was deleted on the server (updatedAt %s, %s the delta token %s) but is still in the local store", table, row["id"],
					row["updatedAt"], belowOrAt(at, token), token.Format(fakeserver.TimeFormat))
			}
		case mine == nil:
			return violated(p, "%s/%s (updatedAt %s) is %s the delta token %s but not in the local store", table, row["id"],
				row["updatedAt"], belowOrAt(at, token), token.Format(fakeserver.TimeFormat))
		case mine["version"] != row["version"]:
			return violated(p, "%s/%s is %s the delta token %s, but the local copy is version %v, the server's %v", table, row["id"],
				belowOrAt(at, token), token.Format(fakeserver.TimeFormat), mine["version"], row["version"])
		}
	}
	return holds(p)
}
