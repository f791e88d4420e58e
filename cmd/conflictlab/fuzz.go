package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/properties"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

type fuzzOptions struct {
	client   string
	server   string
	target   string
	duration time.Duration
	seed     uint64
	clients  int
	strategy string
	out      string
	rounds   int
	// workers: 0 is GOMAXPROCS; interleavings: 0 is no count bound; durationSet: --duration
	// was given (with --interleavings alone, the count is the only bound).
	workers       int
	interleavings int
	shard         string
	storeDir      string
	shrinkTime    time.Duration
	durationSet   bool
	env           func(string) (string, bool)
}

func newFuzzCommand() *cobra.Command {
	o := &fuzzOptions{}
	cmd := &cobra.Command{
		Use:   "fuzz",
		Short: "Explore random interleavings of clients, another writer, faults and restarts, checking every property",
		Long: `Play random interleavings (rapid state machines) of two to four sync clients, another writer,
faults, SQLite restarts and converges against the embedded fake server, checking every property
of docs/properties.md after the actions it is about (P1–P11). A failure is shrunk to a short
interleaving and written as a scenario file; the command then exits 1 and names it:
conflictlab run replays it.

Interleaving number j is the one drawn from seed --seed+j, and --workers play them in
parallel (each with its own server and clients): the same seed and budget explore the same
interleavings, and report the same first failure, whatever the number of workers. --shard i/n
plays only the numbers j with j mod n = i-1, so n shards (on n machines, with the same --seed
and budget) explore exactly what one run explores; conflictlab report --in DIR... merges
their results. In a Kubernetes Indexed Job, JOB_COMPLETION_INDEX and JOB_COMPLETIONS give the
shard (index 0 is shard 1/n). See docs/campaigns.md.

Progress (interleavings explored, actions played, actions per second) goes to stderr.`,
		Example: `  conflictlab fuzz --duration 2m
  conflictlab fuzz --strategy client-wins --clients 3 --seed 42 --out /tmp/found
  conflictlab fuzz --seed 42 --interleavings 5000 --workers 8
  conflictlab fuzz --seed 42 --duration 10m --shard 3/8 --out shard-3   # one of 8 machines
  conflictlab fuzz --server http://127.0.0.1:8080 --duration 30s   # faults skipped`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.durationSet = cmd.Flags().Changed("duration")
			return runFuzz(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "fuzz the server at this URL instead of the embedded one (behind a fault proxy unless it is a conflictlab server)")
	f.StringVar(&o.target, "target", "", "fuzz the server a target file describes (docs/targets.md)")
	f.StringVar(&o.client, "client", "go", "the client under test: go, js, or a driver's command line (docs/drivers.md)")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long to explore (no interleaving starts after it; with --interleavings alone, no time bound)")
	f.DurationVar(&o.shrinkTime, "shrink-time", 30*time.Second, "how long to shrink a failure to a short counterexample")
	f.IntVar(&o.interleavings, "interleavings", 0, "explore this many interleavings, numbers 0 to N-1 over all shards (0: as many as --duration allows)")
	f.Uint64Var(&o.seed, "seed", 0, "seed of interleaving 0, interleaving j uses seed+j (0: from the clock); the same seed explores the same interleavings")
	f.IntVar(&o.workers, "workers", 0, "interleavings played at once (0: the number of CPUs; 1 against --server or --target)")
	f.StringVar(&o.shard, "shard", "", "play shard i of n (i/n, from 1): the interleavings j with j mod n = i-1 (default: JOB_COMPLETION_INDEX+1 of JOB_COMPLETIONS when set, else all)")
	f.IntVar(&o.clients, "clients", 0, "how many clients, 2 to 4 (0: each interleaving draws it)")
	f.StringVar(&o.strategy, "strategy", "", "only this strategy: "+strings.Join(scenarios.Strategies, ", ")+" (default: each interleaving draws one)")
	f.StringVar(&o.out, "out", "fuzz-out", "where a counterexample is written")
	f.StringVar(&o.storeDir, "store-dir", "", "where each interleaving's SQLite stores go, removed after it (default: /dev/shm when writable, else the temporary directory)")
	addMutantFlag(f)
	f.IntVar(&o.rounds, "round", 0, "no longer used")
	_ = f.MarkDeprecated("round", "each interleaving is now its own unit of work (seed --seed+j); progress is reported as they finish")
	return cmd
}

func runFuzz(ctx context.Context, o *fuzzOptions, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.clients != 0 && (o.clients < 2 || o.clients > 4) {
		return usageError{fmt.Errorf("--clients %d: want 2, 3 or 4", o.clients)}
	}
	if o.strategy != "" && !slices.Contains(scenarios.Strategies, o.strategy) {
		return usageError{fmt.Errorf("--strategy %q: want one of %s", o.strategy, strings.Join(scenarios.Strategies, ", "))}
	}
	if o.duration <= 0 {
		return usageError{errors.New("--duration must be positive")}
	}
	if o.shrinkTime <= 0 {
		return usageError{errors.New("--shrink-time must be positive")}
	}
	if o.interleavings < 0 {
		return usageError{fmt.Errorf("--interleavings %d: want a count, or 0 for no count bound", o.interleavings)}
	}
	if o.workers < 0 {
		return usageError{fmt.Errorf("--workers %d: want a count, or 0 for the number of CPUs", o.workers)}
	}
	shard, err := fuzzShard(o)
	if err != nil {
		return usageError{err}
	}
	if shard.Sharded() && o.seed == 0 {
		return usageError{fmt.Errorf("--shard %s needs --seed: every shard of a campaign starts from the same seed", shard)}
	}
	if _, err := clientFactory(o.client, time.Minute); err != nil {
		return usageError{err}
	}
	target, err := resolveTarget(ctx, o.server, o.target)
	if err != nil {
		return err
	}
	if target != nil {
		fmt.Fprintf(stderr, "target: %s, %s\n", target, target.Dialect)
		if o.workers > 1 {
			return usageError{fmt.Errorf("--workers %d: against --server or --target a campaign plays one interleaving at a time (they would share the server)", o.workers)}
		}
	}
	storeDir := o.storeDir
	if storeDir == "" {
		storeDir = properties.ScratchDir()
	}
	cfg := properties.Defaults()
	cfg.Clients, cfg.Strategy, cfg.InMemory, cfg.Target = o.clients, o.strategy, target == nil, target
	cfg.Out, cfg.Name, cfg.Client, cfg.StoreDir = o.out, "counterexample", o.client, storeDir
	terminal := isTerminal(stderr)
	last := time.Time{}
	duration := o.duration
	if o.interleavings > 0 && !o.durationSet {
		duration = 0
	}
	c := properties.Campaign{Config: cfg, Duration: duration, Interleavings: o.interleavings, Seed: o.seed,
		Workers: o.workers, Shard: shard, ShrinkTime: o.shrinkTime,
		Progress: func(s properties.Stats, elapsed time.Duration) {
			line := fmt.Sprintf("fuzz: %s  %d interleavings  %d actions  %.0f actions/s",
				elapsed.Round(time.Second), s.Runs, s.Actions, float64(s.Actions)/elapsed.Seconds())
			switch {
			case terminal:
				fmt.Fprintf(stderr, "\r%-79s", line)
			case time.Since(last) >= 5*time.Second:
				fmt.Fprintln(stderr, line)
				last = time.Now()
			}
		}}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if os.Getenv("GOGC") == "" {
		// A campaign's live heap is small and its garbage plentiful: collecting a quarter as
		// often saves about a tenth of its CPU (BENCHMARKS.md).
		defer debug.SetGCPercent(debug.SetGCPercent(properties.CampaignGCPercent))
	}
	workers := o.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if target != nil {
		workers = 1
	}
	fmt.Fprintf(stderr, "fuzz: seed %d, %d worker(s)", c.Seed, workers)
	if shard.Sharded() {
		fmt.Fprintf(stderr, ", shard %s", shard)
	}
	fmt.Fprintln(stderr)
	restoreMutant, err := enableMutant()
	if err != nil {
		return usageError{err}
	}
	defer restoreMutant()
	started := time.Now()
	out := c.Run(ctx)
	if terminal {
		fmt.Fprintln(stderr)
	}
	rate := float64(out.Stats.Actions) / out.Elapsed.Seconds()
	path := out.Stats.Counterexample
	if out.Failed && path == "" {
		path = filepath.Join(o.out, "counterexample.yaml")
	}
	if err := writeCampaign(o, cfg, out, path, started); err != nil {
		return err
	}
	if !out.Failed {
		fmt.Fprintf(stdout, "no property violated: %d interleavings, %d actions in %s (%.0f actions/s)\n",
			out.Stats.Runs, out.Stats.Actions, out.Elapsed.Round(time.Millisecond), rate)
		fmt.Fprintf(stdout, "results: %s\n", filepath.Join(o.out, "results.json"))
		return ctx.Err()
	}
	fmt.Fprintln(stdout, strings.TrimSpace(out.Message))
	fmt.Fprintf(stdout, "\nFAIL at interleaving %d (seed %d), after %d interleavings with the shrink's: counterexample %s\nreplay: conflictlab run %s\n",
		out.Number, out.Seed, out.Stats.Runs, path, path)
	fmt.Fprintf(stdout, "found after %s (%d interleavings explored), then shrunk\n", out.Found.Round(time.Millisecond), out.Explored)
	fmt.Fprintf(stdout, "that interleaving alone: %s\n", strings.Join(again(o, out.Seed), " "))
	return errFailed
}

// again is the command that plays the interleaving of seed alone (and shrinks it again): the
// campaign's flags that shape the machine, with that seed and a count of one.
func again(o *fuzzOptions, seed uint64) []string {
	cmd := []string{"conflictlab", "fuzz", "--seed", strconv.FormatUint(seed, 10), "--interleavings", "1"}
	if o.strategy != "" {
		cmd = append(cmd, "--strategy", o.strategy)
	}
	if o.clients != 0 {
		cmd = append(cmd, "--clients", strconv.Itoa(o.clients))
	}
	if o.client != "go" {
		cmd = append(cmd, "--client", shellQuote(o.client))
	}
	if o.server != "" {
		cmd = append(cmd, "--server", shellQuote(o.server))
	}
	if o.target != "" {
		cmd = append(cmd, "--target", shellQuote(o.target))
	}
	return append(cmd, "--out", shellQuote(o.out))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fuzzShard is the shard --shard names, else the one a Kubernetes Indexed Job's environment
// gives, else the whole campaign (1/1).
func fuzzShard(o *fuzzOptions) (properties.Shard, error) {
	if o.shard != "" {
		sh, err := properties.ParseShard(o.shard)
		if err != nil {
			return sh, fmt.Errorf("--shard: %w", err)
		}
		return sh, nil
	}
	env := o.env
	if env == nil {
		env = os.LookupEnv
	}
	if sh, ok, err := properties.ShardFromEnv(env); ok {
		return sh, err
	}
	return properties.Shard{Index: 1, Count: 1}, nil
}

// writeCampaign writes the campaign's results.json (and report files) into --out: what it
// explored, each property's checks, and a counterexample with the timeline of its replay.
func writeCampaign(o *fuzzOptions, cfg properties.Config, out properties.Outcome, path string, started time.Time) error {
	camp := reports.Campaign{Name: "fuzz", Strategy: cfg.Strategy, Clients: cfg.Clients, Status: reports.Passed,
		Seed: out.FirstSeed, Interleavings: out.Stats.Runs, Actions: out.Stats.Actions, Duration: out.Elapsed,
		Target: &reports.Target{Kind: "embedded"}}
	if out.Shard.Sharded() {
		// From 1, as --shard counts (a Job's index 0 was made shard 1): the report counts so.
		camp.Shard = &reports.Shard{Index: out.Shard.Index, Count: out.Shard.Count}
	}
	if t := cfg.Target; t != nil {
		camp.Target = &reports.Target{Kind: t.Kind, URL: t.URL, Dialect: t.Dialect, Personality: t.Personality}
	}
	if info, err := properties.ClientInfo(context.Background(), cfg.Client); err == nil {
		camp.Client = &reports.Client{Driver: info.Driver, SDK: info.SDK, Version: info.Version}
	}
	for _, id := range slices.SortedFunc(maps.Keys(out.Stats.Properties), reports.CompareIDs) {
		camp.Properties = append(camp.Properties, out.Stats.Properties[id])
	}
	if out.Failed {
		camp.Status = reports.Failed
		ce := reports.Counterexample{Path: path, Replay: "conflictlab run " + path, Seed: out.Seed, Message: out.Message}
		if m := regexp.MustCompile(`\b(P\d+) \(`).FindStringSubmatch(out.Message); m != nil {
			ce.Property = m[1]
		}
		if sc, err := scenarios.LoadFile(path); err == nil {
			ce.Steps = len(sc.Steps)
			for _, strategy := range sc.Runs() {
				res := scenarios.Run(context.Background(), sc, strategy, scenarios.Options{Target: cfg.Target, Client: cfg.Client, KeepHistory: true})
				ce.History = res.History
				break
			}
		}
		camp.Counterexamples = append(camp.Counterexamples, ce)
	}
	prov := reports.NewProvenance(append([]string{"conflictlab"}, os.Args[1:]...), started.UTC())
	if camp.Target != nil {
		prov.AddTarget(*camp.Target)
	}
	if camp.Client != nil {
		prov.AddClient(*camp.Client)
	}
	prov.AddSeed(out.FirstSeed)
	run := &reports.Run{Provenance: prov, Server: camp.Target.Kind, Started: started, Duration: out.Elapsed,
		Campaigns: []reports.Campaign{camp}}
	if err := reports.WriteAll(o.out, run); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
