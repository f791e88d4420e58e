package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// faultStamp is how the server writes updatedAt, and the client its delta tokens.
const faultStamp = "2006-01-02T15:04:05.000Z"

// faultAdd puts a fault rule in force on w's server and returns it as kept (with its ID).
func faultAdd(w *world, action string, m fakeserver.Match, params map[string]any) fakeserver.Rule {
	GinkgoHelper()
	r, err := w.srv.Faults().Add(fakeserver.Rule{Match: m, Action: action, Params: params})
	Expect(err).NotTo(HaveOccurred())
	return r
}

// faultTimes returns how often the rule in force with that id has matched and fired.
func faultTimes(w *world, id string) (matched, fired int) {
	for _, st := range w.srv.Faults().Status() {
		if st.Rule.ID == id {
			return st.Matched, st.Fired
		}
	}
	return -1, -1
}

// faultHits returns the events since seq that the rule with that id fired on.
func faultHits(w *world, since uint64, ruleID string) []fakeserver.Event {
	out := []fakeserver.Event{}
	for _, ev := range w.srv.HistorySince(since) {
		for _, h := range ev.Faults {
			if h.ID == ruleID {
				out = append(out, ev)
				break
			}
		}
	}
	return out
}

// faultGets returns the events of the GETs on todoitem's collection since seq, in order.
func faultGets(w *world, since uint64) []fakeserver.Event {
	out := []fakeserver.Event{}
	for _, ev := range w.srv.HistorySince(since) {
		if ev.Source == fakeserver.SourceHTTP && ev.Method == http.MethodGet && ev.Path == "/tables/todoitem" {
			out = append(out, ev)
		}
	}
	return out
}

// faultLocal returns every local row of todoitem by id.
func faultLocal(d *device) map[string]client.Item {
	GinkgoHelper()
	rows, err := d.todo.Read(context.Background(), nil)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]client.Item{}
	for _, r := range rows {
		out[r["id"].(string)] = r
	}
	return out
}

// faultServerLive returns the server's live (not deleted) todoitem rows by id.
func faultServerLive(w *world) map[string]client.Item {
	out := map[string]client.Item{}
	for _, r := range w.srv.Rows("todoitem") {
		if r["deleted"] == true {
			continue
		}
		out[r["id"].(string)] = client.Item(r)
	}
	return out
}

// faultServerIDs returns the ids of every server row, tombstones included, sorted.
func faultServerIDs(w *world) []string {
	out := []string{}
	for _, r := range w.srv.Rows("todoitem") {
		out = append(out, r["id"].(string))
	}
	sort.Strings(out)
	return out
}

// faultToken returns the delta token of todoitem for queryID.
func faultToken(d *device, queryID string) string {
	GinkgoHelper()
	tok, err := d.sc.DeltaToken(context.Background(), "todoitem", queryID)
	Expect(err).NotTo(HaveOccurred())
	return tok
}

// faultUpdatedAt returns a server row's updatedAt, as the token would hold it.
func faultUpdatedAt(w *world, id string) string {
	GinkgoHelper()
	row := w.serverRow(id)
	Expect(row).NotTo(BeNil(), "no server row %s", id)
	return row["updatedAt"].(string)
}

// faultExpectConverged checks that the device holds exactly the server's live rows, with
// nothing queued and no error left.
func faultExpectConverged(w *world, d *device) {
	GinkgoHelper()
	Expect(d.queue()).To(BeEmpty())
	Expect(d.errs()).To(BeEmpty())
	Expect(faultLocal(d)).To(Equal(faultServerLive(w)))
}

// faultNetworkErr checks that err is a *PushFailedError cancelled by a network error and
// returns the *NetworkError inside.
func faultNetworkErr(res *client.PushResult, err error) *client.NetworkError {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	var pf *client.PushFailedError
	Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
	Expect(res.Status).To(Equal(client.CancelledByNetworkError))
	Expect(pf.Status).To(Equal(client.CancelledByNetworkError))
	Expect(err).To(MatchError(client.ErrNetwork))
	Expect(err).To(MatchError(client.ErrPushFailed))
	var ne *client.NetworkError
	Expect(errors.As(err, &ne)).To(BeTrue())
	return ne
}

// faultHandlerNames are the built-in strategies, in the order the tables list them.
var faultHandlerNames = []string{"DefaultHandler", "ClientWins", "ServerWins", "CancelPush"}

func faultHandler(name string) client.Handler {
	switch name {
	case "DefaultHandler":
		return client.DefaultHandler()
	case "ClientWins":
		return client.ClientWins()
	case "ServerWins":
		return client.ServerWins()
	case "CancelPush":
		return client.CancelPush()
	}
	Fail("unknown handler " + name)
	return nil
}

// faultConns follows the server side of every connection through the http.Server's
// ConnState hook.
type faultConns struct {
	mu    sync.Mutex
	state map[net.Conn]http.ConnState
}

func (c *faultConns) hook(conn net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state[conn] = s
}

// open counts the connections not yet closed (nor taken over by a fault, which closes them).
func (c *faultConns) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.state {
		if s != http.StateClosed && s != http.StateHijacked {
			n++
		}
	}
	return n
}

// counts returns how many connections there were, and how many ended hijacked (hung up on
// by a fault).
func (c *faultConns) counts() (total, hijacked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.state {
		if s == http.StateHijacked {
			hijacked++
		}
	}
	return len(c.state), hijacked
}

// faultTrackedWorld is newWorld with the server's connections tracked and the caller in
// charge of closing it (w.ts.Close; it is closed again, harmlessly, when the spec ends), and
// an *http.Client of its own for the devices, so that its idle connections can be closed.
func faultTrackedWorld(cfg fakeserver.Config) (*world, *faultConns, *http.Client) {
	GinkgoHelper()
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(syncT0)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	srv := fakeserver.New(cfg)
	w := &world{srv: srv, dialect: client.V2}
	conns := &faultConns{state: map[net.Conn]http.ConnState{}}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnState = conns.hook // httptest chains its own hook in front of this one
	ts.Start()
	DeferCleanup(ts.Close)
	w.url, w.ts = ts.URL, ts
	tr := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: tr}
	DeferCleanup(hc.CloseIdleConnections)
	return w, conns, hc
}

// faultSettled waits until every request the rule (still in force) has fired on is in the
// history, and returns those events since seq. A request that a fault answers itself (reset,
// offline, timeout, status) is recorded when the fault lets go of it, which may be after the
// client has seen the connection go; the rule counts it as fired when it arrives.
func faultSettled(w *world, since uint64, ruleID string) []fakeserver.Event {
	GinkgoHelper()
	requests := func() []fakeserver.Event {
		out := []fakeserver.Event{}
		for _, ev := range faultHits(w, 0, ruleID) {
			if ev.Source == fakeserver.SourceHTTP {
				out = append(out, ev)
			}
		}
		return out
	}
	Eventually(func() int { return len(requests()) }).WithTimeout(2*time.Second).WithPolling(5*time.Millisecond).
		Should(Equal(func() int { _, fired := faultTimes(w, ruleID); return fired }()), "every request the rule fired on is recorded")
	out := []fakeserver.Event{}
	for _, ev := range requests() {
		if ev.Seq > since {
			out = append(out, ev)
		}
	}
	return out
}

// faultRequestsOf returns the requests with that method since seq, as "METHOD path status".
func faultRequestsOf(w *world, since uint64, method string) []string {
	out := []string{}
	for _, r := range w.requests(since) {
		if strings.HasPrefix(r, method+" ") {
			out = append(out, r)
		}
	}
	return out
}

// faultMethod is the request each kind of operation sends.
var faultMethod = map[string]string{"insert": http.MethodPost, "update": http.MethodPatch, "delete": http.MethodDelete}
