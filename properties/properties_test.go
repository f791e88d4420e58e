package properties_test

import (
	"flag"
	"os"
	"testing"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/scenarios"
)

// TestMain bounds the campaign `make test` runs: 20 interleavings per strategy unless
// -rapid.checks (or RAPID_CHECKS) asks for more, as `make fuzz` does.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set && os.Getenv("RAPID_CHECKS") == "" {
		_ = flag.Set("rapid.checks", "20")
	}
	os.Exit(m.Run())
}

// TestProperties plays random interleavings of two to four clients, another writer, faults
// and restarts under each strategy, and checks every property after the actions it is about.
// A failure leaves its counterexample in testdata/counterexamples/ for conflictlab run.
func TestProperties(t *testing.T) {
	for _, s := range scenarios.Strategies {
		t.Run(s, func(t *testing.T) {
			rapid.Check(t, properties.Run(properties.Config{Strategy: s, SQLite: true, Faults: true, InMemory: true,
				Out: "testdata/counterexamples", Name: "counterexample-" + s}))
		})
		t.Run(s+"/concurrent", func(t *testing.T) {
			rapid.Check(t, properties.Run(properties.Config{Strategy: s, Faults: true, InMemory: true, Concurrent: true,
				Out: "testdata/counterexamples", Name: "counterexample-concurrent-" + s}))
		})
	}
}
