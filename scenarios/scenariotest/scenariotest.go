// Package scenariotest runs scenario files from a Go test: the catalogue, or scenarios of your
// own, against the embedded server or your backend (Options.Target), with conflictlab's client
// or yours (Options.Client). Run makes one subtest per scenario and strategy for a plain
// testing test; Specs makes one Ginkgo spec each, labelled with the scenario's labels and the
// strategy. A run that cannot be played here (the target or the client lacks what it needs) is
// skipped with the reason; a failure says what the runner says (Explain).
//
//	func TestMyBackend(t *testing.T) {
//		target := &targets.Target{URL: os.Getenv("BACKEND_URL")}
//		if err := targets.Probe(context.Background(), target); err != nil {
//			t.Skip(err)
//		}
//		scenariotest.Run(t, scenarios.Options{Target: target}, "path/to/conflictlab/scenarios/catalog")
//	}
package scenariotest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// Run plays every scenario of the paths (files or directories) under each of its strategies,
// as subtests named "scenario/strategy".
func Run(t *testing.T, opts scenarios.Options, paths ...string) {
	t.Helper()
	all, err := scenarios.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		for _, strategy := range sc.Runs() {
			t.Run(name(sc, strategy, "/"), func(t *testing.T) {
				res := scenarios.Run(context.Background(), sc, strategy, opts)
				switch res.Status {
				case reports.Skipped:
					t.Skip(res.Reason)
				case reports.Failed:
					t.Error(Explain(res))
				}
			})
		}
	}
}

// Specs registers one Ginkgo spec per scenario of the paths and strategy, labelled with the
// scenario's labels and the strategy (go tool ginkgo --label-filter='conflict && client-wins').
// Call it inside a container (Describe) or at the top level of a suite file. opts is read when
// each spec runs, so a BeforeSuite can still fill it in (a target started for the suite).
func Specs(opts *scenarios.Options, paths ...string) {
	all, err := scenarios.Load(paths...)
	It("loads", func() {
		if err != nil {
			Fail(err.Error())
		}
	})
	for _, sc := range all {
		for _, strategy := range sc.Runs() {
			labels := append([]string{}, sc.Labels...)
			if strategy != "" {
				labels = append(labels, strategy)
			}
			It(name(sc, strategy, " "), Label(labels...), func() {
				res := scenarios.Run(context.Background(), sc, strategy, *opts)
				switch res.Status {
				case reports.Skipped:
					Skip(res.Reason)
				case reports.Failed:
					Fail(Explain(res))
				}
			})
		}
	}
}

func name(sc *scenarios.Scenario, strategy, sep string) string {
	if strategy == "" {
		return sc.Name
	}
	if sep == " " {
		return sc.Name + " [" + strategy + "]"
	}
	return sc.Name + sep + strategy
}

// Explain renders a failed result as conflictlab run prints it: the step, the property, what
// was expected and what happened, the requests around it, and the command that replays it.
func Explain(res reports.Result) string {
	f := res.Failure
	if f == nil {
		return string(res.Status)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "step %d (line %d) %s\n", f.Step, f.Line, f.What)
	if f.Property != "" {
		fmt.Fprintf(&b, "property: %s\n", f.Property)
	}
	fmt.Fprintf(&b, "expected: %s\ngot:      %s\n", f.Expectation, f.Got)
	if len(f.Requests) > 0 {
		fmt.Fprintf(&b, "requests:\n  %s\n", strings.Join(f.Requests, "\n  "))
	}
	fmt.Fprintf(&b, "replay: %s\n", f.Replay)
	return b.String()
}
