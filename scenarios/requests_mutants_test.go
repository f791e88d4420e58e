//go:build mutants

package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// insertConflict: the phone inserts a row offline that another writer inserted meanwhile, so
// its POST meets a 409 and client wins sends the row again as an update.
const insertConflict = `name: insert-conflict
strategies: [client-wins]
clients:
  phone: {}
steps:
  - phone: {op: insert, table: todoitem, item: {id: e1, text: mine}}
  - server: {op: insert, table: todoitem, item: {id: e1, text: theirs}}
  - phone: {op: push}
  - check: {server: {todoitem: {e1: {text: mine}}}}
`

// Run with -tags mutants: the runner's own properties catch a broken client in a plain
// scenario, with no expectation written for the bug.
var _ = Describe("the runner against a broken client", func() {
	It("catches client wins sending an insert's conflict as an unconditional update by P10", func() {
		// With client/client-wins-loses-version the PATCH after the 409 carries no version:
		// it overwrites whatever the server holds, and the row ends up as client wins wants,
		// so P5 holds. Only what was sent shows the bug.
		restore := mutants.Enable(mutants.ClientWinsLosesVersion)
		defer restore()
		res := play(insertConflict, "client-wins", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Property).To(Equal("P10"), "%+v", res.Failure)
		Expect(res.Failure.Got).To(ContainSubstring("PATCH /tables/todoitem/e1 200 was sent again with no version, but the conflict showed the server's version"))
	})

	It("passes the same scenario with the client whole", func() {
		res := play(insertConflict, "client-wins", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), "%+v", res.Failure)
	})
})
