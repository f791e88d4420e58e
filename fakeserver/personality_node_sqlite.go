package fakeserver

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
)

// What SQLite and JavaScript do to values on their way through azure-mobile-apps' sqlite
// provider. Each function reproduces one conversion the Node backend's answers depend on.

// sqliteNumericPrefix is the number SQLite reads from text in arithmetic ("5abc" + 1 is 6,
// "AAAAAAAAAAc=" + 1 is 1): the longest prefix that is a number, else 0. isInt says whether
// that prefix is an integer (no '.', no exponent) that fits in 64 bits.
func sqliteNumericPrefix(s string) (f float64, i int64, isInt bool) {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	end, digits, real := 0, 0, false
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
		digits++
	}
	if end < len(s) && s[end] == '.' {
		j := end + 1
		frac := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			frac++
		}
		if digits+frac > 0 {
			end, digits, real = j, digits+frac, true
		}
	}
	if digits == 0 {
		return 0, 0, true
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		j := end + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			end, real = k, true
		}
	}
	num := s[:end]
	if !real {
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			return float64(n), n, true
		}
	}
	f, _ = strconv.ParseFloat(num, 64)
	return f, 0, false
}

// sqliteIsNumericText reports whether SQLite's NUMERIC/INTEGER/REAL affinity turns text into
// a number: the whole text (surrounding spaces aside) is a well-formed number.
func sqliteIsNumericText(s string) (float64, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(t, "xXnN_") {
		return 0, false
	}
	return f, true
}

// sqliteRealText is SQLite's text for a REAL: 15 significant digits, and ".0" on an
// integral value ("3.0", "2.5").
func sqliteRealText(f float64) string {
	s := strconv.FormatFloat(f, 'g', 15, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// sqliteAddText is the text of a + b for two text operands, as SQLite computes it: both read
// as numbers (sqliteNumericPrefix), an integer sum when both are integers.
func sqliteAddText(a, b string) string {
	fa, ia, inta := sqliteNumericPrefix(a)
	fb, ib, intb := sqliteNumericPrefix(b)
	if inta && intb {
		if sum := ia + ib; (sum > ia) == (ib > 0) || ib == 0 {
			return strconv.FormatInt(sum, 10)
		}
	}
	return sqliteRealText(fa + fb)
}

// nodeNextVersion is the version text after an update: the provider's trigger sets
// version = OLD.version + 1 on a TEXT column.
func nodeNextVersion(stored string) string {
	f, i, isInt := sqliteNumericPrefix(stored)
	if isInt && i < math.MaxInt64 {
		return strconv.FormatInt(i+1, 10)
	}
	return sqliteRealText(f + 1)
}

// nodeTag is the version a client sees for the stored version text: base64 of its bytes.
func nodeTag(stored string) string { return base64.StdEncoding.EncodeToString([]byte(stored)) }

// nodeStored is the stored version text behind a tag nodeTag made.
func nodeStored(tag string) string {
	b, err := base64.StdEncoding.DecodeString(tag)
	if err != nil {
		return ""
	}
	return string(b)
}

// nodeFromBase64 is Node's Buffer.from(s, "base64").toString("ascii"): lenient decoding that
// skips characters outside the alphabet (both the standard and the URL-safe one), stops at
// the first '=', decodes a trailing partial group as far as it goes, and clears the high bit
// of every byte.
func nodeFromBase64(s string) string {
	var out []byte
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			i = len(s)
			continue
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	for i := range out {
		out[i] &= 0x7f
	}
	return string(out)
}

// nodeVersionFromEtag is azure-mobile-apps' getVersionFromEtag: one leading and one trailing
// double quote go, and a backslash before a quote. W/ stays, so a weak tag never matches.
func nodeVersionFromEtag(etag string) string {
	etag = strings.TrimPrefix(etag, `"`)
	etag = strings.TrimSuffix(etag, `"`)
	return strings.ReplaceAll(etag, `\"`, `"`)
}

// jsParseInt is JavaScript's parseInt(s) for base 10: leading spaces, a sign and the digits
// that follow; ok is false where it gives NaN.
func jsParseInt(s string) (n int, ok bool) {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(s[:end], 10, 32)
	if err != nil {
		v = math.MaxInt32
	}
	if neg {
		v = -v
	}
	return int(v), true
}

// nodeIdentifier is the provider's identifier rule for column names: a letter or _, then
// letters, digits and _, at most 128.
func nodeIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(letter || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func nodeIdentifierMessage(name string) string {
	return name + " is not a valid identifier. Identifiers must be under 128 characters in length, start with a letter or underscore, and can contain only alpha-numeric and underscore characters."
}
