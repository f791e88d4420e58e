package store_test

import (
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The query semantics themselves are checked, case by case, by the conformance suite in
// storetest, which compares every store's Rows with Apply; these specs cover what only Apply has.
var _ = Describe("Query.Apply", func() {
	rows := func() []map[string]any {
		return []map[string]any{
			{"id": "b", "n": 2.0, "Text": "bee", "nested": map[string]any{"k": "v"}},
			{"id": "A", "n": 1.0, "Text": "ay"},
			{"id": "a", "n": 2.0, "Text": "small ay"},
		}
	}
	parse := func(filter, orderBy string) store.Query {
		var q store.Query
		var err error
		if filter != "" {
			q.Filter, err = odata.ParseFilter(filter)
			Expect(err).NotTo(HaveOccurred())
		}
		if orderBy != "" {
			q.OrderBy, err = odata.ParseOrderBy(orderBy)
			Expect(err).NotTo(HaveOccurred())
		}
		return q
	}
	ids := func(rows []map[string]any) []any {
		out := []any{}
		for _, r := range rows {
			out = append(out, r["id"])
		}
		return out
	}

	It("changes neither the rows nor their order", func() {
		in := rows()
		q := parse("n ge 1", "n desc")
		q.Skip, q.Top, q.Select = 1, 1, []string{"text"}
		out, total := q.Apply(in)
		Expect(total).To(Equal(3))
		Expect(out).To(Equal([]map[string]any{{"id": "b", "Text": "bee"}}))
		Expect(in).To(Equal(rows()))
	})

	It("returns the input maps when there is no Select", func() {
		in := rows()
		out, _ := store.Query{}.Apply(in)
		Expect(out).To(HaveLen(3))
		out[0]["seen"] = true
		Expect(in[1]).To(HaveKey("seen"), `the same map as the input's "A", which sorts first`)
	})

	DescribeTable("Skip and Top",
		func(skip, top int, want []any) {
			out, total := store.Query{Skip: skip, Top: top}.Apply(rows())
			Expect(total).To(Equal(3))
			Expect(ids(out)).To(Equal(want))
		},
		Entry("none", 0, 0, []any{"A", "a", "b"}),
		Entry("a negative Skip counts as 0", -2, 0, []any{"A", "a", "b"}),
		Entry("a negative Top is no limit", 0, -1, []any{"A", "a", "b"}),
		Entry("Top beyond the end", 1, 10, []any{"a", "b"}),
		Entry("Skip at the end", 3, 0, []any{}),
	)

	DescribeTable("Select",
		func(sel []string, want map[string]any) {
			out, _ := store.Query{Select: sel}.Apply(rows()[1:2])
			Expect(out).To(Equal([]map[string]any{want}))
		},
		Entry("nil keeps every column", nil, map[string]any{"id": "A", "n": 1.0, "Text": "ay"}),
		Entry("empty keeps every column", []string{}, map[string]any{"id": "A", "n": 1.0, "Text": "ay"}),
		Entry("* keeps every column", []string{"n", "*"}, map[string]any{"id": "A", "n": 1.0, "Text": "ay"}),
		Entry("names fold ASCII case and the row's spelling stays", []string{"TEXT"}, map[string]any{"id": "A", "Text": "ay"}),
		Entry("id is always there", []string{"missing"}, map[string]any{"id": "A"}),
	)

	It("sorts rows without a string id first, in their input order", func() {
		in := []map[string]any{{"id": "b"}, {"n": 1.0}, {"id": 7.0}, {"id": "a"}}
		out, _ := store.Query{}.Apply(in)
		Expect(ids(out)).To(Equal([]any{nil, 7.0, "a", "b"}))
	})

	It("breaks order ties by id and leaves the key order to odata.Compare", func() {
		in := []map[string]any{{"id": "c", "k": "x"}, {"id": "b"}, {"id": "a", "k": 1.0}, {"id": "d", "k": nil}, {"id": "e", "k": true}}
		out, _ := parse("", "k").Apply(in)
		Expect(ids(out)).To(Equal([]any{"b", "d", "e", "a", "c"}), "null, null, bool, number, string")
		out, _ = parse("", "k desc").Apply(in)
		Expect(ids(out)).To(Equal([]any{"c", "a", "e", "b", "d"}))
	})

	DescribeTable("Match",
		func(filter string, want bool) {
			q := parse(filter, "")
			Expect(q.Match(map[string]any{"id": "a", "n": 1.0, "s": nil})).To(Equal(want))
		},
		Entry("no filter matches", "", true),
		Entry("true", "n eq 1", true),
		Entry("false", "n eq 2", false),
		Entry("null does not match", "s eq 'x'", false),
		Entry("a non-boolean does not match", "n add 1", false),
	)
})
