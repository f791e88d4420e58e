package fakeserver

import (
	"fmt"
	"maps"
	"net/url"
	"time"
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

// prepare inserts copies of the query's first row, each with the same updatedAt and an id
// that sorts before every other ("!shift-000001"…). Whatever the query's order (updatedAt,
// id, a user column), ties go by id, so the copies land at its very start: rows already paged
// past move one place on, and paging by $skip sees one of them again, while the copies
// themselves are never seen by this query. A query that matches nothing shifts nothing.
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
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.queryLocked(c.target.table, &first)
	if res.err != nil || len(res.page.rows) == 0 {
		return
	}
	head := res.page.rows[0]
	t, _ := s.table(c.target.table)
	s.stampWith = func(time.Time) time.Time { return head.updatedAt }
	defer func() { s.stampWith = nil }()
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
		ev := &Event{Source: SourceDirect, Client: "server", Op: OpInsert, Table: c.target.table,
			ItemID: id, Faults: []FaultHit{{ID: c.rule.ID, Action: c.rule.Action}}}
		s.recordLocked(ev, s.insertLocked(ev, c.target.table, &body{id: id, hasID: true, data: maps.Clone(head.data)}))
	}
}
