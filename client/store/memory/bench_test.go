package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// benchRows makes n todo rows shaped like what a pull stores: an id, a few user columns and
// the system columns.
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

// filled returns a store holding rows in table "todo", put in pages of 50 as a pull would.
func filled(b *testing.B, rows []map[string]any) *memory.Store {
	b.Helper()
	s := memory.New()
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

func jsonSize(b *testing.B, rows []map[string]any) int {
	n := 0
	for _, r := range rows {
		enc, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		n += len(enc)
	}
	return n
}

func BenchmarkPutRow(b *testing.B) {
	rows := benchRows(10_000)
	s := memory.New()
	defer s.Close()
	ctx := context.Background()
	b.SetBytes(int64(jsonSize(b, rows) / len(rows)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := rows[i%len(rows)]
		i++
		if err := s.Update(ctx, func(w store.Writer) error { return w.PutRow("todo", r) }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRowsFilter100k(b *testing.B) {
	rows := benchRows(100_000)
	s := filled(b, rows)
	defer s.Close()
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
}

func BenchmarkRow(b *testing.B) {
	rows := benchRows(100_000)
	s := filled(b, rows)
	defer s.Close()
	ctx := context.Background()
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
}
