package fakeserver

import (
	"testing"
	"time"
)

// The real clock must hide a system clock that steps back (NTP, a VM resuming): updatedAt
// never goes backwards unless Advance says so.
func TestRealClockHidesStepsBack(t *testing.T) {
	wall := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := &realClock{now: func() time.Time { return wall }}
	first := c.Stamp()
	wall = wall.Add(-time.Minute)
	if got := c.Stamp(); got.Before(first) {
		t.Fatalf("Stamp went back from %v to %v when the wall clock stepped back", first, got)
	}
	if got := c.Now(); got.Before(first) {
		t.Fatalf("Now went back from %v to %v", first, got)
	}
	wall = wall.Add(2 * time.Minute)
	if got := c.Stamp(); !got.Equal(wall) {
		t.Fatalf("Stamp = %v, want the wall clock %v once it is ahead again", got, wall)
	}
	c.Advance(-time.Hour)
	if got, want := c.Stamp(), wall.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("after Advance(-1h), Stamp = %v, want %v", got, want)
	}
}

func TestRealClockTruncatesToMilliseconds(t *testing.T) {
	c := &realClock{now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC) }}
	if got := c.Stamp().Nanosecond(); got != 123_000_000 {
		t.Fatalf("Stamp nanoseconds = %d, want 123000000", got)
	}
}
