package odata_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// fuzzRows are evaluated against every filter the fuzzer finds valid.
var fuzzRows = []map[string]any{
	nil,
	{},
	{"a": 1.0, "b": "x", "c": true, "d": time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC), "id": "1"},
	{"a": "2014-06-09T23:40:04.297Z", "b": 0, "c": nil, "n": json.Number("1e400"), "m": map[string]any{}},
	{"A": int64(-5), "B": "héllo\xffwörld", "text": "green eggs", "updatedAt": "2014-06-09T23:40:04.297Z", "complete": false},
}

var filterSeeds = []string{
	incrementalV2,
	incrementalV1,
	"substringof('eggs',tolower(text))",
	"",
	" ",
	"a",
	"a eq 1",
	"a eq 1 and b ne 'x' or not c",
	"not a eq b",
	"a or b and c",
	"-3 mul -a sub --4",
	"a sub (b sub c)",
	"'it''s' eq b",
	"'unterminated",
	"a eq 'it''s",
	"datetimeoffset'garbage'",
	"datetime'2014-06-09T23:40'",
	"datetimeoffset'2014-06-10T01:40:04.2979999+02:00'",
	"datetime'0000-01-01T00:30:00+01:00'",
	"guid'0f8fad5b-d9cb-469f-a165-70867728950e'",
	"1e400",
	"1e-400",
	"-0",
	"123456789012345678901234567890",
	"10L add 1.5m add 2d add 3F",
	"a eq 1and b",
	"andy eq notable",
	"startswith(a)",
	"substring(B,1,2) eq 'é'",
	"substring(B,-1e300,1e300)",
	"concat(concat(b,b),concat(B,B))",
	"indexof(B,'w') add length(B) mod 0",
	"year(d) eq 2014 and hour(a) eq 23 and second(updatedAt) lt 5",
	"round(a div 3) eq floor(1.5) add ceiling(-1.5)",
	"foo(a)",
	"ToLower(a)",
	"a eq é",
	"a eq \xff\xfe",
	"'\u00e9\u4e16\u754c' eq B",
	strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100),
	strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101),
	strings.Repeat("not ", 120) + "a",
	strings.Repeat("-", 120) + "1",
	strings.Repeat("tolower(", 60) + "b" + strings.Repeat(")", 60),
	strings.Repeat("a eq 1 or ", 300) + "b",
	"'" + strings.Repeat("x", 5000) + "'",
	"(a eq 1",
	"a eq )",
	"a,b",
}

// FuzzParseFilter checks that ParseFilter never panics, reports errors as a *SyntaxError inside
// the input, and that whatever it accepts prints and parses back to an equal tree and evaluates
// without panicking.
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := odata.ParseFilter(s)
		if err != nil {
			checkSyntaxError(t, s, err, "$filter")
			return
		}
		out := odata.Format(e)
		back, err := odata.ParseFilter(out)
		if err != nil {
			if len(out) > odata.MaxInputBytes {
				return // documented: printing can lengthen an input near the limit
			}
			t.Fatalf("Format(ParseFilter(%q)) = %q does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip changed the tree:\ninput %q\nprinted %q\nfirst  %#v\nsecond %#v", s, out, e, back)
		}
		if again := odata.Format(back); again != out {
			t.Fatalf("printing is not idempotent: %q then %q", out, again)
		}
		for _, row := range fuzzRows {
			v := odata.Eval(e, row)
			switch v.(type) {
			case nil, bool, float64, string, time.Time:
			default:
				t.Fatalf("Eval(%q) returned %T", s, v)
			}
			if m := odata.Match(e, row); m != (v == true) {
				t.Fatalf("Match(%q) = %v but Eval = %#v", s, m, v)
			}
		}
		names := odata.Properties(e)
		if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("Properties(%q) = %q is not sorted and distinct", s, names)
		}
	})
}

var orderBySeeds = []string{
	"updatedAt",
	"__updatedAt",
	"a desc",
	"a desc, b asc, c",
	"tolower(name) desc,length(name)",
	"desc desc",
	"asc",
	"",
	"  ",
	"a,",
	",a",
	"a,,b",
	"a desc desc",
	"a DESC",
	"a b",
	"substring(a,1,2) desc,b",
	"a eq 1 desc",
	"'x' asc,-n desc",
	strings.Repeat("a,", 500) + "a",
	strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101),
}

// FuzzParseOrderBy checks ParseOrderBy the same way: no panics, positioned errors, and clauses
// that print and parse back equal.
func FuzzParseOrderBy(f *testing.F) {
	for _, s := range orderBySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := odata.ParseOrderBy(s)
		if err != nil {
			checkSyntaxError(t, s, err, "$orderby")
			return
		}
		if len(o) == 0 {
			t.Fatalf("ParseOrderBy(%q) succeeded with no keys", s)
		}
		out := odata.FormatOrderBy(o)
		back, err := odata.ParseOrderBy(out)
		if err != nil {
			if len(out) > odata.MaxInputBytes {
				return
			}
			t.Fatalf("FormatOrderBy(ParseOrderBy(%q)) = %q does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("round trip changed the clause:\ninput %q\nprinted %q\nfirst  %#v\nsecond %#v", s, out, o, back)
		}
		for _, row := range fuzzRows {
			for _, k := range o {
				v := odata.Eval(k.Expr, row)
				_ = odata.Compare(v, v)
			}
		}
	})
}

func checkSyntaxError(t *testing.T, s string, err error, param string) {
	t.Helper()
	var se *odata.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error for %q is %T, not *SyntaxError: %v", s, err, err)
	}
	if se.Pos < 0 || se.Pos > len(s) {
		t.Fatalf("error for %q has position %d outside the input: %v", s, se.Pos, err)
	}
	if se.Input != s || se.Msg == "" {
		t.Fatalf("error for %q is incomplete: %#v", s, se)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, param+": ") || !strings.Contains(msg, "position") {
		t.Fatalf("error text for %q does not name %s and the position: %s", s, param, msg)
	}
}
