package scenarios_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/targets"
)

// sixRows is a phone that pulls six rows in pages of two.
const sixRows = `name: six-rows
server:
  tables:
    todoitem: [{id: a, text: a0}, {id: b, text: b0}, {id: c, text: c0}, {id: d, text: d0}, {id: e, text: e0}, {id: f, text: f0}]
clients:
  phone: {options: {pageSize: 2}}
  tablet: {}
steps:
`

var _ = Describe("two ops at once (while)", func() {
	It("reads while and atPage, and writes them back", func() {
		sc, err := scenarios.Parse([]byte(sixRows+`  - phone: {op: pull, table: todoitem, queryId: all}
    while:
      tablet: {op: push}
      expect: {status: complete, requests: []}
    atPage: 3
    expect: {requests: [GET /tables/todoitem, ...]}
  - phone: {op: pull, table: todoitem}
    while: {server: {op: delete, table: todoitem, id: zz}, expect: {error: not-found}}
`), "while.yaml")
		Expect(err).NotTo(HaveOccurred())
		st := sc.Steps[0]
		Expect(st.AtPage).To(Equal(3))
		Expect(st.While).NotTo(BeNil())
		Expect(st.While.Actor).To(Equal("tablet"))
		Expect(st.While.Index).To(Equal(1))
		Expect(st.While.Op.Op).To(Equal("push"))
		Expect(st.While.Expect.Status).To(Equal("complete"))
		Expect(st.Describe()).To(Equal("phone: pull todoitem (queryId all), while page 3 waits: tablet: push"))
		Expect(sc.Steps[1].AtPage).To(Equal(0), "page 1 when absent")
		Expect(sc.Steps[1].While.Expect.Error).To(Equal("not-found"))
		assertRoundTrip(sc)
	})

	DescribeTable("refuses what cannot be played, saying why",
		func(step, want string) {
			_, err := scenarios.Parse([]byte(sixRows+step), "bad.yaml")
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(HavePrefix("bad.yaml:"))
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("while on a push", "  - phone: {op: push}\n    while: {tablet: {op: push}}\n", "while goes with a client's pull only"),
		Entry("while on the server actor", "  - server: {op: delete, table: todoitem, id: a}\n    while: {tablet: {op: push}}\n", "while goes with a client's pull only"),
		Entry("atPage without while", "  - phone: {op: pull, table: todoitem}\n    atPage: 2\n", "atPage goes with while"),
		Entry("page 0", "  - phone: {op: pull, table: todoitem}\n    while: {tablet: {op: push}}\n    atPage: 0\n", "atPage must be at least 1"),
		Entry("a page that is not a number", "  - phone: {op: pull, table: todoitem}\n    while: {tablet: {op: push}}\n    atPage: two\n", "atPage must be a whole number"),
		Entry("the pulling device sending requests of its own", "  - phone: {op: pull, table: todoitem}\n    while: {phone: {op: push}}\n",
			"phone's own pull is under way, so meanwhile it can only write or read locally"),
		Entry("a fault inside while", "  - phone: {op: pull, table: todoitem}\n    while: {fault: {action: reset}}\n", "while plays a client's op or the server actor's write, not fault"),
		Entry("when inside while", "  - phone: {op: pull, table: todoitem}\n    while: {tablet: {op: push}, when: {strategy: cancel}}\n", "when cannot go inside while"),
		Entry("while inside while", "  - phone: {op: pull, table: todoitem}\n    while: {tablet: {op: pull, table: todoitem}, while: {server: {op: delete, table: todoitem, id: a}}}\n",
			"while cannot go inside while"),
		Entry("an empty while", "  - phone: {op: pull, table: todoitem}\n    while: {}\n", "a step needs an actor"),
		Entry("a while that is a list", "  - phone: {op: pull, table: todoitem}\n    while: [tablet]\n", "while must be a mapping"),
		Entry("an expect the other op cannot meet", "  - phone: {op: pull, table: todoitem}\n    while: {tablet: {op: push}, expect: {rows: [a]}}\n",
			"expect rows applies to a client's read or query only"),
	)

	// page plays a pull held at a page while another writer updates row id, and returns the
	// text the pull left on the phone.
	page := func(atPage int, id string) string {
		GinkgoHelper()
		res := play(sixRows+`  - phone: {op: pull, table: todoitem}
    while: {server: {op: update, table: todoitem, item: {id: `+id+`, text: new}}}
    atPage: `+strconv.Itoa(atPage)+`
  - check: {phone: {todoitem: {`+id+`: {text: new}}}}
`, "", scenarios.Options{InMemory: true})
		if res.Status == reports.Passed {
			return "new"
		}
		Expect(res.Failure.Step).To(Equal(2), explain(res))
		return "old"
	}

	It("plays the other op while the pull waits for that page, not before nor after", func() {
		// Pages are [a b] [c d] [e f]: the pages asked for after the write bring it.
		Expect(page(1, "a")).To(Equal("new"))
		Expect(page(2, "b")).To(Equal("old"), "page 1 was read before the write")
		Expect(page(2, "c")).To(Equal("new"))
		Expect(page(3, "d")).To(Equal("old"))
		Expect(page(3, "e")).To(Equal("new"))
	})

	It("plays the other op after the pull when the pull never asks for that page", func() {
		res := play(sixRows+`  - phone: {op: pull, table: todoitem}
    while: {server: {op: update, table: todoitem, item: {id: a, text: new}}}
    atPage: 9
    expect: {requests: [GET /tables/todoitem, GET /tables/todoitem, GET /tables/todoitem, GET /tables/todoitem]}
  - check: {phone: {todoitem: {a: {text: a0}}}, server: {todoitem: {a: {text: new}}}}
`, "", scenarios.Options{InMemory: true, KeepHistory: true})
		Expect(res.Status).To(Equal(reports.Passed), explain(res))
		var methods []string
		for _, e := range res.History.Events {
			if e.Step == 1 {
				methods = append(methods, e.Op)
			}
		}
		Expect(methods).To(Equal([]string{"query", "query", "query", "query", "update"}), "four pages, then the other writer")
	})

	It("judges each half by its own expect", func() {
		steps := `  - phone: {op: pull, table: todoitem}
    while: {tablet: {op: lookup, table: todoitem, id: a}, expect: {item: null}}
    atPage: 2
`
		res := play(sixRows+steps, "", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Passed), explain(res))

		res = play(sixRows+strings.Replace(steps, "item: null", "item: {text: a0}", 1), "", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Step).To(Equal(1))
		Expect(res.Failure.Expectation).To(HavePrefix("while: the step succeeds"), "the tablet has pulled nothing")

		res = play(sixRows+steps+"    expect: {error: network}\n", "", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Expectation).To(Equal("the step fails with network"))
		Expect(res.Failure.What).To(Equal("phone: pull todoitem, while page 2 waits: tablet: lookup todoitem a"))
	})

	It("holds the pull through the proxy in front of a server conflictlab does not control", func() {
		srv := startOther()
		res := play(sixRows+`  - phone: {op: pull, table: todoitem}
    while: {phone: {op: update, table: todoitem, item: {id: c, text: mine}}}
    atPage: 2
  - check: {phone: {pending: 1, todoitem: {c: {text: mine}, d: {text: d0}}}, properties: [P1]}
`, "", scenarios.Options{Target: srv})
		Expect(res.Status).To(Equal(reports.Passed), explain(res))
		Expect(res.Properties).To(ContainElement(And(HaveField("ID", "P1"), HaveField("Verdict", reports.Holds))))
	})
})

// startOther serves a fake server as one conflictlab does not control (its admin API
// hidden): runs reach it through a fault proxy.
func startOther() *targets.Target {
	GinkgoHelper()
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart)})
	ts := httptest.NewServer(hideAdmin(srv.Handler()))
	DeferCleanup(ts.Close)
	t := &targets.Target{URL: ts.URL}
	Expect(targets.Probe(context.Background(), t)).To(Succeed())
	Expect(t.Kind).To(Equal(targets.KindOther))
	return t
}

var _ = Describe("a session that plays a while without judging expectations", func() {
	It("writes the other op's outcome into its expect, so the step replays the same way", func() {
		sc, err := scenarios.Parse([]byte(sixRows+"  - check: {}\n"), "lenient.yaml")
		Expect(err).NotTo(HaveOccurred())
		s := scenarios.Start(context.Background(), sc, "", scenarios.Options{InMemory: true})
		defer s.Finish()
		s.SetLenient(true)
		st := &scenarios.Step{Index: 1, Actor: "phone", Op: &scenarios.Op{Op: "pull", Table: "todoitem"}, AtPage: 2,
			While: &scenarios.Step{Actor: "tablet", Op: &scenarios.Op{Op: "lookup", Table: "todoitem", ID: "a"}}}
		Expect(s.Do(st)).To(BeNil())
		Expect(s.LastError()).NotTo(HaveOccurred(), "the pull's own error")
		Expect(s.LastWhileError()).To(HaveOccurred(), "the tablet has nothing to look up")
		Expect(st.While.Expect).To(Equal(&scenarios.Expect{Error: "not-found"}))

		sc.Steps = []*scenarios.Step{st}
		data, err := scenarios.Marshal(sc)
		Expect(err).NotTo(HaveOccurred())
		back, err := scenarios.Parse(data, "lenient.yaml")
		Expect(err).NotTo(HaveOccurred())
		res := scenarios.Run(context.Background(), back, "", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Passed), "%s\n%s", data, explain(res))
	})
})
