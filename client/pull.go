package client

import (
	"context"
	"errors"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// epoch is where an incremental pull's delta token starts.
const epoch = "1970-01-01T00:00:00.000Z"

// tokenFormat is how delta tokens are written: the server's timestamp format.
const tokenFormat = "2006-01-02T15:04:05.000Z"

// Pull brings the server's rows matching q (nil: all) into the local store.
//
// If the table has queued operations it pushes first (the whole context, or with
// PushTableBeforePull this table); if that push does not complete cleanly the pull returns its
// error and sends no query. Rows with a queued operation are skipped; deleted rows are removed
// locally; others are stored with their system columns. With a queryID the pull is
// incremental: it asks only for rows updated since the delta token it saved last time under
// that id. Each page is stored atomically with the token it moves.
func (st *SyncTable) Pull(ctx context.Context, q *Query, queryID string) error {
	if err := st.checkName(); err != nil {
		return err
	}
	if err := checkPullQuery(q, queryID); err != nil {
		return err
	}
	if err := st.sc.lock(ctx, "Pull"); err != nil {
		return err
	}
	defer st.sc.unlock()
	if err := st.pushFirst(ctx, st.sc.cfg.pushTableBeforePull && !mutants.On(mutants.PushTableBeforePullIgnored)); err != nil {
		return err
	}
	if queryID != "" {
		return st.pullIncremental(ctx, q, queryID)
	}
	return st.pullAll(ctx, q)
}

func checkPullQuery(q *Query, queryID string) error {
	if err := q.Err(); err != nil {
		return err
	}
	if err := checkQueryID(queryID); err != nil {
		return err
	}
	switch {
	case q == nil:
		return nil
	case len(q.sel) > 0:
		return wrap(ErrInvalidQuery, "a pull must not use $select: it stores whole rows")
	case q.incDeleted || q.hasParam("__includeDeleted"):
		return wrap(ErrInvalidQuery, "a pull sets __includeDeleted itself")
	case q.count:
		return wrap(ErrInvalidQuery, "a pull must not ask for $inlinecount")
	case queryID != "" && (len(q.orderBy) > 0 || q.top >= 0 || q.skip > 0):
		return wrap(ErrInvalidQuery, "an incremental pull orders and pages itself: no $orderby, $top or $skip")
	}
	return nil
}

// checkQueryID refuses a query id that cannot be part of a delta-token key.
func checkQueryID(queryID string) error {
	switch {
	case strings.Contains(queryID, "|"):
		return wrap(ErrInvalidQuery, "query id %q must not contain |", queryID)
	case len(queryID) > 255:
		return wrap(ErrInvalidQuery, "query id must be at most 255 characters, got %d", len(queryID))
	}
	return nil
}

// pushFirst pushes when the table has queued operations; the caller holds the sync lock.
func (st *SyncTable) pushFirst(ctx context.Context, tableOnly bool) error {
	var ops []store.Operation
	if err := st.sc.view(ctx, "read the operation queue", func(r store.Reader) (err error) {
		ops, err = r.Operations(st.name)
		return err
	}); err != nil {
		return err
	}
	if len(ops) == 0 || mutants.On(mutants.SkipPushBeforePull) {
		return nil
	}
	var tables []string
	if tableOnly {
		tables = []string{st.name}
	}
	_, err := st.sc.push(ctx, tables)
	return err
}

// pullAll pages through q: $top per page is the page size or what remains of q's $top; a
// standard Link rel=next to this table is followed; a short page is not the end, an empty one
// is. Without a usable link (none, or Node's bare form) the next page is asked for with $skip,
// as the JS SDK does. The client's PagingLimits bound it.
func (st *SyncTable) pullAll(ctx context.Context, q *Query) error {
	remaining, skip := -1, 0
	if q != nil {
		remaining, skip = q.top, q.skip
	}
	base := q.clone().IncludeDeleted()
	pg := st.sc.client.newPager("pull of " + st.name)
	size := min(st.sc.cfg.pageSize, pg.lim.PageRows)
	next, linked := "", false
	var prev []Item
	for remaining != 0 {
		var (
			page *Page
			err  error
		)
		top := size
		if next != "" && linked {
			u, lerr := st.remote.checkLink(next)
			if lerr != nil {
				return lerr
			}
			page, err = st.remote.fetchPage(ctx, pg, st.sc.client.withSystemProperties(u.String()), true)
		} else {
			if remaining >= 0 && remaining < top {
				top = remaining
			}
			var u string
			if u, err = st.remote.queryURL(base.Top(top).Skip(skip)); err == nil {
				page, err = st.remote.fetchPage(ctx, pg, u, false)
			}
		}
		if err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return nil
		}
		if err := sameAsBefore(st.remote.url, prev, page.Items); err != nil {
			return err
		}
		if _, err := st.applyPage(ctx, page.Items, "", ""); err != nil {
			return err
		}
		if mutants.On(mutants.StopAtShortPage) && len(page.Items) < top {
			return nil
		}
		prev = page.Items
		skip += len(page.Items)
		if remaining > 0 {
			remaining = max(remaining-len(page.Items), 0)
		}
		next, linked = page.Next, page.linked
	}
	return nil
}

// pullIncremental pulls the rows updated since the saved token: ordered by updatedAt, from
// $skip 0 each time the token moves, else advancing $skip past rows that share a timestamp,
// until a page is empty, within the client's PagingLimits.
func (st *SyncTable) pullIncremental(ctx context.Context, q *Query, queryID string) error {
	key := deltaTokenKey(st.name, queryID)
	token := epoch
	if err := st.sc.view(ctx, "read the delta token", func(r store.Reader) error {
		v, ok, err := r.Config(key)
		if ok {
			token = v
		}
		return err
	}); err != nil {
		return err
	}
	tokenTime, err := time.Parse(time.RFC3339Nano, token)
	if err != nil {
		return wrap(ErrStore, "the saved delta token %q is not a time: %v", token, err)
	}
	col := st.sc.client.Dialect().Column(ColumnUpdatedAt)
	var userFilter odata.Expr
	if q != nil {
		userFilter = q.filter
	}
	skip := 0
	var prev []Item
	pg := st.sc.client.newPager("pull of " + st.name)
	size := min(st.sc.cfg.pageSize, pg.lim.PageRows)
	for {
		op := "ge"
		if mutants.On(mutants.IncrementalGreaterThan) {
			op = "gt"
		}
		since := odata.Binary{Op: op, Left: odata.Prop(col), Right: odata.Lit(tokenTime)}
		pq := NewQuery().IncludeDeleted().Top(size).Skip(skip).OrderBy(col)
		if q != nil {
			pq.params = q.clone().params
		}
		pq.filter = andExpr(userFilter, since)
		u, err := st.remote.queryURL(pq)
		if err != nil {
			return err
		}
		// The server's Link, whatever its form, is not followed: the next page is the one after
		// the rows read, at the token they moved or with $skip past them.
		page, err := st.remote.fetchPage(ctx, pg, u, false)
		if err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return nil
		}
		if skip > 0 {
			// The token did not move, so $skip did: the same rows again mean the server ignores it.
			if err := sameAsBefore(st.remote.url, prev, page.Items); err != nil {
				return err
			}
		}
		newest, err := st.applyPage(ctx, page.Items, key, tokenTime.Format(tokenFormat))
		if err != nil {
			return err
		}
		prev = page.Items
		if newest.After(tokenTime) {
			tokenTime, skip = newest, 0
		} else {
			skip += len(page.Items)
		}
	}
}

// applyPage stores one page in one transaction: rows with a queued operation are skipped,
// tombstones remove the local row, others are stored. With a token key it also saves, in the
// same transaction, the newest updatedAt among the rows that count for the token when it is
// after the current one, and returns it.
func (st *SyncTable) applyPage(ctx context.Context, items []Item, tokenKey, current string) (time.Time, error) {
	d := st.sc.client.Dialect()
	var newest time.Time
	if tokenKey != "" {
		newest, _ = time.Parse(tokenFormat, current)
	}
	for _, it := range items {
		if _, ok := itemID(it); !ok {
			return newest, &ResponseError{Method: "GET", URL: st.remote.url, Status: 200, Reason: "a row without an id"}
		}
		if tokenKey != "" {
			if _, err := updatedAtOf(d, it); err != nil {
				return newest, err
			}
		}
		if v, ok := lookup(it, d.Column(ColumnDeleted)); ok && v != nil {
			if _, isBool := v.(bool); !isBool {
				return newest, &ResponseError{Method: "GET", URL: st.remote.url, Status: 200, Reason: "a row whose deleted is not a bool"}
			}
		}
	}
	if tokenKey != "" && mutants.On(mutants.PageInTwoTransactions) {
		// The bug: the token the page moves is stored in a transaction of its own, before the
		// page's rows; a crash between the two leaves a token above rows never stored.
		token := newest
		if err := st.sc.update(ctx, "store a pulled page's token", func(w store.Writer) error {
			for _, it := range items {
				id, _ := itemID(it)
				_, err := w.OperationFor(st.name, id)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if ts, _ := updatedAtOf(d, it); (err != nil || st.sc.cfg.skippedRowsMoveToken) && ts.After(token) {
					token = ts
				}
			}
			if token.After(newest) {
				return w.SetConfig(tokenKey, token.UTC().Format(tokenFormat))
			}
			return nil
		}); err != nil {
			return newest, err
		}
	}
	err := st.sc.update(ctx, "store a pulled page", func(w store.Writer) error {
		moved := false
		for _, it := range items {
			id, _ := itemID(it)
			_, err := w.OperationFor(st.name, id)
			pending := err == nil
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if tokenKey != "" && (!pending || st.sc.cfg.skippedRowsMoveToken || mutants.On(mutants.SkippedRowsMoveToken)) {
				ts, err := updatedAtOf(d, it)
				if err != nil {
					return err
				}
				if ts.After(newest) {
					newest, moved = ts, true
				}
			}
			switch {
			case pending && !mutants.On(mutants.PullOverwritesPending):
				continue
			case isDeleted(it):
				err = w.DeleteRow(st.name, id)
			default:
				err = w.PutRow(st.name, it)
			}
			if err != nil {
				return err
			}
		}
		if moved && !mutants.On(mutants.PageInTwoTransactions) {
			return w.SetConfig(tokenKey, newest.UTC().Format(tokenFormat))
		}
		return nil
	})
	return newest, err
}

// sameAsBefore fails when a page after a $skip holds exactly the rows of the page before: a
// server that ignores $skip would otherwise keep a pull going forever.
func sameAsBefore(url string, prev, page []Item) error {
	if len(prev) == 0 || len(prev) != len(page) {
		return nil
	}
	for i := range page {
		a, _ := itemID(prev[i])
		b, _ := itemID(page[i])
		if a != b {
			return nil
		}
	}
	return &ResponseError{Method: "GET", URL: url, Status: 200, Reason: "the page after $skip repeats the page before: the server ignores $skip"}
}

// updatedAtOf reads a pulled row's updatedAt, which an incremental pull needs.
func updatedAtOf(d Dialect, item Item) (time.Time, error) {
	v, _ := lookup(item, d.Column(ColumnUpdatedAt))
	s, ok := v.(string)
	if !ok {
		return time.Time{}, &ResponseError{Method: "GET", Status: 200, Reason: "a row without a string " + d.Column(ColumnUpdatedAt)}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &ResponseError{Method: "GET", Status: 200, Reason: "a row whose " + d.Column(ColumnUpdatedAt) + " is not a time: " + s}
	}
	return t.UTC().Truncate(time.Millisecond), nil
}
