package fakeserver

import (
	"cmp"
	"encoding/json"
	"math"
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
	// recs mirrors byID while recsOK: recs[i] is byID[i].rec. A write to a row whose place
	// is known sets its entry, a new last id appends one; anything that moves places (ids
	// added out of order, hard deletes) makes it be rebuilt. snapshot hands it out as it is,
	// for queries evaluated after the lock is released; once it has (recsShared), the next
	// write copies it first, so a snapshot never changes under its reader.
	recs       []*record
	recsOK     bool
	recsShared bool
	// touched are the slots written since the updatedAt order was last brought up to date
	// (kept only while there is such an order, and while they are fewer than the rows).
	touched []*slot

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
	// indexed is the row the updatedAt order holds for this slot (nil: none).
	indexed *record
	// pos is the slot's place in byID and recs, while the table's recsOK.
	pos int
}

// column is a user column as the table knows it: the spelling it was first written with and
// the JSON type of its first non-null value. Like the SQL tables behind the real servers'
// dynamic schema, a column keeps its type: a later write of another type is a 400.
type column struct {
	name string
	kind string
	ord  int // the column's place in records' cols
}

// columnList is the table's columns, in no set order: a copy a query can read after the lock
// is released, while writes add columns to the table.
func (t *table) columnList() []column {
	if t == nil {
		return nil
	}
	out := make([]column, 0, len(t.columns))
	for _, c := range t.columns {
		out = append(out, c)
	}
	return out
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
//
// data is the caller's own (splitBody made it): when nothing needs a new spelling or a
// conversion, it is returned as it is.
func (t *table) canonical(data map[string]any) (map[string]any, *Error) {
	if t != nil && t.spelledAsKnown(data) {
		return data, nil
	}
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

// spelledAsKnown reports whether every column of data is new or spelled as the table knows
// it, with a value of its type: canonical would return data unchanged.
func (t *table) spelledAsKnown(data map[string]any) bool {
	for k, v := range data {
		c, ok := t.columns[strings.ToLower(k)]
		if !ok {
			continue
		}
		if c.name != k {
			return false
		}
		if kind := kindOf(v); kind != "" && c.kind != "" && kind != c.kind {
			return false // a conversion (node) or a refusal: canonical says which
		}
	}
	return true
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
			c = column{name: k, ord: len(t.columns)}
		}
		if c.kind == "" {
			c.kind = kindOf(v)
		}
		t.columns[lower] = c
	}
}

// absent marks a column a row does not have, in its cols.
type absentColumn struct{}

var absent any = absentColumn{}

// columnsOf lays data out by column ordinal, for expressions: numbers as float64 (null when
// they are not finite, as expressions read them), absent columns marked. Every column of data
// has been learnt.
func (t *table) columnsOf(data map[string]any) []any {
	cols := make([]any, len(t.columns))
	for i := range cols {
		cols[i] = absent
	}
	for k, v := range data {
		c, ok := t.columns[strings.ToLower(k)]
		if !ok || c.name != k {
			return nil // not laid out as the table knows it: expressions read the map
		}
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				v = f
			} else {
				v = nil
			}
		}
		cols[c.ord] = v
	}
	return cols
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
			if t.recsOK {
				// Appending never changes what a snapshot (shorter) can see.
				sl.pos = len(t.recs)
				t.recs = append(t.recs, rec)
			}
		} else {
			t.pending = append(t.pending, sl)
			t.recsOK = false
		}
	} else {
		if !sl.rec.deleted {
			t.live--
		}
		if t.recsOK {
			if t.recsShared {
				t.recs, t.recsShared = slices.Clone(t.recs), false
			}
			t.recs[sl.pos] = rec
		}
	}
	sl.rec = rec
	if !rec.deleted {
		t.live++
	}
	t.touch(sl)
}

// touch notes that sl was written, for the updatedAt order. When more slots were touched than
// the table has rows, rebuilding the order from scratch is no dearer: it is dropped instead.
func (t *table) touch(sl *slot) {
	if t.byUpdated == nil {
		return
	}
	if len(t.touched) > len(t.rows) {
		t.byUpdated, t.touched = nil, nil
		return
	}
	t.touched = append(t.touched, sl)
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
	t.recsOK = false
	t.liveOK = false
	if !sl.rec.deleted {
		t.live--
	}
	t.touch(sl)
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

// snapshot returns the rows ordered by id, tombstones included, in a slice that no later write
// changes: it may be read after the lock is released. Between writes, queries share one, and
// a write copies it (a copy of pointers) rather than the next query rebuilding it (a walk
// over every slot).
func (t *table) snapshot() []*record {
	if t == nil {
		return nil
	}
	idx := t.index()
	if !t.recsOK {
		recs := make([]*record, len(idx), len(idx)+len(idx)/8+8)
		for i, sl := range idx {
			recs[i], sl.pos = sl.rec, i
		}
		t.recs, t.recsOK = recs, true
	}
	t.recsShared = true
	return t.recs[:len(t.recs):len(t.recs)]
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
// an updatedAt, so the first such query after writes brings it up to date: the entries of the
// rows written since (the table's touched slots) are found by binary search and dropped, and
// new ones merged in, which costs a pass over the index rather than a sort of the table.
type updatedIndex struct {
	writes  uint64 // the table's writes when it was brought up to date
	entries []updatedEntry
	// liveBefore[i] is how many of entries[:i] are not tombstones, once a query without
	// __includeDeleted has asked (liveOK): the SDKs' incremental pull includes tombstones and
	// never needs it.
	liveBefore []int
	liveOK     bool
}

// updatedEntry is one row in the order. It copies what ordering and counting need (the
// millisecond, the deletion) so that passes over the index do not chase pointers.
type updatedEntry struct {
	ms      int64 // updatedAt in Unix milliseconds
	rec     *record
	sl      *slot
	deleted bool
}

func entryOf(sl *slot) updatedEntry {
	return updatedEntry{ms: updatedAtMs(sl.rec), rec: sl.rec, sl: sl, deleted: sl.rec.deleted}
}

// updatedAtMs is updatedAt as odata sees it in a row: truncated to the millisecond.
func updatedAtMs(r *record) int64 { return r.updatedAt.Truncate(time.Millisecond).UnixMilli() }

func compareUpdated(a, b updatedEntry) int {
	if c := cmp.Compare(a.ms, b.ms); c != 0 {
		return c
	}
	return strings.Compare(a.rec.id, b.rec.id)
}

// byUpdatedAt returns the table's rows ordered by updatedAt, bringing the order up to date if
// a write has come since. Like index, read it under the lock.
func (t *table) byUpdatedAt() *updatedIndex {
	if t == nil {
		return &updatedIndex{liveBefore: []int{0}, liveOK: true}
	}
	u := t.byUpdated
	if u != nil && u.writes == t.writes {
		return u
	}
	if u == nil {
		u = &updatedIndex{}
		for _, sl := range t.index() {
			u.entries = append(u.entries, entryOf(sl))
			sl.indexed = sl.rec
		}
		slices.SortFunc(u.entries, compareUpdated)
	} else {
		u.entries = u.update(t.touched)
	}
	clear(t.touched)
	t.touched = t.touched[:0]
	u.writes, u.liveOK = t.writes, false
	t.byUpdated = u
	return u
}

// live returns liveBefore, counting it if it is not current.
func (u *updatedIndex) live() []int {
	if !u.liveOK {
		u.liveBefore = slices.Grow(u.liveBefore[:0], len(u.entries)+1)
		live := 0
		u.liveBefore = append(u.liveBefore, 0)
		for i := range u.entries {
			if !u.entries[i].deleted {
				live++
			}
			u.liveBefore = append(u.liveBefore, live)
		}
		u.liveOK = true
	}
	return u.liveBefore
}

// update moves the touched slots' entries to where their rows now sort.
func (u *updatedIndex) update(touched []*slot) []updatedEntry {
	var gone []int // positions of entries no longer current
	var fresh []updatedEntry
	for _, sl := range touched {
		if sl.indexed == nil || sl.indexed == sl.rec && !sl.removed {
			continue // not in the index yet, or a slot touched twice and done
		}
		if i, ok := u.find(sl); ok {
			gone = append(gone, i)
		}
		sl.indexed = nil
		if !sl.removed {
			sl.indexed = sl.rec
			fresh = append(fresh, entryOf(sl))
		}
	}
	for _, sl := range touched { // slots new since the index was made
		if sl.indexed == nil && !sl.removed {
			sl.indexed = sl.rec
			fresh = append(fresh, entryOf(sl))
		}
	}
	slices.Sort(gone)
	kept := u.entries[:0]
	g := 0
	for i := range u.entries {
		if g < len(gone) && gone[g] == i {
			g++
			continue
		}
		kept = append(kept, u.entries[i])
	}
	clear(u.entries[len(kept):])
	slices.SortFunc(fresh, compareUpdated)
	// Merge from the back, in place: only the entries after the first fresh one move.
	n := len(kept)
	entries := append(kept, fresh...)
	i, j := n-1, len(fresh)-1
	for w := len(entries) - 1; j >= 0; w-- {
		if i >= 0 && compareUpdated(entries[i], fresh[j]) > 0 {
			entries[w] = entries[i]
			i--
		} else {
			entries[w] = fresh[j]
			j--
		}
	}
	return entries
}

// find is the position of sl's entry, which holds sl.indexed.
func (u *updatedIndex) find(sl *slot) (int, bool) {
	key := updatedEntry{ms: updatedAtMs(sl.indexed), rec: sl.indexed}
	i, _ := slices.BinarySearchFunc(u.entries, key, compareUpdated)
	for ; i < len(u.entries) && compareUpdated(u.entries[i], key) == 0; i++ {
		if u.entries[i].sl == sl {
			return i, true
		}
	}
	return 0, false
}

func quote(s string) string { return "'" + s + "'" }
