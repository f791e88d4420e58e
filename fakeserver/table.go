package fakeserver

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// table holds one table's rows and the types its columns have taken.
//
// Queries page through rows in id order, so the table keeps that order instead of sorting on
// every request: each row lives in a slot that stays put for as long as the id exists, and an
// update (which stores a new record) only changes what the slot points to. byID changes only
// when an id is added or hard-deleted, and even then lazily: see index. All of it is guarded
// by the server's lock, like the rest of the table.
type table struct {
	name       string
	rows       map[string]*slot  // by idKey
	columns    map[string]column // by lower-case name
	hardDelete bool

	// byID holds slots ordered by id, strictly increasing. A new id greater than every id
	// in it is appended at once; any other new id waits in pending until the next read.
	// Removed (hard-deleted) slots stay in byID or pending until the next read drops them.
	byID    []*slot
	pending []*slot
	removed int // removed slots still in byID or pending
	live    int // rows that are not tombstones
	// liveByID is byID without tombstones, for queries without __includeDeleted; liveOK
	// says it is current (no id added or removed, no row deleted or undeleted since).
	liveByID []*slot
	liveOK   bool
	// writes counts every stored and removed row: it tells whether byUpdated is current.
	writes    uint64
	byUpdated *updatedIndex

	// node marks a table of the node personality (personality_node.go): ids are
	// case-sensitive, a value of another type than its column's is converted as SQLite
	// would instead of refused, a column first written as null is not created, and rows keep
	// their insertion order in rowid.
	node   bool
	rowids uint64 // the last rowid given
}

// key is how the table keys an id: case-insensitively, except in the node personality.
func (t *table) key(id string) string {
	if t.node {
		return id
	}
	return idKey(id)
}

// slot is the place of one id in its table.
type slot struct {
	id      string // the row's id as first written; a row keeps its id for life
	rec     *record
	removed bool // hard-deleted: the slot is no longer in rows
}

// column is a user column as the table knows it: the spelling it was first written with and
// the JSON type of its first non-null value. Like the SQL tables behind the real servers'
// dynamic schema, a column keeps its type: a later write of another type is a 400.
type column struct {
	name string
	kind string
}

func newTable(name string, hardDelete bool) *table {
	return &table{name: name, rows: map[string]*slot{}, columns: map[string]column{}, hardDelete: hardDelete}
}

// get returns the row with id, tombstones included.
func (t *table) get(id string) *record {
	if t == nil {
		return nil
	}
	if sl := t.rows[t.key(id)]; sl != nil {
		return sl.rec
	}
	return nil
}

// canonical checks data against the column types and returns it with each column under the
// spelling the table already knows it by.
func (t *table) canonical(data map[string]any) (map[string]any, *Error) {
	out := make(map[string]any, len(data))
	for k, v := range data {
		name := k
		if t != nil {
			if c, ok := t.columns[strings.ToLower(k)]; ok {
				name = c.name
				if kind := kindOf(v); t.node && kind != "" && c.kind != "" && kind != c.kind {
					v = nodeCoerce(c.kind, v)
				} else if kind != "" && c.kind != "" && kind != c.kind {
					return nil, &Error{Status: http.StatusBadRequest,
						Message: "property " + quote(k) + ": column " + quote(c.name) + " holds " + c.kind + " values, got " + kind}
				}
			}
		}
		out[name] = v
	}
	return out, nil
}

// learn records the columns and types of data, which canonical has accepted.
func (t *table) learn(data map[string]any) {
	for k, v := range data {
		lower := strings.ToLower(k)
		c, ok := t.columns[lower]
		if !ok && t.node && v == nil {
			continue // dynamic schema makes no column of a null
		}
		if !ok {
			c = column{name: k}
		}
		if c.kind == "" {
			c.kind = kindOf(v)
		}
		t.columns[lower] = c
	}
}

// put makes rec the row with rec.id: a new slot for a new id, else the id's slot now holds it.
// It is the only way a row is written (see Server.store).
func (t *table) put(rec *record) {
	t.writes++
	key := t.key(rec.id)
	sl := t.rows[key]
	if sl != nil && sl.id != rec.id {
		// Not a path the server takes (a row keeps the id it was inserted with), but if an
		// id's spelling ever changed, its place in the order would change with it.
		t.remove(sl.id)
		sl = nil
	}
	if sl == nil || sl.rec.deleted != rec.deleted {
		t.liveOK = false
	}
	if sl == nil {
		sl = &slot{id: rec.id}
		t.rows[key] = sl
		if len(t.pending) == 0 && (len(t.byID) == 0 || t.byID[len(t.byID)-1].id < sl.id) {
			t.byID = append(t.byID, sl)
		} else {
			t.pending = append(t.pending, sl)
		}
	} else if !sl.rec.deleted {
		t.live--
	}
	sl.rec = rec
	if !rec.deleted {
		t.live++
	}
}

// remove takes the row with id out of the table for good: a hard delete.
func (t *table) remove(id string) {
	key := t.key(id)
	sl := t.rows[key]
	if sl == nil {
		return
	}
	t.writes++
	delete(t.rows, key)
	sl.removed = true
	t.removed++
	t.liveOK = false
	if !sl.rec.deleted {
		t.live--
	}
}

// index returns every row's slot ordered by id, tombstones included, merging in the ids added
// out of order and dropping the removed ones since the last call. The slice is the table's
// own: read it under the lock, and not after the next write.
func (t *table) index() []*slot {
	if t == nil {
		return nil
	}
	if t.removed > 0 {
		t.byID = dropRemoved(t.byID)
		t.pending = dropRemoved(t.pending)
		t.removed = 0
	}
	if len(t.pending) > 0 {
		p := t.pending
		slices.SortFunc(p, func(a, b *slot) int { return strings.Compare(a.id, b.id) })
		// Merge from the back, in place: only the slots after the first new id move.
		n := len(t.byID)
		t.byID = append(t.byID, p...)
		i, j := n-1, len(p)-1
		for w := len(t.byID) - 1; j >= 0; w-- {
			if i >= 0 && t.byID[i].id > p[j].id {
				t.byID[w] = t.byID[i]
				i--
			} else {
				t.byID[w] = p[j]
				j--
			}
		}
		clear(p)
		t.pending = p[:0]
	}
	return t.byID
}

// liveIndex is index without the tombstones. Like index, read it under the lock.
func (t *table) liveIndex() []*slot {
	idx := t.index()
	if t == nil || len(idx) == t.live {
		return idx
	}
	if !t.liveOK {
		live := t.liveByID[:0]
		for _, sl := range idx {
			if !sl.rec.deleted {
				live = append(live, sl)
			}
		}
		clear(live[len(live):cap(live)])
		t.liveByID, t.liveOK = live, true
	}
	return t.liveByID
}

func dropRemoved(slots []*slot) []*slot {
	w := 0
	for _, sl := range slots {
		if !sl.removed {
			slots[w] = sl
			w++
		}
	}
	clear(slots[w:])
	return slots[:w]
}

// sorted returns the rows ordered by id, tombstones included.
func (t *table) sorted() []*record {
	idx := t.index()
	out := make([]*record, len(idx))
	for i, sl := range idx {
		out[i] = sl.rec
	}
	return out
}

// updatedIndex is a table's rows ordered by updatedAt as a $filter sees it (UTC, truncated to
// the millisecond), ties by id: the order of the SDKs' incremental pull. Every write changes
// an updatedAt, so it is rebuilt on the first such query after a write, from the id order.
type updatedIndex struct {
	writes  uint64 // the table's writes when it was built
	entries []updatedEntry
	// liveBefore[i] is how many of entries[:i] are not tombstones.
	liveBefore []int
}

type updatedEntry struct {
	at  time.Time
	rec *record
}

// updatedAtKey is updatedAt as odata sees it in a row: truncated to the millisecond.
func updatedAtKey(r *record) time.Time { return r.updatedAt.Truncate(time.Millisecond) }

// byUpdatedAt returns the table's rows ordered by updatedAt, building the order if a write has
// come since it was last built. Like index, read it under the lock.
func (t *table) byUpdatedAt() *updatedIndex {
	if t == nil {
		return &updatedIndex{liveBefore: []int{0}}
	}
	if u := t.byUpdated; u != nil && u.writes == t.writes {
		return u
	}
	idx := t.index()
	u := t.byUpdated
	if u == nil {
		u = &updatedIndex{}
	}
	u.writes = t.writes
	u.entries = slices.Grow(u.entries[:0], len(idx))
	for _, sl := range idx {
		u.entries = append(u.entries, updatedEntry{at: updatedAtKey(sl.rec), rec: sl.rec})
	}
	clear(u.entries[len(u.entries):cap(u.entries)])
	slices.SortFunc(u.entries, func(a, b updatedEntry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.rec.id, b.rec.id)
	})
	u.liveBefore = slices.Grow(u.liveBefore[:0], len(u.entries)+1)
	live := 0
	u.liveBefore = append(u.liveBefore, 0)
	for _, e := range u.entries {
		if !e.rec.deleted {
			live++
		}
		u.liveBefore = append(u.liveBefore, live)
	}
	t.byUpdated = u
	return u
}

func quote(s string) string { return "'" + s + "'" }
