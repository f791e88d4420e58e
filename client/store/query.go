package store

import (
	"slices"
	"strings"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// Match reports whether row passes q.Filter; every row does when there is no filter.
func (q Query) Match(row map[string]any) bool {
	return q.Filter == nil || odata.Match(q.Filter, row)
}

// Apply evaluates q over rows the way the fake server answers a table query, so a local read
// and a server query return the same rows in the same order: the rows matching q.Filter
// (total counts them), sorted by q.OrderBy with ties — and every row when there is no
// order — broken by id ascending (ordinal, as the server does), then q.Skip of them dropped and
// at most q.Top kept (0: no limit), then cut down to q.Select's columns plus id.
//
// A row's id is its "id" key when that holds a string; rows without one sort before the rest,
// in their input order. Select names match column names under ASCII case folding and the output
// keeps the row's own spelling; an empty Select, or one containing "*", keeps every column, as
// the server's $select=* does. A negative Skip or Top counts as 0.
//
// Apply never modifies rows or the maps in it. Without Select the returned rows are the input
// maps themselves; with Select they are new maps whose values are shared with the input.
func (q Query) Apply(rows []map[string]any) (out []map[string]any, total int) {
	matched := make([]map[string]any, 0, min(len(rows), 64))
	for _, row := range rows {
		if q.Match(row) {
			matched = append(matched, row)
		}
	}
	total = len(matched)
	q.Filter = nil
	return q.page(matched), total
}

// page sorts, pages and projects rows that have already passed the filter. It reorders the
// rows slice (not the maps), which is why Apply hands it a slice of its own.
func (q Query) page(rows []map[string]any) []map[string]any {
	sortRows(rows, q.OrderBy)
	skip, top := max(q.Skip, 0), max(q.Top, 0)
	if skip >= len(rows) {
		return []map[string]any{}
	}
	rows = rows[skip:]
	if top > 0 && top < len(rows) {
		rows = rows[:top]
	}
	sel := selection(q.Select)
	if sel == nil {
		return rows
	}
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		p := make(map[string]any, len(sel)+1)
		for k, v := range row {
			if sel[Fold(k)] {
				p[k] = v
			}
		}
		if id, ok := row["id"]; ok {
			p["id"] = id
		}
		out[i] = p
	}
	return out
}

// sortRows orders rows by the keys, then by id. The sort is stable so rows that tie on both
// (only possible without string ids) keep their input order and the result is deterministic.
func sortRows(rows []map[string]any, orderBy []odata.OrderBy) {
	type keyed struct {
		row   map[string]any
		id    string
		hasID bool
		keys  []any
	}
	ks := make([]keyed, len(rows))
	for i, row := range rows {
		k := keyed{row: row}
		k.id, k.hasID = row["id"].(string)
		if len(orderBy) > 0 {
			// Evaluating once per row, not once per comparison, keeps the sort O(n log n)
			// in Eval calls rather than in map lookups and parses.
			k.keys = make([]any, len(orderBy))
			for n, o := range orderBy {
				k.keys[n] = odata.Eval(o.Expr, row)
			}
		}
		ks[i] = k
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		for n, o := range orderBy {
			c := odata.Compare(a.keys[n], b.keys[n])
			if o.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		switch {
		case a.hasID != b.hasID:
			if a.hasID {
				return 1
			}
			return -1
		}
		return strings.Compare(a.id, b.id)
	})
	for i, k := range ks {
		rows[i] = k.row
	}
}

// selection is the set of selected column names, ASCII lower-cased; nil means every column.
func selection(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	sel := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "*" {
			return nil
		}
		sel[Fold(n)] = true
	}
	return sel
}

// Fold folds only A–Z: the key under which every store matches table names and ids (and
// odata matches column names). It returns s itself when there is nothing to fold, so the
// common all-lower-case name costs nothing.
func Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
