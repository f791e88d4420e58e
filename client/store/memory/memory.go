// Package memory is an in-memory store.Store: the store the sync client uses in tests and when
// nothing needs to survive the process.
//
// Rows, operation items and error items are kept as their encoding/json encoding and decoded on
// every read. That makes every read a fresh value the caller owns, makes a stored value
// independent of the map it came from, and keeps a large table close to the size of its JSON.
//
// An Update writes into a private overlay and merges it into the committed state only when its
// function returns nil, so a failed or panicking Update has nothing to undo, and a View never
// waits for an Update's function: it reads the committed state, and waits only while an Update
// merges its overlay.
package memory

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/conflictlab/conflictlab/client/store"
)

// Store is an in-memory store.Store. Create one with New; it is safe for concurrent use.
//
// A row's id is its "id" key, spelled exactly so. Table names and item ids match under ASCII
// case folding. A row keeps the spelling of the id it was first stored with: a PutRow whose id
// differs only in case replaces the row's data and the stored row keeps the old spelling (until
// the row is deleted). Operation IDs, error keys (operation IDs) and config keys match exactly.
// PutError, like PutOperation, refuses a record without its ID or with an item that JSON cannot
// encode (store.ErrInvalid).
//
// Close does not wait for running transactions: their later calls fail with an error wrapping
// store.ErrClosed, and an Update that has not yet committed is discarded.
//
// Transactions do not nest: an Update called from inside an Update's fn waits for that Update,
// and one called from a View's fn cannot commit before that View ends, so both wait until their
// context ends.
type Store struct {
	closed atomic.Bool
	// writer is held by the Update whose function is running, from before fn until after its
	// commit: only its holder may read the committed state without the lock, because only its
	// holder changes it.
	writer chan struct{}
	// lock guards the committed state between Views (readers) and a commit (the writer).
	lock  rwLock
	state state
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{writer: make(chan struct{}, 1), state: newState()}
}

var errClosed = fmt.Errorf("memory store: %w", store.ErrClosed)

// View runs fn with the committed state, which no commit changes until fn returns. Views run
// concurrently with each other and with an Update's function; a View waits only while an
// Update commits (or when another commit is already waiting for earlier Views to finish).
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock.rlock(ctx); err != nil {
		return err
	}
	defer s.lock.runlock()
	if s.closed.Load() {
		return errClosed
	}
	t := &tx{s: s}
	defer t.finish()
	return fn(t)
}

// Update runs fn with exclusive write access and commits its writes when it returns nil.
// Updates run one at a time; one waits for the one before it to commit. The commit waits for
// the Views already running to finish; if ctx is done first, Update returns ctx's error and
// applies nothing, as when fn fails.
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
	defer func() { <-s.writer }()
	if s.closed.Load() {
		return errClosed
	}
	t := &tx{s: s, w: newOverlay()}
	// On a panic the overlay is dropped with t: there is nothing to roll back, and the panic
	// goes on up unchanged once t is finished and the writer slot released.
	defer t.finish()
	if err := fn(t); err != nil {
		return err
	}
	// Finish before committing, so a goroutine that kept the Writer cannot change the overlay
	// while it is merged.
	t.finish()
	if err := s.lock.lock(ctx); err != nil {
		return err
	}
	defer s.lock.unlock()
	if s.closed.Load() {
		return errClosed
	}
	s.state.apply(t.w)
	return nil
}

// Close makes every later call fail with an error wrapping store.ErrClosed. Closing twice is
// not an error.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
