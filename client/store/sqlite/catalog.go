package sqlite

import (
	"context"
	"errors"
	"maps"

	"github.com/conflictlab/conflictlab/client/store"
)

// catalog is what the writer knows of the committed state, so that the calls a pull makes
// for every row skip lookups whose answer it already has: the sync tables' ids (by folded
// name), the column spellings recorded for each, and the items that may have an operation.
// The writer is the only one writing through this Store, so it keeps the catalog in step
// itself (an Update merges its changes when it commits); another connection writing the file
// (another Store, another process) makes it stale, and Update reloads it when PRAGMA
// data_version says so.
type catalog struct {
	tables  map[string]int64
	columns map[int64]map[string]bool
	// opItems holds itemKey(table, item) of every item that has an operation, and maybe of
	// some that no longer do (an operation moved to another item leaves its old key): a
	// key that is absent means no operation, a key that is present means "ask SQL".
	opItems     map[string]bool
	dataVersion int64
}

// itemKey names an item in opItems: table and id folded, as SQL's NOCASE compares them.
func itemKey(table, id string) string { return store.Fold(table) + "\x00" + store.Fold(id) }

// loadCatalog reads the catalog. The caller holds the writer slot.
func (s *Store) loadCatalog(ctx context.Context) error {
	cat := catalog{tables: map[string]int64{}, columns: map[int64]map[string]bool{}, opItems: map[string]bool{}}
	if err := s.w.queryRow(ctx, "PRAGMA data_version").Scan(&cat.dataVersion); err != nil {
		return err
	}
	err := s.eachRow(ctx, "SELECT id, name FROM sync_tables", func(id int64, name string) {
		cat.tables[store.Fold(name)] = id
	})
	if err != nil {
		return err
	}
	err = s.eachRow(ctx, "SELECT tbl, name FROM sync_columns", func(id int64, name string) {
		cols := cat.columns[id]
		if cols == nil {
			cols = map[string]bool{}
			cat.columns[id] = cols
		}
		cols[name] = true
	})
	if err != nil {
		return err
	}
	rows, err := s.w.query(ctx, "SELECT tbl, item_id FROM operations")
	if err != nil {
		return err
	}
	for rows.Next() {
		var table, item string
		if err := rows.Scan(&table, &item); err != nil {
			rows.Close()
			return err
		}
		cat.opItems[itemKey(table, item)] = true
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return err
	}
	s.cat = cat
	return nil
}

// eachRow runs a query of (integer, text) rows on the writer.
func (s *Store) eachRow(ctx context.Context, query string, fn func(int64, string)) error {
	rows, err := s.w.query(ctx, query)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n int64
		var str string
		if err := rows.Scan(&n, &str); err != nil {
			rows.Close()
			return err
		}
		fn(n, str)
	}
	return errors.Join(rows.Close(), rows.Err())
}

// refreshCatalog reloads the catalog when another connection has committed since it was
// read. The caller holds the writer slot and the write lock, so nothing else can commit until
// it is done.
func (s *Store) refreshCatalog(ctx context.Context) error {
	var v int64
	if err := s.w.queryRow(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	if v == s.cat.dataVersion {
		return nil
	}
	return s.loadCatalog(ctx)
}

// committed merges what the Update changed into the store's catalog, now that it is
// committed.
func (t *tx) committed() {
	cat := &t.s.cat
	maps.Copy(cat.tables, t.tables)
	for id, cols := range t.columns {
		known := cat.columns[id]
		if known == nil {
			known = map[string]bool{}
			cat.columns[id] = known
		}
		maps.Copy(known, cols)
	}
	for k, has := range t.opItems {
		if has {
			cat.opItems[k] = true
		} else {
			delete(cat.opItems, k)
		}
	}
}

// mayHaveOp reports whether an item may have an operation, as an Update sees it: false means
// it has none.
func (t *tx) mayHaveOp(table, item string) bool {
	k := itemKey(table, item)
	if has, ok := t.opItems[k]; ok {
		return has
	}
	return t.s.cat.opItems[k]
}

// noteOp records that an Update put (has) or deleted an item's operation.
func (t *tx) noteOp(table, item string, has bool) {
	if t.opItems == nil {
		t.opItems = map[string]bool{}
	}
	t.opItems[itemKey(table, item)] = has
}
