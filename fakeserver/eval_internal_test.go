package fakeserver

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// fullRow is a record as docs/protocol.md says a $filter sees it: every user column, then the
// system columns by their names in d (winning over a user column of the same name).
func fullRow(r *record, d Dialect) map[string]any {
	m := map[string]any{}
	for k, v := range r.data {
		m[k] = v
	}
	m[colID] = r.id
	for _, c := range systemColumns {
		m[wireName(d, c)] = r.evalSystem(c)
	}
	return m
}

// TestResolverReadsRowsAsEvalDoes: a Program compiled with a table's resolver, reading
// records' cols by ordinal, evaluates exactly as odata.Eval over the whole row, for names in
// every spelling, columns some rows lack, and numbers of every shape.
func TestResolverReadsRowsAsEvalDoes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	spellings := []string{"n", "N", "text", "Text", "TEXT", "version", "Version", "updatedAt", "UPDATEDAT", "id", "ID",
		"deleted", "K", "k", "x_1", "X_1", "createdat", "__version", "__updatedat", "missing"}
	filters := []string{"%s eq 1", "%s ge 1.5", "%s eq null", "%s ne null", "%s gt '2014'", "startswith(%s, 'a')",
		"%s eq true", "length(%s) gt 1", "%s lt datetimeoffset'2014-06-11T00:00:00.002Z'"}
	values := []any{1, 1.5, 2, "a", "ab", "2015", true, false, nil, 1e300}
	for _, d := range []Dialect{V1, V2} {
		for round := range 30 {
			srv := New(Config{Dialect: d, Clock: SimClock(DefaultSimStart), Seed: int64(round + 1)})
			for i := range 20 {
				item := map[string]any{"id": fmt.Sprintf("r%02d", i)}
				for range r.IntN(4) {
					name := []string{"n", "text", "x_1", "K", "version", "updatedAt", "\u212a"}[r.IntN(7)]
					if d == V2 && (name == "version" || name == "updatedAt") {
						continue
					}
					if r.IntN(3) == 0 {
						name = strings.ToUpper(name[:1]) + name[1:]
					}
					item[name] = values[r.IntN(len(values))]
				}
				if _, err := srv.Insert("t", item); err != nil {
					continue // a type clash with an earlier row: refused, as it should be
				}
			}
			tb := srv.tables["t"]
			resolve := tb.resolver(d)
			for _, f := range filters {
				for _, name := range spellings {
					e, err := odata.ParseFilter(fmt.Sprintf(f, name))
					if err != nil {
						t.Fatal(err)
					}
					prog := odata.Compile(e, resolve)
					for _, rec := range tb.snapshot() {
						if rec.cols == nil {
							t.Fatalf("record %s has no cols", rec.id)
						}
						want := odata.Eval(e, fullRow(rec, d))
						got := prog.Eval(rec, odata.NewBudget(odata.Limits{}))
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, round %d: %s over %v: got %#v, want %#v", d, round, odata.Format(e), rec.data, got, want)
						}
						withoutCols := *rec
						withoutCols.cols = nil
						if got := prog.Eval(&withoutCols, odata.NewBudget(odata.Limits{})); !reflect.DeepEqual(got, want) {
							t.Fatalf("%s (map path): %s over %v: got %#v, want %#v", d, odata.Format(e), rec.data, got, want)
						}
					}
				}
			}
		}
	}
}
