package fakeserver

import (
	"encoding/json"
	"strings"
)

type concurrentWriteParams struct {
	// Patch is what the other writer writes; nil bumps the row's _conflictlab counter.
	Patch map[string]any `json:"patch"`
}

// counterColumn is the column the default concurrent write bumps.
const counterColumn = "_conflictlab"

var concurrentWriteAction = &action{
	name:    "concurrent-write",
	summary: "just before the request, another writer updates (or creates) its item with patch (default: bump _conflictlab)",
	params:  func() any { return &concurrentWriteParams{} },
	check: func(p any) *RuleError {
		patch := p.(*concurrentWriteParams).Patch
		for k := range patch {
			if strings.EqualFold(k, colID) {
				return ruleErr("patch."+k, "the other writer writes the request's own item: leave the id out")
			}
		}
		b, err := splitBody(V2, patch)
		if err != nil {
			return ruleErr("patch", "%s", err.Message)
		}
		if b.hasVersion {
			return ruleErr("patch.version", "the server owns the version: leave it out")
		}
		return nil
	},
	build: func(p any) behaviour { return &concurrentWrite{*p.(*concurrentWriteParams)} },
}

type concurrentWrite struct{ concurrentWriteParams }

func (*concurrentWrite) needsID() {}

// accepts requests that name an item: every single-item request, and inserts with an id.
func (*concurrentWrite) accepts(t target) bool { return t.table != "" && t.id != "" }

// prepare makes the other write, recorded as a direct write with the rule that caused it. On
// a live row it is an update (the request's If-Match goes stale: a 412); where there is no
// row it is an insert (an insert of that id meets a 409); on a tombstone it is refused as a
// PATCH would be, and the request goes ahead untouched.
func (w *concurrentWrite) prepare(c *call) {
	s := c.srv
	if s.up != nil {
		s.upstreamWrite(c.r.Context(), c.rule, c.target.table, c.target.id, w.Patch)
		return
	}
	hits, stamp := s.faults.clockFor(target{op: OpUpdate, table: c.target.table, id: c.target.id, client: "server"})
	s.mu.Lock()
	defer s.mu.Unlock()
	patch := w.Patch
	if patch == nil {
		n := int64(0)
		if t, err := s.table(c.target.table); err == nil {
			if cur := t.get(c.target.id); cur != nil {
				if v, ok := cur.data[counterColumn].(json.Number); ok {
					n, _ = v.Int64()
				}
			}
		}
		patch = map[string]any{counterColumn: float64(n + 1)}
	}
	ev := &Event{Source: SourceDirect, Client: "server", Op: opWrite, Table: c.target.table,
		ItemID: c.target.id, Faults: append([]FaultHit{{ID: c.rule.ID, Action: c.rule.Action}}, hits...)}
	_, _ = s.directEventLocked(ev, stamp, opWrite, c.target.table, c.target.id, patch)
}
