package fakeserver

import (
	"fmt"
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
	return clampTime(c.now().Add(c.offset)).UTC().Truncate(time.Millisecond)
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

// Advance moves the clock by d; the offset from the wall clock stops at ±maxRealOffset.
func (c *realClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = max(min(c.offset+clampDuration(d), maxRealOffset), -maxRealOffset)
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
//
// At MaxTime the clock stops: later writes share that instant.
func (c *SimulatedClock) Stamp() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = clampTime(c.now.Add(c.step))
	return t
}

// Advance moves the clock by d, stopping at MinTime and MaxTime.
func (c *SimulatedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = clampTime(c.now.Add(d)).Truncate(time.Millisecond)
}

// checkAdvance says why Advance(d) would leave the clock's range, or nil.
func (c *SimulatedClock) checkAdvance(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return checkRange(c.now, d)
}

func (c *realClock) checkAdvance(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off := c.offset + d; d > 0 && off < c.offset || d < 0 && off > c.offset || off > maxRealOffset || off < -maxRealOffset {
		return fmt.Errorf("the real clock may be moved at most %d years from the system clock (it is %s off now)", maxRealOffset/(365*24*time.Hour), c.offset.Round(time.Second))
	}
	return checkRange(c.now().Add(c.offset), d)
}

// A boundedClock can say in advance that a move would take it out of its range.
type boundedClock interface {
	checkAdvance(d time.Duration) error
}

func checkRange(now time.Time, d time.Duration) error {
	if t := now.Add(d); t.After(MaxTime) || t.Before(MinTime) || d > 0 && t.Before(now) || d < 0 && t.After(now) {
		return fmt.Errorf("the clock would leave the years %d–%d it keeps to (every timestamp must be one a client can read)", MinTime.Year(), MaxTime.Year())
	}
	return nil
}

// maxRealOffset is how far the real clock can be moved from the system clock: a Duration
// holds ±292 years, and a wider offset would wrap.
const maxRealOffset = 200 * 365 * 24 * time.Hour

func clampDuration(d time.Duration) time.Duration { return max(min(d, maxRealOffset), -maxRealOffset) }

func clampTime(t time.Time) time.Time {
	switch {
	case t.After(MaxTime):
		return MaxTime
	case t.Before(MinTime):
		return MinTime
	}
	return t
}

// The range of the server's clocks: the years encoding/json and the table protocol's time
// format can write. Moving a clock beyond it is refused (the admin API) or stops at the edge
// (Advance, a simulated clock's steps), so no write is ever stamped with a time no client can
// read.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
)
