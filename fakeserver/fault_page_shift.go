package fakeserver

import (
	"fmt"
	"maps"
	"net/url"
)

type pageShiftParams struct {
	Rows int `json:"rows"`
}

var pageShiftAction = &action{
	name:    "page-shift",
	summary: "before a later page ($skip > 0) of a query, insert rows (default 1) that sort before the cursor",
	params:  func() any { return &pageShiftParams{Rows: 1} },
	check: func(p any) *RuleError {
		if n := p.(*pageShiftParams).Rows; n < 1 || n > 1000 {
			return ruleErr("rows", "must be between 1 and 1000, got %d", n)
		}
		return nil
	},
	build: func(p any) behaviour { return &pageShift{*p.(*pageShiftParams)} },
}

type pageShift struct{ pageShiftParams }

// accepts the pages after the first: a shift needs a cursor to shift under.
func (*pageShift) accepts(t target) bool { return t.op == OpQuery && t.skip > 0 }

// prepare inserts copies of the query's first row (so they pass its filter), with ids that
// sort before every other ("!shift-000001"…), stamped by the server's clock like any write.
// Ordered by id (a plain paged read), the copies land at the start: rows already paged past
// move on under the cursor, so $skip paging sees one of them again and never sees the copies.
// Ordered by updatedAt, they land at the start of their timestamp: before the cursor only
// when they share its updatedAt (a clock-freeze, or a clock step of 0), which is exactly when
// an incremental pull pages with $skip. The copies are never back-dated: updatedAt still
// never goes backwards. A query that matches nothing shifts nothing.
func (ps *pageShift) prepare(c *call) {
	s := c.srv
	vals, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return
	}
	q, qerr := parseQuery(s.cfg.Dialect, vals, s.cfg.MaxTop)
	if qerr != nil {
		return
	}
	first := *q
	first.skip, first.top = 0, 1
	hits, stamp := s.faults.clockFor(target{op: OpInsert, table: c.target.table, client: "server"})
	hits = append([]FaultHit{{ID: c.rule.ID, Action: c.rule.Action}}, hits...)
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.queryLocked(c.target.table, &first)
	if res.eval != nil {
		res = s.evaluate(c.r.Context(), res) // under the lock: the rows must not move meanwhile
	}
	if res.err != nil || len(res.page.rows) == 0 {
		return
	}
	head := res.page.rows[0]
	t, _ := s.table(c.target.table)
	n := 0
	for range ps.Rows {
		var id string
		for {
			n++
			id = fmt.Sprintf("!shift-%06d", n)
			if t.get(id) == nil {
				break
			}
		}
		ev := &Event{Source: SourceDirect, Client: "server", Op: OpInsert, Table: c.target.table, ItemID: id, Faults: hits}
		item := maps.Clone(head.data)
		item[colID] = id
		_, _ = s.directEventLocked(ev, stamp, OpInsert, c.target.table, "", item)
	}
}
