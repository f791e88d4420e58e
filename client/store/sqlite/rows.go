package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// idCollation is what a lookup by id adds to its comparison: nothing, the column's NOCASE
// applies.
func idCollation() string {
	if mutants.On(mutants.SQLiteCaseSensitiveIDs) {
		return " COLLATE BINARY" // the bug: ids compared as bytes
	}
	return ""
}

func (t *tx) Row(table, id string) (map[string]any, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	tid, ok, err := t.tableID(table)
	if err != nil {
		return nil, t.fail("read a row", err)
	}
	if !ok {
		return nil, store.NotFound("table %q has no row %q", table, id)
	}
	var doc sql.RawBytes
	rows, err := t.c.query(t.ctx, fmt.Sprintf("SELECT doc FROM rows_%d WHERE id = ?%s", tid, idCollation()), id)
	if err != nil {
		return nil, t.fail("read a row", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, t.fail("read a row", err)
		}
		return nil, store.NotFound("table %q has no row %q", table, id)
	}
	if err := rows.Scan(&doc); err != nil {
		return nil, t.fail("read a row", err)
	}
	return decodeDoc(table, doc)
}

// Rows selects candidates in SQL with the filter translated to JSON paths over the doc
// column, checks them with the Go evaluator when the translation is not exact, and leaves
// order, paging and projection to store.Query, which evaluates them as the server does. When
// the SQL is exact and there is no order, SQL also counts and pages, so reading one page of a
// large table decodes only that page.
func (t *tx) Rows(table string, q store.Query) ([]map[string]any, int, error) {
	if err := t.begin(); err != nil {
		return nil, 0, err
	}
	defer t.mu.Unlock()
	tid, ok, err := t.tableID(table)
	if err != nil {
		return nil, 0, t.fail("query rows", err)
	}
	if !ok {
		return []map[string]any{}, 0, nil
	}
	where, args, exact, err := t.where(tid, q.Filter)
	if err != nil {
		return nil, 0, t.fail("query rows", err)
	}
	skip, top := max(q.Skip, 0), max(q.Top, 0)
	if exact && len(q.OrderBy) == 0 && (skip > 0 || top > 0) {
		return t.rowsPage(table, tid, where, args, q)
	}
	matched, err := t.docs(table, fmt.Sprintf("SELECT doc FROM rows_%d WHERE %s", tid, where), args)
	if err != nil {
		return nil, 0, err
	}
	if !exact {
		kept := matched[:0]
		for _, m := range matched {
			if q.Match(m) {
				kept = append(kept, m)
			}
		}
		clear(matched[len(kept):])
		matched = kept
	}
	q.Filter = nil
	out, _ := q.Apply(matched)
	return out, len(matched), nil
}

// rowsPage answers a query whose filter SQL evaluates exactly and that is ordered by id only:
// SQL counts the matches and picks the page's rows (by id, ordinal: COLLATE BINARY, which
// compares UTF-8 bytes as Go's string comparison does); Apply then puts the page in order and
// projects it.
func (t *tx) rowsPage(table string, tid int64, where string, args []any, q store.Query) ([]map[string]any, int, error) {
	var total int
	if err := t.c.c.QueryRowContext(t.ctx, fmt.Sprintf("SELECT count(*) FROM rows_%d WHERE %s", tid, where), args...).Scan(&total); err != nil {
		return nil, 0, t.fail("count rows", err)
	}
	limit := int64(-1)
	if q.Top > 0 {
		limit = int64(q.Top)
	}
	// Sorting only the ids, then reading the page's docs, keeps the sort small.
	query := fmt.Sprintf("SELECT doc FROM rows_%[1]d WHERE rowid IN (SELECT rowid FROM rows_%[1]d WHERE %[2]s ORDER BY id COLLATE BINARY LIMIT %[3]d OFFSET %[4]d)",
		tid, where, limit, max(q.Skip, 0))
	page, err := t.docs(table, query, args)
	if err != nil {
		return nil, 0, err
	}
	q.Filter, q.Skip, q.Top = nil, 0, 0
	out, _ := q.Apply(page)
	return out, total, nil
}

// select_ runs a query whose one column is a doc and decodes each.
func (t *tx) docs(table, query string, args []any) ([]map[string]any, error) {
	rows, err := t.c.c.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, t.fail("query rows", err)
	}
	defer rows.Close()
	var out []map[string]any
	var doc sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&doc); err != nil {
			return nil, t.fail("query rows", err)
		}
		m, err := decodeDoc(table, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("query rows", err)
	}
	return out, nil
}

// where translates a filter over table tid to SQL; exact is false when the SQL selects a
// superset of the matches, which the caller then checks with the Go evaluator.
func (t *tx) where(tid int64, filter odata.Expr) (where string, args []any, exact bool, err error) {
	if filter == nil {
		return "1", nil, true, nil
	}
	spellings, err := t.spellings(tid)
	if err != nil {
		return "", nil, false, err
	}
	where, args, exact = translate(filter, pathFunc(spellings))
	if where == "" {
		where, exact = "1", false
	}
	return where, args, exact, nil
}

// spellings returns every spelling of a column recorded for table tid, as this transaction
// sees them. They are read from the transaction's own snapshot, so they include every
// spelling of the rows it can see.
func (t *tx) spellings(tid int64) ([]string, error) {
	rows, err := t.c.query(t.ctx, "SELECT name FROM sync_columns WHERE tbl = ?", tid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// pathFunc is translate's path function over the column spellings of a table. odata finds a
// property by its exact name first, then by the ordinally smallest key equal under ASCII
// folding; json_extract finds only the exact key. The two agree on every row when the name's
// fold has exactly one spelling in the table (every row holds that spelling or none), or none
// at all (no row holds the property: any path finds nothing, as odata does). With several
// spellings a row may hold more than one and SQL cannot pick as odata does: no path.
func pathFunc(spellings []string) func(name string) (string, bool) {
	byFold := make(map[string][]string, len(spellings))
	for _, s := range spellings {
		f := store.Fold(s)
		byFold[f] = append(byFold[f], s)
	}
	return func(name string) (string, bool) {
		switch ss := byFold[store.Fold(name)]; len(ss) {
		case 0:
			return jsonPath(name)
		case 1:
			return jsonPath(ss[0])
		}
		return "", false
	}
}

// jsonPath is the JSON path of a top-level key, $."key". SQLite's path syntax has no escape
// inside the quotes, and encoding/json escapes some characters in the keys it writes, so a key
// with a quote, a backslash, a control character, '<', '>', '&', U+2028 or U+2029, or invalid
// UTF-8, has no path that surely finds it.
func jsonPath(key string) (string, bool) {
	if !utf8.ValidString(key) || strings.ContainsAny(key, "\"\\<>&\u2028\u2029") {
		return "", false
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	return `$."` + key + `"`, true
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
	doc, err := json.Marshal(data)
	if err != nil {
		return store.Invalid("table %q, row %q: %v", table, id, err)
	}
	tid, ok, err := t.tableID(table)
	if err != nil {
		return t.fail("store a row", err)
	}
	if !ok {
		if tid, err = t.createTable(table); err != nil {
			return t.fail("create table "+table, err)
		}
	}
	if err := t.recordColumns(tid, data); err != nil {
		return t.fail("store a row", err)
	}
	// On conflict the row keeps its id column, the spelling it was first stored with, and the
	// doc gets that spelling too when this one differs in case. One statement either way: a
	// pull stores rows that are mostly new or spelled as before.
	_, err = t.c.exec(t.ctx, fmt.Sprintf(`INSERT INTO rows_%d (id, version, createdAt, updatedAt, deleted, doc) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET version = excluded.version, createdAt = excluded.createdAt, updatedAt = excluded.updatedAt,
	deleted = excluded.deleted,
	doc = CASE WHEN id = excluded.id COLLATE BINARY THEN excluded.doc ELSE json_set(excluded.doc, '$.id', id) END`, tid),
		id, systemValue(data, "version"), systemValue(data, "createdAt"), systemValue(data, "updatedAt"), systemValue(data, "deleted"), string(doc))
	if err != nil {
		return t.fail("store a row", err)
	}
	return nil
}

// recordColumns records the row's column spellings that table tid has not had before.
func (t *tx) recordColumns(tid int64, data map[string]any) error {
	known, own := t.s.cat.columns[tid], t.columns[tid]
	for k := range data {
		if known[k] || own[k] {
			continue
		}
		if _, err := t.c.exec(t.ctx, "INSERT OR IGNORE INTO sync_columns (tbl, name) VALUES (?, ?)", tid, k); err != nil {
			return err
		}
		if own == nil {
			own = map[string]bool{}
			if t.columns == nil {
				t.columns = map[int64]map[string]bool{}
			}
			t.columns[tid] = own
		}
		own[k] = true
	}
	return nil
}

// systemValue is the value of a system column for its SQL column: the protocol's name, else
// the v1 name with "__"; a JSON scalar as SQLite keeps it, or NULL.
func systemValue(data map[string]any, name string) any {
	v, ok := data[name]
	if !ok {
		v = data["__"+name]
	}
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	}
	// Another Go type (an int, a time.Time): the value its JSON has, which is what a reader
	// of the doc sees. PutRow has already encoded it, so this cannot fail.
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var j any
	if json.Unmarshal(b, &j) != nil {
		return nil
	}
	switch x := j.(type) {
	case string, bool, float64:
		return x
	}
	return nil
}

func (t *tx) DeleteRow(table, id string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	tid, ok, err := t.tableID(table)
	if err != nil {
		return t.fail("delete a row", err)
	}
	if !ok {
		return nil
	}
	if _, err := t.c.exec(t.ctx, fmt.Sprintf("DELETE FROM rows_%d WHERE id = ?%s", tid, idCollation()), id); err != nil {
		return t.fail("delete a row", err)
	}
	return nil
}

func (t *tx) DeleteRows(table string, filter odata.Expr) (int, error) {
	if err := t.beginWrite(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	tid, ok, err := t.tableID(table)
	if err != nil {
		return 0, t.fail("delete rows", err)
	}
	if !ok {
		return 0, nil
	}
	where, args, exact, err := t.where(tid, filter)
	if err != nil {
		return 0, t.fail("delete rows", err)
	}
	if exact {
		res, err := t.c.c.ExecContext(t.ctx, fmt.Sprintf("DELETE FROM rows_%d WHERE %s", tid, where), args...)
		if err != nil {
			return 0, t.fail("delete rows", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, t.fail("delete rows", err)
		}
		return int(n), nil
	}
	candidates, err := t.docs(table, fmt.Sprintf("SELECT doc FROM rows_%d WHERE %s", tid, where), args)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range candidates {
		if !odata.Match(filter, m) {
			continue
		}
		if _, err := t.c.exec(t.ctx, fmt.Sprintf("DELETE FROM rows_%d WHERE id = ?", tid), m["id"]); err != nil {
			return n, t.fail("delete rows", err)
		}
		n++
	}
	return n, nil
}
