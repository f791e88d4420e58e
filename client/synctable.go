package client

import (
	"context"
	"errors"
	"github.com/conflictlab/conflictlab/internal/mutants"

	"strings"

	"github.com/google/uuid"

	"github.com/conflictlab/conflictlab/client/store"
)

// SyncTable is one table of a SyncContext: local reads and writes, pull and purge.
type SyncTable struct {
	sc     *SyncContext
	name   string
	remote *Table
}

// Name returns the table's name.
func (st *SyncTable) Name() string { return st.name }

func (st *SyncTable) checkName() error {
	if !tableNameRE.MatchString(st.name) {
		return wrap(ErrInvalidOperation, "table name %q: want 1 to 128 letters, digits or _", st.name)
	}
	return nil
}

// checkID refuses ids the server would refuse (docs/protocol.md), so they never reach the queue.
func checkID(id string) error {
	if id == "" || len(id) > 255 {
		return wrap(ErrInvalidOperation, "id must be 1 to 255 characters, got %d", len(id))
	}
	if id == "." || id == ".." || strings.ContainsAny(id, "/?#\\") {
		return wrap(ErrInvalidOperation, "id %q: must not be . or .. or contain / ? # \\", id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return wrap(ErrInvalidOperation, "id %q: contains a control character", id)
		}
	}
	return nil
}

// localItem is a copy of item as a local write stores it: the server-owned system columns
// (createdAt, updatedAt, deleted) are removed; version stays.
func localItem(item Item) Item {
	out := make(Item, len(item))
	for k, v := range item {
		if !isServerOwned(k) {
			out[k] = v
		}
	}
	return out
}

// idFor returns the item's id, which must be a non-empty string.
func idFor(item Item) (string, error) {
	v, ok := lookup(item, ColumnID)
	if !ok || v == nil {
		return "", wrap(ErrInvalidOperation, "the item has no id")
	}
	s, ok := v.(string)
	if !ok {
		return "", wrap(ErrInvalidOperation, "the item's id must be a string, got %T", v)
	}
	return s, checkID(s)
}

// setID makes the item's id be exactly one key, "id".
func setID(item Item, id string) {
	for k := range item {
		if strings.EqualFold(k, ColumnID) {
			delete(item, k)
		}
	}
	item[ColumnID] = id
}

// Insert stores a new item locally and queues its insert. Without an id it gets a new one.
// An item that exists locally, or one with a queued operation, is refused with
// ErrInvalidOperation ("This item already exists"). It returns the stored item.
func (st *SyncTable) Insert(ctx context.Context, item Item) (Item, error) {
	if err := st.checkName(); err != nil {
		return nil, err
	}
	if item == nil {
		return nil, wrap(ErrInvalidOperation, "insert of a nil item")
	}
	row := localItem(item)
	id, err := idFor(row)
	if v, ok := lookup(row, ColumnID); !ok || v == nil {
		id, err = uuid.NewString(), nil
	}
	if err != nil {
		return nil, err
	}
	setID(row, id)
	err = st.write(ctx, id, func(w store.Writer, op *store.Operation) (*store.Operation, error) {
		if op != nil {
			return nil, wrap(ErrInvalidOperation, "insert of %s/%s: the item has a queued %s", st.name, id, op.Kind)
		}
		if _, err := w.Row(st.name, id); err == nil {
			return nil, wrap(ErrInvalidOperation, "insert of %s/%s: this item already exists", st.name, id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err := w.PutRow(st.name, row); err != nil {
			return nil, err
		}
		return &store.Operation{Kind: store.Insert}, nil
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// Update merges the item's properties into the local row (creating it if missing) and queues
// an update, collapsed with a queued operation as docs/semantics.md's matrix says. It returns the
// stored row.
func (st *SyncTable) Update(ctx context.Context, item Item) (Item, error) {
	if err := st.checkName(); err != nil {
		return nil, err
	}
	if item == nil {
		return nil, wrap(ErrInvalidOperation, "update of a nil item")
	}
	patch := localItem(item)
	id, err := idFor(patch)
	if err != nil {
		return nil, err
	}
	var stored Item
	err = st.write(ctx, id, func(w store.Writer, op *store.Operation) (*store.Operation, error) {
		if op != nil && op.Kind == store.Delete {
			return nil, wrap(ErrInvalidOperation, "update of %s/%s: the item has a queued delete", st.name, id)
		}
		row, err := w.Row(st.name, id)
		if errors.Is(err, store.ErrNotFound) {
			row, err = Item{}, nil
		}
		if err != nil {
			return nil, err
		}
		for k, v := range patch {
			for rk := range row {
				if strings.EqualFold(rk, k) {
					delete(row, rk)
				}
			}
			row[k] = v
		}
		setID(row, idOr(row, id))
		if err := w.PutRow(st.name, row); err != nil {
			return nil, err
		}
		stored = row
		if op != nil {
			// insert+update keeps the insert, which sends the row as it is at push time;
			// update+update keeps the first update in its place.
			if mutants.On(mutants.UpdateAfterFailedInsert) && op.Kind == store.Insert && op.State == store.Failed {
				op.Kind = store.Update // the bug: as if the failed insert had made the row
			}
			return op, nil
		}
		return &store.Operation{Kind: store.Update}, nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// idOr returns the row's id spelling when it has one, else id.
func idOr(row Item, id string) string {
	if s, ok := itemID(row); ok {
		return s
	}
	return id
}

// Delete removes the item locally and queues its delete, which sends the item's last local
// value (with its version). A queued insert and the delete both vanish; a queued update
// becomes the delete (or, with DeleteAfterUpdateAtTail, is replaced by a delete at the tail).
func (st *SyncTable) Delete(ctx context.Context, item Item) error {
	if err := st.checkName(); err != nil {
		return err
	}
	if item == nil {
		return wrap(ErrInvalidOperation, "delete of a nil item")
	}
	given := localItem(item)
	id, err := idFor(given)
	if err != nil {
		return err
	}
	return st.write(ctx, id, func(w store.Writer, op *store.Operation) (*store.Operation, error) {
		if op != nil && op.Kind == store.Delete {
			return nil, wrap(ErrInvalidOperation, "delete of %s/%s: the item has a queued delete", st.name, id)
		}
		if op != nil && op.Kind == store.Insert && op.State != store.Pending {
			return nil, wrap(ErrInvalidOperation, "delete of %s/%s: the item is in inconsistent state: its insert was already sent", st.name, id)
		}
		row, err := w.Row(st.name, id)
		if errors.Is(err, store.ErrNotFound) {
			row, err = given, nil
		}
		if err != nil {
			return nil, err
		}
		if err := w.DeleteRow(st.name, id); err != nil {
			return nil, err
		}
		switch {
		case op == nil:
			return &store.Operation{Kind: store.Delete, Item: row}, nil
		case op.Kind == store.Insert, mutants.On(mutants.CollapseUpdateDelete):
			return nil, nil // both vanish
		case st.sc.cfg.deleteAtTail && !mutants.On(mutants.DeleteAtTailIgnored):
			if err := w.DeleteOperation(op.ID); err != nil {
				return nil, err
			}
			return &store.Operation{Kind: store.Delete, Item: row}, nil
		default:
			op.Kind, op.Item, op.State = store.Delete, row, store.Pending
			return op, nil
		}
	})
}

// write runs one local write to an item: it waits until the item is not being pushed, then in
// one transaction calls fn with the item's queued operation (nil when none). fn changes the
// row and returns the operation to keep: the same one (collapsed: its version is bumped), a
// new one with only Kind (and Item) set (queued at the tail), or nil (the existing one is
// removed). Any collapse removes the existing operation's recorded error.
func (st *SyncTable) write(ctx context.Context, id string, fn func(store.Writer, *store.Operation) (*store.Operation, error)) error {
	key := itemKey(st.name, id)
	if err := st.sc.lockItem(ctx, key); err != nil {
		return err
	}
	defer st.sc.unlockItem(key)
	return st.sc.update(ctx, "local write", func(w store.Writer) error {
		var existing *store.Operation
		op, err := w.OperationFor(st.name, id)
		switch {
		case err == nil:
			existing = &op
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		var before store.Operation
		if existing != nil {
			before = *existing
		}
		next, err := fn(w, existing)
		if err != nil {
			return err
		}
		if existing != nil {
			if err := w.DeleteError(before.ID); err != nil {
				return err
			}
		}
		switch {
		case next == nil:
			if existing != nil {
				return w.DeleteOperation(before.ID)
			}
			return nil
		case existing != nil && next == existing:
			next.Version = before.Version + 1
			if next.State == store.Failed {
				next.State = store.Pending
			}
			return w.PutOperation(*next)
		default:
			seq, err := w.MaxSequence()
			if err != nil {
				return err
			}
			next.ID, next.State, next.Table, next.ItemID = uuid.NewString(), store.Pending, st.name, id
			next.Sequence, next.Version = seq+1, 1
			return w.PutOperation(*next)
		}
	})
}

// Lookup returns the local row with this id, or an error wrapping ErrNotFound.
func (st *SyncTable) Lookup(ctx context.Context, id string) (Item, error) {
	if err := st.checkName(); err != nil {
		return nil, err
	}
	var row Item
	err := st.sc.view(ctx, "lookup", func(r store.Reader) (err error) {
		row, err = r.Row(st.name, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, wrap(ErrNotFound, "%s/%s is not in the local store", st.name, id)
	}
	return row, err
}

// Read returns the local rows that match q (nil: every row), evaluated as the server would.
func (st *SyncTable) Read(ctx context.Context, q *Query) ([]Item, error) {
	if err := st.checkName(); err != nil {
		return nil, err
	}
	if err := q.Err(); err != nil {
		return nil, err
	}
	if q != nil && q.top == 0 {
		return []Item{}, nil
	}
	var rows []map[string]any
	err := st.sc.view(ctx, "read", func(r store.Reader) (err error) {
		rows, _, err = r.Rows(st.name, q.local())
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Item, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out, nil
}
