package fakeserver

import (
	"sync"
	"time"
)

var clockFreezeAction = &action{
	name:    "clock-freeze",
	summary: "stamp every matching write with the updatedAt of the first one, as a coarse clock would",
	params:  func() any { return &noParams{} },
	check:   noCheck,
	build:   func(any) behaviour { return &clockFreeze{} },
}

type clockFreeze struct {
	mu     sync.Mutex
	frozen time.Time
}

func (f *clockFreeze) stamp(t time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen.IsZero() {
		f.frozen = t
	}
	return f.frozen
}
