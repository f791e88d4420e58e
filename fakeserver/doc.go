// Package fakeserver is a fake versioned table server: it speaks the Azure Mobile Apps (v2)
// and Azure Mobile Services (v1) table protocols (docs/protocol.md), keeps every row
// versioned, soft-deletes, pages and filters, records every request in a history, and injects
// faults on command (docs/faults.md). Use it in process from a Go test:
//
//	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Time{})})
//	ts := srv.Start() // 127.0.0.1:0
//	defer ts.Close()
//	srv.Faults().Add(fakeserver.Rule{Action: "drop-response", Match: fakeserver.Match{Op: []string{"insert"}, Times: 1}})
//	… point a client at ts.URL …
//	for _, e := range srv.History() { … }
//
// or standalone (conflictlab serve), with the admin API under /_conflictlab/. With
// Config.Upstream the server is a fault proxy instead (conflictlab proxy): it keeps no tables
// and puts its faults and history in front of another server.
package fakeserver
