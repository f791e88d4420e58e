package fakeserver_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// The seed's conflict, over HTTP: a phone reads a row, another writer changes it, and the
// phone's PATCH with the version it read gets 412 with the server's row.
func Example() {
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Time{})})
	ts := srv.Start()
	defer ts.Close()

	send := func(method, path, ifMatch, body string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Println(res.StatusCode, res.Header.Get("ETag"), strings.TrimSpace(string(b)))
	}
	send("POST", "/tables/todoitem", "", `{"id":"e1","text":"Buy eggs"}`)
	send("PATCH", "/tables/todoitem/e1", `"AAAAAAAAAAE="`, `{"text":"Buy organic eggs"}`)
	send("PATCH", "/tables/todoitem/e1", `"AAAAAAAAAAE="`, `{"text":"Buy eggs (6)"}`)
	// Output:
	// 201 "AAAAAAAAAAE=" {"createdAt":"2014-06-11T00:00:00.000Z","deleted":false,"id":"e1","text":"Buy eggs","updatedAt":"2014-06-11T00:00:00.000Z","version":"AAAAAAAAAAE="}
	// 200 "AAAAAAAAAAI=" {"createdAt":"2014-06-11T00:00:00.000Z","deleted":false,"id":"e1","text":"Buy organic eggs","updatedAt":"2014-06-11T00:00:00.001Z","version":"AAAAAAAAAAI="}
	// 412 "AAAAAAAAAAI=" {"createdAt":"2014-06-11T00:00:00.000Z","deleted":false,"id":"e1","text":"Buy organic eggs","updatedAt":"2014-06-11T00:00:00.001Z","version":"AAAAAAAAAAI="}
}

// Direct writes are "another writer": they go straight into the server with the same rules,
// versions and history as requests, and fail the way a request would.
func ExampleServer_Write() {
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Time{})})
	row, _ := srv.Write("todoitem", "e1", map[string]any{"text": "Buy eggs"})
	fmt.Println(row["version"], row["text"])
	row, _ = srv.Write("todoitem", "e1", map[string]any{"text": "Buy organic eggs"})
	fmt.Println(row["version"], row["text"])

	_, err := srv.Update("todoitem", "e1", map[string]any{"text": "stale", "version": "AAAAAAAAAAE="})
	var ferr *fakeserver.Error
	if errors.As(err, &ferr) {
		fmt.Println(ferr.Status, errors.Is(err, fakeserver.ErrConflict), ferr.Row["text"])
	}
	for _, e := range srv.History() {
		fmt.Println(e.Seq, e.Source, e.Op, e.Status, e.Applied)
	}
	// Output:
	// AAAAAAAAAAE= Buy eggs
	// AAAAAAAAAAI= Buy organic eggs
	// 409 true Buy organic eggs
	// 1 direct insert 201 true
	// 2 direct update 200 true
	// 3 direct update 409 false
}
