package main

import (
	"context"
	"errors"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/conformance"
)

// runConformance runs fakeserver's conformance suite against base as a user does
// (CONFLICTLAB_SERVER=base go test ./fakeserver), or skips where there is no go command.
func runConformance(base string) conformance.Outcome {
	GinkgoHelper()
	root, err := filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	out, log, err := conformance.Run(context.Background(), conformance.Options{Root: root, Server: base})
	if errors.Is(err, conformance.ErrNoGo) {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred(), "the suite's output:\n%s", tail(log))
	AddReportEntry("conformance", out.Summary())
	return out
}

func tail(s string) string {
	if len(s) > 6000 {
		return "…" + s[len(s)-6000:]
	}
	return s
}

// The done-criterion of the conformance suite against any server (issue 12): against
// conflictlab serve on a simulated clock, in both dialects, nothing fails and every spec that
// cannot run there says why. docs/targets.md lists the flags that let the skipped ones run.
var _ = Describe("the conformance suite against conflictlab serve", Label("conformance"), func() {
	DescribeTable("passes, every skip with its reason",
		func(dialect string, atLeast int) {
			base, _, _, _, _ := serve("--sim-clock", "--dialect", dialect)
			out := runConformance(base)
			Expect(out.Failures).To(BeEmpty())
			Expect(out.Failed).To(BeZero())
			Expect(out.Unexplained).To(BeEmpty())
			Expect(out.Kind).To(Equal("conflictlab"))
			Expect(out.Dialect).To(Equal(dialect))
			// The specs of the dialect that need nothing a reset cannot set all run: what is
			// skipped is the other dialect's, the Go API's and what needs other flags.
			Expect(out.Passed).To(BeNumerically(">=", atLeast), out.Summary())
			for reason := range out.Reasons {
				Expect(reason).To(Or(HavePrefix("needs "), HavePrefix("in process only: "), HavePrefix("streams the history")),
					"a skip that is neither for a setting of the server nor for the Go API")
			}
		},
		Entry("v2", "v2", 500),
		Entry("v1", "v1", 390),
	)
})
