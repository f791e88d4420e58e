package odata_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// randomValue draws from a pool that makes ties and cross-type collisions likely: a few instants
// written as time.Time in several zones and as strings in several formats, strings that are not
// dates, every number type, bools, nulls, NaN and values of unknown type.
func randomValue(r *rand.Rand) any {
	instants := []time.Time{
		time.Date(2014, 6, 9, 23, 40, 4, 297_000_000, time.UTC),
		time.Date(2014, 6, 9, 23, 40, 4, 0, time.UTC),
		time.Date(2014, 6, 9, 22, 0, 0, 0, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	t := instants[r.IntN(len(instants))]
	zone := time.FixedZone("z", (r.IntN(5)-2)*3600)
	switch r.IntN(14) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return float64(r.IntN(5) - 2)
	case 3:
		return r.IntN(5) - 2
	case 4:
		return json.Number(fmt.Sprint(r.IntN(5) - 2))
	case 5:
		return []any{nil, 0.5, float32(0.5), json.Number("bad"), math.NaN()}[r.IntN(5)]
	case 6:
		return t.In(zone).Add(time.Duration(r.IntN(3)) * 400 * time.Microsecond)
	case 7:
		return t.In(zone).Format("2006-01-02T15:04:05.000Z07:00")
	case 8:
		return t.In(zone).Format(time.RFC3339)
	case 9:
		return t.Format("2006-01-02 15:04:05.999")
	case 10:
		return []string{"", "a", "B", "2014", "zzz", "2014-06-09T23:40:04.297Z!"}[r.IntN(6)]
	case 11:
		return map[string]any{"k": r.IntN(2)}
	case 12:
		return []int{r.IntN(2)}
	default:
		return t.Format("2006-01-02T15:04:05.000000000") // no zone: UTC, sub-ms digits
	}
}

func sign(c int) int { return min(max(c, -1), 1) }

// TestCompareIsATotalOrder checks reflexivity, antisymmetry and transitivity (of both < and =)
// over random triples, and that a stable sort by Compare leaves every adjacent pair in order.
func TestCompareIsATotalOrder(t *testing.T) {
	const seed = 20140609
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range 200_000 {
		a, b, c := randomValue(r), randomValue(r), randomValue(r)
		ab, ba, bc, ac := odata.Compare(a, b), odata.Compare(b, a), odata.Compare(b, c), odata.Compare(a, c)
		where := fmt.Sprintf("iteration %d (seed %d): a=%#v b=%#v c=%#v", i, seed, a, b, c)
		if ab != sign(ab) {
			t.Fatalf("%s: Compare returned %d, not -1, 0 or 1", where, ab)
		}
		if odata.Compare(a, a) != 0 {
			t.Fatalf("%s: Compare(a, a) = %d", where, odata.Compare(a, a))
		}
		if ab != -ba {
			t.Fatalf("%s: not antisymmetric: Compare(a,b)=%d Compare(b,a)=%d", where, ab, ba)
		}
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%s: not transitive: a<=b, b<=c but a>c", where)
		}
		if ab == 0 && ac != bc {
			t.Fatalf("%s: a=b but Compare(a,c)=%d, Compare(b,c)=%d", where, ac, bc)
		}
	}

	vals := make([]any, 500)
	for i := range vals {
		vals[i] = randomValue(r)
	}
	slices.SortStableFunc(vals, odata.Compare)
	for i := 1; i < len(vals); i++ {
		for j := 0; j < i; j++ {
			if odata.Compare(vals[j], vals[i]) > 0 {
				t.Fatalf("after sorting, %#v (at %d) > %#v (at %d)", vals[j], j, vals[i], i)
			}
		}
	}
}
