package fakeserver

import (
	"encoding/json"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// A write's body is almost always a flat JSON object of scalars. parseFlatObject reads exactly
// that, in one pass without reflection; anything else (a nested value, a key given twice, a
// syntax error) makes it give up, and decodeObject's token-by-token decoding, slower but
// complete, answers instead with its precise message. Both refuse an escaped lone surrogate
// ("\ud800"), which encoding/json would silently turn into U+FFFD: a body must be valid
// Unicode whether its bad character is raw or escaped.

// errNotFlat sends a body to decodeObject.
var errNotFlat = errors.New("not a flat object")

// errLoneSurrogate is an escaped half of a UTF-16 surrogate pair.
var errLoneSurrogate = errors.New("the body is not valid UTF-8: it escapes a lone UTF-16 surrogate (\\uD800-\\uDFFF), which stands for no character")

// parseFlatObject decodes raw, which must be valid UTF-8, as an object whose values are
// strings, numbers (as json.Number), booleans or null.
func parseFlatObject(raw []byte) (map[string]any, error) {
	p := flatParser{s: raw}
	p.space()
	if !p.eat('{') {
		return nil, errNotFlat
	}
	obj := make(map[string]any, 8)
	p.space()
	if p.eat('}') {
		return p.end(obj)
	}
	for {
		p.space()
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(':') {
			return nil, errNotFlat
		}
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if _, dup := obj[key]; dup {
			return nil, errNotFlat
		}
		obj[key] = v
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end(obj)
		}
		return nil, errNotFlat
	}
}

type flatParser struct {
	s []byte
	i int
}

func (p *flatParser) end(obj map[string]any) (map[string]any, error) {
	p.space()
	if p.i != len(p.s) {
		return nil, errNotFlat
	}
	return obj, nil
}

func (p *flatParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *flatParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *flatParser) literal(word string) bool {
	if len(p.s)-p.i >= len(word) && string(p.s[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

func (p *flatParser) value() (any, error) {
	if p.i >= len(p.s) {
		return nil, errNotFlat
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("null"):
		return nil, nil
	}
	return nil, errNotFlat
}

// number reads JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *flatParser) number() (any, error) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		p.digits()
	default:
		return nil, errNotFlat
	}
	if p.eat('.') && !p.digits() {
		return nil, errNotFlat
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return nil, errNotFlat
		}
	}
	return json.Number(p.s[start:p.i]), nil
}

func (p *flatParser) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// str reads a string, undoing its escapes.
func (p *flatParser) str() (string, error) {
	if !p.eat('"') {
		return "", errNotFlat
	}
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			s := string(p.s[start:p.i])
			p.i++
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", errNotFlat
		}
		p.i++
	}
	return "", errNotFlat
}

// escaped finishes a string that has escapes, from its start.
func (p *flatParser) escaped(start int) (string, error) {
	b := make([]byte, 0, p.i-start+16)
	b = append(b, p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", errNotFlat
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", errNotFlat
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", errNotFlat
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one is a character.
				if r >= 0xDC00 || p.i+1 >= len(p.s) || p.s[p.i] != '\\' || p.s[p.i+1] != 'u' {
					return "", errLoneSurrogate
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok {
					return "", errNotFlat
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", errLoneSurrogate
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", errNotFlat
		}
	}
	return "", errNotFlat
}

func (p *flatParser) hex4() (rune, bool) {
	if len(p.s)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.s[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

// hasLoneSurrogate reports whether valid JSON text escapes a lone surrogate anywhere.
func hasLoneSurrogate(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			i++
			if i >= len(raw) || raw[i] != 'u' {
				continue
			}
			p := flatParser{s: raw, i: i + 1}
			r, ok := p.hex4()
			if !ok || !utf16.IsSurrogate(r) {
				i = p.i - 1
				continue
			}
			if r >= 0xDC00 || p.i+1 >= len(raw) || raw[p.i] != '\\' || raw[p.i+1] != 'u' {
				return true
			}
			p.i += 2
			r2, ok := p.hex4()
			if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
				return true
			}
			i = p.i - 1
		}
	}
	return false
}
