package memory

import (
	"bytes"
	"encoding/json"

	"github.com/conflictlab/conflictlab/client/store"
)

// row is a stored row: the id spelling it was first stored with and its JSON encoding (whose
// "id" holds that spelling). The id shares the map key's memory when it is lower-case already.
type row struct {
	id   string
	data []byte
}

// itemKey names one item: its table and id, both ASCII lower-cased.
type itemKey struct{ table, id string }

// op is a stored operation: the Operation without its Item, which is kept encoded.
type op struct {
	op   store.Operation
	item []byte // nil: no item
	key  itemKey
}

func (o *op) decode() (store.Operation, error) {
	out := o.op
	var err error
	out.Item, err = decodeMap(o.item)
	return out, err
}

// opError is a stored operation error, its maps encoded and its raw response its own copy.
type opError struct {
	e                store.OperationError
	item, serverItem []byte
}

func (e *opError) decode() (store.OperationError, error) {
	out := e.e
	var err error
	if out.Item, err = decodeMap(e.item); err != nil {
		return out, err
	}
	if out.ServerItem, err = decodeMap(e.serverItem); err != nil {
		return out, err
	}
	out.RawResponse = bytes.Clone(e.e.RawResponse)
	return out, nil
}

// state is the committed content of a store.
type state struct {
	tables map[string]map[string]row // table key → id key → row
	ops    map[string]op             // by operation ID
	byItem map[itemKey]string        // the ID of each item's operation
	errs   map[string]opError        // by operation ID
	config map[string]string
}

func newState() state {
	return state{
		tables: map[string]map[string]row{},
		ops:    map[string]op{},
		byItem: map[itemKey]string{},
		errs:   map[string]opError{},
		config: map[string]string{},
	}
}

// overlay holds an Update's writes until it commits; a nil value is a deletion.
type overlay struct {
	rows   map[string]map[string]*row
	ops    map[string]*op
	byItem map[itemKey]string // the overlay's own (non-deleted) operations by item
	errs   map[string]*opError
	config map[string]*string
}

func newOverlay() *overlay {
	return &overlay{
		rows:   map[string]map[string]*row{},
		ops:    map[string]*op{},
		byItem: map[itemKey]string{},
		errs:   map[string]*opError{},
		config: map[string]*string{},
	}
}

func (w *overlay) setRow(table, id string, r *row) {
	t := w.rows[table]
	if t == nil {
		t = map[string]*row{}
		w.rows[table] = t
	}
	t[id] = r
}

// setOp records o (nil: a deletion) under id, keeping the overlay's item index in step.
func (w *overlay) setOp(id string, o *op) {
	if prev := w.ops[id]; prev != nil && w.byItem[prev.key] == id {
		delete(w.byItem, prev.key)
	}
	w.ops[id] = o
	if o != nil {
		w.byItem[o.key] = id
	}
}

// apply merges a committed Update's overlay into s.
func (s *state) apply(w *overlay) {
	for tk, rows := range w.rows {
		t := s.tables[tk]
		if t == nil {
			t = make(map[string]row, len(rows))
			s.tables[tk] = t
		}
		for ik, r := range rows {
			if r == nil {
				delete(t, ik)
			} else {
				t[ik] = *r
			}
		}
		if len(t) == 0 {
			delete(s.tables, tk)
		}
	}
	// Free every touched operation's item slot before filling any: within one Update an
	// operation may move off an item that another then takes.
	for id := range w.ops {
		if old, ok := s.ops[id]; ok && s.byItem[old.key] == id {
			delete(s.byItem, old.key)
		}
	}
	for id, o := range w.ops {
		if o == nil {
			delete(s.ops, id)
			continue
		}
		s.ops[id] = *o
		s.byItem[o.key] = id
	}
	for id, e := range w.errs {
		if e == nil {
			delete(s.errs, id)
		} else {
			s.errs[id] = *e
		}
	}
	for k, v := range w.config {
		if v == nil {
			delete(s.config, k)
		} else {
			s.config[k] = *v
		}
	}
}

// encodeMap encodes an item; a nil map stays nil so it decodes back to nil.
func encodeMap(m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func decodeMap(data []byte) (map[string]any, error) {
	if data == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// configOf returns the overlay's write of a config key; ok is false when it has none (or when
// there is no overlay, in a View).
func (w *overlay) configOf(key string) (v *string, ok bool) {
	if w == nil {
		return nil, false
	}
	v, ok = w.config[key]
	return v, ok
}
