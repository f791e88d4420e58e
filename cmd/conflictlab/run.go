package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/targets"
)

type runOptions struct {
	client      string
	timeout     time.Duration
	keepHistory bool
	server      string
	target      string
	strategy    string
	labels      string
	out         string
	verbose     bool
	progress    string
}

// errFailed makes the exit status 1 after the summary has been printed.
var errFailed = errors.New("some scenarios failed")

func newRunCommand() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] PATH...",
		Short: "Play scenario files against the embedded fake server (or another server)",
		Long: `Play scenario files (docs/scenario-format.md) under every strategy they list, each against a fresh
embedded fake server, checking every expectation and the properties that apply (P1, P2, P4, P5,
P7, P10, P11). A PATH is a scenario file or a directory of them (*.yaml).

It prints one line per scenario and strategy, the details of each failure (the step, what was
expected, what happened, the requests around it, and the command that replays it), then a
summary line: N passed, N failed, N skipped. The exit status is 0 only when nothing failed.

With --server URL (or --target FILE, docs/targets.md), the scenarios run against your server.
A conflictlab server is reset with each run's settings and driven through its admin API. Any
other server gets a fault proxy in front of it, so that HTTP faults still play, and is emptied
by the target file's reset when it has one (else each run keeps to ids of its own). A run that
needs what the target cannot do (a fault on the server's own clock, hard delete, a page size
that caps $top, the other dialect) is skipped with the reason; a failure names the rule of the
protocol the server broke.

With --client, the devices are another sync client's, through its driver (docs/drivers.md):
"js" for the JavaScript SDK (drivers/js), or a driver's command line.`,
		Example: `  conflictlab run scenarios/catalog
  conflictlab run --strategy client-wins --labels 'conflict && !faults' scenarios/catalog
  conflictlab run --out reports/out scenarios/catalog       # results.json, report.md, report.html, junit.xml
  conflictlab run --server http://127.0.0.1:8080 scenarios/catalog/blog-buy-eggs.yaml
  conflictlab run --target my-backend.yaml --client js scenarios/catalog`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("name at least one scenario file or directory (e.g. scenarios/catalog)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			restore, err := enableMutant()
			if err != nil {
				return usageError{err}
			}
			defer restore()
			return runScenarios(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	addMutantFlag(f)
	f.StringVar(&o.server, "server", "", "play against the server at this URL instead of the embedded fake server")
	f.StringVar(&o.target, "target", "", "play against the server a target file describes (docs/targets.md): URL, dialect, tables, reset")
	f.StringVar(&o.client, "client", "go", "the client under test: go (conflictlab's own), js (the JavaScript SDK, drivers/js), or a driver's command line (docs/drivers.md)")
	f.DurationVar(&o.timeout, "driver-timeout", time.Minute, "how long a client's driver may take to answer one request")
	f.StringVar(&o.strategy, "strategy", "", "only this strategy: "+strings.Join(scenarios.Strategies, ", "))
	f.StringVar(&o.labels, "labels", "", "only scenarios whose labels match this filter (Ginkgo's syntax: 'conflict && !faults', 'a || b')")
	f.StringVar(&o.out, "out", "", "write results.json, report.md, report.html and junit.xml into this directory")
	f.BoolVar(&o.keepHistory, "keep-history", false, "keep the timeline of every run in the report, not only of those that failed")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "also list each result's property verdicts")
	f.StringVar(&o.progress, "progress", "auto", "progress bar: auto (on a terminal), always or never")
	return cmd
}

func runScenarios(ctx context.Context, o *runOptions, paths []string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.strategy != "" && !slices.Contains(scenarios.Strategies, o.strategy) {
		return usageError{fmt.Errorf("--strategy %q: want one of %s", o.strategy, strings.Join(scenarios.Strategies, ", "))}
	}
	factory, err := clientFactory(o.client, o.timeout)
	if err != nil {
		return usageError{err}
	}
	var filter types.LabelFilter
	if o.labels != "" {
		var err error
		if filter, err = types.ParseLabelFilter(o.labels); err != nil {
			return usageError{fmt.Errorf("--labels %q: %s", o.labels, plainText(err.Error()))}
		}
	}
	if o.progress != "auto" && o.progress != "always" && o.progress != "never" {
		return fmt.Errorf("--progress %q: want auto, always or never", o.progress)
	}
	all, err := scenarios.Load(paths...)
	if err != nil {
		return err
	}
	type job struct {
		sc       *scenarios.Scenario
		strategy string
		skip     string
	}
	var jobs []job
	for _, sc := range all {
		if filter != nil && !filter(sc.Labels) {
			continue
		}
		for _, s := range sc.Runs() {
			if o.strategy != "" && s != o.strategy && (s != "" || !usesStrategy(sc, o.strategy)) {
				continue
			}
			jobs = append(jobs, job{sc: sc, strategy: s})
		}
		if o.strategy != "" && len(sc.Strategies) > 0 && !slices.Contains(sc.Strategies, o.strategy) {
			jobs = append(jobs, job{sc: sc, strategy: o.strategy, skip: "the scenario does not run under " + o.strategy})
		}
	}
	if len(jobs) == 0 {
		return errors.New("no scenario matches: check the paths, --labels and --strategy")
	}
	target, err := resolveTarget(ctx, o.server, o.target)
	if err != nil {
		return err
	}
	run := &reports.Run{Server: "embedded", Started: time.Now(),
		Provenance: reports.NewProvenance(append([]string{"conflictlab"}, os.Args[1:]...), time.Now().UTC()),
		Limits:     &reports.Limits{PassingHistories: o.keepHistory}}
	if target != nil {
		run.Server = target.String()
		fmt.Fprintf(stderr, "target: %s, %s\n", target, target.Dialect)
	}
	var bar *progressbar.ProgressBar
	if o.progress == "always" || o.progress == "auto" && isTerminal(stderr) {
		bar = progressbar.NewOptions(len(jobs), progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
			progressbar.OptionSetDescription("scenarios"), progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
	}
	opts := scenarios.Options{Target: target, Client: o.client, KeepHistory: o.keepHistory,
		Drivers: func(name string) (drivers.Factory, error) {
			if name == o.client {
				return factory, nil
			}
			return clientFactory(name, o.timeout)
		}}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var res reports.Result
		if j.skip != "" {
			res = reports.Result{Scenario: j.sc.Name, File: j.sc.File, Description: j.sc.Description, Labels: j.sc.Labels,
				Strategy: j.strategy, Status: reports.Skipped, Reason: j.skip}
		} else {
			if bar != nil {
				bar.Describe(j.sc.Name)
			}
			res = scenarios.Run(ctx, j.sc, j.strategy, opts)
		}
		run.Results = append(run.Results, res)
		if res.Target != nil {
			run.Provenance.AddTarget(*res.Target)
		}
		if res.Client != nil {
			run.Provenance.AddClient(*res.Client)
		}
		seed := j.sc.Server.Seed
		if seed == 0 {
			seed = 1 // what a scenario without a seed runs with
		}
		run.Provenance.AddSeed(uint64(seed))
		if bar != nil {
			_ = bar.Clear()
		}
		printResult(stdout, res, o.verbose)
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	run.Duration = time.Since(run.Started)
	counts := run.Counts()
	if o.out != "" {
		if err := reports.WriteAll(o.out, run); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results: %s/results.json, report.md, report.html, junit.xml\n", strings.TrimRight(o.out, "/"))
	}
	fmt.Fprintf(stdout, "%s in %s\n", counts, run.Duration.Round(time.Millisecond))
	if counts.Failed > 0 {
		return errFailed
	}
	return nil
}

func printResult(w io.Writer, res reports.Result, verbose bool) {
	name := res.Scenario
	if res.Strategy != "" {
		name += " [" + res.Strategy + "]"
	}
	switch res.Status {
	case reports.Passed:
		fmt.Fprintf(w, "PASS  %-60s %s", name, res.Duration.Round(time.Microsecond*100))
		if n := len(res.SkippedSteps); n > 0 {
			fmt.Fprintf(w, "  (%d step(s) skipped: %s)", n, res.SkippedSteps[0].Reason)
		}
		fmt.Fprintln(w)
	case reports.Skipped:
		fmt.Fprintf(w, "SKIP  %-60s %s\n", name, res.Reason)
	default:
		fmt.Fprintf(w, "FAIL  %-60s %s\n", name, res.Duration.Round(time.Microsecond*100))
		if f := res.Failure; f != nil {
			where := "at the end"
			if f.Step > 0 {
				where = fmt.Sprintf("step %d (line %d)", f.Step, f.Line)
			}
			fmt.Fprintf(w, "      %s: %s\n", where, f.What)
			if f.Property != "" {
				fmt.Fprintf(w, "      property: %s\n", f.Property)
			}
			if f.Rule != "" {
				fmt.Fprintf(w, "      rule:     %s\n", f.Rule)
			}
			fmt.Fprintf(w, "      expected: %s\n", f.Expectation)
			fmt.Fprintf(w, "      got:      %s\n", f.Got)
			if len(f.Requests) > 0 {
				fmt.Fprintln(w, "      requests:")
				for _, r := range f.Requests {
					fmt.Fprintf(w, "        %s\n", r)
				}
			}
			if f.Replay != "" {
				fmt.Fprintf(w, "      replay:   %s\n", f.Replay)
			}
		}
	}
	if verbose {
		for _, p := range res.Properties {
			fmt.Fprintf(w, "      %s %-26s %-9s %d check(s) %s\n", p.ID, p.Name, p.Verdict, p.Checks, p.Detail)
		}
	}
}

// isTerminal reports whether w is a character device (a terminal), where a progress bar can
// redraw itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// usesStrategy reports whether a scenario that lists no strategies has a device that plays
// under the strategy (its own, or manual by default): --strategy keeps only those.
func usesStrategy(sc *scenarios.Scenario, strategy string) bool {
	for _, c := range sc.Clients {
		s := c.Strategy
		if s == "" {
			s = "manual"
		}
		if s == strategy {
			return true
		}
	}
	return false
}

// clientFactory finds the driver of a client as --client names it.
func clientFactory(name string, timeout time.Duration) (drivers.Factory, error) {
	if name == "go" || name == "js" || name == "" {
		f, err := drivers.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--client %s: %w", name, err)
		}
		return f, nil
	}
	args, err := drivers.SplitCommand(name)
	if err != nil {
		return nil, fmt.Errorf("--client %q: %w", name, err)
	}
	return drivers.CommandFactory(drivers.Command{Args: args, Timeout: timeout}), nil
}

// ansi matches the colour codes a message may carry (Ginkgo's label-filter errors do).
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// plainText strips colour codes: errors go to pipes and logs as plain text.
func plainText(s string) string { return ansi.ReplaceAllString(s, "") }

// resolveTarget is the server a run is pointed at: nil for the embedded one, else the target
// file's (its URL overridden by --server) or the URL's, completed by asking the server.
func resolveTarget(ctx context.Context, server, file string) (*targets.Target, error) {
	var t *targets.Target
	switch {
	case file != "":
		var err error
		if t, err = targets.LoadFile(file); err != nil {
			return nil, usageError{fmt.Errorf("--target: %w", err)}
		}
		if server != "" {
			t.URL = server
		}
	case server != "":
		t = &targets.Target{URL: server}
	default:
		return nil, nil
	}
	if err := targets.Probe(ctx, t); err != nil {
		return nil, usageError{fmt.Errorf("--server: %w", err)}
	}
	return t, nil
}
