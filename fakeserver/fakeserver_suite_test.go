package fakeserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The conformance suite: docs/protocol.md, request by request, against the server over HTTP:
// a fake server in this process, or the server CONFLICTLAB_SERVER or CONFLICTLAB_TARGET names
// (remote_test.go).
func TestFakeserver(t *testing.T) {
	RegisterFailHandler(Fail)
	if err := connectRemote(context.Background()); err != nil {
		t.Fatalf("the server to test: %v", err)
	}
	name := "fakeserver conformance"
	if remote != nil {
		name += " against " + remote.target.String()
	}
	RunSpecs(t, name)
}

// t0 is where the suite's simulated clocks start.
var t0 = time.Date(2014, 6, 9, 23, 40, 4, 297_000_000, time.UTC)

// peer is one HTTP client of a server under test: it speaks the server's dialect and sends
// the headers a real SDK would.
type peer struct {
	base    string
	dialect fakeserver.Dialect
	headers map[string]string
	// srv is the server under test it talks to (nil: a server of the spec's own).
	srv *server
}

// startServer starts the server under test as cfg describes it, for the current spec, and
// returns a peer for it; both stop with the spec. In process it is a new fake server (on the
// suite's simulated clock unless cfg names one); remote, it is the remote server, reset to
// cfg, or the spec is skipped with the reason it cannot be.
func startServer(cfg fakeserver.Config) (*server, *peer) {
	GinkgoHelper()
	if remote != nil {
		s := remote.start(cfg)
		p := &peer{base: remote.target.URL, dialect: s.dialect, headers: map[string]string{"X-ZUMO-INSTALLATION-ID": "phone"}, srv: s}
		if s.dialect == fakeserver.V2 {
			p.headers["ZUMO-API-VERSION"] = "2.0.0"
		}
		if a := remote.target.Auth; a.Token != "" || a.AppKey != "" {
			p = p.with("X-ZUMO-AUTH", a.Token, "X-ZUMO-APPLICATION", a.AppKey)
		}
		return s, p
	}
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(t0)
	}
	srv, err := fakeserver.NewServer(cfg)
	Expect(err).NotTo(HaveOccurred())
	ts := srv.Start()
	DeferCleanup(ts.Close)
	s := inProcess(srv)
	p := peerOf(ts, srv.Config().Dialect)
	p.srv = s
	return s, p
}

// startServerOrDefer is startServer for a BeforeEach whose specs may start a server of their
// own instead: when the remote server cannot be this one, the spec is skipped only if it
// uses it (so a spec that needs --max-top 10 runs against a server started so, though the
// server of its BeforeEach has the default).
func startServerOrDefer(cfg fakeserver.Config) (*server, *peer) {
	GinkgoHelper()
	if remote != nil {
		if why := remote.cannot(cfg); why != "" {
			return unavailable(why)
		}
	}
	return startServer(cfg)
}

// unavailable is a server, and a peer of it, that skip the spec that uses them.
func unavailable(why string) (*server, *peer) {
	s := &server{remote: remote, unavailable: why}
	return s, &peer{base: remote.target.URL, headers: map[string]string{}, srv: s}
}

// newPeer is a peer of a server the spec started itself, in this process: such a spec says
// nothing of a remote server, and is skipped against one.
func newPeer(ts *httptest.Server, d fakeserver.Dialect) *peer {
	GinkgoHelper()
	inProcessOnly("starts a server of its own in this process")
	return peerOf(ts, d)
}

func peerOf(ts *httptest.Server, d fakeserver.Dialect) *peer {
	p := &peer{base: ts.URL, dialect: d, headers: map[string]string{"X-ZUMO-INSTALLATION-ID": "phone"}}
	if d == fakeserver.V2 {
		p.headers["ZUMO-API-VERSION"] = "2.0.0"
	}
	return p
}

// with returns a copy of p that also sends the given header pairs (a value "" removes one).
func (p *peer) with(kv ...string) *peer {
	c := &peer{base: p.base, dialect: p.dialect, headers: map[string]string{}, srv: p.srv}
	for k, v := range p.headers {
		c.headers[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(c.headers, kv[i])
		} else {
			c.headers[kv[i]] = kv[i+1]
		}
	}
	return c
}

// sys is a system column's name in the peer's dialect.
func (p *peer) sys(col string) string {
	if p.dialect == fakeserver.V1 {
		return "__" + col
	}
	return col
}

// response is what came back, with the body decoded when it is JSON.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   any
}

func (r *response) Object() map[string]any {
	GinkgoHelper()
	m, ok := r.Body.(map[string]any)
	Expect(ok).To(BeTrue(), "expected a JSON object, got %s", r.Raw)
	return m
}

func (r *response) Array() []any {
	GinkgoHelper()
	a, ok := r.Body.([]any)
	Expect(ok).To(BeTrue(), "expected a JSON array, got %s", r.Raw)
	return a
}

// IDs lists the ids of an array response, in order.
func (r *response) IDs() []string {
	GinkgoHelper()
	var ids []string
	for _, row := range r.Array() {
		ids = append(ids, row.(map[string]any)["id"].(string))
	}
	return ids
}

// ETagVersion is the version in the ETag header, unquoted.
func (r *response) ETagVersion() string {
	return strings.Trim(r.Header.Get("ETag"), `"`)
}

// do sends a request. body may be nil, a string or []byte (sent as is), or any value to
// encode as JSON; extra header pairs follow.
func (p *peer) do(method, path string, body any, kv ...string) *response {
	GinkgoHelper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		Expect(err).NotTo(HaveOccurred())
		rd = bytes.NewReader(data)
	}
	if p.srv != nil {
		p.srv.live()
		if remote != nil {
			remote.checkRequest(path)
		}
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	Expect(err).NotTo(HaveOccurred())
	if remote != nil && p.srv != nil {
		remote.authorize(req)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range p.with(kv...).headers {
		req.Header.Set(k, v)
	}
	return roundTrip(req)
}

// roundTrip sends req and checks what every answer must be: no 5xx, and a body, if any, that
// is JSON.
func roundTrip(req *http.Request) *response {
	GinkgoHelper()
	countRemote(req.URL.String())
	res, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	Expect(err).NotTo(HaveOccurred())
	out := &response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		Expect(res.Header.Get("Content-Type")).To(HavePrefix("application/json"), "body: %s", raw)
		Expect(json.Unmarshal(raw, &out.Body)).To(Succeed(), "body is not JSON: %s", raw)
	}
	Expect(res.StatusCode).NotTo(BeNumerically(">=", 500), "%s %s answered %d: %s", req.Method, req.URL, res.StatusCode, raw)
	return out
}

// insert POSTs item and expects a 201.
func (p *peer) insert(table string, item map[string]any) map[string]any {
	GinkgoHelper()
	r := p.do("POST", "/tables/"+table, item)
	Expect(r.Status).To(Equal(http.StatusCreated), "insert: %s", r.Raw)
	return r.Object()
}

// HaveErrorBody matches the JSON error body of a dialect. The wording of the message is the
// fake server's: against another server only its presence is checked.
func haveErrorBody(d fakeserver.Dialect, status int, fragment string) OmegaMatcher {
	m := HaveKeyWithValue("error", ContainSubstring(fragment))
	if remote != nil && !remote.conflictlab() {
		m = HaveKeyWithValue("error", And(BeAssignableToTypeOf(""), Not(BeEmpty())))
	}
	if d == fakeserver.V1 {
		return And(m, HaveKeyWithValue("code", BeEquivalentTo(status)))
	}
	return m
}

// expectError checks a refused request: the status and a JSON error body in the dialect.
func (p *peer) expectError(r *response, status int, fragment string) {
	GinkgoHelper()
	Expect(r.Status).To(Equal(status), "body: %s", r.Raw)
	Expect(r.Object()).To(haveErrorBody(p.dialect, status, fragment))
}

var dialects = []fakeserver.Dialect{fakeserver.V2, fakeserver.V1}
