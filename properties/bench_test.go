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
}{
	{"sqlite", properties.Config{Faults: true, SQLite: true, InMemory: true, StoreDir: properties.ScratchDir()}},
	{"memory", properties.Config{Faults: true, InMemory: true}},
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
				one.add(campaign(b, c.cfg, 40, 1, seed))
				two.add(campaign(b, c.cfg, 40, 2, seed))
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

// BenchmarkCampaignClients plays campaigns of two, three and four clients side by side in
// every iteration (one worker, memory stores and SQLite as conflictlab fuzz has them), and
// reports each one's actions/s and interleavings/s, and their speed over two clients'.
func BenchmarkCampaignClients(b *testing.B) {
	runs := make([]campaignRun, 3)
	for i := 0; i < b.N; i++ {
		for k, clients := range []int{2, 3, 4} {
			cfg := campaignConfigs[0].cfg
			cfg.Clients = clients
			runs[k].add(campaign(b, cfg, 30, 1, uint64(1000*(i+1))))
		}
	}
	for k, clients := range []int{2, 3, 4} {
		b.ReportMetric(runs[k].rate(), fmt.Sprintf("actions/s-%dc", clients))
		b.ReportMetric(float64(runs[k].interleavings)/runs[k].wall.Seconds(), fmt.Sprintf("interleavings/s-%dc", clients))
		if k > 0 {
			b.ReportMetric(runs[k].rate()/runs[0].rate(), fmt.Sprintf("ratio-%dc/2c", clients))
		}
	}
}
