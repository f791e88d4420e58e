//go:build mutants

package properties_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/properties"
)

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
