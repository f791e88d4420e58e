package properties_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/reports"
)

// explore runs a campaign and returns what it explored, in order.
func explore(t *testing.T, c properties.Campaign) ([]properties.Interleaving, properties.Outcome) {
	t.Helper()
	var seen []properties.Interleaving
	c.Explored = func(i properties.Interleaving) { seen = append(seen, i) }
	out := c.Run(context.Background())
	if out.Failed {
		t.Fatalf("the campaign failed: %s", out.Message)
	}
	if out.Explored != len(seen) {
		t.Fatalf("the outcome counts %d interleavings, Explored was told of %d", out.Explored, len(seen))
	}
	return seen, out
}

// sameStats compares the work of two campaigns: interleavings, actions, and every
// property's verdicts.
func sameStats(t *testing.T, what string, a, b properties.Stats) {
	t.Helper()
	if a.Runs != b.Runs || a.Actions != b.Actions {
		t.Errorf("%s: %d interleavings and %d actions, against %d and %d", what, a.Runs, a.Actions, b.Runs, b.Actions)
	}
	for id, p := range a.Properties {
		if b.Properties[id] != p {
			t.Errorf("%s: %s counted %+v, against %+v", what, id, p, b.Properties[id])
		}
	}
	if len(a.Properties) != len(b.Properties) {
		t.Errorf("%s: %d properties counted, against %d", what, len(a.Properties), len(b.Properties))
	}
}

// campaignConfig is the machine conflictlab fuzz plays: every strategy, two to four
// clients, faults, and the first client on SQLite.
var campaignConfig = properties.Config{Faults: true, SQLite: true, InMemory: true}

// TestWorkersExploreWhatOneWorkerExplores: the same seed and count explore the same
// interleavings (the same steps, with the same outcomes) and count the same work, whether one
// worker plays them or several at once; -race checks that the workers share nothing they
// should not (rapid's seed flag above all).
func TestWorkersExploreWhatOneWorkerExplores(t *testing.T) {
	c := properties.Campaign{Config: campaignConfig, Interleavings: 12, Seed: 7, Workers: 1}
	one, oneOut := explore(t, c)
	c.Workers = 3
	three, threeOut := explore(t, c)
	if len(one) != 12 {
		t.Fatalf("one worker explored %d interleavings, want 12", len(one))
	}
	for j, i := range one {
		if i.Number != j || i.Seed != 7+uint64(j) || i.Digest == "" {
			t.Fatalf("interleaving %d: %+v", j, i)
		}
	}
	if !slices.Equal(one, three) {
		t.Fatalf("one worker explored\n%v\nthree explored\n%v", one, three)
	}
	sameStats(t, "three workers", threeOut.Stats, oneOut.Stats)
	if threeOut.Workers != 3 {
		t.Errorf("the outcome says %d workers", threeOut.Workers)
	}
	distinct := map[string]bool{}
	for _, i := range one {
		distinct[i.Digest] = true
	}
	if len(distinct) < len(one)/2 {
		t.Errorf("only %d different interleavings among %d seeds", len(distinct), len(one))
	}
}

// TestShardsTogetherExploreWhatOneRunExplores: n shards of a campaign, each with its seed and
// count, explore between them exactly the interleavings the campaign explores in one run, each
// once, and count the same work.
func TestShardsTogetherExploreWhatOneRunExplores(t *testing.T) {
	c := properties.Campaign{Config: campaignConfig, Interleavings: 10, Seed: 40, Workers: 2}
	whole, wholeOut := explore(t, c)
	var together []properties.Interleaving
	var sum properties.Stats
	for i := 1; i <= 3; i++ {
		c.Shard = properties.Shard{Index: i, Count: 3}
		part, out := explore(t, c)
		for _, x := range part {
			if !c.Shard.Owns(x.Number) {
				t.Errorf("shard %s played interleaving %d", c.Shard, x.Number)
			}
		}
		if want := []int{4, 3, 3}[i-1]; len(part) != want {
			t.Errorf("shard %s explored %d interleavings, want %d", c.Shard, len(part), want)
		}
		if out.FirstSeed != 40 || out.Shard != c.Shard {
			t.Errorf("shard %s: first seed %d, shard %s", c.Shard, out.FirstSeed, out.Shard)
		}
		together = append(together, part...)
		sum.Runs += out.Stats.Runs
		sum.Actions += out.Stats.Actions
		for id, p := range out.Stats.Properties {
			q := sum.Properties[id]
			q.ID, q.Name = p.ID, p.Name
			q.Checks, q.Holds, q.Violated, q.Unknown = q.Checks+p.Checks, q.Holds+p.Holds, q.Violated+p.Violated, q.Unknown+p.Unknown
			if sum.Properties == nil {
				sum.Properties = map[string]reports.PropertyCount{}
			}
			sum.Properties[id] = q
		}
	}
	slices.SortFunc(together, func(a, b properties.Interleaving) int { return a.Number - b.Number })
	if !slices.Equal(together, whole) {
		t.Fatalf("one run explored\n%v\nthe shards together\n%v", whole, together)
	}
	sameStats(t, "the shards together", sum, wholeOut.Stats)
}

// TestCampaignForItsDuration: a campaign bounded by time plays interleavings 0, 1, 2, … with
// no gap, however many workers, and starts none after its duration.
func TestCampaignForItsDuration(t *testing.T) {
	start := time.Now()
	seen, out := explore(t, properties.Campaign{Config: campaignConfig, Duration: 500 * time.Millisecond, Seed: 3, Workers: 2})
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("a 500 ms campaign took %s", took)
	}
	if len(seen) == 0 || out.Stats.Actions == 0 {
		t.Fatal("nothing explored")
	}
	for j, i := range seen {
		if i.Number != j {
			t.Fatalf("interleaving %d of the outcome is number %d", j, i.Number)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want properties.Shard
		ok   bool
	}{
		{"1/1", properties.Shard{Index: 1, Count: 1}, true},
		{"3/8", properties.Shard{Index: 3, Count: 8}, true},
		{" 8/8 ", properties.Shard{Index: 8, Count: 8}, true},
		{"0/8", properties.Shard{}, false},
		{"9/8", properties.Shard{}, false},
		{"1/0", properties.Shard{}, false},
		{"-1/2", properties.Shard{}, false},
		{"1", properties.Shard{}, false},
		{"a/b", properties.Shard{}, false},
		{"", properties.Shard{}, false},
	} {
		got, err := properties.ParseShard(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, properties.ErrShard) {
			t.Errorf("ParseShard(%q) = %v, %v; want ErrShard", c.in, got, err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	if _, ok, err := properties.ShardFromEnv(env()); ok || err != nil {
		t.Errorf("no Job: ok %v, %v", ok, err)
	}
	if sh, ok, err := properties.ShardFromEnv(env("JOB_COMPLETION_INDEX", "0", "JOB_COMPLETIONS", "4")); !ok || err != nil || sh != (properties.Shard{Index: 1, Count: 4}) {
		t.Errorf("index 0 of 4: %v, %v, %v; want shard 1/4", sh, ok, err)
	}
	if sh, _, err := properties.ShardFromEnv(env("JOB_COMPLETION_INDEX", "3", "JOB_COMPLETIONS", "4")); err != nil || sh != (properties.Shard{Index: 4, Count: 4}) {
		t.Errorf("index 3 of 4: %v, %v; want shard 4/4", sh, err)
	}
	for _, bad := range [][]string{{"JOB_COMPLETION_INDEX", "1"}, {"JOB_COMPLETION_INDEX", "4", "JOB_COMPLETIONS", "4"},
		{"JOB_COMPLETION_INDEX", "x", "JOB_COMPLETIONS", "4"}, {"JOB_COMPLETION_INDEX", "-1", "JOB_COMPLETIONS", "4"}} {
		if _, ok, err := properties.ShardFromEnv(env(bad...)); !ok || !errors.Is(err, properties.ErrShard) {
			t.Errorf("%v: ok %v, %v; want ErrShard", bad, ok, err)
		}
	}
}
