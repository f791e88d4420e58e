package odata

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Format prints e as canonical OData text: single spaces around binary operators, parentheses
// only where precedence needs them, numbers in shortest form (exponent notation outside
// 1e-6 ≤ |x| < 1e21), dates as datetimeoffset'2006-01-02T15:04:05.000Z', guids as plain strings.
//
// For every tree ParseFilter returns, ParseFilter(Format(e)) returns a tree equal to e under
// reflect.DeepEqual — unless the printed text exceeds MaxInputBytes, which can happen only for an
// input already close to the limit, since printing can lengthen a literal (datetime'…T10:00' gains
// seconds and milliseconds). A hand-built tree prints as well as it can: a nil operand or a value
// of unknown type prints as null, a property named like a keyword prints unquoted (and so will
// not parse back), and a Unary "-" of a number literal parses back as one negative literal.
func Format(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, 0)
	return b.String()
}

// FormatOrderBy prints an $orderby clause as "a desc,b"; asc is never printed.
func FormatOrderBy(o []OrderBy) string {
	var b strings.Builder
	for i, k := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		writeExpr(&b, k.Expr, 0)
		if k.Desc {
			b.WriteString(" desc")
		}
	}
	return b.String()
}

const (
	precUnary   = len(binaryLevels) + 1
	precPrimary = precUnary + 1
)

// precedence is the binding strength of a node: 1 for or … 5 for mul, then unary, then primary.
func precedence(e Expr) int {
	switch x := e.(type) {
	case Binary:
		for i, level := range binaryLevels {
			if isOneOf(x.Op, level) {
				return i + 1
			}
		}
		return 0 // an unknown operator: always parenthesised
	case Unary:
		return precUnary
	}
	return precPrimary
}

// writeExpr prints e, in parentheses when it binds more loosely than minPrec.
func writeExpr(b *strings.Builder, e Expr, minPrec int) {
	e = deref(e)
	p := precedence(e)
	if p < minPrec {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch x := e.(type) {
	case Binary:
		writeExpr(b, x.Left, p)
		b.WriteByte(' ')
		b.WriteString(x.Op)
		b.WriteByte(' ')
		writeExpr(b, x.Right, p+1) // left-associative: an equal-precedence right operand needs parentheses
	case Unary:
		b.WriteString(x.Op)
		if x.Op != "-" {
			b.WriteByte(' ')
		}
		writeExpr(b, x.X, precUnary)
	case Call:
		b.WriteString(x.Name)
		b.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, a, 0)
		}
		b.WriteByte(')')
	case Property:
		b.WriteString(x.Name)
	case Literal:
		writeLiteral(b, x.Value)
	default:
		b.WriteString("null")
	}
}

func writeLiteral(b *strings.Builder, v any) {
	n, _ := normalize(v)
	switch x := n.(type) {
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(x, "'", "''"))
		b.WriteByte('\'')
	case float64:
		b.WriteString(formatNumber(x))
	case time.Time:
		b.WriteString("datetimeoffset'")
		b.WriteString(x.Format("2006-01-02T15:04:05.000Z07:00"))
		b.WriteByte('\'')
	default:
		b.WriteString("null")
	}
}

// formatNumber prints the shortest text that parses back to f: plain decimals for ordinary
// magnitudes, d.ddde±x (without '+') for the very large and very small.
func formatNumber(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e+21, 1e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := ""
	if exp[0] == '-' {
		sign = "-"
	}
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + sign + exp
}
