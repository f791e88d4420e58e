package scenarios_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// What the converge step settles, and what P4 then judges.
var _ = Describe("the converge", func() {
	It("a converge goes on past a round in which a pull failed: a store fault does not pass for a settled client", func() {
		// c0's pull in the second round fails (its store's second transaction from then on);
		// the round changed nothing else, yet c0 still holds b, which c1 deleted.
		sc, err := scenarios.Parse([]byte(`name: converge-past-a-failed-pull
strategies: [client-wins]
clients:
  c0: {store: sqlite}
  c1: {store: memory}
steps:
  - c0: {op: insert, table: todoitem, item: {id: b, text: eggs}}
  - converge: {}
  - c1: {op: delete, table: todoitem, item: {id: b}}
  - c0: {op: store-fault, fail: 2}
  - converge: {}
  - check: {c0: {todoitem: {b: null}}}
`), "converge.yaml")
		Expect(err).NotTo(HaveOccurred())
		res := scenarios.Run(context.Background(), sc, "client-wins", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Passed), "%+v", res.Failure)
	})

	It("under hard delete, a converge does not count against a client a row the server deleted for real", func() {
		// No tombstone tells the phone that e1 went (docs/semantics.md#pull): P4 excuses it,
		// and only it — m1, which the server still has, must match.
		sc, err := scenarios.Parse([]byte(`name: converge-hard-delete
server:
  softDelete: false
  tables:
    todoitem:
      - {id: e1, text: Buy eggs}
      - {id: m1, text: Buy milk}
clients:
  phone: {store: memory}
steps:
  - phone: {op: pull, table: todoitem}
  - server: {op: delete, table: todoitem, id: e1}
  - converge: {}
  - check: {phone: {todoitem: {e1: {text: Buy eggs}, m1: {text: Buy milk}}}}
`), "hard.yaml")
		Expect(err).NotTo(HaveOccurred())
		res := scenarios.Run(context.Background(), sc, "manual", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Passed), "%+v", res.Failure)
	})
})
