package fakeserver

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/conflictlab/conflictlab/internal/mutants"
)

// record is one row as the server keeps it. Records are never changed once stored: a write
// stores a new record, so a pointer taken under the lock stays valid after it is released.
type record struct {
	id      string
	data    map[string]any // user columns: nil, bool, string or json.Number
	version uint64
	vtext   string // version encoded, when known
	// json caches the row as a v2 response without $select shows it, once rendered: records
	// never change, and the same row is often read many times. Nil for records made
	// outside the store.
	json *rowJSON
	// cols holds the user columns by their table's ordinals (see table.columnsOf), numbers
	// already read: what a $filter evaluated over many rows reads instead of the map. Nil for
	// records made outside the store.
	cols      []any
	createdAt time.Time
	updatedAt time.Time
	deleted   bool
	// tag and rowid belong to the node personality (personality_node.go): the version as
	// Node shows it (base64 of the row's own version text) and the row's place in insertion
	// order. Empty and 0 otherwise.
	tag   string
	rowid uint64
}

// wireVersion is the row's version as clients see it: the node personality's tag, else the
// counter encoded (once, when the row was stored).
func (r *record) wireVersion() string {
	switch {
	case r.tag != "":
		return r.tag
	case r.vtext != "":
		return r.vtext
	}
	return EncodeVersion(r.version)
}

// The system columns, by their v2 names; v1 puts "__" in front.
const (
	colID        = "id"
	colVersion   = "version"
	colCreatedAt = "createdAt"
	colUpdatedAt = "updatedAt"
	colDeleted   = "deleted"
)

var systemColumns = []string{colVersion, colCreatedAt, colUpdatedAt, colDeleted}

// wireName is a system column's name in dialect d.
func wireName(d Dialect, col string) string {
	if d == V1 && col != colID && !(col == colVersion && mutants.On(mutants.V1VersionUnprefixed)) {
		return "__" + col
	}
	return col
}

// sysProps is the set of system columns a v1 response includes.
type sysProps map[string]bool

var allSysProps = sysProps{colVersion: true, colCreatedAt: true, colUpdatedAt: true, colDeleted: true}

// render gives the row as dialect d puts it on the wire. In v2 every system column is there;
// in v1 only those in sys. sel, when not nil, limits the user columns (lower-case names).
func (r *record) render(d Dialect, sys sysProps, sel map[string]bool) map[string]any {
	out := make(map[string]any, len(r.data)+5)
	for k, v := range r.data {
		if sel == nil || sel[strings.ToLower(k)] {
			out[k] = v
		}
	}
	out[colID] = r.id
	for _, c := range systemColumns {
		if d == V2 || sys[c] || (sel != nil && sel[strings.ToLower(wireName(d, c))]) {
			out[wireName(d, c)] = r.system(c)
		}
	}
	return out
}

func (r *record) system(col string) any {
	switch col {
	case colVersion:
		return r.wireVersion()
	case colCreatedAt:
		return r.createdAt.Format(TimeFormat)
	case colUpdatedAt:
		return r.updatedAt.Format(TimeFormat)
	case colDeleted:
		return r.deleted
	}
	return nil
}

// public gives the row for the Go API: v2 names, numbers as float64 like encoding/json.
func (r *record) public() map[string]any {
	out := r.render(V2, nil, nil)
	for k, v := range out {
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			out[k] = f
		}
	}
	return out
}

// body is a write's payload, split into what the server acts on.
type body struct {
	id         string
	hasID      bool
	version    string
	hasVersion bool
	// badVersion is set when the version is not a string; it matters only where the version
	// is used (a PATCH without If-Match): a POST ignores the version, as docs/protocol.md says.
	badVersion *Error
	data       map[string]any
}

// lowerSystemNames are the system columns' names in each dialect, lower-cased once.
var lowerSystemNames = map[Dialect]struct{ version, createdAt, updatedAt, deleted string }{
	V1: {"__version", "__createdat", "__updatedat", "__deleted"},
	V2: {"version", "createdat", "updatedat", "deleted"},
}

// splitBody checks a write's payload in dialect d: id a string, no server-owned columns,
// scalar values only, no column named twice. It never changes item.
func splitBody(d Dialect, item map[string]any) (*body, *Error) {
	b := &body{data: make(map[string]any, len(item))}
	names := lowerSystemNames[d]
	type seenName struct{ lower, name string }
	var seenBuf [8]seenName // the columns so far, by lower-case name: a body has few
	seen := seenBuf[:0]
	for k, v := range item {
		lower := strings.ToLower(k)
		switch lower {
		case colID:
			if v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, badRequest("id must be a string, got %s", jsonType(v))
			}
			if err := checkID(s); err != nil {
				return nil, err
			}
			b.id, b.hasID = s, true
			continue
		case names.version:
			if v == nil {
				continue
			}
			if s, ok := v.(string); ok {
				b.version, b.hasVersion = s, true
			} else {
				b.badVersion = badRequest("%s must be a string, got %s", k, jsonType(v))
			}
			continue
		case names.createdAt, names.updatedAt, names.deleted:
			if v != nil {
				return nil, badRequest("%s is set by the server and cannot be written", k)
			}
			continue
		}
		if strings.HasPrefix(k, "__") {
			if d == V2 {
				return nil, badRequest("property %q: names starting with __ are reserved (v1 system columns); this server speaks v2", k)
			}
			return nil, badRequest("property %q: unknown system property", k)
		}
		if err := checkColumnName(k); err != nil {
			return nil, err
		}
		for _, prev := range seen {
			if prev.lower == lower {
				return nil, badRequest("property %q is given twice (as %q and %q); column names are case-insensitive", k, prev.name, k)
			}
		}
		seen = append(seen, seenName{lower, k})
		nv, err := scalar(k, v)
		if err != nil {
			return nil, err
		}
		b.data[k] = nv
	}
	return b, nil
}

// scalar normalises a column value to nil, bool, string or a finite json.Number.
func scalar(col string, v any) (any, *Error) {
	var n float64
	switch x := v.(type) {
	case nil, bool, string:
		return v, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, badRequest("property %q: number %s is out of range", col, string(x))
		}
		return x, nil
	case float64:
		n = x
	case float32:
		n = float64(x)
	case time.Time:
		return x.UTC().Format(TimeFormat), nil
	case map[string]any:
		return nil, badRequest("property %q: nested objects are not supported; columns hold strings, numbers, booleans or null", col)
	case []any:
		return nil, badRequest("property %q: arrays are not supported; columns hold strings, numbers, booleans or null", col)
	default:
		switch rv := reflect.ValueOf(v); rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return json.Number(strconv.FormatInt(rv.Int(), 10)), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return json.Number(strconv.FormatUint(rv.Uint(), 10)), nil
		}
		return nil, badRequest("property %q: unsupported value of type %T", col, v)
	}
	if math.IsInf(n, 0) || math.IsNaN(n) {
		return nil, badRequest("property %q: number %v is out of range", col, n)
	}
	return json.Number(strconv.FormatFloat(n, 'g', -1, 64)), nil
}

// kindOf names a column's JSON type, or "" for null.
func kindOf(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		return "number"
	}
	return ""
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, float32, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

const maxIDLength = 255

// checkID enforces the id rule: 1–255 characters, none of them control characters or ? # \,
// and not "." or "..": an id must travel intact in a URL path segment, escaped. A "/" is
// allowed, as the Node and .NET servers allow it: sent as %2F it stays in its segment.
func checkID(id string) *Error {
	if id == "" {
		return badRequest("id must not be empty")
	}
	if id == "." || id == ".." {
		return badRequest("id %q cannot travel in a URL path", id)
	}
	if !utf8.ValidString(id) {
		return badRequest("id is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(id); n > maxIDLength {
		return badRequest("id is %d characters long; the limit is %d", n, maxIDLength)
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return badRequest("id must not contain control characters")
		}
		if strings.ContainsRune(`?#\`, r) {
			return badRequest("id must not contain %q", r)
		}
	}
	return nil
}

func checkColumnName(name string) *Error {
	if name == "" {
		return badRequest("property names must not be empty")
	}
	if !utf8.ValidString(name) {
		return badRequest("property name is not valid UTF-8")
	}
	if utf8.RuneCountInString(name) > 128 {
		return badRequest("property name %.20q… is longer than 128 characters", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badRequest("property name %q contains a control character", name)
		}
	}
	return nil
}

func validTableName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// idKey is how rows are keyed: ids match case-insensitively, as they do in the SQL Server
// and SQLite stores behind the real servers and in the SDKs' local stores.
func idKey(id string) string {
	if mutants.On(mutants.CaseSensitiveIDs) {
		return id // the bug: ids as sent
	}
	return strings.ToLower(id)
}
