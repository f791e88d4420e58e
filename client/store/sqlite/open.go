package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Option configures Open.
type Option func(*config)

type config struct {
	busyTimeout time.Duration
}

// BusyTimeout sets how long a transaction waits for a lock another connection (another
// process, or another Store on the same file) holds before failing with ErrLocked. The
// default is 5 s. Waits inside one Store do not count: its Updates queue for each other and
// honour their context instead.
func BusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = max(d, 0) }
}

// sqliteHeader is how every SQLite database file starts.
var sqliteHeader = []byte("SQLite format 3\x00")

// Open opens the store in the file at path, creating it when there is none, and migrates an
// older store forward to SchemaVersion.
//
// Open checks the file before SQLite writes to it, and refuses with an *OpenError, leaving the
// file as it was, a path it cannot use: a directory, a missing directory, a file it may not
// read (ErrCannotOpen); a file or directory it may not write (ErrReadOnly; the directory must
// be writable because SQLite keeps the -wal and -shm files beside the store); a file that is
// not an SQLite database or is another application's (ErrCorrupt); a store of a newer schema
// (ErrNewerSchema); a file whose lock another connection holds past the busy timeout when
// Open must write (ErrLocked).
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if path == "" {
		return nil, openError(path, ErrCannotOpen, nil, "no path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, openError(path, ErrCannotOpen, err, "cannot make the path absolute")
	}
	if err := checkFile(path, abs); err != nil {
		return nil, err
	}
	s := &Store{path: path, cfg: cfg, writer: make(chan struct{}, 1)}
	if err := s.open(abs); err != nil {
		s.closeAll()
		var oe *OpenError
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, openError(path, ErrCannotOpen, err, "cannot open the database")
	}
	return s, nil
}

// checkFile refuses, before SQLite opens it, a path that is not a store this package can
// open for writing. A file SQLite would reject, or would silently open read-only, is better
// refused with a reason than failed later at the first write.
func checkFile(path, abs string) error {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(abs)
		di, err := os.Stat(dir)
		switch {
		case err != nil:
			return openError(path, ErrCannotOpen, err, "the directory %s cannot be used", dir)
		case !di.IsDir():
			return openError(path, ErrCannotOpen, nil, "%s is not a directory", dir)
		}
		if err := writable(dir); err != nil {
			return openError(path, ErrReadOnly, err, "cannot create the store in the directory %s", dir)
		}
		return nil
	case err != nil:
		return openError(path, ErrCannotOpen, err, "cannot read the file's status")
	case fi.IsDir():
		return openError(path, ErrCannotOpen, nil, "it is a directory")
	case !fi.Mode().IsRegular():
		return openError(path, ErrCannotOpen, nil, "not a regular file (mode %v)", fi.Mode())
	}
	f, err := os.Open(abs)
	if err != nil {
		return openError(path, ErrCannotOpen, err, "cannot read the file")
	}
	head := make([]byte, 100) // the database header's size
	n, err := io.ReadFull(f, head)
	f.Close()
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		// An empty file is a new database to SQLite; Open makes it a store.
	case err != nil && err != io.ErrUnexpectedEOF:
		return openError(path, ErrCannotOpen, err, "cannot read the file")
	case n < len(head) || !bytes.HasPrefix(head, sqliteHeader):
		return openError(path, ErrCorrupt, nil, "the file does not start with the SQLite header")
	}
	if err := writable(abs); err != nil {
		return openError(path, ErrReadOnly, err, "the file is not writable")
	}
	dir := filepath.Dir(abs)
	if err := writable(dir); err != nil {
		return openError(path, ErrReadOnly, err, "the directory %s is not writable: SQLite keeps the store's -wal and -shm files there", dir)
	}
	return nil
}

// dsn is the driver's name for the file at abs with the given pragmas. The path goes in a file:
// URI, escaped, so that a '?' or '#' in it stays part of the name.
func dsn(abs string, pragmas ...string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path
	}
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString((&url.URL{Path: p}).EscapedPath())
	for i, pr := range pragmas {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("_pragma=")
		b.WriteString(url.QueryEscape(pr))
	}
	return b.String()
}

// open connects the writer, checks and migrates the schema, switches the file to WAL and
// sets up the readers. On error the caller closes what was opened.
func (s *Store) open(abs string) error {
	ctx := context.Background()
	busy := fmt.Sprintf("busy_timeout(%d)", s.cfg.busyTimeout.Milliseconds())
	// synchronous=FULL: a commit is durable when Update returns, across a power loss too
	// (docs/properties.md P8); in WAL mode it costs one fsync of the WAL per commit.
	var err error
	if s.wdb, err = sql.Open("sqlite", dsn(abs, busy, "synchronous(FULL)")); err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetConnMaxLifetime(0)
	sc, err := s.wdb.Conn(ctx)
	if err != nil {
		return s.openFailure(err, "SQLite cannot open the file")
	}
	s.w = newConn(sc)

	// Read the version before anything writes: a store of a newer schema, or not a store,
	// must be left exactly as it was.
	version, err := s.probe(ctx)
	if err != nil {
		return err
	}
	if version > SchemaVersion {
		return openError(s.path, ErrNewerSchema, nil, "schema version %d; this package knows versions up to %d", version, SchemaVersion)
	}
	var mode string
	if err := s.w.c.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return s.openFailure(err, "cannot switch the database to WAL")
	}
	if !strings.EqualFold(mode, "wal") {
		return openError(s.path, ErrCannotOpen, nil, "SQLite kept the journal mode %q instead of WAL", mode)
	}
	if version < SchemaVersion {
		if err := s.migrate(ctx); err != nil {
			return err
		}
	}
	if err := s.loadCatalog(ctx); err != nil {
		return s.openFailure(err, "cannot read the store's tables")
	}

	// Readers never write: query_only makes a bug that tries fail instead of writing outside
	// the writer's transaction. They map the file (reads of a large table without a read
	// system call per page: a fifth off a point read); this store never shrinks the file (no
	// VACUUM, no auto_vacuum), so a mapped page does not vanish under a reader.
	if s.rdb, err = sql.Open("sqlite", dsn(abs, busy, "query_only(1)", "mmap_size(268435456)")); err != nil {
		return err
	}
	s.rdb.SetMaxIdleConns(maxIdleReaders)
	return nil
}

// probe reads the schema version in a read transaction.
func (s *Store) probe(ctx context.Context) (int, error) {
	if _, err := s.w.c.ExecContext(ctx, "BEGIN"); err != nil {
		return 0, s.openFailure(err, "cannot read the database")
	}
	version, err := readVersion(ctx, s.w.c)
	_, _ = s.w.c.ExecContext(ctx, "ROLLBACK")
	if errors.Is(err, ErrCorrupt) && kindOf(err) == nil {
		return 0, &OpenError{Path: s.path, Reason: "not a conflictlab store", Err: err}
	}
	if err != nil {
		return 0, s.openFailure(err, "cannot read the schema version")
	}
	return version, nil
}

// migrate brings the store to SchemaVersion in one write transaction, reading the version
// again under the write lock: another process may have migrated it meanwhile.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return s.openFailure(err, "cannot lock the database to set up its schema")
	}
	err := func() error {
		version, err := readVersion(ctx, s.w.c)
		switch {
		case err != nil:
			return err
		case version > SchemaVersion:
			return openError(s.path, ErrNewerSchema, nil, "schema version %d; this package knows versions up to %d", version, SchemaVersion)
		}
		return migrate(ctx, s.w.c, version)
	}()
	if err == nil {
		_, err = s.w.c.ExecContext(ctx, "COMMIT")
	}
	if err != nil {
		_, _ = s.w.c.ExecContext(ctx, "ROLLBACK")
		var oe *OpenError
		if errors.As(err, &oe) {
			return err
		}
		return s.openFailure(err, "cannot set up the schema")
	}
	return nil
}

// openFailure turns an SQLite error met during Open into an *OpenError of the matching kind.
func (s *Store) openFailure(err error, reason string) error {
	kind := kindOf(err)
	if kind == nil {
		kind = ErrCannotOpen
	}
	return openError(s.path, kind, err, "%s", reason)
}
