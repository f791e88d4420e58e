// Package targets describes a server under test — a target — and what it offers: its URL,
// dialect and credentials, its tables and their settings, whether conflictlab can drive it
// (a conflictlab server's admin API: faults, clock, history, reset) and how to empty it
// between runs. A scenario needs things of a server (Requirements); a run a target cannot
// serve is skipped with the reason, never failed.
//
// Targets are found by Probe (a conflictlab server says what it is on /_conflictlab/info; a
// table server answers GET /tables/{t}) and completed from a target file (docs/targets.md).
package targets

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
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Kinds of target.
const (
	// KindEmbedded is a fake server in the same process.
	KindEmbedded = "embedded"
	// KindConflictlab is `conflictlab serve`: its admin API gives faults, clock, history and
	// reset.
	KindConflictlab = "conflictlab"
	// KindNode is the Azure Mobile Apps Node backend (npm azure-mobile-apps).
	KindNode = "node"
	// KindOther is any other server speaking the table protocol.
	KindOther = "other"
)

// Target is a server under test.
type Target struct {
	// URL is the server's base URL (tables are under URL/tables/).
	URL string `yaml:"url" json:"url"`
	// Kind is embedded, conflictlab, node or other; Probe finds conflictlab by itself.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Dialect is v2 or v1; Probe finds it when it is not given.
	Dialect string `yaml:"dialect,omitempty" json:"dialect,omitempty"`
	// Personality is the real server a conflictlab server imitates ("node"), as its info
	// says.
	Personality string `yaml:"personality,omitempty" json:"personality,omitempty"`
	Auth        Auth   `yaml:"auth,omitempty" json:"auth,omitzero"`
	// Reset empties the server before each run; without one, runs keep apart by ids of
	// their own (see Isolation).
	Reset Reset `yaml:"reset,omitempty" json:"reset,omitzero"`
	// Tables are the tables the server has, with their settings; "*" gives the settings of
	// every table not named. A server whose tables are not listed is assumed to have any.
	Tables map[string]Table `yaml:"tables,omitempty" json:"tables,omitempty"`
	// File is the target file it was read from, for messages.
	File string `yaml:"-" json:"file,omitempty"`
	// SimulatedClock: a conflictlab server on a simulated clock, whose step a run can set.
	SimulatedClock bool `yaml:"-" json:"simulatedClock,omitempty"`
}

// Auth is what the server wants to see on every request.
type Auth struct {
	Token  string `yaml:"token,omitempty" json:"-"`  // X-ZUMO-AUTH
	AppKey string `yaml:"appKey,omitempty" json:"-"` // X-ZUMO-APPLICATION
	// Admin is a conflictlab server's admin token (serve --admin-token), sent to its admin
	// API as a bearer token; empty: $CONFLICTLAB_ADMIN_TOKEN.
	Admin string `yaml:"admin,omitempty" json:"-"`
}

// adminToken is the admin token to send: the target's, else the environment's.
func (a Auth) adminToken() string {
	if a.Admin != "" {
		return a.Admin
	}
	return os.Getenv("CONFLICTLAB_ADMIN_TOKEN")
}

// Reset is how to empty the server: a URL conflictlab POSTs to, or a command it runs.
type Reset struct {
	URL     string   `yaml:"url,omitempty" json:"url,omitempty"`
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
}

// Table is what a server does with one table.
type Table struct {
	// SoftDelete: deletes leave tombstones; nil when unknown.
	SoftDelete *bool `yaml:"softDelete,omitempty" json:"softDelete,omitempty"`
	// PageSize is the most rows the server returns in one answer, 0 when unknown;
	// PageSizeCapsTop says whether it caps an explicit $top too (the fake server does; the
	// Node server's page size is only the default $top).
	PageSize        int   `yaml:"pageSize,omitempty" json:"pageSize,omitempty"`
	PageSizeCapsTop *bool `yaml:"pageSizeCapsTop,omitempty" json:"pageSizeCapsTop,omitempty"`
	// MaxTop is the largest $top accepted, 0 when unknown.
	MaxTop int `yaml:"maxTop,omitempty" json:"maxTop,omitempty"`
}

// Controlled reports whether conflictlab drives the server itself (the embedded server, or
// a conflictlab server through its admin API): faults inside it, its clock, its history,
// reset with any settings.
func (t *Target) Controlled() bool { return t.Kind == KindEmbedded || t.Kind == KindConflictlab }

// Table is the settings of a table ("*" for those not named), and whether the server has it.
func (t *Target) Table(name string) (Table, bool) {
	for k, v := range t.Tables {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	if v, ok := t.Tables["*"]; ok {
		return v, true
	}
	return Table{}, len(t.Tables) == 0
}

// String is the target as a person names it: "embedded", or its kind and URL.
func (t *Target) String() string {
	if t.Kind == KindEmbedded {
		return KindEmbedded
	}
	s := t.URL
	if t.Kind != "" {
		s = t.Kind + " " + s
	}
	if t.Personality != "" {
		s += " (personality " + t.Personality + ")"
	}
	return s
}

// Embedded is the target of a run without --server.
func Embedded() *Target { return &Target{Kind: KindEmbedded} }

// Error is a target that cannot be used: unreachable, not a table server, a bad target file.
type Error struct {
	Target string
	File   string
	Line   int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Target != "":
		b.WriteString(e.Target + ": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnreachable and ErrNotATableServer are what Probe fails with (errors.Is).
var (
	ErrUnreachable     = errors.New("the server cannot be reached")
	ErrNotATableServer = errors.New("not a table server")
)

// LoadFile reads a target file (YAML, docs/targets.md): unknown keys and bad values are
// errors with the line they are on.
func LoadFile(path string) (*Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the target file", Err: err}
	}
	var t Target
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		line := 0
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
				msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
			}
			return nil, &Error{File: path, Line: line, Msg: msg}
		}
		return nil, &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	t.File = path
	if err := t.check(); err != nil {
		err.File = path
		return nil, err
	}
	return &t, nil
}

// check says what in a target is wrong.
func (t *Target) check() *Error {
	if t.URL == "" {
		return &Error{Msg: "url is required: the server's base URL, e.g. http://127.0.0.1:3000"}
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{Msg: fmt.Sprintf("url %q: want an http:// or https:// base URL", t.URL)}
	}
	if t.Kind != "" && !slices.Contains([]string{KindConflictlab, KindNode, KindOther}, t.Kind) {
		return &Error{Msg: fmt.Sprintf("kind %q: want conflictlab, node or other", t.Kind)}
	}
	if t.Dialect != "" && t.Dialect != "v2" && t.Dialect != "v1" {
		return &Error{Msg: fmt.Sprintf("dialect %q: want v2 or v1", t.Dialect)}
	}
	if t.Reset.URL != "" && len(t.Reset.Command) > 0 {
		return &Error{Msg: "reset: give a url or a command, not both"}
	}
	for name, tb := range t.Tables {
		if tb.PageSize < 0 || tb.MaxTop < 0 {
			return &Error{Msg: fmt.Sprintf("tables.%s: pageSize and maxTop must not be negative", name)}
		}
	}
	return nil
}

// Info is what a conflictlab server says of itself on /_conflictlab/info.
type Info struct {
	Kind        string `json:"kind"`
	Dialect     string `json:"dialect"`
	PageSize    int    `json:"pageSize"`
	MaxTop      int    `json:"maxTop"`
	HardDelete  bool   `json:"hardDelete"`
	Personality string `json:"personality"`
	Upstream    string `json:"upstream"`
	Simulated   bool   `json:"simulatedClock"`
}

// Probe completes t by asking the server: a conflictlab server says what it is; another
// server must answer a table query, in the dialect given or the one that works. It fails
// with ErrUnreachable or ErrNotATableServer and says why.
func Probe(ctx context.Context, t *Target) error {
	if t.Kind == KindEmbedded {
		return nil
	}
	if err := t.check(); err != nil {
		return err
	}
	t.URL = strings.TrimRight(t.URL, "/")
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	get := func(path string, header map[string]string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+path, nil)
		if err != nil {
			return 0, nil, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if tok := t.Auth.adminToken(); tok != "" && strings.HasPrefix(path, "/_conflictlab/") {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if t.Auth.Token != "" {
			req.Header.Set("X-ZUMO-AUTH", t.Auth.Token)
		}
		if t.Auth.AppKey != "" {
			req.Header.Set("X-ZUMO-APPLICATION", t.Auth.AppKey)
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return res.StatusCode, body, err
	}
	status, body, err := get("/_conflictlab/info", nil)
	if err != nil {
		return &Error{Target: t.URL, Msg: "cannot reach the server", Err: errors.Join(ErrUnreachable, err)}
	}
	var info Info
	if status == http.StatusUnauthorized && strings.Contains(string(body), "admin token") {
		return &Error{Target: t.URL, Msg: "a conflictlab server whose admin API wants a token: give it as auth.admin in a target file, or in $CONFLICTLAB_ADMIN_TOKEN"}
	}
	if status == http.StatusOK && json.Unmarshal(body, &info) == nil && info.Kind == KindConflictlab {
		t.Kind = KindConflictlab
		t.SimulatedClock = info.Simulated
		if t.Dialect == "" {
			t.Dialect = info.Dialect
		}
		if t.Personality == "" {
			t.Personality = info.Personality
		}
		soft, caps := !info.HardDelete, info.Personality == ""
		star := t.Tables["*"]
		if star.SoftDelete == nil {
			star.SoftDelete = &soft
		}
		if star.PageSize == 0 {
			star.PageSize = info.PageSize
		}
		if star.PageSizeCapsTop == nil {
			star.PageSizeCapsTop = &caps
		}
		if star.MaxTop == 0 {
			star.MaxTop = info.MaxTop
		}
		if t.Tables == nil {
			t.Tables = map[string]Table{}
		}
		t.Tables["*"] = star
		return nil
	}
	if info.Kind == "proxy" {
		return &Error{Target: t.URL, Msg: "this is a conflictlab proxy (of " + info.Upstream + "): name the server itself; run and fuzz put a proxy in front by themselves"}
	}
	if t.Kind == "" {
		t.Kind = KindOther
	}
	table := "todoitem"
	for name := range t.Tables {
		if name != "*" {
			table = name
			break
		}
	}
	// A v2 server answers a query that carries ZUMO-API-VERSION, and (strictly) refuses one
	// without; a v1 server answers both. The system columns of a row, when there is one, tell
	// them apart for sure; an empty table of a server that answers both is taken for v2.
	var last string
	answers := map[string][]map[string]any{}
	for _, d := range []string{"v2", "v1"} {
		if t.Dialect != "" && t.Dialect != d {
			continue
		}
		h := map[string]string{}
		q := "?$top=1"
		if d == "v2" {
			h["ZUMO-API-VERSION"] = "2.0.0"
		} else {
			q += "&__systemproperties=*"
		}
		status, body, err := get("/tables/"+table+q, h)
		if err != nil {
			return &Error{Target: t.URL, Msg: "cannot reach the server", Err: errors.Join(ErrUnreachable, err)}
		}
		var rows []map[string]any
		var wrapped struct {
			Results []map[string]any `json:"results"`
		}
		if status == http.StatusOK && (json.Unmarshal(body, &rows) == nil || json.Unmarshal(body, &wrapped) == nil && wrapped.Results != nil) {
			if rows == nil {
				rows = wrapped.Results
			}
			answers[d] = rows
			continue
		}
		last = fmt.Sprintf("GET /tables/%s (%s) answered %d %.200s", table, d, status, strings.TrimSpace(string(body)))
	}
	_, v2 := answers["v2"]
	v1rows, v1 := answers["v1"]
	switch {
	case v1 && len(v1rows) > 0 && v1rows[0]["__version"] != nil:
		t.Dialect = "v1"
	case v2:
		t.Dialect = "v2"
	case v1:
		t.Dialect = "v1"
	}
	if t.Dialect != "" && (v1 || v2) {
		return nil
	}
	return &Error{Target: t.URL, Msg: "does not answer a table query (" + last + "); is it a table server, and does it have that table? Name its tables in a target file",
		Err: ErrNotATableServer}
}
