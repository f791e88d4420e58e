package client_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestClient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "client")
}

// onlineT0 is where the online specs' simulated clocks start.
var onlineT0 = time.Date(2014, 6, 9, 23, 40, 4, 297_000_000, time.UTC)

// onlineDialects runs a DescribeTable once per dialect.
var onlineDialects = []TableEntry{Entry("v2", client.V2), Entry("v1", client.V1)}

// onlineEnv is a fake server in one dialect and a client of it; both end with the spec.
type onlineEnv struct {
	d   client.Dialect
	srv *fakeserver.Server
	url string
	c   *client.Client
	t   *client.Table // "todoitem"
}

// onlineStart starts a fake server speaking dialect d (cfg.Dialect is set from d; a nil
// Clock becomes a simulated one from onlineT0) and a client for it with opts.
func onlineStart(d client.Dialect, cfg fakeserver.Config, opts ...client.ClientOption) *onlineEnv {
	GinkgoHelper()
	cfg.Dialect = onlineServerDialect(d)
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(onlineT0)
	}
	srv, err := fakeserver.NewServer(cfg)
	Expect(err).NotTo(HaveOccurred())
	ts := srv.Start()
	DeferCleanup(ts.Close)
	c := onlineClient(ts.URL, d, opts...)
	return &onlineEnv{d: d, srv: srv, url: ts.URL, c: c, t: c.Table("todoitem")}
}

// onlineServerDialect is the fake server's name for a client dialect.
func onlineServerDialect(d client.Dialect) fakeserver.Dialect {
	if d == client.V1 {
		return fakeserver.V1
	}
	return fakeserver.V2
}

// onlineClient returns a client of baseURL in dialect d.
func onlineClient(baseURL string, d client.Dialect, opts ...client.ClientOption) *client.Client {
	GinkgoHelper()
	c, err := client.New(baseURL, append([]client.ClientOption{client.WithDialect(d)}, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	return c
}

// onlineRequest is one request an onlineRecorder received.
type onlineRequest struct {
	Method   string
	Path     string // escaped, as sent
	RawQuery string
	Header   http.Header
	Body     []byte
}

// onlineRecorder is an httptest server that records every request and answers with a
// handler the spec chooses: a stand-in for a server that misbehaves, or a probe of exactly
// what the client sends.
type onlineRecorder struct {
	URL     string
	mu      sync.Mutex
	reqs    []onlineRequest
	respond http.HandlerFunc
}

// onlineRecord starts a recorder answering with respond; it stops with the spec.
func onlineRecord(respond http.HandlerFunc) *onlineRecorder {
	rec := &onlineRecorder{respond: respond}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, onlineRequest{Method: r.Method, Path: r.URL.EscapedPath(),
			RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		respond := rec.respond
		rec.mu.Unlock()
		respond(w, r)
	}))
	DeferCleanup(ts.Close)
	rec.URL = ts.URL
	return rec
}

// Requests returns what the recorder has received so far.
func (rec *onlineRecorder) Requests() []onlineRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]onlineRequest(nil), rec.reqs...)
}

// Respond changes how the recorder answers.
func (rec *onlineRecorder) Respond(h http.HandlerFunc) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.respond = h
}

// Last returns the last request received.
func (rec *onlineRecorder) Last() onlineRequest {
	GinkgoHelper()
	reqs := rec.Requests()
	Expect(reqs).NotTo(BeEmpty())
	return reqs[len(reqs)-1]
}

// onlineAnswer answers every request with status, body and header pairs.
func onlineAnswer(status int, body string, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}
