package odata

import (
	"cmp"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"time"
)

// normalize maps a row or literal value into the evaluator's domain: nil, bool, float64
// (finite), string or time.Time (UTC, millisecond precision). known is false for a type outside
// that domain (a map, a slice, a struct, a pointer…), which the evaluator treats as null and Compare sorts
// last. A number that is not finite, or a json.Number that does not parse, is a known null.
func normalize(v any) (n any, known bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case bool, string:
		return x, true
	case float64:
		return finite(x), true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, true
		}
		return finite(f), true
	case time.Time:
		return normTime(x), true
	}
	// Every other integer and float type, and named types over the basic kinds
	// (type Status string), mean what their kind means.
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), true
	case reflect.String:
		return rv.String(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return finite(rv.Float()), true
	}
	return nil, false
}

// finite returns f, or nil when f is NaN or infinite: every number the evaluator sees is finite,
// which keeps Compare a total order and every number printable as a literal.
func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// normTime is the one place times lose precision: UTC, truncated to the millisecond, no
// monotonic reading — so equal instants are equal Go values.
func normTime(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// parseDateTime reads the date-times this package understands, in literals and in string
// columns: YYYY-MM-DDThh:mm[:ss[.fraction]][Z|±hh:mm]. The separator may be 'T', 't' or a space;
// no zone means UTC. The instant must fall in the years 0000–9999 UTC.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) < 16 || s[4] != '-' || s[7] != '-' || s[13] != ':' {
		return time.Time{}, false
	}
	if c := s[10]; c != 'T' && c != 't' && c != ' ' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return time.Time{}, false
	}
	i, sec, nsec := 16, 0, 0
	if i < len(s) && s[i] == ':' {
		if len(s) < i+3 {
			return time.Time{}, false
		}
		var ok bool
		if sec, ok = digits(s[i+1 : i+3]); !ok {
			return time.Time{}, false
		}
		i += 3
		if i < len(s) && s[i] == '.' {
			i++
			start, scale := i, 100_000_000
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				nsec += int(s[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == start {
				return time.Time{}, false
			}
		}
	}
	offset := 0
	switch {
	case i == len(s):
	case (s[i] == 'Z' || s[i] == 'z') && i+1 == len(s):
	case (s[i] == '+' || s[i] == '-') && len(s) == i+6 && s[i+3] == ':':
		oh, okh := digits(s[i+1 : i+3])
		om, okm := digits(s[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 April, 29 February of a common year
		return time.Time{}, false
	}
	t = normTime(t.Add(-time.Duration(offset) * time.Second))
	if t.Year() < 0 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// asTime reads a time.Time, or a string holding a date-time, as an instant.
func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return parseDateTime(x)
	}
	return time.Time{}, false
}

// Ranks of Compare's order.
const (
	rankNull = iota
	rankBool
	rankNumber
	rankText // strings and times
	rankUnknown
)

// Compare is the total order $orderby sorts by; it returns -1, 0 or +1. Values are normalised
// first (any integer or float type and json.Number are numbers; NaN, infinities and unparsable
// json.Numbers are null; times are instants at millisecond precision), then ordered:
//
//	null < false < true < numbers < dated text < other strings < values of unknown type
//
// Numbers compare by value (-0 equals 0). "Dated text" is every time.Time and every string that
// parses as a date-time (see the package documentation); they compare by instant, and at the
// same instant a time.Time sorts before a string and strings sort ordinally — so a time and the
// string that spells the same instant are adjacent but not equal. Other strings compare
// ordinally (byte-wise, case-sensitive). Values of unknown type (maps, slices…) are all equal.
//
// Because every value maps to a key compared lexicographically, Compare is antisymmetric and
// transitive, and sort.SliceStable / slices.SortStableFunc are well defined over mixed columns.
// Note that two date strings compare here by instant, whereas the filter operators compare two
// strings ordinally; for the canonical "2006-01-02T15:04:05.000Z" form both agree.
func Compare(a, b any) int {
	ra, va := rankOf(a)
	rb, vb := rankOf(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case rankBool:
		x, y := va.(bool), vb.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		default:
			return 1
		}
	case rankNumber:
		return cmp.Compare(va.(float64), vb.(float64))
	case rankText:
		return compareText(va, vb)
	}
	return 0
}

func rankOf(v any) (int, any) {
	n, known := normalize(v)
	if !known {
		return rankUnknown, nil
	}
	switch n.(type) {
	case nil:
		return rankNull, nil
	case bool:
		return rankBool, n
	case float64:
		return rankNumber, n
	}
	return rankText, n
}

// compareText orders strings and times by the key (undated?, instant, is-string?, text).
func compareText(a, b any) int {
	ta, da := asTime(a)
	tb, db := asTime(b)
	switch {
	case da && !db:
		return -1
	case !da && db:
		return 1
	case da && db:
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		_, sa := a.(string)
		_, sb := b.(string)
		switch {
		case !sa && !sb:
			return 0
		case !sa:
			return -1
		case !sb:
			return 1
		}
	}
	return strings.Compare(a.(string), b.(string))
}
