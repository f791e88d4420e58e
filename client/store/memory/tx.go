package memory

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// tx is the Reader of a View and the Writer of an Update (w is nil in a View). Its mutex makes
// it safe to share between goroutines inside fn and lets finish shut it atomically, so a
// Reader or Writer kept past fn can never touch the state again.
type tx struct {
	mu   sync.Mutex
	s    *Store
	w    *overlay
	done bool
}

var _ store.Writer = (*tx)(nil)

var (
	errFinished = fmt.Errorf("memory store: %w: transaction used after its function returned", store.ErrClosed)
	errReadOnly = errors.New("memory store: write in a View")
)

func (t *tx) finish() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// begin locks t for one call and reports whether it may still be used; on error t is unlocked.
func (t *tx) begin() error {
	t.mu.Lock()
	switch {
	case t.done:
		t.mu.Unlock()
		return errFinished
	case t.s.closed.Load():
		t.mu.Unlock()
		return errClosed
	}
	return nil
}

// beginWrite is begin for the Writer methods, which a View's Reader does not have but could
// reach by a type assertion.
func (t *tx) beginWrite() error {
	if err := t.begin(); err != nil {
		return err
	}
	if t.w == nil {
		t.mu.Unlock()
		return errReadOnly
	}
	return nil
}

// --- rows

// foldID is the key of an item id: folded, so that ids match case-insensitively.
func foldID(id string) string {
	if mutants.On(mutants.MemoryCaseSensitiveIDs) {
		return id // the bug: ids as given
	}
	return store.Fold(id)
}

// row returns the row as this transaction sees it: its own write, else the committed one.
func (t *tx) row(tk, ik string) (*row, bool) {
	if t.w != nil {
		if r, ok := t.w.rows[tk][ik]; ok {
			return r, r != nil
		}
	}
	r, ok := t.s.state.tables[tk][ik]
	return &r, ok
}

// eachRow calls fn for every row of a table as this transaction sees it, in no order, until fn
// returns false.
func (t *tx) eachRow(tk string, fn func(ik string, r row) bool) {
	var own map[string]*row
	if t.w != nil {
		own = t.w.rows[tk]
	}
	for ik, r := range t.s.state.tables[tk] {
		if _, shadowed := own[ik]; shadowed {
			continue
		}
		if !fn(ik, r) {
			return
		}
	}
	for ik, r := range own {
		if r != nil && !fn(ik, *r) {
			return
		}
	}
}

func (t *tx) Row(table, id string) (map[string]any, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	r, ok := t.row(store.Fold(table), foldID(id))
	if !ok {
		return nil, store.NotFound("table %q has no row %q", table, id)
	}
	return decodeRow(table, *r)
}

func decodeRow(table string, r row) (map[string]any, error) {
	m, err := decodeMap(r.data)
	if err != nil {
		// Only a bug in this package could store bytes that do not decode.
		return nil, fmt.Errorf("memory store: row %q of table %q: %w", r.id, table, err)
	}
	return m, nil
}

// Rows decodes each row of the table and keeps those that match, so only the matches stay in
// memory while the rest of the query runs.
func (t *tx) Rows(table string, q store.Query) ([]map[string]any, int, error) {
	if err := t.begin(); err != nil {
		return nil, 0, err
	}
	defer t.mu.Unlock()
	var matched []map[string]any
	var err error
	t.eachRow(store.Fold(table), func(_ string, r row) bool {
		var m map[string]any
		if m, err = decodeRow(table, r); err != nil {
			return false
		}
		if q.Match(m) {
			matched = append(matched, m)
		}
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	q.Filter = nil
	rows, _ := q.Apply(matched)
	return rows, len(matched), nil
}

func (t *tx) PutRow(table string, data map[string]any) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	id, err := store.RowID(table, data)
	if err != nil {
		return err
	}
	tk, ik := store.Fold(table), foldID(id)
	if old, ok := t.row(tk, ik); ok && old.id != id {
		// The row keeps its first spelling; copy rather than write into the caller's map.
		data = maps.Clone(data)
		data["id"] = old.id
		id = old.id
	}
	enc, err := json.Marshal(data)
	if err != nil {
		return store.Invalid("table %q, row %q: %v", table, id, err)
	}
	t.w.setRow(tk, ik, &row{id: id, data: enc})
	return nil
}

func (t *tx) DeleteRow(table, id string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	tk, ik := store.Fold(table), foldID(id)
	if _, ok := t.row(tk, ik); ok {
		t.w.setRow(tk, ik, nil)
	}
	return nil
}

func (t *tx) DeleteRows(table string, filter odata.Expr) (int, error) {
	if err := t.beginWrite(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	tk := store.Fold(table)
	// Collect first: eachRow ranges over the overlay that the deletions write to.
	var doomed []string
	var err error
	t.eachRow(tk, func(ik string, r row) bool {
		if filter != nil {
			var m map[string]any
			if m, err = decodeRow(table, r); err != nil {
				return false
			}
			if !odata.Match(filter, m) {
				return true
			}
		}
		doomed = append(doomed, ik)
		return true
	})
	if err != nil {
		return 0, err
	}
	for _, ik := range doomed {
		t.w.setRow(tk, ik, nil)
	}
	return len(doomed), nil
}

// --- operations

// op returns the operation with id as this transaction sees it.
func (t *tx) op(id string) (*op, bool) {
	if t.w != nil {
		if o, ok := t.w.ops[id]; ok {
			return o, o != nil
		}
	}
	o, ok := t.s.state.ops[id]
	return &o, ok
}

// opFor returns the operation of an item as this transaction sees it.
func (t *tx) opFor(k itemKey) (*op, bool) {
	if t.w != nil {
		if id, ok := t.w.byItem[k]; ok {
			return t.w.ops[id], true
		}
	}
	id, ok := t.s.state.byItem[k]
	if !ok {
		return nil, false
	}
	if t.w != nil {
		// Written in this transaction: deleted, or moved to another item (had it stayed on
		// this one the overlay's index would have found it).
		if _, touched := t.w.ops[id]; touched {
			return nil, false
		}
	}
	o := t.s.state.ops[id]
	return &o, true
}

// eachOp calls fn for every operation as this transaction sees it, in no order.
func (t *tx) eachOp(fn func(o *op)) {
	for id, o := range t.s.state.ops {
		if t.w != nil {
			if _, shadowed := t.w.ops[id]; shadowed {
				continue
			}
		}
		fn(&o)
	}
	if t.w != nil {
		for _, o := range t.w.ops {
			if o != nil {
				fn(o)
			}
		}
	}
}

func (t *tx) Operations(tables ...string) ([]store.Operation, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	var want map[string]bool
	if len(tables) > 0 {
		want = make(map[string]bool, len(tables))
		for _, tb := range tables {
			want[store.Fold(tb)] = true
		}
	}
	var picked []*op
	t.eachOp(func(o *op) {
		if want == nil || want[o.key.table] {
			picked = append(picked, o)
		}
	})
	// The ID breaks Sequence ties so the order never depends on map iteration.
	slices.SortFunc(picked, func(a, b *op) int {
		return cmp.Or(cmp.Compare(a.op.Sequence, b.op.Sequence), strings.Compare(a.op.ID, b.op.ID))
	})
	out := make([]store.Operation, len(picked))
	for i, o := range picked {
		var err error
		if out[i], err = o.decode(); err != nil {
			return nil, fmt.Errorf("memory store: operation %q: %w", o.op.ID, err)
		}
	}
	return out, nil
}

func (t *tx) Operation(id string) (store.Operation, error) {
	if err := t.begin(); err != nil {
		return store.Operation{}, err
	}
	defer t.mu.Unlock()
	o, ok := t.op(id)
	if !ok {
		return store.Operation{}, store.NotFound("no operation %q", id)
	}
	return o.decode()
}

func (t *tx) OperationFor(table, itemID string) (store.Operation, error) {
	if err := t.begin(); err != nil {
		return store.Operation{}, err
	}
	defer t.mu.Unlock()
	o, ok := t.opFor(itemKey{store.Fold(table), foldID(itemID)})
	if !ok {
		return store.Operation{}, store.NotFound("no operation for item %q of table %q", itemID, table)
	}
	return o.decode()
}

func (t *tx) PutOperation(o store.Operation) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if err := store.CheckOperation(o); err != nil {
		return err
	}
	k := itemKey{store.Fold(o.Table), foldID(o.ItemID)}
	if other, ok := t.opFor(k); ok && other.op.ID != o.ID {
		return store.Invalid("item %q of table %q already has operation %q; cannot add %q", o.ItemID, o.Table, other.op.ID, o.ID)
	}
	item, err := encodeMap(o.Item)
	if err != nil {
		return store.Invalid("operation %q: item: %v", o.ID, err)
	}
	o.Item = nil
	t.w.setOp(o.ID, &op{op: o, item: item, key: k})
	if mutants.On(mutants.MemoryErrorLostOnAttempt) && o.State == store.Attempted {
		t.w.errs[o.ID] = nil // the bug: marking the operation attempted loses its error
	}
	return nil
}

func (t *tx) DeleteOperation(id string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, ok := t.op(id); ok {
		t.w.setOp(id, nil)
	}
	return nil
}

func (t *tx) MaxSequence() (int64, error) {
	if err := t.begin(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	// A loop rather than eachOp: the client asks for this on every local write, and eachOp's
	// pointer to each copied record would allocate once per queued operation.
	var highest int64
	for id, o := range t.s.state.ops {
		if t.w != nil {
			if _, shadowed := t.w.ops[id]; shadowed {
				continue
			}
		}
		highest = max(highest, o.op.Sequence)
	}
	if t.w != nil {
		for _, o := range t.w.ops {
			if o != nil {
				highest = max(highest, o.op.Sequence)
			}
		}
	}
	return highest, nil
}

// --- errors

func (t *tx) opError(id string) (*opError, bool) {
	if t.w != nil {
		if e, ok := t.w.errs[id]; ok {
			return e, e != nil
		}
	}
	e, ok := t.s.state.errs[id]
	return &e, ok
}

func (t *tx) Errors() ([]store.OperationError, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	var picked []*opError
	for id, e := range t.s.state.errs {
		if t.w != nil {
			if _, shadowed := t.w.errs[id]; shadowed {
				continue
			}
		}
		picked = append(picked, &e)
	}
	if t.w != nil {
		for _, e := range t.w.errs {
			if e != nil {
				picked = append(picked, e)
			}
		}
	}
	slices.SortFunc(picked, func(a, b *opError) int {
		return cmp.Or(cmp.Compare(a.e.Sequence, b.e.Sequence), strings.Compare(a.e.OperationID, b.e.OperationID))
	})
	out := make([]store.OperationError, len(picked))
	for i, e := range picked {
		var err error
		if out[i], err = e.decode(); err != nil {
			return nil, fmt.Errorf("memory store: error of operation %q: %w", e.e.OperationID, err)
		}
	}
	return out, nil
}

func (t *tx) Error(operationID string) (store.OperationError, error) {
	if err := t.begin(); err != nil {
		return store.OperationError{}, err
	}
	defer t.mu.Unlock()
	e, ok := t.opError(operationID)
	if !ok {
		return store.OperationError{}, store.NotFound("no error recorded for operation %q", operationID)
	}
	return e.decode()
}

func (t *tx) PutError(e store.OperationError) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	item, serverItem, err := store.EncodeError(e)
	if err != nil {
		return err
	}
	e.Item, e.ServerItem = nil, nil
	e.RawResponse = bytes.Clone(e.RawResponse)
	t.w.errs[e.OperationID] = &opError{e: e, item: item, serverItem: serverItem}
	return nil
}

func (t *tx) DeleteError(operationID string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, ok := t.opError(operationID); ok {
		t.w.errs[operationID] = nil
	}
	return nil
}

// --- config

func (t *tx) config(key string) (string, bool) {
	if t.w != nil {
		if v, ok := t.w.config[key]; ok {
			if v == nil {
				return "", false
			}
			return *v, true
		}
	}
	v, ok := t.s.state.config[key]
	return v, ok
}

func (t *tx) Config(key string) (string, bool, error) {
	if err := t.begin(); err != nil {
		return "", false, err
	}
	defer t.mu.Unlock()
	v, ok := t.config(key)
	return v, ok, nil
}

func (t *tx) ConfigKeys(prefix string) ([]string, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	keys := []string{}
	for k := range t.s.state.config {
		if _, shadowed := t.w.configOf(k); !shadowed && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	if t.w != nil {
		for k, v := range t.w.config {
			if v != nil && strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func (t *tx) SetConfig(key, value string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	t.w.config[key] = &value
	return nil
}

func (t *tx) DeleteConfig(key string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, ok := t.config(key); ok {
		t.w.config[key] = nil
	}
	return nil
}
