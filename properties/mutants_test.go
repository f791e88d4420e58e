//go:build mutants

package properties_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
	// concurrent: only a write racing a pull shows it: the machine's write-during-pull, a
	// step with while in the counterexample.
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

			if c.property == "P3" {
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

// TestCampaignReportsTheFirstFailureWhateverTheWorkers: against a broken server, a campaign
// reports the lowest-numbered failing interleaving and the same shrunk counterexample with
// one worker as with several (which abandon the interleavings above it).
func TestCampaignReportsTheFirstFailureWhateverTheWorkers(t *testing.T) {
	defer mutants.Enable(mutants.PurgeDespitePending)()
	const seed = 1500 // its first failure is interleaving 7, with more in flight beside it
	type found struct {
		out      properties.Outcome
		explored []properties.Interleaving
		file     string
	}
	play := func(workers int) found {
		dir := t.TempDir()
		var f found
		f.out = properties.Campaign{Config: properties.Config{Strategy: "client-wins", Clients: 2, InMemory: true, Out: dir, Name: "found"},
			Interleavings: 200, Seed: seed, Workers: workers,
			Explored: func(i properties.Interleaving) { f.explored = append(f.explored, i) }}.Run(context.Background())
		if !f.out.Failed {
			t.Fatalf("%d worker(s): %s survived 200 interleavings", workers, mutants.PurgeDespitePending)
		}
		data, err := os.ReadFile(filepath.Join(dir, "found.yaml"))
		if err != nil || f.out.Stats.Counterexample != filepath.Join(dir, "found.yaml") {
			t.Fatalf("%d worker(s): the counterexample %q: %v", workers, f.out.Stats.Counterexample, err)
		}
		f.file = string(data)
		return f
	}
	one, three := play(1), play(3)
	last := len(one.explored) - 1
	for j, i := range one.explored {
		if i.Number != j || i.Failed != (j == last) {
			t.Fatalf("one worker's interleaving %d: %+v (the last, %d, should be the only failure)", j, i, last)
		}
	}
	if one.out.Seed != seed+uint64(last) || one.out.Number != last || !strings.Contains(one.out.Message, "P2 (") {
		t.Fatalf("one worker: seed %d, want %d; %s", one.out.Seed, seed+uint64(last), one.out.Message)
	}
	if three.out.Seed != one.out.Seed || !slices.Equal(three.explored, one.explored) {
		t.Fatalf("three workers found seed %d after %v; one worker seed %d after %v", three.out.Seed, three.explored, one.out.Seed, one.explored)
	}
	if three.file != one.file {
		t.Fatalf("the counterexamples differ:\n%s\n---\n%s", one.file, three.file)
	}
	t.Logf("interleaving %d (seed %d) is the first to fail; shrunk to %d lines", last, one.out.Seed, strings.Count(one.file, "\n"))
}
