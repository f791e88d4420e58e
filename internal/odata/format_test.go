package odata_test

import (
	"encoding/json"
	"errors"
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/odata"
)

var _ = Describe("Format", func() {
	DescribeTable("prints canonical text that parses back to the same tree",
		func(input, canonical string) {
			e, err := odata.ParseFilter(input)
			Expect(err).NotTo(HaveOccurred())
			out := odata.Format(e)
			Expect(out).To(Equal(canonical))
			back, err := odata.ParseFilter(out)
			Expect(err).NotTo(HaveOccurred())
			Expect(back).To(Equal(e))
			Expect(odata.Format(back)).To(Equal(out), "printing is idempotent")
		},
		Entry("v2 incremental sync", incrementalV2, "updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'"),
		Entry("v1 incremental sync", incrementalV1,
			"complete eq false and __updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'"),
		Entry("JS SDK substringof", "substringof('eggs',tolower(text))", "substringof('eggs',tolower(text))"),
		Entry("call spacing", "startswith( a , 'x' )", "startswith(a,'x')"),
		Entry("quotes are doubled", "'it''s'", "'it''s'"),
		Entry("guid prints as a string", "guid'0F8FAD5B-D9CB-469F-A165-70867728950E'", "'0F8FAD5B-D9CB-469F-A165-70867728950E'"),
		Entry("datetime with offset prints as UTC datetimeoffset", "datetime'2014-06-10T01:40:04.2971+02:00'",
			"datetimeoffset'2014-06-09T23:40:04.297Z'"),
		Entry("datetime without seconds gains them", "datetime'2014-06-09T23:40'", "datetimeoffset'2014-06-09T23:40:00.000Z'"),
		Entry("null true false", "a eq null or b eq true or c eq false", "a eq null or b eq true or c eq false"),
		Entry("integer suffix dropped", "10L", "10"),
		Entry("decimal", "1.50m", "1.5"),
		Entry("negative", "- 0.5", "-0.5"),
		Entry("small numbers in plain notation", "0.000001", "0.000001"),
		Entry("smaller numbers in exponent notation", "0.0000001", "1e-7"),
		Entry("large numbers in plain notation", "1e20", "100000000000000000000"),
		Entry("larger numbers in exponent notation", "1.5e21", "1.5e21"),
		Entry("beyond float64's integer precision", "123456789012345678", "123456789012345680"),
		Entry("redundant parentheses dropped", "((a eq 1) and (b eq 2))", "a eq 1 and b eq 2"),
		Entry("or inside and keeps parentheses", "(a or b) and c", "(a or b) and c"),
		Entry("and inside or needs none", "a or (b and c)", "a or b and c"),
		Entry("left-nested sub needs none", "(a sub b) sub c", "a sub b sub c"),
		Entry("right-nested sub keeps them", "a sub (b sub c)", "a sub (b sub c)"),
		Entry("right-nested comparison keeps them", "a eq (b eq c)", "a eq (b eq c)"),
		Entry("right-nested or keeps them", "a or (b or c)", "a or (b or c)"),
		Entry("product inside sum needs none", "(a mul b) add c", "a mul b add c"),
		Entry("sum inside product keeps them", "a mul (b add c)", "a mul (b add c)"),
		Entry("not of a comparison", "not (a eq b)", "not (a eq b)"),
		Entry("comparison of a not", "(not a) eq b", "not a eq b"),
		Entry("not not", "not(not(a))", "not not a"),
		Entry("negated sum", "-(a add b)", "-(a add b)"),
		Entry("double negation", "-(-(a))", "--a"),
		Entry("negative literal after sub", "a sub (-3)", "a sub -3"),
		Entry("negative literal under not", "not (-3)", "not -3"),
		Entry("negated call", "-length(a)", "-length(a)"),
		Entry("negated keyword literals stay unary", "-null eq -true", "-null eq -true"),
		Entry("arithmetic inside call arguments", "substring(a, (1 add 1), n)", "substring(a,1 add 1,n)"),
	)

	DescribeTable("prints hand-built trees",
		func(e odata.Expr, want string) {
			Expect(odata.Format(e)).To(Equal(want))
		},
		Entry("Eq of Lit int", odata.Eq(odata.Prop("n"), odata.Lit(5)), "n eq 5"),
		Entry("Lit of int64, uint8, float32", odata.And(odata.Eq(odata.Prop("a"), odata.Lit(int64(-2))),
			odata.Eq(odata.Prop("b"), odata.Lit(uint8(7))), odata.Eq(odata.Prop("c"), odata.Lit(float32(1.5)))),
			"a eq -2 and b eq 7 and c eq 1.5"),
		Entry("Lit of a named string type", odata.Lit(status("it's")), "'it''s'"),
		Entry("Lit of json.Number", odata.Lit(json.Number("2.50")), "2.5"),
		Entry("Lit of a zoned time with nanoseconds", odata.Lit(time.Date(2014, 6, 10, 1, 40, 4, 297_999_999, time.FixedZone("CEST", 7200))),
			"datetimeoffset'2014-06-09T23:40:04.297Z'"),
		Entry("Lit of nil", odata.Eq(odata.Prop("a"), odata.Lit(nil)), "a eq null"),
		Entry("And skips nils", odata.And(nil, odata.Eq(odata.Prop("a"), odata.Lit("x")), nil), "a eq 'x'"),
		Entry("And of nothing is true", odata.And(), "true"),
		Entry("Or of nothing is false", odata.Or(nil), "false"),
		Entry("Or inside And", odata.And(odata.Or(odata.Prop("a"), odata.Prop("b")), odata.Not(odata.Prop("c"))),
			"(a or b) and not c"),
		Entry("Not of Eq", odata.Not(odata.Eq(odata.Prop("a"), odata.Lit(true))), "not (a eq true)"),
		Entry("pointer nodes", &odata.Binary{Op: "eq", Left: &odata.Property{Name: "a"}, Right: &odata.Literal{Value: "x"}}, "a eq 'x'"),
		Entry("nil operand prints null", odata.Binary{Op: "eq", Left: odata.Prop("a")}, "a eq null"),
		Entry("unknown literal type prints null", odata.Literal{Value: []int{1}}, "null"),
		Entry("unknown operator is parenthesised", odata.Binary{Op: "has", Left: odata.Prop("a"),
			Right: odata.Binary{Op: "zz", Left: odata.Prop("b"), Right: odata.Prop("c")}}, "a has (b zz c)"),
	)

	DescribeTable("Lit refuses values no literal can hold",
		func(v any) {
			Expect(func() { odata.Lit(v) }).To(Panic())
		},
		Entry("NaN", math.NaN()),
		Entry("infinity", math.Inf(-1)),
		Entry("bad json.Number", json.Number("x")),
		Entry("map", map[string]any{}),
		Entry("slice", []any{1}),
		Entry("year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
	)
})

var _ = Describe("ParseOrderBy and FormatOrderBy", func() {
	DescribeTable("parse clauses and print them canonically",
		func(input string, want []odata.OrderBy, canonical string) {
			got, err := odata.ParseOrderBy(input)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
			Expect(odata.FormatOrderBy(got)).To(Equal(canonical))
			back, err := odata.ParseOrderBy(canonical)
			Expect(err).NotTo(HaveOccurred())
			Expect(back).To(Equal(got))
		},
		Entry("one key", "updatedAt", []odata.OrderBy{{Expr: p("updatedAt")}}, "updatedAt"),
		Entry("desc", "a desc", []odata.OrderBy{{Expr: p("a"), Desc: true}}, "a desc"),
		Entry("several keys", "a desc, b asc, c", []odata.OrderBy{
			{Expr: p("a"), Desc: true}, {Expr: p("b")}, {Expr: p("c")},
		}, "a desc,b,c"),
		Entry("whitespace everywhere", " a\tdesc ,\nb ", []odata.OrderBy{{Expr: p("a"), Desc: true}, {Expr: p("b")}}, "a desc,b"),
		Entry("an expression key", "tolower(name) desc,length(name)", []odata.OrderBy{
			{Expr: call("tolower", p("name")), Desc: true}, {Expr: call("length", p("name"))},
		}, "tolower(name) desc,length(name)"),
		Entry("a column named desc", "desc desc", []odata.OrderBy{{Expr: p("desc"), Desc: true}}, "desc desc"),
		Entry("a column named asc", "asc", []odata.OrderBy{{Expr: p("asc")}}, "asc"),
		Entry("v1 system column", "__updatedAt", []odata.OrderBy{{Expr: p("__updatedAt")}}, "__updatedAt"),
	)

	DescribeTable("reject malformed clauses at the right position",
		func(input string, pos int, msg string) {
			_, err := odata.ParseOrderBy(input)
			var se *odata.SyntaxError
			Expect(errors.As(err, &se)).To(BeTrue(), "error %v is not a *SyntaxError", err)
			Expect(se.Pos).To(Equal(pos), "message: %s", se.Msg)
			Expect(se.Msg).To(ContainSubstring(msg))
			Expect(err.Error()).To(HavePrefix("$orderby: "))
		},
		Entry("empty", "", 0, "empty $orderby"),
		Entry("blank", "  ", 2, "empty $orderby"),
		Entry("trailing comma", "a,", 2, "unexpected end of input, expected an expression"),
		Entry("leading comma", ",a", 0, "expected an expression, found ','"),
		Entry("double comma", "a,,b", 2, "expected an expression, found ','"),
		Entry("two directions", "a desc desc", 7, "expected ',', 'asc', 'desc' or end of input, found 'desc'"),
		Entry("upper-case direction", "a DESC", 2, "found 'DESC'"),
		Entry("missing comma", "a b", 2, "found 'b'"),
		Entry("incomplete expression", "a eq", 4, "unexpected end of input"),
		Entry("unknown function", "foo(a)", 0, "unknown function 'foo'"),
		Entry("unterminated string", "a,'x", 2, "unterminated string literal"),
	)
})
