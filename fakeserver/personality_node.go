package fakeserver

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// The node personality: the table protocol as azure-mobile-apps 4.0.2 (Node, express 4, the
// sqlite provider, dynamic schema, soft delete) answers it, established request by request
// against the real server (docs/personalities.md has each difference and its evidence).
//
// It has handlers of its own for the five table operations, because most differences are in
// how a request is read and an answer written; underneath, the rows, the lock, the history,
// the faults and the clock are the server's, through the same insertLocked, updateLocked…
// The few differences in the rows themselves are switched on by table.node: per-row versions
// (nodeStamp), case-sensitive ids, values converted to their column's type, no column for a
// null, and insertion order.

// nodeServerVersion is what Node sends in x-zumo-server-version.
const nodeServerVersion = "node-4.0.2"

// nodeBodyLimit is body-parser's default limit; a larger body is a 400.
const nodeBodyLimit = 100 * 1024

// nodeNotFound is the message of every 404 the table routes give.
const nodeNotFound = "The item does not exist"

// nodeRoutes registers the table routes of the node personality on t, and Node's answer for
// a route it does not have on r.
func (s *Server) nodeRoutes(r, t *mux.Router) {
	r.NotFoundHandler = http.HandlerFunc(s.nodeCannot)
	t.NotFoundHandler = http.HandlerFunc(s.nodeCannot)
	t.Handle("/{table}", s.nodeMethods(map[string]http.HandlerFunc{
		http.MethodGet: s.nodeQuery, http.MethodPost: s.nodeInsert}))
	t.Handle("/{table}/{id}", s.nodeMethods(map[string]http.HandlerFunc{
		http.MethodGet: s.nodeLookup, http.MethodPatch: s.nodeUpdate,
		http.MethodDelete: s.nodeDelete, http.MethodPost: s.nodeUndelete}))
}

// nodeMethods dispatches on the method; express has no 405: any other method, and any table
// Node was not told about, is its HTML 404.
func (s *Server) nodeMethods(byMethod map[string]http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := byMethod[r.Method]
		name := routeVar(r, "table")
		if !ok || !nodeIdentifier(name) || (s.fixed != nil && s.fixed[strings.ToLower(name)] == "") {
			s.nodeCannot(w, r)
			return
		}
		h(w, r)
	})
}

// nodeCannot is express's default 404 page.
func (s *Server) nodeCannot(w http.ResponseWriter, r *http.Request) {
	msg := "Cannot " + r.Method + " " + r.URL.EscapedPath()
	exchangeOf(r).ev.Error = msg
	h := w.Header()
	h.Set("x-zumo-server-version", nodeServerVersion)
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>"+
		html.EscapeString(msg)+"</pre>\n</body>\n</html>\n")
}

// nodeJSON writes v as express's res.json does. version, when set, is the strong ETag the
// provider sets from the row; otherwise express puts its own weak ETag on the body. table
// marks a table result, which azure-mobile-apps tells caches not to keep.
func nodeJSON(w http.ResponseWriter, status int, v any, version string, table bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"cannot encode the response"}`)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("x-zumo-server-version", nodeServerVersion)
	if table {
		h.Set("cache-control", "no-cache")
		h.Set("expires", "0")
		h.Set("pragma", "no-cache")
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	if version != "" {
		h.Set("ETag", etag(version))
	} else {
		h.Set("ETag", expressETag(body))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// expressETag is the weak ETag express 4 computes for a body (the etag package): the length
// in hex and the first 27 characters of the body's SHA-1 in base64.
func expressETag(body []byte) string {
	sum := sha1.Sum(body)
	return fmt.Sprintf(`W/"%x-%s"`, len(body), base64.StdEncoding.EncodeToString(sum[:])[:27])
}

// nodeError answers {"error": msg}, as azure-mobile-apps' handleError does.
func (s *Server) nodeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	exchangeOf(r).ev.Error = msg
	nodeJSON(w, status, map[string]any{"error": msg}, "", false)
}

// nodeFail is a refusal on its way to nodeError.
type nodeFail struct {
	status int
	msg    string
}

func nodeFailf(status int, format string, args ...any) *nodeFail {
	return &nodeFail{status: status, msg: fmt.Sprintf(format, args...)}
}

// nodeRow renders a row as the provider returns it: every column of the table's schema,
// null where the row has no value, and the version as the row's own tag. sel, when not nil,
// keeps only those columns (already resolved to the schema's spelling).
func nodeRow(t *table, r *record, sel []string) map[string]any {
	return nodeRowCols(t.columnList(), r, sel)
}

// nodeRowCols is nodeRow over a schema read earlier, under the lock.
func nodeRowCols(cols []column, r *record, sel []string) map[string]any {
	if sel != nil {
		full := nodeRowCols(cols, r, nil)
		out := make(map[string]any, len(sel))
		for _, c := range sel {
			out[c] = full[c]
		}
		return out
	}
	out := make(map[string]any, len(cols)+5)
	for _, c := range cols {
		out[c.name] = r.data[c.name]
	}
	out[colID] = r.id
	out[colCreatedAt] = r.createdAt.Format(TimeFormat)
	out[colUpdatedAt] = r.updatedAt.Format(TimeFormat)
	out[colVersion] = r.wireVersion()
	out[colDeleted] = r.deleted
	return out
}

// nodeStamp gives a row being stored its Node version and rowid. A new row keeps the version
// text its insert carried (rec.tag, from nodeInsertTag) or starts at "1"; every later write
// is an UPDATE, after which the provider's trigger sets version = OLD.version + 1.
func nodeStamp(t *table, next *record) {
	prev := t.get(next.id)
	if prev == nil {
		t.rowids++
		next.rowid = t.rowids
		if next.tag == "" {
			next.tag = nodeTag("1")
		}
		return
	}
	next.rowid = prev.rowid
	next.tag = nodeTag(nodeNextVersion(nodeStored(prev.tag)))
}

// nodeInsertTag is the version an insert stores: the one the item carries, kept as sent.
func nodeInsertTag(t *table, b *body) string {
	if t == nil || !t.node || !b.hasVersion {
		return ""
	}
	return nodeTag(b.version)
}

// nodeCoerce is a value as the provider returns it after storing it in a column of another
// type: SQLite's column affinity, then the provider's conversion of booleans (!!value).
func nodeCoerce(kind string, v any) any {
	switch kind {
	case "boolean":
		switch x := v.(type) {
		case json.Number:
			f, _ := x.Float64()
			return f != 0
		case string:
			if f, ok := sqliteIsNumericText(x); ok {
				return f != 0
			}
			return x != ""
		}
	case "string":
		switch x := v.(type) {
		case json.Number:
			return sqliteNumberText(x)
		case bool:
			if x {
				return "1"
			}
			return "0"
		}
	case "number":
		switch x := v.(type) {
		case string:
			if f, ok := sqliteIsNumericText(x); ok {
				return jsonNumber(f)
			}
		case bool:
			if x {
				return json.Number("1")
			}
			return json.Number("0")
		}
	}
	return v
}

// sqliteNumberText is the text SQLite stores for a bound JavaScript number.
func sqliteNumberText(n json.Number) string {
	f, err := n.Float64()
	if err != nil {
		return string(n)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return sqliteRealText(f)
}

func jsonNumber(f float64) json.Number {
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// nodeReadBody reads a write's body as body-parser does: up to 100 KiB, {} when empty, an
// object or an array at the top.
func (s *Server) nodeReadBody(r *http.Request) (any, *nodeFail) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, nodeBodyLimit+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), len(raw) > nodeBodyLimit:
		return nil, nodeFailf(http.StatusBadRequest, "request entity too large")
	case err != nil:
		return nil, nodeFailf(http.StatusBadRequest, "%v", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return map[string]any{}, nil
	}
	if trimmed[0] != '{' && trimmed[0] != '[' {
		return nil, nodeFailf(http.StatusBadRequest, "Unexpected token %c in JSON at position 0", trimmed[0])
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nodeFailf(http.StatusBadRequest, "%v", err)
	}
	if dec.More() {
		return nil, nodeFailf(http.StatusBadRequest, "Unexpected non-whitespace character after JSON")
	}
	return v, nil
}

// jsString is JavaScript's String(v) for a JSON value.
func jsString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return string(x)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e21 {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// nodeItem is a write's body after azure-mobile-apps' parseItem and checkReservedProperties:
// the item as the client sent it (the 409 of an insert echoes it) and what the server
// acts on.
type nodeItem struct {
	echo map[string]any
	b    *body
	// set is the columns an update writes (nulls included).
	set int
}

// nodeParseItem reads the item of an insert (urlID "") or an update, in Node's order of
// checks: the id against the URL's, If-Match into the version, reserved properties, then
// what the sqlite provider refuses with a 500 (a column name it cannot quote, a nested value).
func (s *Server) nodeParseItem(r *http.Request, urlID string, update bool) (*nodeItem, *nodeFail) {
	v, fail := s.nodeReadBody(r)
	if fail != nil {
		return nil, fail
	}
	if arr, ok := v.([]any); ok {
		// The provider takes the array's indexes for column names.
		if len(arr) == 0 {
			return nil, nodeFailf(http.StatusInternalServerError, "SQLITE_ERROR: near \"WHERE\": syntax error")
		}
		return nil, nodeFailf(http.StatusInternalServerError, "%s", nodeIdentifierMessage("0"))
	}
	item := v.(map[string]any)
	if id, has := item[colID]; has && urlID != "" {
		if id == nil {
			return nil, nodeFailf(http.StatusInternalServerError, "Cannot read properties of null (reading 'toString')")
		}
		if jsString(id) != urlID {
			return nil, nodeFailf(http.StatusBadRequest, "The item ID and querystring ID did not match")
		}
	}
	if urlID != "" {
		item[colID] = urlID
	}
	if m := r.Header.Get("If-Match"); m != "" {
		item[colVersion] = nodeVersionFromEtag(m)
	}
	for k := range item {
		switch strings.ToLower(k) {
		case "createdat", "updatedat", "deleted":
			return nil, nodeFailf(http.StatusBadRequest, "Cannot update item with property '%s' as it is reserved", k)
		}
	}
	b := &body{data: map[string]any{}}
	out := &nodeItem{echo: item, b: b}
	for k, val := range item {
		if k == colID {
			if s := jsString(val); val != nil && val != false && s != "" && s != "0" {
				b.id, b.hasID = s, true
			}
			if !update {
				continue
			}
		}
		if val == nil && !update {
			continue // an INSERT leaves out nulls
		}
		if !nodeIdentifier(k) {
			return nil, nodeFailf(http.StatusInternalServerError, "%s", nodeIdentifierMessage(k))
		}
		switch val.(type) {
		case map[string]any:
			return nil, nodeFailf(http.StatusInternalServerError, "Unsupported type: Object")
		case []any:
			return nil, nodeFailf(http.StatusInternalServerError, "Unsupported type: Array")
		}
		switch strings.ToLower(k) {
		case colID:
			continue
		case colVersion:
			if val != nil {
				b.version, b.hasVersion = jsString(val), true
			}
			continue
		}
		b.data[k] = val
		out.set++
	}
	return out, nil
}

// nodeIfMatch is If-Match as the provider compares it: the version text it decodes from the
// header, compared with the row's; as a tag, it matches when that text is the row's. "*" and
// W/"…" decode to text no row has.
func nodeIfMatch(r *http.Request) *ifMatch {
	raw := r.Header.Get("If-Match")
	if raw == "" {
		return nil
	}
	return &ifMatch{versions: []string{nodeTag(nodeFromBase64(nodeVersionFromEtag(raw)))}}
}

// nodeWrite answers a single-row operation.
func (s *Server) nodeWrite(w http.ResponseWriter, r *http.Request, res result, ok int) {
	switch {
	case res.err == nil:
		nodeJSON(w, ok, s.nodeRowLocked(res.table, res.rec), res.rec.wireVersion(), true)
	case res.status == http.StatusNotFound && r.Method == http.MethodGet:
		// A read's 404 comes from renderResults, after it told caches not to keep the answer.
		exchangeOf(r).ev.Error = nodeNotFound
		nodeJSON(w, http.StatusNotFound, map[string]any{"error": nodeNotFound}, "", true)
	case res.status == http.StatusNotFound:
		s.nodeError(w, r, http.StatusNotFound, nodeNotFound)
	case (res.status == http.StatusConflict || res.status == http.StatusPreconditionFailed) && res.rec != nil:
		// handleError: 412 when the request had If-Match, else 409, with the row.
		status := http.StatusConflict
		if r.Header.Get("If-Match") != "" {
			status = http.StatusPreconditionFailed
		}
		exchangeOf(r).ev.Error = res.err.Message
		nodeJSON(w, status, s.nodeRowLocked(res.table, res.rec), res.rec.wireVersion(), false)
	default:
		s.nodeError(w, r, res.status, res.err.Message)
	}
}

// nodeRowLocked renders a row under the lock: the table's columns may change meanwhile.
func (s *Server) nodeRowLocked(tableName string, r *record) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return nodeRow(s.tables[strings.ToLower(tableName)], r, nil)
}

func (s *Server) nodeInsert(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpInsert
	name := routeVar(r, "table")
	x.ev.Table = name
	it, fail := s.nodeParseItem(r, "", false)
	if fail != nil {
		s.nodeError(w, r, fail.status, fail.msg)
		return
	}
	x.ev.Body = bodyOf(it.b)
	res := s.apply(r, func(ev *Event) result { return s.insertLocked(ev, name, it.b) })
	if res.status == http.StatusConflict && res.rec != nil {
		// The sqlite provider's unique violation: handleError answers with the item the
		// client sent, not the server's row, and express's weak ETag.
		x.ev.Error = res.err.Message
		echo := it.echo
		if !it.b.hasID {
			echo[colID] = res.id
		}
		nodeJSON(w, http.StatusConflict, echo, "", false)
		return
	}
	s.nodeWrite(w, r, res, http.StatusCreated)
}

func (s *Server) nodeUpdate(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpUpdate
	name, id := routeVar(r, "table"), routeVar(r, "id")
	x.ev.Table, x.ev.ItemID = name, id
	it, fail := s.nodeParseItem(r, id, true)
	if fail != nil {
		s.nodeError(w, r, fail.status, fail.msg)
		return
	}
	if it.set == 0 {
		// "UPDATE [t] SET  WHERE …": the provider builds it anyway.
		s.nodeError(w, r, http.StatusInternalServerError, `SQLITE_ERROR: near "WHERE": syntax error`)
		return
	}
	m := nodeIfMatch(r)
	if m == nil && it.b.hasVersion {
		it.b.version = nodeTag(nodeFromBase64(it.b.version))
	}
	x.ev.Body = bodyOf(it.b)
	res := s.apply(r, func(ev *Event) result { return s.updateLocked(ev, name, id, it.b, m) })
	s.nodeWrite(w, r, res, http.StatusOK)
}

func (s *Server) nodeDelete(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpDelete
	name, id := routeVar(r, "table"), routeVar(r, "id")
	x.ev.Table, x.ev.ItemID = name, id
	m := nodeIfMatch(r)
	res := s.apply(r, func(ev *Event) result { return s.deleteLocked(ev, name, id, m) })
	s.nodeWrite(w, r, res, http.StatusOK)
}

func (s *Server) nodeUndelete(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpUndelete
	name, id := routeVar(r, "table"), routeVar(r, "id")
	x.ev.Table, x.ev.ItemID = name, id
	_, _ = io.Copy(io.Discard, r.Body)
	m := nodeIfMatch(r)
	res := s.apply(r, func(ev *Event) result { return s.undeleteLocked(ev, name, id, m) })
	// A POST answers 201 (renderResults), an undelete included.
	s.nodeWrite(w, r, res, http.StatusCreated)
}

func (s *Server) nodeLookup(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpLookup
	name, id := routeVar(r, "table"), routeVar(r, "id")
	x.ev.Table, x.ev.ItemID = name, id
	// The lookup's query is built afresh from the id: __includeDeleted never reaches it, and
	// a deleted row is a 404.
	res := s.apply(r, func(*Event) result { return s.lookupLocked(name, id, false) })
	s.nodeWrite(w, r, res, http.StatusOK)
}
