package fakeserver_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// The load benchmarks drive one mixed load over loopback, with the same client code, against
// the fake server and against a net/http handler that does no work (it reads and decodes the
// body and answers one fixed row), in alternating rounds of one run: the ratio of their
// throughputs is what the benchmark reports, since the machine's own speed (and whatever else
// it is running) cancels out of it.
var (
	loadRound  = flag.Duration("load.round", time.Second, "length of one round of a load benchmark")
	loadRounds = flag.Int("load.rounds", 5, "rounds per server in a load benchmark (the medians are reported)")
	// For profiling one side: -load.only=fake runs the fake server's rounds alone (the ratio
	// is then meaningless).
	loadOnly = flag.String("load.only", "", "run only the fake or the baseline rounds (for profiles)")
)

// loadMix is the work one load client does: of every eight requests, four are lookups of a
// random row, two are conditional PATCHes of a random row with the version the client last saw
// of it (a 412 tells it the current one), one is the SDKs' incremental pull (updatedAt ge the
// newest updatedAt the client has seen, ordered by updatedAt) and one is a filter on user
// columns, both $top=10.
type loadMix struct {
	rows    int
	clients int
}

const loadTable = "todoitem"

func loadID(i int) string { return fmt.Sprintf("r%06d", i) }

// loadServer is a fake server as `conflictlab serve` runs it (real clock, default limits)
// holding mix.rows rows.
func loadServer(tb testing.TB, rows int) *fakeserver.Server {
	tb.Helper()
	srv := fakeserver.New(fakeserver.Config{Seed: 1})
	for i := range rows {
		if _, err := srv.Insert(loadTable, map[string]any{"id": loadID(i), "text": "Buy eggs", "n": i, "complete": i%3 == 0}); err != nil {
			tb.Fatal(err)
		}
	}
	return srv
}

// baselineRow is the one row the no-work handler answers.
var baselineRow = []byte(`{"complete":false,"createdAt":"2026-01-01T00:00:00.000Z","deleted":false,"id":"r000001",` +
	`"n":1,"text":"Buy eggs","updatedAt":"2026-01-01T00:00:00.000Z","version":"AAAAAAAAAAE="}` + "\n")

// baselineHandler is the no-work server: it does what any JSON server must (read the body,
// decode it) and answers the fixed row, whatever was asked.
func baselineHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err == nil && len(raw) > 0 {
			var m map[string]any
			err = json.Unmarshal(raw, &m)
		}
		if err != nil {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("ETag", `"AAAAAAAAAAE="`)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(baselineRow)
	})
}

// loadClient is one client of the load: its own random source and what it has seen.
type loadClient struct {
	base     string
	http     *http.Client
	rng      *rand.Rand
	rows     int
	versions map[string]string
	since    string // the newest updatedAt seen, for the incremental pull
}

type loadStats struct {
	requests atomic.Int64
	// refused counts 412s: a conditional PATCH that lost to another client's write.
	refused atomic.Int64
}

func (c *loadClient) do(method, target, body string, hdr ...string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+target, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	req.Header.Set("X-ZUMO-INSTALLATION-ID", "load")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, strings.Trim(res.Header.Get("ETag"), `"`), err
}

// step makes one request of the mix.
func (c *loadClient) step(st *loadStats) error {
	id := loadID(c.rng.IntN(c.rows))
	var status int
	var etag string
	var err error
	switch k := c.rng.IntN(8); {
	case k < 4:
		status, etag, err = c.do("GET", "/tables/"+loadTable+"/"+id, "")
	case k < 6:
		v, ok := c.versions[id]
		if !ok {
			v = fakeserver.EncodeVersion(1)
		}
		status, etag, err = c.do("PATCH", "/tables/"+loadTable+"/"+id, fmt.Sprintf(`{"n":%d,"text":"bought"}`, c.rng.IntN(1000)), "If-Match", `"`+v+`"`)
		if status == http.StatusPreconditionFailed {
			st.refused.Add(1)
		}
	case k < 7:
		f := "(updatedAt ge datetimeoffset'" + c.since + "')"
		status, _, err = c.do("GET", "/tables/"+loadTable+"?$filter="+url.QueryEscape(f)+"&$orderby=updatedAt&$skip=0&$top=10&__includeDeleted=true", "")
		c.since = time.Now().Add(-time.Second).UTC().Format(fakeserver.TimeFormat)
	default:
		f := fmt.Sprintf("complete eq false and n ge %d", c.rng.IntN(c.rows))
		status, _, err = c.do("GET", "/tables/"+loadTable+"?$filter="+url.QueryEscape(f)+"&$top=10", "")
	}
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusPreconditionFailed {
		return fmt.Errorf("unexpected status %d", status)
	}
	if etag != "" {
		c.versions[id] = etag
	}
	st.requests.Add(1)
	return nil
}

// loadResult is one round of a load: requests per second, and the CPU time the whole
// process (clients and server) spent per request.
type loadResult struct {
	perSecond float64
	cpuPerReq time.Duration
}

// runLoad drives the mix against base with mix.clients clients for d.
func runLoad(tb testing.TB, base string, mix loadMix, d time.Duration, seed uint64) loadResult {
	tb.Helper()
	tr := &http.Transport{MaxIdleConns: mix.clients, MaxIdleConnsPerHost: mix.clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var st loadStats
	var wg sync.WaitGroup
	errs := make(chan error, mix.clients)
	start, cpu := time.Now(), cpuTime()
	for i := range mix.clients {
		c := &loadClient{base: base, http: &http.Client{Transport: tr}, rng: rand.New(rand.NewPCG(seed, uint64(i))),
			rows: mix.rows, versions: map[string]string{}, since: "2000-01-01T00:00:00.000Z"}
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := c.step(&st); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, used := time.Since(start), cpuTime()-cpu
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	n := st.requests.Load()
	return loadResult{perSecond: float64(n) / elapsed.Seconds(), cpuPerReq: used / time.Duration(max(n, 1))}
}

// loadComparison is the medians of alternating rounds against the fake server and the
// baseline.
type loadComparison struct {
	fake, base loadResult
}

// report adds the comparison to a benchmark's figures: both throughputs, their ratio (the
// issue's figure) and the ratio of CPU time per request (baseline over fake: the share of the
// baseline's efficiency the fake server keeps, which a busy machine disturbs less).
func (c loadComparison) report(b *testing.B) {
	b.ReportMetric(c.fake.perSecond, "fake-req/s")
	b.ReportMetric(c.base.perSecond, "baseline-req/s")
	b.ReportMetric(c.fake.perSecond/c.base.perSecond, "ratio")
	b.ReportMetric(float64(c.fake.cpuPerReq.Microseconds()), "fake-cpu-µs/req")
	b.ReportMetric(float64(c.base.cpuPerReq.Microseconds()), "baseline-cpu-µs/req")
	b.ReportMetric(float64(c.base.cpuPerReq)/float64(max(c.fake.cpuPerReq, 1)), "cpu-ratio")
}

// compareLoad runs rounds of the mix against the fake server and the baseline, alternating,
// and returns the medians of each.
func compareLoad(tb testing.TB, mix loadMix, round time.Duration, rounds int) loadComparison {
	tb.Helper()
	srv := loadServer(tb, mix.rows)
	fs := httptest.NewServer(srv.Handler())
	defer fs.Close()
	bs := httptest.NewServer(baselineHandler())
	defer bs.Close()
	var fakes, bases []loadResult
	for i := range rounds {
		if *loadOnly != "fake" {
			bases = append(bases, runLoad(tb, bs.URL, mix, round, uint64(i)))
		}
		if *loadOnly != "baseline" {
			fakes = append(fakes, runLoad(tb, fs.URL, mix, round, uint64(i)))
		}
	}
	if *loadOnly != "" {
		bases = append(bases, loadResult{1, 1})
		fakes = append(fakes, loadResult{1, 1})
	}
	return loadComparison{fake: median(fakes), base: median(bases)}
}

// median is the median of each figure, taken separately.
func median(rs []loadResult) loadResult {
	per := make([]float64, len(rs))
	cpu := make([]time.Duration, len(rs))
	for i, r := range rs {
		per[i], cpu[i] = r.perSecond, r.cpuPerReq
	}
	slices.Sort(per)
	slices.Sort(cpu)
	return loadResult{perSecond: per[len(per)/2], cpuPerReq: cpu[len(cpu)/2]}
}

// BenchmarkServerVsBaseline is issue 16's figure: 16 clients, 1,000 rows. It reports both
// throughputs and their ratio (the aim: fake/baseline ≥ 0.70).
func BenchmarkServerVsBaseline(b *testing.B) {
	inProcessBenchmark(b)
	mix := loadMix{rows: 1000, clients: 16}
	for b.Loop() {
		compareLoad(b, mix, *loadRound, *loadRounds).report(b)
	}
}

// BenchmarkServerScale is how the fake server's throughput grows with the rows it holds and
// the clients it serves, each against the baseline in the same run.
func BenchmarkServerScale(b *testing.B) {
	inProcessBenchmark(b)
	for _, mix := range []loadMix{
		{rows: 100, clients: 16}, {rows: 10_000, clients: 16}, {rows: 100_000, clients: 16},
		{rows: 1000, clients: 1}, {rows: 1000, clients: 4}, {rows: 1000, clients: 64},
	} {
		b.Run(fmt.Sprintf("rows=%d/clients=%d", mix.rows, mix.clients), func(b *testing.B) {
			for b.Loop() {
				compareLoad(b, mix, *loadRound/2, *loadRounds).report(b)
			}
		})
	}
}

// handlerTransport serves requests with h in the caller's goroutine: the handler's own cost,
// without sockets.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	req.RemoteAddr = "127.0.0.1:1"
	req.RequestURI = req.URL.RequestURI()
	if req.Body == nil {
		req.Body = http.NoBody
	}
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// BenchmarkHandlerMix is the load's mix served in memory, one request per op: what the fake
// server's handler costs per request against the no-work handler's, without the network.
func BenchmarkHandlerMix(b *testing.B) {
	inProcessBenchmark(b)
	for _, side := range []string{"baseline", "fake"} {
		b.Run(side, func(b *testing.B) {
			h := baselineHandler()
			if side == "fake" {
				h = loadServer(b, 1000).Handler()
			}
			c := &loadClient{base: "http://127.0.0.1", http: &http.Client{Transport: handlerTransport{h}},
				rng: rand.New(rand.NewPCG(1, 1)), rows: 1000, versions: map[string]string{}, since: "2000-01-01T00:00:00.000Z"}
			var st loadStats
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := c.step(&st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
