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
	"slices"
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
}

func newFuzzCommand() *cobra.Command {
	o := &fuzzOptions{}
	cmd := &cobra.Command{
		Use:   "fuzz",
		Short: "Explore random interleavings of clients, another writer, faults and restarts, checking every property",
		Long: `Play random interleavings (rapid state machines) of two to four sync clients, another writer,
faults, SQLite restarts and converges against the embedded fake server, checking every property
of docs/properties.md after the actions it is about (P1–P9). A failure is shrunk to a short
interleaving and written as a scenario file; the command then exits 1 and names it:
conflictlab run replays it.

Progress (interleavings explored, actions played, actions per second) goes to stderr.`,
		Example: `  conflictlab fuzz --duration 2m
  conflictlab fuzz --strategy client-wins --clients 3 --seed 42 --out /tmp/found
  conflictlab fuzz --server http://127.0.0.1:8080 --duration 30s   # faults skipped`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFuzz(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "fuzz the server at this URL instead of the embedded one (behind a fault proxy unless it is a conflictlab server)")
	f.StringVar(&o.target, "target", "", "fuzz the server a target file describes (docs/targets.md)")
	f.StringVar(&o.client, "client", "go", "the client under test: go, js, or a driver's command line (docs/drivers.md)")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long to explore")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the first round (0: from the clock); the same seed explores the same interleavings")
	f.IntVar(&o.clients, "clients", 0, "how many clients, 2 to 4 (0: each interleaving draws it)")
	f.StringVar(&o.strategy, "strategy", "", "only this strategy: "+strings.Join(scenarios.Strategies, ", ")+" (default: each interleaving draws one)")
	f.StringVar(&o.out, "out", "fuzz-out", "where a counterexample is written")
	f.IntVar(&o.rounds, "round", 50, "interleavings per round (progress is reported after each)")
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
	if _, err := clientFactory(o.client, time.Minute); err != nil {
		return usageError{err}
	}
	target, err := resolveTarget(ctx, o.server, o.target)
	if err != nil {
		return err
	}
	if target != nil {
		fmt.Fprintf(stderr, "target: %s, %s\n", target, target.Dialect)
	}
	cfg := properties.Config{Clients: o.clients, Strategy: o.strategy, SQLite: true, Faults: true,
		InMemory: target == nil, Target: target, Out: o.out, Name: "counterexample", Client: o.client}
	terminal := isTerminal(stderr)
	last := time.Time{}
	c := properties.Campaign{Config: cfg, Duration: o.duration, Seed: o.seed, ChecksPerRound: o.rounds,
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
	fmt.Fprintf(stdout, "\nFAIL after %d interleavings (seed %d): counterexample %s\nreplay: conflictlab run %s\n",
		out.Stats.Runs, out.Seed, path, path)
	return errFailed
}

// writeCampaign writes the campaign's results.json (and report files) into --out: what it
// explored, each property's checks, and a counterexample with the timeline of its replay.
func writeCampaign(o *fuzzOptions, cfg properties.Config, out properties.Outcome, path string, started time.Time) error {
	camp := reports.Campaign{Name: "fuzz", Strategy: cfg.Strategy, Clients: cfg.Clients, Status: reports.Passed,
		Seed: out.FirstSeed, Interleavings: out.Stats.Runs, Actions: out.Stats.Actions, Duration: out.Elapsed,
		Target: &reports.Target{Kind: "embedded"}}
	if t := cfg.Target; t != nil {
		camp.Target = &reports.Target{Kind: t.Kind, URL: t.URL, Dialect: t.Dialect, Personality: t.Personality}
	}
	if info, err := properties.ClientInfo(context.Background(), cfg.Client); err == nil {
		camp.Client = &reports.Client{Driver: info.Driver, SDK: info.SDK, Version: info.Version}
	}
	for _, id := range slices.Sorted(maps.Keys(out.Stats.Properties)) {
		camp.Properties = append(camp.Properties, out.Stats.Properties[id])
	}
	if out.Failed {
		camp.Status = reports.Failed
		ce := reports.Counterexample{Path: path, Replay: "conflictlab run " + path, Seed: out.Seed, Message: out.Message}
		if m := regexp.MustCompile(`\b(P\d) \(`).FindStringSubmatch(out.Message); m != nil {
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
