package fakeserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// injectFaults is the middleware that makes fault rules fire. It sits inside recordRequests,
// so a request a fault answers, drops or delays is still recorded, with the rules that hit it,
// and outside the table handlers, which never know about faults. Each fired rule acts in the
// phases its behaviour has: before the handler (answerer, preparer), on the writes the
// handler makes (stamper), and on the handler's answer (responder).
func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.faults.active() || s.cfg.DirectClient != "" && clientID(r) == s.cfg.DirectClient {
			next.ServeHTTP(w, r)
			return
		}
		t := s.classify(r)
		fs := s.faults.fire(t, nil)
		if len(fs) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		x := exchangeOf(r)
		c := &call{srv: s, w: w, r: r, target: t, x: x}
		var stampers []stamper
		var responders []*fired
		for i := range fs {
			f := &fs[i]
			x.ev.Faults = append(x.ev.Faults, f.hit)
			c.rule = f.rule
			switch b := f.rule.behaviour.(type) {
			case answerer:
				x.ev.Op, x.ev.Table, x.ev.ItemID = t.op, t.table, t.id
				b.answer(c)
				return
			case holder:
				if !b.hold(c) {
					return
				}
			case preparer:
				b.prepare(c)
			}
			if st, ok := f.rule.behaviour.(stamper); ok {
				stampers = append(stampers, st)
			}
			if _, ok := f.rule.behaviour.(responder); ok {
				responders = append(responders, f)
			}
		}
		if len(stampers) > 0 {
			x.stamp = func(t time.Time) time.Time {
				for _, st := range stampers {
					t = st.stamp(t)
				}
				return t
			}
		}
		if len(responders) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		ans := &answer{header: http.Header{}}
		next.ServeHTTP(ans, r)
		if ans.status == 0 {
			ans.status = http.StatusOK
		}
		x.answered = ans.status
		for _, f := range responders {
			c.rule = f.rule
			if f.rule.behaviour.(responder).respond(c, ans) {
				return
			}
		}
		ans.deliver(w, ans.body.Bytes())
	})
}

// answerer answers a request itself, instead of the table handler; rules after it do not
// see the request.
type answerer interface {
	answer(c *call)
}

// holder keeps a request waiting before the table handler (and before the preparers of the
// rules after it); it returns false when the request is not to be served (the client gave up).
type holder interface {
	hold(c *call) bool
}

// preparer acts before the table handler and then lets it run.
type preparer interface {
	prepare(c *call)
}

// responder acts on the table handler's answer before the client gets it. It returns true
// when it has delivered (or dropped) the answer itself.
type responder interface {
	respond(c *call, ans *answer) bool
}

// stamper changes the updatedAt of the writes a request makes.
type stamper interface {
	stamp(t time.Time) time.Time
}

// gate is implemented by behaviours that can only act on some requests (a page shift needs
// a second page); a request they cannot act on does not count as matching the rule.
type gate interface {
	accepts(t target) bool
}

// call is one request meeting the rules that fired on it.
type call struct {
	srv    *Server
	w      http.ResponseWriter
	r      *http.Request
	target target
	x      *exchange
	rule   *activeRule
}

// answer is the table handler's answer, held back so a responder can delay, cut or drop it.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *answer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

// deliver sends the answer with body in place of the one written.
func (a *answer) deliver(w http.ResponseWriter, body []byte) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	if a.status != http.StatusNoContent && a.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

// hangUp closes the request's connection without an answer. With reset, the close is a TCP
// RST ("connection reset by peer"); without, an orderly close (EOF before any answer). Where
// the connection cannot be taken over (HTTP/2, a handler called in memory), the standard
// http.ErrAbortHandler panic aborts the answer instead.
func hangUp(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if l, ok := conn.(interface{ SetLinger(int) error }); ok && reset {
		_ = l.SetLinger(0) // a *net.TCPConn, or Listener's wrapper of one
	}
	_ = conn.Close()
}

// drainBody reads what is left of a request's body (within the size limit), so that the
// server notices when the client hangs up: net/http watches the connection only after the
// body has been read.
func (s *Server) drainBody(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
}

// classify names what a request asks, for matching: the table operation its method and path
// make, its table and item id. The id of an insert is in its body, which is read and put
// back when a rule in force names an id or needs one.
func (s *Server) classify(r *http.Request) target {
	t := target{method: r.Method, client: clientID(r)}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/tables/")
	if !ok || rest == "" {
		return t
	}
	name, id, hasID := strings.Cut(rest, "/")
	if strings.Contains(id, "/") {
		return t // not a table route: the router answers 404
	}
	// As the router does: segments are split as sent, then unescaped (an id may hold "/").
	t.table, t.id = unescapeOr(name), unescapeOr(id)
	switch {
	case r.Method == http.MethodGet && hasID:
		t.op = OpLookup
	case r.Method == http.MethodGet:
		t.op = OpQuery
	case r.Method == http.MethodPost && hasID:
		t.op = OpUndelete
	case r.Method == http.MethodPost:
		t.op = OpInsert
		if s.faults.needIDs() {
			t.id = s.peekID(r)
		}
	case r.Method == http.MethodPatch && hasID:
		t.op = OpUpdate
	case r.Method == http.MethodDelete && hasID:
		t.op = OpDelete
	}
	if t.op == OpQuery {
		if vals, err := url.ParseQuery(r.URL.RawQuery); err == nil {
			if v, ok := one(vals, "$skip"); ok {
				t.skip, _ = strconv.Atoi(v)
			}
		}
	}
	return t
}

// peekID reads an insert's body for its id and puts the body back for the handler.
func (s *Server) peekID(r *http.Request) string {
	raw, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), r.Body))
	if err != nil {
		return ""
	}
	var probe map[string]any
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	for k, v := range probe {
		if strings.EqualFold(k, colID) {
			if id, ok := v.(string); ok {
				return id
			}
		}
	}
	return ""
}

// noAnswer records that the client got no answer, for the history.
//
// It records the request now, before the connection closes: a client that sees the hang-up
// and reads the history at once must find the request there.
func (c *call) noAnswer(why string) {
	if c.x.recorded {
		return // the table handler recorded it when it applied (drop-response)
	}
	c.x.ev.Error = "no answer: " + why + " (fault " + c.rule.ID + ")"
	c.x.ev.Status = c.x.answered
	if len(c.x.ev.Precondition) == 0 {
		c.x.ev.Precondition = ifMatchTags(c.r.Header) // what it carried, though no handler read it
	}
	c.srv.appendEvent(&c.x.ev)
	c.x.recorded = true
}

// unescapeOr is the path segment s unescaped, or s itself when it does not unescape (the
// handler refuses it).
func unescapeOr(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
