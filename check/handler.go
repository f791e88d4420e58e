package check

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
)

// ShownError is one operation error a push handed its handler's OnPushComplete (and its
// caller), as P11 compares them with the store's.
type ShownError struct {
	Table  string
	ItemID string
	Status int
}

func (e ShownError) String() string {
	return fmt.Sprintf("%s/%s %d", strings.ToLower(e.Table), strings.ToLower(e.ItemID), e.Status)
}

// HandlerShown checks P11 after a push: the errors its handler was shown equal the errors
// recorded in the store after it — this push's and those earlier pushes left — compared by
// table, item and status. A push a handler cancelled (status cancelled-by-operation, or
// CancelledByOperation) also shows the conflict it stopped at, which is not recorded
// (docs/semantics.md#push): one shown error more, a conflict of an item still queued.
func HandlerShown(status string, shown []ShownError, after Snapshot) Finding {
	const p = "P11"
	var recorded []string
	for _, e := range after.Errors {
		recorded = append(recorded, ShownError{Table: e.Table, ItemID: e.ItemID, Status: e.Status}.String())
	}
	var got []string
	for _, e := range shown {
		got = append(got, e.String())
	}
	extra := minus(got, recorded)
	missing := minus(recorded, got)
	if len(missing) > 0 {
		return violated(p, "the handler was not shown the recorded error(s) %s (shown: %s)", strings.Join(missing, ", "), orNothing(got))
	}
	cancelled := status == "cancelled-by-operation" || status == "CancelledByOperation"
	if cancelled && len(extra) == 1 {
		for _, e := range shown {
			if e.String() != extra[0] {
				continue
			}
			if _, queued := find(after.Ops, e.Table, e.ItemID); queued && (e.Status == 409 || e.Status == 412 || e.Status == 404) {
				return holds(p) // the conflict the cancelled push stopped at
			}
		}
	}
	if len(extra) > 0 {
		return violated(p, "the handler was shown error(s) %s the store does not hold (recorded: %s)", strings.Join(extra, ", "), orNothing(recorded))
	}
	return holds(p)
}

// minus is a less b, as multisets.
func minus(a, b []string) []string {
	left := slices.Clone(b)
	var out []string
	for _, x := range a {
		if i := slices.Index(left, x); i >= 0 {
			left = slices.Delete(left, i, i+1)
			continue
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

func orNothing(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	slices.Sort(list)
	return strings.Join(list, ", ")
}

// ResolveObs is one resolution of a recorded error, as a client lived it.
type ResolveObs struct {
	Table, ItemID string
	// How is cancel-and-update, cancel-and-discard or update-operation.
	How string
	// Item is the item passed (nil for cancel-and-discard).
	Item map[string]any
	// Before and After are the store around the resolution (Rows holding Table at least).
	Before, After Snapshot
	// Err is the resolution's error.
	Err error
}

// Resolution checks P11 for a resolution (docs/semantics.md#push, client/resolve.go): one
// that failed changed nothing; cancel-and-update removed the operation and its error and left
// the item as the local row (a tombstone: no row); cancel-and-discard removed the operation,
// its error and the local row; update-operation kept the operation, pending again, removed its
// error and stored the item (server-owned columns aside) as the local row, or for a delete in
// the operation. Nothing else changes.
func Resolution(o ResolveObs) Finding {
	const p = "P11"
	if o.Err != nil {
		return unchanged(p, o.Before, o.After, fmt.Sprintf("a failed %s (%v)", o.How, o.Err))
	}
	table, id := strings.ToLower(o.Table), strings.ToLower(o.ItemID)
	op, ok := find(o.Before.Ops, o.Table, o.ItemID)
	if !ok {
		return unknown(p, "%s of %s/%s succeeded with no operation queued for the item", o.How, o.Table, o.ItemID)
	}
	want := Snapshot{Rows: map[string]map[string]map[string]any{}, Config: o.Before.Config}
	for t, rows := range o.Before.Rows {
		want.Rows[t] = maps.Clone(rows)
	}
	if want.Rows[table] == nil {
		want.Rows[table] = map[string]map[string]any{}
	}
	// Items, not ids: one operation per item, one error per operation, and a driver's
	// snapshot need not carry the operation id in an error.
	for _, e := range o.Before.Errors {
		if !strings.EqualFold(e.Table, o.Table) || !strings.EqualFold(e.ItemID, o.ItemID) {
			want.Errors = append(want.Errors, e)
		}
	}
	what := fmt.Sprintf("%s of %s/%s", o.How, o.Table, o.ItemID)
	switch o.How {
	case "cancel-and-update":
		want.Ops = without(o.Before.Ops, op)
		if deleted(o.Item) {
			delete(want.Rows[table], id)
		} else {
			want.Rows[table][id] = withItemID(o.Item, o.ItemID)
		}
	case "cancel-and-discard":
		want.Ops = without(o.Before.Ops, op)
		delete(want.Rows[table], id)
	case "update-operation":
		want.Ops = o.Before.Ops
		after, kept := find(o.After.Ops, o.Table, o.ItemID)
		switch {
		case !kept || after.Kind != op.Kind:
			return violated(p, "%s dropped the operation, which it must keep", what)
		case after.State != "" && after.State != store.Pending:
			return violated(p, "%s left the operation %s, not pending", what, after.State)
		}
		item := withItemID(localColumns(o.Item), o.ItemID)
		if op.Kind == store.Delete {
			if !same(item, after.Item) {
				return violated(p, "%s did not put the item in the delete: %s", what, diff(item, after.Item))
			}
		} else {
			// The server-owned columns the item carries may be dropped (the Go client) or kept
			// as the item has them (the JS SDK stores the item whole): neither changes a value.
			for k, v := range o.After.Rows[table][id] {
				if serverOwned(k) && SameValue(k, o.Item[k], v) {
					item[k] = v
				}
			}
			want.Rows[table][id] = item
		}
	default:
		return unknown(p, "resolution %q: P11 judges cancel-and-update, cancel-and-discard and update-operation", o.How)
	}
	return unchanged(p, want, o.After, what)
}

// without is ops less the operation of drop's item.
func without(ops []store.Operation, drop store.Operation) []store.Operation {
	var out []store.Operation
	for _, op := range ops {
		if !strings.EqualFold(op.Table, drop.Table) || !strings.EqualFold(op.ItemID, drop.ItemID) {
			out = append(out, op)
		}
	}
	return out
}

func deleted(item map[string]any) bool {
	for k, v := range item {
		if b, ok := v.(bool); ok && b && strings.EqualFold(strings.TrimPrefix(k, "__"), "deleted") {
			return true
		}
	}
	return false
}

// localColumns drops the server-owned columns (createdAt, updatedAt, deleted) a local write
// strips.
func localColumns(item map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		if !serverOwned(k) {
			out[k] = v
		}
	}
	return out
}

// serverOwned reports whether a column is one the server keeps (createdAt, updatedAt,
// deleted, in either dialect's spelling).
func serverOwned(column string) bool {
	switch strings.ToLower(strings.TrimPrefix(column, "__")) {
	case "createdat", "updatedat", "deleted":
		return true
	}
	return false
}

func withItemID(item map[string]any, id string) map[string]any {
	out := maps.Clone(item)
	if out == nil {
		out = map[string]any{}
	}
	for k := range out {
		if strings.EqualFold(k, "id") {
			return out
		}
	}
	out["id"] = id
	return out
}

// ErrorsKept checks P11 over a push (or the push a pull or purge made): an operation error
// the store recorded before stays recorded while its operation stays queued, unless the push
// got an answer for that item (which records a new error or settles it). A store that drops
// an error when the push marks its operation attempted again hides from every later handler
// and app what went wrong, although nothing was settled.
func ErrorsKept(before, after Snapshot, reqs []Request) Finding {
	const p = "P11"
	for _, e := range before.Errors {
		if _, queued := find(after.Ops, e.Table, e.ItemID); !queued {
			continue // settled, collapsed or resolved: its error may go
		}
		if _, kept := findError(after.Errors, e.Table, e.ItemID); kept {
			continue
		}
		answered := slices.ContainsFunc(reqs, func(r Request) bool {
			return r.isWrite() && r.Answered && strings.EqualFold(r.Table, e.Table) && strings.EqualFold(r.ItemID, e.ItemID)
		})
		if !answered {
			return violated(p, "the error recorded for the %s of %s/%s (%d) is gone, yet the operation is still queued and got no answer (requests: %s)",
				e.Kind, e.Table, e.ItemID, e.Status, list(reqs))
		}
	}
	return holds(p)
}
