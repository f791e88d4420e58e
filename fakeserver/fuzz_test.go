package fakeserver_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// fzMethods are the methods a fuzz input picks from with the low 3 bits of its method byte;
// bit 3 sends the body without a declared length, as a chunked request would.
var fzMethods = [8]string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "patch"}

const fzChunked = 8

// FuzzRequests throws arbitrary requests at the server's handler, in process, and checks
// what docs/protocol.md promises whatever a client sends: no 5xx (the server turns a panic into a
// 500), a JSON body, one history event per table request with the status it answered, no
// version consumed by a refused request, and a known row left alone unless a successful write
// addressed it.
//
//	go test -run='^$' -fuzz=FuzzRequests -fuzztime=60s ./fakeserver
func FuzzRequests(f *testing.F) {
	if remoteNamed() {
		f.Skip("in process only: FuzzRequests drives the handler of a fake server in this process")
	}
	const (
		get, post, patch, del, put, head, options = 0, 1, 2, 3, 4, 5, 6
	)
	for _, s := range []struct {
		method      byte
		path, query string
		body        string
		ifMatch     string
		v1          bool
	}{
		{get, "/tables/todo", "", "", "", false},
		{get, "/tables/todo/row1", "", "", "", true},
		{post, "/tables/todo", "", `{"id":"row2","title":"x","n":2}`, "", false},
		{patch, "/tables/todo/row1", "", `{"title":"eggs"}`, `"AAAAAAAAAAE="`, false},
		{patch, "/tables/todo/ROW1", "", `{"title":"eggs","id":"row1"}`, `*`, true},
		{patch, "/tables/todo/row1", "", `{"title":5}`, "", false},
		{patch, "/tables/todo/row1", "", `{"id":"row2"}`, "", false},
		{del, "/tables/todo/row1", "", "", `"AAAAAAAAAAE=", W/"x"`, false},
		{post, "/tables/todo/row1", "", "", "", true},
		{post, "/tables/todo", "", `{"a":}`, "", false},
		{post, "/tables/todo", "", `[{"id":"row1"}]`, "", true},
		{post, "/tables/todo", "", "{\"title\":\"\xff\"}", "", false},
		{post | fzChunked, "/tables/todo", "", `{"meta":{"a":[1,{"b":null}]}}`, "", false},
		{post, "/tables/todo", "", `{"n":1e400,"m":-0}`, "", false},
		{post, "/tables/todo", "", `{"createdAt":"2014-01-01T00:00:00.000Z","version":5}`, "", false},
		{post, "/tables/todo", "", `{"__version":"x","__deleted":null}`, "", true},
		{get, "/tables/todo", "$filter=((((title%20eq%20'milk'", "", "", false},
		{get, "/tables/todo", "$filter=substring(title,-1,1e300)%20eq%20'm'%20or%20indexof(title,'')%20eq%200", "", "", false},
		{get, "/tables/todo", "$filter=length(title)%20div%200%20eq%201%20and%20n%20mod%200%20eq%20n", "", "", true},
		{get, "/tables/todo", "$orderby=title%20desc,n&$top=2&$skip=1&$inlinecount=allpages&$select=title", "", "", false},
		{get, "/tables/todo", "$top=99999999999&$skip=-1", "", "", false},
		{get, "/tables/todo", "$select=title,,x&$expand=y", "", "", true},
		{get, "/tables/todo", "%zz&$top=1;2", "", "", false},
		{get, "/tables/todo/..", "", "", "", false},
		{patch, "/tables/todo/a%2Fb", "", `{}`, "", false},
		{put, "/tables/todo", "", `{}`, "", false},
		{get, "/tables/todo-item/%C3%28", "", "", "", true},
		{patch, "/tables/todo/row1", "", `{"title":"x"}`, `"unterminated`, false},
		{get, "/tables/todo", "__systemproperties=*,__bogus&__includeDeleted=TRUE", "", "", true},
		{post | fzChunked, "/tables/todo", "", `{"title":"` + strings.Repeat("x", 5000) + `"}`, "", false},
		{get, "/tables/todo", "$filter=updatedAt%20ge%20datetimeoffset'2014-06-09T23:40:04.297Z'&$orderby=updatedAt&$skip=0&$top=50&__includeDeleted=true", "", "", false},
		{head, "/tables/todo", "ZUMO-API-VERSION=3.0.0", "", "", false},
		{options, "/", "", "", "", false},
		{get, "/_conflictlab/history", "since=0", "", "", false},
		{post, "/_conflictlab/tables/todo/row1", "op=update", `{"title":"direct"}`, "", false},
		{post, "/_conflictlab/clock", "", `{"advanceMs":9223372036854775807,"stepMs":-1}`, "", true},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body), s.ifMatch, s.v1)
	}

	f.Fuzz(func(t *testing.T, method byte, path, query string, body []byte, ifMatch string, v1 bool) {
		// The request as net/http's server would hand it over: anything it would refuse
		// itself never reaches the handler.
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		uri := path
		if query != "" {
			uri += "?" + query
		}
		if strings.ContainsAny(uri, " \t") {
			return
		}
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return
		}
		ifMatch = strings.Trim(ifMatch, " \t")
		for i := 0; i < len(ifMatch); i++ {
			if c := ifMatch[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return
			}
		}

		d := fakeserver.V2
		if v1 {
			d = fakeserver.V1
		}
		srv, err := fakeserver.NewServer(fakeserver.Config{Dialect: d, Seed: 1, PageSize: 3, MaxTop: 20,
			MaxBodyBytes: 4096, Clock: fakeserver.SimClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Insert("todo", map[string]any{"id": "row1", "title": "milk", "n": 1, "done": false}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Insert("todo", map[string]any{"id": "gone", "title": "bread"}); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Delete("todo", "gone"); err != nil {
			t.Fatal(err)
		}
		rowBefore := fzRow(t, srv)
		events := len(srv.History())

		m := fzMethods[method&7]
		req := &http.Request{Method: m, URL: u, RequestURI: uri, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "example.com", RemoteAddr: "127.0.0.1:40000"}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if method&fzChunked != 0 {
			req.ContentLength = -1
			req.TransferEncoding = []string{"chunked"}
		} else if len(body) == 0 {
			req.Body = http.NoBody
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-ZUMO-INSTALLATION-ID", "fuzz")
		if d == fakeserver.V2 {
			req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}

		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		res := rec.Result()
		raw := rec.Body.Bytes()
		desc := func() string { return m + " " + uri + " If-Match=" + ifMatch + " body=" + string(body) }

		if res.StatusCode >= 500 || res.StatusCode < 100 {
			t.Fatalf("%s (%s) answered %d: %s", desc(), d, res.StatusCode, raw)
		}
		admin := strings.HasPrefix(u.Path, "/_conflictlab/")
		if len(raw) > 0 {
			ct := res.Header.Get("Content-Type")
			switch {
			case strings.HasPrefix(ct, "application/json"):
				if !json.Valid(raw) {
					t.Fatalf("%s (%s) answered %d with a body that is not JSON: %q", desc(), d, res.StatusCode, raw)
				}
			case admin && strings.HasPrefix(ct, "application/x-ndjson"):
				sc := bufio.NewScanner(bytes.NewReader(raw))
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					if !json.Valid(sc.Bytes()) {
						t.Fatalf("%s answered a JSON Lines body with a bad line: %q", desc(), sc.Bytes())
					}
				}
			default:
				t.Fatalf("%s (%s) answered %d with Content-Type %q: %q", desc(), d, res.StatusCode, ct, raw)
			}
		}
		ok := res.StatusCode >= 200 && res.StatusCode < 300

		// A refusal from the table protocol is a JSON error in the dialect's shape.
		if !admin && !ok && res.StatusCode != http.StatusNotModified {
			var e map[string]any
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("%s (%s) answered %d without a JSON error: %q", desc(), d, res.StatusCode, raw)
			}
			if res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusPreconditionFailed {
				if msg, _ := e["error"].(string); msg == "" {
					t.Fatalf("%s (%s) answered %d without an error message: %s", desc(), d, res.StatusCode, raw)
				}
				if code, _ := e["code"].(float64); d == fakeserver.V1 && int(code) != res.StatusCode {
					t.Fatalf("%s (v1) answered %d with code %v: %s", desc(), res.StatusCode, e["code"], raw)
				}
			}
		}

		// Every table request is one event in the history, with the status it got; nothing
		// is applied by a request that was not a success.
		h := srv.History()
		if !admin {
			if len(h) != events+1 {
				t.Fatalf("%s (%s): %d history events for one request", desc(), d, len(h)-events)
			}
			ev := h[len(h)-1]
			if ev.Status != res.StatusCode {
				t.Fatalf("%s (%s) answered %d but the history says %d: %+v", desc(), d, res.StatusCode, ev.Status, ev)
			}
			if !ok && (ev.Error == "" && res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusPreconditionFailed) {
				t.Fatalf("%s (%s): refused with %d but no error in the history: %+v", desc(), d, res.StatusCode, ev)
			}
		}
		if !ok {
			for _, ev := range h[min(events, len(h)):] {
				if ev.Applied {
					t.Fatalf("%s (%s) answered %d but a write was applied: %+v", desc(), d, res.StatusCode, ev)
				}
			}
			if v := fzProbe(t, srv); v != 4 {
				t.Fatalf("%s (%s) answered %d but consumed a version: the next write got %d, want 4", desc(), d, res.StatusCode, v)
			}
		}

		// row1 changes only under a successful write addressed to it (or the admin API's).
		write := m == "POST" || m == "PATCH" || m == "DELETE"
		mayChange := ok && write && (admin || fzTargetsRow1(u.Path))
		if after := fzRow(t, srv); after != rowBefore && !mayChange {
			t.Fatalf("%s (%s) answered %d and changed row1:\nbefore %s\nafter  %s", desc(), d, res.StatusCode, rowBefore, after)
		}
	})
}

// fzRow is todo/row1 as JSON, or "" when it does not exist.
func fzRow(t *testing.T, srv *fakeserver.Server) string {
	row, ok := srv.Row("todo", "row1")
	if !ok {
		return ""
	}
	data, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// fzProbe writes a row to another table and returns the version it got.
func fzProbe(t *testing.T, srv *fakeserver.Server) uint64 {
	row, err := srv.Insert("zprobe", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := fakeserver.DecodeVersion(row["version"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fzTargetsRow1 says whether path names the item todo/row1 (names match in any case).
func fzTargetsRow1(path string) bool {
	parts := strings.Split(path, "/")
	return len(parts) == 4 && parts[0] == "" && parts[1] == "tables" &&
		strings.EqualFold(parts[2], "todo") && strings.EqualFold(parts[3], "row1")
}
