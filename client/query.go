package client

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// Query selects rows: a filter, an order, paging and a projection. The same Query is sent to
// the server (as OData) by Table.Query and SyncTable.Pull, and evaluated locally by
// SyncTable.Read with the server's own evaluator, so both agree on what it means.
//
// Build one with NewQuery and chain; a bad filter is kept as an error that every use reports
// (wrapping ErrInvalidQuery). A nil *Query means every row. A Query is not changed by use.
type Query struct {
	filter     odata.Expr
	orderBy    []odata.OrderBy
	top        int // -1: none
	skip       int
	sel        []string
	count      bool
	incDeleted bool
	params     url.Values
	err        error
}

// NewQuery returns a query for every row.
func NewQuery() *Query { return &Query{top: -1} }

// Where adds an OData $filter (docs/protocol.md lists what it may use), combined with earlier ones
// by "and". Example: NewQuery().Where("complete eq false and startswith(text, 'buy')").
func (q *Query) Where(filter string) *Query {
	c := q.clone()
	e, err := odata.ParseFilter(filter)
	if err != nil {
		c.setErr(wrap(ErrInvalidQuery, "$filter: %v", err))
		return c
	}
	c.filter = andExpr(c.filter, e)
	return c
}

// OrderBy adds ascending order by a column; OrderByDesc descending. Ties are broken by id.
func (q *Query) OrderBy(column string) *Query { return q.order(column, false) }

// OrderByDesc adds descending order by a column.
func (q *Query) OrderByDesc(column string) *Query { return q.order(column, true) }

func (q *Query) order(column string, desc bool) *Query {
	c := q.clone()
	e, err := odata.ParseOrderBy(column)
	if err != nil || len(e) != 1 {
		c.setErr(wrap(ErrInvalidQuery, "$orderby %q: not a single column or expression", column))
		return c
	}
	e[0].Desc = e[0].Desc || desc
	c.orderBy = append(c.orderBy, e[0])
	return c
}

// Top limits the number of rows (n >= 0).
func (q *Query) Top(n int) *Query {
	c := q.clone()
	if n < 0 {
		c.setErr(wrap(ErrInvalidQuery, "$top must not be negative, got %d", n))
	}
	c.top = n
	return c
}

// Skip skips the first n rows (n >= 0).
func (q *Query) Skip(n int) *Query {
	c := q.clone()
	if n < 0 {
		c.setErr(wrap(ErrInvalidQuery, "$skip must not be negative, got %d", n))
	}
	c.skip = n
	return c
}

// Select limits the columns returned to these (plus id and the system columns).
func (q *Query) Select(columns ...string) *Query {
	c := q.clone()
	c.sel = append(append([]string(nil), c.sel...), columns...)
	return c
}

// IncludeTotalCount asks the server for the number of matching rows ($inlinecount=allpages).
func (q *Query) IncludeTotalCount() *Query { c := q.clone(); c.count = true; return c }

// IncludeDeleted asks an online query for soft-deleted rows too (__includeDeleted=true).
// A pull always includes them, and refuses a query that sets this.
func (q *Query) IncludeDeleted() *Query { c := q.clone(); c.incDeleted = true; return c }

// Param adds a custom query-string parameter sent with the query (not evaluated locally).
// Names starting with "$" are refused: use the methods.
func (q *Query) Param(name, value string) *Query {
	c := q.clone()
	if strings.HasPrefix(name, "$") || name == "" {
		c.setErr(wrap(ErrInvalidQuery, "parameter %q: OData options have their own methods", name))
		return c
	}
	if c.params == nil {
		c.params = url.Values{}
	}
	c.params.Add(name, value)
	return c
}

// Err returns the first error made while building the query, or nil.
func (q *Query) Err() error {
	if q == nil {
		return nil
	}
	return q.err
}

// Filter returns the OData text of the filter ("" for none).
func (q *Query) Filter() string {
	if q == nil || q.filter == nil {
		return ""
	}
	return odata.Format(q.filter)
}

// String renders the query as the query string Table.Query sends (without paging it adds).
func (q *Query) String() string {
	v := q.values()
	s, _ := url.QueryUnescape(v.Encode())
	return s
}

func (q *Query) clone() *Query {
	if q == nil {
		return NewQuery()
	}
	c := *q
	c.orderBy = append([]odata.OrderBy(nil), q.orderBy...)
	if q.params != nil {
		c.params = url.Values{}
		for k, v := range q.params {
			c.params[k] = append([]string(nil), v...)
		}
	}
	return &c
}

func (q *Query) setErr(err error) {
	if q.err == nil {
		q.err = err
	}
}

func andExpr(a, b odata.Expr) odata.Expr {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return odata.And(a, b)
}

// values renders the query's OData options.
func (q *Query) values() url.Values {
	v := url.Values{}
	if q == nil {
		return v
	}
	for k, vals := range q.params {
		v[k] = append([]string(nil), vals...)
	}
	if q.filter != nil {
		v.Set("$filter", odata.Format(q.filter))
	}
	if len(q.orderBy) > 0 {
		v.Set("$orderby", odata.FormatOrderBy(q.orderBy))
	}
	if q.top >= 0 {
		v.Set("$top", strconv.Itoa(q.top))
	}
	if q.skip > 0 {
		v.Set("$skip", strconv.Itoa(q.skip))
	}
	if len(q.sel) > 0 {
		v.Set("$select", strings.Join(q.sel, ","))
	}
	if q.count {
		v.Set("$inlinecount", "allpages")
	}
	if q.incDeleted {
		v.Set("__includeDeleted", "true")
	}
	return v
}

// local returns the query as the store evaluates it.
func (q *Query) local() store.Query {
	if q == nil {
		return store.Query{}
	}
	return store.Query{Filter: q.filter, OrderBy: q.orderBy, Skip: q.skip, Top: max(q.top, 0), Select: q.sel}
}

// hasParam reports whether the query sets a custom parameter, matched case-insensitively.
func (q *Query) hasParam(name string) bool {
	if q == nil {
		return false
	}
	for k := range q.params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
