package fakeserver

import (
	"net/http"
	"sort"
	"strings"
)

// table holds one table's rows and the types its columns have taken.
type table struct {
	name       string
	rows       map[string]*record // by idKey
	columns    map[string]column  // by lower-case name
	hardDelete bool
}

// column is a user column as the table knows it: the spelling it was first written with and
// the JSON type of its first non-null value. Like the SQL tables behind the real servers'
// dynamic schema, a column keeps its type: a later write of another type is a 400.
type column struct {
	name string
	kind string
}

func newTable(name string, hardDelete bool) *table {
	return &table{name: name, rows: map[string]*record{}, columns: map[string]column{}, hardDelete: hardDelete}
}

// get returns the row with id, tombstones included.
func (t *table) get(id string) *record {
	if t == nil {
		return nil
	}
	return t.rows[idKey(id)]
}

// canonical checks data against the column types and returns it with each column under the
// spelling the table already knows it by.
func (t *table) canonical(data map[string]any) (map[string]any, *Error) {
	out := make(map[string]any, len(data))
	for k, v := range data {
		name := k
		if t != nil {
			if c, ok := t.columns[strings.ToLower(k)]; ok {
				name = c.name
				if kind := kindOf(v); kind != "" && c.kind != "" && kind != c.kind {
					return nil, &Error{Status: http.StatusBadRequest,
						Message: "property " + quote(k) + ": column " + quote(c.name) + " holds " + c.kind + " values, got " + kind}
				}
			}
		}
		out[name] = v
	}
	return out, nil
}

// learn records the columns and types of data, which canonical has accepted.
func (t *table) learn(data map[string]any) {
	for k, v := range data {
		lower := strings.ToLower(k)
		c, ok := t.columns[lower]
		if !ok {
			c = column{name: k}
		}
		if c.kind == "" {
			c.kind = kindOf(v)
		}
		t.columns[lower] = c
	}
}

// sorted returns the rows ordered by id, tombstones included.
func (t *table) sorted() []*record {
	if t == nil {
		return nil
	}
	out := make([]*record, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func quote(s string) string { return "'" + s + "'" }
