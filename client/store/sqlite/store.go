package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/conflictlab/conflictlab/client/store"
)

// Store is a store.Store in one SQLite file. Create one with Open; it is safe for concurrent
// use.
//
// Updates run one at a time on one connection, each in a BEGIN IMMEDIATE transaction; Views
// run on a pool of read-only connections, each in a read transaction: in WAL mode they read
// the last committed state and neither waits for the other.
//
// Close does not wait for running transactions: their later calls fail with an error wrapping
// store.ErrClosed, and an Update that has not yet committed is rolled back.
type Store struct {
	path   string
	cfg    config
	closed atomic.Bool

	wdb *sql.DB // one connection: the writer
	rdb *sql.DB // the readers

	// writer is held by the Update whose function runs; it guards w and cat.
	writer       chan struct{}
	w            *conn
	cat          catalog
	closeWriter  sync.Once
	writerClosed error // what closing the writer returned

	mu   sync.Mutex // guards idle and writerClosed
	idle []*conn    // readers not in a View, with their prepared statements
}

var _ store.Store = (*Store)(nil)

// maxIdleReaders is how many reader connections are kept open between Views; more are opened
// when more Views run at once.
const maxIdleReaders = 4

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// View runs fn in a read transaction: fn sees the state committed when it first reads, and
// nothing any Update commits meanwhile. Views run at the same time as each other and as an
// Update. ctx bounds the wait for a connection and each read fn makes.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := s.reader(ctx)
	if err != nil {
		return s.failed(ctx, "start a view", err)
	}
	if _, err := c.exec(ctx, "BEGIN"); err != nil {
		s.release(c, false)
		return s.failed(ctx, "start a view", err)
	}
	t := &tx{s: s, c: c, ctx: ctx}
	defer func() {
		t.finish()
		_, err := c.exec(context.Background(), "ROLLBACK")
		s.release(c, err == nil)
	}()
	return fn(t)
}

// Update runs fn in a write transaction and commits it when fn returns nil; when fn returns
// an error or panics, it rolls back. Updates run one at a time: one waits, as long as ctx
// allows, for the one before. ctx also bounds the wait for a lock another connection holds
// (at most the busy timeout, then ErrLocked). Once fn runs, the writes it makes and the commit
// do not watch ctx: SQLite rolls back a whole transaction when a write in it is interrupted,
// and the writes fn made after that would each commit on their own.
func (s *Store) Update(ctx context.Context, fn func(store.Writer) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() {
		<-s.writer
		if s.closed.Load() {
			s.closeWriterIfIdle()
		}
	}()
	if s.closed.Load() {
		return errClosed
	}
	if _, err := s.w.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return s.failed(ctx, "start an update", err)
	}
	bg := context.WithoutCancel(ctx)
	t := &tx{s: s, c: s.w, ctx: bg, write: true}
	committed := false
	defer func() {
		t.finish()
		if !committed {
			// Also on a panic, which goes on up once the transaction is rolled back.
			_, _ = s.w.exec(context.Background(), "ROLLBACK")
		}
	}()
	if err := s.refreshCatalog(bg); err != nil {
		return s.failed(ctx, "start an update", err)
	}
	if err := fn(t); err != nil {
		return err
	}
	// Finish before committing, so a goroutine that kept the Writer cannot write while the
	// transaction commits.
	t.finish()
	if t.broken != nil {
		return t.broken
	}
	if s.closed.Load() {
		return errClosed
	}
	if _, err := s.w.exec(bg, "COMMIT"); err != nil {
		return s.failed(nil, "commit", err)
	}
	committed = true
	t.committed()
	return nil
}

// Close makes every later call fail with an error wrapping store.ErrClosed and closes the
// file; once the last connection is closed SQLite folds the WAL into the database file and
// removes it. Closing twice is not an error.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.closeReaders()
	s.closeWriterIfIdle()
	// An Update under way closes the writer when it lets go (closeWriterIfIdle), perhaps
	// while this reads what closing it said: under s.mu.
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(err, s.writerClosed)
}

// closeAll closes what a failed Open had opened.
func (s *Store) closeAll() {
	s.closed.Store(true)
	_ = s.closeReaders()
	s.closeWriterIfIdle()
}

// closeReaders closes the idle readers and the readers' pool; a View still running closes its
// connection when it ends (see release).
func (s *Store) closeReaders() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
}

// closeWriterIfIdle closes the writer connection unless an Update holds it; that Update
// calls this again when it has let go (see Update), so whichever comes last closes it. Its
// prepared statements must be closed first: SQLite does not really close a connection with
// statements left, and a connection left open keeps the WAL from being folded in.
func (s *Store) closeWriterIfIdle() {
	select {
	case s.writer <- struct{}{}:
	default:
		return
	}
	defer func() { <-s.writer }()
	s.closeWriter.Do(func() {
		var errs []error
		if s.w != nil {
			errs = append(errs, s.w.close())
		}
		if s.wdb != nil {
			errs = append(errs, s.wdb.Close())
		}
		s.mu.Lock()
		s.writerClosed = errors.Join(errs...)
		s.mu.Unlock()
	})
}

// reader takes a reader connection from the pool, or opens one.
func (s *Store) reader(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	c, err := s.rdb.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(c), nil
}

// release gives a reader connection back to the pool, or closes it when it is not healthy,
// the pool is full or the store closed.
func (s *Store) release(c *conn, healthy bool) {
	s.mu.Lock()
	if healthy && !s.closed.Load() && len(s.idle) < maxIdleReaders {
		s.idle = append(s.idle, c)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = c.close()
}

// failed is the error of a View or Update that could not start or finish: ErrClosed when the
// store closed meanwhile (its connections fail then), else the SQLite error wrapped.
func (s *Store) failed(ctx context.Context, what string, err error) error {
	if s.closed.Load() {
		return errClosed
	}
	return wrap(ctx, what, err)
}
