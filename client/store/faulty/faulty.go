// Package faulty wraps a store.Store to inject the faults a device's store really has: a
// transaction that fails (a full disk, an I/O error, a lock held too long) and a crash right
// after a commit (the app killed, the phone out of battery).
//
// The wrapper numbers the Update transactions it passes on, from 1, in the order they get
// write access. FailAt arms a failure of one of them, CrashAfter a crash after one of them; the
// AfterCommit option calls a function at every commit boundary (for a test that kills the whole
// process there, or looks at the store between two transactions), and OnCrash shows what a
// crash leaves before the inner store is closed.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/conflictlab/conflictlab/client/store"
)

// Errors of the wrapper; test with errors.Is.
var (
	// ErrInjected is what an Update armed by FailAt fails with (as an *InjectedError).
	ErrInjected = errors.New("faulty: injected store failure")
	// ErrCrashed is what every call fails with after the crash CrashAfter armed (as a
	// *CrashError).
	ErrCrashed = errors.New("faulty: the store crashed")
	// ErrArm is what FailAt and CrashAfter return for a transaction number below 1.
	ErrArm = errors.New("faulty: arm with a transaction count of at least 1")
)

// InjectedError is the failure FailAt injected into transaction N.
type InjectedError struct {
	N int // the transaction's number since the wrapper was made
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("faulty: store transaction %d failed (injected); it was rolled back", e.N)
}

// Is makes errors.Is(err, ErrInjected) true.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// CrashError says the store crashed right after transaction N committed.
type CrashError struct {
	N int // the last transaction that committed
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("faulty: the store crashed right after transaction %d committed; reopen it", e.N)
}

// Is makes errors.Is(err, ErrCrashed) true.
func (e *CrashError) Is(target error) bool { return target == ErrCrashed }

// Store is a store.Store that passes every call to an inner store, with the faults it was
// armed with. It is safe for concurrent use.
type Store struct {
	inner       store.Store
	afterCommit func(n int)
	onCrash     func(last int, inner store.Store)

	mu      sync.Mutex
	n       int // the number of the last transaction that got write access
	failAt  int // the transaction to fail; 0: none
	crashAt int // the transaction to crash after; 0: none
	crash   *CrashError
}

var _ store.Store = (*Store)(nil)

// An Option configures a Store.
type Option func(*Store)

// AfterCommit calls fn with a transaction's number right after it committed, before Update
// returns (and, for the transaction CrashAfter named, after the crash). fn runs on the
// committing goroutine, outside the store's write access.
func AfterCommit(fn func(n int)) Option { return func(s *Store) { s.afterCommit = fn } }

// OnCrash calls fn once, when the store dies, with the last transaction that committed and the
// inner store, still open: what fn reads there is exactly what the crash leaves. fn must not
// write to it. Then the inner store is closed.
func OnCrash(fn func(last int, inner store.Store)) Option { return func(s *Store) { s.onCrash = fn } }

// New wraps inner; the Store owns it from now on and closes it.
func New(inner store.Store, opts ...Option) *Store {
	s := &Store{inner: inner}
	for _, o := range opts {
		o(s)
	}
	return s
}

// FailAt arms a failure of the n-th Update from now (n = 1: the next one): fn runs, then the
// Update returns an *InjectedError, so the inner store rolls back everything fn wrote. Later
// transactions work again. If fn fails on its own, that failure stands and the fault is spent.
// Arming again replaces the failure not yet injected.
func (s *Store) FailAt(n int) error { return s.arm(&s.failAt, "FailAt", n) }

// CrashAfter arms a crash after the n-th Update from now (n = 1: the next one): that Update
// commits, then the store dies. The Update itself returns a *CrashError, as a process killed
// right after the commit never learns how its transaction ended; every later View and Update
// returns it too, nothing more is written, and the inner store is closed. For a durable store
// what is on disk is then what a kill -9 right after that commit leaves. If the n-th Update
// fails on its own, the store dies all the same, with that transaction rolled back.
func (s *Store) CrashAfter(n int) error { return s.arm(&s.crashAt, "CrashAfter", n) }

// arm sets at (failAt or crashAt) to the n-th Update from now.
func (s *Store) arm(at *int, name string, n int) error {
	if n < 1 {
		return fmt.Errorf("%w: %s(%d)", ErrArm, name, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*at = s.n + n
	return nil
}

// Transactions is how many Updates got write access since the wrapper was made.
func (s *Store) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Crashed returns the crash, or nil while the store lives.
func (s *Store) Crashed() *CrashError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crash
}

// View passes fn to the inner store, unless the store crashed.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if err := s.Crashed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.inner.View(ctx, fn)
}

// Update passes fn to the inner store as transaction n (its number once it has write access),
// failing it or crashing after it as armed.
func (s *Store) Update(ctx context.Context, fn func(store.Writer) error) error {
	if err := s.Crashed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n, inject, dies, died := 0, false, false, false
	defer func() { // fn panicked: the store dies all the same
		if dies && !died {
			s.die()
		}
	}()
	err := s.inner.Update(ctx, func(w store.Writer) (err error) {
		s.mu.Lock()
		if s.crash != nil { // crashed while this one waited for write access
			err := s.crash
			s.mu.Unlock()
			return err
		}
		s.n++
		n = s.n
		inject, dies = s.failAt == n, s.crashAt == n
		if inject {
			s.failAt = 0
		}
		if dies {
			s.crashAt = 0
		}
		s.mu.Unlock()
		returned := false
		if dies {
			// The crash is set before the commit, while this transaction holds write access:
			// one waiting for it finds the crash and rolls back.
			defer func() {
				last := n
				if err != nil || !returned {
					last = n - 1
				}
				s.mu.Lock()
				s.crash = &CrashError{N: last}
				s.mu.Unlock()
			}()
		}
		err = fn(w)
		returned = true
		if err == nil && inject {
			err = &InjectedError{N: n}
		}
		return err
	})
	if n == 0 { // fn never ran: it waited for write access until the crash, or ctx ended
		if crash := s.Crashed(); crash != nil {
			return crash
		}
		return err
	}
	if dies {
		if err != nil { // the commit failed: the last commit is the one before
			s.mu.Lock()
			s.crash.N = n - 1
			s.mu.Unlock()
		}
		s.die()
		died = true
	}
	if err == nil && s.afterCommit != nil {
		s.afterCommit(n)
	}
	if crash := s.Crashed(); crash != nil {
		return crash
	}
	return err
}

// die finishes a crash: OnCrash reads the inner store, then it is closed.
func (s *Store) die() {
	s.mu.Lock()
	last := s.crash.N
	s.mu.Unlock()
	if s.onCrash != nil {
		s.onCrash(last, s.inner)
	}
	_ = s.inner.Close()
}

// Close closes the inner store; after a crash, which closed it already, it returns nil.
func (s *Store) Close() error {
	if s.Crashed() != nil {
		return nil
	}
	return s.inner.Close()
}
