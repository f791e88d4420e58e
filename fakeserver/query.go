package fakeserver

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// query is a parsed table query: the OData options and the Azure extensions.
type query struct {
	filter         odata.Expr
	orderBy        []odata.OrderBy
	top            int // -1: not given
	skip           int
	sel            map[string]bool // lower-case names; nil: every column
	inlineCount    bool
	includeDeleted bool
	sys            sysProps // v1 __systemproperties
}

// knownOptions are the $-options a table query may carry; any other $-option is a 400, so a
// client sending something the server would silently ignore finds out.
var knownOptions = map[string]bool{"$filter": true, "$orderby": true, "$top": true, "$skip": true, "$select": true, "$inlinecount": true}

// parseQuery reads the query string of a table request in dialect d.
func parseQuery(d Dialect, vals url.Values, maxTop int) (*query, *Error) {
	q := &query{top: -1}
	for k, v := range vals {
		if strings.HasPrefix(k, "$") && !knownOptions[k] {
			return nil, badRequest("unsupported query option %s", k)
		}
		if (knownOptions[k] || k == "__includeDeleted" || k == "__systemproperties") && len(v) > 1 {
			return nil, badRequest("query option %s is given %d times", k, len(v))
		}
	}
	if s, ok := one(vals, "$filter"); ok {
		e, err := odata.ParseFilter(s)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		q.filter = e
	}
	if s, ok := one(vals, "$orderby"); ok {
		o, err := odata.ParseOrderBy(s)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		q.orderBy = o
	}
	if s, ok := one(vals, "$top"); ok {
		n, err := nonNegative("$top", s)
		if err != nil {
			return nil, err
		}
		if n > maxTop {
			return nil, badRequest("$top=%d is above this server's limit of %d", n, maxTop)
		}
		q.top = n
	}
	if s, ok := one(vals, "$skip"); ok {
		n, err := nonNegative("$skip", s)
		if err != nil {
			return nil, err
		}
		q.skip = n
	}
	if s, ok := one(vals, "$select"); ok {
		sel, err := parseSelect(s)
		if err != nil {
			return nil, err
		}
		q.sel = sel
	}
	if s, ok := one(vals, "$inlinecount"); ok {
		switch s {
		case "allpages":
			q.inlineCount = true
		case "none":
		default:
			return nil, badRequest("$inlinecount must be allpages or none, got %q", s)
		}
	}
	if s, ok := one(vals, "__includeDeleted"); ok {
		q.includeDeleted = strings.EqualFold(s, "true")
	}
	if d == V1 {
		if s, ok := one(vals, "__systemproperties"); ok {
			sys, err := parseSystemProperties(s)
			if err != nil {
				return nil, err
			}
			q.sys = sys
		}
	}
	return q, nil
}

func one(vals url.Values, key string) (string, bool) {
	v, ok := vals[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// nonNegative reads a $top or $skip: plain decimal digits, nothing else.
func nonNegative(name, s string) (int, *Error) {
	digits := s != "" && strings.Trim(s, "0123456789") == ""
	n, err := strconv.ParseInt(s, 10, 32)
	if !digits || err != nil {
		return 0, badRequest("%s must be a non-negative integer, got %q", name, s)
	}
	return int(n), nil
}

func parseSelect(s string) (map[string]bool, *Error) {
	sel := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(part)
		if name == "*" {
			return nil, nil
		}
		if !validIdentifier(name) {
			return nil, badRequest("$select: %q is not a column name", name)
		}
		sel[strings.ToLower(name)] = true
	}
	return sel, nil
}

func validIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseSystemProperties reads v1's __systemproperties: "*" or a list such as
// "__version,__updatedAt" (the "__" and letter case are optional).
func parseSystemProperties(s string) (sysProps, *Error) {
	sys := sysProps{}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(part)), "__")
		switch name {
		case "*":
			return allSysProps, nil
		case "":
			continue
		}
		found := false
		for _, c := range systemColumns {
			if strings.ToLower(c) == name {
				sys[c], found = true, true
			}
		}
		if !found {
			return nil, badRequest("__systemproperties: unknown system property %q", strings.TrimSpace(part))
		}
	}
	return sys, nil
}

// page is one response's worth of a query.
type page struct {
	rows  []*record
	count int // rows matching, before $top/$skip
	// next is set when rows remain beyond a page cut short by the page size.
	next     bool
	nextSkip int
	nextTop  int // -1: the query had no $top
}

// queryLocked runs q over a table.
func (s *Server) queryLocked(tableName string, q *query) result {
	res := result{table: tableName}
	t, err := s.table(tableName)
	if err != nil {
		return withErr(res, err)
	}
	if t != nil {
		res.table = t.name
	}
	type keyed struct {
		rec  *record
		keys []any
	}
	var matched []keyed
	for _, r := range t.sorted() {
		if r.deleted && !q.includeDeleted {
			continue
		}
		row := r.evalRow(s.cfg.Dialect)
		if q.filter != nil && !odata.Match(q.filter, row) {
			continue
		}
		k := keyed{rec: r}
		for _, o := range q.orderBy {
			k.keys = append(k.keys, odata.Eval(o.Expr, row))
		}
		matched = append(matched, k)
	}
	if len(q.orderBy) > 0 {
		// The rows arrive ordered by id, so a stable sort breaks ties by id: pages are stable.
		sort.SliceStable(matched, func(i, j int) bool {
			for n, o := range q.orderBy {
				c := odata.Compare(matched[i].keys[n], matched[j].keys[n])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	p := &page{count: len(matched), nextTop: -1}
	limit := s.cfg.PageSize
	if q.top >= 0 && q.top < limit {
		limit = q.top
	}
	for i := q.skip; i < len(matched) && len(p.rows) < limit; i++ {
		p.rows = append(p.rows, matched[i].rec)
	}
	cutByPageSize := q.top < 0 || q.top > s.cfg.PageSize
	if cutByPageSize && len(p.rows) > 0 && q.skip+len(p.rows) < len(matched) {
		p.next, p.nextSkip = true, q.skip+len(p.rows)
		if q.top >= 0 {
			p.nextTop = q.top - len(p.rows)
		}
	}
	res.status, res.page, res.rows = http.StatusOK, p, len(p.rows)
	return res
}
