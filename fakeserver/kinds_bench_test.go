package fakeserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// BenchmarkRequestKinds is each kind of request of the load's mix alone, in memory, against
// the fake server and the no-work handler: what each costs the server, without the network.
func BenchmarkRequestKinds(b *testing.B) {
	inProcessBenchmark(b)
	for _, kind := range []string{"lookup", "patch", "incremental", "filter"} {
		for _, side := range []string{"baseline", "fake"} {
			b.Run(kind+"/"+side, func(b *testing.B) {
				h := baselineHandler()
				var srv *fakeserver.Server
				if side == "fake" {
					srv = loadServer(b, 1000)
					h = srv.Handler()
				}
				since := time.Now().Add(-time.Second).UTC().Format(fakeserver.TimeFormat)
				i := 0
				cpu := cpuTime()
				for b.Loop() {
					i++
					var req *http.Request
					switch kind {
					case "lookup":
						req = httptest.NewRequest("GET", "/tables/todoitem/"+loadID(i%1000), nil)
					case "patch":
						req = httptest.NewRequest("PATCH", "/tables/todoitem/"+loadID(i%1000), strings.NewReader(fmt.Sprintf(`{"n":%d,"text":"bought"}`, i)))
						req.Header.Set("Content-Type", "application/json")
					case "incremental":
						if i%4 == 0 && srv != nil { // writes come between pulls, as in the mix
							if _, err := srv.Update(loadTable, loadID(i%1000), map[string]any{"n": i}); err != nil {
								b.Fatal(err)
							}
						}
						req = httptest.NewRequest("GET", "/tables/todoitem?$filter="+url.QueryEscape("(updatedAt ge datetimeoffset'"+since+"')")+"&$orderby=updatedAt&$skip=0&$top=10&__includeDeleted=true", nil)
					case "filter":
						req = httptest.NewRequest("GET", "/tables/todoitem?$filter="+url.QueryEscape(fmt.Sprintf("complete eq false and n ge %d", (i*7919)%1000))+"&$top=10", nil)
					}
					req.RemoteAddr = "127.0.0.1:1"
					req.Header.Set("ZUMO-API-VERSION", "2.0.0")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatal(rec.Code, rec.Body.String())
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
