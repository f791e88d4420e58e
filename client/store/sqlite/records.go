package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
)

// --- operations

const opColumns = "id, kind, state, tbl, item_id, item, sequence, version"

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanOp(r scanner) (store.Operation, error) {
	var o store.Operation
	var kind, state string
	var item sql.NullString
	if err := r.Scan(&o.ID, &kind, &state, &o.Table, &o.ItemID, &item, &o.Sequence, &o.Version); err != nil {
		return o, err
	}
	o.Kind, o.State = store.OpKind(kind), store.OpState(state)
	var err error
	if o.Item, err = decodeMap(item); err != nil {
		return o, errors.Join(ErrCorrupt, err)
	}
	return o, nil
}

// oneOp runs a query for at most one operation; ok is false when there is none.
func (t *tx) oneOp(query string, args ...any) (o store.Operation, ok bool, err error) {
	o, err = scanOp(t.c.queryRow(t.ctx, query, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return o, false, nil
	case err != nil:
		return o, false, err
	}
	return o, true, nil
}

func (t *tx) Operations(tables ...string) ([]store.Operation, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case len(tables) == 0:
		rows, err = t.c.query(t.ctx, "SELECT "+opColumns+" FROM operations ORDER BY sequence, id")
	case len(tables) == 1:
		// The usual call (the queue of one table); kept prepared.
		rows, err = t.c.query(t.ctx, "SELECT "+opColumns+" FROM operations WHERE tbl = ? ORDER BY sequence, id", tables[0])
	default:
		args := make([]any, len(tables))
		for i, tb := range tables {
			args[i] = tb
		}
		// The column's NOCASE collation applies to IN, so each name matches case-insensitively.
		query := "SELECT " + opColumns + " FROM operations WHERE tbl IN (?" + strings.Repeat(", ?", len(tables)-1) + ") ORDER BY sequence, id"
		rows, err = t.c.c.QueryContext(t.ctx, query, args...)
	}
	if err != nil {
		return nil, t.fail("read operations", err)
	}
	defer rows.Close()
	out := []store.Operation{}
	for rows.Next() {
		o, err := scanOp(rows)
		if err != nil {
			return nil, t.fail("read operations", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("read operations", err)
	}
	return out, nil
}

func (t *tx) Operation(id string) (store.Operation, error) {
	if err := t.begin(); err != nil {
		return store.Operation{}, err
	}
	defer t.mu.Unlock()
	o, ok, err := t.oneOp("SELECT "+opColumns+" FROM operations WHERE id = ?", id)
	switch {
	case err != nil:
		return store.Operation{}, t.fail("read an operation", err)
	case !ok:
		return store.Operation{}, store.NotFound("no operation %q", id)
	}
	return o, nil
}

func (t *tx) OperationFor(table, itemID string) (store.Operation, error) {
	if err := t.begin(); err != nil {
		return store.Operation{}, err
	}
	defer t.mu.Unlock()
	if t.write && !t.mayHaveOp(table, itemID) {
		// A pull asks this for every row it stores; nearly always the answer is no.
		return store.Operation{}, store.NotFound("no operation for item %q of table %q", itemID, table)
	}
	o, ok, err := t.oneOp("SELECT "+opColumns+" FROM operations WHERE tbl = ? AND item_id = ?"+idCollation(), table, itemID)
	switch {
	case err != nil:
		return store.Operation{}, t.fail("read an operation", err)
	case !ok:
		return store.Operation{}, store.NotFound("no operation for item %q of table %q", itemID, table)
	}
	return o, nil
}

func (t *tx) PutOperation(o store.Operation) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if err := store.CheckOperation(o); err != nil {
		return err
	}
	item, err := encodeMap(o.Item)
	if err != nil {
		return store.Invalid("operation %q: item: %v", o.ID, err)
	}
	// Checked here rather than left to the UNIQUE constraint so that the refusal is
	// ErrInvalid and not an SQL error, which would break the transaction.
	if t.mayHaveOp(o.Table, o.ItemID) {
		var other string
		switch err := t.c.queryRow(t.ctx, "SELECT id FROM operations WHERE tbl = ? AND item_id = ?", o.Table, o.ItemID).Scan(&other); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return t.fail("store an operation", err)
		case other != o.ID:
			return store.Invalid("item %q of table %q already has operation %q; cannot add %q", o.ItemID, o.Table, other, o.ID)
		}
	}
	_, err = t.c.exec(t.ctx, `INSERT INTO operations (`+opColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state, tbl = excluded.tbl, item_id = excluded.item_id,
	item = excluded.item, sequence = excluded.sequence, version = excluded.version`,
		o.ID, string(o.Kind), string(o.State), o.Table, o.ItemID, item, o.Sequence, o.Version)
	if err != nil {
		return t.fail("store an operation", err)
	}
	// An operation that moved here from another item leaves that item's key behind: the
	// catalog may say "maybe" where there is none, never the reverse.
	t.noteOp(o.Table, o.ItemID, true)
	return nil
}

func (t *tx) DeleteOperation(id string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	var table, item string
	switch err := t.c.queryRow(t.ctx, "DELETE FROM operations WHERE id = ? RETURNING tbl, item_id", id).Scan(&table, &item); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return t.fail("delete an operation", err)
	default:
		t.noteOp(table, item, false)
	}
	return nil
}

func (t *tx) MaxSequence() (int64, error) {
	if err := t.begin(); err != nil {
		return 0, err
	}
	defer t.mu.Unlock()
	var highest int64
	if err := t.c.queryRow(t.ctx, "SELECT coalesce(max(sequence), 0) FROM operations").Scan(&highest); err != nil {
		return 0, t.fail("read the greatest sequence", err)
	}
	return highest, nil
}

// --- errors

const errorColumns = "operation_id, operation_version, kind, tbl, item_id, status, message, item, raw_response, server_item, sequence"

func scanError(r scanner) (store.OperationError, error) {
	var e store.OperationError
	var kind string
	var item, serverItem sql.NullString
	if err := r.Scan(&e.OperationID, &e.OperationVersion, &kind, &e.Table, &e.ItemID, &e.Status, &e.Message,
		&item, &e.RawResponse, &serverItem, &e.Sequence); err != nil {
		return e, err
	}
	e.Kind = store.OpKind(kind)
	var err error
	if e.Item, err = decodeMap(item); err != nil {
		return e, errors.Join(ErrCorrupt, err)
	}
	if e.ServerItem, err = decodeMap(serverItem); err != nil {
		return e, errors.Join(ErrCorrupt, err)
	}
	return e, nil
}

func (t *tx) Errors() ([]store.OperationError, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	rows, err := t.c.query(t.ctx, "SELECT "+errorColumns+" FROM errors ORDER BY sequence, operation_id")
	if err != nil {
		return nil, t.fail("read errors", err)
	}
	defer rows.Close()
	out := []store.OperationError{}
	for rows.Next() {
		e, err := scanError(rows)
		if err != nil {
			return nil, t.fail("read errors", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("read errors", err)
	}
	return out, nil
}

func (t *tx) Error(operationID string) (store.OperationError, error) {
	if err := t.begin(); err != nil {
		return store.OperationError{}, err
	}
	defer t.mu.Unlock()
	e, err := scanError(t.c.queryRow(t.ctx, "SELECT "+errorColumns+" FROM errors WHERE operation_id = ?", operationID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.OperationError{}, store.NotFound("no error recorded for operation %q", operationID)
	case err != nil:
		return store.OperationError{}, t.fail("read an error", err)
	}
	return e, nil
}

// nullableText binds JSON as TEXT, and nil as NULL.
func nullableText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func (t *tx) PutError(e store.OperationError) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	itemJSON, serverJSON, err := store.EncodeError(e)
	if err != nil {
		return err
	}
	item, serverItem := nullableText(itemJSON), nullableText(serverJSON)
	// A nil RawResponse binds as NULL and an empty one as an empty BLOB, so each reads back
	// as it was.
	_, err = t.c.exec(t.ctx, "INSERT OR REPLACE INTO errors ("+errorColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.OperationID, e.OperationVersion, string(e.Kind), e.Table, e.ItemID, e.Status, e.Message, item, e.RawResponse, serverItem, e.Sequence)
	if err != nil {
		return t.fail("store an error", err)
	}
	return nil
}

func (t *tx) DeleteError(operationID string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, err := t.c.exec(t.ctx, "DELETE FROM errors WHERE operation_id = ?", operationID); err != nil {
		return t.fail("delete an error", err)
	}
	return nil
}

// --- config

func (t *tx) Config(key string) (string, bool, error) {
	if err := t.begin(); err != nil {
		return "", false, err
	}
	defer t.mu.Unlock()
	var v string
	switch err := t.c.queryRow(t.ctx, "SELECT value FROM config WHERE key = ?", key).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, t.fail("read config", err)
	}
	return v, true, nil
}

// ConfigKeys reads the keys from prefix on, in BINARY order (byte order, as Go sorts
// strings), and stops at the first without the prefix: they all sort after it.
func (t *tx) ConfigKeys(prefix string) ([]string, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	defer t.mu.Unlock()
	rows, err := t.c.query(t.ctx, "SELECT key FROM config WHERE key >= ? ORDER BY key", prefix)
	if err != nil {
		return nil, t.fail("read config keys", err)
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, t.fail("read config keys", err)
		}
		if !strings.HasPrefix(k, prefix) {
			break
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("read config keys", err)
	}
	return keys, nil
}

func (t *tx) SetConfig(key, value string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, err := t.c.exec(t.ctx, "INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)", key, value); err != nil {
		return t.fail("set config", err)
	}
	return nil
}

func (t *tx) DeleteConfig(key string) error {
	if err := t.beginWrite(); err != nil {
		return err
	}
	defer t.mu.Unlock()
	if _, err := t.c.exec(t.ctx, "DELETE FROM config WHERE key = ?", key); err != nil {
		return t.fail("delete config", err)
	}
	return nil
}
