package odata

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Limits bound the work of evaluating a filter or an ordering over rows, so that a query cannot
// hold a server for long or make it build huge values: a filter of nested concat calls over a
// few long strings would otherwise cost seconds and gigabytes.
type Limits struct {
	// Work is the most units of work a Budget allows: one per expression node evaluated, plus
	// one per 64 bytes a comparison or string function reads or builds. Zero or less is no
	// limit.
	Work int64
	// MaxString is the longest string, in bytes, an expression may build (concat, tolower,
	// toupper). Zero or less is no limit.
	MaxString int
}

// ErrLimit matches every *LimitError.
var ErrLimit = errors.New("odata: evaluation limit exceeded")

// LimitError says which limit an evaluation reached.
type LimitError struct {
	// Limit is "work" or "string".
	Limit string
	// Max is the limit that was reached.
	Max int64
}

func (e *LimitError) Error() string {
	if e.Limit == "string" {
		return fmt.Sprintf("the expression builds a string longer than the limit of %d bytes", e.Max)
	}
	return fmt.Sprintf("evaluating the expression takes more than the limit of %d units of work", e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Budget is what is left of Limits while a Program evaluates: one budget is shared by every
// row (and every Program) of one query. Once spent, evaluations return null at once and Err
// says why. A Budget is for one goroutine.
type Budget struct {
	left      int64
	work      int64
	maxString int
	err       *LimitError
}

// NewBudget starts a budget of l.
func NewBudget(l Limits) *Budget {
	b := &Budget{left: l.Work, work: l.Work, maxString: l.MaxString}
	if l.Work <= 0 {
		b.left = math.MaxInt64
	}
	return b
}

// Err is the *LimitError of a spent budget, or nil.
func (b *Budget) Err() error {
	if b.err == nil {
		return nil
	}
	return b.err
}

// Spent is the work used so far.
func (b *Budget) Spent() int64 {
	if b.work <= 0 {
		return math.MaxInt64 - b.left
	}
	return b.work - b.left
}

// charge spends n units; false once the budget is spent.
func (b *Budget) charge(n int64) bool {
	if b.err != nil {
		return false
	}
	b.left -= n
	if b.left < 0 {
		b.err = &LimitError{Limit: "work", Max: b.work}
		return false
	}
	return true
}

// chargeBytes spends one unit per 64 bytes.
func (b *Budget) chargeBytes(n int) bool { return b.charge(int64(n) >> 6) }

// fits reports whether a string of n bytes may be built, spending the work of building it.
func (b *Budget) fits(n int) bool {
	if b.maxString > 0 && n > b.maxString {
		if b.err == nil {
			b.err = &LimitError{Limit: "string", Max: int64(b.maxString)}
		}
		return false
	}
	return b.chargeBytes(n)
}

// A Program is an expression prepared for evaluation over many rows of type R: literals are
// normalised once, each property reference is resolved once to a function that reads it from a
// row, and every evaluation runs within a Budget. A Program evaluates exactly as Eval does over
// the row the resolved functions describe (Eval's rules are in the package documentation).
// It holds no state between evaluations, so one Program may serve many goroutines, each with
// its own Budget.
type Program[R any] struct {
	root pnode[R]
}

type pnode[R any] func(row R, b *Budget) any

// A Resolver returns the function that reads the property name from a row: its value before
// normalisation, nil when the row has none.
type Resolver[R any] func(name string) func(row R) any

// Compile prepares e for rows of type R, reading properties through resolve.
func Compile[R any](e Expr, resolve Resolver[R]) *Program[R] {
	return &Program[R]{root: compileNode(e, resolve)}
}

// CompileMap prepares e for map rows, with Eval's lookup: the exact key, else the ordinally
// smallest key equal to the name under ASCII case folding.
func CompileMap(e Expr) *Program[map[string]any] {
	return Compile(e, func(name string) func(map[string]any) any {
		return func(row map[string]any) any { return lookupRaw(row, name) }
	})
}

// Eval evaluates the program against row within b.
func (p *Program[R]) Eval(row R, b *Budget) any { return p.root(row, b) }

// Match reports whether the program evaluates to boolean true for row within b.
func (p *Program[R]) Match(row R, b *Budget) bool {
	v, ok := p.root(row, b).(bool)
	return ok && v
}

// lookupRaw is lookup without the normalisation.
func lookupRaw(row map[string]any, name string) any {
	v, ok := row[name]
	if !ok {
		found := ""
		for k, kv := range row {
			if EqualFold(k, name) && (!ok || k < found) {
				found, v, ok = k, kv, true
			}
		}
	}
	return v
}

func nullNode[R any](_ R, b *Budget) any {
	b.charge(1)
	return nil
}

func compileNode[R any](e Expr, resolve Resolver[R]) pnode[R] {
	switch x := deref(e).(type) {
	case Literal:
		v, _ := normalize(x.Value)
		return func(_ R, b *Budget) any {
			if !b.charge(1) {
				return nil
			}
			return v
		}
	case Property:
		get := resolve(x.Name)
		if get == nil {
			return nullNode[R]
		}
		return func(row R, b *Budget) any {
			if !b.charge(1) {
				return nil
			}
			raw := get(row)
			if n, ok := raw.(json.Number); ok && !b.chargeBytes(len(n)) {
				return nil
			}
			v, _ := normalize(raw)
			return v
		}
	case Unary:
		inner := compileNode(x.X, resolve)
		op := x.Op
		return func(row R, b *Budget) any {
			if !b.charge(1) {
				return nil
			}
			return unaryValue(op, inner(row, b))
		}
	case Binary:
		return compileBinary(x, resolve)
	case Call:
		return compileCall(x, resolve)
	}
	return nullNode[R]
}

func compileBinary[R any](x Binary, resolve Resolver[R]) pnode[R] {
	left, right := compileNode(x.Left, resolve), compileNode(x.Right, resolve)
	switch x.Op {
	case "and":
		return func(row R, b *Budget) any {
			if !b.charge(1) {
				return nil
			}
			l := left(row, b)
			if l == false {
				return false
			}
			r := right(row, b)
			if r == false {
				return false
			}
			if l == true && r == true {
				return true
			}
			return nil
		}
	case "or":
		return func(row R, b *Budget) any {
			if !b.charge(1) {
				return nil
			}
			l := left(row, b)
			if l == true {
				return true
			}
			r := right(row, b)
			if r == true {
				return true
			}
			if l == false && r == false {
				return false
			}
			return nil
		}
	}
	op := x.Op
	leftNull, rightNull := isNullLiteral(x.Left), isNullLiteral(x.Right)
	if n := compileComparison(x, resolve); n != nil && !leftNull && !rightNull {
		return n
	}
	return func(row R, b *Budget) any {
		if !b.charge(1) {
			return nil
		}
		l, r := left(row, b), right(row, b)
		if b.err != nil {
			return nil
		}
		if s, ok := l.(string); ok {
			if t, ok := r.(string); ok && !b.chargeBytes(min(len(s), len(t))) {
				return nil
			}
		}
		return binaryValue(op, l, r, leftNull, rightNull)
	}
}

func compileCall[R any](c Call, resolve Resolver[R]) pnode[R] {
	ar, ok := functions[c.Name]
	if !ok || len(c.Args) < ar.min || len(c.Args) > ar.max {
		return nullNode[R]
	}
	args := make([]pnode[R], len(c.Args))
	for i, a := range c.Args {
		args[i] = compileNode(a, resolve)
	}
	name := c.Name
	return func(row R, b *Budget) any {
		if !b.charge(1) {
			return nil
		}
		var buf [3]any
		vals := buf[:0]
		size := 0
		for _, a := range args {
			v := a(row, b)
			if s, ok := v.(string); ok {
				size += len(s)
			}
			vals = append(vals, v)
		}
		if b.err != nil || !b.chargeBytes(size) {
			return nil
		}
		v := callValue(name, vals)
		// What a call builds is bounded by its inputs (concat: their sum; a case mapping:
		// three times its input at most), which were bounded in turn: checking the result is
		// enough to keep every value within MaxString.
		if s, ok := v.(string); ok && (name == "concat" || name == "tolower" || name == "toupper") && !b.fits(len(s)) {
			return nil
		}
		return v
	}
}

// compileComparison is the common filter "column op literal" (or column op column) with a
// comparison operator, compiled so that two numbers compare without becoming interface values:
// one allocation less per row and operand. Anything but two finite numbers takes the general
// path, with Eval's rules. It returns nil for any other shape of node.
func compileComparison[R any](x Binary, resolve Resolver[R]) pnode[R] {
	switch x.Op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil
	}
	left, lok := compileLeaf(x.Left, resolve)
	right, rok := compileLeaf(x.Right, resolve)
	if !lok || !rok {
		return nil
	}
	op := x.Op
	return func(row R, b *Budget) any {
		if !b.charge(3) {
			return nil
		}
		l, r := left(row), right(row)
		ln, lnum := l.(json.Number)
		rn, rnum := r.(json.Number)
		if lnum && !b.chargeBytes(len(ln)) || rnum && !b.chargeBytes(len(rn)) {
			return nil
		}
		if lf, ok := finiteNumber(l); ok {
			if rf, ok := finiteNumber(r); ok {
				return compareNumbers(op, lf, rf)
			}
		}
		lv, _ := normalize(l)
		rv, _ := normalize(r)
		if s, ok := lv.(string); ok {
			if t, ok := rv.(string); ok && !b.chargeBytes(min(len(s), len(t))) {
				return nil
			}
		}
		return binaryValue(op, lv, rv, false, false)
	}
}

// compileLeaf reads a property or a literal (already normalised) without evaluating a node.
func compileLeaf[R any](e Expr, resolve Resolver[R]) (func(R) any, bool) {
	switch x := deref(e).(type) {
	case Literal:
		v, _ := normalize(x.Value)
		return func(R) any { return v }, true
	case Property:
		if get := resolve(x.Name); get != nil {
			return get, true
		}
		return func(R) any { return nil }, true
	}
	return nil, false
}

// finiteNumber is the number a float64 or json.Number stands for, when it is one and finite.
func finiteNumber(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

func compareNumbers(op string, a, b float64) bool {
	switch op {
	case "eq":
		return a == b
	case "ne":
		return a != b
	case "gt":
		return a > b
	case "ge":
		return a >= b
	case "lt":
		return a < b
	}
	return a <= b
}
