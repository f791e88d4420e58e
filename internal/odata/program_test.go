package odata_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// genRow draws a row over the names genLeaf refers to, in several spellings, from the pool of
// values that makes ties and cross-type collisions likely.
func genRow(r *rand.Rand) map[string]any {
	names := []string{"a", "A", "b", "B", "p", "P", "andy", "__updatedAt", "__UPDATEDAT", "length", "_1"}
	row := map[string]any{}
	for range r.IntN(6) {
		row[names[r.IntN(len(names))]] = randomValue(r)
	}
	return row
}

// TestProgramAgreesWithEval: a compiled Program with no limits gives exactly what Eval gives,
// for random trees of the parser's shape over random rows, and Match agrees too.
func TestProgramAgreesWithEval(t *testing.T) {
	const seed = 16
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range 20_000 {
		e := genExpr(r, 5)
		prog := odata.CompileMap(e)
		for j := range 4 {
			row := genRow(r)
			want := odata.Eval(e, row)
			b := odata.NewBudget(odata.Limits{})
			got := prog.Eval(row, b)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("iteration %d.%d (seed %d): %s over %#v: Program gave %#v, Eval %#v", i, j, seed, odata.Format(e), row, got, want)
			}
			if prog.Match(row, odata.NewBudget(odata.Limits{})) != odata.Match(e, row) {
				t.Fatalf("iteration %d.%d (seed %d): Match disagrees for %s", i, j, seed, odata.Format(e))
			}
			if b.Err() != nil {
				t.Fatalf("an unlimited budget ran out: %v", b.Err())
			}
		}
	}
}

func TestProgramLimits(t *testing.T) {
	long := strings.Repeat("x", 256<<10)
	row := map[string]any{"text": long, "n": 1.0}
	nested := "text"
	for range 20 {
		nested = "concat(" + nested + ",text)"
	}
	cases := []struct {
		name   string
		filter string
		limits odata.Limits
		limit  string // "" when the budget suffices
	}{
		{"a plain filter fits", "n eq 1 and startswith(text, 'x')", odata.Limits{Work: 10_000, MaxString: 1 << 20}, ""},
		{"nested concat builds too long a string", "length(" + nested + ") gt 0", odata.Limits{Work: 1 << 40, MaxString: 1 << 20}, "string"},
		{"nested concat is too much work", "length(" + nested + ") gt 0", odata.Limits{Work: 50_000}, "work"},
		{"a long comparison is work", "text eq text and text eq text", odata.Limits{Work: 5000}, "work"},
		{"case mapping is bounded by its result", "length(toupper(text)) gt 0", odata.Limits{MaxString: 1000}, "string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := odata.ParseFilter(c.filter)
			if err != nil {
				t.Fatal(err)
			}
			b := odata.NewBudget(c.limits)
			start := time.Now()
			got := odata.CompileMap(e).Eval(row, b)
			if took := time.Since(start); took > time.Second {
				t.Errorf("evaluation took %v", took)
			}
			var le *odata.LimitError
			switch {
			case c.limit == "" && b.Err() != nil:
				t.Fatalf("unexpected limit: %v", b.Err())
			case c.limit == "" && got != true:
				t.Fatalf("got %#v, want true", got)
			case c.limit != "" && !errors.As(b.Err(), &le):
				t.Fatalf("no limit reached (got %#v, spent %d)", got, b.Spent())
			case c.limit != "" && (le.Limit != c.limit || !errors.Is(b.Err(), odata.ErrLimit) || got != nil):
				t.Fatalf("got %#v with %v, want null and the %s limit", got, b.Err(), c.limit)
			}
		})
	}
}

// TestBudgetIsSharedAcrossRows: one budget spans every row of a query, so many cheap rows
// add up to the limit as one expensive row does.
func TestBudgetIsSharedAcrossRows(t *testing.T) {
	e, _ := odata.ParseFilter("n gt 0 and n lt 100")
	prog := odata.CompileMap(e)
	b := odata.NewBudget(odata.Limits{Work: 1000})
	rows := 0
	for i := range 10_000 {
		prog.Match(map[string]any{"n": float64(i)}, b)
		if b.Err() != nil {
			break
		}
		rows++
	}
	if b.Err() == nil || rows == 0 || rows > 1000 {
		t.Fatalf("after %d rows: %v", rows, b.Err())
	}
}

// TestProgramComparesLeavesLikeEval: every comparison operator over every pair from a pool of
// row values and literals, the shape compiled without interface values, agrees with Eval.
func TestProgramComparesLeavesLikeEval(t *testing.T) {
	values := []any{nil, true, false, 0.0, -0.0, 1.0, 1.5, -2.0, json.Number("1"), json.Number("1.0"),
		json.Number("1.5"), json.Number("-2"), json.Number("bad"), json.Number("1e400"), math.NaN(), math.Inf(1),
		3, int64(1), float32(1.5), "", "a", "1", "2014-06-09T23:40:04.297Z", time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC),
		map[string]any{}}
	literals := []any{nil, true, 1.0, 1.5, -2.0, 0.0, "a", "1", time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC)}
	for _, op := range []string{"eq", "ne", "gt", "ge", "lt", "le"} {
		for _, v := range values {
			for _, w := range values {
				row := map[string]any{"a": v, "b": w}
				for _, e := range []odata.Expr{
					odata.Binary{Op: op, Left: odata.Prop("a"), Right: odata.Prop("b")},
					odata.Binary{Op: op, Left: odata.Prop("a"), Right: odata.Prop("missing")},
				} {
					if got, want := odata.CompileMap(e).Eval(row, odata.NewBudget(odata.Limits{})), odata.Eval(e, row); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s over %#v: Program %#v, Eval %#v", odata.Format(e), row, got, want)
					}
				}
			}
			for _, l := range literals {
				row := map[string]any{"a": v}
				for _, e := range []odata.Expr{
					odata.Binary{Op: op, Left: odata.Prop("a"), Right: odata.Literal{Value: l}},
					odata.Binary{Op: op, Left: odata.Literal{Value: l}, Right: odata.Prop("A")},
				} {
					if got, want := odata.CompileMap(e).Eval(row, odata.NewBudget(odata.Limits{})), odata.Eval(e, row); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s over %#v: Program %#v, Eval %#v", odata.Format(e), row, got, want)
					}
				}
			}
		}
	}
}
