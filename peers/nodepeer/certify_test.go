package nodepeer_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/peers/nodepeer"
	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/targets"
)

// Certifying a backend, as a user would, against the real Node backend: the catalogue and a
// property campaign, through the target support of conflictlab run and fuzz. The node
// personality of the fake server must fail exactly the runs real Node fails, and every
// failure must be a rule of the protocol Node breaks, never the harness's doing.
var _ = Describe("certifying the real Node backend", Ordered, Label("node"), func() {
	var (
		ctx         = context.Background()
		node        *targets.Target
		personality *targets.Target
	)
	BeforeAll(func() {
		peer, err := nodepeer.Start(ctx, nodepeer.Options{})
		if errors.Is(err, nodepeer.ErrNotInstalled) {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(peer.Stop)
		node, err = peer.Target(ctx)
		Expect(err).NotTo(HaveOccurred())

		fake := fakeserver.New(fakeserver.Config{Personality: fakeserver.PersonalityNode, Clock: fakeserver.SimClock(time.Time{})})
		ts := httptest.NewServer(fake.Handler())
		DeferCleanup(ts.Close)
		personality = &targets.Target{URL: ts.URL}
		Expect(targets.Probe(ctx, personality)).To(Succeed())
		Expect(personality.Personality).To(Equal("node"))
	})

	It("fails the catalogue's runs the node personality fails, each for a rule of the protocol Node breaks", func() {
		catalog, err := scenarios.Load("../../scenarios/catalog")
		Expect(err).NotTo(HaveOccurred())
		var onNode, onPersonality []string
		passed := 0
		for _, sc := range catalog {
			for _, strategy := range sc.Runs() {
				name := sc.Name + " [" + strategy + "]"
				real := scenarios.Run(ctx, sc, strategy, scenarios.Options{Target: node})
				fake := scenarios.Run(ctx, sc, strategy, scenarios.Options{Target: personality})
				switch real.Status {
				case reports.Failed:
					onNode = append(onNode, name)
					Expect(real.Failure.Rule).NotTo(BeEmpty(), "%s failed on Node for no rule Node breaks:\n%s", name, explain(real))
					Expect(real.Failure.Got).NotTo(ContainSubstring("the initial row"), "%s met the rows of another run", name)
				case reports.Passed:
					passed++
				}
				if fake.Status == reports.Failed {
					onPersonality = append(onPersonality, name)
				}
			}
		}
		Expect(onNode).To(Equal(onPersonality))
		Expect(onNode).NotTo(BeEmpty(), "Node's 409 to an insert breaks the protocol: some run must show it")
		Expect(passed).To(BeNumerically(">", len(onNode)))
	})

	It("holds every property over a bounded campaign", func() {
		out := properties.Campaign{Config: properties.Config{Target: node, Faults: true, SQLite: true}, Duration: 5 * time.Second,
			Seed: 1}.Run(ctx)
		Expect(out.Failed).To(BeFalse(), out.Message)
		Expect(out.Stats.Runs).To(BeNumerically(">", 0))
	})
})

// explain is a failure as conflictlab run prints it.
func explain(res reports.Result) string {
	f := res.Failure
	if f == nil {
		return string(res.Status)
	}
	return "step " + f.What + "\nexpected: " + f.Expectation + "\ngot: " + f.Got + "\nrequests:\n  " + strings.Join(f.Requests, "\n  ")
}
