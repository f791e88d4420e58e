package fakeserver

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/internal/mutants"
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
	q := &query{}
	if err := parseQueryInto(q, d, vals, maxTop); err != nil {
		return nil, err
	}
	return q, nil
}

// parseQueryInto is parseQuery into storage of the caller's.
func parseQueryInto(q *query, d Dialect, vals url.Values, maxTop int) *Error {
	*q = query{top: -1}
	for k, v := range vals {
		if strings.HasPrefix(k, "$") && !knownOptions[k] {
			return badRequest("unsupported query option %s", k)
		}
		if (knownOptions[k] || k == "__includeDeleted" || k == "__systemproperties") && len(v) > 1 {
			return badRequest("query option %s is given %d times", k, len(v))
		}
	}
	if s, ok := one(vals, "$filter"); ok {
		e, err := odata.ParseFilter(s)
		if err != nil {
			return badRequest("%v", err)
		}
		q.filter = e
	}
	if s, ok := one(vals, "$orderby"); ok {
		o, err := odata.ParseOrderBy(s)
		if err != nil {
			return badRequest("%v", err)
		}
		q.orderBy = o
	}
	if s, ok := one(vals, "$top"); ok {
		n, err := nonNegative("$top", s)
		if err != nil {
			return err
		}
		if n > maxTop {
			return badRequest("$top=%d is above this server's limit of %d", n, maxTop)
		}
		q.top = n
	}
	if s, ok := one(vals, "$skip"); ok {
		n, err := nonNegative("$skip", s)
		if err != nil {
			return err
		}
		q.skip = n
	}
	if s, ok := one(vals, "$select"); ok {
		sel, err := parseSelect(s)
		if err != nil {
			return err
		}
		q.sel = sel
	}
	if s, ok := one(vals, "$inlinecount"); ok {
		switch s {
		case "allpages":
			q.inlineCount = true
		case "none":
		default:
			return badRequest("$inlinecount must be allpages or none, got %q", s)
		}
	}
	if s, ok := one(vals, "__includeDeleted"); ok {
		q.includeDeleted = strings.EqualFold(s, "true")
	}
	if d == V1 {
		if s, ok := one(vals, "__systemproperties"); ok {
			sys, err := parseSystemProperties(s)
			if err != nil {
				return err
			}
			q.sys = sys
		}
	}
	return nil
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
	// cut is set when the page size cut the page short of rows that remain; next when the
	// answer links the next page (it must, whenever cut).
	cut      bool
	next     bool
	nextSkip int
	nextTop  int // -1: the query had no $top
}

// queryLocked runs q over a table.
//
// Every path gives the page the general one would: the rows that pass the filter, tombstones
// only with __includeDeleted, ordered by $orderby with ties by id, then $skip and $top. The
// shortcuts only avoid looking at rows the page cannot depend on.
func (s *Server) queryLocked(tableName string, q *query) result {
	if mutants.On(mutants.DeletedInQueries) && !q.includeDeleted {
		broken := *q
		broken.includeDeleted = true
		q = &broken
	}
	if mutants.On(mutants.SkipIgnoredUnderCap) && (q.top < 0 || q.top > s.cfg.PageSize) && q.skip > 0 {
		broken := *q
		broken.skip = 0 // the bug: a capped page starts at the top whatever $skip says
		q = &broken
	}
	res := result{table: tableName}
	t, err := s.table(tableName)
	if err != nil {
		return withErr(res, err)
	}
	if t != nil {
		res.table = t.name
	}
	p := &page{nextTop: -1}
	limit := s.cfg.PageSize
	if q.top >= 0 && q.top < limit {
		limit = q.top
	}
	switch op, at, ok := updatedAtScan(s.cfg.Dialect, q); {
	case q.filter == nil && len(q.orderBy) == 0:
		pageByID(p, t, q, limit)
	case ok:
		pageByUpdatedAt(p, t.byUpdatedAt(), op, at, q, limit)
	default:
		// The general path evaluates expressions over rows, which can take long: it gets the
		// rows as they are now and runs after the lock is released (see evalPlan).
		res.eval = &evalPlan{rows: t.snapshot(), q: q, limit: limit, pageSize: s.cfg.PageSize,
			match: compile(q.filter, t, s.cfg.Dialect), keys: compileKeys(q.orderBy, t, s.cfg.Dialect),
			limits:  odata.Limits{Work: s.cfg.QueryWork, MaxString: s.cfg.QueryStringBytes},
			timeout: s.cfg.QueryTimeout}
		return res
	}
	return pageDone(res, p, q, s.cfg.PageSize)
}

// pageDone completes a query's result with its page, and the next page's link when the page
// size cut the page short.
func pageDone(res result, p *page, q *query, pageSize int) result {
	cutByPageSize := q.top < 0 || q.top > pageSize
	p.cut = cutByPageSize && len(p.rows) > 0 && q.skip+len(p.rows) < p.count
	if p.cut && !mutants.On(mutants.PageWithoutLink) {
		p.next, p.nextSkip = true, q.skip+len(p.rows)
		if q.top >= 0 {
			p.nextTop = q.top - len(p.rows)
		}
	}
	res.status, res.page, res.rows = http.StatusOK, p, len(p.rows)
	return res
}

// pageByID answers a query with neither $filter nor $orderby straight from the id order.
func pageByID(p *page, t *table, q *query, limit int) {
	idx := t.index()
	if !q.includeDeleted {
		idx = t.liveIndex()
	}
	p.count = len(idx)
	for i := q.skip; i < len(idx) && len(p.rows) < limit; i++ {
		p.rows = append(p.rows, idx[i].rec)
	}
}

// updatedAtScan recognises the SDKs' incremental pull, $orderby=updatedAt (ascending, alone)
// with no $filter or with "updatedAt ge <time>" or "updatedAt gt <time>": its rows are a
// suffix of the table in updatedAt order. op is "" for no filter.
func updatedAtScan(d Dialect, q *query) (op string, at time.Time, ok bool) {
	if len(q.orderBy) != 1 || q.orderBy[0].Desc || !isProperty(q.orderBy[0].Expr, wireName(d, colUpdatedAt)) {
		return "", time.Time{}, false
	}
	if q.filter == nil {
		return "", time.Time{}, true
	}
	var b odata.Binary
	switch x := q.filter.(type) {
	case odata.Binary:
		b = x
	case *odata.Binary:
		if x == nil {
			return "", time.Time{}, false
		}
		b = *x
	default:
		return "", time.Time{}, false
	}
	if b.Op != "ge" && b.Op != "gt" || !isProperty(b.Left, wireName(d, colUpdatedAt)) {
		return "", time.Time{}, false
	}
	if _, lit := b.Right.(odata.Literal); !lit {
		if l, ptr := b.Right.(*odata.Literal); !ptr || l == nil {
			return "", time.Time{}, false
		}
	}
	// The literal as the evaluator sees it (UTC, truncated to the millisecond); a string
	// or any other kind takes the general path.
	at, ok = odata.Eval(b.Right, nil).(time.Time)
	return b.Op, at, ok
}

// isProperty reports whether e is a reference to the column spelled exactly name. The row
// always has that key, so no case-insensitive lookup can come into it.
func isProperty(e odata.Expr, name string) bool {
	switch x := e.(type) {
	case odata.Property:
		return x.Name == name
	case *odata.Property:
		return x != nil && x.Name == name
	}
	return false
}

// pageByUpdatedAt answers the incremental pull updatedAtScan recognised from u.
func pageByUpdatedAt(p *page, u *updatedIndex, op string, at time.Time, q *query, limit int) {
	n, ms := len(u.entries), at.UnixMilli()
	entryMs := func(i int) int64 { return u.entries[i].ms }
	if mutants.On(mutants.UpdatedAtSecondPrecision) {
		entryMs = func(i int) int64 { return u.entries[i].ms / 1000 * 1000 } // the bug: rows' times in whole seconds
	}
	lo := 0 // the first matching entry; the rest match too
	switch op {
	case "ge":
		lo = sort.Search(n, func(i int) bool { return entryMs(i) >= ms })
	case "gt":
		lo = sort.Search(n, func(i int) bool { return entryMs(i) > ms })
	}
	if q.includeDeleted {
		p.count = n - lo
		for i := lo + q.skip; i < n && len(p.rows) < limit; i++ {
			p.rows = append(p.rows, u.entries[i].rec)
		}
		return
	}
	liveBefore := u.live()
	p.count = liveBefore[n] - liveBefore[lo]
	if q.skip >= p.count || limit == 0 {
		return
	}
	// The first live entry with q.skip live entries between lo and it.
	first := sort.Search(n, func(i int) bool { return liveBefore[i+1]-liveBefore[lo] > q.skip })
	for i := first; i < n && len(p.rows) < limit; i++ {
		if !u.entries[i].deleted {
			p.rows = append(p.rows, u.entries[i].rec)
		}
	}
}
