package check_test

import (
	"errors"
	"testing"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/reports"
)

// P11: the errors a push shows its handler are the store's, and a resolution does what its
// kind says.

func recorded(table, id string, status int, opID string) store.OperationError {
	return store.OperationError{OperationID: opID, Table: table, ItemID: id, Status: status}
}

func TestHandlerShownTheRecordedErrors(t *testing.T) {
	after := snap(nil, []store.Operation{op("o1", store.Update, "todo", "e1", 1), op("o2", store.Update, "todo", "e2", 2)}, nil)
	after.Errors = []store.OperationError{recorded("todo", "e1", 412, "o1"), recorded("TodoItem", "e2", 500, "o2")}
	both := []check.ShownError{{Table: "todo", ItemID: "E1", Status: 412}, {Table: "todoitem", ItemID: "e2", Status: 500}}
	expect(t, "shown this push's and an earlier push's error", check.HandlerShown("complete", both, after), reports.Holds, "")
	expect(t, "bug: an earlier push's error not shown", check.HandlerShown("complete", both[:1], after), reports.Violated,
		"not shown the recorded error(s) todoitem/e2 500")
	wrong := []check.ShownError{{Table: "todo", ItemID: "e1", Status: 409}, both[1]}
	expect(t, "bug: shown the wrong status", check.HandlerShown("complete", wrong, after), reports.Violated, "todo/e1 412")
	ghost := append([]check.ShownError{{Table: "todo", ItemID: "e3", Status: 400}}, both...)
	expect(t, "bug: shown an error the store does not hold", check.HandlerShown("complete", ghost, after), reports.Violated,
		"shown error(s) todo/e3 400 the store does not hold")

	// A cancelled push shows the conflict it stopped at, which it does not record.
	cancelled := append([]check.ShownError{{Table: "todo", ItemID: "e2", Status: 412}}, both...)
	expect(t, "a cancelled push shows its conflict too", check.HandlerShown("cancelled-by-operation", cancelled, after), reports.Holds, "")
	expect(t, "bug: a completed push shows an unrecorded conflict", check.HandlerShown("complete", cancelled, after), reports.Violated,
		"todo/e2 412 the store does not hold")
	gone := snap(nil, nil, nil)
	expect(t, "bug: a cancelled push shows a conflict of an item no longer queued",
		check.HandlerShown("cancelled-by-operation", []check.ShownError{{Table: "todo", ItemID: "e2", Status: 412}}, gone),
		reports.Violated, "the store does not hold")
}

// handler is a test double of a push handler that resolves in OnPushComplete and keeps what it
// was shown: the store it resolves in is a Snapshot, changed as each resolution says — or as a
// buggy client would change it.
type handler struct {
	store check.Snapshot
}

func (h *handler) resolve(how, table, id string, item map[string]any, bug string) (before, after check.Snapshot) {
	before = clone(h.store)
	s := clone(h.store)
	opID := ""
	for _, o := range s.Ops {
		if o.ItemID == id {
			opID = o.ID
		}
	}
	if bug != "keep-error" {
		var errs []store.OperationError
		for _, e := range s.Errors {
			if e.OperationID != opID {
				errs = append(errs, e)
			}
		}
		s.Errors = errs
	}
	dropOp := func() {
		var ops []store.Operation
		for _, o := range s.Ops {
			if o.ID != opID {
				ops = append(ops, o)
			}
		}
		s.Ops = ops
	}
	switch how {
	case "cancel-and-update":
		if bug != "keep-op" {
			dropOp()
		}
		if bug != "keep-row" {
			s.Rows[table][id] = item
		}
	case "cancel-and-discard":
		dropOp()
		if bug != "keep-row" {
			delete(s.Rows[table], id)
		}
	case "update-operation":
		if bug == "drop-op" {
			dropOp()
		}
		switch bug {
		case "keep-row":
		case "restamp": // the item stored with an updatedAt of its own
			stamped := map[string]any{"updatedAt": "2030-01-01T00:00:00.000Z"}
			for k, v := range item {
				if k != "updatedAt" {
					stamped[k] = v
				}
			}
			s.Rows[table][id] = stamped
		default:
			s.Rows[table][id] = item
		}
	}
	h.store = s
	return before, s
}

func clone(s check.Snapshot) check.Snapshot {
	out := check.Snapshot{Rows: map[string]map[string]map[string]any{}, Config: s.Config}
	for t, rows := range s.Rows {
		out.Rows[t] = map[string]map[string]any{}
		for id, r := range rows {
			out.Rows[t][id] = r
		}
	}
	out.Ops = append(out.Ops, s.Ops...)
	out.Errors = append(out.Errors, s.Errors...)
	return out
}

func TestResolutionDoesWhatItsKindSays(t *testing.T) {
	server := row("e1", "text", "theirs", "version", v2, "updatedAt", "2024-03-05T10:00:00.000Z")
	mine := row("e1", "text", "mine")
	other := row("e2", "text", "other")
	fresh := func() *handler {
		s := snap(map[string][]map[string]any{"todo": {mine, other}},
			[]store.Operation{op("o1", store.Update, "todo", "e1", 1), op("o2", store.Update, "todo", "e2", 2)}, nil)
		s.Errors = []store.OperationError{recorded("todo", "e1", 412, "o1"), recorded("todo", "e2", 500, "o2")}
		return &handler{store: s}
	}
	judge := func(how string, item map[string]any, bug string) check.Finding {
		before, after := fresh().resolve(how, "todo", "e1", item, bug)
		return check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: how, Item: item, Before: before, After: after})
	}
	expect(t, "cancel-and-update keeps the server's item", judge("cancel-and-update", server, ""), reports.Holds, "")
	expect(t, "bug: cancel-and-update keeps the operation", judge("cancel-and-update", server, "keep-op"), reports.Violated, "left the queue")
	expect(t, "bug: cancel-and-update keeps the error", judge("cancel-and-update", server, "keep-error"), reports.Violated, "left the errors")
	expect(t, "bug: cancel-and-update keeps the local row", judge("cancel-and-update", server, "keep-row"), reports.Violated, "changed todo/e1")
	expect(t, "cancel-and-discard drops the row", judge("cancel-and-discard", nil, ""), reports.Holds, "")
	expect(t, "bug: cancel-and-discard keeps the row", judge("cancel-and-discard", nil, "keep-row"), reports.Violated, "left todo/e1")
	winner := row("e1", "text", "mine", "version", v2)
	expect(t, "update-operation stores the item, keeps the operation", judge("update-operation", winner, ""), reports.Holds, "")
	expect(t, "bug: update-operation drops the operation", judge("update-operation", winner, "drop-op"), reports.Violated, "dropped the operation")
	expect(t, "bug: update-operation leaves the row", judge("update-operation", winner, "keep-row"), reports.Violated, "version: "+v1+", want "+v2)
	expect(t, "bug: update-operation keeps the error", judge("update-operation", winner, "keep-error"), reports.Violated, "left the errors")
	// The server-owned columns the item carries: dropped (the Go client) or stored as the item
	// has them (the JS SDK stores the item whole), never changed.
	stamped := row("e1", "text", "mine", "version", v2, "updatedAt", "2024-03-05T10:00:00.000Z")
	expect(t, "update-operation stores the item whole", judge("update-operation", stamped, ""), reports.Holds, "")
	expect(t, "bug: update-operation stamps the row anew", judge("update-operation", stamped, "restamp"), reports.Violated, "updatedAt")

	// A driver's snapshot need not carry the operation id in an error: items tell them apart.
	h0 := fresh()
	for i := range h0.store.Errors {
		h0.store.Errors[i].OperationID = ""
	}
	b0 := clone(h0.store)
	a0 := clone(h0.store)
	a0.Ops, a0.Errors = a0.Ops[1:], a0.Errors[1:]
	delete(a0.Rows["todo"], "e1")
	expect(t, "errors without operation ids", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "cancel-and-discard",
		Before: b0, After: a0}), reports.Holds, "")
	expect(t, "bug: errors without operation ids, the error kept", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1",
		How: "cancel-and-discard", Before: b0, After: func() check.Snapshot { a := clone(a0); a.Errors = b0.Errors; return a }()}),
		reports.Violated, "left the errors")

	// A tombstone passed to cancel-and-update removes the row.
	tomb := row("e1", "deleted", true, "version", v3)
	h := fresh()
	before, after := h.resolve("cancel-and-discard", "todo", "e1", nil, "") // what a tombstone does: the row goes
	expect(t, "cancel-and-update with a tombstone", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "cancel-and-update",
		Item: tomb, Before: before, After: after}), reports.Holds, "")
	_, kept := fresh().resolve("cancel-and-update", "todo", "e1", mine, "")
	expect(t, "bug: a tombstone stored as a row", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "cancel-and-update",
		Item: tomb, Before: before, After: kept}), reports.Violated, "left todo/e1")

	// A failed resolution (the operation changed since) changes nothing.
	s := fresh().store
	expect(t, "a refused resolution changes nothing", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "cancel-and-discard",
		Err: errors.New("operation updated"), Before: s, After: s}), reports.Holds, "")
	_, changed := fresh().resolve("cancel-and-discard", "todo", "e1", nil, "")
	expect(t, "bug: a refused resolution dropped the row", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "cancel-and-discard",
		Err: errors.New("operation updated"), Before: s, After: changed}), reports.Violated, "removed todo/e1")

	// Update-operation of a delete puts the item in the operation.
	delOp := store.Operation{ID: "o1", Kind: store.Delete, Table: "todo", ItemID: "e1", Sequence: 1, Item: mine}
	ds := snap(map[string][]map[string]any{"todo": {}}, []store.Operation{delOp}, nil)
	withItem := ds
	withItem.Ops = []store.Operation{{ID: "o1", Kind: store.Delete, Table: "todo", ItemID: "e1", Sequence: 1, Item: winner, State: store.Pending}}
	expect(t, "update-operation of a delete", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "update-operation",
		Item: winner, Before: ds, After: withItem}), reports.Holds, "")
	expect(t, "bug: update-operation of a delete keeps the old item", check.Resolution(check.ResolveObs{Table: "todo", ItemID: "e1", How: "update-operation",
		Item: winner, Before: ds, After: ds}), reports.Violated, "did not put the item in the delete")
}
