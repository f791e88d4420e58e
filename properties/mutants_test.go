//go:build mutants

package properties_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// mutantCases are the deliberate bugs, each with the property that must catch it and the
// strategy it shows under.
var mutantCases = []struct {
	mutant   mutants.Mutant
	property string
	strategy string
	// concurrent: only a write racing a pull shows it, which a scenario cannot express, so
	// only the state machine (and its rapid fail file) replays it.
	concurrent bool
}{
	{mutants.SkipPushBeforePull, "P1", "client-wins", false},
	{mutants.PullOverwritesPending, "P1", "manual", true},
	{mutants.PurgeDespitePending, "P2", "manual", false},
	{mutants.CollapseUpdateDelete, "P3", "manual", false},
	{mutants.ClientWinsLosesVersion, "P5", "client-wins", false},
	{mutants.IgnoreIfMatch, "P7", "cancel", false},
	{mutants.ForgetUpdatedAt, "P7", "manual", false},
	{mutants.DeletedInQueries, "P7", "manual", false},
}

// maxChecks bounds how many interleavings a mutant may survive.
const maxChecks = 300

// TestMutantsAreCaught runs the state machine against each broken client or server and
// requires the property it breaks to fail within maxChecks interleavings; the shrunk
// counterexample must replay with the scenario runner (under the same mutant) to the same
// failure whenever the runner judges that property. `go test -v` prints the figures
// BENCHMARKS.md reports.
func TestMutantsAreCaught(t *testing.T) {
	restoreFlags := properties.SetRapidFlags(map[string]string{"rapid.checks": strconv.Itoa(maxChecks), "rapid.nofailfile": "true",
		"rapid.shrinktime": "2s"})
	defer restoreFlags()
	for _, c := range mutantCases {
		t.Run(string(c.mutant), func(t *testing.T) {
			out := t.TempDir()
			stats := &properties.Stats{}
			restore := mutants.Enable(c.mutant)
			msg, failed := properties.Check(t.Name(), properties.Run(properties.Config{Strategy: c.strategy, Clients: 2, SQLite: false,
				Faults: false, InMemory: true, Out: out, Name: "mutant", Stats: stats, Concurrent: c.concurrent}))
			restore()
			if !failed {
				t.Fatalf("%s survived %d interleavings (%d actions)", c.mutant, stats.Runs, stats.Actions)
			}
			if !strings.Contains(msg, c.property+" (") {
				t.Fatalf("%s was caught, but not by %s:\n%s", c.mutant, c.property, msg)
			}
			checks := properties.ChecksBeforeFailure(msg)
			sc, err := scenarios.LoadFile(filepath.Join(out, "mutant.yaml"))
			if err != nil {
				t.Fatalf("the counterexample does not load: %v", err)
			}
			t.Logf("%s: caught by %s after %d interleaving(s); shrunk counterexample: %d step(s)", c.mutant, c.property, checks+1, len(sc.Steps))

			if c.property == "P3" || c.concurrent {
				return // P3 is the state machine's own check (the runner has no queue model)
			}
			restore = mutants.Enable(c.mutant)
			res := scenarios.Run(context.Background(), sc, c.strategy, scenarios.Options{InMemory: true})
			restore()
			if res.Status != reports.Failed || res.Failure.Property != c.property {
				t.Fatalf("replaying the counterexample with the runner: %s, %+v", res.Status, res.Failure)
			}
			clean := scenarios.Run(context.Background(), sc, c.strategy, scenarios.Options{})
			if clean.Status == reports.Failed && clean.Failure.Property == c.property {
				t.Fatalf("the counterexample fails without the mutant too: %+v", clean.Failure)
			}
		})
	}
}
