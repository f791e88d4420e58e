// Package properties drives real sync clients, another writer, faults and restarts against
// the fake server in rapid state machines, and checks every property of docs/properties.md after
// the actions they are about. A failure is shrunk by rapid and written down as a scenario file
// (docs/scenario-format.md) that conflictlab run replays.
package properties

import (
	"strings"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
)

// The reference model of a client's queue: docs/semantics.md's collapse matrix as a pure function.
// The machine feeds it the queue and the row it observes before a local write, and compares
// its answer with the queue the client keeps after (P3). Pushes, pulls and purges change the
// queue in ways the model does not predict (they depend on the server); after them the model
// starts again from what it observes.

// modelOp is a queued operation as the model sees it.
type modelOp struct {
	kind  store.OpKind
	table string
	id    string
	sent  bool // attempted or failed: no longer pending
}

// fromStore reads a queue in order.
func fromStore(ops []store.Operation) []modelOp {
	entries := check.Entries(ops)
	byID := map[string]store.Operation{}
	for _, op := range ops {
		byID[strings.ToLower(op.Table)+"/"+strings.ToLower(op.ItemID)] = op
	}
	out := make([]modelOp, len(entries))
	for i, e := range entries {
		out[i] = modelOp{kind: e.Kind, table: e.Table, id: e.ItemID, sent: byID[e.Table+"/"+e.ItemID].State != store.Pending}
	}
	return out
}

func entries(q []modelOp) []check.QueueEntry {
	out := make([]check.QueueEntry, len(q))
	for i, op := range q {
		out[i] = check.QueueEntry{Kind: op.kind, Table: op.table, ItemID: op.id}
	}
	return out
}

// collapse applies a local write of kind to item (table, id) whose row exists locally or not.
// It returns the queue after, or fails when the matrix refuses the write. deleteAtTail is
// .NET's option for update + delete.
func collapse(q []modelOp, kind store.OpKind, table, id string, rowExists, deleteAtTail bool) (next []modelOp, fails bool) {
	table, id = strings.ToLower(table), strings.ToLower(id)
	at := -1
	for i, op := range q {
		if op.table == table && op.id == id {
			at = i
		}
	}
	next = append([]modelOp(nil), q...)
	if at < 0 {
		if kind == store.Insert && rowExists {
			return q, true // the item already exists
		}
		return append(next, modelOp{kind: kind, table: table, id: id}), false
	}
	existing := q[at]
	switch {
	case kind == store.Insert, existing.kind == store.Delete:
		return q, true
	case kind == store.Update:
		return next, false // insert + update keeps the insert; update + update the first update
	case existing.kind == store.Insert && existing.sent:
		return q, true // the insert was already sent: inconsistent state
	case existing.kind == store.Insert:
		return append(next[:at], next[at+1:]...), false // both vanish
	case deleteAtTail:
		next = append(next[:at], next[at+1:]...)
		return append(next, modelOp{kind: store.Delete, table: table, id: id}), false
	default:
		next[at] = modelOp{kind: store.Delete, table: table, id: id}
		return next, false
	}
}
