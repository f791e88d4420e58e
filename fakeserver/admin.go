package fakeserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

const adminPrefix = "/_conflictlab/"

// adminRoutes is the control API of a standalone server: read the history and the raw rows,
// reset, write as another writer, move the clock. It is not part of the table protocol and
// its requests are not recorded, except the direct writes, which are.
func (s *Server) adminRoutes() http.Handler {
	r := mux.NewRouter()
	// Routes match the path as sent, and the handlers unescape the variables (adminVars), as
	// the table routes do: an id may hold "/" as %2F. (Set before any route is added: routes
	// copy the router's settings.)
	r.UseEncodedPath()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such admin route: " + r.Method + " " + r.URL.Path}, "")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method " + r.Method + " is not allowed on " + r.URL.Path}, "")
	})
	a := r.PathPrefix(strings.TrimSuffix(adminPrefix, "/")).Subrouter()
	a.HandleFunc("/info", s.adminInfo).Methods(http.MethodGet)
	if s.up != nil {
		// A proxy has faults and a history, but no tables and no clock of its own.
		a.HandleFunc("/history", s.adminHistory).Methods(http.MethodGet)
		a.HandleFunc("/reset", s.adminReset).Methods(http.MethodPost)
		a.HandleFunc("/faults", s.adminFaults).Methods(http.MethodGet)
		a.HandleFunc("/faults", s.adminAddFaults).Methods(http.MethodPost)
		a.HandleFunc("/faults", s.adminHealFaults).Methods(http.MethodDelete)
		a.HandleFunc("/faults/{id}", s.adminRemoveFault).Methods(http.MethodDelete)
		r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "a proxy has no tables and no clock of its own (" + r.Method + " " +
				r.URL.Path + "): read and write them on the upstream " + s.up.base.String()}, "")
		})
		return containPanics(s.adminGuard(r))
	}
	a.HandleFunc("/history", s.adminHistory).Methods(http.MethodGet)
	a.HandleFunc("/reset", s.adminReset).Methods(http.MethodPost)
	a.HandleFunc("/tables", s.adminTables).Methods(http.MethodGet)
	a.HandleFunc("/tables/{table}", s.adminRows).Methods(http.MethodGet)
	a.HandleFunc("/tables/{table}", s.adminWrite).Methods(http.MethodPost)
	a.HandleFunc("/tables/{table}/{id}", s.adminRow).Methods(http.MethodGet)
	a.HandleFunc("/tables/{table}/{id}", s.adminWrite).Methods(http.MethodPost)
	a.HandleFunc("/clock", s.adminClock).Methods(http.MethodGet, http.MethodPost)
	a.HandleFunc("/faults", s.adminFaults).Methods(http.MethodGet)
	a.HandleFunc("/faults", s.adminAddFaults).Methods(http.MethodPost)
	a.HandleFunc("/faults", s.adminHealFaults).Methods(http.MethodDelete)
	a.HandleFunc("/faults/{id}", s.adminRemoveFault).Methods(http.MethodDelete)
	return containPanics(s.adminGuard(r))
}

// adminVars are the route's variables, unescaped; false after answering a bad escape.
func adminVars(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	vars, err := pathVars(r)
	if err != nil {
		writeAdminError(w, err)
		return nil, false
	}
	return vars, true
}

// loopbackOnly refuses admin requests that do not come from this machine.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "the admin API answers loopback clients only (serve it on its own --admin-addr with --admin-open and --admin-token to reach it from elsewhere)"}, "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// adminGuard keeps the admin API for the programs it is meant for. It can reset the server,
// write rows, move the clock and add faults, so:
//
//   - a web page in a browser must not be able to drive it: a request from another origin
//     (an Origin header that is not the API's own, or Sec-Fetch-Site saying cross-site or
//     same-site) is refused, and a request with a body must say it is JSON (or YAML, for
//     fault rules): the content types a page can send without asking (text/plain, forms)
//     are refused;
//   - a page must not reach it by DNS rebinding either: the Host must be a loopback name
//     (localhost, *.localhost), an IP address, or one of Config.AdminHosts;
//   - with Config.AdminToken, every request must carry it as a bearer token.
//
// Which clients may connect at all is Handler's and AdminHandler's loopback rule.
func (s *Server) adminGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.admitAdmin(r); err != nil {
			if err.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="conflictlab admin"`)
			}
			writeAdminError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) admitAdmin(r *http.Request) *Error {
	if !inMemory(r) && !s.adminHostAllowed(r.Host) {
		return errorf(http.StatusForbidden, "the admin API does not answer to Host %q: use localhost or an IP address, or allow the name (Config.AdminHosts, serve --admin-host)", clipString(r.Host, 256))
	}
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r) {
		return errorf(http.StatusForbidden, "the admin API refuses requests from another origin (%q): it is not for web pages", clipString(o, 256))
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errorf(http.StatusForbidden, "the admin API refuses requests a browser marks as %s: it is not for web pages", r.Header.Get("Sec-Fetch-Site"))
	}
	if s.cfg.AdminToken != "" {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(s.cfg.AdminToken)) != 1 {
			return errorf(http.StatusUnauthorized, "missing or wrong admin token: send Authorization: Bearer <token> (serve --admin-token)")
		}
	}
	if err := adminContentType(r); err != nil {
		return err
	}
	return nil
}

// adminContentType refuses a request with a body that does not say it is JSON (or YAML, for
// fault rules), and any request with a content type a web page may send without asking.
func adminContentType(r *http.Request) *Error {
	ct := r.Header.Get("Content-Type")
	mt := ""
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return errorf(http.StatusUnsupportedMediaType, "malformed Content-Type %q", clipString(ct, 256))
		}
	}
	hasBody := r.ContentLength > 0 || r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return nil
	case (mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml") &&
		strings.HasPrefix(r.URL.Path, adminPrefix+"faults"):
		return nil
	case mt == "" && !hasBody:
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType, "the admin API takes JSON: send Content-Type: application/json (or application/yaml for fault rules), got %q; with curl, add -H 'Content-Type: application/json'", clipString(ct, 256))
}

// adminHostAllowed is the DNS rebinding check: a page that rebinds its own name to 127.0.0.1
// still sends that name as the Host.
func (s *Server) adminHostAllowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without a Host: no browser sends that
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil {
		return true
	}
	for _, h := range s.cfg.AdminHosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether an Origin header names the origin the request was sent to.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return false // "null", opaque or malformed: never ours
	}
	return strings.EqualFold(u.Host, r.Host)
}

func (s *Server) adminInfo(w http.ResponseWriter, r *http.Request) {
	if s.up != nil {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "proxy", "upstream": s.up.base.String(), "dialect": s.cfg.Dialect,
			"seed": s.seed, "history": s.HistoryStats()}, "")
		return
	}
	_, simulated := s.cfg.Clock.(*SimulatedClock)
	last := s.LastSeq()
	s.mu.Lock() // a reset may change these
	info := map[string]any{
		"kind":           "conflictlab",
		"lastSeq":        last,
		"simulatedClock": simulated,
		"dialect":        s.cfg.Dialect,
		"pageSize":       s.cfg.PageSize,
		"maxTop":         s.cfg.MaxTop,
		"maxBody":        s.cfg.MaxBodyBytes,
		"seed":           s.seed,
		"tables":         s.cfg.Tables,
		"hardDelete":     s.cfg.HardDelete,
		"personality":    s.cfg.Personality,
		"history":        s.HistoryStats(),
		// What else a run may need to know it cannot change by a reset (the conformance
		// suite skips what the server was not started for); whether credentials are
		// wanted, never what they are.
		"hardDeleteTables":  s.cfg.HardDeleteTables,
		"deleteNoContent":   s.cfg.DeleteNoContent,
		"requiresAppKey":    s.cfg.AppKey != "",
		"requiresAuthToken": s.cfg.AuthToken != "",
		"historyBodyBytes":  s.cfg.HistoryBodyBytes,
		"queryWork":         s.cfg.QueryWork,
		"queryStringBytes":  s.cfg.QueryStringBytes,
		"queryTimeoutMs":    s.cfg.QueryTimeout.Milliseconds(),
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info, "")
}

// adminHistory streams the history as JSON Lines; ?since=N gives the events after seq N.
func (s *Server) adminHistory(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "since must be a sequence number, got " + strconv.Quote(v)}, "")
			return
		}
		since = n
	}
	// Encoded in full before anything is sent, so that an event that cannot be encoded is a
	// loud 500 naming it, never a history that silently stops short.
	var buf bytes.Buffer
	if err := writeEvents(&buf, s.HistorySince(since)); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()}, "")
		return
	}
	st := s.HistoryStats()
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("X-Conflictlab-History-Dropped", strconv.FormatUint(st.Dropped, 10))
	h.Set("X-Conflictlab-History-Last-Seq", strconv.FormatUint(st.LastSeq, 10))
	_, _ = w.Write(buf.Bytes())
}

// adminReset empties the server; a JSON body of ResetSettings reconfigures it too.
func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		writeAdminError(w, badRequest("cannot read the settings: %v", err))
		return
	}
	var rs ResetSettings
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rs); err != nil {
			writeAdminError(w, badRequest("the settings: want {pageSize, hardDelete, seed, clockStepMs}: %v", err))
			return
		}
	}
	if err := s.ResetWith(rs); err != nil {
		var e *Error
		if errors.As(err, &e) {
			writeAdminError(w, e)
			return
		}
		writeAdminError(w, badRequest("%v", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": true}, "")
}

func (s *Server) adminTables(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Tables(), "")
}

// adminRows returns every row of a table as stored, tombstones included, in v2 names.
func (s *Server) adminRows(w http.ResponseWriter, r *http.Request) {
	vars, ok := adminVars(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	t, err := s.table(vars["table"])
	rows := []map[string]any{}
	if err == nil {
		for _, rec := range t.sorted() {
			rows = append(rows, rec.render(V2, nil, nil))
		}
	}
	s.mu.Unlock()
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rows, "")
}

func (s *Server) adminRow(w http.ResponseWriter, r *http.Request) {
	vars, ok := adminVars(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	res := s.lookupLocked(vars["table"], vars["id"], true)
	s.mu.Unlock()
	if res.err != nil {
		writeAdminError(w, res.err)
		return
	}
	writeJSON(w, http.StatusOK, res.rec.render(V2, nil, nil), res.rec.wireVersion())
}

// adminWrite is a direct server-side write: ?op=insert|update|write|delete|undelete (default
// write, the upsert), body the item or patch in v2 names.
func (s *Server) adminWrite(w http.ResponseWriter, r *http.Request) {
	vars, ok := adminVars(w, r)
	if !ok {
		return
	}
	op := Op(r.URL.Query().Get("op"))
	if op == "" {
		op = opWrite
		if vars["id"] == "" {
			op = OpInsert
		}
	}
	var item map[string]any
	if op != OpDelete && op != OpUndelete {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeAdminError(w, tooLarge(s.cfg.MaxBodyBytes))
			return
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if !utf8.Valid(raw) {
				writeAdminError(w, badRequest("the body is not valid UTF-8"))
				return
			}
			var berr *Error
			if item, berr = decodeBody(raw); berr != nil {
				writeAdminError(w, berr)
				return
			}
		}
		if item == nil {
			item = map[string]any{}
		}
		if op == OpInsert && vars["id"] != "" {
			item["id"] = vars["id"]
		}
	}
	rec, err := s.directWrite(op, vars["table"], vars["id"], item)
	switch {
	case err != nil:
		writeAdminError(w, err)
	case rec == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, rec.render(V2, nil, nil), rec.wireVersion())
	}
}

func writeAdminError(w http.ResponseWriter, err *Error) {
	body := map[string]any{"error": err.Message}
	if err.Row != nil {
		body["row"] = err.Row
	}
	writeJSON(w, err.Status, body, "")
}

// clockRequest moves the clock: advanceMs shifts it (negative turns it back), stepMs sets a
// simulated clock's step per write.
type clockRequest struct {
	AdvanceMs *int64 `json:"advanceMs"`
	StepMs    *int64 `json:"stepMs"`
}

func (s *Server) adminClock(w http.ResponseWriter, r *http.Request) {
	clock := s.cfg.Clock
	sim, simulated := clock.(*SimulatedClock)
	if r.Method == http.MethodPost {
		var req clockRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeAdminError(w, badRequest("expected {\"advanceMs\": N} and/or {\"stepMs\": N}: %v", err))
			return
		}
		const limitMs = 100 * 365 * 24 * 3600 * 1000 // a century: no Duration overflow, no 5-digit years
		if req.AdvanceMs != nil && (*req.AdvanceMs > limitMs || *req.AdvanceMs < -limitMs) ||
			req.StepMs != nil && *req.StepMs > limitMs {
			writeAdminError(w, badRequest("advanceMs and stepMs must be within ±%d (a century)", int64(limitMs)))
			return
		}
		if bc, ok := clock.(boundedClock); ok && req.AdvanceMs != nil {
			if err := bc.checkAdvance(time.Duration(*req.AdvanceMs) * time.Millisecond); err != nil {
				writeAdminError(w, badRequest("advanceMs %d: %v", *req.AdvanceMs, err))
				return
			}
		}
		if req.StepMs != nil {
			if !simulated {
				writeAdminError(w, badRequest("stepMs needs a simulated clock; this server runs on the real clock"))
				return
			}
			if *req.StepMs < 0 {
				writeAdminError(w, badRequest("stepMs must not be negative"))
				return
			}
			sim.SetStep(time.Duration(*req.StepMs) * time.Millisecond)
		}
		if req.AdvanceMs != nil {
			clock.Advance(time.Duration(*req.AdvanceMs) * time.Millisecond)
		}
	}
	out := map[string]any{"now": clock.Now().Format(TimeFormat), "simulated": simulated}
	if simulated {
		out["stepMs"] = sim.Step().Milliseconds()
	}
	writeJSON(w, http.StatusOK, out, "")
}

// adminFaults lists the rules in force with how often each matched and fired.
func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.Status(), "")
}

// adminAddFaults puts rules in force: the body is one rule or a list, in JSON or YAML. They
// go in all together or not at all; a bad one is a 400 that names its field.
func (s *Server) adminAddFaults(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeAdminError(w, badRequest("cannot read the rules: %v", err))
		return
	}
	rules, err := ParseRules(raw)
	if err != nil {
		writeRuleError(w, err)
		return
	}
	if len(rules) == 0 {
		writeAdminError(w, badRequest("no rules in the body: send a rule or a list of rules"))
		return
	}
	added, err := s.faults.AddAll(rules)
	if err != nil {
		writeRuleError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, added, "")
}

func writeRuleError(w http.ResponseWriter, err error) {
	body := map[string]any{"error": err.Error()}
	var re *RuleError
	if errors.As(err, &re) {
		if re.Field != "" {
			body["field"] = re.Field
		}
		if re.Line > 0 {
			body["line"], body["column"] = re.Line, re.Column
		}
	}
	writeJSON(w, http.StatusBadRequest, body, "")
}

// adminHealFaults removes every rule, releasing the requests they hold.
func (s *Server) adminHealFaults(w http.ResponseWriter, r *http.Request) {
	n := len(s.faults.List())
	s.faults.Reset()
	writeJSON(w, http.StatusOK, map[string]any{"healed": n}, "")
}

func (s *Server) adminRemoveFault(w http.ResponseWriter, r *http.Request) {
	vars, ok := adminVars(w, r)
	if !ok {
		return
	}
	id := vars["id"]
	if !s.faults.Remove(id) {
		writeAdminError(w, errorf(http.StatusNotFound, "no fault rule %q is in force", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
