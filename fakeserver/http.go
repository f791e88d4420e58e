package fakeserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// routes builds the table protocol: the table handlers, wrapped in the checks every request
// meets. Each concern is one middleware, applied in this order from the outside in:
//
//  1. history and logging (recordRequests): every request becomes an event, whatever happens
//     to it further in;
//  2. panic containment;
//  3. the door (admit): a table request without ZUMO-API-VERSION (v2), or without the app key
//     or auth token the server requires, is refused here, so it meets no fault: a client
//     that is turned away cannot use up a fault rule's times, or get the fault's answer
//     instead of its 401;
//  4. faults (injectFaults);
//  5. the router, the body limit, the handlers.
func (s *Server) routes() http.Handler {
	if s.up != nil {
		return s.recordRequests(s.injectFaults(containPanics(http.HandlerFunc(s.forward))))
	}
	r := mux.NewRouter()
	// Ids like ".." must reach the handler to be refused there, not be redirected; and an id
	// may hold a slash, sent as %2F: routes match the path as sent, and the handlers unescape
	// the variables (routeVar).
	r.SkipClean(true)
	r.UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(s.notFound)
	if s.node() {
		r.Handle("/", s.byMethod(route{http.MethodGet, s.handleInfo}))
		t := r.PathPrefix("/tables/").Subrouter()
		t.Use(s.limitBody)
		s.nodeRoutes(r, t)
		return s.recordRequests(containPanics(s.admit(s.injectFaults(r))))
	}
	// One route per path, dispatching on the method itself: gorilla/mux forgets a method
	// mismatch when a later route matches, and would answer 404 for a 405. The item route
	// comes first, as most requests name an item; no subrouter, whose prefix would be one
	// more pattern to match per request.
	r.Handle("/tables/{table}/{id}", s.limitBody(s.byMethod(
		route{http.MethodGet, s.handleLookup},
		route{http.MethodPatch, s.handleUpdate},
		route{http.MethodDelete, s.handleDelete},
		route{http.MethodPost, s.handleUndelete})))
	r.Handle("/tables/{table}", s.limitBody(s.byMethod(
		route{http.MethodGet, s.handleQuery},
		route{http.MethodPost, s.handleInsert})))
	r.Handle("/", s.byMethod(route{http.MethodGet, s.handleInfo}))
	return s.recordRequests(containPanics(s.admit(s.injectFaults(r))))
}

// admit refuses, before anything else happens to them, the table requests the server would
// never serve: the API version check and the auth check.
func (s *Server) admit(next http.Handler) http.Handler {
	gated := s.requireAPIVersion(s.requireAuth(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/tables/") {
			gated.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// routeVar is one of the route's variables, unescaped (left as sent if it does not unescape,
// which net/http has already ruled out).
func routeVar(r *http.Request, name string) string { return unescapeOr(mux.Vars(r)[name]) }

// pathVars are the route's variables, unescaped: the router matches the path as sent, so that
// an escaped slash stays inside its segment. An escape that does not decode is a 400.
func pathVars(r *http.Request) (map[string]string, *Error) {
	vars := mux.Vars(r)
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, badRequest("malformed path: %v", err)
		}
		out[k] = u
	}
	return out, nil
}

// route is one method of a path.
type route struct {
	method  string
	handler http.HandlerFunc
}

// byMethod serves a path's routes, answering any other method with a 405 that lists them.
func (s *Server) byMethod(routes ...route) http.Handler {
	methods := make([]string, len(routes))
	for i, rt := range routes {
		methods[i] = rt.method
	}
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routes {
			if r.Method == rt.method {
				rt.handler(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
	})
}

// exchange is the per-request state the middleware and the handler share.
type exchange struct {
	ev       Event
	recorded bool
	// stamp, set by clock faults, changes the updatedAt of the request's writes.
	stamp func(time.Time) time.Time
	// answered is the status of an answer a fault held back (and perhaps never sent).
	answered int
}

type exchangeKey struct{}

// exchangeContext carries a request's exchange: the context, the exchange and the status
// writer are one allocation instead of three.
type exchangeContext struct {
	context.Context
	x  exchange
	sw statusWriter
}

func (c *exchangeContext) Value(key any) any {
	if key == (exchangeKey{}) {
		return &c.x
	}
	return c.Context.Value(key)
}

func exchangeOf(r *http.Request) *exchange {
	x, _ := r.Context().Value(exchangeKey{}).(*exchange)
	if x == nil {
		x = &exchange{} // a handler mounted without recordRequests; nothing will read it
	}
	return x
}

// Header names are written in their canonical form throughout: Header.Get canonicalises its
// argument, which allocates for any other spelling, on every request.

// clientID names the requesting client for the history: the SDKs send an installation id.
func clientID(r *http.Request) string {
	if id := r.Header.Get("X-Zumo-Installation-Id"); id != "" {
		return id
	}
	return r.UserAgent()
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recordRequests gives every request an event and makes sure it reaches the history: the
// table operations record it themselves, under the lock, at the moment they apply; anything
// refused before that (a 401, a bad route) is recorded here. It also writes the -v log line.
func (s *Server) recordRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := &exchangeContext{Context: r.Context(), x: exchange{ev: Event{Source: SourceHTTP, Client: clientID(r),
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Began: time.Now().UTC().Round(0)}}}
		x, sw := &ctx.x, &ctx.sw
		sw.ResponseWriter = w
		if s.cfg.DirectClient != "" && x.ev.Client == s.cfg.DirectClient {
			x.ev.Source = SourceDirect
		}
		// Deferred, so that a request a fault aborts (http.ErrAbortHandler) is recorded too.
		defer func() {
			status := sw.status
			if status == 0 {
				status = x.answered
			}
			if !x.recorded {
				x.ev.Status = status
				if len(x.ev.Precondition) == 0 {
					// Refused before a handler read it (a fault's answer, a 401): what it was
					// conditional on is still what it carried.
					x.ev.Precondition = ifMatchTags(r.Header)
				}
				s.appendEvent(&x.ev)
			}
			if s.cfg.Logger != nil {
				s.cfg.Logger.Print(logLine(&x.ev, status))
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

func logLine(ev *Event, status int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", ev.Method, ev.Path)
	if ev.Query != "" {
		b.WriteString("?" + ev.Query)
	}
	fmt.Fprintf(&b, " %d", status)
	if ev.Client != "" {
		fmt.Fprintf(&b, " client=%q", ev.Client)
	}
	if ev.VersionAfter != "" && ev.Applied {
		fmt.Fprintf(&b, " version=%s", ev.VersionAfter)
	}
	if ev.Rows > 0 {
		fmt.Fprintf(&b, " rows=%d", ev.Rows)
	}
	if ev.Error != "" {
		fmt.Fprintf(&b, " error=%q", ev.Error)
	}
	for _, f := range ev.Faults {
		fmt.Fprintf(&b, " fault=%s:%s", f.ID, f.Action)
	}
	return b.String()
}

// containPanics turns a panic into a 500 so one bad request cannot take the server down. A
// 500 is itself a bug the conformance suite looks for.
func containPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": fmt.Sprintf("internal error: %v", p)}, "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireAPIVersion refuses v2 requests that do not say ZUMO-API-VERSION: 2.0.x.
func (s *Server) requireAPIVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Dialect == V2 {
			v := r.Header.Get("Zumo-Api-Version")
			if v == "" {
				for k, vals := range r.URL.Query() {
					if strings.EqualFold(k, "ZUMO-API-VERSION") && len(vals) > 0 {
						v = vals[0]
					}
				}
			}
			if v == "" {
				s.writeError(w, r, badRequest("this is a v2 (Azure Mobile Apps) server: send ZUMO-API-VERSION: 2.0.0, as a header or a query parameter"))
				return
			}
			if !supportedAPIVersion(v) {
				s.writeError(w, r, badRequest("ZUMO-API-VERSION %q is not supported: this server accepts 2.0.x", v))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func supportedAPIVersion(v string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "2.0.")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// requireAuth checks the application key and the auth token the server was given.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AppKey != "" && r.Header.Get("X-Zumo-Application") != s.cfg.AppKey {
			s.writeError(w, r, errorf(http.StatusUnauthorized, "missing or wrong application key (X-ZUMO-APPLICATION)"))
			return
		}
		if s.cfg.AuthToken != "" && r.Header.Get("X-Zumo-Auth") != s.cfg.AuthToken {
			s.writeError(w, r, errorf(http.StatusUnauthorized, "missing or wrong authentication token (X-ZUMO-AUTH)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413 to a body over the limit, declared or actual.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.writeError(w, r, tooLarge(s.cfg.MaxBodyBytes))
			return
		}
		if r.Body != http.NoBody { // a GET has none: no reader to make
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(limit int64) *Error {
	return errorf(http.StatusRequestEntityTooLarge, "the body is larger than this server's limit of %d bytes", limit)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errorf(http.StatusNotFound, "no such route: %s %s (tables live under /tables/{table})", r.Method, r.URL.Path))
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"server":   "conflictlab fakeserver",
		"dialect":  s.cfg.Dialect,
		"pageSize": s.cfg.PageSize,
		"maxTop":   s.cfg.MaxTop,
		"tables":   "/tables/{table}",
		"admin":    adminPrefix,
	}, "")
}

// apply runs one table operation under the lock and records its event. A query that has to
// evaluate expressions over the rows takes its place in the history under the lock, with the
// rows as they are then, and is evaluated after the lock is released.
func (s *Server) apply(r *http.Request, run func(ev *Event) result) result {
	x := exchangeOf(r)
	s.mu.Lock()
	s.stampWith = x.stamp
	res := run(&x.ev)
	s.stampWith = nil
	if res.eval == nil {
		s.recordLocked(&x.ev, res)
		s.mu.Unlock()
		x.recorded = true
		return res
	}
	tk := s.hist.reserve(&x.ev, s.cfg.Clock.Now)
	s.mu.Unlock()
	x.recorded = true
	completed := false
	defer func() {
		// Readers of the history wait for a reserved event: it must be completed even if
		// the evaluation panics (a bug, which containPanics turns into a 500).
		if !completed {
			x.ev.Status, x.ev.Error = http.StatusInternalServerError, "the query's evaluation failed"
			s.hist.complete(tk, func(ev *Event) { *ev = x.ev })
		}
	}()
	res = s.evaluate(r.Context(), res)
	fillEvent(&x.ev, res)
	s.hist.complete(tk, func(ev *Event) { *ev = x.ev })
	completed = true
	return res
}

// evaluate runs a query's plan into its page.
func (s *Server) evaluate(ctx context.Context, res result) result {
	pl := res.eval
	res.eval = nil
	p, err := pl.run(ctx)
	if err != nil {
		return withErr(res, err)
	}
	return pl.done(res, p)
}

// request is what the handlers read off every table request before touching the tables.
type request struct {
	table string
	id    string
	q     *query
	match *ifMatch
	query query // q's storage: one allocation for both
}

func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, op Op) (*request, bool) {
	x := exchangeOf(r)
	x.ev.Op = op
	req := &request{table: routeVar(r, "table"), id: routeVar(r, "id")}
	x.ev.Table, x.ev.ItemID = req.table, req.id
	var vals url.Values // a lookup or a write usually has no query string: no map to make
	if r.URL.RawQuery != "" {
		var err error
		if vals, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			s.writeError(w, r, badRequest("malformed query string: %v", err))
			return nil, false
		}
	}
	if qerr := parseQueryInto(&req.query, s.cfg.Dialect, vals, s.cfg.MaxTop); qerr != nil {
		s.writeError(w, r, qerr)
		return nil, false
	}
	req.q = &req.query
	m, merr := parseIfMatch(r.Header.Values("If-Match"))
	if merr != nil {
		s.writeError(w, r, badRequest("%v", merr))
		return nil, false
	}
	req.match = m
	return req, true
}

// readBody reads a write's body: exactly one JSON object, within the size limit, in valid
// UTF-8 (encoding/json would quietly replace bad bytes, storing something nobody sent), with
// no key given twice (encoding/json would quietly keep the last).
func (s *Server) readBody(r *http.Request) (map[string]any, *Error) {
	raw, err := readAll(r)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, tooLarge(s.cfg.MaxBodyBytes)
	case err != nil:
		return nil, badRequest("cannot read the body: %v", err)
	case len(bytes.TrimSpace(raw)) == 0:
		return nil, badRequest("the body is empty: expected a JSON object")
	case !utf8.Valid(raw):
		return nil, badRequest("the body is not valid UTF-8")
	}
	return decodeBody(raw)
}

// readAll reads a body, in one allocation when its length is declared (MaxBytesReader still
// bounds what is read).
func readAll(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= 1<<20 {
		raw := make([]byte, n)
		if _, err := io.ReadFull(r.Body, raw); err != nil {
			if err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("the body is shorter than its Content-Length: %w", err)
			}
			return nil, err
		}
		return raw, nil
	}
	return io.ReadAll(r.Body)
}

// decodeBody decodes a body of valid UTF-8 into the object a write needs: the fast flat
// parser when it can, the token decoder for its messages when it cannot.
func decodeBody(raw []byte) (map[string]any, *Error) {
	obj, err := parseFlatObject(raw)
	if err == nil {
		return obj, nil
	}
	if err == errLoneSurrogate {
		return nil, badRequest("%v", err)
	}
	if obj, err = decodeObject(raw); err != nil {
		return nil, badRequest("%v", err)
	}
	if hasLoneSurrogate(raw) {
		return nil, badRequest("%v", errLoneSurrogate)
	}
	return obj, nil
}

// decodeObject decodes one JSON object token by token, so it can see what a plain Unmarshal
// hides: a duplicate key, or something other than an object at the top.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if tok != json.Delim('{') {
		kind := jsonType(tok)
		if tok == json.Delim('[') {
			kind = "an array"
		}
		return nil, fmt.Errorf("the body must be a JSON object, got %s", kind)
	}
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("property %q is given twice", key)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(err)
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("malformed JSON body: unexpected data after the JSON object")
	}
	return obj, nil
}

func malformed(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("malformed JSON body: %v", err)
}

func (s *Server) readWrite(w http.ResponseWriter, r *http.Request, op Op) (*request, *body, bool) {
	req, ok := s.readRequest(w, r, op)
	if !ok {
		return nil, nil, false
	}
	item, err := s.readBody(r)
	if err == nil {
		var b *body
		if b, err = splitBody(s.cfg.Dialect, item); err == nil {
			if req.id != "" && b.hasID && idKey(b.id) != idKey(req.id) {
				err = badRequest("the body's id %q differs from the URL's %q", b.id, req.id)
			} else {
				exchangeOf(r).ev.Body = bodyOf(b)
				return req, b, true
			}
		}
	}
	s.writeError(w, r, err)
	return nil, nil, false
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readRequest(w, r, OpQuery)
	if !ok {
		return
	}
	res := s.apply(r, func(ev *Event) result {
		ev.IncludeDeleted = req.q.includeDeleted
		return s.queryLocked(req.table, req.q)
	})
	if res.err != nil {
		s.writeError(w, r, res.err)
		return
	}
	p := res.page
	if p.next {
		w.Header().Set("Link", "<"+nextPageURL(r, p)+">; rel=next")
	}
	writeRows(w, p.rows, s.cfg.Dialect, req.q.sys, req.q.sel, p.count, req.q.inlineCount)
}

// nextPageURL is the absolute URL of the page after p: the same query with $skip advanced
// and $top reduced by what was returned.
func nextPageURL(r *http.Request, p *page) string {
	vals, _ := url.ParseQuery(r.URL.RawQuery)
	vals.Set("$skip", strconv.Itoa(p.nextSkip))
	if p.nextTop >= 0 {
		vals.Set("$top", strconv.Itoa(p.nextTop))
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: vals.Encode()}
	return u.String()
}

func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readRequest(w, r, OpLookup)
	if !ok {
		return
	}
	res := s.apply(r, func(*Event) result { return s.lookupLocked(req.table, req.id, req.q.includeDeleted) })
	s.writeResult(w, r, req, res)
}

func (s *Server) handleInsert(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.readWrite(w, r, OpInsert)
	if !ok {
		return
	}
	res := s.apply(r, func(ev *Event) result { return s.insertLocked(ev, req.table, b) })
	if res.err == nil && res.rec != nil {
		w.Header().Set("Location", "/tables/"+url.PathEscape(res.table)+"/"+url.PathEscape(res.rec.id))
	}
	s.writeResult(w, r, req, res)
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	req, b, ok := s.readWrite(w, r, OpUpdate)
	if !ok {
		return
	}
	res := s.apply(r, func(ev *Event) result { return s.updateLocked(ev, req.table, req.id, b, req.match) })
	s.writeResult(w, r, req, res)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readRequest(w, r, OpDelete)
	if !ok {
		return
	}
	res := s.apply(r, func(ev *Event) result { return s.deleteLocked(ev, req.table, req.id, req.match) })
	s.writeResult(w, r, req, res)
}

func (s *Server) handleUndelete(w http.ResponseWriter, r *http.Request) {
	req, ok := s.readRequest(w, r, OpUndelete)
	if !ok {
		return
	}
	// The body, if any, carries nothing an undelete uses; it is still read within the limit.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(w, r, tooLarge(s.cfg.MaxBodyBytes))
			return
		}
	}
	res := s.apply(r, func(ev *Event) result { return s.undeleteLocked(ev, req.table, req.id, req.match) })
	s.writeResult(w, r, req, res)
}

// writeResult answers a single-item operation: the row with its ETag, or the refusal, which
// for a 409 or 412 is the server's current row.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, req *request, res result) {
	if res.err != nil && res.rec == nil {
		s.writeError(w, r, res.err)
		return
	}
	if res.status == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sys := req.q.sys
	if res.err != nil && s.cfg.Dialect == V1 {
		// A v1 conflict body always carries the version the client needs to retry.
		sys = sysProps{colVersion: true}
		for k := range req.q.sys {
			sys[k] = true
		}
	}
	writeRow(w, res.status, res.rec, s.cfg.Dialect, sys, req.q.sel)
}

// writeError answers with a JSON error body in the server's dialect and notes the message
// for the history.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err *Error) {
	exchangeOf(r).ev.Error = err.Message
	body := map[string]any{"error": err.Message}
	if s.cfg.Dialect == V1 {
		body["code"] = err.Status
	}
	writeJSON(w, err.Status, body, "")
}

func writeJSON(w http.ResponseWriter, status int, v any, version string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"cannot encode the response"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if version != "" {
		h.Set("ETag", etag(version))
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
