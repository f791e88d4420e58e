package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// benchRow is a todo item of a realistic size.
func benchRow(i int) map[string]any {
	return map[string]any{"id": fmt.Sprintf("item-%07d", i), "text": fmt.Sprintf("Buy eggs, batch %d", i),
		"complete": i%3 == 0, "priority": i % 5}
}

// benchServer returns a started server holding n rows and their JSON size as a client pulls them.
func benchServer(b *testing.B, n int) (*fakeserver.Server, string, int) {
	b.Helper()
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart), Seed: 1})
	size := 0
	for i := range n {
		row, err := srv.Insert("todoitem", benchRow(i))
		if err != nil {
			b.Fatal(err)
		}
		js, _ := json.Marshal(row)
		size += len(js)
	}
	ts := srv.Start()
	b.Cleanup(ts.Close)
	return srv, ts.URL, size
}

// heapPeaks samples the heap until stop is called and returns two peaks above the start: of
// the live heap (what the last GC found reachable: the memory the pull holds on to) and of the
// whole heap (live plus garbage not yet collected, which GOGC governs).
func heapPeaks() (stop func() (live, total uint64)) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() (uint64, uint64) {
		metrics.Read(samples)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return samples[0].Value.Uint64(), m.HeapAlloc
	}
	baseLive, baseTotal := read()
	var peakLive, peakTotal atomic.Uint64
	note := func() {
		l, t := read()
		if l > baseLive && l-baseLive > peakLive.Load() {
			peakLive.Store(l - baseLive)
		}
		if t > baseTotal && t-baseTotal > peakTotal.Load() {
			peakTotal.Store(t - baseTotal)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				note()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		runtime.GC() // the live heap at the end counts too: the store holds every row
		note()
		return peakLive.Load(), peakTotal.Load()
	}
}

// BenchmarkPull100k pulls 100,000 rows from the in-process server over loopback HTTP into an
// empty memory store, in pages of 50 (the SDKs' default). peak-heap/json is the heap's peak
// growth during the pull over the rows' JSON size: peak-live/json counts what the pull holds
// (store, pages in flight); peak-heap/json adds the garbage GOGC lets wait for collection.
func BenchmarkPull100k(b *testing.B) {
	const n = 100_000
	_, url, size := benchServer(b, n)
	c, err := client.New(url)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	var peakLive, peakTotal uint64
	for b.Loop() {
		b.StopTimer()
		st := memory.New()
		sc, _ := client.NewSyncContext(c, st, nil)
		stop := heapPeaks()
		b.StartTimer()
		if err := sc.Table("todoitem").Pull(ctx, nil, ""); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l, t := stop()
		peakLive, peakTotal = max(peakLive, l), max(peakTotal, t)
		rows, _ := sc.Table("todoitem").Read(ctx, client.NewQuery().Top(1).Skip(n-1))
		if len(rows) != 1 {
			b.Fatalf("pulled %d rows at the end, want 1", len(rows))
		}
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/1e6, "json-MB")
	b.ReportMetric(float64(peakLive)/float64(size), "peak-live/json")
	b.ReportMetric(float64(peakTotal)/float64(size), "peak-heap/json")
}

// BenchmarkPush10k pushes 10,000 queued inserts; ops/s is operations per second.
func BenchmarkPush10k(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart), Seed: 1})
		ts := srv.Start()
		c, _ := client.New(ts.URL)
		st := memory.New()
		sc, _ := client.NewSyncContext(c, st, nil)
		t := sc.Table("todoitem")
		for i := range n {
			if _, err := t.Insert(ctx, benchRow(i)); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		b.StartTimer()
		if _, err := sc.Push(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		total += time.Since(start)
		if got := len(srv.Rows("todoitem")); got != n {
			b.Fatalf("server has %d rows, want %d", got, n)
		}
		ts.Close()
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "ops/s")
}

// BenchmarkRead100kFilter reads with a filter over 100,000 local rows.
func BenchmarkRead100kFilter(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st := memory.New()
	b.Cleanup(func() { _ = st.Close() })
	c, _ := client.New("http://127.0.0.1:1")
	sc, _ := client.NewSyncContext(c, st, nil)
	t := sc.Table("todoitem")
	for i := range n {
		if _, err := t.Insert(ctx, benchRow(i)); err != nil {
			b.Fatal(err)
		}
	}
	q := client.NewQuery().Where("complete eq true and priority ge 3 and startswith(text, 'Buy')")
	b.ReportAllocs()
	for b.Loop() {
		rows, err := t.Read(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) == 0 {
			b.Fatal("no rows")
		}
	}
}
