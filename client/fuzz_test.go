package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
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
		errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrInvalidQuery)
}
