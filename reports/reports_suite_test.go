package reports_test

import (
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/reports"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestReports(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "reports")
}

// started is when every hand-made run of the suite started.
var started = time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC)

// sampleRun is a run with something of everything: passes, failures (one on a property, one
// at the end of the scenario, one with no Failure at all), skipped results and steps, several
// strategies including a scenario's own, every verdict, and text that each format must
// escape. It is made afresh for every spec.
func sampleRun() *reports.Run {
	holds := func(id, name string) reports.PropertyResult {
		return reports.PropertyResult{ID: id, Name: name, Verdict: reports.Holds, Checks: 3}
	}
	return &reports.Run{
		Server:   "http://127.0.0.1:8080",
		Started:  started,
		Duration: 2*time.Second + 345*time.Millisecond,
		Results: []reports.Result{
			{Scenario: "blog-buy-eggs", File: "catalog/blog-buy-eggs.yaml", Labels: []string{"blog", "conflict"},
				Strategy: "server-wins", Status: reports.Failed, Duration: 120 * time.Millisecond, Steps: 4,
				Failure: &reports.Failure{
					Step: 4, Line: 23, What: "phone: pull todoitem (queryId all)",
					Expectation: "requests [PATCH /tables/todoitem/e1, GET /tables/todoitem, ...]",
					Got:         "requests [PATCH /tables/todoitem/e1]\nthen error: push-failed <script>alert(\"x\")</script> & 'more' | piped",
					Property:    "P5",
					Rule:        "a 412 answer is resolved by the strategy",
					Requests:    []string{"PATCH /tables/todoitem/e1 412", "GET /tables/todoitem?$filter=a|b 200"},
					Replay:      "conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml",
				},
				Properties: []reports.PropertyResult{holds("P1", "push-before-pull"),
					{ID: "P5", Name: "strategy", Verdict: reports.Violated, Checks: 1, Detail: "local row kept\nserver row: {\"text\":\"Buy organic eggs\"}"}}},
			{Scenario: "blog-buy-eggs", File: "catalog/blog-buy-eggs.yaml", Labels: []string{"blog", "conflict"},
				Strategy: "client-wins", Status: reports.Passed, Duration: 100 * time.Millisecond, Steps: 5,
				Properties: []reports.PropertyResult{holds("P1", "push-before-pull"), holds("P5", "strategy")}},
			{Scenario: "blog-buy-eggs", File: "catalog/blog-buy-eggs.yaml", Labels: []string{"blog", "conflict"},
				Strategy: "cancel", Status: reports.Passed, Duration: 80 * time.Millisecond, Steps: 5,
				SkippedSteps: []reports.SkippedStep{{Step: 3, What: "fault: drop-response", Reason: "faults need the embedded server"}},
				Properties:   []reports.PropertyResult{holds("P1", "push-before-pull"), holds("P10", "made-up")}},
			{Scenario: "a|pipe <b>&co</b>", Labels: []string{"odd|label"}, Status: reports.Passed,
				Duration: 10 * time.Millisecond, Steps: 1},
			{Scenario: "purge-pending", Labels: []string{"purge"}, Strategy: "client-wins", Status: reports.Failed,
				Duration: 50 * time.Millisecond, Steps: 6,
				Failure: &reports.Failure{Step: 0, What: "end-of-scenario checks", Expectation: "P2 holds",
					Got: "row e2 survived the purge", Property: "P2"},
				Properties: []reports.PropertyResult{
					{ID: "P2", Name: "purge", Verdict: reports.Violated, Checks: 2, Detail: "e2 still there"},
					{ID: "P4", Name: "convergence", Verdict: reports.Unknown, Checks: 0, Detail: "a fault was never healed"}}},
			{Scenario: "purge-pending", Labels: []string{"purge"}, Strategy: "server-wins", Status: reports.Failed,
				Duration: 40 * time.Millisecond, Steps: 2},
			{Scenario: "crash-mid-push", Labels: []string{"durability"}, Strategy: "client-wins", Status: reports.Skipped,
				Reason: "needs the embedded server"},
			{Scenario: "crash-mid-push", Labels: []string{"durability"}, Strategy: "server-wins", Status: reports.Skipped,
				Reason: "needs the embedded server"},
		},
	}
}
