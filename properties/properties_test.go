package properties_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/drivers"
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

// TestCampaignStopsWhenItsContextEnds: an interrupted campaign ends at once, in the middle of
// an interleaving, and calls nothing it did not finish a failure.
func TestCampaignStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	out := properties.Campaign{Config: properties.Config{Faults: true, InMemory: true}, Duration: time.Minute, Seed: 9,
		Workers: 2}.Run(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the campaign took %s to stop", took)
	}
	if !out.Interrupted || out.Failed {
		t.Fatalf("interrupted %v, failed %v: %s", out.Interrupted, out.Failed, out.Message)
	}
	if out.Stats.Actions == 0 {
		t.Fatal("nothing ran before the interruption")
	}
}

// brokenStores is the Go client's driver with stores that cannot be opened.
type brokenStores struct{ drivers.Driver }

func (brokenStores) Open(context.Context, drivers.DeviceConfig) (drivers.Device, error) {
	return nil, errors.New("the store cannot be opened")
}

// TestFailedSetUpLeavesNothing: an interleaving whose clients cannot be set up fails, and
// leaves no directory for its SQLite stores behind (nor anything else the session opened).
func TestFailedSetUpLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	defer properties.SetRapidFlags(map[string]string{"rapid.checks": "3", "rapid.nofailfile": "true", "rapid.shrinktime": "1s"})()
	goDriver, err := drivers.Lookup("go")
	if err != nil {
		t.Fatal(err)
	}
	msg, failed := properties.Check(t.Name(), properties.Run(properties.Config{SQLite: true, InMemory: true,
		Drivers: func(string) (drivers.Factory, error) {
			return func(ctx context.Context) (drivers.Driver, error) {
				d, err := goDriver(ctx)
				return brokenStores{d}, err
			}, nil
		}}))
	if !failed || !strings.Contains(msg, "setting up: client c0: ") {
		t.Fatalf("failed %v: %s", failed, msg)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("left behind in the temporary directory: %v", left)
	}
}
