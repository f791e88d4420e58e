package check

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
	"github.com/conflictlab/conflictlab/reports"
)

// DefaultMaxTries is how many times client wins sends one operation in a push when the
// client sets no MaxTries (docs/semantics.md#the-three-strategies).
const DefaultMaxTries = 5

// PushRequests checks P10 over one push (a push step, or the push a pull, purge or converge
// made), from the store before it and the requests it sent:
//
//   - the first PATCH or DELETE of an item the client holds a version for (its row's, or the
//     delete's kept item's) is conditional on that version (If-Match, or a PATCH body's);
//   - a write sent again after a conflict (409, 412) is client wins, carries the version the
//     server last showed for the item (the conflict's row, or the row the client read after
//     it), and client wins sends one operation at most MaxTries times;
//   - with a scope (a push limited to tables), nothing is sent for another table.
//
// A retry whose answered version the history does not show (a proxy's history, a conflict a
// fault answered) is left undecided, and so is an item's first write when the history dropped
// some of the push's requests (Partial); the sends it does show still count against MaxTries.
func PushRequests(o PushObs) Finding {
	const p = "P10"
	for _, r := range o.Requests {
		if len(o.Scope) > 0 && r.Table != "" && !slices.ContainsFunc(o.Scope, func(t string) bool { return strings.EqualFold(t, r.Table) }) {
			return violated(p, "the push was asked for %s only, yet it sent %s", strings.Join(o.Scope, ", "), r)
		}
	}
	tries := o.MaxTries
	if tries <= 0 {
		tries = DefaultMaxTries
	}
	undecided := ""
	type state struct {
		sent     int    // the operation's sends (an undelete is not one)
		shown    string // the version the server last showed for the item ("" unknown)
		conflict bool   // the last answer to a write of the item was a 409 or 412
		refused  string // the version that conflict refused
	}
	items := map[string]*state{}
	for _, r := range o.Requests {
		if r.ItemID == "" {
			continue
		}
		key := strings.ToLower(r.Table + "/" + r.ItemID)
		s := items[key]
		if s == nil {
			s = &state{}
			items[key] = s
		}
		if !r.isWrite() {
			if r.Answered && r.Status == 200 && r.Version != "" {
				s.shown = r.Version // the row read after a conflict whose answer did not carry it
			}
			continue
		}
		if !isUndelete(r) {
			s.sent++
			if s.sent == 1 && o.Partial {
				undecided = "the server's history dropped some of the push's requests (its cap): which was an item's first was not checked"
			} else if s.sent == 1 {
				if f, ok := firstAttempt(o.Before, r); !ok {
					if f.Verdict == reports.Violated {
						return f
					}
					undecided = f.Detail
				}
			} else if s.conflict {
				if o.Strategy != "client-wins" {
					return violated(p, "%s: the %s of %s/%s was sent again after a %s conflict, under %s (only client wins sends again)",
						r, r.Method, r.Table, r.ItemID, orSome(s.refused), o.Strategy)
				}
				switch {
				case r.Unread:
					undecided = fmt.Sprintf("%s: a fault answered it before the server read its body, which may have carried the version", r)
				case s.shown == "":
					undecided = fmt.Sprintf("the version the server showed for %s/%s at its conflict is not in the history: the retry's version was not checked", r.Table, r.ItemID)
				case !slices.Contains(r.Precondition, s.shown):
					return violated(p, "client wins: %s was sent again with %s, but the conflict showed the server's version %s",
						r, preconditionText(r.Precondition), s.shown)
				}
			}
			if o.Strategy == "client-wins" && s.sent > tries {
				return violated(p, "client wins sent the operation on %s/%s %d times, more than MaxTries (%d)", r.Table, r.ItemID, s.sent, tries)
			}
		}
		s.conflict = false
		if !r.Answered {
			continue
		}
		switch {
		case r.Status == 409 || r.Status == 412:
			s.conflict, s.refused, s.shown = true, strings.Join(r.Precondition, ","), r.Version
		case r.Status >= 200 && r.Status < 300 && r.Version != "":
			s.shown = r.Version
		}
	}
	if undecided != "" {
		return unknown(p, "%s", undecided)
	}
	return holds(p)
}

// firstAttempt judges the first write a push sent for an item: a PATCH or DELETE of an item
// the client held a version for must be conditional on it.
func firstAttempt(before Snapshot, r Request) (Finding, bool) {
	const p = "P10"
	if r.Method != "PATCH" && r.Method != "DELETE" {
		return Finding{}, true
	}
	held := ""
	op, queued := find(before.Ops, r.Table, r.ItemID)
	switch {
	case queued && op.Kind == store.Delete:
		held = versionIn(op.Item)
		if held == "" {
			held = versionIn(before.Rows[strings.ToLower(r.Table)][strings.ToLower(r.ItemID)])
		}
	case queued:
		held = versionIn(before.Rows[strings.ToLower(r.Table)][strings.ToLower(r.ItemID)])
	}
	if held == "" || slices.Contains(r.Precondition, held) {
		return Finding{}, true
	}
	if r.Unread {
		return unknown(p, "%s: a fault answered it before the server read its body, which may have carried the version", r), false
	}
	if len(r.Precondition) == 0 {
		return violated(p, "%s was sent without If-Match, though the client holds version %s of %s/%s", r, held, r.Table, r.ItemID), false
	}
	return violated(p, "%s was sent with %s, though the client holds version %s of %s/%s", r, preconditionText(r.Precondition), held, r.Table, r.ItemID), false
}

func preconditionText(pre []string) string {
	if len(pre) == 0 {
		return "no version"
	}
	return "version " + strings.Join(pre, ",")
}

func orSome(version string) string {
	if version == "" {
		return "(unconditional)"
	}
	return "(version " + version + ")"
}

// versionIn is a row's version in either dialect's spelling, "" when it has none.
func versionIn(row map[string]any) string {
	for k, v := range row {
		if strings.EqualFold(strings.TrimPrefix(k, "__"), "version") {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}

// isUndelete reports whether a write is an undelete: a POST to the item's own URL, which
// client wins sends when an update met a 404 (the server deleted the row).
func isUndelete(r Request) bool {
	if r.Method != "POST" || r.ItemID == "" {
		return false
	}
	path := strings.ToLower(r.Path)
	id := strings.ToLower(r.ItemID)
	return strings.HasSuffix(path, "/"+id) || strings.HasSuffix(path, "/"+strings.ToLower(url.PathEscape(r.ItemID)))
}

// PullRequests checks P10 over one pull that succeeded, from its requests: an incremental
// pull's first query filters from the delta token saved before it (updatedAt ge the token;
// 1970-01-01 when none was saved), the token in its later queries never goes backwards, and a
// pull pages until the server says the end — an empty page, or for a full pull with a $top
// (Top), that many rows read. A short page is not the end (docs/semantics.md#pull).
func PullRequests(o PullObs) Finding {
	const p = "P10"
	if o.Failed {
		return holds(p) // a failed pull ends where its error did; P1 judges what it sent
	}
	var queries []Request
	for i, r := range o.Requests {
		if r.Method != "GET" || r.ItemID != "" || !strings.EqualFold(r.Table, o.Table) || rowRead(r) {
			continue
		}
		if slices.ContainsFunc(o.Requests[i+1:], Request.isWrite) {
			continue // a query of the push before the pull
		}
		queries = append(queries, r)
	}
	if len(queries) == 0 {
		if o.Top != nil && *o.Top == 0 {
			return holds(p)
		}
		return violated(p, "the pull of %s succeeded without sending a query", o.Table)
	}
	if o.QueryID != "" {
		saved := time.Unix(0, 0).UTC()
		key := "deltaToken|" + strings.ToLower(o.Table) + "|" + o.QueryID
		v, hasToken := o.Before.Config[key]
		if hasToken {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return unknown(p, "the saved delta token %q is not a time", v)
			}
			saved = t.UTC().Truncate(time.Millisecond)
		}
		var last time.Time
		for i, q := range queries {
			since, ok, err := sinceOf(q)
			switch {
			case err != nil:
				return unknown(p, "the filter of %s cannot be read: %v", q, err)
			case !ok:
				return violated(p, "the incremental pull's query %s does not filter by updatedAt ge a token", queryText(q))
			case i == 0 && !since.Equal(saved) && (hasToken || since.After(saved)):
				// (With no token saved, a start before the epoch asks for every row too: the JS
				// SDK starts at 1969-12-31.)
				return violated(p, "the incremental pull's first query starts from %s, but the token saved before the pull is %s",
					since.Format(tokenLayout), saved.Format(tokenLayout))
			case i > 0 && since.Before(last):
				return violated(p, "the incremental pull's token went backwards: %s after %s (%s)", since.Format(tokenLayout),
					last.Format(tokenLayout), queryText(q))
			}
			last = since
		}
	}
	end := queries[len(queries)-1]
	if end.Rows == 0 {
		return holds(p)
	}
	if o.Top != nil && o.QueryID == "" {
		read := 0
		for _, q := range queries {
			read += q.Rows
		}
		if read >= *o.Top {
			return holds(p)
		}
	}
	return violated(p, "the pull of %s stopped after a page of %d row(s) (%s): only an empty page ends a pull", o.Table, end.Rows, queryText(end))
}

const tokenLayout = "2006-01-02T15:04:05.000Z"

func queryText(r Request) string {
	if r.Query == "" {
		return r.Method + " " + r.Path
	}
	return r.Method + " " + r.Path + "?" + r.Query
}

// filterOf parses a query's $filter; nil when it has none.
func filterOf(r Request) (odata.Expr, error) {
	vals, err := url.ParseQuery(r.Query)
	if err != nil {
		return nil, err
	}
	f := vals.Get("$filter")
	if f == "" {
		return nil, nil
	}
	return odata.ParseFilter(f)
}

// rowRead reports whether a query reads one row by id: the read a push makes when a conflict's
// answer did not carry the server's row, not a page of a pull.
func rowRead(r Request) bool {
	e, err := filterOf(r)
	if err != nil || e == nil {
		return false
	}
	b, ok := e.(odata.Binary)
	if !ok || b.Op != "eq" {
		return false
	}
	prop, ok := b.Left.(odata.Property)
	return ok && strings.EqualFold(strings.TrimPrefix(prop.Name, "__"), "id")
}

// sinceOf finds the "updatedAt ge <time>" clause of a query's filter, among its and-ed terms.
func sinceOf(r Request) (time.Time, bool, error) {
	e, err := filterOf(r)
	if err != nil || e == nil {
		return time.Time{}, false, err
	}
	var found *time.Time
	var walk func(odata.Expr)
	walk = func(e odata.Expr) {
		b, ok := e.(odata.Binary)
		if !ok {
			return
		}
		if b.Op == "and" {
			walk(b.Left)
			walk(b.Right)
			return
		}
		prop, ok := b.Left.(odata.Property)
		lit, isLit := b.Right.(odata.Literal)
		if !ok || !isLit || b.Op != "ge" || !strings.EqualFold(strings.TrimPrefix(prop.Name, "__"), "updatedAt") {
			return
		}
		var t time.Time
		switch v := lit.Value.(type) {
		case time.Time:
			t = v
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return
			}
			t = parsed
		default:
			return
		}
		t = t.UTC().Truncate(time.Millisecond)
		found = &t
	}
	walk(e)
	if found == nil {
		return time.Time{}, false, nil
	}
	return *found, true, nil
}
