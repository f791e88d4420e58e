package fakeserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A query's event is reserved before its evaluation and readers of the history wait for it: a
// panic in the evaluation (a bug) must still complete the event, or every reader would hang.
func TestAReservedEventIsCompletedWhenEvaluationPanics(t *testing.T) {
	s := New(Config{Clock: SimClock(DefaultSimStart)})
	r := httptest.NewRequest("GET", "/tables/t", nil)
	func() {
		defer func() { _ = recover() }()
		s.apply(r, func(*Event) result { return result{eval: &evalPlan{}} }) // no query: run panics
	}()
	done := make(chan []Event, 1)
	go func() { done <- s.History() }()
	select {
	case h := <-done:
		if len(h) != 1 || h[0].Status != http.StatusInternalServerError {
			t.Fatalf("history %+v, want the one event, completed with a 500", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("History waits for an event that is never completed")
	}
}
