package fakeserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// BenchmarkMillionRequests serves a million requests in memory (lookups, conditional and
// unconditional updates, queries with long query strings, refused requests) to a server with
// the default history limits, and reports the live heap and the process's RSS after 100,000
// and after 1,000,000 of them: once the history is full they stay flat, where a history that
// kept everything grew by about 2 KB a request.
func BenchmarkMillionRequests(b *testing.B) {
	inProcessBenchmark(b)
	for b.Loop() {
		srv := fakeserver.New(fakeserver.Config{Seed: 1})
		for i := range 1000 {
			if _, err := srv.Insert(loadTable, map[string]any{"id": loadID(i), "text": "Buy eggs", "n": i}); err != nil {
				b.Fatal(err)
			}
		}
		h := srv.Handler()
		long := strings.Repeat("x", 4<<10) // what a hostile or careless client may send
		serve := func(i int) {
			var req *http.Request
			id := loadID(i % 1000)
			switch i % 5 {
			case 0, 1:
				req = httptest.NewRequest("GET", "/tables/todoitem/"+id, nil)
			case 2:
				req = httptest.NewRequest("PATCH", "/tables/todoitem/"+id, strings.NewReader(`{"text":"`+strconv.Itoa(i)+`"}`))
			case 3:
				req = httptest.NewRequest("GET", "/tables/todoitem?$top=5&$filter=n%20ge%20990&junk="+long, nil)
			default:
				req = httptest.NewRequest("POST", "/tables/todoitem", strings.NewReader(`{"text":"`+long+`"`)) // malformed
			}
			req.RemoteAddr = "127.0.0.1:1"
			req.Header.Set("ZUMO-API-VERSION", "2.0.0")
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		var at100k, at1m memFigures
		for i := range 1_000_000 {
			serve(i)
			switch i + 1 {
			case 100_000:
				at100k = measureMemory()
			case 1_000_000:
				at1m = measureMemory()
			}
		}
		b.ReportMetric(at100k.heapMB, "heap-MB@100k")
		b.ReportMetric(at1m.heapMB, "heap-MB@1M")
		b.ReportMetric(at100k.rssMB, "rss-MB@100k")
		b.ReportMetric(at1m.rssMB, "rss-MB@1M")
		b.ReportMetric(float64(srv.HistoryStats().Dropped), "events-dropped")
		if at1m.heapMB > 1.5*at100k.heapMB+16 {
			b.Fatalf("the heap grew from %.1f MB to %.1f MB", at100k.heapMB, at1m.heapMB)
		}
	}
}

type memFigures struct{ heapMB, rssMB float64 }

// measureMemory is the live heap after a collection, and the resident set (Linux; 0
// elsewhere).
func measureMemory() memFigures {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	f := memFigures{heapMB: float64(m.HeapAlloc) / (1 << 20)}
	if raw, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident int64
		if _, err := fmt.Sscan(string(raw), &size, &resident); err == nil {
			f.rssMB = float64(resident*int64(os.Getpagesize())) / (1 << 20)
		}
	}
	return f
}
