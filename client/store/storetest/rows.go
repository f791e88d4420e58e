package storetest

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	. "github.com/onsi/gomega"
)

func rowChecks() []Check {
	return []Check{
		{"a stored row reads back as stored", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "text": "milk", "done": false, "n": 2.5})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("todo", "a")).To(Equal(map[string]any{"id": "a", "text": "milk", "done": false, "n": 2.5}))
			})
		}},
		{"PutRow replaces the whole row", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "text": "milk", "n": 1.0})
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "done": true})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("todo", "a")).To(Equal(map[string]any{"id": "a", "done": true}))
				rows, total, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(total).To(Equal(1))
				g.Expect(rows).To(Equal([]map[string]any{{"id": "a", "done": true}}))
			})
		}},
		{"DeleteRow removes a row and ignores a missing one", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a"}, map[string]any{"id": "b"})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.DeleteRow("todo", "a")).To(Succeed())
				g.Expect(w.DeleteRow("todo", "a")).To(Succeed())
				g.Expect(w.DeleteRow("todo", "never")).To(Succeed())
				g.Expect(w.DeleteRow("no such table", "b")).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				_, err := r.Row("todo", "a")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				rows, total, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(total).To(Equal(1))
				g.Expect(ids(rows)).To(Equal([]string{"b"}))
			})
		}},
		{"a missing row is ErrNotFound and a missing table is empty", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a"})
			view(ctx, g, s, func(r store.Reader) {
				_, err := r.Row("todo", "b")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				_, err = r.Row("other", "a")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				rows, total, err := r.Rows("other", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(rows).To(BeEmpty())
				g.Expect(total).To(BeZero())
			})
		}},
		{"tables are separate", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "in": "todo"})
			putRows(ctx, g, s, "notes", map[string]any{"id": "a", "in": "notes"})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("todo", "a")).To(HaveKeyWithValue("in", "todo"))
				g.Expect(r.Row("notes", "a")).To(HaveKeyWithValue("in", "notes"))
			})
		}},
		{"tables and ids match case-insensitively and a row keeps its first id spelling", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "TodoItem", map[string]any{"id": "AbC", "v": 1.0})
			putRows(ctx, g, s, "todoitem", map[string]any{"id": "abc", "v": 2.0})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("TODOITEM", "ABC")).To(Equal(map[string]any{"id": "AbC", "v": 2.0}))
				rows, total, err := r.Rows("todoItem", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(total).To(Equal(1))
				g.Expect(rows).To(Equal([]map[string]any{{"id": "AbC", "v": 2.0}}))
			})
			// Deleted and stored again, it is a new row with the new spelling.
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.DeleteRow("todoITEM", "aBc")).To(Succeed()) })
			view(ctx, g, s, func(r store.Reader) {
				_, err := r.Row("TodoItem", "AbC")
				g.Expect(err).To(MatchError(store.ErrNotFound))
			})
			putRows(ctx, g, s, "todoitem", map[string]any{"id": "abc"})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("TodoItem", "ABC")).To(HaveKeyWithValue("id", "abc"))
			})
		}},
		{"a stored row does not change with the map it was stored from", func(ctx context.Context, g Gomega, s store.Store) {
			nested := map[string]any{"k": "v"}
			list := []any{"x", 1.0}
			row := map[string]any{"id": "a", "text": "milk", "nested": nested, "list": list}
			want := map[string]any{"id": "a", "text": "milk", "nested": map[string]any{"k": "v"}, "list": []any{"x", 1.0}}
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutRow("todo", row)).To(Succeed())
				row["text"], row["added"], nested["k"], list[0] = "changed", true, "changed", "changed"
				g.Expect(w.Row("todo", "a")).To(Equal(want), "inside the Update")
			})
			row["text"], nested["k"], list[1] = "changed again", "changed again", 2.0
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.Row("todo", "a")).To(Equal(want)) })
		}},
		{"PutRow does not change the map it is given", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "AbC", "v": 1.0})
			// A replacement with another spelling must not rewrite the caller's id.
			row := map[string]any{"id": "abc", "v": 2.0, "n": []any{1.0}}
			putRows(ctx, g, s, "todo", row)
			g.Expect(row).To(Equal(map[string]any{"id": "abc", "v": 2.0, "n": []any{1.0}}))
		}},
		{"a returned row is the caller's to change", func(ctx context.Context, g Gomega, s store.Store) {
			want := map[string]any{"id": "a", "text": "milk", "nested": map[string]any{"k": "v"}, "list": []any{"x"}}
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "text": "milk", "nested": map[string]any{"k": "v"}, "list": []any{"x"}})
			spoil := func(m map[string]any) {
				m["text"] = "changed"
				m["added"] = true
				m["nested"].(map[string]any)["k"] = "changed"
				m["list"].([]any)[0] = "changed"
			}
			view(ctx, g, s, func(r store.Reader) {
				row, err := r.Row("todo", "a")
				g.Expect(err).NotTo(HaveOccurred())
				spoil(row)
				rows, _, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(rows).To(HaveLen(1))
				g.Expect(rows[0]).To(Equal(want), "Rows after changing what Row returned")
				spoil(rows[0])
				g.Expect(r.Row("todo", "a")).To(Equal(want), "Row after changing what Rows returned")
			})
			update(ctx, g, s, func(w store.Writer) {
				row, err := w.Row("todo", "a")
				g.Expect(err).NotTo(HaveOccurred())
				spoil(row)
			})
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.Row("todo", "a")).To(Equal(want)) })
		}},
	}
}

// valueChecks: values come back as encoding/json decodes them, whatever Go type went in.
func valueChecks() []Check {
	type valueCase struct {
		name    string
		in, out any
	}
	cases := []valueCase{
		{"an int becomes float64", 42, 42.0},
		{"an int64 becomes float64", int64(1) << 40, float64(int64(1) << 40)},
		{"a float64 stays", 1.5, 1.5},
		{"a json.Number becomes float64", json.Number("12.5"), 12.5},
		{"a string stays, Unicode included", "héllo ☃ <&>", "héllo ☃ <&>"},
		{"a bool stays", true, true},
		{"null stays", nil, nil},
		{"a time becomes its RFC 3339 string", time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC), "2014-06-09T23:40:04.297Z"},
		{"a []string becomes []any", []string{"a", "b"}, []any{"a", "b"}},
		{"a nested map holds JSON types", map[string]any{"a": []any{1, "x", nil}}, map[string]any{"a": []any{1.0, "x", nil}}},
		{"an empty map stays an empty map", map[string]any{}, map[string]any{}},
		{"an empty list stays an empty list", []any{}, []any{}},
		{"a struct becomes a map of its JSON fields", struct {
			A int `json:"a"`
			B string
		}{1, "b"}, map[string]any{"a": 1.0, "B": "b"}},
	}
	var checks []Check
	for _, c := range cases {
		checks = append(checks, Check{c.name, func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "v": c.in})
			view(ctx, g, s, func(r store.Reader) {
				row, err := r.Row("todo", "a")
				g.Expect(err).NotTo(HaveOccurred())
				// Equal compares with reflect.DeepEqual, so the Go types must be json's too.
				g.Expect(row).To(Equal(map[string]any{"id": "a", "v": c.out}), "Row")
				rows, _, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(rows).To(Equal([]map[string]any{row}), "Rows agrees with Row")
			})
		}})
	}
	return checks
}

// invalidRowChecks: a row that PutRow refuses is ErrInvalid and leaves the table as it was,
// also when fn carries on and the Update commits.
func invalidRowChecks() []Check {
	type invalidCase struct {
		name string
		row  map[string]any
	}
	cases := []invalidCase{
		{"a nil row", nil},
		{"a row without id", map[string]any{"text": "milk"}},
		{"an empty id", map[string]any{"id": "", "text": "milk"}},
		{"a number id", map[string]any{"id": 42, "text": "milk"}},
		{"a null id", map[string]any{"id": nil, "text": "milk"}},
		{"a NaN", map[string]any{"id": "x", "v": math.NaN()}},
		{"an infinity", map[string]any{"id": "x", "v": math.Inf(1)}},
		{"a channel", map[string]any{"id": "x", "v": make(chan int)}},
		{"a function nested in a list", map[string]any{"id": "x", "v": []any{1, func() {}}}},
	}
	var checks []Check
	for _, c := range cases {
		checks = append(checks, Check{c.name + " is refused", func(ctx context.Context, g Gomega, s store.Store) {
			old := map[string]any{"id": "x", "v": "old"}
			putRows(ctx, g, s, "todo", old)
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutRow("todo", c.row)).To(MatchError(store.ErrInvalid))
				g.Expect(w.Row("todo", "x")).To(Equal(old), "inside the Update")
			})
			view(ctx, g, s, func(r store.Reader) {
				rows, total, err := r.Rows("todo", store.Query{})
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(total).To(Equal(1))
				g.Expect(rows).To(Equal([]map[string]any{old}))
			})
		}})
	}
	return checks
}
