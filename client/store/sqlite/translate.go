package sqlite

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// This file turns an OData $filter into SQL over the JSON document column `doc`, so that the
// store can let SQLite pick the rows instead of decoding every document.
//
// # Approach
//
// Every subexpression is translated bottom-up into one of two shapes:
//
//   - a val (an OData value): one SQL expression per type the value may have at run time — num
//     (a REAL), str (a TEXT) and bln (0 or 1) — each NULL unless the row's value has that type,
//     in which case it equals it. A component that is statically impossible is absent (nil). A
//     value that has none of its components non-NULL is OData null. So a property p becomes
//     "CASE WHEN json_type(doc, p) IN ('integer','real') THEN CAST(json_extract(doc, p) AS REAL)
//     END" for num, and so on; arrays and objects (values of unknown type, null to OData) have no
//     component. Time values only come from literals, so they stay Go constants.
//   - a cond (an OData boolean, true/false/null), used for comparisons, and, or, not and the
//     boolean position of a value.
//
// Three-valued logic maps onto SQL's: a cond that is exact is one SQL expression whose value is
// 1, 0 or NULL exactly where Eval gives true, false or null, and SQL's AND, OR and NOT on
// 0/1/NULL are OData's and, or and not (Kleene logic: false and null is false, true or null is
// true, not null is null). Non-boolean operands of and/or are null because a val in boolean
// position contributes only its bln component.
//
// Where SQLite cannot reproduce OData for every row (tolower/toupper of non-ASCII text, length
// and substring of text holding NUL characters, a property whose path is unknown, an operator
// or function odata does not know, a result too large for SQLite's limits), the translation is
// inexact. Two forms carry that:
//
//   - guarded: an exact-looking expression v plus a two-valued SQL predicate u ("unsure") that
//     is true on the rows where v may be wrong; the row's outcome is then unknown, so it is kept
//     as a candidate.
//   - loose: two predicates, maybe-true t and maybe-false f, each true on a superset of the rows
//     where the condition is true (false). not swaps them, "a and b" is t = ta AND tb,
//     f = fa OR fb, "a or b" is t = ta OR tb, f = fa AND fb. SQL's NOT is never applied to t or
//     f, so a NULL inside them only ever counts as "not a candidate", which is safe because AND
//     and OR are monotone. An untranslatable condition is t = f = 1.
//
// The WHERE clause is the exact expression, or t. Exactness therefore propagates: the result is
// exact exactly when no part needed a guard or fell back, and otherwise it is a superset.
//
// Numbers are compared and computed as REAL (CAST, so that integers beyond 2^53 round as
// encoding/json rounds them; REAL operands also rule out SQLite's integer division). SQLite's
// IEEE arithmetic is Go's; an overflow to ±Inf is turned into NULL as odata's finite does, and
// SQLite already gives NULL for NaN and for division by zero. Strings compare with
// COLLATE BINARY (memcmp, Go's byte order); prefix, suffix and containment work on BLOB casts so
// they are byte-wise and unaffected by NUL characters.
//
// Dates: a date-time literal compares with a string value as an instant when the string parses
// (odata's "dated text"). The string is parsed in SQL by dateKey, which reproduces odata's
// parseDateTime grammar and validation and yields the instant as canonical
// "YYYY-MM-DDTHH:MM:SS.sssZ" text (or NULL when it is not a date-time), whose byte order is the
// instant order; so date comparisons, and year() … second(), are exact for every string, not
// only canonical ones.
//
// A value needed several times (the string dateKey parses, the operands of endswith or round)
// is bound once in a subquery, "(SELECT … FROM (SELECT x AS _q1 LIMIT 1 OFFSET 0))". The OFFSET
// keeps SQLite from flattening the subquery, which would substitute x at every use and make
// nested uses exponential. Constant subtrees (no property) are evaluated with odata.Eval, and
// chains of and/or are rebuilt as balanced trees, which keeps long filters shallow.
//
// Assumptions about the stored documents (true of what encoding/json.Marshal writes): valid
// JSON in valid UTF-8, no duplicate keys (SQLite reads the first, encoding/json the last), no
// \ud800-style lone surrogate escapes (SQLite keeps them, encoding/json turns them into
// U+FFFD). path, not this file, decides which key a property name refers to (odata.Eval falls
// back to an ASCII case-insensitive match).

// Limits that keep a translation within what SQLite compiles (SQLITE_MAX_EXPR_DEPTH is 1000,
// its parser recurses too, bound variables are limited to 32766). A part that would exceed them
// is given up (inexact) instead.
const (
	sqlMaxDepth = 250       // in the units of frag.depth (at most about three SQL expression levels each)
	sqlMaxArgs  = 20000     // bound parameters in the whole translation
	sqlMaxSize  = 256 << 10 // bytes of SQL text
	// sqlSubqueryDepth is what one nested SELECT costs in frag.depth units.
	sqlSubqueryDepth = 6
)

// frag is a piece of SQL and its bound arguments, kept as a tree so that composing pieces
// costs nothing until render.
type frag struct {
	parts []any // string (SQL text), *frag, or sqlParam
	lit   string
	size  int // rendered bytes
	nargs int
	depth int
}

type sqlParam struct{ v any }

// sq concatenates SQL text, frags and sqlParams into a frag one level deeper than its deepest
// part.
func sq(parts ...any) *frag { return buildFrag(1, parts) }

// subquery is sq for a piece that opens SELECTs, which weigh more against SQLite's limits.
func subquery(levels int, parts ...any) *frag { return buildFrag(levels*sqlSubqueryDepth, parts) }

func buildFrag(weight int, parts []any) *frag {
	f := &frag{parts: parts}
	d := 0
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			f.size += len(x)
		case *frag:
			f.size += x.size
			f.nargs += x.nargs
			d = max(d, x.depth)
		case sqlParam:
			f.size++
			f.nargs++
		}
	}
	f.depth = d + weight
	return f
}

// sqlLit is a constant SQL expression ("1", "0", "NULL" or a number spelled in SQL).
func sqlLit(s string) *frag { return &frag{parts: []any{s}, lit: s, size: len(s)} }

// sqlName is SQL text that is not a constant (a column name).
func sqlName(s string) *frag { return &frag{parts: []any{s}, size: len(s)} }

// bindArg is a bound parameter on its own.
func bindArg(v any) *frag { return &frag{parts: []any{sqlParam{v}}, size: 1, nargs: 1} }

var (
	fTrue  = sqlLit("1")
	fFalse = sqlLit("0")
	fNull  = sqlLit("NULL")
)

func (f *frag) tooBig() bool {
	return f.depth > sqlMaxDepth || f.nargs > sqlMaxArgs || f.size > sqlMaxSize
}

func (f *frag) render(b *strings.Builder, args *[]any) {
	for _, p := range f.parts {
		switch x := p.(type) {
		case string:
			b.WriteString(x)
		case *frag:
			x.render(b, args)
		case sqlParam:
			b.WriteByte('?')
			*args = append(*args, x.v)
		}
	}
}

// and3, or3 and not3 combine exact three-valued (0/1/NULL) expressions.
func and3(a, b *frag) *frag {
	switch {
	case a.lit == "0" || b.lit == "0":
		return fFalse
	case a.lit == "1":
		return b
	case b.lit == "1":
		return a
	}
	return sq("(", a, " AND ", b, ")")
}

func or3(a, b *frag) *frag {
	switch {
	case a.lit == "1" || b.lit == "1":
		return fTrue
	case a.lit == "0":
		return b
	case b.lit == "0":
		return a
	}
	return sq("(", a, " OR ", b, ")")
}

func not3(a *frag) *frag {
	switch a.lit {
	case "1":
		return fFalse
	case "0":
		return fTrue
	case "NULL":
		return fNull
	}
	return sq("(NOT ", a, ")")
}

// andP and orP combine candidate predicates, in which NULL counts as false.
func andP(a, b *frag) *frag {
	switch {
	case a.lit == "0" || a.lit == "NULL" || b.lit == "0" || b.lit == "NULL":
		return fFalse
	case a.lit == "1":
		return b
	case b.lit == "1":
		return a
	}
	return sq("(", a, " AND ", b, ")")
}

func orP(a, b *frag) *frag {
	switch {
	case a.lit == "1" || b.lit == "1":
		return fTrue
	case a.lit == "0" || a.lit == "NULL":
		return b
	case b.lit == "0" || b.lit == "NULL":
		return a
	}
	return sq("(", a, " OR ", b, ")")
}

// orU joins two "unsure" guards, either of which may be absent (nil: never unsure).
func orU(a, b *frag) *frag {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return orP(a, b)
}

// val is an OData value in SQL; see the file comment.
type val struct {
	known         bool       // false: untranslatable, nothing is known about the value
	num, str, bln *frag      // per-type components; nil when the value never has that type
	null          *frag      // optional two-valued "is null" predicate, else derived from the components
	u             *frag      // optional two-valued predicate: where true, the components may be wrong
	tm            *time.Time // a constant date-time
}

// cond is an OData boolean in SQL; see the file comment. Exactly one form is set:
// v alone (exact), v and u (guarded) or t and f (loose).
type cond struct {
	v, u, t, f *frag
}

var unknownCond = cond{t: fTrue, f: fTrue}

func (c cond) exact() bool { return c.v != nil && c.u == nil }

// maybeTrue is a predicate true on (a superset of) the rows where c is true.
func (c cond) maybeTrue() *frag {
	switch {
	case c.v == nil:
		return c.t
	case c.u == nil:
		return c.v
	}
	return orP(c.u, c.v)
}

// maybeFalse is a predicate true on (a superset of) the rows where c is false.
func (c cond) maybeFalse() *frag {
	switch {
	case c.v == nil:
		return c.f
	case c.u == nil:
		return not3(c.v)
	}
	return orP(c.u, not3(c.v))
}

func (c cond) tooBig() bool {
	if c.v != nil {
		return c.v.tooBig() || (c.u != nil && c.u.tooBig())
	}
	return c.t.tooBig() || c.f.tooBig()
}

func notCond(c cond) cond {
	if c.v != nil {
		return cond{v: not3(c.v), u: c.u}
	}
	return cond{t: c.f, f: c.t}
}

// andCond and orCond combine two conditions. When both are exact, so is the result; otherwise
// it is loose. A result over the limits keeps what fits: for and, the smaller maybe-true side
// (a superset of the conjunction); for or, the smaller maybe-false side.
func andCond(a, b cond) cond {
	if a.exact() && b.exact() {
		if v := and3(a.v, b.v); !v.tooBig() {
			return cond{v: v}
		}
	}
	t, f := andP(a.maybeTrue(), b.maybeTrue()), orP(a.maybeFalse(), b.maybeFalse())
	if t.tooBig() {
		t = smallerPred(a.maybeTrue(), b.maybeTrue())
	}
	if f.tooBig() {
		f = fTrue
	}
	return cond{t: t, f: f}
}

func orCond(a, b cond) cond {
	if a.exact() && b.exact() {
		if v := or3(a.v, b.v); !v.tooBig() {
			return cond{v: v}
		}
	}
	t, f := orP(a.maybeTrue(), b.maybeTrue()), andP(a.maybeFalse(), b.maybeFalse())
	if t.tooBig() {
		t = fTrue
	}
	if f.tooBig() {
		f = smallerPred(a.maybeFalse(), b.maybeFalse())
	}
	return cond{t: t, f: f}
}

func smallerPred(a, b *frag) *frag {
	if b.size < a.size {
		a = b
	}
	if a.tooBig() {
		return fTrue
	}
	return a
}

// asVal turns a condition into the boolean value it is; a loose condition cannot be.
func (c cond) asVal() val {
	if c.v == nil {
		return val{}
	}
	if c.v.lit == "NULL" {
		return val{known: true}
	}
	return val{known: true, bln: c.v, u: c.u}
}

// asCond is a value in boolean position: its bln component (null for any other type).
func (v val) asCond() cond {
	if !v.known {
		return unknownCond
	}
	if v.bln == nil {
		return cond{v: fNull}
	}
	return cond{v: v.bln, u: v.u}
}

// isNull is a two-valued predicate: the value is OData null.
func (v val) isNull() *frag {
	if v.null != nil {
		return v.null
	}
	if v.tm != nil {
		return fFalse
	}
	var p *frag
	for _, c := range []*frag{v.num, v.str, v.bln} {
		if c == nil {
			continue
		}
		q := sq("(", c, " IS NULL)")
		switch c.lit {
		case "NULL":
			q = fTrue
		case "":
		default:
			q = fFalse
		}
		if p == nil {
			p = q
		} else {
			p = andP(p, q)
		}
	}
	if p == nil {
		return fTrue
	}
	return p
}

func (v val) tooBig() bool {
	for _, c := range []*frag{v.num, v.str, v.bln, v.null, v.u} {
		if c != nil && c.tooBig() {
			return true
		}
	}
	return false
}

// constVal is the val of a constant, as odata.Eval returns it.
func constVal(x any) val {
	switch c := x.(type) {
	case bool:
		if c {
			return val{known: true, bln: fTrue}
		}
		return val{known: true, bln: fFalse}
	case float64:
		return val{known: true, num: bindArg(c)}
	case string:
		return val{known: true, str: bindArg(c)}
	case time.Time:
		return val{known: true, tm: &c}
	}
	return val{known: true} // null
}

func constCond(x any) cond {
	if b, ok := x.(bool); ok {
		if b {
			return cond{v: fTrue}
		}
		return cond{v: fFalse}
	}
	return cond{v: fNull}
}

// derefExpr dereferences the pointer forms of the AST nodes, as odata does.
func derefExpr(e odata.Expr) odata.Expr {
	switch x := e.(type) {
	case *odata.Literal:
		if x != nil {
			return *x
		}
	case *odata.Property:
		if x != nil {
			return *x
		}
	case *odata.Unary:
		if x != nil {
			return *x
		}
	case *odata.Binary:
		if x != nil {
			return *x
		}
	case *odata.Call:
		if x != nil {
			return *x
		}
	default:
		return e
	}
	return nil
}

func isNullLiteral(e odata.Expr) bool {
	l, ok := derefExpr(e).(odata.Literal)
	return ok && l.Value == nil
}

// translatedArity is the number of arguments each function is translated for (substring: 2
// or 3). odata evaluates an unknown function, or a known one with another arity, to null; such a
// call (like an unknown operator) is given up instead, so that the translation stays a superset
// if odata ever learns more than this file.
var translatedArity = map[string]int{
	"startswith": 2, "endswith": 2, "substringof": 2, "contains": 2, "indexof": 2, "concat": 2,
	"tolower": 1, "toupper": 1, "length": 1, "trim": 1, "substring": 2,
	"year": 1, "month": 1, "day": 1, "hour": 1, "minute": 1, "second": 1,
	"round": 1, "floor": 1, "ceiling": 1,
}

// whiteSpace is every rune unicode.IsSpace accepts (strings.TrimSpace's set), for SQLite's trim.
var whiteSpace = func() string {
	var b strings.Builder
	for _, r16 := range unicode.White_Space.R16 {
		for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
			b.WriteRune(r)
		}
	}
	for _, r32 := range unicode.White_Space.R32 {
		for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
			b.WriteRune(r)
		}
	}
	return b.String()
}()

const canonicalTime = "2006-01-02T15:04:05.000Z"

type translator struct {
	path  func(string) (string, bool)
	paths map[string]*string // nil entry: path said no
	lets  int
}

// translate turns a filter into a SQL boolean expression over a row's JSON document column named `doc`.
// path(name) returns the JSON path ('$."Name"') under which the store keeps the property a filter name
// refers to, or false when it cannot say (then the translation of that part gives up). exact reports
// whether the SQL alone matches exactly the rows odata.Match would; when false the SQL is a superset
// (possibly just "1") and the caller re-checks candidates with odata.Match.
//
// where is a parenthesised expression (or "1" or "0") to be used as a WHERE condition or ANDed
// with others; args are its bound parameters, in order, for its "?" placeholders. Every literal
// of the filter and every JSON path is a bound parameter, never SQL text.
func translate(e odata.Expr, path func(name string) (string, bool)) (where string, args []any, exact bool) {
	tr := &translator{path: path, paths: map[string]*string{}}
	c, isConst := tr.cond(e)
	if isConst {
		if odata.Match(e, nil) {
			return "1", nil, true
		}
		return "0", nil, true
	}
	var f *frag
	if c.exact() {
		f, exact = c.v, true
		if f.lit == "NULL" {
			f = fFalse
		}
	} else {
		f = c.maybeTrue()
		if f.lit == "NULL" {
			f = fFalse
		}
	}
	if f.tooBig() {
		return "1", nil, false
	}
	if f.lit != "" {
		return f.lit, nil, exact
	}
	var b strings.Builder
	b.WriteByte('(')
	f.render(&b, &args)
	b.WriteByte(')')
	return b.String(), args, exact
}

// checkCond and checkVal give up on a part that grew past the limits.
func checkCond(c cond) cond {
	if c.tooBig() {
		return unknownCond
	}
	return c
}

func checkVal(v val) val {
	if v.tooBig() {
		return val{}
	}
	return v
}

// cond translates e in boolean position. isConst reports that e refers to no property; then c
// is unset and the caller evaluates e with odata.Eval (once, for the largest constant subtree).
func (tr *translator) cond(e odata.Expr) (c cond, isConst bool) {
	switch x := derefExpr(e).(type) {
	case odata.Binary:
		switch x.Op {
		case "and", "or":
			var ops []odata.Expr
			flattenChain(x.Op, x, &ops)
			cs := make([]cond, len(ops))
			consts := make([]bool, len(ops))
			all := true
			for i, o := range ops {
				cs[i], consts[i] = tr.cond(o)
				all = all && consts[i]
			}
			if all {
				return cond{}, true
			}
			for i, o := range ops {
				if consts[i] {
					cs[i] = constCond(odata.Eval(o, nil))
				}
			}
			return combineConds(x.Op, cs), false
		case "eq", "ne", "gt", "ge", "lt", "le":
			return tr.compare(x)
		}
	case odata.Unary:
		if x.Op == "not" {
			c, k := tr.cond(x.X)
			if k {
				return cond{}, true
			}
			return notCond(c), false
		}
	}
	v, k := tr.value(e)
	if k {
		return cond{}, true
	}
	return checkCond(v.asCond()), false
}

// flattenChain lists the operands of a chain of one associative operator (and, or); Kleene and/or
// are associative, so the chain can be rebuilt as a balanced tree, keeping SQL shallow.
func flattenChain(op string, e odata.Expr, out *[]odata.Expr) {
	if b, ok := derefExpr(e).(odata.Binary); ok && b.Op == op {
		flattenChain(op, b.Left, out)
		flattenChain(op, b.Right, out)
		return
	}
	*out = append(*out, e)
}

func combineConds(op string, cs []cond) cond {
	if len(cs) == 1 {
		return cs[0]
	}
	l, r := combineConds(op, cs[:len(cs)/2]), combineConds(op, cs[len(cs)/2:])
	if op == "and" {
		return andCond(l, r)
	}
	return orCond(l, r)
}

// operand translates e as a value, evaluating it when it is constant.
func (tr *translator) operand(e odata.Expr, v val, isConst bool) val {
	if isConst {
		return constVal(odata.Eval(e, nil))
	}
	return v
}

// value translates e as a value; isConst as for cond.
func (tr *translator) value(e odata.Expr) (v val, isConst bool) {
	switch x := derefExpr(e).(type) {
	case nil, odata.Literal:
		return val{}, true
	case odata.Property:
		return tr.property(x.Name), false
	case odata.Unary:
		if x.Op == "not" {
			c, k := tr.cond(x)
			if k {
				return val{}, true
			}
			return c.asVal(), false
		}
		xv, k := tr.value(x.X)
		switch {
		case k:
			return val{}, true
		case x.Op != "-" || !xv.known:
			return val{}, false
		case xv.num == nil:
			return val{known: true}, false // - of a non-number: null
		}
		return checkVal(val{known: true, num: sq("(-", xv.num, ")"), u: xv.u}), false
	case odata.Binary:
		switch x.Op {
		case "and", "or", "eq", "ne", "gt", "ge", "lt", "le":
			c, k := tr.cond(x)
			if k {
				return val{}, true
			}
			return c.asVal(), false
		}
		lv, lk := tr.value(x.Left)
		rv, rk := tr.value(x.Right)
		if lk && rk {
			return val{}, true
		}
		l, r := tr.operand(x.Left, lv, lk), tr.operand(x.Right, rv, rk)
		switch x.Op {
		case "add", "sub", "mul", "div", "mod":
			return checkVal(arithSQL(x.Op, l, r)), false
		}
		return val{}, false
	case odata.Call:
		vs := make([]val, len(x.Args))
		consts := make([]bool, len(x.Args))
		all := true
		for i, a := range x.Args {
			vs[i], consts[i] = tr.value(a)
			all = all && consts[i]
		}
		if all {
			return val{}, true
		}
		for i, a := range x.Args {
			vs[i] = tr.operand(a, vs[i], consts[i])
		}
		return checkVal(tr.call(x.Name, vs)), false
	}
	return val{}, true // not reached: node returns one of the cases above
}

func (tr *translator) property(name string) val {
	p, seen := tr.paths[name]
	if !seen {
		if s, ok := tr.path(name); ok {
			p = &s
		}
		tr.paths[name] = p
	}
	if p == nil {
		return val{}
	}
	P := func() sqlParam { return sqlParam{*p} }
	return val{
		known: true,
		num:   sq("CASE WHEN json_type(doc, ", P(), ") IN ('integer', 'real') THEN CAST(json_extract(doc, ", P(), ") AS REAL) END"),
		str:   sq("CASE WHEN json_type(doc, ", P(), ") = 'text' THEN json_extract(doc, ", P(), ") END"),
		bln:   sq("CASE json_type(doc, ", P(), ") WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"),
		null:  sq("(ifnull(json_type(doc, ", P(), "), 'null') IN ('null', 'array', 'object'))"),
	}
}

var sqlOps = map[string]string{"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

func (tr *translator) compare(x odata.Binary) (cond, bool) {
	if x.Op == "eq" || x.Op == "ne" {
		if nl, nr := isNullLiteral(x.Left), isNullLiteral(x.Right); nl || nr {
			other := x.Left
			if nl {
				other = x.Right
			}
			ov, k := tr.value(other)
			if k {
				return cond{}, true
			}
			if !ov.known {
				return unknownCond, false
			}
			p := ov.isNull()
			if x.Op == "ne" {
				p = not3(p)
			}
			return checkCond(cond{v: p, u: ov.u}), false
		}
	}
	lv, lk := tr.value(x.Left)
	rv, rk := tr.value(x.Right)
	if lk && rk {
		return cond{}, true
	}
	l, r := tr.operand(x.Left, lv, lk), tr.operand(x.Right, rv, rk)
	if !l.known || !r.known {
		return unknownCond, false
	}
	op := sqlOps[x.Op]
	var parts []*frag
	if l.num != nil && r.num != nil {
		parts = append(parts, sq("(", l.num, " ", op, " ", r.num, ")"))
	}
	if l.str != nil && r.str != nil {
		parts = append(parts, sq("(", l.str, " ", op, " ", r.str, " COLLATE BINARY)"))
	}
	if l.bln != nil && r.bln != nil {
		parts = append(parts, sq("(", l.bln, " ", op, " ", r.bln, ")"))
	}
	// A date-time is only ever a constant, and two constants were folded above; the
	// canonical text of the constant compares with the key of the string as instants do.
	if l.tm != nil && r.str != nil {
		parts = append(parts, sq("(", bindArg(l.tm.Format(canonicalTime)), " ", op, " ", dateKey(r.str), " COLLATE BINARY)"))
	}
	if l.str != nil && r.tm != nil {
		parts = append(parts, sq("(", dateKey(l.str), " ", op, " ", bindArg(r.tm.Format(canonicalTime)), " COLLATE BINARY)"))
	}
	var v *frag
	switch len(parts) {
	case 0:
		return cond{v: fNull}, false // no type both sides can share: null
	case 1:
		v = parts[0]
	default: // at most one part is non-NULL on any row
		list := []any{"coalesce("}
		for i, p := range parts {
			if i > 0 {
				list = append(list, ", ")
			}
			list = append(list, p)
		}
		v = sq(append(list, ")")...)
	}
	return checkCond(cond{v: v, u: orU(l.u, r.u)}), false
}

// finiteSQL makes a REAL expression NULL when it overflowed to ±Inf, as odata's finite does
// (SQLite already turns NaN into NULL).
func finiteSQL(f *frag) *frag { return sq("nullif(nullif(", f, ", 1e999), -1e999)") }

func arithSQL(op string, l, r val) val {
	if !l.known || !r.known {
		return val{}
	}
	if l.num == nil || r.num == nil {
		return val{known: true}
	}
	var f *frag
	switch op {
	case "add":
		f = sq("(", l.num, " + ", r.num, ")")
	case "sub":
		f = sq("(", l.num, " - ", r.num, ")")
	case "mul":
		f = sq("(", l.num, " * ", r.num, ")")
	case "div": // both REAL, so never integer division; x / 0.0 is NULL in SQLite
		f = sq("(", l.num, " / ", r.num, ")")
	default: // SQLite's mod() is C's fmod, exact like math.Mod; mod(x, 0) is NaN, so NULL
		f = sq("mod(", l.num, ", ", r.num, ")")
	}
	return val{known: true, num: finiteSQL(f), u: orU(l.u, r.u)}
}

// let binds expressions to fresh names in a subquery, so that body may use each several times
// without repeating (and re-evaluating) it; cheap expressions are just repeated.
func (tr *translator) let(xs []*frag, body func(refs []*frag) *frag) *frag {
	cheap := true
	for _, x := range xs {
		cheap = cheap && x.depth <= 3 && x.size <= 200
	}
	if cheap {
		return body(xs)
	}
	refs := make([]*frag, len(xs))
	cols := []any{}
	for i, x := range xs {
		tr.lets++
		name := "_q" + strconv.Itoa(tr.lets)
		refs[i] = sqlName(name)
		if i > 0 {
			cols = append(cols, ", ")
		}
		cols = append(cols, x, " AS "+name)
	}
	parts := append([]any{"(SELECT ", body(refs), " FROM (SELECT "}, cols...)
	return subquery(2, append(parts, " LIMIT 1 OFFSET 0))")...)
}

func asBlob(f *frag) *frag { return sq("CAST(", f, " AS BLOB)") }

// hasNUL is a two-valued predicate: the text holds a NUL character, which stops SQLite's
// length() and substr() early.
func hasNUL(s *frag) *frag { return sq("coalesce(instr(CAST(", s, " AS BLOB), x'00') > 0, 0)") }

func (tr *translator) call(name string, a []val) val {
	if n, ok := translatedArity[name]; !ok || len(a) != n && !(name == "substring" && len(a) == 3) {
		return val{}
	}
	for _, v := range a {
		if !v.known {
			return val{}
		}
	}
	u := a[0].u
	for _, v := range a[1:] {
		u = orU(u, v.u)
	}
	null := val{known: true}
	switch name {
	case "startswith", "endswith", "substringof", "contains", "indexof", "concat":
		s, p := a[0].str, a[1].str
		if s == nil || p == nil {
			return null
		}
		var b *frag
		switch name {
		case "startswith", "endswith":
			// Byte-wise, like strings.HasPrefix/HasSuffix. substr of an empty blob is NULL in
			// SQLite, hence the cases before it.
			b = tr.let([]*frag{asBlob(s), asBlob(p)}, func(x []*frag) *frag {
				start := []any{"1"}
				if name == "endswith" {
					start = []any{"length(", x[0], ") - length(", x[1], ") + 1"}
				}
				parts := []any{"CASE WHEN ", x[0], " IS NULL OR ", x[1], " IS NULL THEN NULL WHEN length(", x[1], ") = 0 THEN 1 ",
					"WHEN length(", x[0], ") < length(", x[1], ") THEN 0 ELSE substr(", x[0], ", "}
				parts = append(append(parts, start...), ", length(", x[1], ")) = ", x[1], " END")
				return sq(parts...)
			})
		case "contains":
			b = sq("(instr(", asBlob(s), ", ", asBlob(p), ") > 0)")
		case "substringof":
			b = sq("(instr(", asBlob(p), ", ", asBlob(s), ") > 0)")
		case "indexof": // instr on text counts characters, NUL included; 1-based, 0 when absent
			return val{known: true, num: sq("CAST(instr(", s, ", ", p, ") - 1 AS REAL)"), u: u}
		default: // concat
			return val{known: true, str: sq("(", s, " || ", p, ")"), u: u}
		}
		return val{known: true, bln: b, u: u}
	case "tolower", "toupper", "length", "trim":
		s := a[0].str
		if s == nil {
			return null
		}
		switch name {
		case "tolower", "toupper":
			// SQLite's lower/upper map ASCII letters only, strings.ToLower/ToUpper all of
			// Unicode: exact for ASCII text (as many characters as bytes, which also rules out
			// NUL, where length() stops).
			fn := map[string]string{"tolower": "lower(", "toupper": "upper("}[name]
			guard := sq("coalesce(length(", s, ") <> length(CAST(", s, " AS BLOB)), 0)")
			return val{known: true, str: sq(fn, s, ")"), u: orU(u, guard)}
		case "length":
			return val{known: true, num: sq("CAST(length(", s, ") AS REAL)"), u: orU(u, hasNUL(s))}
		default: // trim
			return val{known: true, str: sq("trim(", s, ", ", bindArg(whiteSpace), ")"), u: u}
		}
	case "substring":
		s, i := a[0].str, a[1].num
		if s == nil || i == nil {
			return null
		}
		// odata truncates start (and length) toward zero and clamps them into the string;
		// clamping to [0, 2e9] first keeps the integers in range (SQLite strings are shorter).
		start := sq("CAST(max(min(", i, ", 2e9), 0.0) AS INTEGER) + 1")
		var str *frag
		if len(a) == 3 {
			n := a[2].num
			if n == nil {
				return null
			}
			str = sq("substr(", s, ", ", start, ", CAST(max(min(", n, ", 2e9), 0.0) AS INTEGER))")
		} else {
			str = sq("substr(", s, ", ", start, ")")
		}
		return val{known: true, str: str, u: orU(u, hasNUL(s))}
	case "year", "month", "day", "hour", "minute", "second":
		s := a[0].str // (a constant date-time argument makes the call constant, folded earlier)
		if s == nil {
			return null
		}
		pos := map[string]string{"year": "1, 4", "month": "6, 2", "day": "9, 2", "hour": "12, 2", "minute": "15, 2", "second": "18, 2"}[name]
		return val{known: true, num: sq("CAST(substr(", dateKey(s), ", "+pos+") AS REAL)"), u: u}
	case "round", "floor", "ceiling":
		n := a[0].num
		if n == nil {
			return null
		}
		switch name {
		case "round":
			// math.Round (half away from zero), spelled out: SQLite's round(x) adds 0.5
			// first and so rounds 0.49999999999999994 up.
			return val{known: true, u: u, num: tr.let([]*frag{n}, func(x []*frag) *frag {
				return sq("(sign(", x[0], ") * (floor(abs(", x[0], ")) + (abs(", x[0], ") - floor(abs(", x[0], ")) >= 0.5)))")
			})}
		case "floor":
			return val{known: true, num: sq("floor(", n, ")"), u: u}
		default:
			return val{known: true, num: sq("ceiling(", n, ")"), u: u}
		}
	}
	return null
}

// dateKey parses text s as odata does for "dated text" and returns the instant as canonical
// "YYYY-MM-DDTHH:MM:SS.sssZ" text, or NULL when s is not a date-time. odata's grammar is
//
//	YYYY-MM-DD[Tt ]hh:mm[:ss[.fraction]][Z|z|±hh:mm]
//
// with month 1–12, a day that exists in that month, hh ≤ 23, mm ≤ 59, ss ≤ 59, the fraction
// truncated to milliseconds, an offset of at most 23:59 and an instant in the years 0000–9999.
// The shape is checked with GLOB (on ASCII text without NUL, where GLOB is exact), the pieces
// are reassembled as "YYYY-MM-DDThh:mm:ss.sss", which SQLite's strftime must give back
// unchanged (so every field is in range and the day exists), and the offset is applied with a
// "±N minutes" modifier.
func dateKey(s *frag) *frag {
	const (
		canonical = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z"
		offset    = "CASE WHEN substr(_dz, 1, 1) = '+' THEN '-' ELSE '+' END || (substr(_dz, 2, 2) * 60 + substr(_dz, 5, 2)) || ' minutes'"
	)
	return subquery(4,
		"(SELECT CASE WHEN _ds GLOB '"+canonical+"' AND strftime('%Y-%m-%dT%H:%M:%fZ', _ds) = _ds THEN _ds ELSE "+
			"(SELECT CASE WHEN _dz IN ('', 'Z', 'z') THEN _dl || 'Z' "+
			"WHEN strftime('%Y', _dl, "+offset+") GLOB '[0-9][0-9][0-9][0-9]' THEN strftime('%Y-%m-%dT%H:%M:%fZ', _dl, "+offset+") END "+
			"FROM (SELECT substr(_ds, 1, 10) || 'T' || substr(_ds, 12, 5) || ':' || "+
			"CASE WHEN _dr GLOB ':[0-9][0-9]*' THEN substr(_dr, 2, 2) ELSE '00' END || '.' || "+
			"CASE WHEN _dr GLOB ':[0-9][0-9].[0-9]*' THEN substr(substr(_dr, 5, length(_dr) - 4 - length(ltrim(substr(_dr, 5), '0123456789'))) || '00', 1, 3) ELSE '000' END AS _dl, "+
			"CASE WHEN _dr GLOB ':[0-9][0-9].[0-9]*' THEN ltrim(substr(_dr, 5), '0123456789') WHEN _dr GLOB ':[0-9][0-9]*' THEN substr(_dr, 4) ELSE _dr END AS _dz "+
			"FROM (SELECT substr(_ds, 17) AS _dr "+
			"WHERE length(_ds) = length(CAST(_ds AS BLOB)) AND _ds GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][Tt ][0-9][0-9]:[0-9][0-9]*' LIMIT 1 OFFSET 0) LIMIT 1 OFFSET 0) "+
			"WHERE (_dz IN ('', 'Z', 'z') OR (_dz GLOB '[+-][0-9][0-9]:[0-9][0-9]' AND substr(_dz, 2, 2) <= '23' AND substr(_dz, 5, 2) <= '59')) "+
			"AND strftime('%Y-%m-%dT%H:%M:%f', _dl) = _dl) END "+
			"FROM (SELECT ", s, " AS _ds LIMIT 1 OFFSET 0))")
}
