package properties_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/properties"
)

// BenchmarkActions measures how many state-machine actions a second the harness plays, with
// every check on: through the in-memory transport and through loopback HTTP. Reported as
// actions/s; one b.N is one interleaving of about 30 actions.
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
