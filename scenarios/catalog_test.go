package scenarios_test

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// The catalogue, every scenario under every strategy it lists, labelled by its labels and the
// strategy: `go tool ginkgo --label-filter='conflict && client-wins' ./scenarios`.
var _ = Describe("the catalogue", Label("catalog"), func() {
	catalog, err := scenarios.Load("catalog")
	It("loads", func() { Expect(err).NotTo(HaveOccurred()) })
	It("has at least 40 scenarios", func() { Expect(len(catalog)).To(BeNumerically(">=", 40)) })
	for _, sc := range catalog {
		for _, strategy := range sc.Runs() {
			labels := append([]string{}, sc.Labels...)
			name := sc.Name
			if strategy != "" {
				labels = append(labels, strategy)
				name += " [" + strategy + "]"
			}
			It(name, Label(labels...), func() {
				res := scenarios.Run(context.Background(), sc, strategy, scenarios.Options{})
				Expect(res.Status).To(Equal(reports.Passed), explain(res))
			})
		}
	}
})

// explain renders a failed result as conflictlab run prints it.
func explain(res reports.Result) string {
	f := res.Failure
	if f == nil {
		return string(res.Status)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "step %d (line %d) %s\n", f.Step, f.Line, f.What)
	if f.Property != "" {
		fmt.Fprintf(&b, "property: %s\n", f.Property)
	}
	fmt.Fprintf(&b, "expected: %s\ngot:      %s\nrequests:\n  %s\nreplay: %s\n", f.Expectation, f.Got, strings.Join(f.Requests, "\n  "), f.Replay)
	return b.String()
}
