package check_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
)

// Each checker is shown holding on a correct observation and catching the bug it is for on
// a broken one: the broken observations are what a client or server with that bug produces.

func row(id string, kv ...any) map[string]any {
	r := map[string]any{"id": id, "version": "AAAAAAAAAAE="}
	for i := 0; i+1 < len(kv); i += 2 {
		r[kv[i].(string)] = kv[i+1]
	}
	return r
}

func snap(rows map[string][]map[string]any, ops []store.Operation, config map[string]string) check.Snapshot {
	s := check.Snapshot{Rows: map[string]map[string]map[string]any{}, Ops: ops, Config: map[string]string{}}
	for t, rs := range rows {
		m := map[string]map[string]any{}
		for _, r := range rs {
			m[strings.ToLower(r["id"].(string))] = r
		}
		s.Rows[t] = m
	}
	for k, v := range config {
		s.Config[k] = v
	}
	return s
}

func op(id string, kind store.OpKind, table, item string, seq int64) store.Operation {
	return store.Operation{ID: id, Kind: kind, Table: table, ItemID: item, Sequence: seq}
}

func expect(t *testing.T, name string, f check.Finding, verdict reports.Verdict, fragment string) {
	t.Helper()
	if f.Verdict != verdict || !strings.Contains(f.Detail, fragment) {
		t.Errorf("%s: got %s %q, want %s containing %q", name, f.Verdict, f.Detail, verdict, fragment)
	}
}

func TestPushBeforePull(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "e1", 1)}
	mine := row("e1", "text", "mine")
	before := snap(map[string][]map[string]any{"todo": {mine}}, queued, nil)
	pushed := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine", "version", "AAAAAAAAAAI=")}}, nil, nil)
	patch := check.Request{Method: "PATCH", Path: "/tables/todo/e1", Table: "todo", ItemID: "e1", Status: 200}
	get := check.Request{Method: "GET", Path: "/tables/todo", Table: "todo", Status: 200}

	expect(t, "pushed, then pulled", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: pushed,
		Requests: []check.Request{patch, get}}), reports.Holds, "")
	expect(t, "bug: pulled without pushing", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: pushed,
		Requests: []check.Request{get, patch}}), reports.Violated, "not sent before its first GET")
	expect(t, "the push failed and no GET went", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: before,
		Requests: []check.Request{{Method: "PATCH", Table: "todo", ItemID: "e1", Status: 412}}, PushFailed: true, Failed: true}), reports.Holds, "")
	expect(t, "bug: the push failed but the pull went on", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: before,
		Requests: []check.Request{{Method: "PATCH", Table: "todo", ItemID: "e1", Status: 412}, get}, PushFailed: true, Failed: true}),
		reports.Violated, "the pull's push failed, yet it sent GET")
	// A push that reads the row it met a conflict on (a 409 that did not carry it) sends a GET
	// of that item: it is the push's, not the pull's.
	lookup := check.Request{Method: "GET", Path: "/tables/todo/e1", Table: "todo", ItemID: "e1", Status: 200}
	expect(t, "the push read a row, then failed, and no query went", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: before,
		Requests: []check.Request{{Method: "POST", Table: "todo", ItemID: "e1", Status: 409}, lookup}, PushFailed: true, Failed: true}), reports.Holds, "")
	// A push that left the operation queued (an error recorded) must not let the pull change the row.
	still := snap(map[string][]map[string]any{"todo": {mine}}, queued, nil)
	overwritten := snap(map[string][]map[string]any{"todo": {row("e1", "text", "theirs")}}, queued, nil)
	expect(t, "a queued row survives the pull", check.PushBeforePull(check.PullObs{Table: "todo", Before: before, After: still,
		Requests: []check.Request{patch, get}}), reports.Holds, "")
	expect(t, "bug: the pull overwrote a row with a queued operation", check.PushBeforePull(check.PullObs{Table: "todo", Before: before,
		After: overwritten, Requests: []check.Request{patch, get}}), reports.Violated, "overwrote todo/e1")
	gone := snap(map[string][]map[string]any{"todo": {}}, queued, nil)
	expect(t, "bug: the pull deleted a row with a queued operation", check.PushBeforePull(check.PullObs{Table: "todo", Before: before,
		After: gone, Requests: []check.Request{patch, get}}), reports.Violated, "deleted todo/e1")
	// A row queued before the pull that the device itself changed while the pull ran is judged
	// as the write left it, not as it was before.
	edited := row("e1", "text", "edited")
	during := map[string]map[string]any{"E1": edited}
	rewritten := snap(map[string][]map[string]any{"todo": {edited}}, queued, nil)
	expect(t, "a queued row edited during the pull survives", check.PushBeforePull(check.PullObs{Table: "todo", Before: before,
		After: rewritten, Requests: []check.Request{patch, get}, During: during}), reports.Holds, "")
	expect(t, "bug: the pull overwrote a queued row edited during it", check.PushBeforePull(check.PullObs{Table: "todo", Before: before,
		After: overwritten, Requests: []check.Request{patch, get}, During: during}), reports.Violated, "written locally while it ran")
}

func TestPurge(t *testing.T) {
	a, b, other := row("a", "done", true), row("b", "done", false), row("x")
	rows := map[string][]map[string]any{"todo": {a, b}, "other": {other}}
	tokens := map[string]string{"deltaToken|todo|all": "t1", "deltaToken|todo|mine": "t2", "deltaToken|other|all": "t3"}
	clean := snap(rows, nil, tokens)
	dirtyOps := []store.Operation{op("o1", store.Update, "todo", "a", 1), op("o2", store.Insert, "other", "x", 2)}
	dirty := snap(rows, dirtyOps, tokens)
	done := func(r map[string]any) bool { return r["done"] == true }

	expect(t, "a filtered purge removes exactly its rows and its token", check.Purge(check.PurgeObs{Table: "todo", QueryID: "all", Match: done,
		Before: clean, After: snap(map[string][]map[string]any{"todo": {b}, "other": {other}}, nil,
			map[string]string{"deltaToken|todo|mine": "t2", "deltaToken|other|all": "t3"})}), reports.Holds, "")
	expect(t, "bug: a filtered purge removes too much", check.Purge(check.PurgeObs{Table: "todo", Match: done, Before: clean,
		After: snap(map[string][]map[string]any{"todo": {}, "other": {other}}, nil, tokens)}), reports.Violated, "removed todo/b")
	expect(t, "bug: the purge kept its token", check.Purge(check.PurgeObs{Table: "todo", QueryID: "all", Match: done, Before: clean,
		After: snap(map[string][]map[string]any{"todo": {b}, "other": {other}}, nil, tokens)}), reports.Violated, "settings")
	expect(t, "a dirty table refuses the purge", check.Purge(check.PurgeObs{Table: "todo", Before: dirty, After: dirty,
		Err: errPending, PendingChanges: true}), reports.Holds, "")
	expect(t, "bug: a purge despite pending operations", check.Purge(check.PurgeObs{Table: "todo", Before: dirty,
		After: snap(map[string][]map[string]any{"todo": {}, "other": {other}}, dirtyOps, tokens)}), reports.Violated, "although 1 operation(s) were queued")
	expect(t, "bug: a refused purge that changed something", check.Purge(check.PurgeObs{Table: "todo", Before: dirty,
		After: snap(map[string][]map[string]any{"todo": {b}, "other": {other}}, dirtyOps, tokens), Err: errPending, PendingChanges: true}),
		reports.Violated, "removed todo/a")
	expect(t, "a forced purge drops the table's rows, operations and tokens, nothing else", check.Purge(check.PurgeObs{Table: "todo", Force: true,
		Before: dirty, After: snap(map[string][]map[string]any{"todo": {}, "other": {other}}, dirtyOps[1:],
			map[string]string{"deltaToken|other|all": "t3"})}), reports.Holds, "")
	expect(t, "bug: a forced purge that drops another table's operation", check.Purge(check.PurgeObs{Table: "todo", Force: true,
		Before: dirty, After: snap(map[string][]map[string]any{"todo": {}, "other": {other}}, nil,
			map[string]string{"deltaToken|other|all": "t3"})}), reports.Violated, "queue")
	expect(t, "bug: the default purge sent a request", check.Purge(check.PurgeObs{Table: "todo", Before: clean, After: clean,
		Requests: []check.Request{{Method: "GET", Path: "/tables/todo", Status: 200}}, Match: func(map[string]any) bool { return false }}),
		reports.Violated, "sent requests")
}

var errPending = &pendingErr{}

type pendingErr struct{}

func (*pendingErr) Error() string { return "purge pending changes" }

func TestConverged(t *testing.T) {
	server := []map[string]any{row("a", "text", "x", "updatedAt", "2014-06-11T00:00:00.000Z")}
	expect(t, "equal, dialects aside", check.Converged("phone", "todo", []map[string]any{{"id": "a", "text": "x",
		"__version": "AAAAAAAAAAE=", "__updatedAt": "2014-06-11T00:00:00.000Z", "__deleted": false}}, server), reports.Holds, "")
	expect(t, "bug: a stale version", check.Converged("phone", "todo", []map[string]any{row("a", "text", "x", "version", "AAAAAAAAAAA=",
		"updatedAt", "2014-06-11T00:00:00.000Z")}, server), reports.Violated, "version")
	expect(t, "bug: a missing row", check.Converged("phone", "todo", nil, server), reports.Violated, "lacks todo/a")
	expect(t, "bug: a row the server deleted", check.Converged("phone", "todo", append(server, row("b")), server), reports.Violated, "has todo/b")
}

func TestStrategy(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "e1", 1), op("o2", store.Update, "todo", "e2", 2)}
	before := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine"), row("e2", "text", "two")}}, queued, nil)
	conflict := check.Request{Method: "PATCH", Table: "todo", ItemID: "e1", Status: 412, Answered: true}
	ok := func(id string) check.Request {
		return check.Request{Method: "PATCH", Table: "todo", ItemID: id, Status: 200}
	}
	serverHas := func(text string) func(string, string) map[string]any {
		return func(_, id string) map[string]any {
			if id == "e1" {
				return row("e1", "text", text, "version", "AAAAAAAAAAk=")
			}
			return row(id, "text", "two")
		}
	}
	emptyAfter := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine"), row("e2", "text", "two")}}, nil, nil)

	expect(t, "client wins: the local change is on the server", check.Strategy(check.PushObs{Strategy: "client-wins", Before: before,
		After: emptyAfter, Requests: []check.Request{conflict, ok("e1"), ok("e2")}, Status: "Complete", Server: serverHas("mine")}), reports.Holds, "")
	expect(t, "bug: client wins lost the local change", check.Strategy(check.PushObs{Strategy: "client-wins", Before: before,
		After: emptyAfter, Requests: []check.Request{conflict, ok("e2")}, Status: "Complete", Server: serverHas("theirs")}),
		reports.Violated, "did not reach the server")

	serverRow := row("e1", "text", "theirs", "version", "AAAAAAAAAAk=")
	took := snap(map[string][]map[string]any{"todo": {serverRow, row("e2", "text", "two")}}, nil, nil)
	expect(t, "server wins: the local row is the server's", check.Strategy(check.PushObs{Strategy: "server-wins", Before: before,
		After: took, Requests: []check.Request{conflict, ok("e2")}, Status: "Complete", Server: serverHas("theirs")}), reports.Holds, "")
	expect(t, "bug: server wins kept the local value", check.Strategy(check.PushObs{Strategy: "server-wins", Before: before,
		After: emptyAfter, Requests: []check.Request{conflict, ok("e2")}, Status: "Complete", Server: serverHas("theirs")}),
		reports.Violated, "not the server's")

	expect(t, "cancel: the push stops, the queue stays", check.Strategy(check.PushObs{Strategy: "cancel", Before: before,
		After: before, Requests: []check.Request{conflict}, Status: "CancelledByOperation", Server: serverHas("theirs")}), reports.Holds, "")
	expect(t, "bug: cancel went on", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: snap(map[string][]map[string]any{
		"todo": {row("e1", "text", "mine"), row("e2", "text", "two")}}, queued[:1], nil),
		Requests: []check.Request{conflict, ok("e2")}, Status: "CancelledByOperation", Server: serverHas("theirs")}),
		reports.Violated, "left the queue")
	expect(t, "manual is not P5's to judge", check.Strategy(check.PushObs{Strategy: "manual"}), reports.Unknown, "")

	// A purge that pushes first removes the table's rows after its push: server wins stored
	// the server's row, and the purge took it away. Only rows the step removed are excused.
	purged := snap(map[string][]map[string]any{"todo": {row("e2", "text", "two")}}, nil, nil)
	expect(t, "server wins, then a purge removed the row", check.Strategy(check.PushObs{Strategy: "server-wins", Before: before,
		After: purged, Requests: []check.Request{conflict, ok("e2")}, Status: "Complete", Server: serverHas("theirs"),
		Removed: func(table, _ string) bool { return table == "todo" }}), reports.Holds, "")
	expect(t, "bug: server wins lost the row, no purge", check.Strategy(check.PushObs{Strategy: "server-wins", Before: before,
		After: purged, Requests: []check.Request{conflict, ok("e2")}, Status: "Complete", Server: serverHas("theirs"),
		Removed: func(table, _ string) bool { return table == "other" }}), reports.Violated, "gone locally")
}

// P6 accounts for an operation a conflict settled when the client treats an identical server
// item as a success, and for nothing else.
func TestNoSilentLossIdenticalIsSuccess(t *testing.T) {
	before := []store.Operation{{ID: "o1", Table: "todo", ItemID: "e1", Kind: store.Insert, State: store.Pending, Sequence: 1}}
	conflict := []check.Request{{Method: "POST", Table: "todo", ItemID: "e1", Status: 409, Answered: true}}
	expect(t, "a 409 settled as identical", check.NoSilentLoss("cancel", true, before, nil, conflict), reports.Holds, "")
	expect(t, "bug: a 409 dropped without the option", check.NoSilentLoss("cancel", false, before, nil, conflict), reports.Violated, "nothing on the server")
	expect(t, "bug: an insert dropped unsent", check.NoSilentLoss("cancel", true, before, nil, nil), reports.Violated, "nothing on the server")
}

func event(seq uint64, op fakeserver.Op, id, before, after string, at time.Time, kv ...any) fakeserver.Event {
	e := fakeserver.Event{Seq: seq, Source: fakeserver.SourceHTTP, Op: op, Table: "todo", ItemID: id,
		VersionBefore: before, VersionAfter: after, Applied: true, UpdatedAt: at, Status: 200}
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "precondition":
			e.Precondition = []string{kv[i+1].(string)}
		case "faults":
			e.Faults = []fakeserver.FaultHit{{ID: "f1", Action: kv[i+1].(string)}}
		}
	}
	return e
}

func TestServerIntegrity(t *testing.T) {
	t0 := time.Date(2014, 6, 11, 0, 0, 0, 0, time.UTC)
	v := fakeserver.EncodeVersion
	good := []fakeserver.Event{
		event(1, fakeserver.OpInsert, "e1", "", v(1), t0),
		event(2, fakeserver.OpUpdate, "e1", v(1), v(2), t0.Add(time.Millisecond), "precondition", v(1)),
		{Seq: 3, Op: fakeserver.OpQuery, Rows: 1},
		{Seq: 4, Op: fakeserver.OpQuery, Rows: 2, Tombstones: 1, IncludeDeleted: true},
	}
	expect(t, "a correct server", check.ServerIntegrity(good), reports.Holds, "")
	expect(t, "bug: a stale If-Match applied", check.ServerIntegrity([]fakeserver.Event{good[0],
		event(2, fakeserver.OpUpdate, "e1", v(1), v(2), t0, "precondition", v(9))}), reports.Violated, "stale version")
	expect(t, "bug: a version that did not increase", check.ServerIntegrity([]fakeserver.Event{good[0],
		event(2, fakeserver.OpUpdate, "e1", v(1), v(1), t0)}), reports.Violated, "went from")
	expect(t, "bug: updatedAt went back", check.ServerIntegrity([]fakeserver.Event{good[0],
		event(2, fakeserver.OpInsert, "e2", "", v(2), t0.Add(-time.Second))}), reports.Violated, "updatedAt")
	expect(t, "a clock-skew fault may send it back", check.ServerIntegrity([]fakeserver.Event{good[0],
		event(2, fakeserver.OpInsert, "e2", "", v(2), t0.Add(-time.Second), "faults", "clock-skew")}), reports.Holds, "")
	expect(t, "a page the page size cut, with its Link", check.ServerIntegrity([]fakeserver.Event{{Seq: 1, Op: fakeserver.OpQuery, Status: 200,
		Rows: 2, Cut: true, Next: true}}), reports.Holds, "")
	expect(t, "bug: a page the page size cut, without its Link", check.ServerIntegrity([]fakeserver.Event{{Seq: 1, Op: fakeserver.OpQuery,
		Status: 200, Rows: 2, Cut: true}}), reports.Violated, "no Link")
	expect(t, "bug: a deleted row in a query", check.ServerIntegrity([]fakeserver.Event{{Seq: 1, Op: fakeserver.OpQuery, Rows: 1, Tombstones: 1}}),
		reports.Violated, "without __includeDeleted")
	// A history a client recorded has no VersionBefore: the last version seen stands in.
	seen := []fakeserver.Event{event(1, fakeserver.OpUpdate, "e1", "", v(5), t0), event(2, fakeserver.OpUpdate, "e1", "", v(6), t0, "precondition", v(4))}
	expect(t, "bug: a stale write seen from outside", check.ServerIntegrity(seen), reports.Violated, "stale version")
	unchanged := []fakeserver.Event{event(1, fakeserver.OpUpdate, "e1", "", v(5), t0.Add(time.Second)), event(2, fakeserver.OpUpdate, "e2", "", v(6), t0.Add(2*time.Second)),
		event(3, fakeserver.OpUndelete, "e1", "", v(5), t0.Add(time.Second))}
	expect(t, "seen from outside, an undelete of a live row changes nothing", check.ServerIntegrity(unchanged), reports.Holds, "")
	opaque := []fakeserver.Event{event(1, fakeserver.OpUpdate, "e1", "", "W/1", t0), event(2, fakeserver.OpUpdate, "e1", "", "W/2", t0)}
	expect(t, "opaque versions cannot be ordered", check.ServerIntegrity(opaque), reports.Unknown, "opaque")
	dropped := append([]fakeserver.Event{{Seq: 7, Source: fakeserver.SourceDropped, Dropped: 7}}, good...)
	expect(t, "a history with dropped events cannot be judged whole", check.ServerIntegrity(dropped), reports.Unknown, "dropped 7 event(s)")
}

func TestTally(t *testing.T) {
	var tl check.Tally
	tl.Add(check.Finding{Property: "P1", Verdict: reports.Holds})
	tl.Add(check.Finding{Property: "P1", Verdict: reports.Unknown, Detail: "u"})
	tl.Add(check.Finding{Property: "P5", Verdict: reports.Violated, Detail: "v"})
	tl.Add(check.Finding{Property: "P5", Verdict: reports.Holds})
	got := tl.Results()
	if len(got) != 2 || got[0].ID != "P1" || got[0].Verdict != reports.Unknown || got[0].Checks != 2 ||
		got[1].Verdict != reports.Violated || got[1].Detail != "v" || got[1].Name != "strategy" {
		t.Fatalf("tally: %+v", got)
	}
}

func TestStrategyIgnoresConflictsTheClientNeverSaw(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "e1", 1)}
	before := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine")}}, queued, nil)
	lost := check.Request{Method: "PATCH", Table: "todo", ItemID: "e1", Status: 412, Answered: false}
	expect(t, "a 412 whose answer was dropped", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: before,
		Requests: []check.Request{lost}, Status: "CancelledByNetworkError", Server: func(string, string) map[string]any { return nil }}),
		reports.Holds, "")
}

func TestStrategyClientWinsRetries(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "e1", 1)}
	before := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine")}}, queued, nil)
	try := func(version string) check.Request {
		return check.Request{Method: "PATCH", Table: "todo", ItemID: "e1", Status: 412, Answered: true, Precondition: []string{version}}
	}
	gaveUp := before
	gaveUp.Errors = []store.OperationError{{Table: "todo", ItemID: "e1", Status: 412}}
	server := func(string, string) map[string]any { return row("e1", "text", "theirs") }
	expect(t, "gave up after its tries, each against a newer version", check.Strategy(check.PushObs{Strategy: "client-wins", Before: before,
		After: gaveUp, Requests: []check.Request{try("v1"), try("v2"), try("v3")}, Status: "Complete", Server: server}), reports.Holds, "")
	expect(t, "bug: sent again with the version it was refused with", check.Strategy(check.PushObs{Strategy: "client-wins", Before: before,
		After: gaveUp, Requests: []check.Request{try("v1"), try("v1")}, Status: "Complete", Server: server}), reports.Violated, "sent again with the version v1")
	expect(t, "bug: still queued with no error", check.Strategy(check.PushObs{Strategy: "client-wins", Before: before,
		After: before, Requests: []check.Request{try("v1")}, Status: "Complete", Server: server}), reports.Violated, "still queued")
	done := snap(map[string][]map[string]any{"todo": {row("e1", "text", "mine")}}, nil, nil)
	expect(t, "an identical item is a success under cancel", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: done,
		Requests: []check.Request{try("v1")}, Status: "Complete", Server: server, IdenticalIsSuccess: true}), reports.Holds, "")
}

func TestPurgePushesFirst(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "a", 1)}
	rows := map[string][]map[string]any{"todo": {row("a", "done", true), row("b", "done", true), row("c", "done", false)}}
	before := snap(rows, queued, nil)
	done := func(r map[string]any) bool { return r["done"] == true }
	failedPush := snap(map[string][]map[string]any{"todo": {row("a", "done", true, "version", "AAAAAAAAAAk="), row("b", "done", true),
		row("c", "done", false)}}, queued, nil)
	failedPush.Errors = []store.OperationError{{Table: "todo", ItemID: "a", Status: 412}}
	refused := []check.Request{{Method: "PATCH", Table: "todo", ItemID: "a", Status: 412, Answered: true}}
	pushed := []check.Request{{Method: "PATCH", Table: "todo", ItemID: "a", Status: 200, Applied: true, Answered: true}}
	expect(t, "a failed push leaves the rows; its error is recorded", check.Purge(check.PurgeObs{Table: "todo", Match: done, PushesFirst: true,
		Before: before, After: failedPush, Err: errPending, Requests: refused}), reports.Holds, "")
	expect(t, "bug: the option ignored, the purge refused unpushed", check.Purge(check.PurgeObs{Table: "todo", Match: done, PushesFirst: true,
		Before: before, After: before, Err: errPending, PendingChanges: true}), reports.Violated, "sent no write")
	expect(t, "bug: purged although its push failed", check.Purge(check.PurgeObs{Table: "todo", Match: done, PushesFirst: true,
		Before: before, After: snap(map[string][]map[string]any{"todo": {row("c", "done", false)}}, queued, nil), Err: errPending,
		Requests: refused}), reports.Violated, "removed todo/b")
	expect(t, "pushed, then purged what the query names", check.Purge(check.PurgeObs{Table: "todo", Match: done, PushesFirst: true,
		Before: before, After: snap(map[string][]map[string]any{"todo": {row("c", "done", false)}}, nil, nil), Requests: pushed}),
		reports.Holds, "")
	expect(t, "bug: purged a row the query does not name", check.Purge(check.PurgeObs{Table: "todo", Match: done, PushesFirst: true,
		Before: before, After: snap(map[string][]map[string]any{"todo": {}}, nil, nil), Requests: pushed}), reports.Violated, "does not name")
}

// P9: rows below the token must be local at the server's version; right after a pull with
// no page-shift, rows at the token too (IncrementalCompleteAt), which is what a client that
// asks "gt" instead of "ge" misses.
func TestIncrementalComplete(t *testing.T) {
	token := time.Date(2014, 6, 11, 0, 0, 0, 2_000_000, time.UTC)
	at := func(ms int) string {
		return time.Date(2014, 6, 11, 0, 0, 0, ms*1_000_000, time.UTC).Format(fakeserver.TimeFormat)
	}
	server := []map[string]any{row("a", "updatedAt", at(1)), row("b", "updatedAt", at(2)), row("c", "updatedAt", at(3)),
		row("d", "updatedAt", at(1), "deleted", true)}
	all := snap(map[string][]map[string]any{"todo": {row("a"), row("b")}}, nil, nil)
	expect(t, "rows below and at the token are local", check.IncrementalCompleteAt("todo", token, server, all), reports.Holds, "")
	missingAt := snap(map[string][]map[string]any{"todo": {row("a")}}, nil, nil)
	expect(t, "a row at the token may come later (page-shift)", check.IncrementalComplete("todo", token, server, missingAt), reports.Holds, "")
	expect(t, "bug: the row at the token never came (gt)", check.IncrementalCompleteAt("todo", token, server, missingAt), reports.Violated,
		"at the delta token")
	missingBelow := snap(map[string][]map[string]any{"todo": {row("b")}}, nil, nil)
	expect(t, "bug: a row below the token is missing", check.IncrementalComplete("todo", token, server, missingBelow), reports.Violated,
		"below the delta token")
	queued := snap(map[string][]map[string]any{"todo": {row("b")}}, []store.Operation{op("o1", store.Update, "todo", "a", 1)}, nil)
	expect(t, "a row with a queued operation is the client's", check.IncrementalComplete("todo", token, server, queued), reports.Holds, "")
	resurrected := snap(map[string][]map[string]any{"todo": {row("a"), row("b"), row("d")}}, nil, nil)
	expect(t, "bug: a row deleted below the token is still local", check.IncrementalComplete("todo", token, server, resurrected),
		reports.Violated, "deleted on the server")
	stale := snap(map[string][]map[string]any{"todo": {row("a", "version", "AAAAAAAAAAA="), row("b")}}, nil, nil)
	expect(t, "bug: an old version below the token", check.IncrementalComplete("todo", token, server, stale), reports.Violated, "version")
}

// P5 under TreatIdenticalAsSuccess: a conflict whose server item is what was sent is a
// success whatever the strategy; a client that leaves it queued ignores the option.
func TestIdenticalIsSuccess(t *testing.T) {
	queued := []store.Operation{op("o1", store.Insert, "todo", "a", 1)}
	before := snap(map[string][]map[string]any{"todo": {row("a", "text", "mine")}}, queued, nil)
	conflict := []check.Request{{Method: "POST", Table: "todo", ItemID: "a", Status: 409, Answered: true}}
	server := func(text string) func(string, string) map[string]any {
		return func(_, id string) map[string]any { return row(id, "text", text, "version", "AAAAAAAAAAk=") }
	}
	settled := snap(map[string][]map[string]any{"todo": {row("a", "text", "mine", "version", "AAAAAAAAAAk=")}}, nil, nil)
	expect(t, "identical: the insert left the queue", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: settled,
		Requests: conflict, Status: "Complete", Server: server("mine"), IdenticalIsSuccess: true}), reports.Holds, "")
	expect(t, "bug: identical, yet cancelled", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: before,
		Requests: conflict, Status: "CancelledByOperation", Server: server("mine"), IdenticalIsSuccess: true}), reports.Violated, "still queued")
	expect(t, "bug: identical, yet left to the app", check.Strategy(check.PushObs{Strategy: "manual", Before: before, After: before,
		Requests: conflict, Status: "Complete", Server: server("mine"), IdenticalIsSuccess: true}), reports.Violated, "still queued")
	expect(t, "not identical: cancel keeps it", check.Strategy(check.PushObs{Strategy: "cancel", Before: before, After: before,
		Requests: conflict, Status: "CancelledByOperation", Server: server("theirs"), IdenticalIsSuccess: true}), reports.Holds, "")
}

// P9 over the rows a pull skipped for an operation queued while it ran: without
// SkippedRowsMoveToken they do not count, so the token cannot be their updatedAt alone.
func TestIncrementalSkippedRows(t *testing.T) {
	token := time.Date(2014, 6, 11, 0, 0, 0, 5_000_000, time.UTC)
	server := []map[string]any{row("a", "updatedAt", "2014-06-11T00:00:00.005Z", "version", "AAAAAAAAAAk="),
		row("b", "updatedAt", "2014-06-11T00:00:00.002Z")}
	local := snap(map[string][]map[string]any{"todo": {row("a", "text", "mine"), row("b")}}, []store.Operation{op("o1", store.Update, "todo", "a", 1)}, nil)
	obs := check.IncrementalObs{Table: "todo", Token: token, Server: server, Local: local, Skipped: true, Moved: true}
	expect(t, "bug: the token moved to a skipped row's time", check.Incremental(obs), reports.Violated, "skipped for a queued operation")
	obs.SkipMoves = true
	expect(t, "the option lets it", check.Incremental(obs), reports.Holds, "")
	obs.SkipMoves, obs.Moved = false, false
	expect(t, "an earlier pull's token", check.Incremental(obs), reports.Holds, "")
	obs.Moved = true
	obs.Server = append(obs.Server, row("c", "updatedAt", "2014-06-11T00:00:00.005Z"))
	obs.Local.Rows["todo"]["c"] = row("c")
	expect(t, "a stored row at the same time moved it", check.Incremental(obs), reports.Holds, "")
}

// P11 over the errors a store keeps: an error stays while its operation stays queued and
// the push got no answer for it.
func TestErrorsKept(t *testing.T) {
	queued := []store.Operation{op("o1", store.Update, "todo", "a", 1)}
	before := snap(nil, queued, nil)
	before.Errors = []store.OperationError{{OperationID: "o1", Kind: store.Update, Table: "todo", ItemID: "a", Status: 412}}
	lost := snap(nil, queued, nil)
	cut := []check.Request{{Method: "PATCH", Table: "todo", ItemID: "a"}} // sent, no answer: the network failed
	expect(t, "the error kept through a cut push", check.ErrorsKept(before, before, cut), reports.Holds, "")
	expect(t, "bug: the error dropped when the operation was marked attempted", check.ErrorsKept(before, lost, cut), reports.Violated, "is gone")
	answered := []check.Request{{Method: "PATCH", Table: "todo", ItemID: "a", Status: 200, Applied: true, Answered: true}}
	expect(t, "settled: operation and error gone", check.ErrorsKept(before, snap(nil, nil, nil), answered), reports.Holds, "")
	expect(t, "answered: the push may replace the error", check.ErrorsKept(before, lost, answered), reports.Holds, "")
}
