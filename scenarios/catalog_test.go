package scenarios_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/scenarios/scenariotest"
)

// The catalogue, every scenario under every strategy it lists, labelled by its labels and the
// strategy: `go tool ginkgo --label-filter='conflict && client-wins' ./scenarios`.
var _ = Describe("the catalogue", Label("catalog"), func() {
	catalog, err := scenarios.Load("catalog")
	It("has at least 40 scenarios", func() {
		Expect(err).NotTo(HaveOccurred())
		Expect(len(catalog)).To(BeNumerically(">=", 40))
	})
	scenariotest.Specs(&scenarios.Options{}, "catalog")
})

// explain renders a failed result as conflictlab run prints it.
func explain(res reports.Result) string { return scenariotest.Explain(res) }
