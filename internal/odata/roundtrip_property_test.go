package odata_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// genExpr builds a random tree of the shape ParseFilter produces: known operators and functions
// with their arity, names that are not keywords, finite numbers, UTC millisecond times, and no
// Unary "-" directly over a number literal (the parser folds that into the literal).
func genExpr(r *rand.Rand, depth int) odata.Expr {
	if depth == 0 || r.IntN(4) == 0 {
		return genLeaf(r)
	}
	switch r.IntN(6) {
	case 0:
		x := genExpr(r, depth-1)
		if lit, ok := x.(odata.Literal); ok {
			if _, isNum := lit.Value.(float64); isNum {
				return odata.Unary{Op: "not", X: x}
			}
		}
		return odata.Unary{Op: []string{"not", "-"}[r.IntN(2)], X: x}
	case 1, 2, 3:
		ops := []string{"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "add", "sub", "mul", "div", "mod"}
		return odata.Binary{Op: ops[r.IntN(len(ops))], Left: genExpr(r, depth-1), Right: genExpr(r, depth-1)}
	default:
		fns := []struct {
			name string
			n    int
		}{
			{"startswith", 2}, {"endswith", 2}, {"substringof", 2}, {"contains", 2}, {"tolower", 1},
			{"toupper", 1}, {"length", 1}, {"trim", 1}, {"indexof", 2}, {"substring", 2}, {"substring", 3},
			{"concat", 2}, {"year", 1}, {"month", 1}, {"day", 1}, {"hour", 1}, {"minute", 1},
			{"second", 1}, {"round", 1}, {"floor", 1}, {"ceiling", 1},
		}
		f := fns[r.IntN(len(fns))]
		args := make([]odata.Expr, f.n)
		for i := range args {
			args[i] = genExpr(r, depth-1)
		}
		return odata.Call{Name: f.name, Args: args}
	}
}

func genLeaf(r *rand.Rand) odata.Expr {
	switch r.IntN(8) {
	case 0:
		names := []string{"a", "B", "andy", "notable", "__updatedAt", "desc", "length", "datetime", "_1"}
		return odata.Property{Name: names[r.IntN(len(names))]}
	case 1:
		return odata.Literal{Value: nil}
	case 2:
		return odata.Literal{Value: r.IntN(2) == 0}
	case 3:
		strs := []string{"", "'", "it's", "''", "héllo", "\xff", " ) ( , ", "eq", "datetime'x'"}
		return odata.Literal{Value: strs[r.IntN(len(strs))]}
	case 4:
		nums := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, -2.5, 1e-7, 1e21, 1.5e300, -4.9e-324,
			math.MaxFloat64, 123456789012345678, float64(r.IntN(1000)) / 7}
		return odata.Literal{Value: nums[r.IntN(len(nums))]}
	case 5:
		ms := r.Int64N(253402300800000) - 62167219200000 // years 0000–9999
		return odata.Literal{Value: time.UnixMilli(ms).UTC()}
	default:
		return odata.Property{Name: "p"}
	}
}

// TestFormatRoundTripsGeneratedTrees: for trees shaped like the parser's output,
// ParseFilter(Format(e)) is e again, and printing the result gives the same text.
func TestFormatRoundTripsGeneratedTrees(t *testing.T) {
	const seed = 3
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range 20_000 {
		e := genExpr(r, 6)
		text := odata.Format(e)
		back, err := odata.ParseFilter(text)
		if err != nil {
			t.Fatalf("iteration %d (seed %d): Format gave %q, which does not parse: %v\ntree %#v", i, seed, text, err, e)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("iteration %d (seed %d): %q parsed to a different tree\nwant %#v\ngot  %#v", i, seed, text, e, back)
		}
		if again := odata.Format(back); again != text {
			t.Fatalf("iteration %d (seed %d): printing is not stable: %q then %q", i, seed, text, again)
		}
	}
}
