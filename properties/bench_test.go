package properties_test

import (
	"context"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/properties"
)

// BenchmarkActions measures how many state-machine actions a second the harness plays, with
// every check on: through the in-memory transport and through loopback HTTP. Reported as
// actions/s; one b.N is one rapid.Check of -rapid.checks interleavings (about 30 actions each).
func BenchmarkActions(b *testing.B) {
	for _, c := range []struct {
		name     string
		inMemory bool
	}{{"in-memory", true}, {"loopback", false}} {
		b.Run(c.name, func(b *testing.B) {
			stats := &properties.Stats{}
			prop := properties.Run(properties.Config{Strategy: "client-wins", Clients: 3, Faults: true, InMemory: c.inMemory, Stats: stats})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rapid.Check(b, prop)
			}
			b.ReportMetric(float64(stats.Actions)/b.Elapsed().Seconds(), "actions/s")
			b.ReportMetric(float64(stats.Runs)/b.Elapsed().Seconds(), "interleavings/s")
		})
	}
}

// campaignRun is one campaign's work and what it cost.
type campaignRun struct {
	actions, interleavings int
	wall, cpu              time.Duration
}

func (r *campaignRun) add(o campaignRun) {
	r.actions += o.actions
	r.interleavings += o.interleavings
	r.wall += o.wall
	r.cpu += o.cpu
}

func (r campaignRun) rate() float64 { return float64(r.actions) / r.wall.Seconds() }

// campaign plays a campaign of n interleavings as conflictlab fuzz does (every strategy, two to
// four clients, faults, the first client on SQLite in its scratch directory, its GOGC), or
// with memory stores only, and measures its wall and CPU time.
func campaign(b *testing.B, cfg properties.Config, n, workers int, seed uint64) campaignRun {
	b.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(properties.CampaignGCPercent))
	cpu0, wall0 := processCPU(), time.Now()
	out := properties.Campaign{Config: cfg, Interleavings: n, Seed: seed, Workers: workers}.Run(context.Background())
	r := campaignRun{actions: out.Stats.Actions, interleavings: out.Explored, wall: time.Since(wall0), cpu: processCPU() - cpu0}
	if out.Failed {
		b.Fatalf("the campaign failed: %s", out.Message)
	}
	return r
}

// campaignConfigs are the campaign as conflictlab fuzz plays it (sqlite) and with memory
// stores only (memory).
var campaignConfigs = []struct {
	name string
	cfg  properties.Config
	n    int // interleavings per campaign: about a second's worth for one worker
}{
	{"sqlite", properties.Config{Faults: true, SQLite: true, InMemory: true, StoreDir: properties.ScratchDir()}, 60},
	{"memory", properties.Config{Faults: true, InMemory: true}, 200},
}

// BenchmarkCampaignWorkers plays the same campaign (the same seeds) with one worker and with
// two, side by side in every iteration, and reports two workers' speed over one's
// (workers-ratio), each one's actions/s, and how many CPUs the process kept busy during each
// (cpus-1w, cpus-2w: CPU time over wall time; on a machine other work shares, the ratio
// cannot pass cpus-2w/cpus-1w).
func BenchmarkCampaignWorkers(b *testing.B) {
	for _, c := range campaignConfigs {
		b.Run(c.name, func(b *testing.B) {
			var one, two campaignRun
			for i := 0; i < b.N; i++ {
				seed := uint64(1000 * (i + 1))
				if i%2 == 0 { // each goes first in turn: the load of the machine drifts
					one.add(campaign(b, c.cfg, c.n, 1, seed))
					two.add(campaign(b, c.cfg, c.n, 2, seed))
				} else {
					two.add(campaign(b, c.cfg, c.n, 2, seed))
					one.add(campaign(b, c.cfg, c.n, 1, seed))
				}
			}
			if one.actions != two.actions {
				b.Fatalf("one worker played %d actions, two %d: not the same interleavings", one.actions, two.actions)
			}
			b.ReportMetric(two.rate()/one.rate(), "workers-ratio")
			b.ReportMetric(one.rate(), "actions/s-1w")
			b.ReportMetric(two.rate(), "actions/s-2w")
			b.ReportMetric(one.cpu.Seconds()/one.wall.Seconds(), "cpus-1w")
			b.ReportMetric(two.cpu.Seconds()/two.wall.Seconds(), "cpus-2w")
		})
	}
}

// BenchmarkCampaignClients plays campaigns of two, three and four clients (as conflictlab
// fuzz has them otherwise), each with one worker and with two, side by side in every
// iteration, and reports each one's actions/s, and their speed over two clients' with one
// worker.
func BenchmarkCampaignClients(b *testing.B) {
	clients, workers := []int{2, 3, 4}, []int{1, 2}
	runs := make([][]campaignRun, len(clients))
	for k := range runs {
		runs[k] = make([]campaignRun, len(workers))
	}
	for i := 0; i < b.N; i++ {
		for k, n := range clients {
			cfg := campaignConfigs[0].cfg
			cfg.Clients = n
			for w := range workers {
				if i%2 == 1 {
					w = len(workers) - 1 - w // each goes first in turn
				}
				runs[k][w].add(campaign(b, cfg, 40, workers[w], uint64(1000*(i+1))))
			}
		}
	}
	base := runs[0][0].rate()
	for k, n := range clients {
		for w, nw := range workers {
			b.ReportMetric(runs[k][w].rate(), fmt.Sprintf("actions/s-%dc-%dw", n, nw))
			if k > 0 || w > 0 {
				b.ReportMetric(runs[k][w].rate()/base, fmt.Sprintf("ratio-%dc-%dw", n, nw))
			}
		}
	}
}

// BenchmarkWorlds plays the same campaign (the same seeds, properties.Defaults, one worker)
// in the machine's first, narrow world and in the wide one, side by side in every iteration,
// and reports each one's actions/s and the wide world's speed over the narrow one's: what
// drawing several tables, page sizes, client options, hard delete, v1 and store faults costs
// an action.
func BenchmarkWorlds(b *testing.B) {
	narrow, wide := properties.Defaults(), properties.Defaults()
	narrow.Narrow = true
	var n, w campaignRun
	for i := 0; i < b.N; i++ {
		seed := uint64(1000 * (i + 1))
		if i%2 == 0 { // each goes first in turn: the load of the machine drifts
			n.add(campaign(b, narrow, 60, 1, seed))
			w.add(campaign(b, wide, 60, 1, seed))
		} else {
			w.add(campaign(b, wide, 60, 1, seed))
			n.add(campaign(b, narrow, 60, 1, seed))
		}
	}
	b.ReportMetric(n.rate(), "actions/s-narrow")
	b.ReportMetric(w.rate(), "actions/s-wide")
	b.ReportMetric(w.rate()/n.rate(), "wide-ratio")
}
