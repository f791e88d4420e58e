package properties

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/drivers"
)

// Campaign runs the state machine for a while outside go test, round after round of rapid
// checks, each round from its own seed: what conflictlab fuzz does.
type Campaign struct {
	Config Config
	// Duration bounds the campaign (default 30 s); it ends early on the first failure.
	Duration time.Duration
	// Seed is the first round's seed (0: from the clock); round i uses Seed+i.
	Seed uint64
	// ChecksPerRound is how many interleavings one round tries (default 50).
	ChecksPerRound int
	// ShrinkTime bounds how long rapid shrinks a failure (0: rapid's default, 30 s).
	ShrinkTime time.Duration
	// Progress, when set, is called after every round with the totals so far.
	Progress func(Stats, time.Duration)
}

// Outcome is what a campaign found.
type Outcome struct {
	Stats   Stats
	Elapsed time.Duration
	Failed  bool
	// Interrupted: the context ended before the duration did; what ran until then passed.
	Interrupted bool
	Message     string // rapid's report of the shrunk failure
	Seed        uint64 // the seed of the failing round
	// FirstSeed is the first round's seed (the clock's, when Campaign.Seed was 0).
	FirstSeed uint64
}

var rapidFlags sync.Mutex

// Run plays rounds until the duration is up, the context ends, or a round fails.
func (c Campaign) Run(ctx context.Context) Outcome {
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.ChecksPerRound <= 0 {
		c.ChecksPerRound = 50
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	c.Config.Context = ctx
	if c.Config.Client != "" && c.Config.Client != "go" && c.Config.Drivers == nil {
		// One driver process for every interleaving: starting one per interleaving would
		// cost more than the interleaving itself.
		factory, err := drivers.Lookup(c.Config.Client)
		if err != nil {
			return Outcome{Failed: true, Message: err.Error()}
		}
		reused := drivers.Reuse(factory)
		defer reused.Close()
		c.Config.Drivers = func(string) (drivers.Factory, error) { return reused.Factory(), nil }
	}
	if c.Config.Capabilities == nil && c.Config.Client != "" && c.Config.Client != "go" {
		caps, err := ClientCapabilities(ctx, c.Config.Client)
		if err != nil {
			return Outcome{Failed: true, Message: err.Error()}
		}
		c.Config.Capabilities = &caps
	}
	stats := c.Config.Stats
	if stats == nil {
		stats = &Stats{}
		c.Config.Stats = stats
	}
	rapidFlags.Lock()
	defer rapidFlags.Unlock()
	if !flag.Parsed() {
		// rapid asks testing.Short, which needs the testing flags registered and parsed:
		// outside go test (conflictlab fuzz) nobody has done that.
		testing.Init()
		_ = flag.CommandLine.Parse(nil)
	}
	flags := map[string]string{"rapid.checks": strconv.Itoa(c.ChecksPerRound), "rapid.nofailfile": "true"}
	if c.ShrinkTime > 0 {
		flags["rapid.shrinktime"] = c.ShrinkTime.String()
	}
	restore := SetRapidFlags(flags)
	defer restore()
	start := time.Now()
	out := Outcome{FirstSeed: c.Seed}
	for round := uint64(0); time.Since(start) < c.Duration && ctx.Err() == nil; round++ {
		seed := c.Seed + round
		_ = flag.Set("rapid.seed", strconv.FormatUint(seed, 10))
		tb := &captureTB{name: "conflictlab-fuzz"}
		done := make(chan struct{})
		go func() {
			defer close(done)
			rapid.Check(tb, Run(c.Config))
		}()
		<-done
		if c.Progress != nil {
			c.Progress(*stats, time.Since(start))
		}
		if ctx.Err() != nil {
			out.Interrupted = true // a failure now could be the interruption's doing
			break
		}
		if tb.Failed() {
			out.Failed, out.Message, out.Seed = true, tb.String(), seed
			break
		}
	}
	out.Stats, out.Elapsed = *stats, time.Since(start)
	return out
}

// ChecksBeforeFailure reads from rapid's report how many interleavings passed before the
// failing one (-1 when the report does not say).
func ChecksBeforeFailure(message string) int {
	if m := regexp.MustCompile(`failed after (\d+) tests`).FindStringSubmatch(message); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1
}

// SetRapidFlags sets rapid's flags (rapid.checks, rapid.seed, rapid.nofailfile,
// rapid.shrinktime…) and returns how to put them back: for campaigns and tests that drive
// rapid from code.
func SetRapidFlags(values map[string]string) func() {
	old := map[string]string{}
	for k, v := range values {
		f := flag.Lookup(k)
		if f == nil {
			continue
		}
		old[k] = f.Value.String()
		_ = flag.Set(k, v)
	}
	return func() {
		for k, v := range old {
			_ = flag.Set(k, v)
		}
	}
}

// captureTB is a rapid.TB that records a failure instead of failing a test: a campaign
// expects to report failures, not to be one.
type captureTB struct {
	mu     sync.Mutex
	name   string
	log    strings.Builder
	failed bool
}

func (tb *captureTB) Helper()      {}
func (tb *captureTB) Name() string { return tb.name }
func (tb *captureTB) Logf(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	fmt.Fprintf(&tb.log, format+"\n", args...)
}
func (tb *captureTB) Log(args ...any)                   { tb.Logf("%s", fmt.Sprint(args...)) }
func (tb *captureTB) Skipf(format string, args ...any)  { tb.Logf(format, args...); runtime.Goexit() }
func (tb *captureTB) Skip(args ...any)                  { tb.Log(args...); runtime.Goexit() }
func (tb *captureTB) SkipNow()                          { runtime.Goexit() }
func (tb *captureTB) Errorf(format string, args ...any) { tb.Logf(format, args...); tb.Fail() }
func (tb *captureTB) Error(args ...any)                 { tb.Log(args...); tb.Fail() }
func (tb *captureTB) Fatalf(format string, args ...any) { tb.Errorf(format, args...); runtime.Goexit() }
func (tb *captureTB) Fatal(args ...any)                 { tb.Error(args...); runtime.Goexit() }
func (tb *captureTB) FailNow()                          { tb.Fail(); runtime.Goexit() }
func (tb *captureTB) Fail() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.failed = true
}
func (tb *captureTB) Failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failed
}
func (tb *captureTB) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.log.String()
}

// Check runs rapid.Check with a TB that records instead of failing, and reports what rapid
// said and whether the property failed: for tests that expect a failure (the mutants).
func Check(name string, prop func(*rapid.T)) (string, bool) {
	tb := &captureTB{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rapid.Check(tb, prop)
	}()
	<-done
	return tb.String(), tb.Failed()
}

// ClientCapabilities asks a client's driver what it can do, starting it once.
func ClientCapabilities(ctx context.Context, client string) (drivers.Capabilities, error) {
	info, err := ClientInfo(ctx, client)
	return info.Capabilities, err
}

// ClientInfo asks a client's driver what it is and can do, starting it once.
func ClientInfo(ctx context.Context, client string) (drivers.Info, error) {
	factory, err := drivers.Lookup(client)
	if err != nil {
		return drivers.Info{}, err
	}
	drv, err := factory(ctx)
	if err != nil {
		return drivers.Info{}, fmt.Errorf("client %s: %w", client, err)
	}
	defer drv.Close()
	return drv.Info(), nil
}
