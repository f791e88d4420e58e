package reports_test

import (
	"os"
	"time"

	"github.com/conflictlab/conflictlab/reports"
)

func ExampleWriteMarkdown() {
	run := &reports.Run{
		Server:   "embedded",
		Started:  time.Date(2024, 3, 5, 14, 30, 0, 0, time.UTC),
		Duration: 1250 * time.Millisecond,
		Results: []reports.Result{
			{Scenario: "blog-buy-eggs", Labels: []string{"blog", "conflict"}, Strategy: "client-wins",
				Status: reports.Passed, Duration: 300 * time.Millisecond, Steps: 5,
				Properties: []reports.PropertyResult{{ID: "P5", Name: "strategy", Verdict: reports.Holds, Checks: 1}}},
			{Scenario: "blog-buy-eggs", Labels: []string{"blog", "conflict"}, Strategy: "server-wins",
				Status: reports.Failed, Duration: 200 * time.Millisecond, Steps: 4,
				Failure: &reports.Failure{Step: 4, Line: 23, What: "phone: pull todoitem (queryId all)",
					Expectation: "phone's e1 has text Buy organic eggs", Got: "text Buy eggs (6)", Property: "P5",
					Requests: []string{"PATCH /tables/todoitem/e1 412", "GET /tables/todoitem 200"},
					Replay:   "conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml"},
				Properties: []reports.PropertyResult{{ID: "P5", Name: "strategy", Verdict: reports.Violated, Checks: 1}}},
			{Scenario: "crash-mid-push", Labels: []string{"durability"}, Strategy: "client-wins",
				Status: reports.Skipped, Reason: "needs the embedded server's crash fault"},
			// A scenario that names no strategy shows under the one its devices used.
			{Scenario: "purge-pending", Labels: []string{"purge"}, Status: reports.Passed, Steps: 3,
				Devices: []reports.Device{{Name: "phone", Strategy: "manual", Store: "sqlite"}}},
		},
		Provenance: &reports.Provenance{Version: "v0.3.0", GoVersion: "go1.26.0", Command: []string{"conflictlab", "run", "scenarios/catalog"}},
	}
	if err := reports.WriteMarkdown(os.Stdout, run); err != nil {
		panic(err)
	}
	// Output:
	// # conflictlab compatibility report
	//
	// Server `embedded`, started 2024-03-05 14:30:00 UTC, took 1.25s.
	//
	// **2 passed, 1 failed, 1 skipped**
	//
	// - conflictlab: `v0.3.0`
	// - Go: `go1.26.0`
	// - command: `conflictlab run scenarios/catalog`
	// - targets: `embedded`
	// - histories: `histories of failed results; bodies cut at 2 KiB, each history at 256 KiB, all at 32 MiB`
	//
	// ## Matrix
	//
	// | scenario | labels | client-wins | server-wins | manual |
	// |---|---|---|---|---|
	// | blog-buy-eggs | blog, conflict | pass | FAIL step 4 (P5) | – |
	// | crash-mid-push | durability | skip | – | – |
	// | purge-pending | purge | – | – | pass |
	// | **total** | | 1✓ 0✗ 1– | 0✓ 1✗ 0– | 1✓ 0✗ 0– |
	//
	// A cell is the result of the scenario under the column's strategy: pass; FAIL with the step of its first failure and the violated property; skip (it could not run here); – (not played). A scenario that names no strategy is under the strategy its devices used (each device's in brackets).
	//
	// ## Properties
	//
	// | property | name | results | holds | violated | unknown |
	// |---|---|--:|--:|--:|--:|
	// | P5 | strategy | 2 | 1 | 1 | 0 |
	//
	// By column (results holding / results checking; for a campaign, checks):
	//
	// | property | client-wins | server-wins | manual |
	// |---|---|---|---|
	// | P5 strategy | 1/1 | 1 violated | – |
	//
	// Not shown to hold:
	//
	// - **P5** strategy violated in blog-buy-eggs × server-wins
	//
	// ## Failures
	//
	// ### 1. blog-buy-eggs × server-wins
	//
	// - **At:** step 4, line 23: `phone: pull todoitem (queryId all)`
	// - **Property:** P5
	// - **Expected:** `phone's e1 has text Buy organic eggs`
	// - **Got:** `text Buy eggs (6)`
	// - **Requests:**
	//   ```
	//   PATCH /tables/todoitem/e1 412
	//   GET /tables/todoitem 200
	//   ```
	// - **Replay:** `conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml`
	//
	// ## Skipped scenarios
	//
	// **needs the embedded server's crash fault** (1)
	//
	// - crash-mid-push × client-wins
}
