package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// BenchmarkPull100kSQLite is client/bench_test.go's BenchmarkPull100k with this store in
// place of the memory store: 100,000 rows from the in-process fake server over loopback HTTP
// into an empty store, in pages of 50 (2000 GETs, 2000 Updates). Run both in one command to
// compare them:
//
//	go test -p 1 -run '^$' -bench 'Pull100k' -benchtime 3x ./client/ ./client/store/sqlite/
func BenchmarkPull100kSQLite(b *testing.B) {
	const n = 100_000
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart), Seed: 1})
	size := 0
	for i := range n {
		row, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("item-%07d", i), "text": fmt.Sprintf("Buy eggs, batch %d", i),
			"complete": i%3 == 0, "priority": i % 5})
		if err != nil {
			b.Fatal(err)
		}
		js, _ := json.Marshal(row)
		size += len(js)
	}
	ts := srv.Start()
	defer ts.Close()
	c, err := client.New(ts.URL)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "store.db"))
		if err != nil {
			b.Fatal(err)
		}
		sc, _ := client.NewSyncContext(c, st, nil)
		b.StartTimer()
		if err := sc.Table("todoitem").Pull(ctx, nil, ""); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rows, err := sc.Table("todoitem").Read(ctx, client.NewQuery().Top(1).Skip(n-1))
		if err != nil || len(rows) != 1 {
			b.Fatalf("pulled %d rows at the end, want 1 (%v)", len(rows), err)
		}
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/1e6, "json-MB")
}
