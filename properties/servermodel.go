package properties

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// The reference model of the server: docs/protocol.md's versioned table as a pure function of the
// writes it is sent — rows with their user columns, tombstones and versions. It follows the
// writes as the clients saw them. A write whose answer a client never got (a dropped
// response, a reset, a timeout) is an outcome the client cannot know, so the model forks: one
// branch where the server applied it, one where it did not. Every answer that comes later is
// predicted by each branch, and a branch that cannot explain it is dropped; the server's rows,
// read at a converge, prune the rest. When no branch is left, no legal behaviour of a server
// explains what the clients saw: the server broke the protocol.
//
// The model never reads what the server says about itself (the history's Applied flag for an
// unanswered request): only what a client could see.

// mrow is one row of one branch.
type mrow struct {
	data    map[string]any
	deleted bool
	version string // "" when the branch applied a write whose answer nobody saw
}

// branch is one possible state of the server: rows by lower-case table/id.
type branch map[string]mrow

func (b branch) clone() branch { return maps.Clone(b) }

// serverModel is the set of branches still possible.
type serverModel struct {
	branches []branch
	// undecided says why the model stopped (too many branches), "" while it runs.
	undecided string
	// killer is the event no branch could explain.
	killer string
	// hard is true when the server deletes rows for real (no tombstones).
	hard bool
}

// maxBranches bounds the forks: past it the model says it cannot decide.
const maxBranches = 512

func newServerModel(hardDelete bool) *serverModel {
	return &serverModel{branches: []branch{{}}, hard: hardDelete}
}

// outcome is what a write did: applied, or refused with a status, or answered 200 with
// nothing to do (an undelete of a live row).
type outcome string

const (
	applied   outcome = "applied"
	nothing   outcome = "unchanged"
	notFound  outcome = "404"
	exists    outcome = "409"
	stale     outcome = "412"
	undecided outcome = "?" // the precondition names a version the branch does not know
)

// predict is what a write would do in branch b, and the branch after if it applies. Under
// hard delete a deleted row is gone: a later insert of its id creates it anew.
func (b branch) predict(e fakeserver.Event, hard bool) (outcome, branch) {
	key := strings.ToLower(e.Table + "/" + e.ItemID)
	cur, found := b[key]
	precond := func() outcome {
		if len(e.Precondition) == 0 {
			return applied
		}
		if cur.version == "" {
			return undecided
		}
		if slices.Contains(e.Precondition, cur.version) {
			return applied
		}
		return stale
	}
	next := func(r mrow) branch {
		n := b.clone()
		n[key] = r
		return n
	}
	switch e.Op {
	case fakeserver.OpInsert:
		if found {
			return exists, b
		}
		return applied, next(mrow{data: check.Normalize(e.Body)})
	case fakeserver.OpUpdate:
		if !found || cur.deleted {
			return notFound, b
		}
		o := precond()
		data := maps.Clone(cur.data)
		if data == nil {
			data = map[string]any{}
		}
		maps.Copy(data, check.Normalize(e.Body))
		return o, next(mrow{data: data})
	case fakeserver.OpDelete:
		if !found || cur.deleted {
			return notFound, b
		}
		o := precond()
		if hard {
			gone := b.clone()
			delete(gone, key)
			return o, gone
		}
		return o, next(mrow{data: cur.data, deleted: true})
	case fakeserver.OpUndelete:
		switch {
		case !found:
			return notFound, b
		case !cur.deleted:
			return nothing, b
		}
		return precond(), next(mrow{data: cur.data})
	}
	return nothing, b
}

// observed is the outcome a client saw in an answer; ok is false when the answer says
// nothing about the table (a fault's 500, a 401, a refused body).
func observed(e fakeserver.Event) (outcome, bool) {
	switch {
	case e.Applied:
		return applied, true
	case e.Status == 404:
		return notFound, true
	case e.Status == 409:
		return exists, true
	case e.Status == 412:
		return stale, true
	case e.Status == 200 && e.Op == fakeserver.OpUndelete:
		return nothing, true
	}
	return "", false
}

// feed follows the writes of events, in order.
func (m *serverModel) feed(events []fakeserver.Event) {
	for _, e := range events {
		if m.undecided != "" || len(m.branches) == 0 {
			return
		}
		if e.Op == "" || e.Op == fakeserver.OpQuery || e.Op == fakeserver.OpLookup {
			continue
		}
		key := strings.ToLower(e.Table + "/" + e.ItemID)
		known := e.Source != fakeserver.SourceHTTP || scenarios.Answered(e)
		var next []branch
		if !known {
			// A write whose answer nobody saw: it applied, or it did not.
			for _, b := range m.branches {
				next = append(next, b)
				if o, after := b.predict(e, m.hard); o == applied || o == undecided {
					if r, ok := after[key]; ok {
						r.version = ""
						after[key] = r
					}
					next = append(next, after)
				}
			}
		} else {
			saw, says := observed(e)
			for _, b := range m.branches {
				if !says {
					next = append(next, b) // refused before the table: nothing changed
					continue
				}
				o, after := b.predict(e, m.hard)
				switch {
				case o == saw || o == undecided && (saw == applied || saw == stale):
					if saw != applied {
						next = append(next, b)
						continue
					}
					if r, ok := after[key]; ok {
						r.version = e.VersionAfter
						after[key] = r
					}
					next = append(next, after)
				}
			}
			if len(next) == 0 {
				m.killer = fmt.Sprintf("event %d (%s %s of %s by %s) answered %d, which no branch of the model explains", e.Seq,
					e.Method, e.Op, key, e.Client, e.Status)
			}
		}
		m.branches = dedupe(next)
		if len(m.branches) > maxBranches {
			m.undecided = fmt.Sprintf("more than %d possible server states after event %d", maxBranches, e.Seq)
		}
	}
}

// observe prunes the branches by the server's rows of a table (v2 names), read directly: a
// branch survives when every row matches (an unknown version takes the server's). It
// returns a finding for P7.
func (m *serverModel) observe(table string, rows []map[string]any) check.Finding {
	if f, done := m.verdict(); done {
		return f
	}
	actual := map[string]map[string]any{}
	for _, r := range rows {
		actual[strings.ToLower(table+"/"+fmt.Sprint(r["id"]))] = r
	}
	var keep []branch
	var why string
	for _, b := range m.branches {
		ok, reason := b.matches(strings.ToLower(table), actual)
		if ok {
			for k, r := range b {
				if r.version == "" && actual[k] != nil {
					r.version = fmt.Sprint(actual[k]["version"])
					b[k] = r
				}
			}
			keep = append(keep, b)
		} else if why == "" {
			why = reason
		}
	}
	if len(keep) == 0 {
		m.killer = "the server's rows match no branch of the model: " + why
	}
	m.branches = dedupe(keep)
	f, _ := m.verdict()
	return f
}

func (b branch) matches(table string, actual map[string]map[string]any) (bool, string) {
	for k, r := range b {
		if !strings.HasPrefix(k, table+"/") {
			continue
		}
		a := actual[k]
		if a == nil {
			return false, k + " is missing"
		}
		if (a["deleted"] == true) != r.deleted {
			return false, fmt.Sprintf("%s deleted is %v, the model says %v", k, a["deleted"], r.deleted)
		}
		if r.version != "" && a["version"] != r.version {
			return false, fmt.Sprintf("%s is version %v, the model says %s", k, a["version"], r.version)
		}
		got := check.Normalize(a)
		for _, c := range []string{"id", "version", "createdAt", "updatedAt"} {
			delete(got, c)
		}
		if !reflect.DeepEqual(got, r.data) && !(len(got) == 0 && len(r.data) == 0) {
			return false, fmt.Sprintf("%s holds %v, the model says %v", k, got, r.data)
		}
	}
	for k := range actual {
		if _, ok := b[k]; !ok {
			return false, k + " exists, which no write created"
		}
	}
	return true, ""
}

// verdict is the model's P7 finding so far, and whether it is final.
func (m *serverModel) verdict() (check.Finding, bool) {
	switch {
	case len(m.branches) == 0:
		return check.Finding{Property: "P7", Verdict: reports.Violated, Detail: "the reference model: " + m.killer}, true
	case m.undecided != "":
		return check.Finding{Property: "P7", Verdict: reports.Unknown, Detail: "the reference model: " + m.undecided}, true
	}
	return check.Finding{Property: "P7", Verdict: reports.Holds}, false
}

// dedupe drops branches equal to an earlier one.
func dedupe(bs []branch) []branch {
	var out []branch
	for _, b := range bs {
		if !slices.ContainsFunc(out, func(o branch) bool { return reflect.DeepEqual(o, b) }) {
			out = append(out, b)
		}
	}
	return out
}
