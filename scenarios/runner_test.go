package scenarios_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/targets"
)

func play(text, strategy string, opts scenarios.Options) reports.Result {
	GinkgoHelper()
	sc, err := scenarios.Parse([]byte(text), "test.yaml")
	Expect(err).NotTo(HaveOccurred())
	return scenarios.Run(context.Background(), sc, strategy, opts)
}

// conflict is the seed's conflict: the phone's update meets another writer's.
const conflict = `name: conflict
strategies: [client-wins, server-wins, cancel, manual]
server:
  tables:
    todoitem: [{id: e1, text: Buy eggs}]
clients:
  phone: {}
steps:
  - phone: {op: pull, table: todoitem}
  - phone: {op: update, table: todoitem, item: {id: e1, text: mine}}
  - server: {op: update, table: todoitem, item: {id: e1, text: theirs}}
`

var _ = Describe("the runner", func() {
	DescribeTable("fails a step that does not do what its expect says, saying what happened",
		func(steps string, step int, expectation, got string) {
			res := play(conflict+steps, "client-wins", scenarios.Options{})
			Expect(res.Status).To(Equal(reports.Failed))
			f := res.Failure
			Expect(f).NotTo(BeNil())
			Expect(f.Step).To(Equal(step))
			Expect(f.Expectation).To(ContainSubstring(expectation))
			Expect(f.Got).To(ContainSubstring(got))
			Expect(f.Replay).To(Equal("conflictlab run --strategy client-wins test.yaml"))
		},
		Entry("requests", "  - phone: {op: push}\n    expect: {requests: [PATCH /tables/todoitem/e1]}\n", 4,
			"requests PATCH /tables/todoitem/e1", "PATCH /tables/todoitem/e1, PATCH /tables/todoitem/e1"),
		Entry("status", "  - phone: {op: push}\n    expect: {status: cancelled-by-operation}\n", 4, "push status cancelled-by-operation", "complete"),
		Entry("errors", "  - phone: {op: push}\n    expect: {errors: [{table: todoitem, id: e1, status: 412}]}\n", 4,
			"unhandled errors todoitem/e1 412", "no requests"),
		Entry("an error that did not happen", "  - phone: {op: push}\n    expect: {error: network}\n", 4, "fails with network", "it succeeded"),
		Entry("an error that should not have happened", "  - phone: {op: lookup, table: todoitem, id: nope}\n", 4, "the step succeeds", "not in the local store"),
		Entry("a lookup", "  - phone: {op: lookup, table: todoitem, id: e1}\n    expect: {item: {text: theirs}}\n", 4, "lookup returns", `text is "mine" (want "theirs")`),
		Entry("a read", "  - phone: {op: read, table: todoitem}\n    expect: {rows: [e2]}\n", 4, "read returns [e2]", "[e1]"),
		Entry("a server check", "  - phone: {op: push}\n  - check: {server: {todoitem: {e1: {text: theirs}}}}\n", 5,
			"server todoitem/e1 is", `text is "mine" (want "theirs")`),
		Entry("a client check", "  - check: {phone: {pending: 0}}\n", 4, "phone has 0 pending operation(s)", "1: update todoitem/e1"),
		Entry("an absent row", "  - check: {phone: {todoitem: {e1: null}}}\n", 4, "phone's todoitem/e1 is absent", "it is there"),
		Entry("converged", "  - check: {converged: true}\n", 4, "P4 (convergence) holds", "differs from the server's"),
	)

	It("names the failing step, its line and the requests around it", func() {
		res := play(conflict+"  - phone: {op: push}\n    expect: {status: cancelled-by-operation}\n", "server-wins", scenarios.Options{})
		f := res.Failure
		Expect(f.Line).To(Equal(12))
		Expect(f.What).To(Equal("phone: push"))
		Expect(strings.Join(f.Requests, "\n")).To(ContainSubstring("phone: PATCH /tables/todoitem/e1 → 412   <- this step"))
		Expect(strings.Join(f.Requests, "\n")).To(ContainSubstring("server: update todoitem/e1 → 200"))
	})

	It("plays each strategy's steps only under it, and checks the properties that apply", func() {
		text := conflict + `  - phone: {op: push}
    when: {strategy: cancel}
    expect: {status: cancelled-by-operation, errors: [{table: todoitem, id: e1, status: 412}]}
  - phone: {op: push}
    when: {strategy: [client-wins, server-wins]}
  - check: {phone: {pending: 0}, converged: true}
    when: {strategy: [client-wins, server-wins]}
`
		for _, s := range []string{"client-wins", "server-wins", "cancel"} {
			res := play(text, s, scenarios.Options{})
			Expect(res.Status).To(Equal(reports.Passed), "%s: %s", s, explain(res))
			Expect(res.Properties).To(ContainElement(And(HaveField("ID", "P5"), HaveField("Verdict", reports.Holds), HaveField("Checks", 1))), s)
			Expect(res.Properties).To(ContainElement(HaveField("ID", "P7")))
		}
		Expect(play(text, "cancel", scenarios.Options{}).Steps).To(Equal(4))
		Expect(play(text, "client-wins", scenarios.Options{}).Steps).To(Equal(5))
	})

	It("resolves errors by hand, each way", func() {
		for how, text := range map[string]string{"cancel-and-update": "theirs", "cancel-and-discard": "", "update-operation": "mine"} {
			check := "  - check: {server: {todoitem: {e1: {text: theirs}}}, phone: {pending: 0, todoitem: {e1: {text: " + text + "}}}}\n"
			if how == "cancel-and-discard" {
				check = "  - check: {phone: {pending: 0, todoitem: {e1: null}}}\n"
			}
			if how == "update-operation" {
				check = "  - phone: {op: push}\n  - check: {server: {todoitem: {e1: {text: mine}}}, phone: {pending: 0}}\n"
			}
			res := play(conflict+`  - phone: {op: push}
    expect: {errors: [{table: todoitem, id: e1, status: 412}]}
  - phone: {op: resolve, table: todoitem, id: e1, how: `+how+"}\n"+check, "manual", scenarios.Options{})
			Expect(res.Status).To(Equal(reports.Passed), "%s: %s", how, explain(res))
		}
	})

	It("fails a converge that cannot settle", func() {
		res := play(conflict+"  - converge: {rounds: 2}\n", "manual", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Expectation).To(Equal("converge settles within 2 rounds"))
		Expect(res.Failure.Got).To(ContainSubstring("1 operation(s) still pending"))
		res = play(conflict+"  - converge: {}\n  - check: {converged: true, properties: [P4, P7, P5]}\n", "client-wins", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), explain(res))
	})

	It("restarts a client on its SQLite store with its queue and rows", func() {
		res := play(`name: restart
clients:
  phone: {store: sqlite}
steps:
  - phone: {op: insert, table: todoitem, item: {id: e1, text: x}}
  - phone: {op: restart}
  - check: {phone: {pending: 1, todoitem: {e1: {text: x}}}}
  - phone: {op: push}
  - check: {server: {todoitem: {e1: {text: x}}}, phone: {pending: 0}}
`, "", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), explain(res))
		Expect(res.Steps).To(Equal(5))
	})

	Describe("the timeline of a run", func() {
		It("is kept for a failed run: its steps, and each request in the lane of who sent it", func() {
			res := play(conflict+"  - phone: {op: push}\n    expect: {requests: [PATCH /tables/todoitem/e1]}\n", "client-wins", scenarios.Options{})
			Expect(res.Status).To(Equal(reports.Failed))
			h := res.History
			Expect(h).NotTo(BeNil())
			Expect(h.Steps).To(HaveLen(4))
			Expect(h.Steps[3]).To(And(HaveField("Index", 4), HaveField("What", "phone: push")))
			var lanes []string
			var conflicts, inStep4 int
			for _, e := range h.Events {
				lanes = append(lanes, e.Actor)
				if e.Conflict {
					conflicts++
				}
				if e.Step == 4 {
					inStep4++
					Expect(e.Start).To(BeNumerically(">=", h.Steps[3].Start))
				}
			}
			Expect(lanes).To(ContainElements("phone", reports.ActorServer))
			Expect(conflicts).To(Equal(1), "the 412 of the first PATCH")
			Expect(inStep4).To(Equal(2))
			Expect(res.Target).To(Equal(&reports.Target{Kind: "embedded"}))
			Expect(res.Client.Driver).To(Equal("go"))
			Expect(res.Devices).To(Equal([]reports.Device{{Name: "phone", Strategy: "client-wins", Store: "memory"}}))
		})

		It("is left out of a passed run unless asked for", func() {
			Expect(play(conflict, "client-wins", scenarios.Options{}).History).To(BeNil())
			h := play(conflict, "client-wins", scenarios.Options{KeepHistory: true}).History
			Expect(h).NotTo(BeNil())
			Expect(h.Steps[len(h.Steps)-1].What).To(Equal("end-of-scenario checks"))
		})
	})

	Describe("against an external server", func() {
		var srv *fakeserver.Server
		// start serves a fake server as a server conflictlab does not control: its admin API
		// is hidden, so it is reached through a fault proxy like any other backend.
		start := func(wrap func(http.Handler) http.Handler) *targets.Target {
			srv = fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart)})
			ts := httptest.NewServer(hideAdmin(wrap(srv.Handler())))
			DeferCleanup(ts.Close)
			t := &targets.Target{URL: ts.URL}
			Expect(targets.Probe(context.Background(), t)).To(Succeed())
			Expect(t.Kind).To(Equal(targets.KindOther))
			return t
		}
		same := func(h http.Handler) http.Handler { return h }

		It("writes as another writer, and puts faults in front of the server with a proxy", func() {
			t := start(same)
			res := play(conflict+`  - fault: {action: reset}
  - phone: {op: push}
    expect: {error: network, status: cancelled-by-network-error}
  - heal: all
  - phone: {op: push}
    expect: {requests: [PATCH /tables/todoitem/e1, PATCH /tables/todoitem/e1]}
  - check: {server: {todoitem: {e1: {text: mine}}}, converged: true}
`, "client-wins", scenarios.Options{Target: t})
			Expect(res.Status).To(Equal(reports.Passed), explain(res))
			Expect(res.SkippedSteps).To(BeEmpty())
			h := srv.History()
			Expect(h).To(ContainElement(And(HaveField("Client", targets.ActorID), HaveField("Method", "PATCH"))),
				"the server actor writes through the table API")
		})

		It("skips, with the reason, a run that needs the server's own clock", func() {
			t := start(same)
			res := play(conflict+"  - fault: {action: clock-freeze}\n  - phone: {op: push}\n", "client-wins", scenarios.Options{Target: t})
			Expect(res.Status).To(Equal(reports.Skipped))
			Expect(res.Reason).To(ContainSubstring("the fault clock-freeze needs a server conflictlab controls"))
		})

		It("keeps runs apart on a server that cannot be emptied", func() {
			t := start(same)
			for range 2 {
				res := play(conflict+"  - phone: {op: push}\n  - check: {server: {todoitem: {e1: {text: mine}}}, converged: true}\n",
					"client-wins", scenarios.Options{Target: t})
				Expect(res.Status).To(Equal(reports.Passed), explain(res))
			}
			Expect(srv.Rows("todoitem")).To(HaveLen(2), "each run wrote its own e1")
		})

		It("catches a server that ignores the version a write carries (P7)", func() {
			t := start(func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == "PATCH" {
						r.Header.Del("If-Match")
						var item map[string]any
						if json.NewDecoder(r.Body).Decode(&item) == nil {
							delete(item, "version")
							body, _ := json.Marshal(item)
							r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
						}
					}
					h.ServeHTTP(w, r)
				})
			})
			res := play(conflict+"  - phone: {op: push}\n", "cancel", scenarios.Options{Target: t})
			Expect(res.Status).To(Equal(reports.Failed), explain(res))
			Expect(res.Failure.Property).To(Equal("P7"))
			Expect(res.Failure.Got).To(ContainSubstring("applied with the stale version"))
		})

		It("catches a server whose queries lose a row (P4)", func() {
			t := start(func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != "GET" || r.Header.Get("X-ZUMO-INSTALLATION-ID") != "phone" {
						h.ServeHTTP(w, r)
						return
					}
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					var rows []map[string]any
					body := rec.Body.Bytes()
					if json.Unmarshal(body, &rows) == nil {
						kept := []map[string]any{}
						for _, row := range rows {
							if !strings.HasPrefix(row["id"].(string), "e2") {
								kept = append(kept, row)
							}
						}
						body, _ = json.Marshal(kept)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(rec.Code)
					_, _ = w.Write(body)
				})
			})
			res := play(conflict+"  - server: {op: insert, table: todoitem, item: {id: e2, text: new}}\n  - converge: {}\n", "client-wins",
				scenarios.Options{Target: t})
			Expect(res.Status).To(Equal(reports.Failed), explain(res))
			Expect(res.Failure.Property).To(Equal("P4"))
			Expect(res.Failure.Got).To(ContainSubstring("phone lacks todoitem/e2-"))
		})

		Describe("a lost answer, through the proxy", func() {
			sc := func() *scenarios.Scenario {
				sc, err := scenarios.LoadFile("catalog/lost-response-update.yaml")
				Expect(err).NotTo(HaveOccurred())
				return sc
			}
			It("passes against a plain server", func() {
				t := start(same)
				for _, strategy := range sc().Runs() {
					res := scenarios.Run(context.Background(), sc(), strategy, scenarios.Options{Target: t})
					Expect(res.Status).To(Equal(reports.Passed), explain(res))
				}
			})
			It("fails when the server writes a lost update twice", func() {
				// A server that applies every PATCH again on its retry, whatever the version:
				// the retried write of client-wins meets no 412 where one was due.
				t := start(func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Method == "PATCH" {
							r.Header.Del("If-Match")
						}
						h.ServeHTTP(w, r)
					})
				})
				res := scenarios.Run(context.Background(), sc(), "manual", scenarios.Options{Target: t})
				Expect(res.Status).To(Equal(reports.Failed), explain(res))
			})
		})
	})

	Describe("against a conflictlab server", func() {
		It("drives its faults, clock and history through the admin API", func() {
			srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart)})
			ts := httptest.NewServer(srv.Handler())
			DeferCleanup(ts.Close)
			t := &targets.Target{URL: ts.URL}
			Expect(targets.Probe(context.Background(), t)).To(Succeed())
			Expect(t.Kind).To(Equal(targets.KindConflictlab))
			res := play(conflict+`  - fault: {action: reset}
  - phone: {op: push}
    expect: {error: network}
  - heal: all
  - clock: {advanceMs: 1000}
  - phone: {op: push}
  - check: {server: {todoitem: {e1: {text: mine}}}, converged: true}
`, "client-wins", scenarios.Options{Target: t})
			Expect(res.Status).To(Equal(reports.Passed), explain(res))
			Expect(srv.History()).To(ContainElement(HaveField("Faults", HaveLen(1))))
		})
	})
})

// hideAdmin answers the admin API's paths with a plain 404, as a server that is not
// conflictlab's would.
func hideAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_conflictlab") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
