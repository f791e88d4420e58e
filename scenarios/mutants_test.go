//go:build mutants

package scenarios_test

import (
	"context"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// Run with -tags mutants (make test does): P1 catches a pull that overwrites a row written
// locally while it waited, whatever the page, and the catalogue's scenario shows it.
var _ = Describe("P1 with a local write during a pull (while)", func() {
	DescribeTable("catches a pull that overwrites a row written while it waited for a page",
		func(atPage int, id string) {
			steps := `  - phone: {op: pull, table: todoitem}
    while: {phone: {op: update, table: todoitem, item: {id: ` + id + `, text: mine}}}
    atPage: ` + strconv.Itoa(atPage) + "\n"
			Expect(play(sixRows+steps, "", scenarios.Options{InMemory: true}).Status).To(Equal(reports.Passed), "the client keeps the write")

			defer mutants.Enable(mutants.PullOverwritesPending)()
			res := play(sixRows+steps, "", scenarios.Options{InMemory: true})
			Expect(res.Status).To(Equal(reports.Failed))
			Expect(res.Failure.Property).To(Equal("P1"), explain(res))
			Expect(res.Failure.Got).To(ContainSubstring("the pull overwrote todoitem/" + id + ", written locally while it ran and still queued"))
		},
		// Pages are [a b] [c d] [e f]: the row is on the page the pull waits for, or a later one.
		Entry("page 1", 1, "b"),
		Entry("page 2", 2, "c"),
		Entry("page 2, a row of page 3", 2, "f"),
		Entry("page 3", 3, "e"),
	)

	It("fails the catalogue's scenario at the pull, and passes it without the bug", func() {
		sc, err := scenarios.LoadFile("catalog/pull-while-local-write.yaml")
		Expect(err).NotTo(HaveOccurred())
		defer mutants.Enable(mutants.PullOverwritesPending)()
		res := scenarios.Run(context.Background(), sc, "", scenarios.Options{InMemory: true})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Step).To(Equal(1))
		Expect(res.Failure.Property).To(Equal("P1"), explain(res))
	})
})
