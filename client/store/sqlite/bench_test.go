package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// Each benchmark runs on the memory store and on this one, in one run, so that their ratio
// does not depend on how loaded the machine was (see BENCHMARKS.md).

// benchRows makes n todo rows shaped like what a pull stores, as
// client/store/memory/bench_test.go does.
func benchRows(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{
			"id":        fmt.Sprintf("%08x-5f0c-4b7e-9d1a-%012x", i, i*7919),
			"text":      fmt.Sprintf("todo item number %d", i),
			"complete":  i%3 == 0,
			"priority":  float64(i % 5),
			"createdAt": "2014-06-09T23:40:04.297Z",
			"updatedAt": fmt.Sprintf("2014-06-%02dT%02d:40:04.297Z", 1+i%28, i%24),
			"version":   "AAAAAAAAB9E=",
			"deleted":   false,
		}
	}
	return rows
}

// stores are the stores compared: each opens a new, empty one.
var stores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memory", func(*testing.B) store.Store { return memory.New() }},
	{"sqlite", func(b *testing.B) store.Store {
		s, err := sqlite.Open(filepath.Join(b.TempDir(), "store.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

// filled returns a store holding rows in table "todo", put in pages of 50 as a pull would.
func filled(b *testing.B, s store.Store, rows []map[string]any) store.Store {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < len(rows); start += 50 {
		page := rows[start:min(start+50, len(rows))]
		err := s.Update(ctx, func(w store.Writer) error {
			for _, r := range page {
				if err := w.PutRow("todo", r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkInsert10k makes 10,000 local inserts with the calls the sync client's Insert makes:
// each its own Update that checks the item has no operation and no row, stores the row and
// queues its operation after the greatest sequence (for SQLite, with synchronous=FULL, one
// fsync per insert).
func BenchmarkInsert10k(b *testing.B) {
	const n = 10_000
	rows := benchRows(n)
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := st.open(b)
				b.StartTimer()
				for i, r := range rows {
					err := s.Update(ctx, func(w store.Writer) error {
						id := r["id"].(string)
						if _, err := w.OperationFor("todo", id); !errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("item %v has an operation (%v)", id, err)
						}
						if _, err := w.Row("todo", id); !errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("item %v exists (%v)", id, err)
						}
						seq, err := w.MaxSequence()
						if err != nil {
							return err
						}
						if err := w.PutRow("todo", r); err != nil {
							return err
						}
						return w.PutOperation(store.Operation{ID: fmt.Sprint("op-", i), Kind: store.Insert, State: store.Pending,
							Table: "todo", ItemID: id, Sequence: seq + 1, Version: 1})
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				_ = s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}

// BenchmarkRowsFilter100k reads one page of a filtered, ordered query over 100,000 rows: the
// query of the memory store's benchmark of the same name.
func BenchmarkRowsFilter100k(b *testing.B) {
	rows := benchRows(100_000)
	filter, err := odata.ParseFilter("complete eq false and priority ge 3 and updatedAt gt datetimeoffset'2014-06-20T00:00:00Z'")
	if err != nil {
		b.Fatal(err)
	}
	orderBy, err := odata.ParseOrderBy("updatedAt desc")
	if err != nil {
		b.Fatal(err)
	}
	q := store.Query{Filter: filter, OrderBy: orderBy, Top: 50}
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := filled(b, st.open(b), rows)
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				err := s.View(ctx, func(r store.Reader) error {
					got, total, err := r.Rows("todo", q)
					if err == nil && (len(got) != 50 || total == 0) {
						err = fmt.Errorf("got %d rows of %d", len(got), total)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRow reads one row by id from a table of 100,000.
func BenchmarkRow(b *testing.B) {
	rows := benchRows(100_000)
	ctx := context.Background()
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			s := filled(b, st.open(b), rows)
			defer s.Close()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := rows[(i*7919)%len(rows)]["id"].(string)
				i++
				err := s.View(ctx, func(r store.Reader) error {
					_, err := r.Row("TODO", id)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
