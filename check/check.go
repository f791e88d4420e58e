// Package check holds the property checkers of docs/properties.md that judge one observed step or
// one history: P1 (push before pull), P2 (purge), P4 (convergence), P5 (strategy) and P7
// (server integrity). They read plain observations — store snapshots, the requests a client
// sent, the server's history — so the scenario runner and the property tests share them.
// A checker that cannot decide says Unknown; it never passes what it did not check.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/reports"
)

// Property names, by id.
var Names = map[string]string{
	"P1":  "push-before-pull",
	"P2":  "purge",
	"P3":  "queue",
	"P4":  "convergence",
	"P5":  "strategy",
	"P6":  "no silent loss",
	"P7":  "server integrity",
	"P8":  "durability",
	"P9":  "incremental completeness",
	"P10": "requests follow what the client holds",
	"P11": "the push handler is shown the truth",
}

// Finding is one check of one property.
type Finding struct {
	Property string
	Verdict  reports.Verdict
	// Detail says what was violated or why it could not be decided.
	Detail string
}

func holds(p string) Finding { return Finding{Property: p, Verdict: reports.Holds} }

func violated(p, format string, args ...any) Finding {
	return Finding{Property: p, Verdict: reports.Violated, Detail: fmt.Sprintf(format, args...)}
}

func unknown(p, format string, args ...any) Finding {
	return Finding{Property: p, Verdict: reports.Unknown, Detail: fmt.Sprintf(format, args...)}
}

// Tally gathers findings into one result per property: violated if any check was, else
// unknown if any check could not decide, else holds.
type Tally struct {
	byID   map[string]*reports.PropertyResult
	counts map[string]*reports.PropertyCount
}

// Add records a finding.
func (t *Tally) Add(f Finding) {
	if t.byID == nil {
		t.byID = map[string]*reports.PropertyResult{}
	}
	r := t.byID[f.Property]
	if r == nil {
		r = &reports.PropertyResult{ID: f.Property, Name: Names[f.Property], Verdict: reports.Holds}
		t.byID[f.Property] = r
	}
	r.Checks++
	if t.counts == nil {
		t.counts = map[string]*reports.PropertyCount{}
	}
	c := t.counts[f.Property]
	if c == nil {
		c = &reports.PropertyCount{ID: f.Property, Name: Names[f.Property]}
		t.counts[f.Property] = c
	}
	c.Checks++
	switch f.Verdict {
	case reports.Holds:
		c.Holds++
	case reports.Violated:
		c.Violated++
	default:
		c.Unknown++
	}
	switch {
	case f.Verdict == reports.Violated && r.Verdict != reports.Violated:
		r.Verdict, r.Detail = reports.Violated, f.Detail
	case f.Verdict == reports.Unknown && r.Verdict == reports.Holds:
		r.Verdict, r.Detail = reports.Unknown, f.Detail
	}
}

// Results returns one result per property checked, by id.
func (t *Tally) Results() []reports.PropertyResult {
	out := make([]reports.PropertyResult, 0, len(t.byID))
	for _, r := range t.byID {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	return out
}

// Counts returns, per property checked, how many checks held, were violated or could not
// decide, by id.
func (t *Tally) Counts() []reports.PropertyCount {
	out := make([]reports.PropertyCount, 0, len(t.counts))
	for _, c := range t.counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return idLess(out[i].ID, out[j].ID) })
	return out
}

// idLess orders property ids by number: P9 before P10.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Request is one request a client sent, as the checkers see it.
type Request struct {
	Method string
	Path   string
	Table  string
	ItemID string
	Status int // 0: no answer
	// Applied is true when the server applied the write (known from the server's history,
	// or from a 2xx answer).
	Applied bool
	// Answered is true when the client got the answer (a fault may have dropped or cut it).
	Answered bool
	// Precondition is the version the write was conditional on (If-Match, or the body's).
	Precondition []string
	// Unread is true when a fault answered a request that named no If-Match in the server's
	// stead: no handler read its body, so a version it carried is not known.
	Unread bool
	// Query is a GET's query string, as sent (URL-encoded).
	Query string
	// Rows is how many rows a query's answer held.
	Rows int
	// Version is the row version the answer showed the client: a write's new row, the
	// server's row in a 409 or 412, a row read by id. "" when it showed none, or when the
	// history does not know it (a proxy's history of a conflict, a status a fault answered).
	Version string
}

func (r Request) String() string {
	if r.Status == 0 {
		return r.Method + " " + r.Path + " (no answer)"
	}
	return fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status)
}

func (r Request) isWrite() bool { return r.Method != "GET" }

// conflict reports whether the status is a conflict to the write: a 409 or 412, or a 404 to
// an update (its row is gone).
func (r Request) conflict() bool {
	return r.isWrite() && (r.Status == 409 || r.Status == 412 || r.Status == 404 && r.Method == "PATCH")
}

// Snapshot is a client's store, for the tables a check looks at.
type Snapshot struct {
	// Rows: lower-case table → lower-case id → row.
	Rows   map[string]map[string]map[string]any
	Ops    []store.Operation
	Errors []store.OperationError
	Config map[string]string
}

// Take reads a snapshot of tables from s.
func Take(ctx context.Context, s store.Store, tables []string) (Snapshot, error) {
	snap := Snapshot{Rows: map[string]map[string]map[string]any{}, Config: map[string]string{}}
	err := s.View(ctx, func(r store.Reader) error {
		for _, t := range tables {
			rows, _, err := r.Rows(t, store.Query{})
			if err != nil {
				return err
			}
			m := map[string]map[string]any{}
			for _, row := range rows {
				id, _ := row["id"].(string)
				m[strings.ToLower(id)] = row
			}
			snap.Rows[strings.ToLower(t)] = m
		}
		var err error
		if snap.Ops, err = r.Operations(); err != nil {
			return err
		}
		if snap.Errors, err = r.Errors(); err != nil {
			return err
		}
		keys, err := r.ConfigKeys("")
		if err != nil {
			return err
		}
		for _, k := range keys {
			v, _, err := r.Config(k)
			if err != nil {
				return err
			}
			snap.Config[k] = v
		}
		return nil
	})
	return snap, err
}

// opsOf returns the operations of a table.
func opsOf(ops []store.Operation, table string) []store.Operation {
	var out []store.Operation
	for _, op := range ops {
		if strings.EqualFold(op.Table, table) {
			out = append(out, op)
		}
	}
	return out
}

// Normalize makes a row comparable across dialects, decoders and servers: system columns
// without their "__" prefix, numbers as float64, "deleted" left out (a live row may or may not
// carry deleted: false), and null columns left out (a server that returns every column of its
// schema, null when unset, holds the same row as one that leaves them out). Ids keep their
// spelling: compare rows with same or SameValue, which match ids case-insensitively.
func Normalize(row map[string]any) map[string]any {
	if row == nil {
		return nil
	}
	out := make(map[string]any, len(row))
	for k, v := range row {
		name := strings.TrimPrefix(k, "__")
		if strings.EqualFold(name, "deleted") || v == nil {
			continue
		}
		switch n := v.(type) {
		case json.Number:
			f, _ := n.Float64()
			v = f
		case int:
			v = float64(n)
		case int64:
			v = float64(n)
		}
		out[name] = v
	}
	return out
}

// userFields drops the system columns of a normalized row.
func userFields(row map[string]any) map[string]any {
	out := maps.Clone(row)
	for _, c := range []string{"version", "createdAt", "updatedAt", "deleted"} {
		delete(out, c)
	}
	return out
}

// same reports whether two rows are the same row, ids compared case-insensitively (a store
// keeps the spelling it first met, the server its own).
func same(a, b map[string]any) bool {
	na, nb := Normalize(a), Normalize(b)
	if len(na) != len(nb) {
		return false
	}
	for k, v := range na {
		w, ok := nb[k]
		if !ok || !SameValue(k, v, w) {
			return false
		}
	}
	return true
}

// SameValue reports whether two values of column k are equal: ids case-insensitively.
func SameValue(k string, a, b any) bool {
	if k == "id" {
		sa, okA := a.(string)
		sb, okB := b.(string)
		if okA && okB {
			return strings.EqualFold(sa, sb)
		}
	}
	return reflect.DeepEqual(a, b)
}

// diff describes how two rows differ, briefly.
func diff(want, got map[string]any) string {
	w, g := Normalize(want), Normalize(got)
	var parts []string
	keys := map[string]bool{}
	for k := range w {
		keys[k] = true
	}
	for k := range g {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		wv, wok := w[k]
		gv, gok := g[k]
		switch {
		case !wok:
			parts = append(parts, fmt.Sprintf("%s: unexpected %v", k, gv))
		case !gok:
			parts = append(parts, fmt.Sprintf("%s: missing (want %v)", k, wv))
		case !SameValue(k, wv, gv):
			parts = append(parts, fmt.Sprintf("%s: %v, want %v", k, gv, wv))
		}
	}
	return strings.Join(parts, "; ")
}
