//go:build mutants

package scenarios_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

var _ = Describe("a crash between two transactions of a pull", Serial, func() {
	It("catches a client that stores a page's token before the page's rows", func() {
		sc, err := scenarios.LoadFile("catalog/sqlite-crash-between-pull-pages.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(scenarios.Run(context.Background(), sc, "", scenarios.Options{}).Status).To(Equal(reports.Passed))
		restore := mutants.Enable(mutants.PageInTwoTransactions)
		res := scenarios.Run(context.Background(), sc, "", scenarios.Options{})
		restore()
		Expect(res.Status).To(Equal(reports.Failed))
		// the crash came right after the token's transaction: the restarted phone has no rows
		Expect(res.Failure.What).To(Equal("phone: read todoitem"))
		Expect(res.Failure.Got).To(ContainSubstring("[]"))
	})
})
