package fakeserver

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

const adminPrefix = "/_conflictlab/"

// adminRoutes is the control API of a standalone server: read the history and the raw rows,
// reset, write as another writer, move the clock. It is not part of the table protocol and
// its requests are not recorded, except the direct writes, which are.
func (s *Server) adminRoutes() http.Handler {
	r := mux.NewRouter()
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
		return containPanics(r)
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
	return containPanics(r)
}

// loopbackOnly refuses admin requests that do not come from this machine.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "the admin API answers loopback clients only (or serve it on its own --admin-addr)"}, "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminInfo(w http.ResponseWriter, r *http.Request) {
	if s.up != nil {
		writeJSON(w, http.StatusOK, map[string]any{"kind": "proxy", "upstream": s.up.base.String(), "dialect": s.cfg.Dialect,
			"seed": s.seed}, "")
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
	w.Header().Set("Content-Type", "application/x-ndjson")
	_ = WriteJSONLines(w, s.HistorySince(since))
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
	s.mu.Lock()
	t, err := s.table(mux.Vars(r)["table"])
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
	vars := mux.Vars(r)
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
	vars := mux.Vars(r)
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
		if len(strings.TrimSpace(string(raw))) > 0 {
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			if err := dec.Decode(&item); err != nil {
				writeAdminError(w, badRequest("the body must be a JSON object: %v", err))
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
	id := mux.Vars(r)["id"]
	if !s.faults.Remove(id) {
		writeAdminError(w, errorf(http.StatusNotFound, "no fault rule %q is in force", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
