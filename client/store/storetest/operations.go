package storetest

import (
	"context"
	"math"

	"github.com/conflictlab/conflictlab/client/store"
	. "github.com/onsi/gomega"
)

// newOp is a valid pending update of one item.
func newOp(id, table, itemID string, seq int64) store.Operation {
	return store.Operation{ID: id, Kind: store.Update, State: store.Pending, Table: table, ItemID: itemID, Sequence: seq, Version: 1}
}

func putOps(ctx context.Context, g Gomega, s store.Store, ops ...store.Operation) {
	update(ctx, g, s, func(w store.Writer) {
		for _, o := range ops {
			g.ExpectWithOffset(2, w.PutOperation(o)).To(Succeed(), "PutOperation %+v", o)
		}
	})
}

func opIDs(ops []store.Operation) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = o.ID
	}
	return out
}

func operationChecks() []Check {
	return []Check{
		{"an operation is stored, replaced by ID and deleted", func(ctx context.Context, g Gomega, s store.Store) {
			op := newOp("op1", "TodoItem", "AbC", 3)
			putOps(ctx, g, s, op)
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.Operation("op1")).To(Equal(op)) })
			op.State, op.Version = store.Attempted, 2
			putOps(ctx, g, s, op)
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Operation("op1")).To(Equal(op))
				g.Expect(r.Operations()).To(Equal([]store.Operation{op}), "a replacement is not a second operation")
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.DeleteOperation("op1")).To(Succeed())
				g.Expect(w.DeleteOperation("op1")).To(Succeed())
				g.Expect(w.DeleteOperation("never")).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				_, err := r.Operation("op1")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				_, err = r.OperationFor("todoitem", "abc")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				g.Expect(r.Operations()).To(BeEmpty())
			})
		}},
		{"OperationFor matches table and item case-insensitively", func(ctx context.Context, g Gomega, s store.Store) {
			op := newOp("op1", "TodoItem", "AbC", 1)
			putOps(ctx, g, s, op, newOp("op2", "TodoItem", "other", 2), newOp("op3", "notes", "AbC", 3))
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.OperationFor("todoitem", "ABC")).To(Equal(op), "Table and ItemID keep their spelling")
				_, err := r.OperationFor("todoitem", "missing")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				_, err = r.OperationFor("missing", "abc")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				_, err = r.Operation("missing")
				g.Expect(err).To(MatchError(store.ErrNotFound))
			})
		}},
		{"an item has at most one operation", func(ctx context.Context, g Gomega, s store.Store) {
			op1 := newOp("op1", "todo", "a", 1)
			putOps(ctx, g, s, op1)
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutOperation(newOp("op2", "TODO", "A", 2))).To(MatchError(store.ErrInvalid), "against a committed one")
				g.Expect(w.PutOperation(newOp("op3", "todo", "b", 3))).To(Succeed())
				g.Expect(w.PutOperation(newOp("op4", "todo", "B", 4))).To(MatchError(store.ErrInvalid), "against one of the same Update")
			})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Operations()).To(Equal([]store.Operation{op1, newOp("op3", "todo", "b", 3)}), "the refused ones are not stored")
			})
			// Moving or deleting an operation frees its item, also within one Update.
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutOperation(newOp("op1", "todo", "c", 1))).To(Succeed())
				g.Expect(w.PutOperation(newOp("op2", "todo", "a", 2))).To(Succeed())
				g.Expect(w.DeleteOperation("op3")).To(Succeed())
				g.Expect(w.PutOperation(newOp("op4", "todo", "b", 4))).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				for item, id := range map[string]string{"a": "op2", "b": "op4", "c": "op1"} {
					o, err := r.OperationFor("todo", item)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(o.ID).To(Equal(id), "item %s", item)
				}
			})
		}},
		{"Operations are in Sequence order and filtered by table case-insensitively", func(ctx context.Context, g Gomega, s store.Store) {
			putOps(ctx, g, s, newOp("s5", "t1", "a", 5), newOp("s2", "T2", "a", 2))
			putOps(ctx, g, s, newOp("s9", "T1", "b", 9), newOp("s1", "t3", "a", 1))
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Operations()).To(WithTransform(opIDs, Equal([]string{"s1", "s2", "s5", "s9"})))
				g.Expect(r.Operations("t1")).To(WithTransform(opIDs, Equal([]string{"s5", "s9"})))
				g.Expect(r.Operations("t3", "T1")).To(WithTransform(opIDs, Equal([]string{"s1", "s5", "s9"})))
				g.Expect(r.Operations("t2", "t2")).To(WithTransform(opIDs, Equal([]string{"s2"})))
				g.Expect(r.Operations("none")).To(BeEmpty())
			})
		}},
		{"MaxSequence is the greatest Sequence queued", func(ctx context.Context, g Gomega, s store.Store) {
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.MaxSequence()).To(BeZero(), "an empty store")
				g.Expect(w.PutOperation(newOp("a", "t", "a", 7))).To(Succeed())
				g.Expect(w.PutOperation(newOp("b", "t", "b", 3))).To(Succeed())
				g.Expect(w.MaxSequence()).To(Equal(int64(7)), "the Update's own operations")
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.MaxSequence()).To(Equal(int64(7)))
				g.Expect(w.DeleteOperation("a")).To(Succeed())
				g.Expect(w.MaxSequence()).To(Equal(int64(3)), "after deleting the greatest")
				g.Expect(w.PutOperation(newOp("b", "t", "b", 11))).To(Succeed())
				g.Expect(w.MaxSequence()).To(Equal(int64(11)), "after replacing one")
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.MaxSequence()).To(Equal(int64(11)))
				g.Expect(w.DeleteOperation("b")).To(Succeed())
				g.Expect(w.MaxSequence()).To(BeZero())
			})
		}},
		{"an operation's Item is copied in and out", func(ctx context.Context, g Gomega, s store.Store) {
			item := map[string]any{"id": "a", "n": 1, "nested": map[string]any{"k": "v"}}
			want := map[string]any{"id": "a", "n": 1.0, "nested": map[string]any{"k": "v"}}
			op := newOp("op1", "todo", "a", 1)
			op.Kind, op.Item = store.Delete, item
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutOperation(op)).To(Succeed())
				item["n"], item["nested"].(map[string]any)["k"] = 2, "changed"
			})
			view(ctx, g, s, func(r store.Reader) {
				got, err := r.Operation("op1")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got.Item).To(Equal(want))
				got.Item["n"], got.Item["nested"].(map[string]any)["k"] = 3.0, "changed"
				ops, err := r.Operations()
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(ops).To(HaveLen(1))
				g.Expect(ops[0].Item).To(Equal(want))
				ops[0].Item["added"] = true
				got, err = r.OperationFor("todo", "a")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got.Item).To(Equal(want))
			})
			putOps(ctx, g, s, newOp("op2", "todo", "b", 2))
			view(ctx, g, s, func(r store.Reader) {
				got, err := r.Operation("op2")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got.Item).To(BeNil(), "no Item stays none")
			})
		}},
		{"deleting an operation keeps its error", func(ctx context.Context, g Gomega, s store.Store) {
			putOps(ctx, g, s, newOp("op1", "todo", "a", 1))
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutError(store.OperationError{OperationID: "op1", Status: 412, Sequence: 1})).To(Succeed())
			})
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.DeleteOperation("op1")).To(Succeed()) })
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Error("op1")).To(HaveField("Status", 412))
			})
		}},
	}
}

// invalidOperationChecks: PutOperation refuses an incomplete operation and stores nothing.
func invalidOperationChecks() []Check {
	type invalidCase struct {
		name  string
		spoil func(*store.Operation)
	}
	cases := []invalidCase{
		{"no ID", func(o *store.Operation) { o.ID = "" }},
		{"no Table", func(o *store.Operation) { o.Table = "" }},
		{"no ItemID", func(o *store.Operation) { o.ItemID = "" }},
		{"no Kind", func(o *store.Operation) { o.Kind = "" }},
		{"no State", func(o *store.Operation) { o.State = "" }},
		{"an Item json cannot encode", func(o *store.Operation) { o.Item = map[string]any{"v": math.NaN()} }},
	}
	var checks []Check
	for _, c := range cases {
		checks = append(checks, Check{"an operation with " + c.name + " is refused", func(ctx context.Context, g Gomega, s store.Store) {
			op := newOp("op1", "todo", "a", 1)
			c.spoil(&op)
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutOperation(op)).To(MatchError(store.ErrInvalid))
			})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Operations()).To(BeEmpty())
				_, err := r.OperationFor("todo", "a")
				g.Expect(err).To(MatchError(store.ErrNotFound))
			})
		}})
	}
	return checks
}

func errorChecks() []Check {
	return []Check{
		{"an error is recorded, replaced and deleted", func(ctx context.Context, g Gomega, s store.Store) {
			e := store.OperationError{
				OperationID: "op1", OperationVersion: 2, Kind: store.Update, Table: "todo", ItemID: "a",
				Status: 412, Message: "precondition failed", Item: map[string]any{"id": "a", "n": 1.0},
				RawResponse: []byte(`{"id":"a"}`), ServerItem: map[string]any{"id": "a", "version": "AAA="}, Sequence: 4,
			}
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.PutError(e)).To(Succeed()) })
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.Error("op1")).To(Equal(e)) })
			e.Status, e.Message, e.ServerItem, e.RawResponse = 500, "boom", nil, nil
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.PutError(e)).To(Succeed()) })
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Error("op1")).To(Equal(e))
				g.Expect(r.Errors()).To(Equal([]store.OperationError{e}))
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.DeleteError("op1")).To(Succeed())
				g.Expect(w.DeleteError("op1")).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				_, err := r.Error("op1")
				g.Expect(err).To(MatchError(store.ErrNotFound))
				g.Expect(r.Errors()).To(BeEmpty())
			})
		}},
		{"Errors are in Sequence order, then by operation ID", func(ctx context.Context, g Gomega, s store.Store) {
			update(ctx, g, s, func(w store.Writer) {
				// Several ties, so that an order left to chance is unlikely to pass.
				for _, e := range []store.OperationError{
					{OperationID: "c", Sequence: 5}, {OperationID: "z", Sequence: 1}, {OperationID: "b", Sequence: 5}, {OperationID: "a", Sequence: 9},
					{OperationID: "f", Sequence: 5}, {OperationID: "e", Sequence: 5}, {OperationID: "d", Sequence: 5}, {OperationID: "B", Sequence: 5},
				} {
					g.Expect(w.PutError(e)).To(Succeed())
				}
			})
			view(ctx, g, s, func(r store.Reader) {
				errs, err := r.Errors()
				g.Expect(err).NotTo(HaveOccurred())
				var got []string
				for _, e := range errs {
					got = append(got, e.OperationID)
				}
				g.Expect(got).To(Equal([]string{"z", "B", "b", "c", "d", "e", "f", "a"}))
			})
		}},
		{"an error's items and raw response are copied in and out", func(ctx context.Context, g Gomega, s store.Store) {
			raw := []byte(`{"id":"a"}`)
			e := store.OperationError{OperationID: "op1", Item: map[string]any{"n": 1}, ServerItem: map[string]any{"n": 2}, RawResponse: raw}
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutError(e)).To(Succeed())
				raw[0], e.Item["n"], e.ServerItem["n"] = 'X', 10, 20
			})
			want := store.OperationError{OperationID: "op1", Item: map[string]any{"n": 1.0}, ServerItem: map[string]any{"n": 2.0}, RawResponse: []byte(`{"id":"a"}`)}
			view(ctx, g, s, func(r store.Reader) {
				got, err := r.Error("op1")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(want))
				got.RawResponse[0], got.Item["n"], got.ServerItem["n"] = 'Y', 30.0, 40.0
				all, err := r.Errors()
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(all).To(Equal([]store.OperationError{want}))
				all[0].RawResponse[0], all[0].Item["n"] = 'Z', 50.0
				g.Expect(r.Error("op1")).To(Equal(want))
			})
		}},
	}
}

func configChecks() []Check {
	return []Check{
		{"a value is set, overwritten and deleted", func(ctx context.Context, g Gomega, s store.Store) {
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.SetConfig("k", "v1")).To(Succeed())
				g.Expect(w.SetConfig("empty", "")).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				v, ok, err := r.Config("k")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect([]any{v, ok}).To(Equal([]any{"v1", true}))
				v, ok, err = r.Config("empty")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect([]any{v, ok}).To(Equal([]any{"", true}), "an empty value is set")
				_, ok, err = r.Config("K")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(ok).To(BeFalse(), "keys are case-sensitive")
			})
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.SetConfig("k", "v2")).To(Succeed()) })
			view(ctx, g, s, func(r store.Reader) {
				v, _, err := r.Config("k")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(v).To(Equal("v2"))
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.DeleteConfig("k")).To(Succeed())
				g.Expect(w.DeleteConfig("k")).To(Succeed())
				g.Expect(w.DeleteConfig("never")).To(Succeed())
			})
			view(ctx, g, s, func(r store.Reader) {
				v, ok, err := r.Config("k")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect([]any{v, ok}).To(Equal([]any{"", false}))
				g.Expect(r.ConfigKeys("")).To(Equal([]string{"empty"}))
			})
		}},
		{"ConfigKeys lists the keys with a prefix, sorted, case-sensitively", func(ctx context.Context, g Gomega, s store.Store) {
			update(ctx, g, s, func(w store.Writer) {
				for _, k := range []string{"deltaToken|todo|q1", "other", "deltaToken|Todo|q2", "DeltaToken|todo|x", "deltaToken|todo|a"} {
					g.Expect(w.SetConfig(k, "v")).To(Succeed())
				}
			})
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.SetConfig("deltaToken|todo|0", "v")).To(Succeed())
				g.Expect(w.DeleteConfig("deltaToken|todo|q1")).To(Succeed())
				g.Expect(w.ConfigKeys("deltaToken|todo|")).To(Equal([]string{"deltaToken|todo|0", "deltaToken|todo|a"}), "inside the Update")
			})
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.ConfigKeys("deltaToken|todo|")).To(Equal([]string{"deltaToken|todo|0", "deltaToken|todo|a"}))
				g.Expect(r.ConfigKeys("")).To(Equal([]string{"DeltaToken|todo|x", "deltaToken|Todo|q2", "deltaToken|todo|0", "deltaToken|todo|a", "other"}))
				g.Expect(r.ConfigKeys("deltatoken")).To(BeEmpty())
			})
		}},
	}
}
