package drivers_test

import (
	"context"
	"os/exec"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// The real JavaScript SDK (azure-mobile-apps-client 2.0.1) through drivers/js: the whole
// catalogue, and a short property campaign. Skipped, with the reason, where the driver is not
// installed (make drivers).
var _ = Describe("the JavaScript SDK through its driver", Ordered, Label("js"), func() {
	ctx := context.Background()
	BeforeAll(func() {
		if _, err := exec.LookPath("node"); err != nil {
			Skip("node is not on the PATH: the JS driver cannot run")
		}
		if _, err := drivers.Lookup("js"); err != nil {
			Skip(err.Error())
		}
	})

	It("plays the catalogue: every run passes, is skipped for what the SDK cannot express, or fails naming the rule the SDK breaks", func() {
		catalog, err := scenarios.Load("../scenarios/catalog")
		Expect(err).NotTo(HaveOccurred())
		counts := map[reports.Status]int{}
		for _, sc := range catalog {
			for _, strategy := range sc.Runs() {
				res := scenarios.Run(ctx, sc, strategy, scenarios.Options{Client: "js"})
				counts[res.Status]++
				switch res.Status {
				case reports.Failed:
					Expect(res.Failure.Rule).To(HavePrefix("semantics: "), "%s [%s] failed for no rule of the semantics: %+v", sc.Name, strategy, res.Failure)
					Expect(res.Failure.Expectation).NotTo(Equal("the client's driver works"), "%s [%s]: the driver broke: %s", sc.Name, strategy, res.Failure.Got)
				case reports.Skipped:
					Expect(res.Reason).To(ContainSubstring("azure-mobile-apps-client"), "%s [%s] was skipped for something else: %s", sc.Name, strategy, res.Reason)
				}
				Expect(res.Client).To(Equal(&reports.Client{Driver: "conflictlab-js", SDK: "azure-mobile-apps-client", Version: "2.0.1"}))
			}
		}
		GinkgoWriter.Printf("the JS SDK: %d passed, %d failed, %d skipped\n", counts[reports.Passed], counts[reports.Failed], counts[reports.Skipped])
		Expect(counts[reports.Passed]).To(BeNumerically(">", counts[reports.Failed]))
		Expect(counts[reports.Failed]).To(BeNumerically(">", 0), "the SDK's pull does not push first: some run must show it")
	})

	It("plays a property campaign, and any counterexample replays to a rule the SDK breaks", func() {
		cfg := properties.Defaults()
		cfg.Client, cfg.Out, cfg.Name = "js", GinkgoT().TempDir(), "js"
		out := properties.Campaign{Config: cfg, Duration: 5 * time.Second, Seed: 1, ShrinkTime: 3 * time.Second}.Run(ctx)
		GinkgoWriter.Printf("the JS SDK's campaign: %d interleavings, %d actions in %s\n", out.Stats.Runs, out.Stats.Actions, out.Elapsed)
		Expect(out.Stats.Actions).To(BeNumerically(">", 0))
		if !out.Failed {
			return
		}
		Expect(out.Message).NotTo(ContainSubstring("cannot play this machine"))
		// The SDK differs from docs/semantics.md in places (docs/js-sdk.md): a counterexample
		// must be one of those, replayed by the runner to a failure that names its rule.
		sc, err := scenarios.LoadFile(out.Stats.Counterexample)
		Expect(err).NotTo(HaveOccurred(), out.Message)
		res := scenarios.Run(ctx, sc, sc.Strategies[0], scenarios.Options{Client: "js"})
		GinkgoWriter.Printf("its counterexample (%d steps): %s\n", len(sc.Steps), res.Status)
		if res.Status == reports.Failed {
			GinkgoWriter.Printf("  %s\n", res.Failure.Rule)
			Expect(res.Failure.Rule).To(HavePrefix("semantics: "), "%+v", res.Failure)
		} else {
			Expect(out.Message).To(MatchRegexp(`P(3|6|8|9|7|11) \(`), "a failure the runner does not judge is one of the machine's own checks: %s", out.Message)
		}
	})
})
