package fakeserver

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// A table query as azure-mobile-apps reads it and its sqlite provider answers it.

// nodeQueryOpts is a query string as the provider reads it.
type nodeQueryOpts struct {
	pairs          []nodePair // every parameter in order, for the Link
	filter         odata.Expr
	orderBy        []odata.OrderBy
	sel            []string // as written; nil: every column
	take           int      // the LIMIT: $top, else the page size; negative: none
	skip           int      // the OFFSET; ≤ 0: none
	skipGiven      bool     // $skip parsed to a number (for the Link's arithmetic)
	inlineCount    bool
	includeDeleted bool
	// empty is set when the query names something the table lacks: a column in $filter,
	// $orderby or $select, or (through SQL) a function SQLite lacks that parses as a column.
	// The provider's read then answers [] instead of the error.
	empty bool
}

type nodePair struct {
	key    string
	values []string
}

// nodeParseQuery reads the query string. A parse error of $filter or $orderby is a 500 (the
// provider lets the parser's exception through), as is a $select name it cannot quote.
func (s *Server) nodeParseQuery(raw string) (*nodeQueryOpts, *nodeFail) {
	q := &nodeQueryOpts{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = nodeUnescape(k), nodeUnescape(v)
		i := slices.IndexFunc(q.pairs, func(p nodePair) bool { return p.key == k })
		if i < 0 {
			q.pairs = append(q.pairs, nodePair{key: k})
			i = len(q.pairs) - 1
		}
		q.pairs[i].values = append(q.pairs[i].values, v)
	}
	get := func(k string) (string, bool) {
		for _, p := range q.pairs {
			if p.key == k {
				return p.values[0], true
			}
		}
		return "", false
	}
	if f, ok := get("$filter"); ok && f != "" {
		e, err := odata.ParseFilter(f)
		if err != nil {
			return nil, nodeFailf(http.StatusInternalServerError, "%v", err)
		}
		e, fail := nodeRewrite(e, &q.empty)
		if fail != nil {
			return nil, fail
		}
		q.filter = e
	}
	if o, ok := get("$orderby"); ok && o != "" {
		ob, err := odata.ParseOrderBy(o)
		if err != nil {
			return nil, nodeFailf(http.StatusInternalServerError, "%v", err)
		}
		for i := range ob {
			e, fail := nodeRewrite(ob[i].Expr, &q.empty)
			if fail != nil {
				return nil, fail
			}
			ob[i].Expr = e
		}
		q.orderBy = ob
	}
	if sel, ok := get("$select"); ok && sel != "" {
		for _, c := range strings.Split(sel, ",") {
			c = strings.TrimSpace(c)
			if !nodeIdentifier(c) {
				return nil, nodeFailf(http.StatusInternalServerError, "%s", nodeIdentifierMessage(c))
			}
			q.sel = append(q.sel, c)
		}
	}
	top, ok := 0, false
	if t, given := get("$top"); given {
		top, ok = jsParseInt(t)
	}
	if ok && top > s.cfg.MaxTop {
		return nil, nodeFailf(http.StatusBadRequest, "You cannot request more than %d records", s.cfg.MaxTop)
	}
	if !ok || top == 0 {
		top = s.cfg.PageSize
	}
	q.take = top
	if sk, given := get("$skip"); given {
		q.skip, q.skipGiven = jsParseInt(sk)
	}
	if ic, _ := get("$inlinecount"); ic == "allpages" {
		q.inlineCount = true
	}
	if d, _ := get("__includeDeleted"); d != "" {
		q.includeDeleted = true // any value: the provider tests !!req.query.__includeDeleted
	}
	return q, nil
}

// nodeUnescape decodes a query component as express's query parser does (+ is a space; a
// malformed escape stays as written).
func nodeUnescape(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// nodeRewrite turns a filter into one that evaluates as the SQL the provider builds for
// SQLite does:
//   - indexof(a, b) becomes INSTR(b, a) - 1: the arguments are swapped, so it finds a in b;
//   - startswith, endswith and substringof build their LIKE pattern with '+', which in SQLite
//     adds numbers: startswith(text, 'Buy') is text LIKE ('Buy' + '%'), that is text LIKE 0;
//   - length, year, month, day and substring without a length call functions SQLite lacks
//     (a 500); hour, minute and second read as columns SQLite lacks (an empty answer);
//   - contains is not in the provider's grammar (a 500).
func nodeRewrite(e odata.Expr, empty *bool) (odata.Expr, *nodeFail) {
	switch x := e.(type) {
	case odata.Unary:
		sub, fail := nodeRewrite(x.X, empty)
		x.X = sub
		return x, fail
	case odata.Binary:
		l, fail := nodeRewrite(x.Left, empty)
		if fail != nil {
			return nil, fail
		}
		r, fail := nodeRewrite(x.Right, empty)
		x.Left, x.Right = l, r
		return x, fail
	case odata.Call:
		args := make([]odata.Expr, len(x.Args))
		for i, a := range x.Args {
			sub, fail := nodeRewrite(a, empty)
			if fail != nil {
				return nil, fail
			}
			args[i] = sub
		}
		x.Args = args
		switch x.Name {
		case "contains":
			return nil, nodeFailf(http.StatusInternalServerError, "Unknown identifier 'contains'")
		case "length":
			return nil, nodeFailf(http.StatusInternalServerError, "SQLITE_ERROR: no such function: LEN")
		case "year", "month", "day":
			return nil, nodeFailf(http.StatusInternalServerError, "SQLITE_ERROR: no such function: %s", strings.ToUpper(x.Name))
		case "substring":
			if len(x.Args) == 2 {
				return nil, nodeFailf(http.StatusInternalServerError, "SQLITE_ERROR: no such function: LEN")
			}
		case "hour", "minute", "second":
			*empty = true
		case "indexof":
			x.Args = []odata.Expr{x.Args[1], x.Args[0]}
		case "startswith", "endswith", "substringof":
			// column LIKE pattern, the pattern a number: equal as text, ignoring case.
			subject, pat := x.Args[0], x.Args[1]
			if x.Name == "substringof" {
				subject, pat = x.Args[1], x.Args[0]
			}
			lit, ok := pat.(odata.Literal)
			s, isStr := lit.Value.(string)
			if !ok || !isStr {
				return odata.Literal{Value: false}, nil
			}
			var text string
			switch x.Name {
			case "startswith":
				text = sqliteAddText(s, "%")
			case "endswith":
				text = sqliteAddText("%", s)
			default:
				text = sqliteAddText(sqliteAddText("%", s), "%")
			}
			return odata.Binary{Op: "eq", Left: odata.Call{Name: "tolower", Args: []odata.Expr{subject}},
				Right: odata.Literal{Value: strings.ToLower(text)}}, nil
		}
		return x, nil
	}
	return e, nil
}

// nodeColumn resolves a column name as SQLite does (case-insensitively) to the name the
// provider returns it under, or "" when the table has no such column.
func nodeColumn(t *table, name string) string {
	lower := strings.ToLower(name)
	for _, c := range []string{colID, colCreatedAt, colUpdatedAt, colVersion, colDeleted} {
		if strings.ToLower(c) == lower {
			return c
		}
	}
	if t == nil {
		return ""
	}
	if c, ok := t.columns[lower]; ok {
		return c.name
	}
	return ""
}

func (s *Server) nodeQuery(w http.ResponseWriter, r *http.Request) {
	x := exchangeOf(r)
	x.ev.Op = OpQuery
	name := routeVar(r, "table")
	x.ev.Table = name
	q, fail := s.nodeParseQuery(r.URL.RawQuery)
	if fail != nil {
		s.nodeError(w, r, fail.status, fail.msg)
		return
	}
	x.ev.IncludeDeleted = q.includeDeleted
	var pl *nodePlan
	res := s.apply(r, func(*Event) result {
		t, err := s.table(name)
		if err != nil {
			return withErr(result{table: name}, err)
		}
		pl = s.nodePlanLocked(t, q)
		if pl.answered != nil {
			return result{status: http.StatusOK, table: name, page: pl.answered}
		}
		// Evaluated after the lock is released, within the query limits, as the default
		// personality's queries are: one costly $filter holds up nobody.
		return result{table: name, eval: pl}
	})
	if res.err != nil {
		s.nodeError(w, r, res.status, res.err.Message)
		return
	}
	rows := make([]map[string]any, len(res.page.rows))
	for i, rec := range res.page.rows {
		rows[i] = nodeRowCols(pl.cols, rec, pl.sel)
	}
	if q.take >= 0 && len(rows) == q.take {
		w.Header().Set("Link", nodeNextLink(r, q, len(rows)))
	}
	var out any = rows
	if q.inlineCount && res.page.count >= 0 {
		out = map[string]any{"results": rows, "count": res.page.count}
	}
	nodeJSON(w, http.StatusOK, out, "", true)
}

// nodePlan is a query over a table as the provider runs it: the rows in insertion order
// (SQLite's rowid order, which also breaks $orderby's ties), filtered, ordered, then OFFSET
// and LIMIT. It holds the rows and the schema as they were under the lock, and is evaluated
// after the lock is released, within the server's query limits.
type nodePlan struct {
	q       *nodeQueryOpts
	cols    []column // the table's schema
	sel     []string // $select, resolved to the schema's spelling
	rows    []*record
	filter  *odata.Program[map[string]any]
	keys    []*odata.Program[map[string]any]
	limits  odata.Limits
	timeout time.Duration
	// answered is the page of a query that needs no evaluation: one that names what the
	// table lacks (the provider's read fails into an empty answer, which has no count: -1),
	// or one of a table declared and never written.
	answered *page
}

// nodePlanLocked prepares q over t; call it under the lock.
func (s *Server) nodePlanLocked(t *table, q *nodeQueryOpts) *nodePlan {
	pl := &nodePlan{q: q, limits: odata.Limits{Work: s.cfg.QueryWork, MaxString: s.cfg.QueryStringBytes}, timeout: s.cfg.QueryTimeout}
	empty := q.empty
	for _, c := range q.sel {
		n := nodeColumn(t, c)
		if n == "" {
			empty = true
		}
		pl.sel = append(pl.sel, n)
	}
	var refs []string
	if q.filter != nil {
		refs = append(refs, odata.Properties(q.filter)...)
	}
	for _, o := range q.orderBy {
		refs = append(refs, odata.Properties(o.Expr)...)
	}
	for _, ref := range refs {
		if nodeColumn(t, ref) == "" {
			empty = true
		}
	}
	switch {
	case empty:
		pl.answered = &page{nextTop: -1, count: -1}
		return pl
	case t == nil: // declared, never written: Node created it with its system columns
		pl.answered = &page{nextTop: -1}
		return pl
	}
	pl.cols = t.columnList()
	idx := t.index()
	pl.rows = make([]*record, len(idx))
	for i, sl := range idx {
		pl.rows[i] = sl.rec
	}
	if q.filter != nil {
		pl.filter = odata.CompileMap(q.filter)
	}
	for _, o := range q.orderBy {
		pl.keys = append(pl.keys, odata.CompileMap(o.Expr))
	}
	return pl
}

func (pl *nodePlan) run(ctx context.Context) (*page, *Error) {
	q := pl.q
	slices.SortFunc(pl.rows, func(a, b *record) int { return cmpUint(a.rowid, b.rowid) })
	budget := odata.NewBudget(pl.limits)
	deadline := time.Now().Add(pl.timeout)
	tooLong := func() *Error {
		return badRequest("the query took longer than this server's limit of %v to evaluate over %d rows: narrow the $filter, or raise the limit (QueryTimeout, serve --query-timeout)", pl.timeout, len(pl.rows))
	}
	type hit struct {
		rec  *record
		keys []any
	}
	// Without an $orderby or a count, the first matches in rowid order are the page: stop
	// there, as SQLite's LIMIT does.
	need := -1
	if len(pl.keys) == 0 && !q.inlineCount && q.take >= 0 {
		need = max(q.skip, 0) + q.take
	}
	var hits []hit
	for i, rec := range pl.rows {
		if len(hits) == need {
			break
		}
		if i&255 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, errorf(statusClientClosed, "the client went away while its query was evaluated")
			}
			if time.Now().After(deadline) {
				return nil, tooLong()
			}
		}
		if rec.deleted && !q.includeDeleted {
			continue
		}
		row := nodeEvalRow(pl.cols, rec)
		if pl.filter != nil && !pl.filter.Match(row, budget) {
			if err := budget.Err(); err != nil {
				return nil, tooCostly(err)
			}
			continue
		}
		h := hit{rec: rec}
		for _, k := range pl.keys {
			h.keys = append(h.keys, k.Eval(row, budget))
		}
		if err := budget.Err(); err != nil {
			return nil, tooCostly(err)
		}
		hits = append(hits, h)
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		for i, o := range q.orderBy {
			c := sqliteCompare(a.keys[i], b.keys[i])
			if o.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	p := &page{nextTop: -1, count: len(hits)}
	start := 0
	if q.skip > 0 {
		start = q.skip
	}
	for i := start; i < len(hits) && (q.take < 0 || len(p.rows) < q.take); i++ {
		p.rows = append(p.rows, hits[i].rec)
	}
	return p, nil
}

func (pl *nodePlan) done(res result, p *page) result {
	res.status, res.page, res.rows = http.StatusOK, p, len(p.rows)
	return res
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sqliteCompare orders values as SQLite's ORDER BY does: NULL first, then the rest by value.
func sqliteCompare(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return odata.Compare(a, b)
}

// nodeEvalRow is a row as the provider's SQL sees it: every schema column (null when unset),
// the system columns with times as instants and the version as its tag.
func nodeEvalRow(cols []column, r *record) map[string]any {
	row := make(map[string]any, len(cols)+5)
	for _, c := range cols {
		row[c.name] = r.data[c.name]
	}
	row[colID] = r.id
	row[colCreatedAt] = r.createdAt
	row[colUpdatedAt] = r.updatedAt
	row[colVersion] = r.wireVersion()
	row[colDeleted] = r.deleted
	return row
}

// nodeNextLink is azure-mobile-apps' Link header: url.format of the request's protocol and
// hostname (no port), the path as the table's router sees it ("/"), and the query with $top
// and $skip set; no angle brackets.
func nodeNextLink(r *http.Request, q *nodeQueryOpts, n int) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	skip := n
	if q.skipGiven {
		skip += q.skip
	}
	pairs := slices.Clone(q.pairs)
	set := func(k, v string) {
		for i := range pairs {
			if pairs[i].key == k {
				pairs[i] = nodePair{key: k, values: []string{v}}
				return
			}
		}
		pairs = append(pairs, nodePair{key: k, values: []string{v}})
	}
	set("$top", strconv.Itoa(q.take))
	set("$skip", strconv.Itoa(skip))
	var b strings.Builder
	for _, p := range pairs {
		for _, v := range p.values {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(nodeEscape(p.key) + "=" + nodeEscape(v))
		}
	}
	return scheme + "://" + host + "/?" + b.String() + "; rel=next"
}

// nodeEscape is Node's querystring.escape: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is
// percent-encoded, as UTF-8.
func nodeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)) + strings.ToUpper(strconv.FormatUint(uint64(c)&15, 16)))
	}
	return b.String()
}
