package storetest

import (
	"context"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
	. "github.com/onsi/gomega"
)

// dataset is the table the query checks run on, as encoding/json would decode it. Its ids mix
// cases so that the ordinal id order ("B2" before "a0") is visible, and it has nulls, missing
// columns, tied sort keys and dates a millisecond apart.
func dataset() []map[string]any {
	return []map[string]any{
		{"id": "a1", "text": "Apples", "n": 3.0, "done": false, "updatedAt": "2014-06-09T23:40:04.297Z", "tag": "x"},
		{"id": "B2", "text": "bread", "n": 1.0, "done": true, "updatedAt": "2014-06-10T01:00:00.000Z", "tag": nil},
		{"id": "c3", "text": "Cheese", "n": 3.0, "done": false, "updatedAt": "2014-06-08T12:00:00.000Z"},
		{"id": "D4", "text": "dates", "n": nil, "done": true, "updatedAt": "2014-06-09T23:40:04.296Z", "tag": "y"},
		{"id": "e5", "text": "eggs", "n": 2.0, "done": false, "updatedAt": "2014-06-09T23:40:04.298Z", "tag": "x", "Extra": "E"},
		{"id": "a0", "text": "apricots", "n": 3.0, "done": true, "updatedAt": "2014-06-11T00:00:00Z", "tag": "x"},
	}
}

// queryCase is one query over dataset and what it must return.
type queryCase struct {
	name    string
	filter  string // OData; "" for none
	orderBy string // OData; "" for none
	skip    int
	top     int
	sel     []string
	ids     []string         // the ids returned, in order
	total   int              // rows matching the filter
	rows    []map[string]any // when set, the exact rows returned
}

func (c queryCase) query(g Gomega) store.Query {
	q := store.Query{Skip: c.skip, Top: c.top, Select: c.sel}
	var err error
	if c.filter != "" {
		q.Filter, err = odata.ParseFilter(c.filter)
		g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
	if c.orderBy != "" {
		q.OrderBy, err = odata.ParseOrderBy(c.orderBy)
		g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
	return q
}

var queryCases = []queryCase{
	{name: "no query: every row by id, ordinal", ids: []string{"B2", "D4", "a0", "a1", "c3", "e5"}, total: 6},
	{name: "eq on a number", filter: "n eq 3", ids: []string{"a0", "a1", "c3"}, total: 3},
	{name: "ne skips nulls", filter: "n ne 3", ids: []string{"B2", "e5"}, total: 2},
	{name: "eq null finds a null", filter: "n eq null", ids: []string{"D4"}, total: 1},
	{name: "eq null finds a null and a missing column", filter: "tag eq null", ids: []string{"B2", "c3"}, total: 2},
	{name: "ne on a string skips null and missing", filter: "tag ne 'x'", ids: []string{"D4"}, total: 1},
	{name: "not of unknown is unknown", filter: "not (tag eq 'x')", ids: []string{"D4"}, total: 1},
	{name: "booleans and null in and", filter: "done and n ge 1", ids: []string{"B2", "a0"}, total: 2},
	{name: "or with unknown", filter: "tag eq 'y' or n eq 1", ids: []string{"B2", "D4"}, total: 2},
	{name: "a date string gt a datetimeoffset, to the millisecond", filter: "updatedAt gt datetimeoffset'2014-06-09T23:40:04.297Z'",
		ids: []string{"B2", "a0", "e5"}, total: 3},
	{name: "a date string ge a datetimeoffset with an offset", filter: "updatedAt ge datetimeoffset'2014-06-10T03:00:00+02:00'",
		ids: []string{"B2", "a0"}, total: 2},
	{name: "a date string eq a datetimeoffset", filter: "updatedAt eq datetimeoffset'2014-06-11T02:00:00.000+02:00'",
		ids: []string{"a0"}, total: 1},
	{name: "functions", filter: "startswith(tolower(text), 'a')", ids: []string{"a0", "a1"}, total: 2},
	{name: "column names match case-insensitively", filter: "TEXT eq 'eggs' and EXTRA eq 'E'", ids: []string{"e5"}, total: 1},
	{name: "id in a filter", filter: "id eq 'B2' or id eq 'b2'", ids: []string{"B2"}, total: 1},
	{name: "orderby asc: nulls first, ties by id", orderBy: "n", ids: []string{"D4", "B2", "e5", "a0", "a1", "c3"}, total: 6},
	{name: "orderby desc: nulls last, ties still by id ascending", orderBy: "n desc", ids: []string{"a0", "a1", "c3", "e5", "B2", "D4"}, total: 6},
	{name: "orderby two keys, strings ordinal", orderBy: "done desc, text", ids: []string{"a0", "B2", "D4", "a1", "c3", "e5"}, total: 6},
	{name: "orderby a date string", orderBy: "updatedAt", ids: []string{"c3", "D4", "a1", "e5", "B2", "a0"}, total: 6},
	{name: "orderby an expression", orderBy: "length(text) desc", ids: []string{"a0", "a1", "c3", "B2", "D4", "e5"}, total: 6},
	{name: "skip and top", skip: 2, top: 2, ids: []string{"a0", "a1"}, total: 6},
	{name: "filter, order, skip and top together", filter: "n eq 3", orderBy: "text desc", skip: 1, top: 5, ids: []string{"c3", "a1"}, total: 3},
	{name: "skip past the end keeps the total", filter: "n eq 3", skip: 10, ids: []string{}, total: 3},
	{name: "top 0 is no limit", top: 0, skip: 5, ids: []string{"e5"}, total: 6},
	{name: "no match", filter: "text eq 'none'", ids: []string{}, total: 0},
	{name: "select keeps id and the row's spelling of the columns", filter: "n ge 2", orderBy: "n", sel: []string{"TEXT", "extra"},
		ids: []string{"e5", "a0", "a1", "c3"}, total: 4, rows: []map[string]any{
			{"id": "e5", "text": "eggs", "Extra": "E"},
			{"id": "a0", "text": "apricots"},
			{"id": "a1", "text": "Apples"},
			{"id": "c3", "text": "Cheese"},
		}},
	{name: "select keeps a null column and skips a missing one", filter: "id eq 'B2' or id eq 'c3'", sel: []string{"tag"},
		ids: []string{"B2", "c3"}, total: 2, rows: []map[string]any{{"id": "B2", "tag": nil}, {"id": "c3"}}},
	{name: "select * is every column", filter: "id eq 'e5'", sel: []string{"*"}, ids: []string{"e5"}, total: 1, rows: []map[string]any{
		{"id": "e5", "text": "eggs", "n": 2.0, "done": false, "updatedAt": "2014-06-09T23:40:04.298Z", "tag": "x", "Extra": "E"},
	}},
}

// queryChecks: Rows answers each query as the fake server would, and agrees with Query.Apply.
func queryChecks() []Check {
	var checks []Check
	for _, c := range queryCases {
		checks = append(checks, Check{c.name, func(ctx context.Context, g Gomega, s store.Store) {
			q := c.query(g)
			putRows(ctx, g, s, "TodoItem", dataset()...)
			// Rows elsewhere must not leak into the answer.
			putRows(ctx, g, s, "other", map[string]any{"id": "a00", "n": 3.0, "text": "apples"})
			check := func(r store.Reader) {
				rows, total, err := r.Rows("todoitem", q)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(ids(rows)).To(Equal(c.ids), "ids")
				g.Expect(total).To(Equal(c.total), "total")
				if c.rows != nil {
					g.Expect(rows).To(Equal(c.rows))
				} else {
					full := map[string]map[string]any{}
					for _, row := range dataset() {
						full[row["id"].(string)] = row
					}
					for _, row := range rows {
						g.Expect(row).To(Equal(full[row["id"].(string)]), "a row without Select is the whole row")
					}
				}
				all, _, err := r.Rows("todoitem", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				applied, appliedTotal := q.Apply(all)
				g.Expect(rows).To(Equal(applied), "Rows and Query.Apply over the same rows")
				g.Expect(total).To(Equal(appliedTotal), "Rows and Query.Apply count the same")
			}
			view(ctx, g, s, check)
			// A Writer reads the same, from the committed rows and from its own writes.
			update(ctx, g, s, func(w store.Writer) { check(w) })
			err := s.Update(ctx, func(w store.Writer) error {
				g.Expect(w.DeleteRows("todoitem", nil)).To(Equal(len(dataset())))
				for _, row := range dataset() {
					g.Expect(w.PutRow("TODOITEM", row)).To(Succeed())
				}
				check(w)
				return errRollback
			})
			g.Expect(err).To(MatchError(errRollback))
		}})
	}
	return checks
}

// deleteRowsChecks: DeleteRows removes the matching rows of one table and counts them.
func deleteRowsChecks() []Check {
	type deleteCase struct {
		name   string
		filter string // "" for nil
		count  int
		left   []string
	}
	cases := []deleteCase{
		{"nil removes every row", "", 6, []string{}},
		{"a filter removes the matches", "n eq 3", 3, []string{"B2", "D4", "e5"}},
		{"null semantics hold", "tag ne 'x'", 1, []string{"B2", "a0", "a1", "c3", "e5"}},
		{"eq null removes null and missing", "tag eq null", 2, []string{"D4", "a0", "a1", "e5"}},
		{"a date filter", "updatedAt lt datetimeoffset'2014-06-09T23:40:04.297Z'", 2, []string{"B2", "a0", "a1", "e5"}},
		{"no match removes nothing", "text eq 'none'", 0, []string{"B2", "D4", "a0", "a1", "c3", "e5"}},
	}
	var checks []Check
	for _, c := range cases {
		checks = append(checks, Check{c.name, func(ctx context.Context, g Gomega, s store.Store) {
			var filter odata.Expr
			if c.filter != "" {
				var err error
				filter, err = odata.ParseFilter(c.filter)
				g.Expect(err).NotTo(HaveOccurred())
			}
			putRows(ctx, g, s, "todo", dataset()...)
			putRows(ctx, g, s, "other", dataset()...)
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.DeleteRows("TODO", filter)).To(Equal(c.count))
				rows, _, err := w.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(ids(rows)).To(Equal(c.left), "inside the Update")
			})
			view(ctx, g, s, func(r store.Reader) {
				rows, total, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(ids(rows)).To(Equal(c.left))
				g.Expect(total).To(Equal(len(c.left)))
				_, total, err = r.Rows("other", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(total).To(Equal(len(dataset())), "another table is untouched")
			})
		}})
	}
	checks = append(checks, Check{"it sees the Update's own writes", func(ctx context.Context, g Gomega, s store.Store) {
		putRows(ctx, g, s, "todo", dataset()...)
		filter, err := odata.ParseFilter("n eq 3")
		g.Expect(err).NotTo(HaveOccurred())
		update(ctx, g, s, func(w store.Writer) {
			g.Expect(w.PutRow("todo", map[string]any{"id": "z9", "n": 3})).To(Succeed())
			g.Expect(w.PutRow("todo", map[string]any{"id": "B2", "n": 3})).To(Succeed())
			g.Expect(w.PutRow("todo", map[string]any{"id": "a1", "n": 4})).To(Succeed())
			g.Expect(w.DeleteRow("todo", "a0")).To(Succeed())
			g.Expect(w.DeleteRows("todo", filter)).To(Equal(3)) // z9, B2, c3
		})
		view(ctx, g, s, func(r store.Reader) {
			rows, _, err := r.Rows("todo", store.Query{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ids(rows)).To(Equal([]string{"D4", "a1", "e5"}))
		})
	}})
	return checks
}
