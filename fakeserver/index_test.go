package fakeserver_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The server keeps each table's id order (and an updatedAt order) between requests instead of
// sorting per query. These specs drive random writes of every kind through it and check each
// page against a naive reference: the rows the writes returned, sorted here.
var _ = Describe("Query indexes", func() {
	for _, d := range dialects {
		It(fmt.Sprintf("page exactly like a naive sort through random writes, deletes and resets (%s)", d), func() {
			for round := range 3 {
				seed := uint64(GinkgoRandomSeed()) + uint64(round)
				By(fmt.Sprintf("round %d, seed %d", round, seed))
				newIndexModel(d, seed).run(400)
			}
		})
	}
})

// indexModel is the reference: every row of every table as the last write returned it.
type indexModel struct {
	srv   *server
	peer  *peer
	clock *clock
	rng   *rand.Rand
	rows  map[string]map[string]map[string]any // table → lower-case id → row
	ops   []string                             // what was done, for failure messages
}

const indexPageSize = 7

var indexTables = []string{"soft", "hard"}

func newIndexModel(d fakeserver.Dialect, seed uint64) *indexModel {
	GinkgoHelper()
	srv, p := startServer(fakeserver.Config{Dialect: d, Clock: fakeserver.SimClock(t0), PageSize: indexPageSize,
		HardDeleteTables: []string{"hard"}, Seed: int64(seed) + 1})
	m := &indexModel{srv: srv, peer: p, clock: srv.Clock(), rng: rand.New(rand.NewPCG(seed, 99))}
	m.reset()
	return m
}

func (m *indexModel) reset() {
	m.rows = map[string]map[string]map[string]any{}
	for _, t := range indexTables {
		m.rows[t] = map[string]map[string]any{}
	}
}

// id picks an id from a small pool, in a random spelling: ids match case-insensitively but
// keep their first spelling, and upper case sorts before lower case.
func (m *indexModel) id() string {
	base := []string{"a", "b", "Z", "m1", "m10", "m2", "row-07", "row-7", "x", "Y", "item", "itemz"}[m.rng.IntN(12)]
	if m.rng.IntN(2) == 0 {
		base += strconv.Itoa(m.rng.IntN(30))
	}
	out := []byte(base)
	for i, c := range out {
		if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') && m.rng.IntN(3) == 0 {
			out[i] = c ^ 0x20 // the other case
		}
	}
	return string(out)
}

func (m *indexModel) run(steps int) {
	GinkgoHelper()
	for range steps {
		m.step()
		for range m.rng.IntN(3) { // sometimes none: writes pile up between reads
			m.checkQuery()
		}
		if m.rng.IntN(20) == 0 {
			m.checkRows()
		}
	}
	m.checkRows()
}

// step applies one random write (or burst of writes) to the server and the model.
func (m *indexModel) step() {
	GinkgoHelper()
	table := indexTables[m.rng.IntN(len(indexTables))]
	rows := m.rows[table]
	n := float64(m.rng.IntN(8))
	switch k := m.rng.IntN(100); {
	case k < 2:
		m.log("reset")
		m.srv.Reset()
		m.reset()
	case k < 6:
		// The clock: ties (step 0), steps back, and back to normal.
		switch m.rng.IntN(3) {
		case 0:
			m.clock.SetStep(0)
		case 1:
			m.clock.Advance(-time.Duration(1+m.rng.IntN(5)) * time.Millisecond)
		default:
			m.clock.SetStep(time.Millisecond)
		}
		m.log("clock now %s step %s", m.clock.Now().Format(fakeserver.TimeFormat), m.clock.Step())
	case k < 10:
		// A burst of inserts with generated (random) ids, with no read between them; then
		// some of them deleted, and some of those inserted again in another spelling, before
		// the next read too.
		var ids []string
		for range 1 + m.rng.IntN(15) {
			row, err := m.srv.Insert(table, map[string]any{"n": float64(m.rng.IntN(8))})
			Expect(err).NotTo(HaveOccurred())
			id := row["id"].(string)
			m.log("insert %s %s", table, id)
			rows[strings.ToLower(id)] = row
			ids = append(ids, id)
		}
		for _, id := range ids {
			if m.rng.IntN(3) > 0 {
				continue
			}
			row, err := m.srv.Delete(table, id)
			m.log("delete %s %s: %v", table, id, err)
			m.apply(rows, id, row, err, true)
			if m.rng.IntN(2) == 0 {
				id = strings.ToUpper(id)
				row, err := m.srv.Insert(table, map[string]any{"id": id, "n": n})
				m.log("insert %s %s: %v", table, id, err)
				m.apply(rows, id, row, err, rows[strings.ToLower(id)] == nil)
			}
		}
	case k < 35:
		id := m.id()
		row, err := m.srv.Insert(table, map[string]any{"id": id, "n": n})
		m.log("insert %s %s: %v", table, id, err)
		m.apply(rows, id, row, err, rows[strings.ToLower(id)] == nil)
	case k < 50:
		id := m.pick(rows)
		row, err := m.srv.Update(table, id, map[string]any{"n": n})
		m.log("update %s %s: %v", table, id, err)
		m.apply(rows, id, row, err, live(rows[strings.ToLower(id)]))
	case k < 60:
		id := m.pick(rows)
		row, err := m.srv.Write(table, id, map[string]any{"n": n})
		m.log("write %s %s: %v", table, id, err)
		cur := rows[strings.ToLower(id)]
		m.apply(rows, id, row, err, cur == nil || live(cur))
	case k < 80:
		id := m.pick(rows)
		row, err := m.srv.Delete(table, id)
		m.log("delete %s %s: %v", table, id, err)
		m.apply(rows, id, row, err, live(rows[strings.ToLower(id)]))
	default:
		id := m.pick(rows)
		row, err := m.srv.Undelete(table, id)
		m.log("undelete %s %s: %v", table, id, err)
		m.apply(rows, id, row, err, rows[strings.ToLower(id)] != nil)
	}
}

// pick is mostly an id the table has, in any spelling, and sometimes any id.
func (m *indexModel) pick(rows map[string]map[string]any) string {
	if len(rows) == 0 || m.rng.IntN(4) == 0 {
		return m.id()
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	id := rows[keys[m.rng.IntN(len(keys))]]["id"].(string)
	if m.rng.IntN(2) == 0 {
		id = strings.ToUpper(id)
	}
	return id
}

func live(row map[string]any) bool { return row != nil && row["deleted"] == false }

// apply records a write's outcome: a row (nil after a hard delete) when it should succeed, an
// error and no change when it should not.
func (m *indexModel) apply(rows map[string]map[string]any, id string, row map[string]any, err error, ok bool) {
	GinkgoHelper()
	if !ok {
		Expect(err).To(HaveOccurred(), m.trail())
		return
	}
	Expect(err).NotTo(HaveOccurred(), m.trail())
	if row == nil {
		delete(rows, strings.ToLower(id))
		return
	}
	rows[strings.ToLower(id)] = row
}

func (m *indexModel) log(format string, args ...any) {
	m.ops = append(m.ops, fmt.Sprintf(format, args...))
}

func (m *indexModel) trail() string {
	from := max(0, len(m.ops)-30)
	return "last operations:\n  " + strings.Join(m.ops[from:], "\n  ")
}

// sortedRows is the reference order: by id, byte-wise.
func (m *indexModel) sortedRows(table string) []map[string]any {
	out := make([]map[string]any, 0, len(m.rows[table]))
	for _, row := range m.rows[table] {
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return out
}

// checkRows compares Server.Rows, which reads the id index, with the model.
func (m *indexModel) checkRows() {
	GinkgoHelper()
	for _, t := range indexTables {
		want := m.sortedRows(t)
		got := m.srv.Rows(t)
		if len(want) == 0 {
			Expect(got).To(BeEmpty(), m.trail())
			continue
		}
		Expect(got).To(Equal(want), m.trail())
	}
}

func updatedAt(row map[string]any) time.Time {
	t, err := time.Parse(fakeserver.TimeFormat, row["updatedAt"].(string))
	Expect(err).NotTo(HaveOccurred())
	return t
}

// checkQuery sends one random query of the shapes that matter and checks the page, the
// count and the Link header against the reference.
func (m *indexModel) checkQuery() {
	GinkgoHelper()
	table := indexTables[m.rng.IntN(len(indexTables))]
	all := m.sortedRows(table)
	d := m.peer.dialect
	vals := url.Values{}
	includeDeleted := m.rng.IntN(3) > 0
	if includeDeleted {
		vals.Set("__includeDeleted", "true")
	}
	top := -1
	if m.rng.IntN(3) > 0 {
		top = m.rng.IntN(2 * indexPageSize)
		vals.Set("$top", strconv.Itoa(top))
	}
	skip := 0
	if m.rng.IntN(4) > 0 {
		skip = m.rng.IntN(len(all) + 3)
		vals.Set("$skip", strconv.Itoa(skip))
	}
	vals.Set("$inlinecount", "allpages")
	if d == fakeserver.V1 {
		vals.Set("__systemproperties", "*")
	}

	match := func(map[string]any) bool { return true }
	var less func(a, b map[string]any) int // nil: id order
	upd := m.peer.sys("updatedAt")
	switch m.rng.IntN(7) {
	case 0, 1: // the full pull: no filter, no order
	case 2, 3: // the incremental pull, and a plain $orderby=updatedAt
		var at time.Time
		switch {
		case len(all) > 0 && m.rng.IntN(4) > 0:
			at = updatedAt(all[m.rng.IntN(len(all))]).Add(time.Duration(m.rng.IntN(3)-1) * time.Millisecond)
		default:
			at = t0.Add(time.Duration(m.rng.IntN(2000)-20) * time.Millisecond)
		}
		lit := "datetimeoffset'" + at.Format(fakeserver.TimeFormat) + "'"
		switch m.rng.IntN(4) {
		case 0:
			vals.Set("$filter", "("+upd+" ge "+lit+")")
			match = func(r map[string]any) bool { return !updatedAt(r).Before(at) }
		case 1:
			vals.Set("$filter", upd+" ge "+lit)
			match = func(r map[string]any) bool { return !updatedAt(r).Before(at) }
		case 2:
			vals.Set("$filter", upd+" gt "+lit)
			match = func(r map[string]any) bool { return updatedAt(r).After(at) }
		}
		vals.Set("$orderby", upd)
		less = func(a, b map[string]any) int { return updatedAt(a).Compare(updatedAt(b)) }
	case 4: // the general path: a filter on a user column, an order with ties
		k := float64(m.rng.IntN(8))
		vals.Set("$filter", "n ge "+strconv.Itoa(int(k)))
		match = func(r map[string]any) bool { return r["n"].(float64) >= k }
		vals.Set("$orderby", "n desc")
		less = func(a, b map[string]any) int { return -compareFloat(a["n"].(float64), b["n"].(float64)) }
	case 5: // the general path ordered by updatedAt, descending
		vals.Set("$orderby", upd+" desc")
		less = func(a, b map[string]any) int { return updatedAt(b).Compare(updatedAt(a)) }
	case 6: // the general path, naming columns in another case: lookups fold case
		k := float64(m.rng.IntN(8))
		vals.Set("$filter", "N ge "+strconv.Itoa(int(k))+" and ID ge 'm'")
		match = func(r map[string]any) bool { return r["n"].(float64) >= k && r["id"].(string) >= "m" }
		vals.Set("$orderby", strings.ToUpper(upd))
		less = func(a, b map[string]any) int { return updatedAt(a).Compare(updatedAt(b)) }
	}

	var want []map[string]any
	for _, r := range all {
		if (includeDeleted || r["deleted"] == false) && match(r) {
			want = append(want, r)
		}
	}
	if less != nil {
		slices.SortStableFunc(want, less) // from id order: ties by id
	}
	count := len(want)
	limit := indexPageSize
	if top >= 0 && top < limit {
		limit = top
	}
	want = want[min(skip, len(want)):]
	want = want[:min(limit, len(want))]

	target := "/tables/" + table + "?" + vals.Encode()
	r := m.peer.do("GET", target, nil)
	Expect(r.Status).To(Equal(http.StatusOK), "%s: %s", target, r.Raw)
	body := r.Object()
	Expect(body["count"]).To(BeEquivalentTo(count), "%s\n%s", target, m.trail())
	results, _ := body["results"].([]any)
	var got, wantIDs []string
	for _, row := range results {
		got = append(got, row.(map[string]any)["id"].(string)+" "+row.(map[string]any)[m.peer.sys("version")].(string))
	}
	for _, row := range want {
		wantIDs = append(wantIDs, row["id"].(string)+" "+row["version"].(string))
	}
	Expect(got).To(Equal(wantIDs), "%s\n%s", target, m.trail())
	if d == fakeserver.V2 {
		for i, row := range results {
			Expect(row).To(Equal(want[i]), "%s\n%s", target, m.trail())
		}
	}

	link := r.Header.Get("Link")
	if (top < 0 || top > indexPageSize) && len(want) > 0 && skip+len(want) < count {
		Expect(link).To(HaveSuffix(">; rel=next"), target)
		next, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), ">; rel=next"))
		Expect(err).NotTo(HaveOccurred())
		Expect(next.Query().Get("$skip")).To(Equal(strconv.Itoa(skip+len(want))), target)
		if top >= 0 {
			Expect(next.Query().Get("$top")).To(Equal(strconv.Itoa(top-len(want))), target)
		}
	} else {
		Expect(link).To(BeEmpty(), target)
	}
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
