// Package odata holds the one OData v3 $filter / $orderby grammar conflictlab speaks: a parser
// into a small AST, an evaluator over JSON-like rows, and a printer whose output parses back to
// the same tree. The fake server uses it to answer queries and the sync client uses it to read
// its local store, so both sides agree on what a filter means.
//
// # Grammar
//
// ParseFilter documents the grammar and ParseOrderBy the $orderby form. Inputs longer than
// MaxInputBytes, or nested (parentheses, calls, unary operators) deeper than MaxDepth, are
// rejected with a *SyntaxError, so parsing is linear in the input and never exhausts the stack.
//
// # Values
//
// Rows are map[string]any. A column value is normalised before use:
//
//   - nil, bool and string are themselves;
//   - every Go integer and float type and json.Number become float64; NaN, ±Inf and a
//     json.Number that does not parse become null;
//   - a named type over one of these kinds (type Status string) counts as that kind;
//   - time.Time becomes an instant in UTC truncated to the millisecond;
//   - anything else (maps, slices, structs, pointers) is of unknown type and counts as null.
//
// A property is looked up by its exact key; if that is absent, by a key equal under ASCII case
// folding (the ordinally smallest such key if several match); if that is absent too, it is null.
//
// # Three-valued logic
//
// Null stands for "unknown". Match(e, row) is true only when Eval(e, row) is boolean true.
//
//   - and: false if either side is false; true if both are true; otherwise null.
//   - or: true if either side is true; false if both are false; otherwise null.
//   - not: the negation of a boolean; null for null or any non-boolean.
//   - Operands of and/or that are not booleans count as null.
//
// # Comparisons (eq ne gt ge lt le)
//
//   - A comparison with the literal null tests for null, as SQL's IS NULL: x eq null is true
//     when x is null (a null value, a missing property, a column of unknown type, a function's
//     null result), x ne null is its negation, null eq null is true. Every other comparison
//     with a null side is null (unknown), eq and ne included: for a row without column c,
//     "c eq 1", "c ne 1" and "c eq d" (d also missing) are all null, so neither matches. This is
//     docs/protocol.md's rule and what the SQL stores behind the real servers and the SDKs do.
//   - Two booleans (false < true), two numbers, two strings (ordinally: byte-wise,
//     case-sensitive — two date strings too) or two times (as instants at millisecond precision)
//     compare as expected.
//   - A time and a string compare as instants when the string is a date-time; otherwise, and for
//     every other mix of types, the comparison is null — for eq and ne too, so 1 eq '1' and
//     1 ne '1' are both null.
//
// Date-time strings, in literals and in string columns, are YYYY-MM-DDThh:mm[:ss[.fff…]] followed
// by Z, ±hh:mm or nothing (meaning UTC); the T may also be t or a space; the instant must lie in
// the years 0000–9999. Extra fractional digits are truncated to the millisecond.
//
// # Arithmetic (add sub mul div mod, unary -)
//
// Defined on numbers only; any other operand gives null. Division or modulo by zero, or a result
// that is not finite (overflow), gives null. mod is math.Mod: the result has the sign of the
// dividend (-7 mod 3 is -1, 7.5 mod 2 is 1.5).
//
// # Functions
//
// A function given null or an argument of the wrong type returns null; none of them fail.
// Strings are measured in runes (an invalid UTF-8 byte counts as one rune).
//
//   - startswith(s, p), endswith(s, p), contains(s, p): booleans. substringof(p, s) is true when
//     s contains p — note the order, which is OData v3's.
//   - indexof(s, p): the rune index of the first p in s, or -1.
//   - tolower(s), toupper(s): Unicode case mapping (strings.ToLower/ToUpper). trim(s): removes
//     leading and trailing Unicode white space. length(s): runes.
//   - substring(s, i) and substring(s, i, n): the runes from i (n of them); i and n are truncated
//     toward zero, a negative i or n counts as 0, and both are clamped to the string's end.
//   - concat(a, b): a followed by b; both must be strings.
//   - year, month (1–12), day, hour, minute, second: the UTC component of a time or of a string
//     holding a date-time.
//   - round (halves away from zero), floor, ceiling: of a number.
//
// # Ordering
//
// $orderby sorts by Compare applied to Eval of each key; see Compare for the total order across
// types. Eval turns a value of unknown type into null, so such values sort with the nulls, first
// in ascending order; desc reverses Compare entirely, putting nulls last. Ties are the caller's
// to break (the server breaks them by id).
package odata
