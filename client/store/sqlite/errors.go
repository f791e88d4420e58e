package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/conflictlab/conflictlab/client/store"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// What can be wrong with a store's file. Open returns them inside an *OpenError; View and
// Update wrap ErrLocked, ErrReadOnly and ErrCorrupt too when SQLite reports them later (a
// write lock another process holds past the busy timeout, a page damaged after Open). Test
// with errors.Is.
var (
	// ErrCannotOpen: the path is not a file SQLite can open: a directory, a missing parent
	// directory, a special file, a file this process may not read.
	ErrCannotOpen = errors.New("cannot open")
	// ErrReadOnly: the store's file, or the directory that must hold its -wal and -shm
	// files, is not writable.
	ErrReadOnly = errors.New("read-only")
	// ErrLocked: another connection holds the lock this one needs for longer than the busy
	// timeout.
	ErrLocked = errors.New("locked by another connection")
	// ErrCorrupt: the file is not an SQLite database, is damaged, or is another
	// application's database.
	ErrCorrupt = errors.New("corrupt or not a store")
	// ErrNewerSchema: the store was written by a newer version of this package, whose schema
	// this one does not know.
	ErrNewerSchema = errors.New("written by a newer schema")
)

// OpenError is why Open refused a path. Open never changes a file it refuses.
type OpenError struct {
	Path   string // the path given to Open
	Reason string // what is wrong, for people
	// Err is one of ErrCannotOpen, ErrReadOnly, ErrLocked, ErrCorrupt or ErrNewerSchema,
	// joined with what the OS or SQLite said when there was something.
	Err error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("sqlite store: open %s: %s: %v", e.Path, e.Reason, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// openError builds an *OpenError of a kind (a sentinel) with an optional cause.
func openError(path string, kind error, cause error, reason string, args ...any) *OpenError {
	err := kind
	if cause != nil {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	return &OpenError{Path: path, Reason: fmt.Sprintf(reason, args...), Err: err}
}

// kindOf maps an SQLite error to the sentinel it means for a caller, or nil when it means
// none of them (a bug, a full disk, an I/O error: reported as they are).
func kindOf(err error) error {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return nil
	}
	// Extended result codes are on; the primary code is the low byte.
	switch se.Code() & 0xff {
	case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
		return ErrLocked
	case sqlite3lib.SQLITE_READONLY:
		return ErrReadOnly
	case sqlite3lib.SQLITE_CORRUPT, sqlite3lib.SQLITE_NOTADB:
		return ErrCorrupt
	case sqlite3lib.SQLITE_CANTOPEN:
		return ErrCannotOpen
	}
	return nil
}

// wrap turns an error from SQLite met while doing what into the store's error: with the
// sentinel it stands for, or the context's error when ctx ended meanwhile (SQLite reports an
// interrupted statement, which says less).
func wrap(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("sqlite store: %s: %w", what, cerr)
		}
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("sqlite store: %s: %w: %w", what, kind, err)
	}
	return fmt.Errorf("sqlite store: %s: %w", what, err)
}

var (
	errClosed   = fmt.Errorf("sqlite store: %w", store.ErrClosed)
	errFinished = fmt.Errorf("sqlite store: %w: transaction used after its function returned", store.ErrClosed)
	errReadOnly = errors.New("sqlite store: write in a View")
)
