package fakeserver_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// adminCall sends one admin request with the given headers and returns the status and body.
func adminCall(h http.Handler, method, target, body string, kv ...string) (int, string) {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Host = "127.0.0.1:8080"
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

var _ = Describe("The admin API's guard", func() {
	var srv *fakeserver.Server
	BeforeEach(func() {
		inProcessOnly("sends the admin handler requests from other origins and hosts")
		srv = fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0)})
		_, err := srv.Insert("todoitem", map[string]any{"id": "a"})
		Expect(err).NotTo(HaveOccurred())
	})
	unchanged := func() {
		GinkgoHelper()
		Expect(srv.Rows("todoitem")).To(HaveLen(1), "the refused request changed the rows")
		Expect(srv.Faults().List()).To(BeEmpty(), "the refused request added a fault")
	}

	// What a web page can send without a CORS preflight: a form post, or text/plain.
	DescribeTable("refuses what a web page could send, and changes nothing",
		func(method, target, body string, status int, fragment string, kv ...string) {
			code, out := adminCall(srv.Handler(), method, target, body, kv...)
			Expect(code).To(Equal(status), out)
			Expect(out).To(ContainSubstring(fragment))
			unchanged()
		},
		Entry("a text/plain reset", "POST", "/_conflictlab/reset", "x", http.StatusUnsupportedMediaType, "application/json", "Content-Type", "text/plain"),
		Entry("a form-encoded fault", "POST", "/_conflictlab/faults", "action=reset", http.StatusUnsupportedMediaType, "takes JSON", "Content-Type", "application/x-www-form-urlencoded"),
		Entry("a multipart write", "POST", "/_conflictlab/tables/todoitem/b", "--x--", http.StatusUnsupportedMediaType, "takes JSON", "Content-Type", "multipart/form-data; boundary=x"),
		Entry("a body without a content type", "POST", "/_conflictlab/faults", `{"action":"reset"}`, http.StatusUnsupportedMediaType, "takes JSON"),
		Entry("YAML anywhere but the fault rules", "POST", "/_conflictlab/clock", "advanceMs: 1", http.StatusUnsupportedMediaType, "takes JSON", "Content-Type", "application/yaml"),
		Entry("a foreign Origin, even with JSON", "POST", "/_conflictlab/reset", "{}", http.StatusForbidden, "another origin",
			"Content-Type", "application/json", "Origin", "http://evil.example"),
		Entry("another port on localhost is another origin", "DELETE", "/_conflictlab/faults", "", http.StatusForbidden, "another origin",
			"Origin", "http://127.0.0.1:3000"),
		Entry("a null Origin", "POST", "/_conflictlab/reset", "", http.StatusForbidden, "another origin", "Origin", "null"),
		Entry("a cross-site fetch", "POST", "/_conflictlab/reset", "", http.StatusForbidden, "cross-site", "Sec-Fetch-Site", "cross-site"),
		Entry("a same-site fetch (another port)", "GET", "/_conflictlab/history", "", http.StatusForbidden, "same-site", "Sec-Fetch-Site", "same-site"),
	)

	DescribeTable("refuses a Host that is not a loopback name or an address (DNS rebinding)",
		func(host string) {
			req := httptest.NewRequest("POST", "/_conflictlab/reset", nil)
			req.RemoteAddr, req.Host = "127.0.0.1:40000", host
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			Expect(rec.Code).To(Equal(http.StatusForbidden), rec.Body.String())
			Expect(rec.Body.String()).To(ContainSubstring("does not answer to Host"))
			unchanged()
		},
		Entry("a rebound name", "attacker.example:8080"),
		Entry("a name ending in localhost", "evil-localhost:8080"),
	)

	DescribeTable("answers loopback names, addresses and allowed hosts",
		func(host string) {
			s := fakeserver.New(fakeserver.Config{AdminHosts: []string{"ci-runner"}})
			req := httptest.NewRequest("GET", "/_conflictlab/info", nil)
			req.RemoteAddr, req.Host = "127.0.0.1:40000", host
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			Expect(rec.Code).To(Equal(http.StatusOK), rec.Body.String())
		},
		Entry("localhost", "localhost:8080"), Entry("LOCALHOST.", "LOCALHOST.:8080"), Entry("a subdomain of localhost", "api.localhost"),
		Entry("IPv4", "127.0.0.1:8080"), Entry("IPv6", "[::1]:8080"), Entry("an allowed host", "CI-RUNNER:8080"),
	)

	It("accepts JSON from its own origin, and YAML fault rules", func() {
		code, out := adminCall(srv.Handler(), "POST", "/_conflictlab/faults", "action: reset\n", "Content-Type", "application/yaml; charset=utf-8")
		Expect(code).To(Equal(http.StatusCreated), out)
		code, out = adminCall(srv.Handler(), "POST", "/_conflictlab/tables/todoitem/b", `{"text":"x"}`,
			"Content-Type", "application/json", "Origin", "http://127.0.0.1:8080", "Sec-Fetch-Site", "same-origin")
		Expect(code).To(Equal(http.StatusOK), out)
		code, out = adminCall(srv.Handler(), "POST", "/_conflictlab/reset", "")
		Expect(code).To(Equal(http.StatusOK), out)
	})

	It("requires the admin token when it has one", func() {
		s := fakeserver.New(fakeserver.Config{AdminToken: "s3cret"})
		code, out := adminCall(s.Handler(), "POST", "/_conflictlab/faults", `{"action":"reset"}`, "Content-Type", "application/json")
		Expect(code).To(Equal(http.StatusUnauthorized), out)
		Expect(out).To(ContainSubstring("admin token"))
		code, _ = adminCall(s.Handler(), "GET", "/_conflictlab/faults", "", "Authorization", "Bearer wrong")
		Expect(code).To(Equal(http.StatusUnauthorized))
		Expect(s.Faults().List()).To(BeEmpty())
		code, out = adminCall(s.Handler(), "POST", "/_conflictlab/faults", `{"action":"reset"}`,
			"Content-Type", "application/json", "Authorization", "Bearer s3cret")
		Expect(code).To(Equal(http.StatusCreated), out)
	})

	It("does not write a body that is not valid Unicode", func() {
		code, out := adminCall(srv.Handler(), "POST", "/_conflictlab/tables/todoitem/b", `{"text":"\ud800"}`, "Content-Type", "application/json")
		Expect(code).To(Equal(http.StatusBadRequest), out)
		Expect(out).To(ContainSubstring("not valid UTF-8"))
		unchanged()
	})

	It("addresses ids holding a slash, escaped", func() {
		code, out := adminCall(srv.Handler(), "POST", "/_conflictlab/tables/todoitem/x%2Fy?op=insert", `{"text":"s"}`, "Content-Type", "application/json")
		Expect(code).To(Equal(http.StatusOK), out)
		code, out = adminCall(srv.Handler(), "GET", "/_conflictlab/tables/todoitem/X%2FY", "")
		Expect(code).To(Equal(http.StatusOK), out)
		Expect(out).To(ContainSubstring(`"id":"x/y"`))
	})
})

var _ = Describe("Auth before faults", func() {
	It("answers an unauthenticated request 401, and it uses up no fault", func() {
		b := newFaultBench(fakeserver.Config{AuthToken: "token"})
		auth := []string{"X-ZUMO-AUTH", "token"}
		Expect(b.send("POST", "/tables/todoitem", `{"id":"e1","text":"eggs"}`, auth...).status).To(Equal(http.StatusCreated))
		b.add(`{"id":"cw","action":"concurrent-write","match":{"method":["PATCH"],"times":1}}`)
		b.add(`{"id":"down","action":"status","params":{"code":503},"match":{"method":["GET"],"times":1}}`)

		Expect(b.send("PATCH", "/tables/todoitem/e1", `{"text":"x"}`, "If-Match", `"AAAAAAAAAAE="`).status).To(Equal(http.StatusUnauthorized))
		Expect(b.send("GET", "/tables/todoitem/e1", "").status).To(Equal(http.StatusUnauthorized), "401, not the fault's 503")
		Expect(b.send("GET", "/tables/todoitem", "", "ZUMO-API-VERSION", "").status).To(Equal(http.StatusBadRequest),
			"a request without the API version is refused at the door too")
		row, _ := b.srv.Row("todoitem", "e1")
		Expect(row).NotTo(HaveKey("_conflictlab"), "the concurrent write did not happen")
		for _, st := range b.srv.Faults().Status() {
			Expect(st.Matched).To(BeZero(), "rule %s saw a refused request", st.Rule.ID)
		}

		r := b.send("PATCH", "/tables/todoitem/e1", `{"text":"x"}`, append(auth, "If-Match", `"AAAAAAAAAAE="`)...)
		Expect(r.status).To(Equal(http.StatusPreconditionFailed), "the authenticated PATCH meets the concurrent write")
		Expect(b.send("GET", "/tables/todoitem/e1", "", auth...).status).To(Equal(http.StatusServiceUnavailable))
	})
})

var _ = Describe("The clock's range", func() {
	It("refuses moves of the real clock that would wrap its offset", func() {
		srv, p := startServer(fakeserver.Config{Clock: fakeserver.RealClock()})
		admin := p.with("ZUMO-API-VERSION", "")
		century := map[string]any{"advanceMs": int64(100 * 365 * 24 * 3600 * 1000)}
		DeferCleanup(func() { // a server that outlives the spec gets its clock back
			for range 2 {
				srv.Clock().Advance(-100 * 365 * 24 * time.Hour)
			}
		})
		Expect(admin.do("POST", "/_conflictlab/clock", century).Status).To(Equal(http.StatusOK))
		Expect(admin.do("POST", "/_conflictlab/clock", century).Status).To(Equal(http.StatusOK))
		r := admin.do("POST", "/_conflictlab/clock", century)
		Expect(r.Status).To(Equal(http.StatusBadRequest), "%s", r.Raw)
		Expect(r.Object()["error"]).To(ContainSubstring("at most 200 years"))
		Expect(srv.Clock().Now().Year()).To(BeNumerically(">=", time.Now().Year()+199), "the clock neither wrapped nor froze")
		before := srv.Clock().Now()
		time.Sleep(5 * time.Millisecond)
		Expect(srv.Clock().Now()).To(BeTemporally(">", before), "it still runs")
	})

	It("stops a simulated clock at the year 9999, and the history stays readable", func() {
		_, p := startServer(fakeserver.Config{})
		needSuiteClock()
		admin := p.with("ZUMO-API-VERSION", "")
		Expect(admin.do("POST", "/_conflictlab/clock", map[string]any{"stepMs": int64(100 * 365 * 24 * 3600 * 1000)}).Status).To(Equal(http.StatusOK))
		var last map[string]any
		for range 90 { // 9,000 years of writes
			last = p.insert("todoitem", map[string]any{})
		}
		Expect(last["updatedAt"]).To(Equal("9999-12-31T23:59:59.999Z"))
		r := admin.do("POST", "/_conflictlab/clock", map[string]any{"advanceMs": 1})
		Expect(r.Status).To(Equal(http.StatusBadRequest), "%s", r.Raw)
		Expect(r.Object()["error"]).To(ContainSubstring("would leave the years"))

		res, err := http.DefaultClient.Do(adminRequest("GET", p.base+"/_conflictlab/history"))
		Expect(err).NotTo(HaveOccurred())
		defer res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusOK))
		events, err := fakeserver.ReadJSONLines(res.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(HaveLen(90), "every event encodes")
	})

	It("never lets a clock of its own make an event it cannot encode", func() {
		inProcessOnly("runs a server on a Clock of its own")
		srv := fakeserver.New(fakeserver.Config{Clock: farClock{}})
		_, err := srv.Insert("todoitem", map[string]any{"id": "a"})
		Expect(err).NotTo(HaveOccurred())
		code, out := adminCall(srv.Handler(), "GET", "/_conflictlab/history", "")
		Expect(code).To(Equal(http.StatusOK), out)
		Expect(out).To(ContainSubstring(`"time":"9999-12-31T23:59:59.999Z"`))
	})
})

// farClock is a user's Clock that reads beyond the year 9999.
type farClock struct{}

func (farClock) Now() time.Time          { return time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC) }
func (farClock) Stamp() time.Time        { return time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC) }
func (farClock) Advance(d time.Duration) {}

var _ = Describe("Answers net/http gives by itself", func() {
	// raw sends bytes on a connection of its own and reads the one answer.
	raw := func(base, request string) (*http.Response, map[string]any) {
		GinkgoHelper()
		countRemote(base)
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		Expect(conn.SetDeadline(time.Now().Add(10 * time.Second))).To(Succeed())
		_, _ = io.WriteString(conn, request) // a server that answers early may close before all is sent
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		Expect(err).NotTo(HaveOccurred())
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Header.Get("Content-Type")).To(HavePrefix("application/json"), "body: %s", body)
		var obj map[string]any
		Expect(json.Unmarshal(body, &obj)).To(Succeed(), "body: %s", body)
		return res, obj
	}

	for _, d := range dialects {
		DescribeTable(fmt.Sprintf("are JSON errors, never 5xx, and events in the history (%s)", d),
			func(request string, status int, fragment string) {
				srv, p := startServer(fakeserver.Config{Dialect: d})
				res, obj := raw(p.base, request)
				Expect(res.StatusCode).To(Equal(status))
				Expect(obj).To(haveErrorBody(d, status, fragment))
				Expect(srv.History()).To(ContainElement(And(HaveField("Status", status), HaveField("Error", ContainSubstring(fragment)))))
			},
			Entry("a malformed request line", "GARBAGE\r\n\r\n", http.StatusBadRequest, "net/http refused the request"),
			Entry("no Host", "GET /tables/todoitem HTTP/1.1\r\nZUMO-API-VERSION: 2.0.0\r\n\r\n", http.StatusBadRequest, "missing required Host header"),
			Entry("a header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n", http.StatusBadRequest, "a malformed request line or header"),
			Entry("headers over the limit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 1<<20+8192)+"\r\n\r\n",
				http.StatusRequestHeaderFieldsTooLarge, "headers are larger than this server reads"),
			Entry("an unsupported Transfer-Encoding (net/http's 501)", "POST /tables/todoitem HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
				http.StatusBadRequest, "unsupported Transfer-Encoding"),
			Entry("an unsupported HTTP version (net/http's 505)", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", http.StatusBadRequest, "unsupported protocol version"),
			Entry("an Expect other than 100-continue (net/http's 417)", "POST /tables/todoitem HTTP/1.1\r\nHost: x\r\nExpect: the-unexpected\r\nContent-Length: 2\r\n\r\n{}",
				http.StatusExpectationFailed, "unsupported Expect header"),
		)
	}

	It("leaves every answer of the server's own untouched", func() {
		_, p := startServer(fakeserver.Config{})
		res, obj := raw(p.base, "GET /tables/todoitem/x HTTP/1.1\r\nHost: x\r\nZUMO-API-VERSION: 2.0.0\r\n\r\n")
		Expect(res.StatusCode).To(Equal(http.StatusNotFound))
		Expect(res.Header.Get("Date")).NotTo(BeEmpty())
		Expect(obj).To(HaveKeyWithValue("error", `item "x" not found in table "todoitem"`))
	})
})
