package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/fakeserver"
)

type proxyOptions struct {
	upstream, addr, adminAddr string
	dialect                   string
	seed                      int64
	authToken, appKey         string
	faultsFile, historyFile   string
	verbose                   bool
	keep                      keeping
}

func newProxyCommand() *cobra.Command {
	o := &proxyOptions{}
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL",
		Short: "Put the fault engine and the request history in front of any table server",
		Long: `Run a reverse proxy in front of another server that speaks the table protocol (your backend,
the Azure Mobile Apps Node or .NET server): clients talk to the proxy, the proxy forwards to
the upstream, and on the way it applies fault rules and records every request, exactly as
conflictlab serve does. The admin API is the same: faults and history under /_conflictlab/
(GET /info says it is a proxy). A proxy keeps no tables and has no clock: clock-skew,
clock-freeze and page-shift are refused; concurrent-write writes through the upstream's table
API as another client. conflictlab run --server and fuzz --server start one by themselves.`,
		Example: `  conflictlab proxy --upstream http://127.0.0.1:3000 --addr 127.0.0.1:8081
  conflictlab proxy --upstream http://127.0.0.1:3000 --faults lossy.yaml --history wire.jsonl
  conflictlab faults add --server http://127.0.0.1:8081 --action drop-response --op insert --times 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProxy(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.upstream, "upstream", "", "the server to forward to (required), e.g. http://127.0.0.1:3000")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8081", "address to listen on (port 0 picks a free one)")
	f.StringVar(&o.adminAddr, "admin-addr", "", "serve the admin API on this address instead of under /_conflictlab/")
	f.StringVar(&o.dialect, "dialect", "v2", "the upstream's dialect, for the proxy's own requests (concurrent-write)")
	f.Int64Var(&o.seed, "seed", 0, "seed of probabilistic faults (0: pick one)")
	f.StringVar(&o.authToken, "auth-token", "", "X-ZUMO-AUTH to send with the proxy's own requests")
	f.StringVar(&o.appKey, "app-key", "", "X-ZUMO-APPLICATION to send with the proxy's own requests")
	f.StringVar(&o.faultsFile, "faults", "", "put the fault rules of this YAML file in force at start")
	f.StringVar(&o.historyFile, "history", "", "stream every event to this file as JSON Lines while proxying")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log one line per request to stderr")
	o.keep.flags(f)
	return cmd
}

func runProxy(ctx context.Context, o *proxyOptions, stdout, stderr io.Writer) error {
	if o.upstream == "" {
		return usageError{errors.New("--upstream is required: the URL of the server to put the proxy in front of")}
	}
	d, err := fakeserver.ParseDialect(o.dialect)
	if err != nil {
		return usageError{fmt.Errorf("--dialect: %w", err)}
	}
	cfg := fakeserver.Config{Upstream: o.upstream, Dialect: d, Seed: o.seed, AuthToken: o.authToken, AppKey: o.appKey}
	if o.verbose {
		cfg.Logger = log.New(stderr, "", log.Ltime|log.Lmicroseconds)
	}
	if err := o.keep.apply(&cfg, o.adminAddr); err != nil {
		return usageError{err}
	}
	h := hosting{addr: o.addr, adminAddr: o.adminAddr, adminOpen: o.keep.adminOpen, historyFile: o.historyFile}
	if err := h.check(); err != nil {
		return err
	}
	if cfg.HistoryWriter, err = h.openHistory(); err != nil {
		return err
	}
	defer h.closeHistory()
	srv, err := fakeserver.NewServer(cfg)
	if err != nil {
		return usageError{err}
	}
	if o.faultsFile != "" {
		rules, err := loadFaults(srv, o.faultsFile)
		if err != nil {
			return usageError{err}
		}
		fmt.Fprintf(stdout, "conflictlab: %d fault rule(s) in force from %s\n", len(rules), o.faultsFile)
		for _, r := range rules {
			fmt.Fprintf(stdout, "  %s: %s\n", r.ID, describeRule(r))
		}
	}
	return host(ctx, srv, &h, stdout,
		func(addr string) string {
			return fmt.Sprintf("proxying http://%s to %s (seed %d)", addr, srv.Upstream(), srv.Seed())
		})
}
