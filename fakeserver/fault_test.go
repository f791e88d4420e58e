package fakeserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// faultBench is a server with faults and a raw HTTP client that reports network errors
// instead of failing on them: a fake server in this process, or the remote server under test.
type faultBench struct {
	srv  *server
	base string
	ts   *httptest.Server // in process
	hc   *http.Client
	open atomic.Int64 // in process: server-side connections not yet closed
}

func newFaultBench(cfg fakeserver.Config) *faultBench {
	GinkgoHelper()
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	b := &faultBench{hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}}
	if remote != nil {
		b.srv = remote.start(cfg)
		if !remote.conflictlab() {
			Skip("injects faults through the admin API of a conflictlab server")
		}
		b.base = remote.target.URL
		DeferCleanup(b.close)
		return b
	}
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(t0)
	}
	srv := fakeserver.New(cfg)
	b.srv = inProcess(srv)
	b.ts = httptest.NewUnstartedServer(srv.Handler())
	b.ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			b.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			b.open.Add(-1)
		}
	}
	b.ts.Start()
	b.base = b.ts.URL
	DeferCleanup(b.close)
	return b
}

// close heals every fault (releasing held requests) and stops the server and the client's
// idle connections; it may run twice.
func (b *faultBench) close() {
	switch {
	case b.srv.srv != nil:
		b.srv.srv.Faults().Reset()
	case b.srv.gen == remote.gen:
		_, _ = remote.call(context.Background(), "DELETE", "/_conflictlab/faults", nil, nil)
	}
	b.hc.CloseIdleConnections()
	if b.ts != nil {
		b.ts.Close()
	}
}

// add puts a rule, written in YAML or JSON, in force.
func (b *faultBench) add(text string) fakeserver.Rule {
	GinkgoHelper()
	rules, err := fakeserver.ParseRules([]byte(text))
	Expect(err).NotTo(HaveOccurred())
	Expect(rules).To(HaveLen(1))
	r, err := b.srv.Faults().Add(rules[0])
	Expect(err).NotTo(HaveOccurred())
	return r
}

// answer is what a request got: a status and body, or an error.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (b *faultBench) send(method, path, body string, kv ...string) answer {
	GinkgoHelper()
	return b.sendWith(b.hc, method, path, body, kv...)
}

func (b *faultBench) sendWith(hc *http.Client, method, path, body string, kv ...string) answer {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	b.srv.live()
	req, err := http.NewRequest(method, b.base+path, rd)
	Expect(err).NotTo(HaveOccurred())
	if remote != nil {
		remote.authorize(req)
		countRemote(req.URL.String())
	}
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	req.Header.Set("X-ZUMO-INSTALLATION-ID", "phone")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: raw, err: err}
}

func (b *faultBench) insert(id, text string) answer {
	GinkgoHelper()
	return b.send("POST", "/tables/todoitem", `{"id":"`+id+`","text":"`+text+`"}`)
}

// last is the newest event of the history (the zero event when there is none yet: a request
// a fault hangs up on is recorded just after the client sees the connection close).
func (b *faultBench) last() fakeserver.Event {
	h := b.srv.History()
	if len(h) == 0 {
		return fakeserver.Event{}
	}
	return h[len(h)-1]
}

// row is the server's row, or nil.
func (b *faultBench) row(id string) map[string]any {
	r, _ := b.srv.Row("todoitem", id)
	return r
}

func hit(id, action string) []fakeserver.FaultHit {
	return []fakeserver.FaultHit{{ID: id, Action: action}}
}

// networkError matches an error that is not an HTTP answer: the connection failed.
func networkError() OmegaMatcher {
	return WithTransform(func(err error) bool {
		var ne net.Error
		return err != nil && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
			strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF"))
	}, BeTrue())
}

// sampleRules has a rule for every action, with every parameter the action takes.
var sampleRules = map[string]fakeserver.Rule{
	"latency": {ID: "slow", Action: "latency", Params: map[string]any{"ms": 200.0, "jitterMs": 50.0},
		Match: fakeserver.Match{Method: []string{"GET"}, Probability: fakeserver.Prob(0.25)}},
	"status": {Action: "status", Params: map[string]any{"code": 503.0, "message": "maintenance"},
		Match: fakeserver.Match{Op: []string{"update", "delete"}, Table: "todoitem", After: 2, Times: 1}},
	"reset":         {Action: "reset", Match: fakeserver.Match{Client: "phone", Times: 3}},
	"drop-response": {ID: "lost", Action: "drop-response", Match: fakeserver.Match{Method: []string{"PATCH", "DELETE"}, ID: "e1"}},
	"timeout":       {Action: "timeout", Params: map[string]any{"ms": 1500.0}},
	"truncate":      {Action: "truncate", Params: map[string]any{"bytes": 10.0}, Match: fakeserver.Match{Op: []string{"query"}}},
	"concurrent-write": {Action: "concurrent-write", Params: map[string]any{"patch": map[string]any{"text": "theirs", "n": 2.0}},
		Match: fakeserver.Match{Op: []string{"update"}}},
	"offline":      {ID: "partition", Action: "offline", Match: fakeserver.Match{Client: "tablet"}},
	"clock-skew":   {Action: "clock-skew", Params: map[string]any{"ms": -60000.0}},
	"clock-freeze": {Action: "clock-freeze", Match: fakeserver.Match{Table: "todoitem"}},
	"page-shift":   {Action: "page-shift", Params: map[string]any{"rows": 3.0}},
	"hold":         {ID: "pause", Action: "hold", Params: map[string]any{"ms": 2000.0}, Match: fakeserver.Match{Op: []string{"query"}, After: 1, Times: 1}},
}

var _ = Describe("fault rules", Label("faults"), func() {
	BeforeEach(func() { inProcessOnly("parses and keeps fault rules with the Go API") })

	It("has a sample rule for every action, and every action has a summary", func() {
		for _, a := range fakeserver.Actions() {
			Expect(sampleRules).To(HaveKey(a[0]))
			Expect(a[1]).NotTo(BeEmpty())
		}
		Expect(sampleRules).To(HaveLen(len(fakeserver.Actions())))
	})

	DescribeTable("survive a JSON and a YAML round trip unchanged",
		func(action string) {
			rule, err := sampleRules[action].Validate()
			Expect(err).NotTo(HaveOccurred())
			Expect(rule).To(Equal(sampleRules[action]), "the samples are canonical")

			data, err := json.Marshal(rule)
			Expect(err).NotTo(HaveOccurred())
			var fromJSON fakeserver.Rule
			Expect(json.Unmarshal(data, &fromJSON)).To(Succeed())
			Expect(fromJSON).To(Equal(rule), "JSON: %s", data)

			text, err := yaml.Marshal(rule)
			Expect(err).NotTo(HaveOccurred())
			var fromYAML fakeserver.Rule
			Expect(yaml.Unmarshal(text, &fromYAML)).To(Succeed())
			Expect(fromYAML).To(Equal(rule), "YAML:\n%s", text)

			rules, err := fakeserver.ParseRules(text)
			Expect(err).NotTo(HaveOccurred())
			Expect(rules).To(Equal([]fakeserver.Rule{rule}))
		},
		func(action string) string { return action },
		Entry(nil, "latency"), Entry(nil, "status"), Entry(nil, "reset"), Entry(nil, "drop-response"),
		Entry(nil, "timeout"), Entry(nil, "truncate"), Entry(nil, "concurrent-write"), Entry(nil, "offline"),
		Entry(nil, "clock-skew"), Entry(nil, "clock-freeze"), Entry(nil, "page-shift"), Entry(nil, "hold"),
	)

	It("reads YAML's forms of the same rule as one canonical rule", func() {
		rules, err := fakeserver.ParseRules([]byte(`
faults:
  - match: {method: patch, op: UPDATE, after: 1, probability: 1}
    action: latency
    params: {ms: 200}
  - {action: reset, match: {method: [get, post]}}
`))
		Expect(err).NotTo(HaveOccurred())
		Expect(rules).To(Equal([]fakeserver.Rule{
			{Match: fakeserver.Match{Method: []string{"PATCH"}, Op: []string{"update"}, After: 1, Probability: fakeserver.Prob(1)},
				Action: "latency", Params: map[string]any{"ms": 200.0}},
			{Match: fakeserver.Match{Method: []string{"GET", "POST"}}, Action: "reset"},
		}))
		none, err := fakeserver.ParseRules([]byte("# nothing yet\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(none).To(BeEmpty())
	})

	DescribeTable("refuse a bad rule, naming the field",
		func(text, field, fragment string) {
			var r fakeserver.Rule
			err := json.Unmarshal([]byte(text), &r)
			var re *fakeserver.RuleError
			Expect(errors.As(err, &re)).To(BeTrue(), "got %v", err)
			Expect(re.Field).To(Equal(field))
			Expect(re.Error()).To(ContainSubstring(fragment))
			Expect(errors.Is(err, fakeserver.ErrBadRequest)).To(BeTrue())
		},
		Entry("no action", `{"match":{}}`, "action", "missing"),
		Entry("an unknown action", `{"action":"explode"}`, "action", `unknown action "explode"`),
		Entry("an unknown field", `{"action":"reset","when":1}`, "when", "unknown field"),
		Entry("not an object", `["reset"]`, "", "must be an object"),
		Entry("a match that is a list", `{"action":"reset","match":[1]}`, "match", "want an object"),
		Entry("an unknown match field", `{"action":"reset","match":{"path":"/"}}`, "match.path", "unknown field"),
		Entry("an unknown method", `{"action":"reset","match":{"method":"PUT"}}`, "match.method", `unknown method "PUT"`),
		Entry("an unknown op in a list", `{"action":"reset","match":{"op":["insert","upsert"]}}`, "match.op[1]", `unknown op "upsert"`),
		Entry("a method that is a number", `{"action":"reset","match":{"method":[1]}}`, "match.method[0]", "want a string"),
		Entry("a bad table name", `{"action":"reset","match":{"table":"todo item"}}`, "match.table", "invalid table name"),
		Entry("a bad id", `{"action":"reset","match":{"id":"a?b"}}`, "match.id", "must not contain"),
		Entry("a negative after", `{"action":"reset","match":{"after":-1}}`, "match.after", "must not be negative"),
		Entry("a fractional times", `{"action":"reset","match":{"times":1.5}}`, "match.times", "whole number"),
		Entry("times as a string", `{"action":"reset","match":{"times":"once"}}`, "match.times", "want a number"),
		Entry("a probability over 1", `{"action":"reset","match":{"probability":1.5}}`, "match.probability", "between 0 and 1"),
		Entry("a bad rule id", `{"id":"f 1","action":"reset"}`, "id", "use letters"),
		Entry("params that are a list", `{"action":"latency","params":[1]}`, "params", "want an object"),
		Entry("an unknown parameter", `{"action":"latency","params":{"seconds":1}}`, "params.seconds", "takes ms, jitterMs"),
		Entry("a parameter for an action without any", `{"action":"reset","params":{"ms":1}}`, "params.ms", "takes none"),
		Entry("a negative latency", `{"action":"latency","params":{"ms":-5}}`, "params.ms", "between 0 and"),
		Entry("a latency that is a string", `{"action":"latency","params":{"ms":"fast"}}`, "params.ms", "want a whole number"),
		Entry("a status that is not an error", `{"action":"status","params":{"code":200}}`, "params.code", "400 to 599"),
		Entry("a truncate below -1", `{"action":"truncate","params":{"bytes":-2}}`, "params.bytes", "0 or more"),
		Entry("a clock-skew of nothing", `{"action":"clock-skew"}`, "params.ms", "missing"),
		Entry("a page-shift of no rows", `{"action":"page-shift","params":{"rows":0}}`, "params.rows", "between 1 and 1000"),
		Entry("a concurrent write of another id", `{"action":"concurrent-write","params":{"patch":{"id":"x"}}}`, "params.patch.id", "leave the id out"),
		Entry("a concurrent write of a system column", `{"action":"concurrent-write","params":{"patch":{"version":"x"}}}`, "params.patch.version", "the server owns"),
		Entry("a concurrent write of a nested value", `{"action":"concurrent-write","params":{"patch":{"tags":[1]}}}`, "params.patch", "tags"),
	)

	It("locates a bad field of a fault file by line and column", func() {
		_, err := fakeserver.ParseRules([]byte(`- action: reset
- action: latency
  match:
    op: insert
    probability: 2
`))
		var re *fakeserver.RuleError
		Expect(errors.As(err, &re)).To(BeTrue(), "got %v", err)
		Expect(re.Field).To(Equal("[1].match.probability"))
		Expect([]int{re.Line, re.Column}).To(Equal([]int{5, 5}))
		re.File = "faults.yaml"
		Expect(re.Error()).To(HavePrefix("faults.yaml:5:5: [1].match.probability: must be between 0 and 1"))

		_, err = fakeserver.ParseRules([]byte("- action: latency\n  params:\n    ms: 10\n    sleep: 2\n"))
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect([]any{re.Field, re.Line, re.Column}).To(Equal([]any{"[0].params.sleep", 4, 5}))

		_, err = fakeserver.ParseRules([]byte("- action: reset\n  match: {op: [insert, upsert]}\n"))
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect([]any{re.Field, re.Line, re.Column}).To(Equal([]any{"[0].match.op[1]", 2, 24}))

		_, err = fakeserver.ParseRules([]byte("- action: reset\n  match: {op: [insert\n"))
		Expect(errors.As(err, &re)).To(BeTrue(), "a syntax error is positioned too: %v", err)
		Expect(re.Line).To(BeNumerically(">", 0))

		_, err = fakeserver.ParseRules([]byte("- {id: a, action: reset}\n- {id: a, action: offline}\n"))
		Expect(errors.As(err, &re)).To(BeTrue())
		Expect([]any{re.Field, re.Line, re.Message}).To(Equal([]any{"[1].id", 2, `"a" names two rules`}))
	})

	It("assigns ids, refuses a duplicate, and lists, removes and heals rules", func() {
		srv := fakeserver.New(fakeserver.Config{Seed: 1})
		f := srv.Faults()
		a, err := f.Add(fakeserver.Rule{Action: "reset"})
		Expect(err).NotTo(HaveOccurred())
		b, err := f.Add(fakeserver.Rule{ID: "mine", Action: "status", Match: fakeserver.Match{Method: []string{"get"}}})
		Expect(err).NotTo(HaveOccurred())
		c, err := f.Add(fakeserver.Rule{Action: "offline"})
		Expect(err).NotTo(HaveOccurred())
		Expect([]string{a.ID, b.ID, c.ID}).To(Equal([]string{"f1", "mine", "f2"}))
		Expect(b.Match.Method).To(Equal([]string{"GET"}), "kept canonical")
		_, err = f.Add(fakeserver.Rule{ID: "mine", Action: "reset"})
		Expect(err).To(MatchError(ContainSubstring(`a rule with id "mine" is already in force`)))
		Expect(f.List()).To(Equal([]fakeserver.Rule{a, b, c}))

		Expect(f.Remove("mine")).To(BeTrue())
		Expect(f.Remove("mine")).To(BeFalse())
		Expect(f.List()).To(Equal([]fakeserver.Rule{a, c}))

		_, err = f.AddAll([]fakeserver.Rule{{Action: "reset"}, {Action: "latency", Params: map[string]any{"ms": -1}}})
		Expect(err).To(MatchError(ContainSubstring("[1].params.ms")))
		Expect(f.List()).To(Equal([]fakeserver.Rule{a, c}), "all or nothing")

		f.Reset()
		Expect(f.List()).To(BeEmpty())
		d, err := f.Add(fakeserver.Rule{Action: "reset"})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.ID).NotTo(BeElementOf("f1", "f2"), "ids are not reused while the history may name them")
		srv.Reset()
		Expect(f.List()).To(BeEmpty(), "a server reset heals every fault")
		e, _ := f.Add(fakeserver.Rule{Action: "reset"})
		Expect(e.ID).To(Equal("f1"), "and starts the ids over with the history")
	})
})

var _ = Describe("every fault action, against the server alone", Label("faults"), func() {
	var b *faultBench
	BeforeEach(func() { b = newFaultBench(fakeserver.Config{}) })

	It("latency answers late, with the request applied", func() {
		b.add(`{action: latency, params: {ms: 150}, match: {op: insert}}`)
		start := time.Now()
		a := b.insert("e1", "eggs")
		Expect(a.err).NotTo(HaveOccurred())
		Expect(a.status).To(Equal(http.StatusCreated))
		Expect(time.Since(start)).To(BeNumerically(">=", 150*time.Millisecond))
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Status": Equal(201), "Applied": BeTrue(), "Faults": Equal(hit("f1", "latency"))}))

		impatient := &http.Client{Timeout: 50 * time.Millisecond}
		a = b.sendWith(impatient, "POST", "/tables/todoitem", `{"id":"e2"}`)
		Expect(a.err).To(MatchError(ContainSubstring("Client.Timeout")))
		_, applied := b.srv.Row("todoitem", "e2")
		Expect(applied).To(BeTrue(), "the client gave up, but the write happened")
	})

	It("status answers the code with a JSON error and changes nothing", func() {
		b.insert("e1", "eggs")
		b.add(`{action: status, params: {code: 503}, match: {method: PATCH}}`)
		a := b.send("PATCH", "/tables/todoitem/e1", `{"text":"milk"}`)
		Expect(a.err).NotTo(HaveOccurred())
		Expect(a.status).To(Equal(http.StatusServiceUnavailable))
		Expect(string(a.body)).To(MatchJSON(`{"error":"503 Service Unavailable (fault f1)"}`))
		Expect(b.row("e1")).To(HaveKeyWithValue("text", "eggs"))
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Status": Equal(503), "Applied": BeFalse(),
			"Op": Equal(fakeserver.OpUpdate), "ItemID": Equal("e1"), "Faults": Equal(hit("f1", "status"))}))

		b.add(`{action: status, params: {code: 401, message: token expired}, match: {method: GET}}`)
		a = b.send("GET", "/tables/todoitem", "")
		Expect(a.status).To(Equal(http.StatusUnauthorized))
		Expect(string(a.body)).To(MatchJSON(`{"error":"token expired"}`))
	})

	It("reset closes the connection with no answer and applies nothing", func() {
		b.add(`{action: reset, match: {op: insert}}`)
		a := b.insert("e1", "eggs")
		Expect(a.err).To(MatchError(ContainSubstring("connection reset by peer")))
		_, ok := b.srv.Row("todoitem", "e1")
		Expect(ok).To(BeFalse())
		Eventually(b.last).Should(MatchFields(IgnoreExtras, Fields{"Status": Equal(0), "Applied": BeFalse(), "Op": Equal(fakeserver.OpInsert),
			"Error": ContainSubstring("no answer: connection reset"), "Faults": Equal(hit("f1", "reset"))}))
	})

	It("drop-response applies the write and closes the connection without the answer", func() {
		b.add(`{action: drop-response, match: {op: insert, id: e1}}`)
		a := b.insert("e1", "eggs")
		Expect(a.err).To(networkError())
		Expect(a.status).To(Equal(0))
		Expect(b.row("e1")).To(HaveKeyWithValue("text", "eggs"))
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Status": Equal(201), "Applied": BeTrue(),
			"ItemID": Equal("e1"), "Faults": Equal(hit("f1", "drop-response"))}))
		Expect(b.insert("e2", "milk").status).To(Equal(http.StatusCreated), "the id in the body is matched: e2 passes")
	})

	It("timeout holds the request until the client gives up, and applies nothing", func() {
		b.add(`{action: timeout, match: {op: insert}}`)
		impatient := &http.Client{Timeout: 100 * time.Millisecond}
		a := b.sendWith(impatient, "POST", "/tables/todoitem", `{"id":"e1"}`)
		var ne net.Error
		Expect(errors.As(a.err, &ne) && ne.Timeout()).To(BeTrue(), "a timeout, got %v", a.err)
		Eventually(b.last).Should(MatchFields(IgnoreExtras, Fields{"Status": Equal(0), "Applied": BeFalse(),
			"Error": ContainSubstring("held until the client gave up"), "Faults": Equal(hit("f1", "timeout"))}))
		_, ok := b.srv.Row("todoitem", "e1")
		Expect(ok).To(BeFalse())
	})

	It("timeout with ms, or healed, lets the request go with no answer", func() {
		b.add(`{action: timeout, params: {ms: 50}, match: {op: insert}}`)
		a := b.insert("e1", "eggs")
		Expect(a.err).To(networkError())
		Eventually(func() string { return b.last().Error }).Should(ContainSubstring("held for the rule's ms"))

		b.srv.Faults().Reset()
		held := b.add(`{action: timeout, match: {op: insert}}`)
		done := make(chan answer, 1)
		go func() { defer GinkgoRecover(); done <- b.insert("e2", "milk") }()
		Eventually(func() int { return b.srv.Faults().Status()[0].Fired }).Should(Equal(1))
		Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
		Expect(b.srv.Faults().Remove(held.ID)).To(BeTrue())
		var got answer
		Eventually(done).Should(Receive(&got))
		Expect(got.err).To(networkError())
		Eventually(func() string { return b.last().Error }).Should(ContainSubstring("held until the fault was healed"))
	})

	It("hold serves the request only once healed, as it stands then", func() {
		b.insert("e1", "eggs")
		held := b.add(`{action: hold, match: {op: query}}`)
		done := make(chan answer, 1)
		go func() { defer GinkgoRecover(); done <- b.send("GET", "/tables/todoitem", "") }()
		Eventually(func() int { return b.srv.Faults().Status()[0].Fired }).Should(Equal(1))
		Expect(b.insert("e2", "milk").status).To(Equal(http.StatusCreated), "other requests pass while one is held")
		Expect(done).NotTo(Receive(), "the query is still held")
		Expect(b.srv.Faults().Remove(held.ID)).To(BeTrue())
		var got answer
		Eventually(done).Should(Receive(&got))
		Expect(got.err).NotTo(HaveOccurred())
		Expect(got.status).To(Equal(http.StatusOK))
		Expect(string(got.body)).To(And(ContainSubstring(`"e1"`), ContainSubstring(`"e2"`)), "served after the insert made while it was held")
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Status": Equal(200), "Op": Equal(fakeserver.OpQuery),
			"Faults": Equal(hit("f1", "hold"))}))
	})

	It("hold lets the request go after its ms, and the rules after it still act", func() {
		b.add(`{action: hold, params: {ms: 20}, match: {op: insert}}`)
		b.add(`{action: drop-response, match: {op: insert}}`)
		a := b.insert("e1", "eggs")
		Expect(a.err).To(networkError(), "the drop-response after the hold")
		Expect(b.row("e1")).To(HaveKeyWithValue("text", "eggs"), "served after the hold, with its body")
		Expect(b.last().Faults).To(Equal(append(hit("f1", "hold"), hit("f2", "drop-response")...)))
	})

	It("hold serves nothing to a client that gave up", func() {
		b.add(`{action: hold, params: {ms: 60000}, match: {op: insert}}`)
		impatient := &http.Client{Timeout: 100 * time.Millisecond}
		a := b.sendWith(impatient, "POST", "/tables/todoitem", `{"id":"e1"}`)
		Expect(a.err).To(HaveOccurred())
		Eventually(b.last).Should(MatchFields(IgnoreExtras, Fields{"Status": Equal(0), "Applied": BeFalse(),
			"Error": ContainSubstring("held until the client gave up"), "Faults": Equal(hit("f1", "hold"))}))
		_, ok := b.srv.Row("todoitem", "e1")
		Expect(ok).To(BeFalse())
	})

	It("refuses a hold that would last for ever", func() {
		inProcessOnly("parses and keeps fault rules with the Go API")
		_, err := fakeserver.Rule{Action: "hold", Params: map[string]any{"ms": 0}}.Validate()
		var re *fakeserver.RuleError
		Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
		Expect(re.Field).To(Equal("params.ms"))
		Expect(re.Message).To(ContainSubstring("never lasts for ever"))
	})

	It("truncate applies the write and sends the real status with a cut JSON body", func() {
		b.add(`{action: truncate, match: {op: insert}}`)
		a := b.insert("e1", "eggs")
		Expect(a.err).NotTo(HaveOccurred(), "the answer is well framed")
		Expect(a.status).To(Equal(http.StatusCreated))
		Expect(json.Valid(a.body)).To(BeFalse(), "cut JSON: %s", a.body)
		Expect(a.header.Get("Content-Length")).To(Equal(itoa(len(a.body))))
		whole, _ := json.Marshal(b.srv.Rows("todoitem")[0])
		Expect(len(a.body)).To(BeNumerically("<", len(whole)))
		Expect(string(a.body)).To(HavePrefix(`{"`))
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Status": Equal(201), "Applied": BeTrue(), "Faults": Equal(hit("f1", "truncate"))}))

		b.srv.Faults().Reset()
		b.add(`{action: truncate, params: {bytes: 5}, match: {op: query}}`)
		a = b.send("GET", "/tables/todoitem", "")
		Expect(string(a.body)).To(Equal(`[{"cr`))
	})

	It("concurrent-write updates the row just before an update, which then meets a 412", func() {
		row := b.insert("e1", "eggs")
		var cur map[string]any
		Expect(json.Unmarshal(row.body, &cur)).To(Succeed())
		b.add(`{action: concurrent-write, match: {op: update}}`)
		a := b.send("PATCH", "/tables/todoitem/e1", `{"text":"milk"}`, "If-Match", `"`+cur["version"].(string)+`"`)
		Expect(a.status).To(Equal(http.StatusPreconditionFailed))
		server, _ := b.srv.Row("todoitem", "e1")
		Expect(server).To(HaveKeyWithValue("_conflictlab", 1.0))
		Expect(server).To(HaveKeyWithValue("text", "eggs"))
		Expect(string(a.body)).To(ContainSubstring(`"_conflictlab":1`), "the 412 carries the other writer's row")
		h := b.srv.History()
		Expect(h[len(h)-2]).To(MatchFields(IgnoreExtras, Fields{"Source": Equal(fakeserver.SourceDirect), "Op": Equal(fakeserver.OpUpdate),
			"Applied": BeTrue(), "ItemID": Equal("e1"), "Faults": Equal(hit("f1", "concurrent-write"))}))

		a = b.send("PATCH", "/tables/todoitem/e1", `{"text":"milk"}`)
		Expect(a.status).To(Equal(http.StatusOK), "without If-Match the update wins")
		server, _ = b.srv.Row("todoitem", "e1")
		Expect(server).To(And(HaveKeyWithValue("_conflictlab", 2.0), HaveKeyWithValue("text", "milk")), "the counter counts")
	})

	It("concurrent-write creates the item just before an insert of its id, which then meets a 409", func() {
		b.add(`{action: concurrent-write, params: {patch: {text: theirs}}, match: {op: insert}}`)
		a := b.insert("e1", "mine")
		Expect(a.status).To(Equal(http.StatusConflict))
		Expect(b.row("e1")).To(HaveKeyWithValue("text", "theirs"))
		Expect(b.send("POST", "/tables/todoitem", `{"text":"no id"}`).status).To(Equal(http.StatusCreated),
			"an insert without an id has no item to race with")
		Expect(b.srv.Faults().Status()[0].Fired).To(Equal(1))
	})

	It("offline resets every matching request until healed", func() {
		b.insert("e1", "eggs")
		b.add(`{id: down, action: offline, match: {client: phone}}`)
		for range 3 {
			Expect(b.send("GET", "/tables/todoitem/e1", "").err).To(networkError())
		}
		Expect(b.insert("e2", "milk").err).To(networkError())
		Expect(b.send("GET", "/tables/todoitem/e1", "", "X-ZUMO-INSTALLATION-ID", "tablet").status).To(Equal(http.StatusOK),
			"another client is on the other side of the partition")
		Expect(b.srv.Faults().Remove("down")).To(BeTrue())
		Expect(b.insert("e2", "milk").status).To(Equal(http.StatusCreated))
		_, ok := b.srv.Row("todoitem", "e2")
		Expect(ok).To(BeTrue())
	})

	It("clock-skew shifts the updatedAt of matching writes, backwards too", func() {
		needSuiteClock()
		b.insert("e1", "eggs")
		b.add(`{action: clock-skew, params: {ms: -60000}, match: {id: e2}}`)
		b.insert("e2", "milk")
		b.insert("e3", "bread")
		stamp := func(id string) time.Time {
			row, _ := b.srv.Row("todoitem", id)
			t, err := time.Parse(time.RFC3339Nano, row["updatedAt"].(string))
			Expect(err).NotTo(HaveOccurred())
			return t
		}
		Expect(stamp("e2")).To(Equal(stamp("e1").Add(-time.Minute + time.Millisecond)))
		Expect(stamp("e3")).To(Equal(stamp("e1").Add(2 * time.Millisecond)))
		Expect(b.last().Faults).To(BeEmpty())

		_, err := b.srv.Write("todoitem", "e2", map[string]any{"text": "oat milk"})
		Expect(err).NotTo(HaveOccurred())
		Expect(stamp("e2")).To(Equal(stamp("e1").Add(-time.Minute+3*time.Millisecond)), "another writer shares the clock")
		Expect(b.last()).To(MatchFields(IgnoreExtras, Fields{"Source": Equal(fakeserver.SourceDirect), "Faults": Equal(hit("f1", "clock-skew"))}))
	})

	It("clock-freeze gives every matching write one updatedAt until healed", func() {
		needSuiteClock() // on a real clock, a write after the heal may share the frozen millisecond
		b.add(`{action: clock-freeze}`)
		for _, id := range []string{"e1", "e2", "e3"} {
			b.insert(id, id)
		}
		_, err := b.srv.Write("todoitem", "e4", map[string]any{"text": "direct"})
		Expect(err).NotTo(HaveOccurred())
		stamps := map[any]bool{}
		for _, row := range b.srv.Rows("todoitem") {
			stamps[row["updatedAt"]] = true
		}
		Expect(stamps).To(HaveLen(1))
		b.srv.Faults().Reset()
		b.insert("e5", "later")
		row, _ := b.srv.Row("todoitem", "e5")
		Expect(stamps).NotTo(HaveKey(row["updatedAt"]))
	})

	It("page-shift inserts rows before the cursor of a later page, so $skip paging repeats rows", func() {
		pb := newFaultBench(fakeserver.Config{PageSize: 2})
		needSuiteClock() // the shifted rows are stamped later than the rows before them
		for _, id := range []string{"a", "b", "c", "d"} {
			pb.insert(id, id)
		}
		pb.add(`{action: page-shift, params: {rows: 2}}`)
		first := pb.send("GET", "/tables/todoitem", "")
		second := pb.send("GET", "/tables/todoitem?$skip=2", "")
		Expect(ids(first.body)).To(Equal([]string{"a", "b"}))
		Expect(ids(second.body)).To(Equal([]string{"a", "b"}), "the two shifted rows pushed a and b back under the cursor")
		Expect(pb.srv.Faults().Status()[0]).To(MatchFields(IgnoreExtras, Fields{"Matched": Equal(1), "Fired": Equal(1)}),
			"the first page has no cursor to shift under")
		pb.srv.Faults().Reset()
		var rows []map[string]any
		for skip := 0; skip < 6; skip += 2 {
			rows = append(rows, jsonRows(pb.send("GET", "/tables/todoitem?$skip="+itoa(skip), "").body)...)
		}
		var order []string
		for _, r := range rows {
			order = append(order, r["id"].(string))
		}
		Expect(order).To(Equal([]string{"!shift-000001", "!shift-000002", "a", "b", "c", "d"}))
		Expect(rows[0]["text"]).To(Equal("a"), "a copy of the query's first row, so it passes the query's filter")
		Expect(rows[0]["updatedAt"].(string) > rows[5]["updatedAt"].(string)).To(BeTrue(), "stamped by the clock: never back-dated")
		Expect(pb.srv.History()).To(ContainElement(MatchFields(IgnoreExtras, Fields{"Source": Equal(fakeserver.SourceDirect),
			"Op": Equal(fakeserver.OpInsert), "ItemID": Equal("!shift-000002"), "Faults": Equal(hit("f1", "page-shift"))})))
	})

	It("page-shift under a frozen clock shifts an incremental pull's page too", func() {
		pb := newFaultBench(fakeserver.Config{PageSize: 2, Clock: fakeserver.SimClock(t0).WithStep(0)})
		for _, id := range []string{"a", "b", "c", "d"} {
			pb.insert(id, id)
		}
		pb.add(`{action: page-shift, match: {op: query}}`)
		query := "/tables/todoitem?$orderby=updatedAt&$filter=updatedAt%20ge%20datetimeoffset'" + at(0) + "'"
		Expect(ids(pb.send("GET", query+"&$skip=0", "").body)).To(Equal([]string{"a", "b"}))
		Expect(ids(pb.send("GET", query+"&$skip=2", "").body)).To(Equal([]string{"b", "c"}),
			"one row shifted in at the same updatedAt, before the cursor")
		row, _ := pb.srv.Row("todoitem", "!shift-000001")
		Expect(row["updatedAt"]).To(Equal(at(0)))
	})
})

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func jsonRows(body []byte) []map[string]any {
	GinkgoHelper()
	var rows []map[string]any
	Expect(json.Unmarshal(body, &rows)).To(Succeed(), "%s", body)
	return rows
}

func ids(body []byte) []string {
	GinkgoHelper()
	var out []string
	for _, r := range jsonRows(body) {
		out = append(out, r["id"].(string))
	}
	return out
}

var _ = Describe("fault matching", Label("faults"), func() {
	var b *faultBench
	BeforeEach(func() { b = newFaultBench(fakeserver.Config{}) })

	// fires runs the requests and says which of them the rule hit.
	fires := func(reqs [][3]string) []bool {
		var out []bool
		for _, r := range reqs {
			before := len(b.srv.History())
			b.send(r[0], r[1], r[2])
			hitThis := false
			for _, e := range b.srv.History()[before:] {
				if len(e.Faults) > 0 && e.Source == fakeserver.SourceHTTP {
					hitThis = true
				}
			}
			out = append(out, hitThis)
		}
		return out
	}
	reqs := [][3]string{
		{"POST", "/tables/todoitem", `{"id":"e1"}`},
		{"GET", "/tables/todoitem/e1", ""},
		{"PATCH", "/tables/todoitem/E1", `{"text":"x"}`},
		{"GET", "/tables/todoitem", ""},
		{"POST", "/tables/other", `{"id":"e1"}`},
		{"DELETE", "/tables/todoitem/e1", ""},
		{"POST", "/tables/todoitem/e1", ""},
	}

	DescribeTable("selects requests by every field of match",
		func(match string, want []bool) {
			b.add(`{action: latency, params: {ms: 0}, match: ` + match + `}`)
			Expect(fires(reqs)).To(Equal(want))
		},
		Entry("nothing: every request", `{}`, []bool{true, true, true, true, true, true, true}),
		Entry("method", `{method: [GET, DELETE]}`, []bool{false, true, false, true, false, true, false}),
		Entry("op", `{op: [insert, undelete]}`, []bool{true, false, false, false, true, false, true}),
		Entry("table, any case", `{table: TodoItem}`, []bool{true, true, true, true, false, true, true}),
		Entry("id, any case, an insert's from its body", `{id: e1}`, []bool{true, true, true, false, true, true, true}),
		Entry("client", `{client: tablet}`, []bool{false, false, false, false, false, false, false}),
		Entry("after", `{after: 5}`, []bool{false, false, false, false, false, true, true}),
		Entry("times", `{times: 2}`, []bool{true, true, false, false, false, false, false}),
		Entry("after and times", `{op: [query, lookup, update], after: 1, times: 1}`, []bool{false, false, true, false, false, false, false}),
		Entry("probability 0", `{probability: 0}`, []bool{false, false, false, false, false, false, false}),
	)

	It("draws probability from the seed: the same seed and requests fire the same faults", func() {
		pattern := func(seed int64) []bool {
			b = newFaultBench(fakeserver.Config{Seed: seed})
			b.add(`{action: status, params: {code: 500}, match: {probability: 0.3}}`)
			var out []bool
			for range 60 {
				out = append(out, b.send("GET", "/tables/todoitem", "").status == 500)
			}
			return out
		}
		one, again, other := pattern(11), pattern(11), pattern(12)
		Expect(again).To(Equal(one))
		Expect(other).NotTo(Equal(one))
		n := 0
		for _, f := range one {
			if f {
				n++
			}
		}
		Expect(n).To(BeNumerically("~", 18, 10), "about 30%% of 60")
		ids := func() []string { // adding faults does not disturb the generated ids
			var out []string
			for _, e := range b.srv.History() {
				out = append(out, e.ItemID)
			}
			return out
		}
		b = newFaultBench(fakeserver.Config{Seed: 3})
		b.send("POST", "/tables/todoitem", `{"text":"x"}`)
		plain := ids()
		b = newFaultBench(fakeserver.Config{Seed: 3})
		b.add(`{action: latency, params: {ms: 0, jitterMs: 1}}`)
		b.send("GET", "/tables/todoitem", "")
		b.send("POST", "/tables/todoitem", `{"text":"x"}`)
		Expect(ids()[1]).To(Equal(plain[0]))
	})

	It("lets every matching rule act, until one answers the request itself", func() {
		b.add(`{action: clock-skew, params: {ms: 1000}}`)
		b.add(`{action: latency, params: {ms: 1}}`)
		b.add(`{action: status, params: {code: 500}, match: {op: update}}`)
		b.add(`{action: reset}`)
		Expect(b.insert("e1", "x").err).To(networkError())
		Expect(b.last().Faults).To(Equal([]fakeserver.FaultHit{{ID: "f1", Action: "clock-skew"}, {ID: "f2", Action: "latency"}, {ID: "f4", Action: "reset"}}))
		b.srv.Faults().Remove("f4")
		Expect(b.insert("e1", "x").status).To(Equal(201))
		Expect(b.send("PATCH", "/tables/todoitem/e1", `{"text":"y"}`).status).To(Equal(500))
		Expect(b.last().Faults).To(Equal([]fakeserver.FaultHit{{ID: "f1", Action: "clock-skew"}, {ID: "f2", Action: "latency"}, {ID: "f3", Action: "status"}}))
		st := b.srv.Faults().Status()
		Expect([]int{st[0].Fired, st[1].Fired, st[2].Fired}).To(Equal([]int{3, 3, 1}))
	})
})

var _ = Describe("the faults admin API", Label("faults", "admin"), func() {
	var b *faultBench
	BeforeEach(func() { b = newFaultBench(fakeserver.Config{}) })
	admin := func(method, path, body string) answer { return b.send(method, "/_conflictlab/faults"+path, body) }

	It("adds, lists, removes and heals rules", func() {
		Expect(string(admin("GET", "", "").body)).To(MatchJSON(`[]`))
		a := admin("POST", "", `{"action":"status","params":{"code":503},"match":{"op":"insert"}}`)
		Expect(a.status).To(Equal(http.StatusCreated))
		Expect(string(a.body)).To(MatchJSON(`[{"id":"f1","action":"status","params":{"code":503},"match":{"op":["insert"]}}]`))
		a = admin("POST", "", "- {id: cut, action: truncate}\n- {action: latency, params: {ms: 0}}\n")
		Expect(a.status).To(Equal(http.StatusCreated), "YAML, and a list: %s", a.body)

		Expect(b.insert("e1", "x").status).To(Equal(503))
		Expect(string(admin("GET", "", "").body)).To(MatchJSON(`[
			{"rule":{"id":"f1","action":"status","params":{"code":503},"match":{"op":["insert"]}},"matched":1,"fired":1},
			{"rule":{"id":"cut","action":"truncate"},"matched":0,"fired":0},
			{"rule":{"id":"f2","action":"latency","params":{"ms":0}},"matched":0,"fired":0}]`))

		Expect(admin("DELETE", "/f1", "").status).To(Equal(http.StatusNoContent))
		a = admin("DELETE", "/f1", "")
		Expect(a.status).To(Equal(http.StatusNotFound))
		Expect(string(a.body)).To(ContainSubstring(`no fault rule \"f1\" is in force`))
		Expect(string(admin("DELETE", "", "").body)).To(MatchJSON(`{"healed":2}`))
		Expect(b.srv.Faults().List()).To(BeEmpty())
		Expect(b.insert("e1", "x").status).To(Equal(201))
	})

	DescribeTable("refuses bad rules with a 400 naming the field, adding none of them",
		func(body, field string) {
			a := admin("POST", "", body)
			Expect(a.status).To(Equal(http.StatusBadRequest))
			var got map[string]any
			Expect(json.Unmarshal(a.body, &got)).To(Succeed())
			if field == "" {
				Expect(got).NotTo(HaveKey("field"))
			} else {
				Expect(got).To(HaveKeyWithValue("field", field))
			}
			Expect(got["error"]).NotTo(BeEmpty())
			Expect(b.srv.Faults().List()).To(BeEmpty())
		},
		Entry("malformed", `{"action":`, ""),
		Entry("empty", ``, ""),
		Entry("a bad probability", `{"action":"reset","match":{"probability":-1}}`, "match.probability"),
		Entry("a bad second rule", `[{"action":"reset"},{"action":"nap"}]`, "[1].action"),
		Entry("a duplicate id", `[{"id":"x","action":"reset"},{"id":"x","action":"reset"}]`, "[1].id"),
	)

	It("is healed by a server reset", func() {
		admin("POST", "", `{"action":"offline"}`)
		Expect(b.send("POST", "/_conflictlab/reset", "").status).To(Equal(http.StatusOK))
		Expect(b.srv.Faults().List()).To(BeEmpty())
	})
})

var _ = Describe("faults leave no goroutines or connections behind", Label("faults", "leaks"), func() {
	BeforeEach(func() { inProcessOnly("counts the goroutines and connections of this process") })

	DescribeTable("after the client meets the fault and everything is closed",
		func(rule string, clientTimeout time.Duration) {
			defer goleak.VerifyNone(GinkgoT(), goleak.IgnoreCurrent())
			b := newFaultBench(fakeserver.Config{})
			b.hc.Timeout = clientTimeout
			b.add(rule)
			for i := range 3 {
				b.send("POST", "/tables/todoitem", `{"id":"e`+itoa(i)+`"}`)
				b.send("GET", "/tables/todoitem?$skip=1", "")
				b.send("PATCH", "/tables/todoitem/e0", `{"text":"x"}`)
			}
			b.close()
			Eventually(b.open.Load).Should(BeZero(), "every server connection closed")
		},
		Entry("reset", `{action: reset}`, time.Second),
		Entry("offline", `{action: offline}`, time.Second),
		Entry("drop-response", `{action: drop-response}`, time.Second),
		Entry("timeout, client gives up", `{action: timeout}`, 50*time.Millisecond),
		Entry("timeout, healed while held", `{action: timeout, params: {ms: 20}}`, time.Second),
		Entry("latency, client gives up", `{action: latency, params: {ms: 300}}`, 50*time.Millisecond),
		Entry("truncate", `{action: truncate}`, time.Second),
		Entry("status", `{action: status}`, time.Second),
		Entry("concurrent-write", `{action: concurrent-write}`, time.Second),
		Entry("page-shift", `{action: page-shift}`, time.Second),
		Entry("hold, client gives up", `{action: hold}`, 50*time.Millisecond),
		Entry("hold, for its ms", `{action: hold, params: {ms: 20}}`, time.Second),
	)

	It("lets a held request go when every fault is healed", func() {
		defer goleak.VerifyNone(GinkgoT(), goleak.IgnoreCurrent())
		b := newFaultBench(fakeserver.Config{})
		b.hc.Timeout = time.Minute
		b.add(`{action: timeout}`)
		done := make(chan answer, 1)
		go func() { defer GinkgoRecover(); done <- b.insert("e1", "x") }()
		Eventually(func() int { return b.srv.Faults().Status()[0].Fired }).Should(Equal(1))
		b.srv.Faults().Reset() // as conflictlab serve does before it shuts down
		Eventually(done).Should(Receive())
		b.close()
		Eventually(b.open.Load).Should(BeZero())
	})
})
