package fakeserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
)

// A lost response: the server applies the phone's insert and closes the connection without
// answering. The phone saw a network error; the history shows the write happened.
func ExampleFaults_Add() {
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Time{})})
	ts := srv.Start()
	defer ts.Close()
	rule, err := srv.Faults().Add(fakeserver.Rule{
		Match:  fakeserver.Match{Op: []string{"insert"}, Times: 1},
		Action: "drop-response",
	})
	fmt.Println(rule.ID, err)

	req, _ := http.NewRequest("POST", ts.URL+"/tables/todoitem", strings.NewReader(`{"id":"e1"}`))
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	_, err = http.DefaultClient.Do(req)
	fmt.Println(err != nil)
	for _, e := range srv.History() {
		fmt.Println(e.Op, e.ItemID, e.Status, e.Applied, e.Faults)
	}
	// Output:
	// f1 <nil>
	// true
	// insert e1 201 true [{f1 drop-response}]
}

// A fault file, as conflictlab serve --faults reads it (the one in the README).
func ExampleParseRules() {
	rules, err := fakeserver.ParseRules([]byte(`
- id: lost-update
  match: {method: PATCH, client: phone, times: 1}
  action: drop-response
- id: partition
  match: {client: tablet}
  action: offline
- match: {op: query, table: todoitem, probability: 0.33}
  action: latency
  params: {ms: 200, jitterMs: 50}
`))
	fmt.Println(len(rules), err)
	for _, r := range rules {
		fmt.Printf("%q %s %v %v\n", r.ID, r.Action, r.Match.Method, r.Params)
	}
	_, err = fakeserver.ParseRules([]byte("- action: latency\n  params: {ms: -1}\n"))
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// "lost-update" drop-response [PATCH] map[]
	// "partition" offline [] map[]
	// "" latency [] map[jitterMs:50 ms:200]
	// 2:12: [0].params.ms: must be between 0 and 3600000 (an hour), got -1
}
