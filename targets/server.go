package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// A Server is a target running for one scenario run, as the runner sees it: where clients
// talk, the history of what crossed the wire, the faults and the clock it can move, the rows
// it holds, and another writer's writes.
type Server interface {
	// URL is where the clients talk (a proxy's, in front of a server conflictlab does not
	// control).
	URL() string
	// Transport, when not nil, carries requests without a socket (the embedded server).
	Transport() http.RoundTripper
	// Mark is where the history stands; Since is what came after a mark.
	Mark(ctx context.Context) (uint64, error)
	Since(ctx context.Context, mark uint64) ([]fakeserver.Event, error)
	AddFault(ctx context.Context, r fakeserver.Rule) error
	// Heal removes one rule ("all": every rule); it reports whether the rule was in force.
	Heal(ctx context.Context, id string) (bool, error)
	FaultStatus(ctx context.Context) ([]fakeserver.RuleStatus, error)
	// AdvanceClock moves the server's clock (a controlled server only).
	AdvanceClock(ctx context.Context, d time.Duration) error
	// Row is a row as stored (v2 names), tombstones included; nil when there is none.
	Row(ctx context.Context, table, id string) (map[string]any, error)
	// Rows are every row of a table, tombstones included.
	Rows(ctx context.Context, table string) ([]map[string]any, error)
	// Write is another writer: insert, update, delete or undelete of a row. A refusal is a
	// *fakeserver.Error with the status.
	Write(ctx context.Context, op, table, id string, item map[string]any) error
	// Exact reports whether the history knows what only the server knows (the version
	// before a write), as a controlled server's does; a proxy's knows what crossed the wire.
	Exact() bool
	// Embedded is the fake server in this process, nil for any other.
	Embedded() *fakeserver.Server
	Close()
}

// ActorID is the installation id of the runner's other writer: a proxy records its requests
// as direct writes and never hits them with a fault.
const ActorID = "conflictlab-server-actor"

// Limits of the runner's own reads of a server it does not control: a server that keeps
// sending pages (or one large answer) cannot keep a run going, or its memory growing.
var (
	maxReadBody  int64 = 32 << 20
	maxReadRows        = 200_000
	readPageSize       = 100
)

// Settings configure the embedded server of a run (or a conflictlab server that takes them).
type Settings = fakeserver.Config

// StartEmbedded starts a fake server in this process, on a loopback socket or (inMemory)
// behind its in-memory transport.
func StartEmbedded(cfg fakeserver.Config, inMemory bool) (Server, error) {
	srv, err := fakeserver.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	e := &embedded{srv: srv, url: "http://conflictlab.invalid"}
	if !inMemory {
		e.ts = srv.Start()
		e.url = e.ts.URL
	}
	return e, nil
}

type embedded struct {
	srv *fakeserver.Server
	ts  *httptest.Server
	url string
}

func (e *embedded) URL() string { return e.url }

func (e *embedded) Transport() http.RoundTripper {
	if e.ts == nil {
		return e.srv.Transport()
	}
	return nil
}

func (e *embedded) Mark(context.Context) (uint64, error) { return e.srv.LastSeq(), nil }

func (e *embedded) Since(_ context.Context, mark uint64) ([]fakeserver.Event, error) {
	return e.srv.HistorySince(mark), nil
}

func (e *embedded) AddFault(_ context.Context, r fakeserver.Rule) error {
	_, err := e.srv.Faults().Add(r)
	return err
}

func (e *embedded) Heal(_ context.Context, id string) (bool, error) {
	if id == "all" {
		e.srv.Faults().Reset()
		return true, nil
	}
	return e.srv.Faults().Remove(id), nil
}

func (e *embedded) FaultStatus(context.Context) ([]fakeserver.RuleStatus, error) {
	return e.srv.Faults().Status(), nil
}

func (e *embedded) AdvanceClock(_ context.Context, d time.Duration) error {
	e.srv.Clock().Advance(d)
	return nil
}

func (e *embedded) Row(_ context.Context, table, id string) (map[string]any, error) {
	row, ok := e.srv.Row(table, id)
	if !ok {
		return nil, nil
	}
	return row, nil
}

func (e *embedded) Rows(_ context.Context, table string) ([]map[string]any, error) {
	return e.srv.Rows(table), nil
}

func (e *embedded) Write(_ context.Context, op, table, id string, item map[string]any) error {
	var err error
	switch op {
	case "insert":
		_, err = e.srv.Insert(table, item)
	case "update":
		_, err = e.srv.Update(table, id, item)
	case "delete":
		_, err = e.srv.Delete(table, id)
	case "undelete":
		_, err = e.srv.Undelete(table, id)
	default:
		err = fmt.Errorf("no write %q", op)
	}
	return err
}

func (e *embedded) Exact() bool                  { return true }
func (e *embedded) Embedded() *fakeserver.Server { return e.srv }

func (e *embedded) Close() {
	e.srv.Faults().Reset()
	if e.ts != nil {
		e.ts.Close()
	}
}

// web is the HTTP side shared by the servers conflictlab reaches over the network: a client
// that never follows a redirect (auth headers must not travel to another host) and never
// reads more than it must.
type web struct {
	hc   *http.Client
	auth Auth
}

func newWeb(auth Auth) web {
	return web{auth: auth, hc: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			return fmt.Errorf("refusing to follow a redirect to %s: conflictlab does not send requests (or credentials) anywhere it was not pointed at", req.URL.Redacted())
		},
		Transport: &http.Transport{DisableCompression: true}}}
}

// call sends a request and decodes a JSON answer into out (when not nil). An answer outside
// 2xx is a *fakeserver.Error with its status and message.
func (w web) call(ctx context.Context, method, target string, header http.Header, body any, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := w.auth.adminToken(); tok != "" && strings.Contains(req.URL.Path, "/_conflictlab/") {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if w.auth.Token != "" {
		req.Header.Set("X-ZUMO-AUTH", w.auth.Token)
	}
	if w.auth.AppKey != "" {
		req.Header.Set("X-ZUMO-APPLICATION", w.auth.AppKey)
	}
	res, err := w.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReadBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxReadBody {
		return nil, fmt.Errorf("%s %s: the answer is over %d MiB", method, target, maxReadBody>>20)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var e struct {
			Error string         `json:"error"`
			Row   map[string]any `json:"row"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return res.Header, &fakeserver.Error{Status: res.StatusCode, Message: e.Error, Row: e.Row}
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.Header, fmt.Errorf("%s %s: the answer is not the JSON expected: %v", method, target, err)
		}
	}
	return res.Header, nil
}

// Connect starts a run against a target that is not embedded: a conflictlab server is reset
// with the run's settings and driven through its admin API; any other server gets a fault
// proxy in front of it (seeded with the run's seed), and is emptied by its reset when it has
// one.
func Connect(ctx context.Context, t *Target, run fakeserver.ResetSettings) (Server, error) {
	seed := run.Seed
	if t.Kind == KindConflictlab {
		c := &admin{web: newWeb(t.Auth), base: t.URL}
		if err := c.reset(ctx, run); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := ResetTarget(ctx, t); err != nil {
		return nil, err
	}
	d := fakeserver.V2
	if t.Dialect == "v1" {
		d = fakeserver.V1
	}
	proxy, err := fakeserver.NewServer(fakeserver.Config{Upstream: t.URL, Dialect: d, Seed: seed, DirectClient: ActorID,
		AuthToken: t.Auth.Token, AppKey: t.Auth.AppKey})
	if err != nil {
		return nil, err
	}
	p := &proxied{web: newWeb(t.Auth), target: t, proxy: proxy, ts: httptest.NewServer(proxy.Handler())}
	return p, nil
}

// ResetTarget empties a target by its reset (a POST to its URL, or its command); a target
// without one is left as it is.
func ResetTarget(ctx context.Context, t *Target) error {
	switch {
	case t.Reset.URL != "":
		_, err := newWeb(t.Auth).call(ctx, http.MethodPost, t.Reset.URL, nil, nil, nil)
		if err != nil {
			return &Error{Target: t.URL, Msg: "reset " + t.Reset.URL, Err: err}
		}
	case len(t.Reset.Command) > 0:
		out, err := exec.CommandContext(ctx, t.Reset.Command[0], t.Reset.Command[1:]...).CombinedOutput()
		if err != nil {
			return &Error{Target: t.URL, Msg: fmt.Sprintf("reset command %q: %s", strings.Join(t.Reset.Command, " "), strings.TrimSpace(string(out))), Err: err}
		}
	}
	return nil
}

// Resettable reports whether a target can be emptied before each run.
func (t *Target) Resettable() bool {
	return t.Controlled() || t.Reset.URL != "" || len(t.Reset.Command) > 0
}

// admin drives a conflictlab server through its admin API.
type admin struct {
	web
	base string
}

func (c *admin) reset(ctx context.Context, run fakeserver.ResetSettings) error {
	var out struct {
		Reset bool `json:"reset"`
	}
	if _, err := c.call(ctx, http.MethodPost, c.base+"/_conflictlab/reset", nil, run, &out); err != nil {
		return &Error{Target: c.base, Msg: "resetting it through its admin API (is this machine allowed to? the admin API answers loopback clients)", Err: err}
	}
	return nil
}

func (c *admin) URL() string                  { return c.base }
func (c *admin) Transport() http.RoundTripper { return nil }

func (c *admin) Mark(ctx context.Context) (uint64, error) {
	var info struct {
		LastSeq *uint64 `json:"lastSeq"`
	}
	if _, err := c.call(ctx, http.MethodGet, c.base+"/_conflictlab/info", nil, nil, &info); err != nil {
		return 0, err
	}
	if info.LastSeq == nil {
		return 0, errors.New("GET /_conflictlab/info: no lastSeq: a conflictlab server older than this conflictlab")
	}
	return *info.LastSeq, nil
}

func (c *admin) Since(ctx context.Context, mark uint64) ([]fakeserver.Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_conflictlab/history?since="+strconv.FormatUint(mark, 10), nil)
	if err != nil {
		return nil, err
	}
	if tok := c.auth.adminToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_conflictlab/history: %d", res.StatusCode)
	}
	return fakeserver.ReadJSONLines(io.LimitReader(res.Body, maxReadBody))
}

func (c *admin) AddFault(ctx context.Context, r fakeserver.Rule) error {
	_, err := c.call(ctx, http.MethodPost, c.base+"/_conflictlab/faults", nil, r, nil)
	return err
}

func (c *admin) Heal(ctx context.Context, id string) (bool, error) {
	if id == "all" {
		_, err := c.call(ctx, http.MethodDelete, c.base+"/_conflictlab/faults", nil, nil, nil)
		return err == nil, err
	}
	_, err := c.call(ctx, http.MethodDelete, c.base+"/_conflictlab/faults/"+url.PathEscape(id), nil, nil, nil)
	var fe *fakeserver.Error
	if errors.As(err, &fe) && fe.Status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

func (c *admin) FaultStatus(ctx context.Context) ([]fakeserver.RuleStatus, error) {
	var out []fakeserver.RuleStatus
	_, err := c.call(ctx, http.MethodGet, c.base+"/_conflictlab/faults", nil, nil, &out)
	return out, err
}

func (c *admin) AdvanceClock(ctx context.Context, d time.Duration) error {
	_, err := c.call(ctx, http.MethodPost, c.base+"/_conflictlab/clock", nil, map[string]any{"advanceMs": d.Milliseconds()}, nil)
	return err
}

func (c *admin) Row(ctx context.Context, table, id string) (map[string]any, error) {
	var row map[string]any
	_, err := c.call(ctx, http.MethodGet, c.base+"/_conflictlab/tables/"+url.PathEscape(table)+"/"+url.PathEscape(id), nil, nil, &row)
	var fe *fakeserver.Error
	if errors.As(err, &fe) && fe.Status == http.StatusNotFound {
		return nil, nil
	}
	return row, err
}

func (c *admin) Rows(ctx context.Context, table string) ([]map[string]any, error) {
	var rows []map[string]any
	_, err := c.call(ctx, http.MethodGet, c.base+"/_conflictlab/tables/"+url.PathEscape(table), nil, nil, &rows)
	var fe *fakeserver.Error
	if errors.As(err, &fe) && fe.Status == http.StatusNotFound {
		return nil, nil
	}
	return rows, err
}

func (c *admin) Write(ctx context.Context, op, table, id string, item map[string]any) error {
	target := c.base + "/_conflictlab/tables/" + url.PathEscape(table)
	if op != "insert" {
		target += "/" + url.PathEscape(id)
	}
	if op == "delete" || op == "undelete" {
		item = nil
	}
	_, err := c.call(ctx, http.MethodPost, target+"?op="+op, nil, item, nil)
	return err
}

func (c *admin) Exact() bool                  { return true }
func (c *admin) Embedded() *fakeserver.Server { return nil }

func (c *admin) Close() { c.hc.CloseIdleConnections() }

// proxied is a server conflictlab does not control, behind a fault proxy of this process.
type proxied struct {
	web
	target *Target
	proxy  *fakeserver.Server
	ts     *httptest.Server
}

func (p *proxied) URL() string                  { return p.ts.URL }
func (p *proxied) Transport() http.RoundTripper { return nil }

func (p *proxied) Mark(context.Context) (uint64, error) { return p.proxy.LastSeq(), nil }

func (p *proxied) Since(_ context.Context, mark uint64) ([]fakeserver.Event, error) {
	return p.proxy.HistorySince(mark), nil
}

func (p *proxied) AddFault(_ context.Context, r fakeserver.Rule) error {
	_, err := p.proxy.Faults().Add(r)
	return err
}

func (p *proxied) Heal(_ context.Context, id string) (bool, error) {
	if id == "all" {
		p.proxy.Faults().Reset()
		return true, nil
	}
	return p.proxy.Faults().Remove(id), nil
}

func (p *proxied) FaultStatus(context.Context) ([]fakeserver.RuleStatus, error) {
	return p.proxy.Faults().Status(), nil
}

func (p *proxied) AdvanceClock(context.Context, time.Duration) error {
	return errors.New("the clock of a server conflictlab does not control cannot be moved")
}

func (p *proxied) header(id string) http.Header {
	h := http.Header{"X-Zumo-Installation-Id": {id}}
	if p.target.Dialect != "v1" {
		h.Set("ZUMO-API-VERSION", "2.0.0")
	}
	return h
}

// Row reads one row straight from the server (not through the proxy: the runner's reads are
// not the clients' requests), with deleted rows.
func (p *proxied) Row(ctx context.Context, table, id string) (map[string]any, error) {
	q := url.Values{"__includeDeleted": {"true"}, "$filter": {"id eq '" + strings.ReplaceAll(id, "'", "''") + "'"}}
	if p.target.Dialect == "v1" {
		q.Set("__systemproperties", "*")
	}
	var rows []map[string]any
	if _, err := p.call(ctx, http.MethodGet, p.target.URL+"/tables/"+url.PathEscape(table)+"?"+q.Encode(), p.header("conflictlab-runner"), nil, &rows); err != nil {
		return nil, err
	}
	for _, row := range rows {
		if rid, _ := row["id"].(string); rid == id {
			return v2Names(row), nil
		}
	}
	return nil, nil
}

// Rows reads a whole table straight from the server, page by page with $skip until an empty
// page (what every server answers, whatever its Link), and never for ever.
func (p *proxied) Rows(ctx context.Context, table string) ([]map[string]any, error) {
	var out []map[string]any
	seen := map[string]bool{}
	for {
		if len(out) >= maxReadRows {
			return nil, fmt.Errorf("reading table %s: still not at its end after %d rows", table, maxReadRows)
		}
		q := url.Values{"__includeDeleted": {"true"}, "$top": {strconv.Itoa(readPageSize)}, "$skip": {strconv.Itoa(len(out))},
			"$orderby": {"id"}}
		if p.target.Dialect == "v1" {
			q.Set("__systemproperties", "*")
		}
		var rows []map[string]any
		if _, err := p.call(ctx, http.MethodGet, p.target.URL+"/tables/"+url.PathEscape(table)+"?"+q.Encode(), p.header("conflictlab-runner"), nil, &rows); err != nil {
			return nil, fmt.Errorf("reading table %s: %w", table, err)
		}
		if len(rows) == 0 {
			return out, nil
		}
		fresh := 0
		for _, row := range rows {
			id, _ := row["id"].(string)
			if !seen[id] {
				seen[id] = true
				out = append(out, v2Names(row))
				fresh++
			}
		}
		if fresh == 0 {
			return nil, fmt.Errorf("reading table %s: the server answers the same rows again at $skip=%d", table, len(out))
		}
	}
}

// Write is another writer through the proxy: recorded as a direct write, never hit by a
// fault.
func (p *proxied) Write(ctx context.Context, op, table, id string, item map[string]any) error {
	base := p.ts.URL + "/tables/" + url.PathEscape(table)
	h := p.header(ActorID)
	var err error
	switch op {
	case "insert":
		_, err = p.call(ctx, http.MethodPost, base, h, item, nil)
	case "update":
		_, err = p.call(ctx, http.MethodPatch, base+"/"+url.PathEscape(id), h, item, nil)
	case "delete":
		_, err = p.call(ctx, http.MethodDelete, base+"/"+url.PathEscape(id), h, nil, nil)
	case "undelete":
		_, err = p.call(ctx, http.MethodPost, base+"/"+url.PathEscape(id), h, map[string]any{}, nil)
	default:
		err = fmt.Errorf("no write %q", op)
	}
	return err
}

func (p *proxied) Exact() bool                  { return false }
func (p *proxied) Embedded() *fakeserver.Server { return nil }

func (p *proxied) Close() {
	p.proxy.Faults().Reset()
	p.ts.Close()
	p.hc.CloseIdleConnections()
}

// v2Names renames v1's __ system columns to their v2 names.
func v2Names(row map[string]any) map[string]any {
	out := make(map[string]any, len(row))
	for k, v := range row {
		if strings.HasPrefix(k, "__") {
			switch name := strings.TrimPrefix(k, "__"); name {
			case "version", "createdAt", "updatedAt", "deleted":
				k = name
			}
		}
		out[k] = v
	}
	return out
}
