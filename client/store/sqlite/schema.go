package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// SchemaVersion is the version of the schema this package writes. Open migrates an older
// store forward to it and refuses a newer one (ErrNewerSchema).
const SchemaVersion = 1

// migrations[v] turns a version v store into a version v+1 one. Open runs the ones a store
// needs, in order, in one transaction with the version bump, so a store is always at one
// version or the next, never between. Append only: a released step never changes, since stores
// in the field have already run it.
var migrations = []func(ctx context.Context, c *sql.Conn) error{
	0: migrateTo1,
}

// schema1 is the first release's schema.
//
//   - meta: key/value facts about the file; "schema_version" is the schema's version.
//   - sync_tables: one row per sync table ever written, under the spelling it was first
//     written with; the rows of table id N live in the SQL table rows_N (see rowsDDL), so no
//     store table name ever reaches SQL text.
//   - sync_columns: every spelling of a top-level column ever stored in a sync table. Filters
//     name columns case-insensitively while SQLite's JSON paths are exact; a reader looks here
//     to know when a name has one spelling only, which makes its JSON path exact.
//   - operations, errors, config: the records of store.Operation, store.OperationError and
//     the config strings. Operation IDs, error keys and config keys match exactly (BINARY);
//     tables and item ids case-insensitively (NOCASE folds ASCII only, as store.Fold does).
const schema1 = `
CREATE TABLE meta (
	key   TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE sync_tables (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE sync_columns (
	tbl  INTEGER NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (tbl, name)
) WITHOUT ROWID;
CREATE TABLE operations (
	id       TEXT NOT NULL PRIMARY KEY,
	kind     TEXT NOT NULL,
	state    TEXT NOT NULL,
	tbl      TEXT NOT NULL COLLATE NOCASE,
	item_id  TEXT NOT NULL COLLATE NOCASE,
	item     TEXT,
	sequence INTEGER NOT NULL,
	version  INTEGER NOT NULL,
	UNIQUE (tbl, item_id)
);
CREATE INDEX operations_by_sequence ON operations (sequence, id);
CREATE TABLE errors (
	operation_id      TEXT NOT NULL PRIMARY KEY,
	operation_version INTEGER NOT NULL,
	kind              TEXT NOT NULL,
	tbl               TEXT NOT NULL,
	item_id           TEXT NOT NULL,
	status            INTEGER NOT NULL,
	message           TEXT NOT NULL,
	item              TEXT,
	raw_response      BLOB,
	server_item       TEXT,
	sequence          INTEGER NOT NULL
);
CREATE TABLE config (
	key   TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('schema_version', '0');
`

func migrateTo1(ctx context.Context, c *sql.Conn) error {
	_, err := c.ExecContext(ctx, schema1)
	return err
}

// rowsDDL creates the SQL table of sync table id: the id (case-insensitive key; it keeps the
// spelling it was first stored with), the system columns as real columns, and the whole row
// as JSON in doc, which filters read with json_extract. The system columns are declared
// without a type so that SQLite keeps each value as given (a "version" may be a string or a
// number), where a declared type would convert it.
func rowsDDL(id int64) string {
	return fmt.Sprintf(`CREATE TABLE rows_%d (
	id        TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
	version,
	createdAt,
	updatedAt,
	deleted,
	doc       TEXT NOT NULL
)`, id)
}

// readVersion reads the schema version of the database c is connected to, inside whatever
// transaction c is in: 0 for a database without tables (a new file), an error wrapping
// ErrCorrupt for one with tables but no meta table (another application's database).
func readVersion(ctx context.Context, c *sql.Conn) (int, error) {
	rows, err := c.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		return 0, err
	}
	var tables []string
	hasMeta := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, name)
		hasMeta = hasMeta || name == "meta"
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	switch {
	case len(tables) == 0:
		return 0, nil
	case !hasMeta:
		return 0, fmt.Errorf("%w: a database with tables %q but no meta table: not a conflictlab store", ErrCorrupt, tables)
	}
	var v string
	if err := c.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("%w: no schema_version in the meta table: %w", ErrCorrupt, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: schema_version %q is not a version", ErrCorrupt, v)
	}
	return n, nil
}

// migrate runs the migrations from version from up to SchemaVersion and records the new
// version, in the transaction c is in.
func migrate(ctx context.Context, c *sql.Conn, from int) error {
	for v := from; v < SchemaVersion; v++ {
		if err := migrations[v](ctx, c); err != nil {
			return fmt.Errorf("migrating from version %d to %d: %w", v, v+1, err)
		}
	}
	_, err := c.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'schema_version'`, strconv.Itoa(SchemaVersion))
	return err
}
