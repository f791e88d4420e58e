package odata

import "fmt"

// Limits that keep a hostile query from hanging the parser or exhausting the stack.
const (
	// MaxInputBytes is the longest $filter or $orderby text accepted.
	MaxInputBytes = 64 << 10
	// MaxDepth is the deepest nesting of parentheses, function calls and unary operators.
	MaxDepth = 100
)

// SyntaxError reports a $filter or $orderby that does not parse.
type SyntaxError struct {
	Input string // the text given to ParseFilter or ParseOrderBy
	Pos   int    // 0-based byte offset into Input where the problem was found
	Msg   string // what is wrong, for a person

	param string // "$filter" or "$orderby", for Error
}

// Error reads like `$filter: expected ')', found end of input at position 7: "(a eq 1"`. Long
// inputs are shown as an excerpt around the position.
func (e *SyntaxError) Error() string {
	param := e.param
	if param == "" {
		param = "$filter"
	}
	return fmt.Sprintf("%s: %s at position %d: %q", param, e.Msg, e.Pos, excerpt(e.Input, e.Pos))
}

func excerpt(s string, pos int) string {
	const window = 60
	if len(s) <= 2*window {
		return s
	}
	lo, hi := max(pos-window, 0), min(pos+window, len(s))
	out := s[lo:hi]
	if lo > 0 {
		out = "..." + out
	}
	if hi < len(s) {
		out += "..."
	}
	return out
}

// ParseFilter parses an OData v3 $filter expression. The grammar, lowest precedence first:
//
//	or
//	and
//	eq ne gt ge lt le      (left-associative, like the others)
//	add sub
//	mul div mod
//	not -                  (prefix; "not a eq b" is "(not a) eq b")
//	literal, property, function(args), ( expression )
//
// Literals are 'text' (a doubled quote is one quote), numbers (12, 1.5, 1e5, with an optional
// type suffix L M D F in either case), true, false, null, datetime'…', datetimeoffset'…' and
// guid'…' (which becomes a string; the 8-4-4-4-12 hex form is checked). Keywords, operators and
// function names are lower-case (AND is a property name); the prefixes of typed literals are not
// case-sensitive. Names are [A-Za-z_][A-Za-z0-9_]*, and a name directly followed by '(' is a
// function call. A failure is a *SyntaxError whose Pos points at the problem.
func ParseFilter(s string) (Expr, error) {
	p, err := newParser(s, "$filter")
	if err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errorf(p.tok.pos, "expected an operator or end of input, found %s", p.tok.describe())
	}
	return e, nil
}

// ParseOrderBy parses an $orderby clause: a comma-separated list of expressions, each
// optionally followed by asc (the default) or desc. A blank clause is an error.
func ParseOrderBy(s string) ([]OrderBy, error) {
	p, err := newParser(s, "$orderby")
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.errorf(p.tok.pos, "empty $orderby, expected an expression")
	}
	var out []OrderBy
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		o := OrderBy{Expr: e}
		if p.tok.kind == tIdent && (p.tok.text == "asc" || p.tok.text == "desc") {
			o.Desc = p.tok.text == "desc"
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		out = append(out, o)
		switch p.tok.kind {
		case tEOF:
			return out, nil
		case tComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		default:
			return nil, p.errorf(p.tok.pos, "expected ',', 'asc', 'desc' or end of input, found %s", p.tok.describe())
		}
	}
}

type parser struct {
	lex   lexer
	tok   token // the current (next unconsumed) token
	depth int
	param string
}

func newParser(s, param string) (*parser, error) {
	p := &parser{lex: lexer{src: s}, param: param}
	if len(s) > MaxInputBytes {
		return nil, p.errorf(MaxInputBytes, "input is %d bytes, longer than the limit of %d", len(s), MaxInputBytes)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) errorf(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Input: p.lex.src, Pos: pos, Msg: fmt.Sprintf(format, args...), param: p.param}
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		err.Input, err.param = p.lex.src, p.param
		return err
	}
	p.tok = t
	return nil
}

// enter counts one level of nesting opened by the token at pos.
func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(pos, "too deeply nested (more than %d levels of parentheses, calls and unary operators)", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// binaryLevels lists the binary operators from lowest to highest precedence.
var binaryLevels = [...][]string{
	{"or"},
	{"and"},
	{"eq", "ne", "gt", "ge", "lt", "le"},
	{"add", "sub"},
	{"mul", "div", "mod"},
}

// keywords cannot be property names.
var keywords = map[string]bool{
	"or": true, "and": true, "not": true,
	"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true,
	"add": true, "sub": true, "mul": true, "div": true, "mod": true,
	"true": true, "false": true, "null": true,
}

func (p *parser) expr() (Expr, error) { return p.binary(0) }

// binary parses a left-associative chain of the operators at binaryLevels[level]. Chains loop
// rather than recurse, so only parentheses, calls and unary operators deepen the stack.
func (p *parser) binary(level int) (Expr, error) {
	left, err := p.operand(level)
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tIdent && isOneOf(p.tok.text, binaryLevels[level]) {
		op := p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.operand(level)
		if err != nil {
			return nil, err
		}
		left = Binary{Op: op, Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) operand(level int) (Expr, error) {
	if level+1 < len(binaryLevels) {
		return p.binary(level + 1)
	}
	return p.unary()
}

func isOneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func (p *parser) unary() (Expr, error) {
	t := p.tok
	var op string
	switch {
	case t.kind == tMinus:
		op = "-"
	case t.kind == tIdent && t.text == "not":
		op = "not"
	default:
		return p.primary()
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	if lit, ok := x.(Literal); ok && op == "-" {
		if f, ok := lit.Value.(float64); ok {
			return Literal{Value: -f}, nil
		}
	}
	return Unary{Op: op, X: x}, nil
}

func (p *parser) primary() (Expr, error) {
	t := p.tok
	switch t.kind {
	case tLiteral:
		return Literal{Value: t.val}, p.advance()
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return e, p.expect(tRParen, "')'")
	case tIdent:
		switch t.text {
		case "true":
			return Literal{Value: true}, p.advance()
		case "false":
			return Literal{Value: false}, p.advance()
		case "null":
			return Literal{Value: nil}, p.advance()
		}
		if keywords[t.text] {
			return nil, p.errorf(t.pos, "expected an expression, found keyword '%s'", t.text)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tLParen {
			return p.call(t)
		}
		return Property{Name: t.text}, nil
	case tEOF:
		return nil, p.errorf(t.pos, "unexpected end of input, expected an expression")
	}
	return nil, p.errorf(t.pos, "expected an expression, found %s", t.describe())
}

// expect consumes a token of kind k or fails naming what.
func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.errorf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
	}
	return p.advance()
}

// call parses the argument list of the function named by name; the current token is its '('.
func (p *parser) call(name token) (Expr, error) {
	arity, ok := functions[name.text]
	if !ok {
		return nil, p.errorf(name.pos, "unknown function '%s'", clip(name.text))
	}
	if err := p.enter(name.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil { // the '('
		return nil, err
	}
	var args []Expr
	if p.tok.kind != tRParen {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if p.tok.kind != tRParen {
		return nil, p.errorf(p.tok.pos, "expected ',' or ')' in the arguments of %s, found %s", name.text, p.tok.describe())
	}
	if len(args) < arity.min || len(args) > arity.max {
		return nil, p.errorf(name.pos, "%s takes %s, got %d", name.text, arity, len(args))
	}
	return Call{Name: name.text, Args: args}, p.advance()
}

type arity struct{ min, max int }

func (a arity) String() string {
	switch {
	case a.min == a.max && a.min == 1:
		return "1 argument"
	case a.min == a.max:
		return fmt.Sprintf("%d arguments", a.min)
	}
	return fmt.Sprintf("%d or %d arguments", a.min, a.max)
}

// functions lists every function the grammar knows with its arity.
var functions = map[string]arity{
	"startswith": {2, 2}, "endswith": {2, 2}, "substringof": {2, 2}, "contains": {2, 2},
	"tolower": {1, 1}, "toupper": {1, 1}, "length": {1, 1}, "trim": {1, 1},
	"indexof": {2, 2}, "substring": {2, 3}, "concat": {2, 2},
	"year": {1, 1}, "month": {1, 1}, "day": {1, 1}, "hour": {1, 1}, "minute": {1, 1}, "second": {1, 1},
	"round": {1, 1}, "floor": {1, 1}, "ceiling": {1, 1},
}
