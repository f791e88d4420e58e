package odata_test

import (
	"encoding/json"
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// row holds one column of every kind the evaluator distinguishes.
var row = map[string]any{
	"s":     "Hello",
	"u":     "héllo wörld",
	"n":     5.0,
	"i":     3,
	"i64":   int64(-2),
	"u8":    uint8(7),
	"f32":   float32(1.5),
	"jn":    json.Number("2.5"),
	"jbad":  json.Number("x"),
	"jnan":  json.Number("NaN"),
	"nan":   math.NaN(),
	"inf":   math.Inf(1),
	"t":     true,
	"f":     false,
	"nul":   nil,
	"d":     time.Date(2014, 6, 9, 23, 40, 4, 297_999_999, time.FixedZone("CEST", 2*3600)), // 21:40:04.297Z
	"ds":    "2014-06-09T21:40:04.297Z",
	"dsoff": "2014-06-09T23:40:04.297+02:00",
	"m":     map[string]any{"x": 1},
	"sl":    []any{1},
	"Mixed": "upper",
	"st":    status("open"),
	"lv":    level(3),
	"ptr":   new(int),
}

// Named types over basic kinds, as application code declares them.
type (
	status string
	level  uint16
)

var _ = Describe("Eval", func() {
	DescribeTable("evaluates to the expected value",
		func(filter string, want any) {
			e, err := odata.ParseFilter(filter)
			Expect(err).NotTo(HaveOccurred())
			got := odata.Eval(e, row)
			if want == nil {
				Expect(got).To(BeNil())
			} else {
				Expect(got).To(Equal(want))
			}
			Expect(odata.Match(e, row)).To(Equal(want == true), "Match is true exactly when Eval is true")
		},
		// Comparison of numbers, normalised from every Go number type.
		Entry("eq", "n eq 5", true),
		Entry("eq false", "n eq 4", false),
		Entry("ne", "n ne 5", false),
		Entry("ne true", "n ne 4", true),
		Entry("gt", "n gt 4", true),
		Entry("gt equal", "n gt 5", false),
		Entry("ge", "n ge 5", true),
		Entry("lt", "n lt 5", false),
		Entry("lt true", "n lt 5.5", true),
		Entry("le", "n le 5", true),
		Entry("le false", "n le 4.9", false),
		Entry("int", "i eq 3", true),
		Entry("int64", "i64 eq -2", true),
		Entry("uint8", "u8 eq 7", true),
		Entry("float32", "f32 eq 1.5", true),
		Entry("json.Number", "jn eq 2.5", true),
		Entry("mixed Go number types", "i add i64 eq 1", true),
		Entry("suffixed literal", "i eq 3L", true),

		// Strings: ordinal, case-sensitive.
		Entry("string eq", "s eq 'Hello'", true),
		Entry("string eq is case-sensitive", "s eq 'hello'", false),
		Entry("string gt", "s gt 'Hallo'", true),
		Entry("upper case sorts before lower case", "'B' lt 'a'", true),
		Entry("bytes, not collation", "'é' gt 'z'", true),
		Entry("two date strings compare as strings", "ds eq dsoff", false),
		Entry("two date strings order as strings", "dsoff gt ds", true),

		// Booleans.
		Entry("bool eq", "t eq true", true),
		Entry("false lt true", "f lt t", true),
		Entry("true gt false", "t gt f", true),
		Entry("bool ne", "t ne f", true),

		// Nulls.
		Entry("missing eq null", "missing eq null", true),
		Entry("missing ne null", "missing ne null", false),
		Entry("null column eq null", "nul eq null", true),
		Entry("null eq null", "null eq null", true),
		Entry("null ne null", "null ne null", false),
		Entry("value eq null", "n eq null", false),
		Entry("value ne null", "n ne null", true),
		Entry("null on the left", "null eq s", false),
		Entry("missing eq value is null", "missing eq 1", nil),
		Entry("missing ne value is null", "missing ne 1", nil),
		Entry("missing gt value is null", "missing gt 1", nil),
		Entry("value ge null is null", "n ge null", nil),
		Entry("null lt null is null", "null lt null", nil),
		Entry("null le missing is null", "nul le missing", nil),
		Entry("two null columns eq is null", "nul eq missing", nil),
		Entry("two null columns ne is null", "nul ne missing", nil),
		Entry("null literal on the left of ne", "null ne missing", false),
		Entry("not of a null comparison is null", "not (missing eq 1)", nil),
		Entry("unparsable json.Number is null", "jbad eq null", true),
		Entry("NaN is null", "nan eq null", true),
		Entry("json.Number NaN is null", "jnan eq null", true),
		Entry("infinity is null", "inf eq null", true),
		Entry("a map is null", "m eq null", true),
		Entry("a slice is null", "sl eq null", true),
		Entry("a pointer is null", "ptr eq null", true),
		Entry("a named string type is a string", "st eq 'open'", true),
		Entry("a named integer type is a number", "lv add 1 eq 4", true),
		Entry("a map compared to a value", "m eq 1", nil),
		Entry("function null result eq null", "tolower(n) eq null", true),

		// Mismatched types are unknown, for eq and ne too.
		Entry("number eq string", "n eq '5'", nil),
		Entry("number ne string", "n ne '5'", nil),
		Entry("bool eq number", "t eq 1", nil),
		Entry("string gt number", "s gt 1", nil),
		Entry("number lt time", "n lt d", nil),
		Entry("non-date string vs time", "s eq datetimeoffset'2014-06-09T21:40:04.297Z'", nil),
		Entry("non-date string ne time", "s ne d", nil),
		Entry("bool vs string", "t eq 'true'", nil),

		// Times and date strings compare as instants at millisecond precision.
		Entry("time eq literal", "d eq datetimeoffset'2014-06-09T21:40:04.297Z'", true),
		Entry("time eq literal in another zone", "d eq datetimeoffset'2014-06-09T23:40:04.297+02:00'", true),
		Entry("time vs literal with more digits", "d eq datetimeoffset'2014-06-09T21:40:04.2979Z'", true),
		Entry("time lt next millisecond", "d lt datetimeoffset'2014-06-09T21:40:04.298Z'", true),
		Entry("time ge earlier", "d ge datetime'2014-06-09T21:40:04'", true),
		Entry("date string eq time", "ds eq d", true),
		Entry("time eq date string", "d eq ds", true),
		Entry("date string with offset eq time", "dsoff eq d", true),
		Entry("date string ne time", "ds ne d", false),
		Entry("date string ge literal", "ds ge datetimeoffset'2014-06-09T21:40:04Z'", true),
		Entry("date string gt later literal", "ds gt datetimeoffset'2014-06-09T21:40:04.298Z'", false),
		Entry("date string lt later literal", "ds lt datetimeoffset'2014-06-09T21:40:04.298Z'", true),
		Entry("literal string vs time", "'2014-06-09 21:40:04.297' eq d", true),
		Entry("time ne same instant", "d ne datetime'2014-06-09T21:40:04.297'", false),

		// Logic: three-valued.
		Entry("true and true", "t and t", true),
		Entry("true and false", "t and f", false),
		Entry("false and null", "f and missing", false),
		Entry("null and false", "missing and f", false),
		Entry("true and null", "t and missing", nil),
		Entry("null and null", "missing and missing", nil),
		Entry("true or null", "t or missing", true),
		Entry("null or true", "missing or t", true),
		Entry("false or null", "f or missing", nil),
		Entry("false or false", "f or f", false),
		Entry("false or true", "f or t", true),
		Entry("not true", "not t", false),
		Entry("not false", "not f", true),
		Entry("not null", "not missing", nil),
		Entry("not of a number", "not n", nil),
		Entry("and with a number counts it as null", "n and t", nil),
		Entry("and with a number and false", "n and f", false),
		Entry("or with a string counts it as null", "s or f", nil),
		Entry("not of a null comparison", "not (missing gt 1)", nil),
		Entry("not of a mismatched comparison", "not (n eq 'x')", nil),

		// Precedence as evaluated.
		Entry("a or b and c is a or (b and c)", "t or f and f", true),
		Entry("(a or b) and c", "(t or f) and f", false),
		Entry("not a eq b is (not a) eq b", "not t eq f", true),
		Entry("not (a eq b)", "not (t eq f)", true),
		Entry("not f eq f is (not f) eq f", "not f eq f", false),
		Entry("mul before add", "n add 2 mul 3", 11.0),
		Entry("parentheses first", "(n add 2) mul 3", 21.0),
		Entry("sub is left-associative", "10 sub 4 sub 3", 3.0),
		Entry("div is left-associative", "24 div 4 div 2", 3.0),
		Entry("unary minus before mul", "-n mul 2", -10.0),

		// Arithmetic.
		Entry("add", "n add 2", 7.0),
		Entry("sub", "n sub 7", -2.0),
		Entry("mul", "n mul 2", 10.0),
		Entry("div", "n div 2", 2.5),
		Entry("mod", "n mod 3", 2.0),
		Entry("mod keeps the dividend's sign", "-7 mod 3", -1.0),
		Entry("mod of decimals", "7.5 mod 2", 1.5),
		Entry("div by zero", "n div 0", nil),
		Entry("mod by zero", "n mod 0", nil),
		Entry("negation", "-n", -5.0),
		Entry("negation of a string", "-s", nil),
		Entry("negation of null", "-missing", nil),
		Entry("add a string", "s add 1", nil),
		Entry("add null", "missing add 1", nil),
		Entry("add a bool", "t add 1", nil),
		Entry("add a time", "d add 1", nil),
		Entry("overflow is null", "1e308 mul 10", nil),
		Entry("arithmetic in a comparison", "n mul 2 eq 10", true),

		// String functions.
		Entry("startswith", "startswith(s,'He')", true),
		Entry("startswith is case-sensitive", "startswith(s,'he')", false),
		Entry("endswith", "endswith(s,'lo')", true),
		Entry("endswith false", "endswith(s,'He')", false),
		Entry("substringof(p, s)", "substringof('ell',s)", true),
		Entry("substringof argument order", "substringof(s,'ell')", false),
		Entry("contains(s, p)", "contains(s,'ell')", true),
		Entry("contains false", "contains(s,'xyz')", false),
		Entry("contains with null", "contains(s,missing)", nil),
		Entry("startswith on a number", "startswith(n,'5')", nil),
		Entry("startswith on null", "startswith(missing,'a')", nil),
		Entry("endswith with a number", "endswith(s,5)", nil),
		Entry("substringof with null", "substringof(missing,s)", nil),
		Entry("tolower", "tolower(s)", "hello"),
		Entry("toupper", "toupper(s)", "HELLO"),
		Entry("toupper of non-ASCII", "toupper(u)", "HÉLLO WÖRLD"),
		Entry("tolower of a number", "tolower(n)", nil),
		Entry("length in runes", "length(u)", 11.0),
		Entry("length", "length(s)", 5.0),
		Entry("length of null", "length(missing)", nil),
		Entry("trim", "trim('  x y \t')", "x y"),
		Entry("trim of a bool", "trim(t)", nil),
		Entry("indexof in runes", "indexof(u,'w')", 6.0),
		Entry("indexof not found", "indexof(s,'z')", -1.0),
		Entry("indexof of empty", "indexof(s,'')", 0.0),
		Entry("indexof of null", "indexof(s,missing)", nil),
		Entry("substring from", "substring(u,1)", "éllo wörld"),
		Entry("substring from, length", "substring(u,1,3)", "éll"),
		Entry("substring negative start", "substring(s,-2)", "Hello"),
		Entry("substring start past the end", "substring(s,10)", ""),
		Entry("substring length past the end", "substring(s,2,100)", "llo"),
		Entry("substring negative length", "substring(s,2,-1)", ""),
		Entry("substring truncates toward zero", "substring(s,1.9,2.9)", "el"),
		Entry("substring huge start", "substring(s,1e300)", ""),
		Entry("substring huge both", "substring(s,-1e300,1e300)", "Hello"),
		Entry("substring with a string index", "substring(s,'a')", nil),
		Entry("substring with a null length", "substring(s,1,missing)", nil),
		Entry("substring of null", "substring(missing,1)", nil),
		Entry("concat", "concat(s,' world')", "Hello world"),
		Entry("concat with null", "concat(s,missing)", nil),
		Entry("concat with a number", "concat(s,n)", nil),
		Entry("JS SDK substringof", "substringof('ell',tolower(s))", true),

		// Date functions, in UTC.
		Entry("year", "year(d)", 2014.0),
		Entry("month", "month(d)", 6.0),
		Entry("day", "day(d)", 9.0),
		Entry("hour in UTC", "hour(d)", 21.0),
		Entry("minute", "minute(d)", 40.0),
		Entry("second", "second(d)", 4.0),
		Entry("hour of a date string with offset", "hour(dsoff)", 21.0),
		Entry("year of a date literal", "year(datetime'1999-12-31T23:59:59Z')", 1999.0),
		Entry("year of a non-date string", "year(s)", nil),
		Entry("year of a number", "year(n)", nil),
		Entry("day of null", "day(missing)", nil),

		// Math functions.
		Entry("round half away from zero", "round(2.5)", 3.0),
		Entry("round negative half", "round(-2.5)", -3.0),
		Entry("round a float32 column", "round(f32)", 2.0),
		Entry("round down", "round(2.4)", 2.0),
		Entry("floor", "floor(-1.5)", -2.0),
		Entry("ceiling", "ceiling(1.2)", 2.0),
		Entry("round of a string", "round(s)", nil),
		Entry("floor of null", "floor(missing)", nil),

		// Property lookup.
		Entry("case-insensitive fallback", "mixed eq 'upper'", true),
		Entry("case-insensitive fallback, upper", "MIXED eq 'upper'", true),
		Entry("literal evaluates to itself", "'x'", "x"),
		Entry("a property evaluates to its normalised value", "i", 3.0),
		Entry("a time property in UTC at ms", "d", time.Date(2014, 6, 9, 21, 40, 4, 297_000_000, time.UTC)),
	)

	It("prefers the exact key, then the ordinally smallest case-insensitive match", func() {
		r := map[string]any{"a": 1, "A": 2, "Bc": "first", "bC": "second", "BC": "third"}
		Expect(odata.Eval(p("a"), r)).To(Equal(1.0))
		Expect(odata.Eval(p("A"), r)).To(Equal(2.0))
		Expect(odata.Eval(p("bc"), r)).To(Equal("third")) // "BC" < "Bc" < "bC"
		Expect(odata.Eval(p("x"), r)).To(BeNil())
		Expect(odata.Eval(p("x"), nil)).To(BeNil())
	})

	It("evaluates hand-built and degenerate trees without panicking", func() {
		Expect(odata.Eval(nil, row)).To(BeNil())
		Expect(odata.Eval(&odata.Binary{Op: "eq", Left: &odata.Property{Name: "n"}, Right: odata.Lit(5)}, row)).To(Equal(true))
		Expect(odata.Eval((*odata.Binary)(nil), row)).To(BeNil())
		Expect(odata.Eval(odata.Literal{Value: 7}, row)).To(Equal(7.0))
		Expect(odata.Eval(odata.Binary{Op: "has", Left: p("n"), Right: p("n")}, row)).To(BeNil())
		Expect(odata.Eval(odata.Unary{Op: "~", X: p("n")}, row)).To(BeNil())
		Expect(odata.Eval(odata.Call{Name: "startswith", Args: []odata.Expr{p("s")}}, row)).To(BeNil())
		Expect(odata.Eval(odata.Call{Name: "nosuch"}, row)).To(BeNil())
		Expect(odata.Eval(odata.Binary{Op: "and", Left: odata.Lit(true)}, row)).To(BeNil())
	})
})

var _ = Describe("Match on the SDKs' incremental-sync filters", func() {
	DescribeTable("v2: updatedAt ge token",
		func(updatedAt any, want bool) {
			e, err := odata.ParseFilter(incrementalV2)
			Expect(err).NotTo(HaveOccurred())
			Expect(odata.Match(e, map[string]any{"id": "1", "updatedAt": updatedAt})).To(Equal(want))
		},
		Entry("time equal to the token", token, true),
		Entry("time a millisecond later", token.Add(time.Millisecond), true),
		Entry("time a millisecond earlier", token.Add(-time.Millisecond), false),
		Entry("time within the same millisecond", token.Add(999*time.Microsecond), true),
		Entry("time in another zone", token.In(time.FixedZone("PDT", -7*3600)), true),
		Entry("client string equal to the token", "2014-06-09T23:40:04.297Z", true),
		Entry("client string a millisecond earlier", "2014-06-09T23:40:04.296Z", false),
		Entry("client string without fraction, earlier", "2014-06-09T23:40:04Z", false),
		Entry("client string with offset, later", "2014-06-10T01:40:04.298+02:00", true),
		Entry("non-date string", "yesterday", false),
		Entry("missing column", nil, false),
	)

	It("v1: complete eq false and __updatedAt ge token", func() {
		e, err := odata.ParseFilter(incrementalV1)
		Expect(err).NotTo(HaveOccurred())
		Expect(odata.Match(e, map[string]any{"complete": false, "__updatedAt": token})).To(BeTrue())
		Expect(odata.Match(e, map[string]any{"complete": true, "__updatedAt": token})).To(BeFalse())
		Expect(odata.Match(e, map[string]any{"complete": false, "__updatedAt": token.Add(-time.Second)})).To(BeFalse())
		Expect(odata.Match(e, map[string]any{"__updatedAt": token})).To(BeFalse(), "a missing complete is not false")
	})
})
