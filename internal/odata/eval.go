package odata

import (
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Match reports whether e evaluates to boolean true for row. Null (unknown) and any
// non-boolean result do not match.
func Match(e Expr, row map[string]any) bool {
	b, ok := Eval(e, row).(bool)
	return ok && b
}

// Eval evaluates e against row and returns nil, bool, float64, string or time.Time (UTC,
// millisecond precision). The rules are in the package documentation; Eval never panics, and an
// expression it cannot make sense of (a wrong-typed operand, a hand-built node with an unknown
// operator or arity) evaluates to nil.
func Eval(e Expr, row map[string]any) any {
	switch x := deref(e).(type) {
	case Literal:
		v, _ := normalize(x.Value)
		return v
	case Property:
		return lookup(row, x.Name)
	case Unary:
		return unaryValue(x.Op, Eval(x.X, row))
	case Binary:
		return evalBinary(x, row)
	case Call:
		return evalCall(x, row)
	}
	return nil
}

// lookup finds a column: the exact key, else the smallest key (ordinally) equal to name under
// ASCII case folding, so the choice does not depend on map iteration order.
func lookup(row map[string]any, name string) any {
	v, ok := row[name]
	if !ok {
		found := ""
		for k, kv := range row {
			if EqualFold(k, name) && (!ok || k < found) {
				found, v, ok = k, kv, true
			}
		}
	}
	n, _ := normalize(v)
	return n
}

// EqualFold reports whether two names are equal ignoring ASCII case: how a property name finds
// a column when no column has its exact spelling. Callers that must agree with Eval's lookup
// use it.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func evalBinary(x Binary, row map[string]any) any {
	switch x.Op {
	case "and":
		l := Eval(x.Left, row)
		if l == false {
			return false
		}
		r := Eval(x.Right, row)
		if r == false {
			return false
		}
		if l == true && r == true {
			return true
		}
		return nil
	case "or":
		l := Eval(x.Left, row)
		if l == true {
			return true
		}
		r := Eval(x.Right, row)
		if r == true {
			return true
		}
		if l == false && r == false {
			return false
		}
		return nil
	}
	return binaryValue(x.Op, Eval(x.Left, row), Eval(x.Right, row), isNullLiteral(x.Left), isNullLiteral(x.Right))
}

// unaryValue applies "not" or "-" to an evaluated operand.
func unaryValue(op string, v any) any {
	switch op {
	case "not":
		if b, ok := v.(bool); ok {
			return !b
		}
	case "-":
		if f, ok := v.(float64); ok {
			return -f
		}
	}
	return nil
}

// binaryValue applies a comparison or arithmetic operator (not and/or, which evaluate their
// operands lazily) to evaluated operands; leftNull and rightNull say whether an operand is
// the literal null, which turns eq and ne into null tests.
func binaryValue(op string, l, r any, leftNull, rightNull bool) any {
	switch op {
	case "eq", "ne":
		// Only a comparison with the literal null tests for null (SQL's IS NULL); any other
		// comparison with a null side is unknown, as docs/protocol.md and SQL stores have it.
		if leftNull || rightNull {
			other := l
			if leftNull {
				other = r
			}
			return (other == nil) == (op == "eq")
		}
		return compareOp(op, l, r)
	case "gt", "ge", "lt", "le":
		return compareOp(op, l, r)
	case "add", "sub", "mul", "div", "mod":
		a, ok1 := l.(float64)
		b, ok2 := r.(float64)
		if !ok1 || !ok2 {
			return nil
		}
		return arith(op, a, b)
	}
	return nil
}

// isNullLiteral reports whether e is the literal null.
func isNullLiteral(e Expr) bool {
	l, ok := deref(e).(Literal)
	return ok && l.Value == nil
}

// compareOp applies a comparison operator with the null and type rules of the package doc; a
// null side makes every comparison unknown.
func compareOp(op string, l, r any) any {
	if l == nil || r == nil {
		return nil
	}
	c, ok := compareSameKind(l, r)
	if !ok {
		return nil
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	default: // le
		return c <= 0
	}
}

// compareSameKind compares two non-null evaluated values of the same kind; a time and a string
// holding a date-time compare as instants. ok is false for any other mix.
func compareSameKind(l, r any) (int, bool) {
	switch a := l.(type) {
	case bool:
		b, ok := r.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case a == b:
			return 0, true
		case !a:
			return -1, true
		}
		return 1, true
	case float64:
		b, ok := r.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	case string:
		switch b := r.(type) {
		case string:
			return strings.Compare(a, b), true
		case time.Time:
			if ta, ok := parseDateTime(a); ok {
				return ta.Compare(b), true
			}
		}
	case time.Time:
		if b, ok := asTime(r); ok {
			return a.Compare(b), true
		}
	}
	return 0, false
}

func arith(op string, a, b float64) any {
	var v float64
	switch op {
	case "add":
		v = a + b
	case "sub":
		v = a - b
	case "mul":
		v = a * b
	case "div":
		if b == 0 {
			return nil
		}
		v = a / b
	case "mod":
		if b == 0 {
			return nil
		}
		v = math.Mod(a, b)
	}
	return finite(v)
}

func evalCall(c Call, row map[string]any) any {
	ar, ok := functions[c.Name]
	if !ok || len(c.Args) < ar.min || len(c.Args) > ar.max {
		return nil
	}
	var buf [3]any
	args := buf[:0]
	for _, a := range c.Args {
		args = append(args, Eval(a, row))
	}
	return callValue(c.Name, args)
}

// callValue applies the function name, whose arity has been checked, to evaluated arguments.
func callValue(name string, args []any) any {
	switch name {
	case "startswith", "endswith", "substringof", "contains", "indexof", "concat":
		s, ok1 := args[0].(string)
		t, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil
		}
		switch name {
		case "startswith":
			return strings.HasPrefix(s, t)
		case "endswith":
			return strings.HasSuffix(s, t)
		case "substringof": // substringof(p, s): s contains p
			return strings.Contains(t, s)
		case "contains":
			return strings.Contains(s, t)
		case "indexof":
			i := strings.Index(s, t)
			if i < 0 {
				return -1.0
			}
			return float64(utf8.RuneCountInString(s[:i]))
		default: // concat
			return s + t
		}
	case "tolower", "toupper", "length", "trim":
		s, ok := args[0].(string)
		if !ok {
			return nil
		}
		switch name {
		case "tolower":
			return strings.ToLower(s)
		case "toupper":
			return strings.ToUpper(s)
		case "length":
			return float64(utf8.RuneCountInString(s))
		default: // trim
			return strings.TrimSpace(s)
		}
	case "substring":
		return substring(args)
	case "year", "month", "day", "hour", "minute", "second":
		t, ok := asTime(args[0])
		if !ok {
			return nil
		}
		switch name {
		case "year":
			return float64(t.Year())
		case "month":
			return float64(t.Month())
		case "day":
			return float64(t.Day())
		case "hour":
			return float64(t.Hour())
		case "minute":
			return float64(t.Minute())
		default: // second
			return float64(t.Second())
		}
	case "round", "floor", "ceiling":
		f, ok := args[0].(float64)
		if !ok {
			return nil
		}
		switch name {
		case "round":
			return math.Round(f)
		case "floor":
			return math.Floor(f)
		default: // ceiling
			return math.Ceil(f)
		}
	}
	return nil
}

// substring(s, start[, length]) counts in runes; start and length are truncated toward zero and
// clamped into the string, so it never fails on range.
func substring(args []any) any {
	s, ok := args[0].(string)
	if !ok {
		return nil
	}
	n := float64(utf8.RuneCountInString(s))
	start, ok := args[1].(float64)
	if !ok {
		return nil
	}
	start = clamp(math.Trunc(start), 0, n)
	end := n
	if len(args) == 3 {
		length, ok := args[2].(float64)
		if !ok {
			return nil
		}
		end = start + clamp(math.Trunc(length), 0, n-start)
	}
	return s[runeOffset(s, int(start)):runeOffset(s, int(end))]
}

func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }

// runeOffset is the byte offset of the n-th rune of s, counting an invalid byte as one rune (as
// utf8.RuneCountInString does).
func runeOffset(s string, n int) int {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// Properties lists the distinct property names e refers to, sorted.
func Properties(e Expr) []string {
	seen := map[string]bool{}
	var walk func(Expr)
	walk = func(e Expr) {
		switch x := deref(e).(type) {
		case Property:
			seen[x.Name] = true
		case Unary:
			walk(x.X)
		case Binary:
			walk(x.Left)
			walk(x.Right)
		case Call:
			for _, a := range x.Args {
				walk(a)
			}
		}
	}
	walk(e)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
