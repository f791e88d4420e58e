package fakeserver_test

import (
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// The proxy in front of another server: here the upstream is a fake server too, so that the
// specs can look at both sides.
var _ = Describe("the fault proxy", func() {
	var (
		up    *fakeserver.Server
		proxy *fakeserver.Server
		p     *peer
		b     *faultBench
	)
	BeforeEach(func() {
		inProcessOnly("tests the fault proxy, with servers of its own")
		up = fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 3, PageSize: 2})
		upTS := up.Start()
		DeferCleanup(upTS.Close)
		var err error
		proxy, err = fakeserver.NewServer(fakeserver.Config{Upstream: upTS.URL, Seed: 5, DirectClient: "writer"})
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(proxy.Handler())
		DeferCleanup(ts.Close)
		DeferCleanup(proxy.Faults().Reset)
		p = newPeer(ts, fakeserver.V2)
		b = &faultBench{srv: inProcess(proxy), base: ts.URL, ts: ts, hc: &http.Client{}}
	})

	It("forwards requests and records them as the fake server does", func() {
		row := p.insert("todoitem", map[string]any{"id": "e1", "text": "eggs"})
		Expect(upRow(up, "e1")).To(HaveKeyWithValue("text", "eggs"))
		r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "milk"}, "If-Match", `"`+row["version"].(string)+`"`)
		Expect(r.Status).To(Equal(http.StatusOK))
		h := proxy.History()
		Expect(h).To(HaveLen(2))
		Expect(h[0]).To(MatchFields(IgnoreExtras, Fields{"Op": Equal(fakeserver.OpInsert), "ItemID": Equal("e1"), "Status": Equal(201),
			"Applied": BeTrue(), "VersionAfter": Equal(row["version"]), "Client": Equal("phone")}))
		Expect(h[1]).To(MatchFields(IgnoreExtras, Fields{"Op": Equal(fakeserver.OpUpdate), "Precondition": ConsistOf(row["version"]),
			"Applied": BeTrue(), "Body": HaveKeyWithValue("text", "milk")}))
		Expect(h[1].VersionAfter).NotTo(Equal(row["version"]))
	})

	It("loses an answer after the upstream applied the write (drop-response)", func() {
		_, err := proxy.Faults().Add(fakeserver.Rule{Action: "drop-response", Match: fakeserver.Match{Op: []string{"insert"}, Times: 1}})
		Expect(err).NotTo(HaveOccurred())
		a := b.send("POST", "/tables/todoitem", `{"id":"n1","text":"new"}`)
		Expect(a.err).To(HaveOccurred(), "the client gets no answer")
		Expect(upRow(up, "n1")).To(HaveKeyWithValue("text", "new"), "but the upstream has the row")
		Eventually(proxy.History).Should(ContainElement(MatchFields(IgnoreExtras, Fields{"ItemID": Equal("n1"), "Applied": BeTrue(),
			"Faults": ConsistOf(MatchFields(IgnoreExtras, Fields{"Action": Equal("drop-response")}))})))
	})

	It("answers for the upstream with a status fault, sending it nothing", func() {
		_, err := proxy.Faults().Add(fakeserver.Rule{Action: "status", Params: map[string]any{"code": 503.0}})
		Expect(err).NotTo(HaveOccurred())
		a := b.send("POST", "/tables/todoitem", `{"id":"x"}`)
		Expect(a.status).To(Equal(503))
		Expect(up.History()).To(BeEmpty())
	})

	It("writes as another writer through the upstream's table API (concurrent-write)", func() {
		row := p.insert("todoitem", map[string]any{"id": "e1", "text": "eggs"})
		_, err := proxy.Faults().Add(fakeserver.Rule{Action: "concurrent-write", Match: fakeserver.Match{Op: []string{"update"}, Times: 1}})
		Expect(err).NotTo(HaveOccurred())
		r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "milk"}, "If-Match", `"`+row["version"].(string)+`"`)
		Expect(r.Status).To(Equal(http.StatusPreconditionFailed), "the other write made the If-Match stale")
		Expect(upRow(up, "e1")).To(HaveKeyWithValue("_conflictlab", 1.0))
		h := proxy.History()
		Expect(h[1]).To(MatchFields(IgnoreExtras, Fields{"Source": Equal(fakeserver.SourceDirect), "Applied": BeTrue(),
			"VersionBefore": Equal(row["version"])}))
	})

	It("holds a request before forwarding it (hold), so the upstream serves it as it stands once healed", func() {
		p.insert("todoitem", map[string]any{"id": "a"})
		held, err := proxy.Faults().Add(fakeserver.Rule{Action: "hold", Match: fakeserver.Match{Op: []string{"query"}, Times: 1}})
		Expect(err).NotTo(HaveOccurred())
		done := make(chan []string, 1)
		go func() { defer GinkgoRecover(); done <- p.do("GET", "/tables/todoitem", nil).IDs() }()
		Eventually(func() int { return proxy.Faults().Status()[0].Fired }).Should(Equal(1))
		_, err = up.Insert("todoitem", map[string]any{"id": "b"})
		Expect(err).NotTo(HaveOccurred())
		Expect(proxy.Faults().Remove(held.ID)).To(BeTrue())
		Eventually(done).Should(Receive(Equal([]string{"a", "b"})), "forwarded after the upstream's insert")
	})

	DescribeTable("refuses faults that need the server's own clock or rows",
		func(action string, params map[string]any) {
			_, err := proxy.Faults().Add(fakeserver.Rule{Action: action, Params: params})
			Expect(err).To(MatchError(ContainSubstring(action + " needs")))
		},
		Entry(nil, "clock-skew", map[string]any{"ms": 100.0}), Entry(nil, "clock-freeze", nil), Entry(nil, "page-shift", nil),
	)

	It("points the upstream's next-page links back at itself", func() {
		for _, id := range []string{"a", "b", "c"} {
			p.insert("todoitem", map[string]any{"id": id})
		}
		r := p.do("GET", "/tables/todoitem", nil)
		Expect(r.IDs()).To(Equal([]string{"a", "b"}))
		Expect(r.Header.Get("Link")).To(HavePrefix("<" + p.base + "/tables/todoitem?"))
	})

	It("lets another writer through untouched, as a direct write", func() {
		_, err := proxy.Faults().Add(fakeserver.Rule{Action: "status", Params: map[string]any{"code": 500.0}})
		Expect(err).NotTo(HaveOccurred())
		r := p.with("X-ZUMO-INSTALLATION-ID", "writer").do("POST", "/tables/todoitem", map[string]any{"id": "w"})
		Expect(r.Status).To(Equal(http.StatusCreated))
		Expect(proxy.History()[0].Source).To(Equal(fakeserver.SourceDirect))
	})

	It("says what it is on its admin API, and that it keeps no tables", func() {
		r := p.do("GET", "/_conflictlab/info", nil)
		Expect(r.Object()).To(HaveKeyWithValue("kind", "proxy"))
		Expect(r.Object()).To(HaveKeyWithValue("upstream", HavePrefix("http://127.0.0.1:")))
		r = p.do("GET", "/_conflictlab/tables/todoitem", nil)
		Expect(r.Status).To(Equal(http.StatusNotFound))
		Expect(r.Object()).To(HaveKeyWithValue("error", ContainSubstring("a proxy has no tables")))
		_, err := proxy.Insert("todoitem", map[string]any{"id": "x"})
		Expect(err).To(MatchError(ContainSubstring("a proxy keeps no tables")))
	})

	It("answers 502 with a message when the upstream is down", func() {
		down, err := fakeserver.NewServer(fakeserver.Config{Upstream: "http://127.0.0.1:1"})
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(down.Handler())
		defer ts.Close()
		r := newPeer(ts, fakeserver.V2)
		req, _ := http.NewRequest("GET", r.base+"/tables/todoitem", nil)
		res, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusBadGateway))
		Expect(down.History()[0].Error).To(ContainSubstring("upstream"))
	})

	DescribeTable("refuses an upstream that is not a base URL",
		func(raw, want string) {
			_, err := fakeserver.NewServer(fakeserver.Config{Upstream: raw})
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no scheme", "127.0.0.1:8080", "want an http:// or https:// URL"),
		Entry("a query", "http://127.0.0.1:8080/?a=b", "no query"),
	)
})

// upRow is the upstream's row, nil when it has none.
func upRow(up *fakeserver.Server, id string) map[string]any {
	row, _ := up.Row("todoitem", id)
	return row
}
