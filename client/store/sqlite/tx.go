package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/conflictlab/conflictlab/client/store"
)

// tx is the Reader of a View and the Writer of an Update (write is false in a View). Its
// mutex makes it safe to share between goroutines inside fn and lets finish shut it
// atomically, so a Reader or Writer kept past fn never reaches the connection again.
type tx struct {
	mu    sync.Mutex
	s     *Store
	c     *conn
	ctx   context.Context
	write bool
	done  bool

	// broken is the first SQLite error an Update met. SQLite may have rolled the whole
	// transaction back on it (a full disk, an I/O error), after which each later write would
	// commit on its own; so every later call returns it and the Update fails with it.
	broken error

	// tables maps folded sync table names to ids. In a View it is read from the snapshot at
	// the first need; in an Update it holds the tables this transaction created, the others
	// being in the store's catalog.
	tables map[string]int64
	// columns are the column spellings this Update recorded, by table id.
	columns map[int64]map[string]bool
	// opItems are the items whose operation this Update put (true) or deleted (false), by
	// itemKey: its changes to the catalog's opItems.
	opItems map[string]bool
}

var _ store.Writer = (*tx)(nil)

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
	case t.broken != nil:
		t.mu.Unlock()
		return t.broken
	}
	return nil
}

// beginWrite is begin for the Writer methods, which a View's Reader does not have but could
// reach by a type assertion.
func (t *tx) beginWrite() error {
	if err := t.begin(); err != nil {
		return err
	}
	if !t.write {
		t.mu.Unlock()
		return errReadOnly
	}
	return nil
}

// fail turns an SQLite error met doing what into the call's error; in an Update it also
// breaks the transaction (see broken).
func (t *tx) fail(what string, err error) error {
	if t.s.closed.Load() {
		return errClosed
	}
	err = wrap(t.ctx, what, err)
	if t.write {
		t.broken = err
	}
	return err
}

// tableID returns the id of a sync table; ok is false when it has never been written.
func (t *tx) tableID(table string) (id int64, ok bool, err error) {
	key := store.Fold(table)
	if t.write {
		if id, ok := t.s.cat.tables[key]; ok {
			return id, true, nil
		}
		id, ok := t.tables[key]
		return id, ok, nil
	}
	if t.tables == nil {
		tables := map[string]int64{}
		rows, err := t.c.query(t.ctx, "SELECT id, name FROM sync_tables")
		if err != nil {
			return 0, false, err
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return 0, false, err
			}
			tables[store.Fold(name)] = id
		}
		if err := errors.Join(rows.Close(), rows.Err()); err != nil {
			return 0, false, err
		}
		t.tables = tables
	}
	id, ok = t.tables[key]
	return id, ok, nil
}

// createTable registers a sync table and creates its rows table.
func (t *tx) createTable(table string) (int64, error) {
	res, err := t.c.exec(t.ctx, "INSERT INTO sync_tables (name) VALUES (?)", table)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := t.c.c.ExecContext(t.ctx, rowsDDL(id)); err != nil {
		return 0, err
	}
	if t.tables == nil {
		t.tables = map[string]int64{}
	}
	t.tables[store.Fold(table)] = id
	return id, nil
}

// --- encoding

// encodeMap encodes an item; a nil map stays nil (SQL NULL) so it decodes back to nil.
func encodeMap(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func decodeMap(data sql.NullString) (map[string]any, error) {
	if !data.Valid {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(data.String), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeDoc decodes a stored row.
func decodeDoc(table string, doc []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		// Only a bug, or a change made to the file by hand, could store a doc that does not decode.
		return nil, fmt.Errorf("sqlite store: a row of table %q: %w: %w", table, ErrCorrupt, err)
	}
	return m, nil
}
