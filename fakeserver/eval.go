package fakeserver

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// queryEval is a query that evaluates expressions over rows: it holds the rows as they were
// when the query was applied under the lock, and runs after the lock is released, within the
// server's query limits (Config.QueryWork, QueryStringBytes, QueryTimeout).
type queryEval interface {
	// run evaluates the query into its page; a limit met is a 400.
	run(ctx context.Context) (*page, *Error)
	// done completes the query's result with its page.
	done(res result, p *page) result
}

// evalPlan is a query the indexes cannot answer: its $filter and $orderby are evaluated over
// the rows. It holds the table's rows as they were when the query was applied (records never
// change once stored), so it runs after the server's lock is released: a long evaluation
// holds up no write and no other request. What it may cost is bounded by the server's query
// limits, and it stops early when the client goes away.
type evalPlan struct {
	rows     []*record // the table in id order, tombstones included
	q        *query
	match    *odata.Program[*record] // nil: no $filter
	keys     []*odata.Program[*record]
	limit    int
	pageSize int
	limits   odata.Limits
	timeout  time.Duration
}

// run evaluates the plan into a page. The rows arrive in id order, so without an $orderby the
// first matches are the page and the evaluation stops once it has them, and one more to know
// whether a next page exists; an $orderby, or $inlinecount, needs every row.
func (pl *evalPlan) run(ctx context.Context) (*page, *Error) {
	q := pl.q
	budget := odata.NewBudget(pl.limits)
	deadline := time.Now().Add(pl.timeout)
	need := -1
	if len(pl.keys) == 0 && !q.inlineCount {
		need = q.skip + pl.limit + 1
	}
	nkeys := len(pl.keys)
	var matched []*record
	var keys []any // nkeys order keys per matched row
	for i, r := range pl.rows {
		if i&255 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, errorf(statusClientClosed, "the client went away while its query was evaluated")
			}
			if time.Now().After(deadline) {
				return nil, badRequest("the query took longer than this server's limit of %v to evaluate over %d rows: narrow the $filter, or raise the limit (QueryTimeout, serve --query-timeout)", pl.timeout, len(pl.rows))
			}
		}
		if r.deleted && !q.includeDeleted {
			continue
		}
		if pl.match != nil && !pl.match.Match(r, budget) {
			if err := budget.Err(); err != nil {
				return nil, tooCostly(err)
			}
			continue
		}
		matched = append(matched, r)
		for _, k := range pl.keys {
			keys = append(keys, k.Eval(r, budget))
		}
		if err := budget.Err(); err != nil {
			return nil, tooCostly(err)
		}
		if len(matched) == need {
			break
		}
	}
	if nkeys > 0 {
		// The rows arrive ordered by id, so a stable sort breaks ties by id: pages are stable.
		order := make([]int, len(matched))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			ka, kb := keys[a*nkeys:(a+1)*nkeys], keys[b*nkeys:(b+1)*nkeys]
			for n, o := range q.orderBy {
				c := compareKeys(ka[n], kb[n])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
		sorted := make([]*record, len(matched))
		for i, j := range order {
			sorted[i] = matched[j]
		}
		matched = sorted
	}
	p := &page{nextTop: -1, count: len(matched)}
	for i := q.skip; i < len(matched) && len(p.rows) < pl.limit; i++ {
		p.rows = append(p.rows, matched[i])
	}
	return p, nil
}

func (pl *evalPlan) done(res result, p *page) result { return pageDone(res, p, pl.q, pl.pageSize) }

// statusClientClosed is what the history records for a query its client abandoned (nginx's
// 499: no client sees it).
const statusClientClosed = 499

func tooCostly(err error) *Error {
	var le *odata.LimitError
	if errors.As(err, &le) && le.Limit == "string" {
		return badRequest("the query is too costly to evaluate: %v (QueryStringBytes, serve --query-string-bytes)", err)
	}
	return badRequest("the query is too costly to evaluate: %v, over all rows (QueryWork, serve --query-work)", err)
}

// compareKeys is odata.Compare over values a Program returned, without its allocations for
// the common case of two numbers: evaluated numbers are finite, and Compare orders two finite
// numbers by value.
func compareKeys(a, b any) int {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	}
	return odata.Compare(a, b)
}

// compile prepares a $filter for t's rows (nil for none).
func compile(e odata.Expr, t *table, d Dialect) *odata.Program[*record] {
	if e == nil {
		return nil
	}
	return odata.Compile(e, t.resolver(d))
}

func compileKeys(orderBy []odata.OrderBy, t *table, d Dialect) []*odata.Program[*record] {
	var keys []*odata.Program[*record]
	for _, o := range orderBy {
		keys = append(keys, odata.Compile(o.Expr, t.resolver(d)))
	}
	return keys
}

// resolver reads properties from t's records as $filter and $orderby see a row: every user
// column, then id, version (encoded), createdAt and updatedAt (as instants) and deleted, by
// their names in dialect d. A name is found as odata's lookup finds it in such a row: the
// exact name (a system column's exact name is that column), else the ordinally smallest name
// equal to it under ASCII case folding.
//
// A table keeps one spelling per column (the first written), and names equal under ASCII case
// folding are equal under strings.ToLower, which is how the table keys its columns: so a name
// can match at most one user column, found once here, and read from each record's cols by
// its ordinal. Call it under the lock: it reads the table's columns.
func (t *table) resolver(d Dialect) odata.Resolver[*record] {
	return func(name string) func(*record) any {
		sys := map[string]string{colID: colID} // wire name → system column
		for _, c := range systemColumns {
			sys[wireName(d, c)] = c
		}
		if c, ok := sys[name]; ok {
			return func(r *record) any { return r.evalSystem(c) }
		}
		// The smallest system column name that folds to name, if any.
		sysName, sysCol := "", ""
		for w, c := range sys {
			if odata.EqualFold(w, name) && (sysName == "" || w < sysName) {
				sysName, sysCol = w, c
			}
		}
		var col column
		found := false
		if t != nil {
			col, found = t.columns[strings.ToLower(name)]
			found = found && odata.EqualFold(col.name, name)
		}
		return func(r *record) any {
			if r.cols == nil {
				return lookupRecord(r, name, sysName, sysCol)
			}
			if found && col.ord < len(r.cols) {
				if v := r.cols[col.ord]; v != absent {
					if col.name == name || sysCol == "" || col.name < sysName {
						return v
					}
				}
			}
			if sysCol != "" {
				return r.evalSystem(sysCol)
			}
			return nil
		}
	}
}

// lookupRecord is odata's lookup over a record's map, for records without cols.
func lookupRecord(r *record, name, sysName, sysCol string) any {
	if v, ok := r.data[name]; ok {
		return v
	}
	found, ok := "", false
	var v any
	for k, kv := range r.data {
		if odata.EqualFold(k, name) && (!ok || k < found) {
			found, v, ok = k, kv, true
		}
	}
	if sysCol != "" && (!ok || sysName < found) {
		return r.evalSystem(sysCol)
	}
	return v
}

// evalSystem is a system column as an expression sees it.
func (r *record) evalSystem(col string) any {
	switch col {
	case colID:
		return r.id
	case colVersion:
		return r.wireVersion()
	case colCreatedAt:
		return r.createdAt
	case colUpdatedAt:
		return r.updatedAt
	case colDeleted:
		return r.deleted
	}
	return nil
}
