package fakeserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/fakeserver"
)

func benchServer(b *testing.B, rows int) *fakeserver.Server {
	b.Helper()
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
	for i := range rows {
		if _, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%05d", i), "n": i, "complete": i%2 == 0}); err != nil {
			b.Fatal(err)
		}
	}
	return srv
}

func serve(b *testing.B, h http.Handler, method, target, body string, kv ...string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 400 {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
	}
}

// BenchmarkIncrementalPage is one page of the SDKs' incremental-sync query over 1000 rows.
func BenchmarkIncrementalPage(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, 1000).Handler()
	target := "/tables/todoitem?$filter=" + url.QueryEscape("(updatedAt ge datetimeoffset'2014-06-09T23:40:04.500Z')") +
		"&$orderby=updatedAt&$skip=0&$top=50&__includeDeleted=true"
	for b.Loop() {
		serve(b, h, "GET", target, "")
	}
}

// BenchmarkConditionalUpdate is a PATCH with a matching If-Match, the push of one update.
func BenchmarkConditionalUpdate(b *testing.B) {
	inProcessBenchmark(b)
	srv := benchServer(b, 1000)
	h := srv.Handler()
	for b.Loop() {
		row, _ := srv.Row("todoitem", "r00500")
		serve(b, h, "PATCH", "/tables/todoitem/r00500", `{"n":1}`, "If-Match", `"`+row["version"].(string)+`"`)
	}
}

// BenchmarkInsert is a POST of a new row.
func BenchmarkInsert(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, 0).Handler()
	i := 0
	for b.Loop() {
		i++
		serve(b, h, "POST", "/tables/todoitem", fmt.Sprintf(`{"id":"n%d","text":"x"}`, i))
	}
}

// queryBenchRows is the size of the table the Query benchmarks page through: a large sync.
const queryBenchRows = 100_000

// BenchmarkQueryFullPullPage is one page from the middle of a full pull of a 100k-row table:
// no $filter, no $orderby, tombstones included, as the SDKs' first pull asks.
func BenchmarkQueryFullPullPage(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, queryBenchRows).Handler()
	target := "/tables/todoitem?$top=50&$skip=50000&__includeDeleted=true"
	for b.Loop() {
		serve(b, h, "GET", target, "")
	}
}

// BenchmarkQueryLivePage is the same page without __includeDeleted, over a table where every
// tenth row is a tombstone, so the server has to skip deleted rows.
func BenchmarkQueryLivePage(b *testing.B) {
	inProcessBenchmark(b)
	srv := benchServer(b, queryBenchRows)
	for i := 0; i < queryBenchRows; i += 10 {
		if _, err := srv.Delete("todoitem", fmt.Sprintf("r%05d", i)); err != nil {
			b.Fatal(err)
		}
	}
	h := srv.Handler()
	target := "/tables/todoitem?$top=50&$skip=45000"
	for b.Loop() {
		serve(b, h, "GET", target, "")
	}
}

// BenchmarkQueryIncrementalPage is one page from the middle of an incremental pull of a
// 100k-row table: every row matches the SDKs' updatedAt filter.
func BenchmarkQueryIncrementalPage(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, queryBenchRows).Handler()
	target := "/tables/todoitem?$filter=" + url.QueryEscape("(updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z')") +
		"&$orderby=updatedAt&$skip=50000&$top=50&__includeDeleted=true"
	for b.Loop() {
		serve(b, h, "GET", target, "")
	}
}

// BenchmarkQueryFilterPage is one page of a query the index cannot answer, a filter on a user
// column and an $orderby, over a 100k-row table: the general path.
func BenchmarkQueryFilterPage(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, queryBenchRows).Handler()
	target := "/tables/todoitem?$filter=" + url.QueryEscape("complete eq true and n ge 20000") +
		"&$orderby=" + url.QueryEscape("n desc") + "&$skip=10000&$top=50"
	for b.Loop() {
		serve(b, h, "GET", target, "")
	}
}

// BenchmarkQueryFullPull is a whole full pull of a 100k-row table, page by page (2000 pages
// of 50), server side only.
func BenchmarkQueryFullPull(b *testing.B) {
	inProcessBenchmark(b)
	h := benchServer(b, queryBenchRows).Handler()
	for b.Loop() {
		for skip := 0; skip < queryBenchRows; skip += 50 {
			serve(b, h, "GET", fmt.Sprintf("/tables/todoitem?$top=50&$skip=%d&__includeDeleted=true", skip), "")
		}
	}
}
