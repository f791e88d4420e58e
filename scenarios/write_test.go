package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/scenarios"
)

var _ = Describe("writing a scenario", func() {
	It("writes YAML that reads back to the same scenario", func() {
		for _, file := range []string{"catalog/blog-buy-eggs.yaml"} {
			sc, err := scenarios.LoadFile(file)
			Expect(err).NotTo(HaveOccurred())
			assertRoundTrip(sc)
		}
		sc, err := scenarios.Parse([]byte(`name: everything
description: all the fields
labels: [a, b]
strategies: [client-wins, cancel]
server: {dialect: v1, pageSize: 2, maxTop: 10, softDelete: false, clockStepMs: 0, seed: 42,
  tables: {todoitem: [{id: e1, text: "Buy: eggs", n: 3.5, done: false, none: null}]}}
clients:
  phone: {store: sqlite, strategy: server-wins, options: {pushScope: table, treatIdenticalAsSuccess: true, pageSize: 5, timeoutMs: 200, maxTries: 2, collapseUpdateDeleteToTail: true, purgePushesFirst: true, skippedRowsMoveToken: true}}
  tablet: {}
steps:
  - phone: {op: pull, table: todoitem, queryId: all, query: {filter: "done eq false", orderby: text desc, top: 3, skip: 1}}
    expect: {requests: [GET /tables/todoitem, ...]}
  - tablet: {op: lookup, table: todoitem, id: e9}
    expect: {item: null}
  - tablet: {op: lookup, table: todoitem, id: e1}
    expect: {item: {text: x}}
  - tablet: {op: read, table: todoitem}
    expect: {rows: [e1]}
  - tablet: {op: purge, table: todoitem, force: true}
  - tablet: {op: resolve, table: todoitem, id: e1, how: update-operation, item: {text: y}}
  - server: {op: delete, table: todoitem, id: e1}
  - fault: {id: down, match: {client: phone, method: [GET, POST], probability: 0.5, times: 2}, action: latency, params: {ms: 5}}
  - phone: {op: push}
    when: {strategy: cancel}
    expect: {status: cancelled-by-network-error, errors: [{table: todoitem, id: e1, status: 412}], error: push-failed}
  - heal: all
  - clock: {advanceMs: 1000}
  - converge: {rounds: 3}
  - converge: {}
  - check:
      server: {todoitem: {e1: {deleted: true}, e2: null}}
      phone: {pending: 0, errors: 1, todoitem: {e1: null, e3: {text: z}}}
      converged: true
      properties: [P4, P7]
`), "everything.yaml")
		Expect(err).NotTo(HaveOccurred())
		assertRoundTrip(sc)
	})
})

func assertRoundTrip(sc *scenarios.Scenario) {
	GinkgoHelper()
	data, err := scenarios.Marshal(sc)
	Expect(err).NotTo(HaveOccurred())
	back, err := scenarios.Parse(data, sc.File)
	Expect(err).NotTo(HaveOccurred(), "%s", data)
	for i := range back.Steps {
		back.Steps[i].Line = sc.Steps[i].Line
		if w := back.Steps[i].While; w != nil && sc.Steps[i].While != nil {
			w.Line = sc.Steps[i].While.Line
		}
	}
	Expect(back).To(Equal(sc), "%s", data)
}
