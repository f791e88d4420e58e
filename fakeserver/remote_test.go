package fakeserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/internal/conformance"
	"github.com/conflictlab/conflictlab/targets"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// The conformance suite plays against a fake server in this process, one per spec, unless the
// environment names a server of its own (docs/targets.md, "Running the conformance suite
// against your server"):
//
//	CONFLICTLAB_SERVER=http://127.0.0.1:8080 go tool ginkgo ./fakeserver
//	CONFLICTLAB_TARGET=my-backend.yaml go tool ginkgo ./fakeserver
//
// Against a conflictlab server (conflictlab serve) each spec's Config is reached by resetting
// the server through its admin API with the settings a reset can change (page size, delete
// mode, seed, clock step; and the simulated clock moved to the suite's start), and the spec
// reads the rows, the history, the faults and the clock through that API. A spec whose
// Config needs what a reset cannot set, or the Go API proper, is skipped with the reason.
// Against any other server only the specs that speak the table protocol alone, with the
// default Config, run; the server is emptied before each by the target's reset.
//
// CONFLICTLAB_CONFORMANCE_REPORT=FILE writes the outcome as JSON: the counts, every failure
// and every skip with its reason.

// remote is the server under test when it is not in this process; nil runs the suite in
// process.
var remote *remoteServer

// remoteServer is a server the suite reaches over HTTP.
type remoteServer struct {
	target *targets.Target
	info   remoteInfo // a conflictlab server's settings, as it said at the start
	hc     *http.Client
	// gen counts the starts: each spec's server is the remote server after a reset, and a
	// handle of an earlier start is stale (a spec cannot have two servers at once).
	gen int
	// calls counts the requests sent to it in the current spec: a spec that passes having
	// sent none checked nothing of it.
	calls int
	// suiteClock is set while the current spec's server runs on the suite's simulated clock
	// (a conflictlab server on --sim-clock, set to the spec's start and step).
	suiteClock bool
}

// remoteInfo is what a conflictlab server says of itself on /_conflictlab/info.
type remoteInfo struct {
	Dialect           string                  `json:"dialect"`
	Personality       string                  `json:"personality"`
	Simulated         bool                    `json:"simulatedClock"`
	PageSize          int                     `json:"pageSize"`
	MaxTop            int                     `json:"maxTop"`
	MaxBody           int64                   `json:"maxBody"`
	Tables            []string                `json:"tables"`
	HardDeleteTables  []string                `json:"hardDeleteTables"`
	DeleteNoContent   bool                    `json:"deleteNoContent"`
	RequiresAppKey    bool                    `json:"requiresAppKey"`
	RequiresAuthToken bool                    `json:"requiresAuthToken"`
	HistoryBodyBytes  int                     `json:"historyBodyBytes"`
	QueryWork         *int64                  `json:"queryWork"` // nil: a server older than the suite
	QueryStringBytes  int                     `json:"queryStringBytes"`
	QueryTimeoutMs    int64                   `json:"queryTimeoutMs"`
	History           fakeserver.HistoryStats `json:"history"`
}

// connectRemote reads the environment and, when it names a server, probes it. An error
// stops the suite before any spec runs.
func connectRemote(ctx context.Context) error {
	server, file := os.Getenv(conformance.EnvServer), os.Getenv(conformance.EnvTarget)
	var t *targets.Target
	switch {
	case server != "" && file != "":
		return fmt.Errorf("%s and %s are both set: name the server one way", conformance.EnvServer, conformance.EnvTarget)
	case server != "":
		t = &targets.Target{URL: server}
	case file != "":
		var err error
		if t, err = targets.LoadFile(file); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := targets.Probe(ctx, t); err != nil {
		return err
	}
	r := &remoteServer{target: t, hc: &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if t.Kind == targets.KindConflictlab {
		if _, err := r.call(ctx, "GET", "/_conflictlab/info", nil, &r.info); err != nil {
			return fmt.Errorf("%s: reading its settings: %w", t.URL, err)
		}
		if r.info.QueryWork == nil {
			return fmt.Errorf("%s: a conflictlab server older than this suite (its info does not say its query limits): run the suite from the same version", t.URL)
		}
	} else if !t.Resettable() {
		return fmt.Errorf("%s: the suite must empty the server before each spec (they name the same ids): give a target file with a reset (%s=target.yaml, docs/targets.md)", t.URL, conformance.EnvTarget)
	}
	remote = r
	return nil
}

// conflictlab reports whether the server under test is a conflictlab server, whose admin API
// the suite can drive.
func (r *remoteServer) conflictlab() bool { return r.target.Kind == targets.KindConflictlab }

// call sends one request to the server and decodes a JSON answer into out. An answer outside
// 2xx is a *fakeserver.Error with the status, the message and the row it carried.
func (r *remoteServer) call(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.target.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r.authorize(req)
	r.calls++
	res, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var e struct {
			Error string         `json:"error"`
			Row   map[string]any `json:"row"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return res.Header, &fakeserver.Error{Status: res.StatusCode, Message: e.Error, Row: e.Row}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.Header, fmt.Errorf("%s %s: the answer is not the JSON expected: %v: %.300s", method, path, err, raw)
		}
	}
	return res.Header, nil
}

// authorize adds the admin token (the target file's auth.admin, else
// $CONFLICTLAB_ADMIN_TOKEN) to an admin request.
func (r *remoteServer) authorize(req *http.Request) {
	if strings.HasPrefix(req.URL.Path, "/_conflictlab/") {
		tok := r.target.Auth.Admin
		if tok == "" {
			tok = os.Getenv("CONFLICTLAB_ADMIN_TOKEN")
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
}

// cannot says why the server under test cannot be the server cfg describes, or "".
func (r *remoteServer) cannot(cfg fakeserver.Config) string {
	d := cfg.Dialect
	if d == "" {
		d = fakeserver.V2
	}
	if string(d) != r.target.Dialect {
		return fmt.Sprintf("needs a server in dialect %s (conflictlab serve --dialect %s)", d, d)
	}
	switch {
	case cfg.Upstream != "" || cfg.DirectClient != "":
		return "tests the fault proxy, which runs in this process"
	case cfg.HistoryWriter != nil:
		return "streams the history to a writer in this process (Config.HistoryWriter)"
	case cfg.AdminToken != "" || cfg.AdminOpen || len(cfg.AdminHosts) > 0:
		return "configures the admin API's guard of a server in this process"
	}
	_, simulated := cfg.Clock.(*fakeserver.SimulatedClock)
	if !r.conflictlab() {
		if simulated {
			return "needs the suite's simulated clock: a conflictlab server on --sim-clock"
		}
		var set []string
		for _, f := range []struct {
			name string
			on   bool
		}{
			{"PageSize", cfg.PageSize != 0}, {"MaxTop", cfg.MaxTop != 0}, {"MaxBodyBytes", cfg.MaxBodyBytes != 0},
			{"Tables", len(cfg.Tables) > 0}, {"HardDelete", cfg.HardDelete || len(cfg.HardDeleteTables) > 0},
			{"DeleteNoContent", cfg.DeleteNoContent}, {"AppKey/AuthToken", cfg.AppKey != "" || cfg.AuthToken != ""},
			{"Personality", cfg.Personality != ""},
			{"History limits", cfg.HistoryLimit != 0 || cfg.HistoryBytes != 0 || cfg.HistoryBodyBytes != 0},
			{"Query limits", cfg.QueryWork != 0 || cfg.QueryStringBytes != 0 || cfg.QueryTimeout != 0},
		} {
			if f.on {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			return "needs a server set up otherwise than by default (" + strings.Join(set, ", ") + "): only a conflictlab server can be"
		}
		return ""
	}

	in := r.info
	if string(cfg.Personality) != in.Personality {
		if cfg.Personality == "" {
			return fmt.Sprintf("needs the default personality (this server imitates %s)", in.Personality)
		}
		return fmt.Sprintf("needs a server started with --personality %s", cfg.Personality)
	}
	switch {
	case cfg.Clock != nil && !simulated && in.Simulated:
		return "needs a server on the real clock (conflictlab serve without --sim-clock)"
	case simulated && !in.Simulated:
		return "needs the suite's simulated clock (conflictlab serve --sim-clock)"
	}
	if want := or(cfg.MaxTop, 1000); want != in.MaxTop {
		return fmt.Sprintf("needs a server started with --max-top %d", want)
	}
	if want := or(cfg.MaxBodyBytes, 1<<20); want != in.MaxBody {
		return fmt.Sprintf("needs a server started with --max-body %d", want)
	}
	if !sameNames(cfg.Tables, in.Tables) {
		if len(cfg.Tables) == 0 {
			return "needs a server without a fixed table list (--tables)"
		}
		return "needs a server started with --tables " + strings.Join(cfg.Tables, ",")
	}
	if !sameNames(cfg.HardDeleteTables, in.HardDeleteTables) {
		if len(cfg.HardDeleteTables) == 0 {
			return "needs a server without --hard-delete-tables"
		}
		return "needs a server started with --hard-delete-tables " + strings.Join(cfg.HardDeleteTables, ",")
	}
	if cfg.DeleteNoContent != in.DeleteNoContent {
		if cfg.DeleteNoContent {
			return "needs a server started with --delete-204"
		}
		return "needs a server without --delete-204"
	}
	if (cfg.AppKey != "") != in.RequiresAppKey || (cfg.AuthToken != "") != in.RequiresAuthToken {
		if cfg.AppKey == "" && cfg.AuthToken == "" {
			return "needs a server that wants no credentials (started without --app-key and --auth-token)"
		}
		return "needs a server started with" + credentialFlags(cfg)
	}
	// Limits of Config as the server reads them (0 the default, -1 none) against the
	// server's; each with the flag that sets it.
	const none = int64(^uint64(0) >> 1)
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, l := range []struct {
		flag          string
		cfg, def, has int64
		show          func(int64) string
	}{
		{"--history-limit", int64(cfg.HistoryLimit), 100_000, int64(in.History.Limit), count},
		{"--history-bytes", cfg.HistoryBytes, 64 << 20, in.History.BytesLimit, count},
		{"a history body cap (Config.HistoryBodyBytes) of", int64(cfg.HistoryBodyBytes), 16 << 10, int64(in.HistoryBodyBytes), count},
		{"--query-work", cfg.QueryWork, 20_000_000, *in.QueryWork, count},
		{"--query-string-bytes", int64(cfg.QueryStringBytes), 1 << 20, int64(in.QueryStringBytes), count},
		{"--query-timeout", int64(cfg.QueryTimeout / time.Millisecond), 2000, in.QueryTimeoutMs,
			func(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }},
	} {
		want, shown := l.cfg, l.show(l.cfg)
		switch {
		case l.cfg == 0:
			want, shown = l.def, l.show(l.def)
		case l.flag == "--query-timeout" && cfg.QueryTimeout == -1:
			want, shown = none/int64(time.Millisecond), "-1"
		case l.cfg == -1:
			want, shown = none, "-1"
		}
		if want != l.has {
			return "needs a server started with " + l.flag + " " + shown
		}
	}
	return ""
}

func or[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func credentialFlags(cfg fakeserver.Config) string {
	s := ""
	if cfg.AppKey != "" {
		s += " --app-key " + cfg.AppKey
	}
	if cfg.AuthToken != "" {
		s += " --auth-token " + cfg.AuthToken
	}
	return s
}

// sameNames reports whether two lists of table names name the same tables.
func sameNames(a, b []string) bool {
	fold := func(s []string) []string {
		out := make([]string, len(s))
		for i, x := range s {
			out[i] = strings.ToLower(x)
		}
		sort.Strings(out)
		return slices.Compact(out)
	}
	return slices.Equal(fold(a), fold(b))
}

// start makes the server under test the server cfg describes, empty, or skips the spec with
// the reason it cannot be.
func (r *remoteServer) start(cfg fakeserver.Config) *server {
	GinkgoHelper()
	if why := r.cannot(cfg); why != "" {
		Skip(why)
	}
	ctx := context.Background()
	r.gen++
	r.suiteClock = false
	s := &server{remote: r, gen: r.gen, cfg: cfg, dialect: fakeserver.Dialect(r.target.Dialect)}
	if !r.conflictlab() {
		Expect(targets.ResetTarget(ctx, r.target)).To(Succeed(), "emptying the server before the spec")
		r.calls = 0
		return s
	}
	if cfg.AppKey != "" || cfg.AuthToken != "" {
		r.checkCredentials(cfg)
	}
	if r.info.Simulated {
		// The spec's simulated clock (the suite's, or one of its Config) is the server's,
		// moved to where that one starts.
		start, step := t0, time.Millisecond
		if sim, ok := cfg.Clock.(*fakeserver.SimulatedClock); ok {
			start, step = sim.Now(), sim.Step()
		}
		ms := step.Milliseconds()
		Expect(r.reset(s.settings(&ms))).To(Succeed())
		r.setClock(start)
		r.suiteClock = true
	} else {
		Expect(r.reset(s.settings(nil))).To(Succeed())
	}
	r.calls = 0 // what the spec asks counts, not the setting up
	return s
}

// settings are the reset settings of the spec's Config, with a clock step when not nil.
func (s *server) settings(stepMs *int64) fakeserver.ResetSettings {
	hard := s.cfg.HardDelete
	return fakeserver.ResetSettings{PageSize: or(s.cfg.PageSize, fakeserver.DefaultPageSize), HardDelete: &hard,
		Seed: s.cfg.Seed, ClockStepMs: stepMs}
}

func (r *remoteServer) reset(rs fakeserver.ResetSettings) error {
	_, err := r.call(context.Background(), "POST", "/_conflictlab/reset", rs, nil)
	if err != nil {
		return fmt.Errorf("resetting the server through its admin API: %w", err)
	}
	return nil
}

// checkCredentials skips the spec when the server wants other credentials than cfg's. It
// asks before the reset, which forgets the request.
func (r *remoteServer) checkCredentials(cfg fakeserver.Config) {
	GinkgoHelper()
	req, err := http.NewRequest("GET", r.target.URL+"/tables/todoitem?$top=0", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	req.Header.Set("X-ZUMO-APPLICATION", cfg.AppKey)
	req.Header.Set("X-ZUMO-AUTH", cfg.AuthToken)
	r.calls++
	res, err := r.hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized {
		Skip("needs a server started with" + credentialFlags(cfg) + " (this one wants other credentials)")
	}
}

// setClock moves the server's simulated clock to at, a century at most per move (the admin
// API's limit).
func (r *remoteServer) setClock(at time.Time) {
	GinkgoHelper()
	const century = 100 * 365 * 24 * time.Hour
	var c struct {
		Now string `json:"now"`
	}
	_, err := r.call(context.Background(), "GET", "/_conflictlab/clock", nil, &c)
	Expect(err).NotTo(HaveOccurred())
	for range 200 {
		now, err := time.Parse(fakeserver.TimeFormat, c.Now)
		Expect(err).NotTo(HaveOccurred())
		d := at.Sub(now)
		if d == 0 {
			return
		}
		d = max(min(d, century), -century)
		_, err = r.call(context.Background(), "POST", "/_conflictlab/clock", map[string]any{"advanceMs": d.Milliseconds()}, &c)
		Expect(err).NotTo(HaveOccurred())
	}
	Fail("could not move the server's clock to " + at.Format(fakeserver.TimeFormat))
}

// server is the server a spec plays against: a fake server in this process, or the remote
// server as the spec's Config made it. Its methods are fakeserver.Server's, so that a spec
// reads the same either way; remote, they go through the admin API.
type server struct {
	srv     *fakeserver.Server // in process
	remote  *remoteServer
	gen     int
	cfg     fakeserver.Config
	dialect fakeserver.Dialect
	// unavailable is why the remote server cannot be this one: a spec that uses it is
	// skipped with that reason (startServerOrDefer).
	unavailable string
}

// inProcess wraps a fake server of this process.
func inProcess(srv *fakeserver.Server) *server {
	return &server{srv: srv, cfg: srv.Config(), dialect: srv.Config().Dialect}
}

// live skips the spec when it goes back to a server it replaced: remote, there is one.
func (s *server) live() {
	GinkgoHelper()
	if s.unavailable != "" {
		Skip(s.unavailable)
	}
	if s.remote != nil && s.gen != s.remote.gen {
		Skip("needs two servers at once: the server under test is one, reset for each")
	}
}

// admin is a remote call to the admin API, or a skip when the server has none.
func (s *server) admin(what, method, path string, body, out any) error {
	GinkgoHelper()
	s.live()
	if !s.remote.conflictlab() {
		Skip(what + " through the admin API of a conflictlab server")
	}
	_, err := s.remote.call(context.Background(), method, path, body, out)
	return err
}

// needAdmin skips the spec at once, with what it does, when the server under test has no
// admin API: for a spec that would meet that in its goroutines.
func (s *server) needAdmin(what string) {
	GinkgoHelper()
	if s.remote != nil && !s.remote.conflictlab() {
		Skip(what + " through the admin API of a conflictlab server")
	}
}

// Go is the fake server itself, for a spec of the Go API proper; remote, the spec is skipped
// with why it needs it.
func (s *server) Go(why string) *fakeserver.Server {
	GinkgoHelper()
	if s.srv == nil {
		Skip("in process only: " + why)
	}
	return s.srv
}

func tablePath(table string) string { return "/_conflictlab/tables/" + url.PathEscape(table) }

func rowPath(table, id string) string { return tablePath(table) + "/" + url.PathEscape(id) }

// Row is a row as stored, tombstone or not, and whether it exists.
func (s *server) Row(table, id string) (map[string]any, bool) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Row(table, id)
	}
	var row map[string]any
	err := s.admin("reads a row", "GET", rowPath(table, id), nil, &row)
	if errors.Is(err, fakeserver.ErrNotFound) {
		return nil, false
	}
	Expect(err).NotTo(HaveOccurred())
	return row, true
}

// Rows are every row of a table, tombstones included, ordered by id.
func (s *server) Rows(table string) []map[string]any {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Rows(table)
	}
	var rows []map[string]any
	err := s.admin("reads the rows", "GET", tablePath(table), nil, &rows)
	if errors.Is(err, fakeserver.ErrNotFound) {
		return nil
	}
	Expect(err).NotTo(HaveOccurred())
	if len(rows) == 0 {
		return nil
	}
	return rows
}

// Tables lists the tables that exist.
func (s *server) Tables() []string {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Tables()
	}
	var out []string
	Expect(s.admin("lists the tables", "GET", "/_conflictlab/tables", nil, &out)).To(Succeed())
	if out == nil {
		out = []string{}
	}
	return out
}

// History is every event the history keeps.
func (s *server) History() []fakeserver.Event {
	GinkgoHelper()
	return s.HistorySince(0)
}

// HistorySince is the events after seq.
func (s *server) HistorySince(seq uint64) []fakeserver.Event {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.HistorySince(seq)
	}
	s.live()
	if !s.remote.conflictlab() {
		Skip("reads the history through the admin API of a conflictlab server")
	}
	req, err := http.NewRequest("GET", s.remote.target.URL+"/_conflictlab/history?since="+strconv.FormatUint(seq, 10), nil)
	Expect(err).NotTo(HaveOccurred())
	s.remote.authorize(req)
	s.remote.calls++
	res, err := s.remote.hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	Expect(res.StatusCode).To(Equal(http.StatusOK), "GET /_conflictlab/history")
	events, err := fakeserver.ReadJSONLines(res.Body)
	Expect(err).NotTo(HaveOccurred())
	return events
}

// info is the server's /_conflictlab/info.
func (s *server) info() (lastSeq uint64, st fakeserver.HistoryStats) {
	GinkgoHelper()
	var in struct {
		LastSeq uint64                  `json:"lastSeq"`
		History fakeserver.HistoryStats `json:"history"`
	}
	Expect(s.admin("reads the history", "GET", "/_conflictlab/info", nil, &in)).To(Succeed())
	return in.LastSeq, in.History
}

// LastSeq is the sequence number of the newest event.
func (s *server) LastSeq() uint64 {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.LastSeq()
	}
	seq, _ := s.info()
	return seq
}

// HistoryStats says how many events the history keeps and dropped.
func (s *server) HistoryStats() fakeserver.HistoryStats {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.HistoryStats()
	}
	_, st := s.info()
	return st
}

// write is a direct write, as another writer: the Go API's, or the admin API's.
func (s *server) write(op, table, id string, item map[string]any) (map[string]any, error) {
	GinkgoHelper()
	path := tablePath(table)
	if op != "insert" || id != "" {
		path = rowPath(table, id)
	}
	var row map[string]any
	err := s.admin("writes as another writer", "POST", path+"?op="+op, item, &row)
	if err != nil {
		var fe *fakeserver.Error
		Expect(errors.As(err, &fe)).To(BeTrue(), "the admin API answered: %v", err)
		return nil, err
	}
	return row, nil
}

// Insert writes a new row as another writer.
func (s *server) Insert(table string, item map[string]any) (map[string]any, error) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Insert(table, item)
	}
	if item == nil {
		item = map[string]any{}
	}
	return s.write("insert", table, "", item)
}

// Update merges patch into a live row, as another writer.
func (s *server) Update(table, id string, patch map[string]any) (map[string]any, error) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Update(table, id, patch)
	}
	return s.write("update", table, id, patch)
}

// Write updates a live row or inserts a missing one, as another writer.
func (s *server) Write(table, id string, patch map[string]any) (map[string]any, error) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Write(table, id, patch)
	}
	return s.write("write", table, id, patch)
}

// Delete deletes a live row, as another writer.
func (s *server) Delete(table, id string) (map[string]any, error) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Delete(table, id)
	}
	return s.write("delete", table, id, nil)
}

// Undelete brings a deleted row back, as another writer.
func (s *server) Undelete(table, id string) (map[string]any, error) {
	GinkgoHelper()
	if s.srv != nil {
		return s.srv.Undelete(table, id)
	}
	return s.write("undelete", table, id, nil)
}

// Reset empties the server as it was started (the clock is left as it is).
func (s *server) Reset() {
	GinkgoHelper()
	if s.srv != nil {
		s.srv.Reset()
		return
	}
	s.live()
	if !s.remote.conflictlab() {
		Skip("resets the server in the middle of the spec: a conflictlab server's admin API")
	}
	Expect(s.remote.reset(s.settings(nil))).To(Succeed())
}

// Faults are the server's fault rules.
func (s *server) Faults() *faults { return &faults{s: s} }

// faults are a server's fault rules: fakeserver.Faults, or the admin API's.
type faults struct{ s *server }

func (f *faults) Add(r fakeserver.Rule) (fakeserver.Rule, error) {
	GinkgoHelper()
	added, err := f.AddAll([]fakeserver.Rule{r})
	if err != nil {
		return fakeserver.Rule{}, err
	}
	return added[0], nil
}

func (f *faults) AddAll(rules []fakeserver.Rule) ([]fakeserver.Rule, error) {
	GinkgoHelper()
	if f.s.srv != nil {
		return f.s.srv.Faults().AddAll(rules)
	}
	var added []fakeserver.Rule
	err := f.s.admin("adds a fault", "POST", "/_conflictlab/faults", rules, &added)
	return added, err
}

// Remove heals one rule and reports whether it was in force.
func (f *faults) Remove(id string) bool {
	GinkgoHelper()
	if f.s.srv != nil {
		return f.s.srv.Faults().Remove(id)
	}
	err := f.s.admin("heals a fault", "DELETE", "/_conflictlab/faults/"+url.PathEscape(id), nil, nil)
	if errors.Is(err, fakeserver.ErrNotFound) {
		return false
	}
	Expect(err).NotTo(HaveOccurred())
	return true
}

// Reset heals every rule.
func (f *faults) Reset() {
	GinkgoHelper()
	if f.s.srv != nil {
		f.s.srv.Faults().Reset()
		return
	}
	Expect(f.s.admin("heals the faults", "DELETE", "/_conflictlab/faults", nil, nil)).To(Succeed())
}

func (f *faults) Status() []fakeserver.RuleStatus {
	GinkgoHelper()
	if f.s.srv != nil {
		return f.s.srv.Faults().Status()
	}
	var out []fakeserver.RuleStatus
	Expect(f.s.admin("reads the faults", "GET", "/_conflictlab/faults", nil, &out)).To(Succeed())
	return out
}

func (f *faults) List() []fakeserver.Rule {
	GinkgoHelper()
	var out []fakeserver.Rule
	for _, st := range f.Status() {
		out = append(out, st.Rule)
	}
	return out
}

// Clock is the server's clock.
func (s *server) Clock() *clock { return &clock{s: s} }

// clock is a server's clock: its Clock, or the admin API's.
type clock struct{ s *server }

type clockState struct {
	Now    string `json:"now"`
	StepMs *int64 `json:"stepMs"`
}

func (c *clock) post(body map[string]any) clockState {
	GinkgoHelper()
	var st clockState
	Expect(c.s.admin("moves the clock", "POST", "/_conflictlab/clock", body, &st)).To(Succeed())
	return st
}

func (c *clock) sim() *fakeserver.SimulatedClock {
	GinkgoHelper()
	sim, ok := c.s.srv.Clock().(*fakeserver.SimulatedClock)
	Expect(ok).To(BeTrue(), "the spec's server runs on a simulated clock")
	return sim
}

// Now reads the clock.
func (c *clock) Now() time.Time {
	GinkgoHelper()
	if c.s.srv != nil {
		return c.s.srv.Clock().Now()
	}
	var st clockState
	Expect(c.s.admin("reads the clock", "GET", "/_conflictlab/clock", nil, &st)).To(Succeed())
	t, err := time.Parse(fakeserver.TimeFormat, st.Now)
	Expect(err).NotTo(HaveOccurred())
	return t
}

// Advance moves the clock by d.
func (c *clock) Advance(d time.Duration) {
	GinkgoHelper()
	if c.s.srv != nil {
		c.s.srv.Clock().Advance(d)
		return
	}
	c.post(map[string]any{"advanceMs": d.Milliseconds()})
}

// SetStep sets a simulated clock's step per write.
func (c *clock) SetStep(d time.Duration) {
	GinkgoHelper()
	if c.s.srv != nil {
		c.sim().SetStep(d)
		return
	}
	c.post(map[string]any{"stepMs": d.Milliseconds()})
}

// Step is a simulated clock's step.
func (c *clock) Step() time.Duration {
	GinkgoHelper()
	if c.s.srv != nil {
		return c.sim().Step()
	}
	var st clockState
	Expect(c.s.admin("reads the clock", "GET", "/_conflictlab/clock", nil, &st)).To(Succeed())
	Expect(st.StepMs).NotTo(BeNil(), "the server runs on a simulated clock")
	return time.Duration(*st.StepMs) * time.Millisecond
}

// countRemote counts a request to the server under test.
func countRemote(target string) {
	if remote != nil && strings.HasPrefix(target, remote.target.URL) {
		remote.calls++
	}
}

// adminRequest is a request a spec sends to a server's admin API by hand, with the admin
// token when the server under test wants one.
func adminRequest(method, target string) *http.Request {
	GinkgoHelper()
	req, err := http.NewRequest(method, target, nil)
	Expect(err).NotTo(HaveOccurred())
	if remote != nil && strings.HasPrefix(target, remote.target.URL) {
		remote.checkRequest(strings.TrimPrefix(target, remote.target.URL))
		remote.authorize(req)
		remote.calls++
	}
	return req
}

// inProcessOnly skips a spec that tests the fake server in this process (its Go API, its
// handlers, servers of its own) when the suite runs against another server.
func inProcessOnly(why string) {
	GinkgoHelper()
	if remote != nil {
		Skip("in process only: " + why)
	}
}

// version is the wire form of the fake server's version counter value n. Against a server
// whose versions are its own, a spec that compares them with the counter is skipped: the
// protocol leaves versions opaque.
func version(n uint64) string {
	GinkgoHelper()
	if remote != nil && !remote.conflictlab() {
		Skip("compares versions with the fake server's counter (AAAAAAAAAAE=, …): the protocol leaves versions to the server")
	}
	return fakeserver.EncodeVersion(n)
}

// clockAt is the time of the suite's simulated clock ms milliseconds after it starts (t0):
// the updatedAt of the write it stamps then. Against a server whose clock the suite does not
// set, a spec that looks at exact times is skipped.
func clockAt(ms int) time.Time {
	GinkgoHelper()
	if remote != nil && !remote.suiteClock {
		Skip("checks the times of the suite's simulated clock: needs a conflictlab server on --sim-clock")
	}
	return t0.Add(time.Duration(ms) * time.Millisecond)
}

// needSuiteClock skips a spec that needs the suite's simulated clock when the server under
// test does not run on it.
func needSuiteClock() {
	GinkgoHelper()
	clockAt(0)
}

// needDefaultLimit skips a spec that relies on a limit of the default Config (a body of
// 1 MiB, a $top of 1000) against a server whose limits are its own settings, unless its
// target file says the $top limit is the same.
func needDefaultLimit(which string) {
	GinkgoHelper()
	if remote == nil || remote.conflictlab() {
		return // a conflictlab server's were checked when the spec started it
	}
	switch which {
	case "$top":
		if t, _ := remote.target.Table("todo"); t.MaxTop == 1000 {
			return
		}
		Skip("relies on a $top limit of 1000, which the target does not say it has (tables.todo.maxTop)")
	default:
		Skip("relies on the fake server's body limit of 1 MiB (--max-body): another server's is its own setting")
	}
}

// at is clockAt as the server writes it.
func at(ms int) string {
	GinkgoHelper()
	return clockAt(ms).Format(fakeserver.TimeFormat)
}

// tableName matches what can name a table; the rest is a spec's bad input.
var tableName = regexp.MustCompile(`^[A-Za-z0-9_]{1,128}$`)

// checkRequest skips a spec whose request the server under test cannot be judged on: an
// admin request to a server without the admin API, a table the target does not have.
func (r *remoteServer) checkRequest(path string) {
	GinkgoHelper()
	if r.conflictlab() {
		return
	}
	if strings.HasPrefix(path, "/_conflictlab/") {
		Skip("uses the admin API of a conflictlab server")
	}
	rest, ok := strings.CutPrefix(path, "/tables/")
	if !ok {
		return
	}
	name, _, _ := strings.Cut(rest, "/")
	name, _, _ = strings.Cut(name, "?")
	if name, err := url.PathUnescape(name); err == nil && tableName.MatchString(name) {
		if _, has := r.target.Table(name); !has {
			Skip(fmt.Sprintf("uses table %s, which the target does not have", name))
		}
	}
}

// The suite's own checks of a run against a remote server.
var _ = BeforeSuite(func() {
	if remote == nil {
		return
	}
	suite, _ := GinkgoConfiguration()
	if suite.ParallelTotal > 1 {
		Fail("the suite runs against one server, which each spec resets: run it serially (without -p)")
	}
	fmt.Fprintf(os.Stdout, "conformance suite against %s (dialect %s)\n", remote.target, remote.target.Dialect)
})

var _ = BeforeEach(func() {
	if remote != nil {
		remote.calls, remote.suiteClock = 0, false
	}
})

// A spec that passes against a remote server must have asked it something: one that sent it
// nothing tested this process, and must say so (inProcessOnly).
var _ = AfterEach(func() {
	if remote == nil || remote.calls > 0 {
		return
	}
	if st := CurrentSpecReport().State; st == types.SpecStatePassed {
		Fail("passed against " + remote.target.URL + " without sending it a request: a spec of this process must call inProcessOnly")
	}
})

var _ = ReportAfterSuite("conformance against a remote server", func(rep Report) {
	if remote == nil {
		return
	}
	out := conformance.Outcome{Target: remote.target.URL, Kind: remote.target.Kind, Dialect: remote.target.Dialect, Reasons: map[string]int{}}
	for _, sr := range rep.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		name := sr.FullText()
		switch {
		case sr.State == types.SpecStatePassed:
			out.Passed++
		case sr.State == types.SpecStateSkipped:
			out.Skipped++
			reason := sr.Failure.Message
			if reason == "" {
				out.Unexplained = append(out.Unexplained, name)
				reason = "(no reason given)"
			}
			out.Reasons[reason]++
			out.Skips = append(out.Skips, name+": "+reason)
		case sr.State.Is(types.SpecStateFailureStates):
			out.Failed++
			out.Failures = append(out.Failures, name+": "+sr.Failure.Message)
		}
	}
	sort.Strings(out.Skips)
	fmt.Fprint(os.Stdout, "\n"+out.Summary())
	if file := os.Getenv(conformance.EnvReport); file != "" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err == nil {
			err = os.WriteFile(file, append(data, '\n'), 0o644)
		}
		Expect(err).NotTo(HaveOccurred(), "writing %s", file)
	}
	Expect(out.Unexplained).To(BeEmpty(), "every skip says why")
})

// remoteNamed reports whether the environment names a server to test: the plain Go tests of
// this process (the fuzz target, the benchmarks) are then skipped, as its specs are.
func remoteNamed() bool {
	return os.Getenv(conformance.EnvServer) != "" || os.Getenv(conformance.EnvTarget) != ""
}

// inProcessBenchmark skips a benchmark when the environment names a server to test: the
// benchmarks measure the fake server in this process.
func inProcessBenchmark(b *testing.B) {
	b.Helper()
	if remoteNamed() {
		b.Skip("in process only: the benchmarks measure the fake server in this process")
	}
}
