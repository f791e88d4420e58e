package odata

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF     tokKind = iota
	tIdent           // a name or keyword
	tLiteral         // a string, number or typed literal; val holds the normalised value
	tLParen
	tRParen
	tComma
	tMinus
)

type token struct {
	kind tokKind
	pos  int    // byte offset of the token's first byte
	text string // the source text of the token
	val  any    // tLiteral only: string, float64 or time.Time (true/false/null are tIdent)
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tLiteral:
		return "literal " + clip(t.text)
	}
	return "'" + clip(t.text) + "'"
}

// clip shortens s for a message, cutting on a rune boundary.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 37
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// next reads one token. Errors are returned as *SyntaxError with Input left for the parser to
// fill.
func (l *lexer) next() (token, *SyntaxError) {
	s := l.src
	for l.pos < len(s) && isSpace(s[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start == len(s) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := s[start]
	single := func(k tokKind) (token, *SyntaxError) {
		l.pos++
		return token{kind: k, pos: start, text: s[start:l.pos]}, nil
	}
	switch {
	case c == '(':
		return single(tLParen)
	case c == ')':
		return single(tRParen)
	case c == ',':
		return single(tComma)
	case c == '-':
		return single(tMinus)
	case c == '\'':
		v, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		return token{kind: tLiteral, pos: start, text: s[start:l.pos], val: v}, nil
	case isDigit(c):
		return l.number()
	case isIdentStart(c):
		for l.pos < len(s) && isIdentChar(s[l.pos]) {
			l.pos++
		}
		if l.pos < len(s) && s[l.pos] == '\'' {
			return l.typed(start)
		}
		return token{kind: tIdent, pos: start, text: s[start:l.pos]}, nil
	}
	r, size := utf8.DecodeRuneInString(s[start:])
	if r == utf8.RuneError && size == 1 {
		return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unexpected byte 0x%02x", c)}
	}
	return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unexpected character %q", r)}
}

// quoted reads a '…' string at l.pos, where a doubled quote stands for one.
func (l *lexer) quoted() (string, *SyntaxError) {
	s, start := l.src, l.pos
	i := start + 1
	var b strings.Builder
	for {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return "", &SyntaxError{Pos: start, Msg: "unterminated string literal"}
		}
		j += i
		if j+1 < len(s) && s[j+1] == '\'' {
			b.WriteString(s[i : j+1])
			i = j + 2
			continue
		}
		l.pos = j + 1
		if b.Len() == 0 {
			return s[start+1 : j], nil
		}
		b.WriteString(s[i:j])
		return b.String(), nil
	}
}

// number reads digits[.digits][e[±]digits][type suffix] at l.pos.
func (l *lexer) number() (token, *SyntaxError) {
	s, start := l.src, l.pos
	i := start
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	expectDigits := func(what string) *SyntaxError {
		if i < len(s) && isDigit(s[i]) {
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			return nil
		}
		return &SyntaxError{Pos: i, Msg: "invalid number literal: expected a digit " + what}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if err := expectDigits("after '.'"); err != nil {
			return token{}, err
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if err := expectDigits("in the exponent"); err != nil {
			return token{}, err
		}
	}
	end := i
	if i < len(s) && strings.IndexByte("LlMmDdFf", s[i]) >= 0 {
		i++
	}
	if i < len(s) && isIdentChar(s[i]) {
		return token{}, &SyntaxError{Pos: i, Msg: fmt.Sprintf("invalid number literal: unexpected %q after %s", s[i], s[start:i])}
	}
	l.pos = i
	f, err := strconv.ParseFloat(s[start:end], 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("number %s is out of range", clip(s[start:i]))}
	}
	return token{kind: tLiteral, pos: start, text: s[start:i], val: f}, nil
}

// typed reads prefix'…' (datetime, datetimeoffset, guid) whose prefix starts at start and whose
// quote is at l.pos.
func (l *lexer) typed(start int) (token, *SyntaxError) {
	prefix := l.src[start:l.pos]
	content, err := l.quoted()
	if err != nil {
		err.Pos = start
		return token{}, err
	}
	tok := token{kind: tLiteral, pos: start, text: l.src[start:l.pos]}
	switch strings.ToLower(prefix) {
	case "datetime", "datetimeoffset":
		t, ok := parseDateTime(content)
		if !ok {
			return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("invalid %s literal '%s'", strings.ToLower(prefix), clip(content))}
		}
		tok.val = t
	case "guid":
		if !isGUID(content) {
			return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("invalid guid literal '%s'", clip(content))}
		}
		tok.val = content
	default:
		return token{}, &SyntaxError{Pos: start, Msg: fmt.Sprintf("unsupported literal type '%s'", clip(prefix))}
	}
	return tok, nil
}

// isGUID accepts the 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
				return false
			}
		}
	}
	return true
}
