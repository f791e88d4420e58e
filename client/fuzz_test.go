package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store/memory"
)

// answerOnce is a transport that gives the first request the fuzzed answer and every later
// one an empty page, so each sync call ends.
type answerOnce struct {
	status int
	link   string
	body   []byte
	calls  atomic.Int32
}

func (a *answerOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if a.calls.Add(1) > 1 {
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(bytes.NewReader([]byte("[]"))), Request: r}, nil
	}
	if a.link != "" {
		h.Set("Link", a.link)
	}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzServerAnswers gives the sync client arbitrary server answers to a pull's first page, an
// incremental pull's first page and a push's insert. Whatever comes back, the client must not
// panic, must fail with one of its typed errors, must not store a row without an id, and must
// keep a local change whose push failed. (That a refused page stores nothing is pinned in
// malformed_test.go; here a good first page may be stored before its bad Link fails the pull.)
func FuzzServerAnswers(f *testing.F) {
	f.Add(uint8(0), 200, "", []byte(`[{"id":"a","version":"AAAAAAAAAAE=","updatedAt":"2014-06-09T23:40:04.297Z","deleted":false}]`))
	f.Add(uint8(1), 200, "", []byte(`[{"id":"a","updatedAt":"2014-06-09T23:40:04.297Z"},{"id":"b"}]`))
	f.Add(uint8(2), 201, "", []byte(`{"id":"x","version":"AAAAAAAAAAE="}`))
	f.Add(uint8(2), 412, "", []byte(`{"id":"x","version":7}`))
	f.Add(uint8(0), 200, `<http://127.0.0.1:1/tables/todoitem?$skip=1>; rel=next`, []byte(`{"results":[{"id":"a"}],"count":1}`))
	f.Add(uint8(0), 200, `<x>; rel="next`, []byte(`[{"id":1}]`))
	f.Add(uint8(1), 200, "", []byte(`[{"id":"a","deleted":"yes","updatedAt":"2014-06-09T23:40:04.297Z"}]`))
	f.Add(uint8(0), 200, "http://127.0.0.1/?%24top=50&__includeDeleted=true&%24skip=50; rel=next", []byte(`[{"id":"a"}]`))
	f.Add(uint8(2), 409, "", []byte(`{"id":"x","text":"mine"}`))
	f.Fuzz(func(t *testing.T, kind uint8, status int, link string, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		ctx := context.Background()
		tr := &answerOnce{status: status, link: link, body: body}
		c, err := client.New("http://127.0.0.1:1", client.WithHTTPClient(&http.Client{Transport: tr}))
		if err != nil {
			t.Fatal(err)
		}
		st := memory.New()
		defer st.Close()
		sc, err := client.NewSyncContext(c, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		todo := sc.Table("todoitem")
		switch kind % 3 {
		case 0, 1:
			queryID := ""
			if kind%3 == 1 {
				queryID = "q"
			}
			err = todo.Pull(ctx, nil, queryID)
			rows, rerr := todo.Read(ctx, nil)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err != nil {
				if !typed(err) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
			}
			for _, r := range rows {
				if id, ok := r["id"].(string); !ok || id == "" {
					t.Fatalf("stored a row without an id: %v", r)
				}
			}
		case 2:
			if _, err := todo.Insert(ctx, client.Item{"id": "x", "text": "mine"}); err != nil {
				t.Fatal(err)
			}
			_, err = sc.Push(ctx)
			ops, qerr := sc.PendingOperations(ctx)
			if qerr != nil {
				t.Fatal(qerr)
			}
			row, lerr := todo.Lookup(ctx, "x")
			if err != nil {
				if !typed(err) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				if len(ops) != 1 || lerr != nil || row["text"] != "mine" {
					t.Fatalf("a failed push lost the local change: ops %v, row %v (%v)", ops, row, lerr)
				}
				return
			}
			if len(ops) != 0 {
				t.Fatalf("a clean push left %d operations", len(ops))
			}
			if lerr == nil && row["id"] == nil {
				t.Fatalf("stored a row without an id: %v", row)
			}
		}
	})
}

// typed reports whether err is one the client documents.
func typed(err error) bool {
	var he *client.HTTPError
	var pf *client.PushFailedError
	return errors.As(err, &he) || errors.As(err, &pf) || errors.Is(err, client.ErrBadResponse) ||
		errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrInvalidQuery) || errors.Is(err, client.ErrPagingLimit)
}

// FuzzPageDecoding holds the client's row-by-row page decoder to what encoding/json makes of
// the same body: a page it accepts is the rows json.Unmarshal finds, and a body json.Unmarshal
// reads as at most PageRows rows is refused only for what is in a row, never for its JSON.
func FuzzPageDecoding(f *testing.F) {
	for _, s := range []string{`[]`, `[{"id":"a"},{"id":"b","n":1.5}]`, `{"results":[{"id":"a"}],"count":3}`,
		`{"Results":[{"id":"a"}],"results":[{"id":"b"}]}`, `{"results":null}`, `{"results":[],"count":"3"}`,
		`[{"id":"a"}] x`, `[{"id":"a"},`, ` [ {"id":"a"} ] `, `[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]`,
		`{"results":[{"id":"a"}],"other":{"x":[1,2]},"count":1}`, `[null]`, `[{"id":7}]`, `{"results":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tr := &answerOnce{status: 200, body: body}
		c, err := client.New("http://127.0.0.1:1", client.WithHTTPClient(&http.Client{Transport: tr}),
			client.WithPagingLimits(client.PagingLimits{PageRows: 3}))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Table("todoitem").QueryPage(context.Background(), nil)
		want, wantOK := referencePage(body)
		if err == nil {
			if !wantOK || !reflect.DeepEqual(p.Items, want) {
				t.Fatalf("accepted %q as %v; encoding/json: %v (%v)", body, p.Items, want, wantOK)
			}
			return
		}
		var re *client.ResponseError
		if !errors.As(err, &re) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if wantOK && len(want) <= 3 && !strings.HasPrefix(re.Reason, "row ") && !strings.Contains(re.Reason, "more than once") {
			t.Fatalf("refused %q (%s), which encoding/json reads as %v", body, re.Reason, want)
		}
	})
}

// referencePage is what json.Unmarshal makes of a page's body.
func referencePage(body []byte) ([]client.Item, bool) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	var items []client.Item
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var env struct {
			Results *[]client.Item `json:"results"`
			Count   *float64       `json:"count"`
		}
		if json.Unmarshal(body, &env) != nil || env.Results == nil {
			return nil, false
		}
		if n := env.Count; n != nil && (*n < 0 || *n != math.Trunc(*n) || *n > math.MaxInt32) {
			return nil, false
		}
		items = *env.Results
	} else if json.Unmarshal(body, &items) != nil || items == nil {
		return nil, false
	}
	if items == nil {
		items = []client.Item{}
	}
	return items, true
}
