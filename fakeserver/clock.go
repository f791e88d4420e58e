package fakeserver

import (
	"sync"
	"time"
)

// TimeFormat is how the server writes createdAt and updatedAt: UTC, always three fractional
// digits, as the Azure servers do.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// A Clock gives the server its notion of time. Every write takes its updatedAt from Stamp, so a
// Clock decides whether two writes can share a timestamp and whether time can go backwards.
type Clock interface {
	// Now reads the clock without moving it.
	Now() time.Time
	// Stamp returns the timestamp of a write happening now.
	Stamp() time.Time
	// Advance shifts the clock by d. A negative d turns it back: the one way, besides a
	// clock fault, that updatedAt can go backwards.
	Advance(d time.Duration)
}

// RealClock returns the wall clock at millisecond precision, made monotonic: Stamp never
// returns a time before the previous one, even if the system clock steps back.
func RealClock() Clock { return &realClock{now: time.Now} }

type realClock struct {
	mu     sync.Mutex
	now    func() time.Time
	offset time.Duration
	last   time.Time
}

func (c *realClock) read() time.Time {
	return c.now().Add(c.offset).UTC().Truncate(time.Millisecond)
}

func (c *realClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.read()
	if t.Before(c.last) {
		return c.last
	}
	return t
}

func (c *realClock) Stamp() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.read()
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	return t
}

func (c *realClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	if d < 0 {
		// An explicit step back is the point of the call: drop the monotonic floor.
		c.last = c.read()
	}
}

// DefaultSimStart is where a simulated clock starts when it is given the zero time.
var DefaultSimStart = time.Date(2014, 6, 11, 0, 0, 0, 0, time.UTC)

// SimulatedClock is a deterministic clock for tests: it stands still except that every write
// moves it forward by its step (default 1 ms). A step of 0 makes every write share one
// updatedAt, the case clients must survive with `ge` and $skip.
type SimulatedClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// SimClock returns a simulated clock that starts at start (DefaultSimStart if zero) and steps
// 1 ms per write.
func SimClock(start time.Time) *SimulatedClock {
	if start.IsZero() {
		start = DefaultSimStart
	}
	return &SimulatedClock{now: start.UTC().Truncate(time.Millisecond), step: time.Millisecond}
}

// WithStep sets how far each write moves the clock and returns the clock, for chaining:
// SimClock(t0).WithStep(0).
func (c *SimulatedClock) WithStep(step time.Duration) *SimulatedClock {
	c.SetStep(step)
	return c
}

// SetStep changes the step; negative steps are treated as 0.
func (c *SimulatedClock) SetStep(step time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = max(step, 0).Truncate(time.Millisecond)
}

// Step reports the current step.
func (c *SimulatedClock) Step() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.step
}

func (c *SimulatedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Stamp returns the current time and then moves the clock on by the step, so the first write
// is stamped with the start time itself.
func (c *SimulatedClock) Stamp() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *SimulatedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d).Truncate(time.Millisecond)
}
