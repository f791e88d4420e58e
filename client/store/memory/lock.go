package memory

import (
	"context"
	"sync"
)

// rwLock is a readers–writer lock whose waits honour a context, which sync.RWMutex cannot.
// A waiting writer holds back new readers, so a commit is not starved by a stream of Views.
type rwLock struct {
	mu      sync.Mutex
	readers int
	writing bool
	waiting int           // writers waiting for the readers to leave
	wake    chan struct{} // closed (and replaced) whenever the state above changes
}

func (l *rwLock) rlock(ctx context.Context) error {
	l.mu.Lock()
	for l.writing || l.waiting > 0 {
		if err := l.wait(ctx); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	l.readers++
	l.mu.Unlock()
	return nil
}

func (l *rwLock) runlock() {
	l.mu.Lock()
	l.readers--
	if l.readers == 0 {
		l.broadcast()
	}
	l.mu.Unlock()
}

func (l *rwLock) lock(ctx context.Context) error {
	l.mu.Lock()
	l.waiting++
	for l.writing || l.readers > 0 {
		if err := l.wait(ctx); err != nil {
			l.waiting--
			// Readers held back by this writer may go now.
			l.broadcast()
			l.mu.Unlock()
			return err
		}
	}
	l.waiting--
	l.writing = true
	l.mu.Unlock()
	return nil
}

func (l *rwLock) unlock() {
	l.mu.Lock()
	l.writing = false
	l.broadcast()
	l.mu.Unlock()
}

// wait releases l.mu until the next broadcast or until ctx is done, and holds it again on return.
func (l *rwLock) wait(ctx context.Context) error {
	if l.wake == nil {
		l.wake = make(chan struct{})
	}
	wake := l.wake
	l.mu.Unlock()
	var err error
	select {
	case <-wake:
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	return err
}

func (l *rwLock) broadcast() {
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
}
