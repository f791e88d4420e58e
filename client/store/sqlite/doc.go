// Package sqlite is the durable local store: a store.Store in one SQLite file
// (modernc.org/sqlite, pure Go, no cgo), which survives the process — a crash, a kill -9 or a
// power loss included (docs/properties.md P8).
//
// # Layout
//
// Each sync table has its own SQL table, rows_N, registered in sync_tables under the name it
// was first written with (names match case-insensitively, so "TodoItem" and "todoitem" are one
// table, and no table name ever reaches SQL text). A rows table holds the row's id as its
// primary key (COLLATE NOCASE: SQLite folds ASCII letters only, as store.Fold does; the row
// keeps the spelling it was first stored with), the system columns version, createdAt,
// updatedAt and deleted (or their v1 "__" names) as real columns, and the whole row as JSON
// in doc. The operations, errors and config tables hold store.Operation,
// store.OperationError and the config strings of docs/semantics.md ("Local store"); the operations
// table keeps one operation per (table, item), both case-insensitive. The meta table holds
// the schema version.
//
// # Transactions
//
// The file is in WAL mode with synchronous=FULL. Every Update is one BEGIN IMMEDIATE
// transaction on the store's one writer connection, so a local write and its operation, a
// push result, a pull page or a purge is committed, and durable, whole or not at all. Views
// run in read transactions on their own connections and read the last committed state while
// an Update runs. A Store serialises its own Updates; other connections to the same file
// (another Store, another process) are kept out by SQLite's lock, waited for up to the busy
// timeout (BusyTimeout), then refused with ErrLocked.
//
// # Queries
//
// Rows translates the filter to SQL over the doc column (json_extract) to pick candidates,
// and when the translation cannot be exact re-checks them with the same Go evaluator the
// memory store and the fake server use; ordering, paging and $select are store.Query's, so
// every store answers a query the same way. Filters name columns case-insensitively while
// JSON paths are exact, so the store records every spelling of a column ever stored in a table
// (sync_columns); a name with one spelling, or none, translates exactly, a name with several
// falls back to the evaluator.
//
// # Schema versions
//
// SchemaVersion is the schema this package writes. Open migrates an older store forward, in
// one transaction, and refuses a newer one (ErrNewerSchema) without touching it.
//
// # Bad files
//
// Open refuses, with an *OpenError and before SQLite writes anything, a path it cannot use:
// ErrCannotOpen (a directory, a missing directory, an unreadable file), ErrReadOnly (the file,
// or its directory, where SQLite keeps the -wal and -shm files, is not writable), ErrCorrupt
// (not an SQLite file, damaged, or another application's database), ErrNewerSchema, and
// ErrLocked (another connection holds the lock Open needs to set up a new store past the busy
// timeout). A refused file is left byte for byte as it was. Later, View and Update wrap
// ErrLocked, ErrReadOnly and ErrCorrupt when SQLite reports them.
package sqlite

import _ "modernc.org/sqlite" // the database/sql driver "sqlite"
