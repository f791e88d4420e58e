package fakeserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Rows are written straight from records into a pooled buffer rather than through a map and
// encoding/json's reflection: a row is a handful of scalar columns, and rendering them was a
// tenth of the server's time. The bytes are exactly those encoding/json writes for the map
// render returns (keys sorted, HTML left unescaped, one newline at the end), which a test
// checks over random rows.

// jsonContentType is shared by every answer: net/http only reads header values.
var jsonContentType = []string{"application/json; charset=utf-8"}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// putBuf returns a buffer to the pool, unless an answer made it too large to keep.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 1<<20 {
		*bp = b
		bufPool.Put(bp)
	}
}

// writeRaw answers with a JSON body already encoded.
func writeRaw(w http.ResponseWriter, status int, body []byte, version string) {
	h := w.Header()
	h["Content-Type"] = jsonContentType // keys in canonical form: no canonicalising on the way
	if version != "" {
		h["Etag"] = []string{etag(version)}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeRow answers with one row.
func writeRow(w http.ResponseWriter, status int, r *record, d Dialect, sys sysProps, sel map[string]bool) {
	bp := bufPool.Get().(*[]byte)
	b := appendRow((*bp)[:0], r, d, sys, sel)
	b = append(b, '\n')
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if r.json != nil && r.json.etag != nil && r.tag == "" {
		h["Etag"] = r.json.etag // made once, with the record
	} else {
		h["Etag"] = []string{etag(r.wireVersion())}
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	putBuf(bp, b)
}

// writeRows answers a query: its rows as an array, or {"count":N,"results":[…]}.
func writeRows(w http.ResponseWriter, rows []*record, d Dialect, sys sysProps, sel map[string]bool, count int, inlineCount bool) {
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	if inlineCount {
		b = append(b, `{"count":`...)
		b = strconv.AppendInt(b, int64(count), 10)
		b = append(b, `,"results":`...)
	}
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, r, d, sys, sel)
	}
	b = append(b, ']')
	if inlineCount {
		b = append(b, '}')
	}
	b = append(b, '\n')
	writeRaw(w, http.StatusOK, b, "")
	putBuf(bp, b)
}

// rowJSON holds what answers about a record repeat: its ETag header value, and its encoded
// v2 rendering, set by the first request that renders it. The header value is shared by
// every answer, which net/http only reads.
type rowJSON struct {
	etag []string
	v2   atomic.Pointer[[]byte]
}

// appendRow appends the row as render gives it, encoded.
func appendRow(b []byte, r *record, d Dialect, sys sysProps, sel map[string]bool) []byte {
	if d != V2 || sel != nil || r.json == nil {
		return encodeRow(b, r, d, sys, sel)
	}
	if cached := r.json.v2.Load(); cached != nil {
		return append(b, *cached...)
	}
	start := len(b)
	b = encodeRow(b, r, d, sys, sel)
	enc := slices.Clone(b[start:])
	r.json.v2.Store(&enc)
	return b
}

// encodeRow appends the row as render gives it, encoded.
func encodeRow(b []byte, r *record, d Dialect, sys sysProps, sel map[string]bool) []byte {
	var keysBuf [16]string
	keys := keysBuf[:0]
	system := func(col string) bool {
		return d == V2 || sys[col] || (sel != nil && sel[strings.ToLower(wireName(d, col))])
	}
	for k := range r.data {
		if sel == nil || sel[strings.ToLower(k)] {
			keys = append(keys, k)
		}
	}
	keys = append(keys, colID)
	for _, c := range systemColumns {
		if system(c) {
			keys = append(keys, wireName(d, c))
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // a user column spelled like a system one is the system one
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if col, ok := systemWireColumn(d, k); ok && (col == colID || system(col)) {
			b = appendSystem(b, r, col)
			continue
		}
		b = appendScalar(b, r.data[k])
	}
	return append(b, '}')
}

// systemWireColumn is the system column named k on the wire in dialect d.
func systemWireColumn(d Dialect, k string) (string, bool) {
	if k == colID {
		return colID, true
	}
	for _, c := range systemColumns {
		if wireName(d, c) == k {
			return c, true
		}
	}
	return "", false
}

func appendSystem(b []byte, r *record, col string) []byte {
	switch col {
	case colID:
		return appendString(b, r.id)
	case colVersion:
		return appendString(b, r.wireVersion())
	case colCreatedAt:
		b = append(b, '"')
		b = r.createdAt.AppendFormat(b, TimeFormat)
		return append(b, '"')
	case colUpdatedAt:
		b = append(b, '"')
		b = r.updatedAt.AppendFormat(b, TimeFormat)
		return append(b, '"')
	case colDeleted:
		return strconv.AppendBool(b, r.deleted)
	}
	return append(b, "null"...)
}

// appendScalar encodes a stored column value: nil, bool, string or json.Number (the only
// kinds a row holds); anything else goes through encoding/json.
func appendScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case json.Number:
		if x == "" {
			return append(b, '0') // as encoding/json writes an empty Number
		}
		return append(b, x...)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}

const hexDigits = "0123456789abcdef"

// appendString encodes s as encoding/json does with HTML escaping off: quotes and backslashes
// escaped, control characters as \n-style or \u00XX escapes, U+2028 and U+2029 escaped, and
// each invalid UTF-8 byte as \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
