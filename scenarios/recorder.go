package scenarios

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// recorder is the history of a server the runner cannot ask: every request the scenario's
// clients send, as each client saw it, in the shape of the fake server's events, so that
// expect.requests and the checkers read both the same way. What only the server knows (the
// version before a write) is left empty; the checkers then judge by what was seen.
type recorder struct {
	mu     sync.Mutex
	events []fakeserver.Event
}

func (r *recorder) wrap(client string, next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		ev := fakeserver.Event{Source: fakeserver.SourceHTTP, Client: client, Method: req.Method,
			Path: req.URL.Path, Query: req.URL.RawQuery, Time: time.Now()}
		if client == serverActor {
			ev.Source = fakeserver.SourceDirect
		}
		classify(&ev, req)
		for _, v := range req.Header.Values("If-Match") {
			if v = strings.Trim(strings.TrimSpace(v), `"`); v != "" && v != "*" {
				ev.Precondition = append(ev.Precondition, v)
			}
		}
		res, err := next.RoundTrip(req)
		if err == nil {
			body, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			res.Body = io.NopCloser(bytes.NewReader(body))
			if rerr != nil {
				err, res = rerr, nil
			} else {
				ev.Status = res.StatusCode
				observe(&ev, res, body)
			}
		}
		if err != nil {
			ev.Error = err.Error()
		}
		r.mu.Lock()
		ev.Seq = uint64(len(r.events)) + 1
		r.events = append(r.events, ev)
		r.mu.Unlock()
		return res, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func (r *recorder) since(mark int) []fakeserver.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fakeserver.Event(nil), r.events[min(mark, len(r.events)):]...)
}

// classify fills the op, table and item of an event from the request, reading an insert's
// body for its id (and putting the body back).
func classify(ev *fakeserver.Event, req *http.Request) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/tables/")
	if !ok {
		return
	}
	table, id, hasID := strings.Cut(rest, "/")
	ev.Table, ev.ItemID = table, id
	switch {
	case req.Method == http.MethodGet && hasID:
		ev.Op = fakeserver.OpLookup
	case req.Method == http.MethodGet:
		ev.Op = fakeserver.OpQuery
		for k, v := range req.URL.Query() {
			if strings.EqualFold(k, "__includeDeleted") && len(v) > 0 && v[0] == "true" {
				ev.IncludeDeleted = true
			}
		}
	case req.Method == http.MethodPost && hasID:
		ev.Op = fakeserver.OpUndelete
	case req.Method == http.MethodPost:
		ev.Op = fakeserver.OpInsert
		if req.Body != nil && req.GetBody != nil {
			if body, err := req.GetBody(); err == nil {
				var item map[string]any
				if json.NewDecoder(body).Decode(&item) == nil {
					ev.ItemID, _ = item["id"].(string)
				}
				body.Close()
			}
		}
	case req.Method == http.MethodPatch:
		ev.Op = fakeserver.OpUpdate
	case req.Method == http.MethodDelete:
		ev.Op = fakeserver.OpDelete
	}
}

// observe reads what a response says about the server: a write's new version and updatedAt,
// a query's rows and tombstones.
func observe(ev *fakeserver.Event, res *http.Response, body []byte) {
	ok := res.StatusCode >= 200 && res.StatusCode < 300
	if ev.Op == fakeserver.OpQuery {
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
			if deletedOf(row) {
				ev.Tombstones++
			}
		}
		return
	}
	if !ok || ev.Op == fakeserver.OpLookup {
		return
	}
	ev.Applied = true
	if tag := strings.Trim(res.Header.Get("ETag"), `"`); tag != "" {
		ev.VersionAfter = tag
	}
	var row map[string]any
	if json.Unmarshal(body, &row) == nil {
		for k, v := range row {
			name := strings.TrimPrefix(k, "__")
			switch {
			case strings.EqualFold(name, "version") && ev.VersionAfter == "":
				ev.VersionAfter, _ = v.(string)
			case strings.EqualFold(name, "updatedAt"):
				if s, ok := v.(string); ok {
					if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
						ev.UpdatedAt = t
					}
				}
			case strings.EqualFold(name, "id") && ev.ItemID == "":
				ev.ItemID, _ = v.(string)
			}
		}
	}
}

func deletedOf(row map[string]any) bool {
	for k, v := range row {
		if strings.EqualFold(strings.TrimPrefix(k, "__"), "deleted") && v == true {
			return true
		}
	}
	return false
}
