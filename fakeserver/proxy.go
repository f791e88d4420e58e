package fakeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A Server with Config.Upstream is a fault proxy: it keeps no tables, forwards every table
// request to the upstream server, and puts its fault rules and its history in the way, with
// the same rules, admin API and events as the fake server itself. That is how conflictlab
// injects faults into a server it did not write and sees what crossed the wire.
//
// What the proxy cannot know it leaves out of its events: the version a row had before a
// write (VersionBefore) and whether a refused write changed anything. Faults that need the
// server's own clock or rows (clock-skew, clock-freeze, page-shift) are refused when added;
// concurrent-write is made through the upstream's table API, as another client would.

// upstream is a proxy's other side.
type upstream struct {
	base *url.URL
	hc   *http.Client
}

// maxUpstreamBody bounds an answer the proxy reads from the upstream: it holds the whole
// answer to record it and let faults cut or drop it.
const maxUpstreamBody = 64 << 20

// hopHeaders are the headers of one connection, never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func parseUpstream(raw string) (*url.URL, error) {
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		return nil, fmt.Errorf("fakeserver: upstream %q: want an http:// or https:// URL", raw)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("fakeserver: upstream %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("fakeserver: upstream %q: want an http:// or https:// URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("fakeserver: upstream %q: a base URL has no query or fragment", raw)
	}
	return u, nil
}

func newUpstream(u *url.URL) *upstream {
	return &upstream{base: u, hc: &http.Client{
		Timeout: 5 * time.Minute, // the client's own timeout comes first; this frees a stuck proxy
		// A redirect is the upstream's answer, for the client to see: never followed here.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
	}}
}

// Upstream is the server a proxy forwards to; "" for a fake server.
func (s *Server) Upstream() string {
	if s.up == nil {
		return ""
	}
	return s.up.base.String()
}

// proxyRefuses says why a fault action cannot work in front of another server.
func proxyRefuses(action string) string {
	switch action {
	case "clock-skew", "clock-freeze":
		return "needs the server's own clock: a proxy cannot move another server's updatedAt"
	case "page-shift":
		return "needs to write rows between two pages inside the server: a proxy cannot"
	}
	return ""
}

// forward is the proxy's table handler: the request goes upstream, the answer comes back,
// and the exchange's event is filled from both, as the fake server's handlers fill it.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	t := s.classify(r)
	x.ev.Op, x.ev.Table, x.ev.ItemID = t.op, t.table, t.id
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.writeError(w, r, tooLarge(s.cfg.MaxBodyBytes))
		return
	case err != nil:
		s.writeError(w, r, badRequest("cannot read the body: %v", err))
		return
	}
	s.observeRequest(&x.ev, r, body)
	target := *s.up.base
	target.Path = strings.TrimRight(s.up.base.Path, "/") + r.URL.Path
	target.RawPath = ""
	if r.URL.RawPath != "" {
		target.RawPath = strings.TrimRight(s.up.base.EscapedPath(), "/") + r.URL.RawPath
	}
	target.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		s.writeError(w, r, errorf(http.StatusBadGateway, "cannot forward the request: %v", err))
		return
	}
	copyHeaders(out.Header, r.Header)
	out.Header.Set("Accept-Encoding", "identity") // the proxy reads and records the answer
	res, err := s.up.hc.Do(out)
	if err != nil {
		x.ev.Error = "upstream: " + err.Error()
		s.writeError(w, r, errorf(http.StatusBadGateway, "the upstream server %s did not answer: %v", s.up.base, err))
		return
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxUpstreamBody+1))
	switch {
	case err != nil:
		s.writeError(w, r, errorf(http.StatusBadGateway, "reading the upstream's answer: %v", err))
		return
	case len(answer) > maxUpstreamBody:
		s.writeError(w, r, errorf(http.StatusBadGateway, "the upstream's answer is over %d MiB", maxUpstreamBody>>20))
		return
	}
	observeAnswer(&x.ev, res, answer)
	h := w.Header()
	copyHeaders(h, res.Header)
	h.Del("Content-Length")
	if link := res.Header.Get("Link"); link != "" {
		h.Set("Link", s.rewriteLink(link, r))
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(answer)
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, k := range hopHeaders {
		dst.Del(k)
	}
	for _, f := range src.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			dst.Del(strings.TrimSpace(k))
		}
	}
}

// rewriteLink points a Link to the upstream's own address back at the proxy, so that the
// next page goes through the proxy too. Any other Link (another host, or a relative or
// malformed one, as some servers send) is left for the client to judge.
func (s *Server) rewriteLink(link string, r *http.Request) string {
	origin := s.up.base.Scheme + "://" + s.up.base.Host
	if !strings.Contains(link, origin) {
		return link
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.ReplaceAll(link, origin+strings.TrimRight(s.up.base.Path, "/"), scheme+"://"+r.Host)
}

// observeRequest fills what a request says of itself: its preconditions, the item an insert
// names, the user columns a write sends, whether a query includes deleted rows.
func (s *Server) observeRequest(ev *Event, r *http.Request, body []byte) {
	ev.Precondition = append(ev.Precondition, ifMatchTags(r.Header)...)
	if ev.Op == OpQuery {
		for k, v := range r.URL.Query() {
			if strings.EqualFold(k, "__includeDeleted") && len(v) > 0 && strings.EqualFold(v[0], "true") {
				ev.IncludeDeleted = true
			}
		}
	}
	if len(body) == 0 || ev.Op != OpInsert && ev.Op != OpUpdate {
		return
	}
	var item map[string]any
	if json.Unmarshal(body, &item) != nil {
		return
	}
	user := map[string]any{}
	for k, v := range item {
		switch strings.ToLower(strings.TrimPrefix(k, "__")) {
		case "id":
			if id, ok := v.(string); ok && ev.ItemID == "" {
				ev.ItemID = id
			}
		case "version":
			if ver, ok := v.(string); ok && ev.Op == OpUpdate && len(ev.Precondition) == 0 {
				ev.Precondition = []string{ver}
			}
		case "createdat", "updatedat", "deleted":
		default:
			user[k] = v
		}
	}
	if len(user) > 0 {
		ev.Body = user
	}
}

// ifMatchTags are the versions an If-Match names, without "*" (no precondition on a version).
func ifMatchTags(h http.Header) []string {
	var out []string
	for _, v := range h.Values("If-Match") {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(tag), "W/"), `"`); tag != "" && tag != "*" {
				out = append(out, tag)
			}
		}
	}
	return out
}

// observeAnswer fills what an answer says of the server: a write's new version and
// updatedAt, a query's rows and tombstones.
func observeAnswer(ev *Event, res *http.Response, body []byte) {
	ev.Status = res.StatusCode
	ok := res.StatusCode >= 200 && res.StatusCode < 300
	if ev.Op == OpQuery {
		if !ok {
			return
		}
		var rows []map[string]any
		if json.Unmarshal(body, &rows) != nil {
			var wrapped struct {
				Results []map[string]any `json:"results"`
			}
			if json.Unmarshal(body, &wrapped) == nil {
				rows = wrapped.Results
			}
		}
		ev.Rows = len(rows)
		for _, row := range rows {
			if rowDeleted(row) {
				ev.Tombstones++
			}
		}
		return
	}
	if !ok || ev.Op == OpLookup || ev.Op == "" {
		return
	}
	ev.Applied = true
	if tag := strings.Trim(strings.TrimPrefix(res.Header.Get("ETag"), "W/"), `"`); tag != "" {
		ev.VersionAfter = tag
	}
	var row map[string]any
	if json.Unmarshal(body, &row) != nil {
		return
	}
	for k, v := range row {
		switch strings.ToLower(strings.TrimPrefix(k, "__")) {
		case "version":
			if s, ok := v.(string); ok && s != "" {
				ev.VersionAfter = s // the row's own version wins over a weak ETag of the body
			}
		case "updatedat":
			if s, ok := v.(string); ok {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					ev.UpdatedAt = t
				}
			}
		case "id":
			if s, ok := v.(string); ok && ev.ItemID == "" {
				ev.ItemID = s
			}
		}
	}
}

func rowDeleted(row map[string]any) bool {
	for k, v := range row {
		if strings.EqualFold(strings.TrimPrefix(k, "__"), "deleted") && v == true {
			return true
		}
	}
	return false
}

// upstreamWrite is a proxy's concurrent-write fault: another writer updates the request's
// item through the upstream's table API (or inserts it where there is none), recorded as a
// direct write with the rule that caused it.
func (s *Server) upstreamWrite(ctx context.Context, rule *activeRule, table, id string, patch map[string]any) {
	ev := Event{Source: SourceDirect, Client: "server", Op: OpUpdate, Table: table, ItemID: id, Time: time.Now(),
		Faults: []FaultHit{{ID: rule.ID, Action: rule.Action}}}
	defer s.appendEvent(&ev)
	itemURL := strings.TrimRight(s.up.base.String(), "/") + "/tables/" + url.PathEscape(table) + "/" + url.PathEscape(id)
	cur, status, err := s.upstreamCall(ctx, http.MethodGet, itemURL+"?__includeDeleted=true", nil)
	if err != nil {
		ev.Error = err.Error()
		return
	}
	if patch == nil {
		n := 0.0
		if v, ok := cur[counterColumn].(float64); ok {
			n = v
		}
		patch = map[string]any{counterColumn: n + 1}
	}
	body := map[string]any{}
	for k, v := range patch {
		body[k] = v
	}
	switch {
	case status == http.StatusNotFound:
		ev.Op = OpInsert
		body["id"] = id
		_, ev.Status, err = s.upstreamCall(ctx, http.MethodPost, strings.TrimRight(s.up.base.String(), "/")+"/tables/"+url.PathEscape(table), body)
	case status == http.StatusOK && rowDeleted(cur):
		ev.Status, ev.Error = http.StatusNotFound, "the row is deleted: a PATCH would be refused"
		return
	case status == http.StatusOK:
		if v, ok := cur["version"].(string); ok {
			ev.VersionBefore = v
		}
		var row map[string]any
		row, ev.Status, err = s.upstreamCall(ctx, http.MethodPatch, itemURL, body)
		if v, ok := row["version"].(string); ok {
			ev.VersionAfter = v
		}
	default:
		ev.Status = status
		return
	}
	if err != nil {
		ev.Error = err.Error()
	}
	ev.Applied = err == nil && ev.Status >= 200 && ev.Status < 300
	ev.Body = patch
}

// upstreamCall is one request of the proxy's own to the upstream, as a v2 or v1 client with
// the credentials the proxy was given.
func (s *Server) upstreamCall(ctx context.Context, method, target string, body map[string]any) (map[string]any, int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-ZUMO-INSTALLATION-ID", "conflictlab-proxy")
	if s.cfg.Dialect == V2 {
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	}
	if s.cfg.AuthToken != "" {
		req.Header.Set("X-ZUMO-AUTH", s.cfg.AuthToken)
	}
	if s.cfg.AppKey != "" {
		req.Header.Set("X-ZUMO-APPLICATION", s.cfg.AppKey)
	}
	res, err := s.up.hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxUpstreamBody))
	if err != nil {
		return nil, res.StatusCode, err
	}
	var row map[string]any
	_ = json.Unmarshal(raw, &row)
	return row, res.StatusCode, nil
}
