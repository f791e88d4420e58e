package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/conflictlab/conflictlab/fakeserver"
)

type serveOptions struct {
	addr, adminAddr  string
	dialect          string
	personality      string
	pageSize, maxTop int
	maxBody          int64
	seed             int64
	simClock         bool
	clockStart       string
	clockStep        time.Duration
	tables           []string
	hardDelete       bool
	hardDeleteTables []string
	deleteNoContent  bool
	authToken        string
	appKey           string
	historyFile      string
	queryWork        int64
	queryTimeout     time.Duration
	queryString      int
	keep             keeping
	faultsFile       string
	verbose          bool
}

func newServeCommand() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fake versioned table server",
		Long: `Run the fake versioned table server on a local address until SIGINT or SIGTERM.

It speaks the Azure Mobile Apps table protocol (v2, the default: send ZUMO-API-VERSION: 2.0.0)
or the Azure Mobile Services one (v1), keeps every row versioned, soft-deletes, pages, filters,
and records every request in a history: the newest --history-limit events in memory, and with
--history FILE every event, streamed to FILE as JSON Lines while the server runs.

The admin API lives under /_conflictlab/ (loopback clients only) unless --admin-addr gives
it an address of its own, which must be a loopback address unless --admin-open (which needs
--admin-token) opens it to other machines. It takes JSON (send Content-Type:
application/json), and refuses requests from web pages (other origins) and Host names that
are not loopback names or addresses (see --admin-host). docs/server.md has the details.

  GET  /_conflictlab/history[?since=N]     the history, as JSON Lines (X-Conflictlab-History-Dropped
                                           says how many events the cap dropped)
  GET  /_conflictlab/info                  dialect, limits, seed, history counts
  POST /_conflictlab/reset                 empty every table and the history
  GET  /_conflictlab/tables/{t}            raw rows, tombstones included
  POST /_conflictlab/tables/{t}/{id}?op=   a direct write: write (upsert), insert, update,
                                           delete or undelete, body the patch
  GET|POST /_conflictlab/clock             read the clock; {"advanceMs":N}, {"stepMs":N}
  GET  /_conflictlab/faults                the fault rules in force, with match/fire counts
  POST /_conflictlab/faults                add a rule or a list of rules (JSON or YAML)
  DELETE /_conflictlab/faults              heal every fault
  DELETE /_conflictlab/faults/{id}         heal one

--faults loads rules at start from a YAML (or JSON) file: a list of rules, each
  {id, match: {method, op, table, id, client, after, times, probability}, action, params}.
Actions:
` + actionHelp(),
		Example: `  conflictlab serve -v
  conflictlab serve --dialect v1 --app-key secret --addr 127.0.0.1:9000
  conflictlab serve --sim-clock --clock-step 0 --seed 42 --history history.jsonl
  conflictlab serve --faults faults.yaml --seed 7

  curl -H 'ZUMO-API-VERSION: 2.0.0' -d '{"id":"e1","text":"Buy eggs"}' \
       -H 'Content-Type: application/json' http://127.0.0.1:8080/tables/todoitem
  curl -H 'Content-Type: application/json' -d '{"advanceMs":60000}' http://127.0.0.1:8080/_conflictlab/clock
  conflictlab faults add --action status --param code=503 --op insert --times 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	f.StringVar(&o.adminAddr, "admin-addr", "", "serve the admin API on this address instead of under /_conflictlab/")
	f.StringVar(&o.dialect, "dialect", "v2", "wire dialect: v2 (Azure Mobile Apps) or v1 (Azure Mobile Services)")
	f.StringVar(&o.personality, "personality", "default", "whose behaviour to reproduce: default (docs/protocol.md) or node (azure-mobile-apps 4.0.2 on sqlite, quirks included; docs/personalities.md)")
	f.IntVar(&o.pageSize, "page-size", 50, "most rows in one response")
	f.IntVar(&o.maxTop, "max-top", 1000, "largest $top accepted")
	f.Int64Var(&o.maxBody, "max-body", 1<<20, "largest request body in bytes")
	f.Int64Var(&o.seed, "seed", 0, "seed for generated ids and random faults (0: pick one and print it)")
	f.BoolVar(&o.simClock, "sim-clock", false, "use a simulated clock that moves only when rows are written")
	f.StringVar(&o.clockStart, "clock-start", fakeserver.DefaultSimStart.Format(time.RFC3339), "start time of the simulated clock")
	f.DurationVar(&o.clockStep, "clock-step", time.Millisecond, "how far each write moves the simulated clock (0: every write shares one updatedAt)")
	f.StringSliceVar(&o.tables, "tables", nil, "fixed list of tables; any other table is a 404 (default: tables appear on first write)")
	f.BoolVar(&o.hardDelete, "hard-delete", false, "delete rows for real in every table (no tombstones)")
	f.StringSliceVar(&o.hardDeleteTables, "hard-delete-tables", nil, "delete rows for real in these tables only")
	f.BoolVar(&o.deleteNoContent, "delete-204", false, "answer every DELETE with 204 No Content, as the .NET servers do")
	f.StringVar(&o.authToken, "auth-token", "", "require this X-ZUMO-AUTH token on table requests")
	f.StringVar(&o.appKey, "app-key", "", "require this X-ZUMO-APPLICATION key on table requests")
	f.StringVar(&o.historyFile, "history", "", "stream every event to this file as JSON Lines while serving (the in-memory history stays capped)")
	f.Int64Var(&o.queryWork, "query-work", 20_000_000, "units of work one query's $filter and $orderby may take over the rows (-1: no limit)")
	f.DurationVar(&o.queryTimeout, "query-timeout", 2*time.Second, "time one query's $filter and $orderby may take over the rows")
	f.IntVar(&o.queryString, "query-string-bytes", 1<<20, "longest string a $filter may build, in bytes (-1: no limit)")
	o.keep.flags(f)
	f.StringVar(&o.faultsFile, "faults", "", "put the fault rules of this YAML file in force at start")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log one line per request to stderr")
	return cmd
}

func (o *serveOptions) config(stderr io.Writer) (fakeserver.Config, error) {
	d, err := fakeserver.ParseDialect(o.dialect)
	if err != nil {
		return fakeserver.Config{}, err
	}
	pers, err := fakeserver.ParsePersonality(o.personality)
	if err != nil {
		return fakeserver.Config{}, fmt.Errorf("--personality: %w", err)
	}
	cfg := fakeserver.Config{
		Dialect: d, PageSize: o.pageSize, MaxTop: o.maxTop, MaxBodyBytes: o.maxBody, Seed: o.seed,
		Tables: o.tables, HardDelete: o.hardDelete, HardDeleteTables: o.hardDeleteTables,
		DeleteNoContent: o.deleteNoContent, AuthToken: o.authToken, AppKey: o.appKey,
		Personality: pers,
		QueryWork:   o.queryWork, QueryTimeout: o.queryTimeout, QueryStringBytes: o.queryString,
	}
	if err := o.keep.apply(&cfg, o.adminAddr); err != nil {
		return cfg, err
	}
	for name, v := range map[string]int64{"--query-work": o.queryWork, "--query-string-bytes": int64(o.queryString)} {
		if v == 0 || v < -1 {
			return cfg, fmt.Errorf("%s must be positive, or -1 for no limit", name)
		}
	}
	if o.queryTimeout <= 0 {
		return cfg, errors.New("--query-timeout must be positive")
	}
	if o.pageSize <= 0 || o.maxTop <= 0 || o.maxBody <= 0 {
		return cfg, errors.New("--page-size, --max-top and --max-body must be positive")
	}
	if o.simClock {
		start, err := time.Parse(time.RFC3339Nano, o.clockStart)
		if err != nil {
			return cfg, fmt.Errorf("--clock-start: %w", err)
		}
		if o.clockStep < 0 {
			return cfg, errors.New("--clock-step must not be negative")
		}
		cfg.Clock = fakeserver.SimClock(start).WithStep(o.clockStep)
	}
	if o.verbose {
		cfg.Logger = log.New(stderr, "", log.Ltime|log.Lmicroseconds)
	}
	return cfg, nil
}

func runServe(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	cfg, err := o.config(stderr)
	if err != nil {
		return err
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
		return err
	}
	if o.faultsFile != "" {
		rules, err := loadFaults(srv, o.faultsFile)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "conflictlab: %d fault rule(s) in force from %s\n", len(rules), o.faultsFile)
		for _, r := range rules {
			fmt.Fprintf(stdout, "  %s: %s\n", r.ID, describeRule(r))
		}
	}
	clock := "real clock"
	if o.simClock {
		clock = fmt.Sprintf("simulated clock from %s, step %s", o.clockStart, o.clockStep)
	}
	return host(ctx, srv, &h, stdout,
		func(addr string) string {
			return fmt.Sprintf("serving %s tables on http://%s (seed %d, %s)", cfg.Dialect, addr, srv.Seed(), clock)
		})
}

// hosting is where a server (or a proxy) listens and what it leaves behind.
type hosting struct {
	addr, adminAddr string
	adminOpen       bool
	historyFile     string
	history         *os.File // the stream, while it is open
}

// check applies the loopback rule to the admin API's own address: anyone who can reach the
// admin API can reset the server, write rows and add faults.
func (h *hosting) check() error {
	if h.adminAddr == "" || h.adminOpen {
		return nil
	}
	if err := loopbackAddr(h.adminAddr); err != nil {
		return usageError{fmt.Errorf("--admin-addr %s: %w; to serve the admin API to other machines, add --admin-open and --admin-token", h.adminAddr, err)}
	}
	return nil
}

// openHistory creates the --history file the server streams its events to (nil without one).
func (h *hosting) openHistory() (io.Writer, error) {
	if h.historyFile == "" {
		return nil, nil
	}
	f, err := os.Create(h.historyFile)
	if err != nil {
		return nil, fmt.Errorf("--history: %w", err)
	}
	h.history = f
	return f, nil
}

// closeHistory closes the stream if host did not (an error before serving).
func (h *hosting) closeHistory() {
	if h.history != nil {
		h.history.Close()
	}
}

// host serves srv until ctx ends: the table protocol on h.addr, the admin API under it or on
// its own address; banner says what is served at the address.
func host(ctx context.Context, srv *fakeserver.Server, h *hosting, stdout io.Writer, banner func(addr string) string) error {
	handler := srv.Handler()
	var servers []*http.Server
	var listeners []net.Listener
	listen := func(addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w", addr, err)
		}
		listeners = append(listeners, srv.Listener(ln)) // net/http's own error answers in JSON too
		servers = append(servers, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute})
		return nil
	}
	if h.adminAddr != "" {
		handler = srv.TableHandler()
	}
	if err := listen(h.addr, handler); err != nil {
		return err
	}
	adminURL := "http://" + listeners[0].Addr().String() + "/_conflictlab/"
	if h.adminAddr != "" {
		if err := listen(h.adminAddr, srv.AdminHandler()); err != nil {
			listeners[0].Close()
			return err
		}
		adminURL = "http://" + listeners[1].Addr().String() + "/_conflictlab/"
	}
	fmt.Fprintf(stdout, "conflictlab: %s\n", banner(listeners[0].Addr().String()))
	fmt.Fprintf(stdout, "conflictlab: admin API at %s\n", adminURL)

	if h.historyFile != "" {
		fmt.Fprintf(stdout, "conflictlab: streaming the history to %s\n", h.historyFile)
	}

	errs := make(chan error, len(servers)+1)
	for i, s := range servers {
		go func() { errs <- s.Serve(listeners[i]) }()
	}
	// The stream is buffered: write it out every second, so a reader of the file is never
	// far behind, and stop serving when it cannot be written.
	flushStop := make(chan struct{})
	if h.historyFile != "" {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-flushStop:
					return
				case <-tick.C:
					if err := srv.FlushHistory(); err != nil {
						errs <- fmt.Errorf("--history %s: %w", h.historyFile, err)
						return
					}
				}
			}
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	close(flushStop)
	srv.Faults().Reset() // let go of requests a timeout holds, or Shutdown would wait for them
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	if serveErr != nil {
		return serveErr
	}
	if h.history != nil {
		err := srv.FlushHistory()
		if cerr := h.history.Close(); err == nil {
			err = cerr
		}
		h.history = nil
		if err != nil {
			return fmt.Errorf("--history %s: %w", h.historyFile, err)
		}
		st := srv.HistoryStats()
		fmt.Fprintf(stdout, "conflictlab: history written to %s (%d events; the in-memory history dropped %d)\n", h.historyFile, st.LastSeq, st.Dropped)
	}
	fmt.Fprintln(stdout, "conflictlab: stopped")
	return nil
}

// loopbackAddr checks that addr listens on this machine only: a loopback IP address, or a
// name that resolves to loopback addresses only (localhost).
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address", host)
		}
		return nil
	}
	if host == "" {
		return errors.New("an empty host listens on every interface")
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s resolves to %s, not a loopback address", host, ip)
		}
	}
	return nil
}

// loadFaults reads a fault file and puts its rules in force; errors name the file, the line
// and the field.
func loadFaults(srv *fakeserver.Server, path string) ([]fakeserver.Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--faults: %w", err)
	}
	rules, err := fakeserver.ParseRules(data)
	if err == nil {
		rules, err = srv.Faults().AddAll(rules)
	}
	if err != nil {
		var re *fakeserver.RuleError
		if errors.As(err, &re) {
			re.File = path
			return nil, fmt.Errorf("--faults: %w", re)
		}
		return nil, fmt.Errorf("--faults: %s: %w", path, err)
	}
	return rules, nil
}

// describeRule is one line saying what a rule does to what.
func describeRule(r fakeserver.Rule) string {
	var b strings.Builder
	b.WriteString(r.Action)
	if len(r.Params) > 0 {
		p, _ := json.Marshal(r.Params)
		b.WriteString(" " + string(p))
	}
	m, _ := json.Marshal(r.Match)
	if string(m) != "{}" {
		b.WriteString(" on " + string(m))
	} else {
		b.WriteString(" on every request")
	}
	return b.String()
}

func actionHelp() string {
	var b strings.Builder
	for _, a := range fakeserver.Actions() {
		fmt.Fprintf(&b, "  %-16s %s\n", a[0], a[1])
	}
	return strings.TrimRight(b.String(), "\n")
}

// keeping is how a server (or a proxy) keeps its history and guards its admin API: the flags
// serve and proxy share.
type keeping struct {
	historyLimit int
	historyBytes int64
	adminOpen    bool
	adminToken   string
	adminHosts   []string
}

func (k *keeping) flags(f *pflag.FlagSet) {
	f.IntVar(&k.historyLimit, "history-limit", 100_000, "events the in-memory history keeps; older ones are dropped and counted (-1: no limit)")
	f.Int64Var(&k.historyBytes, "history-bytes", 64<<20, "memory the in-memory history may take, roughly (-1: no limit)")
	f.BoolVar(&k.adminOpen, "admin-open", false, "let --admin-addr serve clients on other machines (needs --admin-token)")
	f.StringVar(&k.adminToken, "admin-token", os.Getenv("CONFLICTLAB_ADMIN_TOKEN"), "require this bearer token on the admin API (default $CONFLICTLAB_ADMIN_TOKEN)")
	f.StringSliceVar(&k.adminHosts, "admin-host", nil, "Host names the admin API answers to besides localhost and IP addresses")
}

// apply checks the flags and puts them in cfg.
func (k *keeping) apply(cfg *fakeserver.Config, adminAddr string) error {
	for name, v := range map[string]int64{"--history-limit": int64(k.historyLimit), "--history-bytes": k.historyBytes} {
		if v == 0 || v < -1 {
			return fmt.Errorf("%s must be positive, or -1 for no limit", name)
		}
	}
	if k.adminOpen && k.adminToken == "" {
		return errors.New("--admin-open serves the admin API to other machines: give it an --admin-token (or $CONFLICTLAB_ADMIN_TOKEN)")
	}
	if k.adminOpen && adminAddr == "" {
		return errors.New("--admin-open opens --admin-addr: give one (the admin API under --addr answers loopback clients only)")
	}
	cfg.HistoryLimit, cfg.HistoryBytes = k.historyLimit, k.historyBytes
	cfg.AdminOpen, cfg.AdminToken, cfg.AdminHosts = k.adminOpen, k.adminToken, k.adminHosts
	return nil
}
