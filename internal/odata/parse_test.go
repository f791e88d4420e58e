package odata_test

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/odata"
)

var _ = Describe("ParseFilter", func() {
	DescribeTable("parses valid filters into the expected tree",
		func(input string, want odata.Expr) {
			got, err := odata.ParseFilter(input)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		// The SDKs' own filters.
		Entry("v2 incremental sync", incrementalV2, bin("ge", p("updatedAt"), l(token))),
		Entry("v1 incremental sync", incrementalV1,
			bin("and", bin("eq", p("complete"), l(false)), bin("ge", p("__updatedAt"), l(token)))),
		Entry("JS SDK substringof", "substringof('eggs',tolower(text))",
			call("substringof", l("eggs"), call("tolower", p("text")))),

		// Literals.
		Entry("string", "a eq 'x'", bin("eq", p("a"), l("x"))),
		Entry("empty string", "''", l("")),
		Entry("doubled quote", "'it''s'", l("it's")),
		Entry("only a quote", "''''", l("'")),
		Entry("string keeps spaces and unicode", "'  héllo, wörld ) ( '", l("  héllo, wörld ) ( ")),
		Entry("integer", "12", l(12.0)),
		Entry("leading zeros", "007", l(7.0)),
		Entry("decimal", "1.5", l(1.5)),
		Entry("negative integer folds into the literal", "-3", l(-3.0)),
		Entry("negated parenthesised number folds too", "-(3)", l(-3.0)),
		Entry("double negation folds", "--3", l(3.0)),
		Entry("exponent", "1e5", l(1e5)),
		Entry("exponent with sign", "1E+5", l(1e5)),
		Entry("negative exponent", "2.5e-3", l(2.5e-3)),
		Entry("underflow is zero", "1e-400", l(0.0)),
		Entry("long suffix L", "10L", l(10.0)),
		Entry("long suffix l", "10l", l(10.0)),
		Entry("decimal suffix M", "1.5M", l(1.5)),
		Entry("decimal suffix m", "1.5m", l(1.5)),
		Entry("double suffix d", "2d", l(2.0)),
		Entry("single suffix F", "2.25F", l(2.25)),
		Entry("true", "true", l(true)),
		Entry("false", "false", l(false)),
		Entry("null", "null", l(nil)),
		Entry("datetime with Z", "datetime'2014-06-09T23:40:04.297Z'", l(token)),
		Entry("datetime without zone is UTC", "datetime'2014-06-09T23:40:04.297'", l(token)),
		Entry("datetime without seconds", "datetime'2014-06-09T23:40'", l(utc(2014, time.June, 9, 23, 40, 0, 0))),
		Entry("datetime without fraction", "datetime'2014-06-09T23:40:04'", l(utc(2014, time.June, 9, 23, 40, 4, 0))),
		Entry("datetimeoffset with offset becomes UTC", "datetimeoffset'2014-06-10T01:40:04.297+02:00'", l(token)),
		Entry("datetimeoffset with negative offset", "datetimeoffset'2014-06-09T18:10:04.297-05:30'", l(token)),
		Entry("fraction truncated to milliseconds", "datetimeoffset'2014-06-09T23:40:04.2979999Z'", l(token)),
		Entry("lower-case t and z", "datetimeoffset'2014-06-09t23:40:04.297z'", l(token)),
		Entry("space separator", "datetime'2014-06-09 23:40:04.297'", l(token)),
		Entry("prefix is case-insensitive", "DateTimeOffset'2014-06-09T23:40:04.297Z'", l(token)),
		Entry("leap day", "datetime'2016-02-29T00:00:00Z'", l(utc(2016, time.February, 29, 0, 0, 0, 0))),
		Entry("year 0000", "datetime'0000-01-01T00:00:00Z'", l(utc(0, time.January, 1, 0, 0, 0, 0))),
		Entry("guid becomes a string", "id eq guid'0f8fad5b-d9cb-469f-a165-70867728950e'",
			bin("eq", p("id"), l("0f8fad5b-d9cb-469f-a165-70867728950e"))),

		// Names.
		Entry("keyword prefix is a name", "andy eq 1", bin("eq", p("andy"), l(1.0))),
		Entry("keyword suffix is a name", "a eq notable", bin("eq", p("a"), p("notable"))),
		Entry("v1 system column", "__version eq 'AAA='", bin("eq", p("__version"), l("AAA="))),
		Entry("underscore and digits", "_x1 eq x_2", bin("eq", p("_x1"), p("x_2"))),
		Entry("function name without parentheses is a property", "length eq 1", bin("eq", p("length"), l(1.0))),
		Entry("typed-literal prefix without quote is a property", "datetime eq 1", bin("eq", p("datetime"), l(1.0))),
		Entry("upper-case keyword is a name", "NULL eq null", bin("eq", p("NULL"), l(nil))),
		Entry("orderby keywords are names in a filter", "desc eq asc", bin("eq", p("desc"), p("asc"))),

		// Precedence and associativity.
		Entry("and binds tighter than or", "a or b and c", bin("or", p("a"), bin("and", p("b"), p("c")))),
		Entry("and binds tighter than or, on the left", "a and b or c", bin("or", bin("and", p("a"), p("b")), p("c"))),
		Entry("parentheses override", "(a or b) and c", bin("and", bin("or", p("a"), p("b")), p("c"))),
		Entry("not binds tighter than eq", "not a eq b", bin("eq", un("not", p("a")), p("b"))),
		Entry("not of a parenthesised comparison", "not (a eq b)", un("not", bin("eq", p("a"), p("b")))),
		Entry("not directly before a parenthesis", "not(a)", un("not", p("a"))),
		Entry("not not", "not not a", un("not", un("not", p("a")))),
		Entry("comparison binds tighter than and", "a eq 1 and b ne 2",
			bin("and", bin("eq", p("a"), l(1.0)), bin("ne", p("b"), l(2.0)))),
		Entry("arithmetic binds tighter than comparison", "a add 1 gt b mul 2",
			bin("gt", bin("add", p("a"), l(1.0)), bin("mul", p("b"), l(2.0)))),
		Entry("mul binds tighter than add", "a add b mul c", bin("add", p("a"), bin("mul", p("b"), p("c")))),
		Entry("div and mod share mul's level", "a div b mod c", bin("mod", bin("div", p("a"), p("b")), p("c"))),
		Entry("sub is left-associative", "a sub b sub c", bin("sub", bin("sub", p("a"), p("b")), p("c"))),
		Entry("comparison is left-associative", "a eq b eq c", bin("eq", bin("eq", p("a"), p("b")), p("c"))),
		Entry("or is left-associative", "a or b or c", bin("or", bin("or", p("a"), p("b")), p("c"))),
		Entry("unary minus binds tighter than mul", "-a mul b", bin("mul", un("-", p("a")), p("b"))),
		Entry("negative literal after an operator", "a sub -3 mul -b",
			bin("sub", p("a"), bin("mul", l(-3.0), un("-", p("b"))))),
		Entry("minus right after a keyword", "a eq-1", bin("eq", p("a"), l(-1.0))),
		Entry("negation of a sum", "-(a add b)", un("-", bin("add", p("a"), p("b")))),
		Entry("negated string stays unary", "-'x'", un("-", l("x"))),
		Entry("mod comparison", "a mod 2 eq 1", bin("eq", bin("mod", p("a"), l(2.0)), l(1.0))),
		Entry("redundant parentheses vanish", "(((a)))", p("a")),

		// Whitespace.
		Entry("tabs and newlines", "\ta\n eq\r\n1 ", bin("eq", p("a"), l(1.0))),
		Entry("no space around parentheses", "(a)eq(1)", bin("eq", p("a"), l(1.0))),
		Entry("no space after a string", "'x'eq a", bin("eq", l("x"), p("a"))),

		// Functions.
		Entry("startswith", "startswith(a,'x')", call("startswith", p("a"), l("x"))),
		Entry("endswith", "endswith(a,'x')", call("endswith", p("a"), l("x"))),
		Entry("contains", "contains(a, 'x')", call("contains", p("a"), l("x"))),
		Entry("indexof", "indexof(a,'x') eq 2", bin("eq", call("indexof", p("a"), l("x")), l(2.0))),
		Entry("substring with 2 arguments", "substring(a,1)", call("substring", p("a"), l(1.0))),
		Entry("substring with 3 arguments", "substring(a,1,2)", call("substring", p("a"), l(1.0), l(2.0))),
		Entry("concat", "concat(a,'b')", call("concat", p("a"), l("b"))),
		Entry("toupper, trim, length", "length(trim(toupper(a)))",
			call("length", call("trim", call("toupper", p("a"))))),
		Entry("date parts", "year(d) eq 2014 and month(d) eq 6 and day(d) eq 9 and hour(d) eq 23 and minute(d) eq 40 and second(d) eq 4",
			bin("and", bin("and", bin("and", bin("and", bin("and",
				bin("eq", call("year", p("d")), l(2014.0)),
				bin("eq", call("month", p("d")), l(6.0))),
				bin("eq", call("day", p("d")), l(9.0))),
				bin("eq", call("hour", p("d")), l(23.0))),
				bin("eq", call("minute", p("d")), l(40.0))),
				bin("eq", call("second", p("d")), l(4.0)))),
		Entry("round floor ceiling", "round(a) add floor(b) add ceiling(c)",
			bin("add", bin("add", call("round", p("a")), call("floor", p("b"))), call("ceiling", p("c")))),
		Entry("spaces inside a call", "tolower( a )", call("tolower", p("a"))),
		Entry("space before the argument list", "tolower (a)", call("tolower", p("a"))),
		Entry("expressions as arguments", "substring(a, 1 add 1, n mul 2) eq 'x'",
			bin("eq", call("substring", p("a"), bin("add", l(1.0), l(1.0)), bin("mul", p("n"), l(2.0))), l("x"))),

		// Limits.
		Entry("100 nested parentheses", strings.Repeat("(", 100)+"a"+strings.Repeat(")", 100), p("a")),
		Entry("100 nots", strings.Repeat("not ", 100)+"a", nest(100, func(x odata.Expr) odata.Expr { return un("not", x) }, p("a"))),
		Entry("input of exactly 64 KiB", strings.Repeat("a", odata.MaxInputBytes), p(strings.Repeat("a", odata.MaxInputBytes))),
	)

	DescribeTable("rejects invalid filters with a SyntaxError at the right position",
		func(input string, pos int, msg string) {
			_, err := odata.ParseFilter(input)
			var se *odata.SyntaxError
			Expect(errors.As(err, &se)).To(BeTrue(), "error %v is not a *SyntaxError", err)
			Expect(se.Pos).To(Equal(pos), "message: %s", se.Msg)
			Expect(se.Msg).To(ContainSubstring(msg))
			Expect(se.Input).To(Equal(input))
		},
		Entry("empty", "", 0, "unexpected end of input, expected an expression"),
		Entry("blank", "  \t", 3, "unexpected end of input, expected an expression"),
		Entry("missing right operand", "a eq", 4, "unexpected end of input, expected an expression"),
		Entry("operator at the end of a chain", "a eq 1 and", 10, "unexpected end of input, expected an expression"),
		Entry("unclosed parenthesis", "(a eq 1", 7, "expected ')', found end of input"),
		Entry("unclosed parenthesis before a word", "(a eq 1 b", 8, "expected ')', found 'b'"),
		Entry("stray closing parenthesis", "a eq 1)", 6, "expected an operator or end of input, found ')'"),
		Entry("two operands", "a eq 1 b", 7, "expected an operator or end of input, found 'b'"),
		Entry("comma at top level", "a,b", 1, "found ','"),
		Entry("upper-case operator", "a eq 1 AND b eq 2", 7, "found 'AND'"),
		Entry("number glued to a keyword", "a eq 1and b", 6, "invalid number literal"),
		Entry("number glued to a name", "a eq 12abc", 7, "invalid number literal"),
		Entry("suffix glued to a name", "a eq 10Lx", 8, "invalid number literal"),
		Entry("dot without digits", "a eq 1.", 7, "expected a digit after '.'"),
		Entry("exponent without digits", "a eq 1e", 7, "expected a digit in the exponent"),
		Entry("exponent sign without digits", "a eq 1e+", 8, "expected a digit in the exponent"),
		Entry("huge number", "a eq 1e400", 5, "out of range"),
		Entry("huge negative number", "a eq -1e400", 6, "out of range"),
		Entry("leading dot", "a eq .5", 5, "unexpected character '.'"),
		Entry("unterminated string", "a eq 'abc", 5, "unterminated string literal"),
		Entry("unterminated after a doubled quote", "a eq 'it''s", 5, "unterminated string literal"),
		Entry("unterminated typed literal", "a eq datetime'2014", 5, "unterminated string literal"),
		Entry("garbage datetimeoffset", "datetimeoffset'garbage'", 0, "invalid datetimeoffset literal 'garbage'"),
		Entry("30 February", "a eq datetime'2014-02-30T00:00:00Z'", 5, "invalid datetime literal"),
		Entry("hour 24", "a eq datetime'2014-02-03T24:00:00Z'", 5, "invalid datetime literal"),
		Entry("date without a time", "a eq datetime'2014-02-03'", 5, "invalid datetime literal '2014-02-03'"),
		Entry("offset without colon", "a eq datetimeoffset'2014-02-03T10:00:00+0200'", 5, "invalid datetimeoffset literal"),
		Entry("year beyond 9999 after the offset", "a eq datetimeoffset'9999-12-31T23:00:00-02:00'", 5, "invalid datetimeoffset literal"),
		Entry("bad guid", "a eq guid'xyz'", 5, "invalid guid literal 'xyz'"),
		Entry("unsupported typed literal", "a eq X'0A'", 5, "unsupported literal type 'X'"),
		Entry("keyword glued to a string", "a eq'x'", 2, "unsupported literal type 'eq'"),
		Entry("plus sign", "a + 1", 2, "unexpected character '+'"),
		Entry("slash (member access is not supported)", "a/b eq 1", 1, "unexpected character '/'"),
		Entry("non-ASCII letter", "a eq é", 5, "unexpected character 'é'"),
		Entry("invalid UTF-8", "a eq \xff", 5, "unexpected byte 0xff"),
		Entry("keyword as an operand", "eq eq 1", 0, "expected an expression, found keyword 'eq'"),
		Entry("two operators", "a and or b", 6, "expected an expression, found keyword 'or'"),
		Entry("closing parenthesis as an operand", "a eq )", 5, "expected an expression, found ')'"),
		Entry("empty parentheses", "()", 1, "expected an expression, found ')'"),
		Entry("not without operand", "not", 3, "unexpected end of input, expected an expression"),
		Entry("unknown function", "foo(a)", 0, "unknown function 'foo'"),
		Entry("unknown function later", "a eq 1 and bar(a)", 11, "unknown function 'bar'"),
		Entry("function names are lower-case", "ToLower(a) eq 'x'", 0, "unknown function 'ToLower'"),
		Entry("too few arguments", "a eq startswith(a)", 5, "startswith takes 2 arguments, got 1"),
		Entry("too many arguments", "tolower(a,b)", 0, "tolower takes 1 argument, got 2"),
		Entry("no arguments", "length()", 0, "length takes 1 argument, got 0"),
		Entry("substring with one argument", "substring(a)", 0, "substring takes 2 or 3 arguments, got 1"),
		Entry("substring with four arguments", "substring(a,1,2,3)", 0, "substring takes 2 or 3 arguments, got 4"),
		Entry("trailing comma in a call", "startswith(a,)", 13, "expected an expression, found ')'"),
		Entry("missing comma in a call", "startswith(a 'x')", 13, "expected ',' or ')' in the arguments of startswith, found literal 'x'"),
		Entry("unclosed call", "substringof('eggs',tolower(text)", 32, "expected ',' or ')' in the arguments of substringof, found end of input"),
		Entry("101 nested parentheses", strings.Repeat("(", 101)+"a"+strings.Repeat(")", 101), 100, "too deeply nested"),
		Entry("101 nots", strings.Repeat("not ", 101)+"a", 400, "too deeply nested"),
		Entry("101 minus signs", strings.Repeat("-", 101)+"1", 100, "too deeply nested"),
		Entry("101 nested calls", strings.Repeat("tolower(", 101)+"a"+strings.Repeat(")", 101), 800, "too deeply nested"),
		Entry("parentheses and nots add up", strings.Repeat("(not ", 51)+"a"+strings.Repeat(")", 51), 250, "too deeply nested"),
		Entry("input over 64 KiB", strings.Repeat("a", odata.MaxInputBytes+1), odata.MaxInputBytes, "longer than the limit of 65536"),
	)

	It("names the parameter, the position and the input in the error text", func() {
		_, err := odata.ParseFilter("(a eq 1")
		Expect(err).To(MatchError(`$filter: expected ')', found end of input at position 7: "(a eq 1"`))
	})

	It("clips long quoted text in messages on a rune boundary", func() {
		_, err := odata.ParseFilter("a eq guid'" + strings.Repeat("é", 30) + "'")
		var se *odata.SyntaxError
		Expect(errors.As(err, &se)).To(BeTrue())
		Expect(se.Msg).To(HavePrefix("invalid guid literal 'éé"))
		Expect(se.Msg).To(HaveSuffix("...'"))
		Expect(utf8.ValidString(se.Msg)).To(BeTrue(), "message %q", se.Msg)
	})

	It("shows an excerpt around the position of a long input", func() {
		input := "a eq 1 and " + strings.Repeat("b eq 1 and ", 50) + "c eq"
		_, err := odata.ParseFilter(input)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(HavePrefix(fmt.Sprintf("$filter: unexpected end of input, expected an expression at position %d: \"...", len(input))))
		Expect(len(err.Error())).To(BeNumerically("<", 200))
	})
})

var _ = Describe("Properties", func() {
	DescribeTable("lists distinct referenced names, sorted",
		func(input string, want []string) {
			e, err := odata.ParseFilter(input)
			Expect(err).NotTo(HaveOccurred())
			Expect(odata.Properties(e)).To(Equal(want))
		},
		Entry("none", "1 eq 1", []string{}),
		Entry("one", incrementalV2, []string{"updatedAt"}),
		Entry("sorted and distinct", "b eq a or a eq c and B eq 1", []string{"B", "a", "b", "c"}),
		Entry("inside calls and unary operators", "not startswith(tolower(name), prefix) and -n gt 1", []string{"n", "name", "prefix"}),
	)
})

// nest applies wrap n times around x.
func nest(n int, wrap func(odata.Expr) odata.Expr, x odata.Expr) odata.Expr {
	for range n {
		x = wrap(x)
	}
	return x
}
