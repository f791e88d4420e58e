package properties

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// scripted plays interleavings by a script instead of rapid: how long each takes and which
// fail, so the order the workers finish in is the test's to choose.
type scripted struct {
	mu      sync.Mutex
	started []int
	took    map[int]time.Duration
	fails   map[int]bool
}

func (s *scripted) play(ctx context.Context, k int, _ Config) result {
	s.mu.Lock()
	s.started = append(s.started, k)
	s.mu.Unlock()
	r := result{stats: Stats{Runs: 1, Actions: k + 1}, actions: k + 1}
	select {
	case <-time.After(s.took[k]):
		r.failed = s.fails[k]
	case <-ctx.Done():
		r.interrupted = true
	}
	return r
}

func runScripted(t *testing.T, c Campaign, s *scripted) ([]Interleaving, Outcome) {
	t.Helper()
	var seen []Interleaving
	c.Explored = func(i Interleaving) { seen = append(seen, i) }
	if c.Shard == (Shard{}) {
		c.Shard = Shard{Index: 1, Count: 1}
	}
	p := newPool(context.Background(), c)
	p.play = s.play
	return seen, p.run(Outcome{})
}

func numbers(seen []Interleaving) []int {
	var out []int
	for _, i := range seen {
		out = append(out, i.Number)
	}
	return out
}

// TestPoolReportsTheLowestFailure: interleaving 5 fails at once while 3, which started before
// it, fails later: the campaign reports 3, counts 0 to 3 and nothing after, and abandons 4.
func TestPoolReportsTheLowestFailure(t *testing.T) {
	s := &scripted{took: map[int]time.Duration{3: 300 * time.Millisecond, 4: time.Minute}, fails: map[int]bool{3: true, 5: true}}
	start := time.Now()
	seen, out := runScripted(t, Campaign{Interleavings: 50, Seed: 100, Workers: 3}, s)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the campaign waited %s for an interleaving above the failure", took)
	}
	if !out.Failed || out.Seed != 103 {
		t.Fatalf("failed %v at seed %d, want seed 103", out.Failed, out.Seed)
	}
	if got := numbers(seen); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("explored %v, want 0 to 3", got)
	}
	if out.Stats.Runs != 4 || out.Stats.Actions != 1+2+3+4 || out.Explored != 4 {
		t.Fatalf("counted %d runs, %d actions, %d explored; want those of 0 to 3", out.Stats.Runs, out.Stats.Actions, out.Explored)
	}
	if slices.Contains(s.started, 7) {
		t.Fatalf("started %v: nothing above the first failure seen (5) should start", s.started)
	}
}

// TestPoolFoldsInOrder: however the workers finish, the outcome counts interleavings 0 to n-1,
// in order, each once.
func TestPoolFoldsInOrder(t *testing.T) {
	s := &scripted{took: map[int]time.Duration{}}
	for k := range 40 {
		s.took[k] = time.Duration((k*7919)%13) * time.Millisecond
	}
	seen, out := runScripted(t, Campaign{Interleavings: 40, Seed: 1, Workers: 4}, s)
	want := make([]int, 40)
	for k := range want {
		want[k] = k
	}
	if got := numbers(seen); !slices.Equal(got, want) || out.Failed || out.Stats.Runs != 40 || out.Stats.Actions != 40*41/2 {
		t.Fatalf("explored %v (failed %v, %d runs, %d actions)", got, out.Failed, out.Stats.Runs, out.Stats.Actions)
	}
}

// TestPoolShardNumbers: shard 2/3 of 10 interleavings plays numbers 1, 4 and 7, with seeds
// Seed+number.
func TestPoolShardNumbers(t *testing.T) {
	seen, _ := runScripted(t, Campaign{Interleavings: 10, Seed: 50, Workers: 2, Shard: Shard{Index: 2, Count: 3}}, &scripted{})
	if got := numbers(seen); !slices.Equal(got, []int{1, 4, 7}) {
		t.Fatalf("explored %v, want 1, 4, 7", got)
	}
	for _, i := range seen {
		if i.Seed != 50+uint64(i.Number) {
			t.Fatalf("interleaving %d has seed %d", i.Number, i.Seed)
		}
	}
}
