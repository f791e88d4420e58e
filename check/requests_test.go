package check_test

import (
	"net/url"
	"testing"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/reports"
)

// P10 over a push: each sub-rule holds for what a correct client sends and is violated by
// what a client with the bug sends.

const (
	v1 = "AAAAAAAAAAE="
	v2 = "AAAAAAAAAAI="
	v3 = "AAAAAAAAAAM="
)

func write(method, id string, status int, pre ...string) check.Request {
	path := "/tables/todo/" + id
	if method == "POST" {
		path = "/tables/todo"
	}
	return check.Request{Method: method, Path: path, Table: "todo", ItemID: id, Status: status, Answered: true, Precondition: pre}
}

// shows is a request whose answer showed the server's row at version v.
func shows(r check.Request, v string) check.Request { r.Version = v; return r }

func TestPushRequestsFirstAttemptCarriesTheHeldVersion(t *testing.T) {
	before := snap(map[string][]map[string]any{"todo": {row("e1")}},
		[]store.Operation{op("o1", store.Update, "todo", "e1", 1)}, nil)
	push := func(reqs ...check.Request) check.Finding {
		return check.PushRequests(check.PushObs{Strategy: "manual", Before: before, Requests: reqs})
	}
	expect(t, "the update carries the held version", push(write("PATCH", "e1", 200, v1)), reports.Holds, "")
	expect(t, "bug: the update carries no If-Match", push(write("PATCH", "e1", 200)), reports.Violated, "without If-Match, though the client holds version "+v1)
	expect(t, "bug: the update carries another version", push(write("PATCH", "e1", 412, v2)), reports.Violated, "sent with version "+v2)

	// A delete's version is the one its operation kept (the row is gone locally).
	del := snap(map[string][]map[string]any{"todo": {}},
		[]store.Operation{{ID: "o2", Kind: store.Delete, Table: "todo", ItemID: "d1", Sequence: 1, Item: row("d1", "version", v2)}}, nil)
	pushDel := func(reqs ...check.Request) check.Finding {
		return check.PushRequests(check.PushObs{Strategy: "manual", Before: del, Requests: reqs})
	}
	expect(t, "the delete carries the kept version", pushDel(write("DELETE", "d1", 200, v2)), reports.Holds, "")
	expect(t, "bug: the delete carries no If-Match", pushDel(write("DELETE", "d1", 200)), reports.Violated, "DELETE /tables/todo/d1 200 was sent without If-Match")

	// v1 rows spell it __version.
	old := snap(map[string][]map[string]any{"todo": {{"id": "e1", "__version": v3}}},
		[]store.Operation{op("o1", store.Update, "todo", "e1", 1)}, nil)
	expect(t, "v1: the update carries __version", check.PushRequests(check.PushObs{Strategy: "manual", Before: old,
		Requests: []check.Request{write("PATCH", "e1", 200, v3)}}), reports.Holds, "")
	expect(t, "bug v1: the update carries none", check.PushRequests(check.PushObs{Strategy: "manual", Before: old,
		Requests: []check.Request{write("PATCH", "e1", 200)}}), reports.Violated, "holds version "+v3)

	// A row the client holds no version for (never on the server) needs none.
	fresh := snap(map[string][]map[string]any{"todo": {{"id": "n1"}}}, []store.Operation{op("o3", store.Update, "todo", "n1", 1)}, nil)
	expect(t, "no version held, none sent", check.PushRequests(check.PushObs{Strategy: "manual", Before: fresh,
		Requests: []check.Request{write("PATCH", "n1", 200)}}), reports.Holds, "")

	// A request a fault answered before the server read it: its If-Match is not known.
	unread := write("PATCH", "e1", 401)
	unread.Unread = true
	expect(t, "a fault answered the update", push(unread), reports.Unknown, "before the server read its body")
	unreadFresh := write("PATCH", "n1", 401)
	unreadFresh.Unread = true
	expect(t, "a fault answered an update of a row with no version", check.PushRequests(check.PushObs{Strategy: "manual", Before: fresh,
		Requests: []check.Request{unreadFresh}}), reports.Holds, "")
}

func TestPushRequestsRetriesOnlyUnderClientWinsWithTheShownVersion(t *testing.T) {
	before := snap(map[string][]map[string]any{"todo": {row("e1")}},
		[]store.Operation{op("o1", store.Update, "todo", "e1", 1)}, nil)
	push := func(strategy string, maxTries int, reqs ...check.Request) check.Finding {
		return check.PushRequests(check.PushObs{Strategy: strategy, Before: before, Requests: reqs, MaxTries: maxTries})
	}
	conflict := shows(write("PATCH", "e1", 412, v1), v2)
	expect(t, "client wins sends again with the shown version", push("client-wins", 0, conflict, write("PATCH", "e1", 200, v2)), reports.Holds, "")
	expect(t, "bug: client wins sends again with its own version", push("client-wins", 0, conflict, write("PATCH", "e1", 412, v1)),
		reports.Violated, "sent again with version "+v1+", but the conflict showed the server's version "+v2)
	expect(t, "bug: client wins sends again with a version never shown", push("client-wins", 0, conflict, write("PATCH", "e1", 200, v3)),
		reports.Violated, "conflict showed the server's version "+v2)
	expect(t, "bug: client wins sends again without If-Match", push("client-wins", 0, conflict, write("PATCH", "e1", 200)),
		reports.Violated, "sent again with no version")
	// A conflict whose answer did not carry the row: the client reads it, and sends that version.
	bare := write("POST", "e1", 409)
	read := shows(check.Request{Method: "GET", Path: "/tables/todo/e1", Table: "todo", ItemID: "e1", Status: 200, Answered: true}, v3)
	insert := snap(map[string][]map[string]any{"todo": {{"id": "e1"}}}, []store.Operation{op("o1", store.Insert, "todo", "e1", 1)}, nil)
	expect(t, "an insert's 409, the row read, sent as an update", check.PushRequests(check.PushObs{Strategy: "client-wins", Before: insert,
		Requests: []check.Request{bare, read, write("PATCH", "e1", 200, v3)}}), reports.Holds, "")
	expect(t, "bug: the row read, a stale version sent", check.PushRequests(check.PushObs{Strategy: "client-wins", Before: insert,
		Requests: []check.Request{shows(bare, v2), read, write("PATCH", "e1", 200, v2)}}), reports.Violated, "showed the server's version "+v3)
	// Not knowing what the conflict showed (a proxy's history) is undecided, not a pass.
	expect(t, "the shown version is unknown", push("client-wins", 0, write("PATCH", "e1", 412, v1), write("PATCH", "e1", 200, v2)),
		reports.Unknown, "not in the history")

	for _, s := range []string{"server-wins", "cancel", "manual"} {
		expect(t, s+" sends once", push(s, 0, conflict), reports.Holds, "")
		expect(t, "bug: "+s+" sends again", push(s, 0, conflict, write("PATCH", "e1", 200, v2)), reports.Violated, "only client wins sends again")
	}

	// Client wins sends one operation at most MaxTries times (5 by default).
	tries := func(n int) []check.Request {
		var out []check.Request
		version := v1
		for i := range n {
			next := string(rune('a' + i))
			out = append(out, shows(write("PATCH", "e1", 412, version), next))
			version = next
		}
		return out
	}
	expect(t, "five tries by default", push("client-wins", 0, tries(5)...), reports.Holds, "")
	expect(t, "bug: a sixth try", push("client-wins", 0, tries(6)...), reports.Violated, "6 times, more than MaxTries (5)")
	expect(t, "MaxTries 2", push("client-wins", 2, tries(2)...), reports.Holds, "")
	expect(t, "bug: a third try under MaxTries 2", push("client-wins", 2, tries(3)...), reports.Violated, "3 times, more than MaxTries (2)")
	// A history that dropped the push's first requests (its cap): the first seen is not the
	// first sent, but the sends it shows still count.
	partial := func(maxTries int, reqs ...check.Request) check.Finding {
		return check.PushRequests(check.PushObs{Strategy: "client-wins", Before: before, Requests: reqs, MaxTries: maxTries, Partial: true})
	}
	expect(t, "a dropped history: a retry seen first", partial(0, write("PATCH", "e1", 412, v3)), reports.Unknown, "dropped some of the push's requests")
	expect(t, "a dropped history showing MaxTries sends at most", partial(3, tries(4)[1:]...), reports.Unknown, "dropped")
	expect(t, "bug: a dropped history shows more tries than MaxTries", partial(2, tries(4)[1:]...), reports.Violated, "3 times, more than MaxTries (2)")
	// An undelete (client wins over a 404 to an update) is not a send of the operation.
	undelete := check.Request{Method: "POST", Path: "/tables/todo/e1", Table: "todo", ItemID: "e1", Status: 200, Answered: true, Version: v3}
	expect(t, "a 404, an undelete, the update again", push("client-wins", 2, write("PATCH", "e1", 404, v1), undelete, write("PATCH", "e1", 200, v3)),
		reports.Holds, "")
}

func TestPushRequestsStayInScope(t *testing.T) {
	before := snap(map[string][]map[string]any{"todo": {{"id": "e1"}}, "notes": {{"id": "n1"}}},
		[]store.Operation{op("o1", store.Update, "todo", "e1", 1), op("o2", store.Update, "notes", "n1", 2)}, nil)
	note := check.Request{Method: "PATCH", Path: "/tables/notes/n1", Table: "notes", ItemID: "n1", Status: 200, Answered: true}
	expect(t, "a push of todo sends todo's", check.PushRequests(check.PushObs{Strategy: "manual", Before: before, Scope: []string{"TodoItem", "todo"},
		Requests: []check.Request{write("PATCH", "e1", 200)}}), reports.Holds, "")
	expect(t, "bug: a push of todo sends notes'", check.PushRequests(check.PushObs{Strategy: "manual", Before: before, Scope: []string{"todo"},
		Requests: []check.Request{write("PATCH", "e1", 200), note}}), reports.Violated, "asked for todo only, yet it sent PATCH /tables/notes/n1")
	expect(t, "a push of the context sends both", check.PushRequests(check.PushObs{Strategy: "manual", Before: before,
		Requests: []check.Request{write("PATCH", "e1", 200), note}}), reports.Holds, "")
}

// query is a GET of a page of todo with the given filter, answered with rows rows.
func query(filter string, skip, rows int) check.Request {
	v := url.Values{"$top": {"2"}, "__includeDeleted": {"true"}}
	if filter != "" {
		v.Set("$filter", filter)
	}
	if skip > 0 {
		v.Set("$skip", string(rune('0'+skip)))
	}
	return check.Request{Method: "GET", Path: "/tables/todo", Table: "todo", Status: 200, Answered: true, Query: v.Encode(), Rows: rows}
}

func since(token string) string {
	return "(done eq false) and (updatedAt ge datetimeoffset'" + token + "')"
}

func TestPullRequestsMoveForwardFromTheToken(t *testing.T) {
	const saved, later, earlier = "2024-03-05T10:00:00.000Z", "2024-03-05T10:00:05.000Z", "2024-03-05T09:00:00.000Z"
	before := snap(map[string][]map[string]any{"todo": {}}, nil, map[string]string{"deltaToken|todo|all": saved})
	pull := func(reqs ...check.Request) check.Finding {
		return check.PullRequests(check.PullObs{Table: "todo", QueryID: "all", Before: before, Requests: reqs})
	}
	expect(t, "from the token, forward, to an empty page", pull(query(since(saved), 0, 2), query(since(later), 0, 1), query(since(later), 1, 0)), reports.Holds, "")
	expect(t, "bug: the first query ignores the token", pull(query(since("1970-01-01T00:00:00.000Z"), 0, 0)), reports.Violated,
		"starts from 1970-01-01T00:00:00.000Z, but the token saved before the pull is "+saved)
	expect(t, "bug: the token goes backwards", pull(query(since(saved), 0, 2), query(since(earlier), 0, 0)), reports.Violated,
		"went backwards: "+earlier)
	expect(t, "bug: no token in the filter", pull(query("done eq false", 0, 0)), reports.Violated, "does not filter by updatedAt ge a token")
	expect(t, "bug: stopped at a short page", pull(query(since(saved), 0, 2), query(since(later), 0, 1)), reports.Violated,
		"stopped after a page of 1 row(s)")
	// v1 spells the column __updatedAt; no saved token means the epoch.
	fresh := snap(map[string][]map[string]any{"todo": {}}, nil, nil)
	expect(t, "v1, first pull from the epoch", check.PullRequests(check.PullObs{Table: "todo", QueryID: "all", Before: fresh,
		Requests: []check.Request{query("__updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z'", 0, 0)}}), reports.Holds, "")
	expect(t, "first pull from before the epoch (the JS SDK)", check.PullRequests(check.PullObs{Table: "todo", QueryID: "all", Before: fresh,
		Requests: []check.Request{query(since("1969-12-31T00:00:00.000Z"), 0, 0)}}), reports.Holds, "")
	expect(t, "bug: a first pull that skips rows", check.PullRequests(check.PullObs{Table: "todo", QueryID: "all", Before: fresh,
		Requests: []check.Request{query(since(saved), 0, 0)}}), reports.Violated, "starts from "+saved)
	// The push before the pull, and its read of a row by id, are not the pull's queries.
	push := []check.Request{write("POST", "e1", 409), query("id eq 'e1'", 0, 1), write("PATCH", "e1", 200)}
	expect(t, "the push's requests come first", pull(append(push, query(since(saved), 0, 0))...), reports.Holds, "")
	expect(t, "a failed pull is P1's", check.PullRequests(check.PullObs{Table: "todo", QueryID: "all", Before: before, Failed: true,
		Requests: []check.Request{query(since(earlier), 0, 2)}}), reports.Holds, "")
}

func TestPullRequestsPageToTheEnd(t *testing.T) {
	full := func(top *int, reqs ...check.Request) check.Finding {
		return check.PullRequests(check.PullObs{Table: "todo", Top: top, Requests: reqs})
	}
	expect(t, "pages to an empty page", full(nil, query("", 0, 2), query("", 2, 1), query("", 3, 0)), reports.Holds, "")
	expect(t, "bug: a short page taken for the end", full(nil, query("", 0, 2), query("", 2, 1)), reports.Violated, "only an empty page ends a pull")
	expect(t, "bug: a single full page", full(nil, query("", 0, 2)), reports.Violated, "stopped after a page of 2 row(s)")
	three := 3
	expect(t, "the query's $top read", full(&three, query("", 0, 2), query("", 2, 1)), reports.Holds, "")
	expect(t, "bug: stopped before the query's $top", full(&three, query("", 0, 2)), reports.Violated, "stopped after a page of 2")
	expect(t, "bug: a pull that sends no query", full(nil), reports.Violated, "without sending a query")
}
