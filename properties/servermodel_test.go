package properties

import (
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
)

// ev is one write as the history records it; answered false drops the answer.
func ev(seq uint64, op fakeserver.Op, id string, status int, applied bool, after string, body map[string]any, answered bool, pre ...string) fakeserver.Event {
	e := fakeserver.Event{Seq: seq, Source: fakeserver.SourceHTTP, Client: "phone", Op: op, Table: "todo", ItemID: id,
		Status: status, Applied: applied, VersionAfter: after, Body: body, Precondition: pre}
	if !answered {
		e.Faults = []fakeserver.FaultHit{{ID: "f1", Action: "drop-response"}}
	}
	return e
}

func row(id, version string, deleted bool, kv ...any) map[string]any {
	r := map[string]any{"id": id, "version": version, "deleted": deleted, "updatedAt": "x", "createdAt": "x"}
	for i := 0; i+1 < len(kv); i += 2 {
		r[kv[i].(string)] = kv[i+1]
	}
	return r
}

func verdictOf(m *serverModel) reports.Verdict {
	f, _ := m.verdict()
	return f.Verdict
}

func TestServerModelFollowsALegalServer(t *testing.T) {
	m := newServerModel(false)
	m.feed([]fakeserver.Event{
		ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", map[string]any{"text": "a"}, true),
		ev(2, fakeserver.OpUpdate, "e1", 200, true, "v2", map[string]any{"text": "b"}, true, "v1"),
		ev(3, fakeserver.OpUpdate, "e1", 412, false, "", map[string]any{"text": "c"}, true, "v1"),
		ev(4, fakeserver.OpInsert, "e1", 409, false, "", map[string]any{"text": "d"}, true),
		ev(5, fakeserver.OpDelete, "e1", 200, true, "v3", nil, true, "v2"),
		ev(6, fakeserver.OpUndelete, "e1", 200, true, "v4", nil, true),
		ev(7, fakeserver.OpUndelete, "e1", 200, false, "", nil, true),
	})
	if v := verdictOf(m); v != reports.Holds || len(m.branches) != 1 {
		t.Fatalf("a legal history: %s, %d branches, %s", v, len(m.branches), m.killer)
	}
	if f := m.observe("todo", []map[string]any{row("e1", "v4", false, "text", "b")}); f.Verdict != reports.Holds {
		t.Fatalf("the server's rows: %+v", f)
	}
}

func TestServerModelCatchesAStaleWriteApplied(t *testing.T) {
	m := newServerModel(false)
	m.feed([]fakeserver.Event{
		ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", map[string]any{"text": "a"}, true),
		ev(2, fakeserver.OpUpdate, "e1", 200, true, "v2", map[string]any{"text": "b"}, true),
		ev(3, fakeserver.OpUpdate, "e1", 200, true, "v3", map[string]any{"text": "c"}, true, "v1"),
	})
	f, _ := m.verdict()
	if f.Verdict != reports.Violated || !strings.Contains(f.Detail, "event 3") {
		t.Fatalf("a server that ignores If-Match: %+v", f)
	}
}

func TestServerModelForksOnALostAnswer(t *testing.T) {
	m := newServerModel(false)
	m.feed([]fakeserver.Event{
		ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", map[string]any{"text": "a"}, true),
		ev(2, fakeserver.OpUpdate, "e1", 200, true, "v2", map[string]any{"text": "mine"}, false, "v1"),
	})
	if len(m.branches) != 2 {
		t.Fatalf("a lost answer forks the model: %d branches", len(m.branches))
	}
	// The client sends again with the version it had: a 412 says the first one applied.
	m.feed([]fakeserver.Event{ev(3, fakeserver.OpUpdate, "e1", 412, false, "", map[string]any{"text": "mine"}, true, "v1")})
	if len(m.branches) != 1 || m.branches[0]["todo/e1"].data["text"] != "mine" {
		t.Fatalf("the 412 leaves the branch where the update applied: %+v", m.branches)
	}
	if f := m.observe("todo", []map[string]any{row("e1", "v2", false, "text", "mine")}); f.Verdict != reports.Holds {
		t.Fatalf("%+v", f)
	}
	if m.branches[0]["todo/e1"].version != "v2" {
		t.Fatalf("the server's rows tell the version the lost answer carried: %+v", m.branches[0])
	}
}

func TestServerModelCatchesALostAcknowledgedWrite(t *testing.T) {
	m := newServerModel(false)
	m.feed([]fakeserver.Event{
		ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", map[string]any{"text": "a"}, true),
		ev(2, fakeserver.OpUpdate, "e1", 200, true, "v2", map[string]any{"text": "b"}, true),
	})
	f := m.observe("todo", []map[string]any{row("e1", "v2", false, "text", "a")})
	if f.Verdict != reports.Violated || !strings.Contains(f.Detail, "holds map[text:a], the model says map[text:b]") {
		t.Fatalf("a server that loses an acknowledged write: %+v", f)
	}
	m = newServerModel(false)
	m.feed([]fakeserver.Event{ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", nil, true)})
	if f := m.observe("todo", []map[string]any{row("e1", "v1", false), row("e9", "v5", false)}); f.Verdict != reports.Violated {
		t.Fatalf("a row no write created: %+v", f)
	}
}

func TestServerModelSaysWhenItCannotDecide(t *testing.T) {
	m := newServerModel(false)
	var events []fakeserver.Event
	for i := range 12 {
		id := string(rune('a' + i))
		events = append(events, ev(uint64(i+1), fakeserver.OpInsert, id, 201, true, "v", map[string]any{"n": float64(i)}, false))
	}
	m.feed(events)
	if v := verdictOf(m); v != reports.Unknown {
		t.Fatalf("4096 possible states: %s (%d branches)", v, len(m.branches))
	}
}

// Under hard delete a deleted row is gone: the model expects no tombstone, lets the id be
// inserted anew, and catches a server that keeps the row.
func TestServerModelHardDelete(t *testing.T) {
	history := []fakeserver.Event{
		ev(1, fakeserver.OpInsert, "e1", 201, true, "v1", map[string]any{"text": "a"}, true),
		ev(2, fakeserver.OpDelete, "e1", 200, true, "v2", nil, true, "v1"),
		ev(3, fakeserver.OpUndelete, "e1", 404, false, "", nil, true),
	}
	m := newServerModel(true)
	m.feed(history)
	if f := m.observe("todo", nil); f.Verdict != reports.Holds {
		t.Fatalf("a hard-deleted row, gone: %+v", f)
	}
	m.feed([]fakeserver.Event{ev(4, fakeserver.OpInsert, "e1", 201, true, "v3", map[string]any{"text": "b"}, true)})
	if f := m.observe("todo", []map[string]any{row("e1", "v3", false, "text", "b")}); f.Verdict != reports.Holds {
		t.Fatalf("the id inserted anew: %+v", f)
	}
	kept := newServerModel(true)
	kept.feed(history[:2])
	if f := kept.observe("todo", []map[string]any{row("e1", "v2", true, "text", "a")}); f.Verdict != reports.Violated {
		t.Fatalf("a server that keeps a tombstone under hard delete: %+v", f)
	}
	soft := newServerModel(false)
	soft.feed(history[:2])
	if f := soft.observe("todo", nil); f.Verdict != reports.Violated {
		t.Fatalf("a server that loses a soft-deleted row: %+v", f)
	}
}
