package odata

import (
	"fmt"
	"time"
)

// Expr is a node of a parsed $filter or $orderby expression. The set of node types is sealed:
// Literal, Property, Unary, Binary and Call. Nodes are plain values, so two trees can be compared
// with reflect.DeepEqual; the evaluator and printer also accept pointers to nodes.
type Expr interface{ isExpr() }

// Literal is a constant. Value is nil, bool, string, float64 (finite) or time.Time (UTC,
// truncated to milliseconds); ParseFilter and Lit only ever produce these. A Literal built by
// hand with another Go value is normalised the way row values are when evaluated.
type Literal struct{ Value any }

// Property is a reference to a column of the row, [A-Za-z_][A-Za-z0-9_]*. Names that are
// keywords of the grammar (and, or, not, eq, ne, gt, ge, lt, le, add, sub, mul, div, mod, true,
// false, null) cannot be written in a filter.
type Property struct{ Name string }

// Unary is "not X" or "-X". ParseFilter folds "-" applied to a number literal into a negative
// Literal, so it never returns a Unary "-" whose operand is a number Literal.
type Unary struct {
	Op string // "not" or "-"
	X  Expr
}

// Binary is "Left Op Right" with Op one of eq ne gt ge lt le and or add sub mul div mod.
type Binary struct {
	Op          string
	Left, Right Expr
}

// Call is a function call; Name is one of the lower-case functions the grammar knows and Args
// has the arity ParseFilter checked.
type Call struct {
	Name string
	Args []Expr
}

// OrderBy is one key of an $orderby clause.
type OrderBy struct {
	Expr Expr
	Desc bool
}

func (Literal) isExpr()  {}
func (Property) isExpr() {}
func (Unary) isExpr()    {}
func (Binary) isExpr()   {}
func (Call) isExpr()     {}

// deref turns a pointer node into the node it points at, so hand-built trees that use &Binary{…}
// evaluate and print like value trees. A nil pointer (or nil Expr) becomes nil.
func deref(e Expr) Expr {
	switch x := e.(type) {
	case *Literal:
		if x != nil {
			return *x
		}
	case *Property:
		if x != nil {
			return *x
		}
	case *Unary:
		if x != nil {
			return *x
		}
	case *Binary:
		if x != nil {
			return *x
		}
	case *Call:
		if x != nil {
			return *x
		}
	default:
		return e
	}
	return nil
}

// Prop refers to the column name.
func Prop(name string) Expr { return Property{Name: name} }

// Lit makes a literal from a Go value: nil, bool, string, any integer or float type,
// json.Number (all become float64), a named type over one of those kinds or time.Time (becomes UTC, truncated to milliseconds, the
// precision the protocol keeps). It panics on a value no OData literal can hold — a NaN or
// infinite number, an unparsable json.Number, a map — because a query silently built around a
// different value would return the wrong rows.
func Lit(v any) Expr {
	n, ok := normalize(v)
	if !ok || (n == nil && v != nil) {
		panic(fmt.Sprintf("odata.Lit: %T value %v cannot be an OData literal", v, v))
	}
	if t, isTime := n.(time.Time); isTime && (t.Year() < 0 || t.Year() > 9999) {
		panic(fmt.Sprintf("odata.Lit: time %v is outside the years 0000-9999 a literal can hold", t))
	}
	return Literal{Value: n}
}

// Eq is "a eq b".
func Eq(a, b Expr) Expr { return Binary{Op: "eq", Left: a, Right: b} }

// And joins its operands with "and", left to right. Nil operands are skipped, so an optional
// clause can be passed as nil; with no operands left it is the literal true.
func And(xs ...Expr) Expr { return join("and", true, xs) }

// Or joins its operands with "or", left to right. Nil operands are skipped; with no operands
// left it is the literal false.
func Or(xs ...Expr) Expr { return join("or", false, xs) }

// Not is "not x".
func Not(x Expr) Expr { return Unary{Op: "not", X: x} }

func join(op string, empty bool, xs []Expr) Expr {
	var out Expr
	for _, x := range xs {
		if x == nil {
			continue
		}
		if out == nil {
			out = x
		} else {
			out = Binary{Op: op, Left: out, Right: x}
		}
	}
	if out == nil {
		return Literal{Value: empty}
	}
	return out
}
