package properties

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/scenarios"
)

// Campaign runs the state machine for a while outside go test: what conflictlab fuzz does.
//
// Its unit of work is one interleaving, and interleaving number j (0, 1, 2, …) is the one
// rapid draws from seed Seed+j. A campaign hands the numbers out in order to its workers, each
// of which plays its interleavings with its own server and clients; so the interleavings a
// campaign explores, and the first failure it reports (the lowest failing number), do not
// depend on how many workers played them or in which order they finished. A shard explores
// only the numbers it owns (see Shard), so the shards of a campaign together explore exactly
// what the campaign explores in one process.
type Campaign struct {
	Config Config
	// Duration bounds the campaign: no interleaving starts after it (those under way finish).
	// 0: 30 s, or no bound when Interleavings is set.
	Duration time.Duration
	// Interleavings, when > 0, is how many interleavings the whole campaign explores: numbers
	// 0 to Interleavings-1, of which a shard plays those it owns.
	Interleavings int
	// Seed is interleaving 0's seed (0: from the clock); interleaving j uses Seed+j.
	Seed uint64
	// ShrinkTime bounds how long rapid shrinks a failure (0: rapid's default, 30 s). A shrink
	// cut short may stop at another counterexample than one given all the time it needs.
	ShrinkTime time.Duration
	// Workers is how many interleavings are played at once (0: GOMAXPROCS, the CPUs this
	// process may use). Against a Config.Target the campaign plays one at a time: its
	// interleavings would share that server.
	Workers int
	// Shard, when set, is the part of the campaign this process plays; zero: all of it.
	Shard Shard
	// Progress, when set, is called with the totals so far as interleavings finish (at most
	// ten times a second, and once at the end).
	Progress func(Stats, time.Duration)
	// Explored, when set, is called for every interleaving the outcome counts, in the order
	// of their numbers: to see what a campaign explored (the shard tests compare these).
	Explored func(Interleaving)
}

// Interleaving is one interleaving a campaign explored.
type Interleaving struct {
	Number int    // j: the campaign's interleaving number
	Seed   uint64 // the seed rapid drew it from
	// Actions is how many actions it played, Failed whether a property failed.
	Actions int
	Failed  bool
	// Digest is a SHA-256 of the scenario it played (every step, with its outcome), before
	// any shrinking: two interleavings with one digest played the same steps.
	Digest string
}

// Outcome is what a campaign found.
type Outcome struct {
	// Stats count the work: every interleaving up to the first failing one, and the runs
	// rapid made to shrink that one.
	Stats   Stats
	Elapsed time.Duration
	Failed  bool
	// Interrupted: the context ended before the campaign did. The interleavings it cut
	// short are not counted (nor their failures: they could be the interruption's doing).
	Interrupted bool
	Message     string // rapid's report of the shrunk failure
	Seed        uint64 // the seed of the failing interleaving
	Number      int    // and its number
	// Found is how long after the campaign started that interleaving first failed, before
	// rapid shrank it: the time a campaign takes to find the bug.
	Found time.Duration
	// FirstSeed is interleaving 0's seed (the clock's, when Campaign.Seed was 0).
	FirstSeed uint64
	// Explored is how many interleavings (seeds) were explored; Workers how many played them
	// at once; Shard the part of the campaign this was.
	Explored int
	Workers  int
	Shard    Shard
}

// rapidFlags serialises campaigns: rapid reads its settings from package flags, which a
// campaign sets for as long as it runs.
var rapidFlags sync.Mutex

// Run plays interleavings until the budget (duration or count) is spent, the context ends,
// or one fails; on a failure it finishes the interleavings numbered below it (one of them may
// fail too, and the lowest is the one reported) and abandons those above it.
func (c Campaign) Run(ctx context.Context) Outcome {
	if c.Duration <= 0 && c.Interleavings <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Shard == (Shard{}) {
		c.Shard = Shard{Index: 1, Count: 1}
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Config.Target != nil {
		c.Workers = 1
	}
	out := Outcome{FirstSeed: c.Seed, Workers: c.Workers, Shard: c.Shard}
	if err := c.Shard.Validate(); err != nil {
		out.Failed, out.Message = true, err.Error()
		return out
	}
	if c.Config.Capabilities == nil && c.Config.Client != "" && c.Config.Client != "go" {
		caps, err := ClientCapabilities(ctx, c.Config.Client)
		if err != nil {
			out.Failed, out.Message = true, err.Error()
			return out
		}
		c.Config.Capabilities = &caps
	}
	if c.Config.Client != "" && c.Config.Client != "go" && c.Config.Drivers == nil {
		if _, err := drivers.Lookup(c.Config.Client); err != nil {
			out.Failed, out.Message = true, err.Error()
			return out
		}
	}

	rapidFlags.Lock()
	defer rapidFlags.Unlock()
	if !flag.Parsed() {
		// rapid asks testing.Short, which needs the testing flags registered and parsed:
		// outside go test (conflictlab fuzz) nobody has done that.
		testing.Init()
		_ = flag.CommandLine.Parse(nil)
	}
	// One check per rapid.Check: the interleaving of the seed it is given. rapid divides
	// its checks by 5 under -short.
	checks := "1"
	if testing.Short() {
		checks = "5"
	}
	flags := map[string]string{"rapid.checks": checks, "rapid.nofailfile": "true"}
	if c.ShrinkTime > 0 {
		flags["rapid.shrinktime"] = c.ShrinkTime.String()
	}
	restore := SetRapidFlags(flags)
	defer restore()

	p := newPool(ctx, c)
	p.seedFlag = flag.Lookup("rapid.seed").Value
	p.play = p.check
	return p.run(out)
}

func newPool(ctx context.Context, c Campaign) *pool {
	p := &pool{c: c, ctx: ctx, start: time.Now(), limit: math.MaxInt, stop: math.MaxInt, inflight: map[int]context.CancelFunc{}}
	if c.Duration > 0 {
		p.deadline = p.start.Add(c.Duration)
	}
	if c.Interleavings > 0 {
		p.limit = c.Shard.owned(c.Interleavings)
	}
	return p
}

// pool is a running campaign: workers claim interleavings in order, and the results are
// folded into the outcome in that order.
type pool struct {
	c   Campaign
	ctx context.Context
	// play plays interleaving k with cfg until it ends or ctx does (check; tests give their
	// own).
	play     func(ctx context.Context, k int, cfg Config) result
	seedFlag flag.Value
	start    time.Time
	deadline time.Time // zero: none
	limit    int       // how many of its interleavings this shard plays at most

	mu       sync.Mutex
	next     int // the next shard-local index to hand out
	stop     int // the lowest failing index seen: nothing above it is handed out
	inflight map[int]context.CancelFunc

	// seedMu hands rapid.seed over: it is held from setting the flag until the rapid.Check
	// given it has read it (it has when it first calls the property).
	seedMu sync.Mutex
}

// result is one interleaving's, by its shard-local index k.
type result struct {
	k           int
	seed        uint64
	stats       Stats
	failed      bool
	interrupted bool
	message     string
	example     []byte // the shrunk counterexample's scenario file
	digest      string
	actions     int           // of the interleaving itself, before shrinking
	found       time.Duration // since the campaign started, when it first failed
}

func (p *pool) number(k int) int { return k*p.c.Shard.Count + p.c.Shard.Index - 1 }

func (p *pool) seed(k int) uint64 {
	s := p.c.Seed + uint64(p.number(k))
	if s == 0 {
		s = 0x9e3779b97f4a7c15 // rapid takes 0 for "draw one at random"
	}
	return s
}

// claim hands out the next interleaving, with a context that ends when the campaign's does
// or when an interleaving numbered below it fails.
func (p *pool) claim() (int, context.Context, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.limit || p.next > p.stop || p.ctx.Err() != nil ||
		!p.deadline.IsZero() && !time.Now().Before(p.deadline) {
		return 0, nil, false
	}
	k := p.next
	p.next++
	ctx, cancel := context.WithCancel(p.ctx)
	p.inflight[k] = cancel
	return k, ctx, true
}

// failed notes that interleaving k failed: interleavings above it no longer matter.
func (p *pool) failed(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k >= p.stop {
		return
	}
	p.stop = k
	for i, cancel := range p.inflight {
		if i > k {
			cancel()
		}
	}
}

func (p *pool) done(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cancel, ok := p.inflight[k]; ok {
		cancel()
		delete(p.inflight, k)
	}
}

func (p *pool) run(out Outcome) Outcome {
	results := make(chan result)
	var wg sync.WaitGroup
	for range p.c.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, closeDriver := p.workerConfig()
			defer closeDriver()
			for {
				k, ctx, ok := p.claim()
				if !ok {
					return
				}
				r := p.play(ctx, k, cfg)
				r.k, r.seed = k, p.seed(k)
				p.done(k)
				if r.failed && !r.interrupted {
					p.failed(k)
				}
				results <- r
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	var (
		total, shown Stats // the outcome's (folded in order) and what progress shows
		held         = map[int]result{}
		folded       int // the next index to fold
		failure      *result
		lastShown    time.Time
	)
	fold := func(r result) {
		total.add(r.stats)
		out.Explored++
		if p.c.Explored != nil {
			p.c.Explored(Interleaving{Number: p.number(r.k), Seed: r.seed, Actions: r.actions, Failed: r.failed, Digest: r.digest})
		}
	}
	for r := range results {
		shown.add(r.stats)
		held[r.k] = r
		for failure == nil {
			h, ok := held[folded]
			if !ok {
				break
			}
			delete(held, folded)
			folded++
			if h.interrupted {
				continue // the campaign's context ended: it did not finish
			}
			fold(h)
			if h.failed {
				failure = &h
			}
		}
		if p.c.Progress != nil && time.Since(lastShown) >= 100*time.Millisecond {
			p.c.Progress(shown, time.Since(p.start))
			lastShown = time.Now()
		}
	}
	// What is left was played after a gap the campaign's end left (or after the failure).
	if failure == nil {
		for _, k := range slices.Sorted(maps.Keys(held)) {
			if h := held[k]; !h.interrupted {
				fold(h)
				if h.failed {
					failure = &h
					break
				}
			}
		}
	}
	out.Elapsed = time.Since(p.start)
	out.Interrupted = p.ctx.Err() != nil
	if failure != nil {
		out.Failed, out.Message, out.Seed, out.Number = true, failure.message, failure.seed, p.number(failure.k)
		out.Found = failure.found
		if failure.example != nil {
			total.Counterexample = p.writeCounterexample(failure.example, &out)
		}
	}
	out.Stats = total
	if s := p.c.Config.Stats; s != nil {
		*s = total
	}
	if p.c.Progress != nil {
		p.c.Progress(total, out.Elapsed)
	}
	return out
}

// workerConfig is the config a worker plays its interleavings with: for a client that is
// not conflictlab's own, with a driver process the worker keeps for all of them (starting
// one per interleaving would cost more than the interleaving; a driver serves the runs of
// one worker, one after another). The func ends that process.
func (p *pool) workerConfig() (Config, func()) {
	cfg := p.c.Config
	if cfg.Client == "" || cfg.Client == "go" || cfg.Drivers != nil {
		return cfg, func() {}
	}
	factory, err := drivers.Lookup(cfg.Client)
	if err != nil {
		return cfg, func() {} // Run has refused such a client already
	}
	reused := drivers.Reuse(factory)
	cfg.Drivers = func(string) (drivers.Factory, error) { return reused.Factory(), nil }
	return cfg, func() { _ = reused.Close() }
}

// check plays interleaving k: one rapid.Check from its seed, shrinking it if it fails.
func (p *pool) check(ctx context.Context, k int, cfg Config) result {
	r := result{k: k, seed: p.seed(k)}
	cfg.Context, cfg.Stats = ctx, &r.stats
	cfg.sink = func(data []byte) { r.example = data } // rapid runs the shrunk case last
	first := true
	cfg.played = func(sc *scenarios.Scenario, actions int) {
		if !first {
			return // a replay or a shrink of it
		}
		first = false
		r.actions = actions
		if p.c.Explored != nil {
			if data, err := scenarios.Marshal(sc); err == nil {
				sum := sha256.Sum256(data)
				r.digest = hex.EncodeToString(sum[:])
			}
		}
	}
	prop := Run(cfg)
	// rapid takes its seed from the rapid.seed flag, which it reads once, before it first
	// calls the property. So the flag is set under seedMu, and seedMu is let go when the
	// property is first called: each check reads its own seed, and the race detector sees the
	// hand-over (go test -race ./properties plays several workers).
	var started sync.Once
	read := make(chan struct{})
	tb := &captureTB{name: "conflictlab-fuzz"}
	done := make(chan struct{})
	p.seedMu.Lock()
	_ = p.seedFlag.Set(strconv.FormatUint(r.seed, 10))
	go func() {
		defer close(done)
		defer started.Do(func() { close(read) })
		rapid.Check(tb, func(t *rapid.T) {
			started.Do(func() { close(read) }) // rapid has read its seed by now
			if first {
				// A failure of the interleaving itself makes the check fail (shrunk, or
				// reported as flaky): the interleavings above it need not wait for the shrink.
				defer func() {
					if t.Failed() && ctx.Err() == nil {
						r.found = time.Since(p.start)
						p.failed(k)
					}
				}()
			}
			prop(t)
		})
	}()
	<-read
	p.seedMu.Unlock()
	<-done
	// Stopped by the campaign's end or by an earlier failure: whatever it said is no verdict.
	r.interrupted = ctx.Err() != nil
	r.failed = tb.Failed()
	r.message = tb.String()
	return r
}

// writeCounterexample writes the failing interleaving's scenario where the machine said it
// would be, and returns its path.
func (p *pool) writeCounterexample(data []byte, out *Outcome) string {
	cfg := p.c.Config
	if cfg.Out == "" {
		return ""
	}
	where := filepath.Join(cfg.Out, cfg.name()+".yaml")
	err := os.MkdirAll(cfg.Out, 0o755)
	if err == nil {
		err = os.WriteFile(where, data, 0o644)
	}
	if err != nil {
		out.Message += fmt.Sprintf("\n(could not write the counterexample: %v)", err)
		return ""
	}
	return where
}

// Defaults are the machine as conflictlab fuzz plays it when given no flag: the wide world,
// faults, the first client on SQLite in a RAM-backed scratch directory (restarts and crashes
// on it), local writes racing pulls, through the embedded server without sockets.
func Defaults() Config {
	return Config{SQLite: true, Faults: true, Concurrent: true, InMemory: true, StoreDir: ScratchDir()}
}

// CampaignGCPercent is the GOGC conflictlab fuzz runs campaigns with (unless GOGC is set):
// their live heap is small, and collecting a quarter as often as Go's default saves about a
// tenth of their CPU.
const CampaignGCPercent = 400

// ScratchDir is a RAM-backed directory this process may write, for a campaign's SQLite
// stores (Config.StoreDir): /dev/shm where there is one (Linux), else "" (the system's
// temporary directory). On a disk, the fsync of every commit made SQLite campaigns several
// times slower than memory-store ones.
func ScratchDir() string {
	const shm = "/dev/shm"
	dir, err := os.MkdirTemp(shm, "conflictlab-probe-")
	if err != nil {
		return ""
	}
	_ = os.Remove(dir)
	return shm
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
