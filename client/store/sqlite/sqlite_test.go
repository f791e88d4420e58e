package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/internal/odata"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// everything is what a Reader shows of a store, for comparing a store with itself reopened.
type everything struct {
	Rows   map[string][]map[string]any
	Ops    []store.Operation
	Errors []store.OperationError
	Config map[string]string
}

func readEverything(ctx context.Context, s store.Store, tables ...string) everything {
	GinkgoHelper()
	all := everything{Rows: map[string][]map[string]any{}, Config: map[string]string{}}
	Expect(s.View(ctx, func(r store.Reader) error {
		for _, t := range tables {
			rows, _, err := r.Rows(t, store.Query{})
			Expect(err).NotTo(HaveOccurred())
			all.Rows[t] = rows
		}
		var err error
		all.Ops, err = r.Operations()
		Expect(err).NotTo(HaveOccurred())
		all.Errors, err = r.Errors()
		Expect(err).NotTo(HaveOccurred())
		keys, err := r.ConfigKeys("")
		Expect(err).NotTo(HaveOccurred())
		for _, k := range keys {
			all.Config[k], _, err = r.Config(k)
			Expect(err).NotTo(HaveOccurred())
		}
		return nil
	})).To(Succeed())
	return all
}

var _ = Describe("sqlite store", func() {
	var (
		path string
		s    *sqlite.Store
		ctx  context.Context
	)
	BeforeEach(func() {
		path = filepath.Join(GinkgoT().TempDir(), "store.db")
		var err error
		s, err = sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { s.Close() })
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
		DeferCleanup(cancel)
	})
	reopen := func() {
		GinkgoHelper()
		Expect(s.Close()).To(Succeed())
		var err error
		s, err = sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
	}
	update := func(fn func(w store.Writer)) {
		GinkgoHelper()
		Expect(s.Update(ctx, func(w store.Writer) error { fn(w); return nil })).To(Succeed())
	}

	Describe("closed and opened again", func() {
		It("keeps every row, operation, error and config value, with their spellings", func() {
			update(func(w store.Writer) {
				Expect(w.PutRow("TodoItem", map[string]any{"id": "AbC", "text": "milk", "n": 1.5, "nested": map[string]any{"k": []any{"v", nil}}})).To(Succeed())
				Expect(w.PutRow("todoitem", map[string]any{"id": "abc", "Text": "milk, changed", "version": "AAA=", "updatedAt": "2014-06-09T23:40:04.297Z", "deleted": false})).To(Succeed())
				Expect(w.PutRow("todoitem", map[string]any{"id": "x1", "__version": "v1", "__updatedAt": "2014-06-10T00:00:00.000Z"})).To(Succeed())
				Expect(w.PutRow("Notes", map[string]any{"id": "N", "text": "héllo ☃ <&>"})).To(Succeed())
				Expect(w.PutOperation(store.Operation{ID: "op1", Kind: store.Delete, State: store.Failed, Table: "TodoItem", ItemID: "AbC",
					Item: map[string]any{"id": "AbC", "version": "AAA="}, Sequence: 7, Version: 3})).To(Succeed())
				Expect(w.PutOperation(store.Operation{ID: "op2", Kind: store.Insert, State: store.Pending, Table: "notes", ItemID: "n", Sequence: 8, Version: 1})).To(Succeed())
				Expect(w.PutError(store.OperationError{OperationID: "op1", OperationVersion: 3, Kind: store.Delete, Table: "TodoItem", ItemID: "AbC",
					Status: 412, Message: "precondition failed", Item: map[string]any{"id": "AbC"}, RawResponse: []byte(`{"id":"AbC"}`),
					ServerItem: map[string]any{"id": "AbC", "version": "BBB="}, Sequence: 7})).To(Succeed())
				Expect(w.PutError(store.OperationError{OperationID: "op2", Status: 500, RawResponse: []byte{}, Sequence: 8})).To(Succeed())
				Expect(w.PutError(store.OperationError{OperationID: "op3", Sequence: 9})).To(Succeed())
				Expect(w.SetConfig("deltaToken|todoitem|all", "2014-06-09T23:40:04.297Z")).To(Succeed())
				Expect(w.SetConfig("empty", "")).To(Succeed())
			})
			before := readEverything(ctx, s, "todoitem", "notes")
			Expect(before.Rows["todoitem"][0]).To(HaveKeyWithValue("id", "AbC"))
			Expect(before.Errors[1].RawResponse).To(Equal([]byte{}), "an empty response is not a missing one")
			Expect(before.Errors[2].RawResponse).To(BeNil())

			reopen()
			Expect(readEverything(ctx, s, "todoitem", "notes")).To(Equal(before))

			// And it carries on from there: the same tables, the first id spelling, the
			// recorded column spellings (so filters stay right).
			update(func(w store.Writer) {
				Expect(w.PutRow("TODOITEM", map[string]any{"id": "ABC", "TEXT": "third spelling"})).To(Succeed())
			})
			filter, err := odata.ParseFilter("text eq 'third spelling' or text eq 'milk, changed'")
			Expect(err).NotTo(HaveOccurred())
			Expect(s.View(ctx, func(r store.Reader) error {
				rows, total, err := r.Rows("todoItem", store.Query{Filter: filter})
				Expect(total).To(Equal(1))
				Expect(rows).To(Equal([]map[string]any{{"id": "AbC", "TEXT": "third spelling"}}))
				return err
			})).To(Succeed())
		})

		It("keeps what a committed Update wrote and nothing of one that failed", func() {
			update(func(w store.Writer) { Expect(w.SetConfig("committed", "yes")).To(Succeed()) })
			Expect(s.Update(ctx, func(w store.Writer) error {
				Expect(w.PutRow("todo", map[string]any{"id": "a"})).To(Succeed())
				Expect(w.SetConfig("failed", "yes")).To(Succeed())
				return errors.New("no")
			})).To(MatchError("no"))
			reopen()
			Expect(readEverything(ctx, s, "todo")).To(Equal(everything{
				Rows:   map[string][]map[string]any{"todo": {}},
				Ops:    []store.Operation{},
				Errors: []store.OperationError{},
				Config: map[string]string{"committed": "yes"},
			}))
		})
	})

	It("discards an Update that is running when the store closes", func() {
		Expect(s.Update(ctx, func(w store.Writer) error {
			Expect(w.SetConfig("k", "v")).To(Succeed())
			Expect(s.Close()).To(Succeed())
			_, _, err := w.Config("k")
			Expect(err).To(MatchError(store.ErrClosed))
			return nil
		})).To(MatchError(store.ErrClosed))
		reopen()
		Expect(readEverything(ctx, s).Config).To(BeEmpty())
	})

	It("fails the reads of a View running when the store closes with ErrClosed", func() {
		Expect(s.View(ctx, func(r store.Reader) error {
			Expect(s.Close()).To(Succeed())
			_, err := r.Operations()
			Expect(err).To(MatchError(store.ErrClosed))
			return nil
		})).To(Succeed())
	})

	It("does not make a View wait for an Update's fn", func() {
		inUpdate, release := make(chan struct{}), make(chan struct{})
		updated := make(chan error, 1)
		go func() {
			updated <- s.Update(ctx, func(w store.Writer) error {
				if err := w.SetConfig("k", "v"); err != nil {
					return err
				}
				close(inUpdate)
				<-release
				return nil
			})
		}()
		Eventually(inUpdate).Should(BeClosed())
		quick, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		Expect(s.View(quick, func(r store.Reader) error {
			_, ok, err := r.Config("k")
			Expect(ok).To(BeFalse(), "the Update has not committed")
			return err
		})).To(Succeed())
		close(release)
		Eventually(updated).Should(Receive(BeNil()))
	})

	It("lets goroutines share a Writer inside fn", func() {
		update(func(w store.Writer) {
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					defer GinkgoRecover()
					Expect(w.PutRow("todo", map[string]any{"id": fmt.Sprint(i)})).To(Succeed())
					Expect(w.PutOperation(store.Operation{ID: fmt.Sprint(i), Kind: store.Insert, State: store.Pending, Table: "todo", ItemID: fmt.Sprint(i)})).To(Succeed())
				})
			}
			wg.Wait()
		})
		all := readEverything(ctx, s, "todo")
		Expect(all.Rows["todo"]).To(HaveLen(20))
		Expect(all.Ops).To(HaveLen(20))
	})

	It("refuses a write through a View's Reader", func() {
		Expect(s.View(ctx, func(r store.Reader) error {
			w, ok := r.(store.Writer)
			Expect(ok).To(BeTrue())
			Expect(w.PutRow("todo", map[string]any{"id": "a"})).To(HaveOccurred())
			Expect(w.SetConfig("k", "v")).To(HaveOccurred())
			return nil
		})).To(Succeed())
		Expect(readEverything(ctx, s, "todo")).To(Equal(everything{
			Rows: map[string][]map[string]any{"todo": {}}, Ops: []store.Operation{}, Errors: []store.OperationError{}, Config: map[string]string{},
		}))
	})

	It("sees what another Store on the same file committed, tables it created included", func() {
		other, err := sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer other.Close()
		// Both learn of no table; the other creates one, then this one writes to it.
		Expect(other.Update(ctx, func(w store.Writer) error {
			return w.PutRow("todo", map[string]any{"id": "a", "Text": "from the other"})
		})).To(Succeed())
		update(func(w store.Writer) {
			Expect(w.PutRow("TODO", map[string]any{"id": "b", "text": "from this one"})).To(Succeed())
		})
		// An operation the other queued is there for this one's writes to see.
		Expect(other.Update(ctx, func(w store.Writer) error {
			return w.PutOperation(store.Operation{ID: "op1", Kind: store.Update, State: store.Pending, Table: "todo", ItemID: "B", Sequence: 1})
		})).To(Succeed())
		update(func(w store.Writer) {
			Expect(w.OperationFor("todo", "b")).To(HaveField("ID", "op1"))
			Expect(w.PutOperation(store.Operation{ID: "op2", Kind: store.Update, State: store.Pending, Table: "todo", ItemID: "b", Sequence: 2})).
				To(MatchError(store.ErrInvalid))
			Expect(w.DeleteOperation("op1")).To(Succeed())
		})
		Expect(other.Update(ctx, func(w store.Writer) error {
			_, err := w.OperationFor("TODO", "b")
			Expect(err).To(MatchError(store.ErrNotFound))
			return w.PutOperation(store.Operation{ID: "op3", Kind: store.Update, State: store.Pending, Table: "todo", ItemID: "b", Sequence: 3})
		})).To(Succeed())
		update(func(w store.Writer) { Expect(w.OperationFor("todo", "b")).To(HaveField("ID", "op3")) })
		// Two spellings of one column, from two writers: a filter on it must still be right.
		filter, err := odata.ParseFilter("startswith(text, 'from')")
		Expect(err).NotTo(HaveOccurred())
		for _, st := range []*sqlite.Store{s, other} {
			Expect(st.View(ctx, func(r store.Reader) error {
				rows, total, err := r.Rows("todo", store.Query{Filter: filter})
				Expect(total).To(Equal(2))
				Expect(rows).To(Equal([]map[string]any{{"id": "a", "Text": "from the other"}, {"id": "b", "text": "from this one"}}))
				return err
			})).To(Succeed())
		}
	})

	// Rows picks candidates in SQL: each answer must be Query.Apply's over every row, also
	// where a column has several spellings across rows (SQL's JSON paths are exact, filters
	// are not), and DeleteRows must remove what the same filter matches.
	DescribeTable("answers a filter as Query.Apply does where spellings vary",
		func(filter, orderBy string, skip, top int) {
			rows := []map[string]any{
				{"id": "a1", "text": "Apples", "n": 3.0, "done": false, "when": "2014-06-09T23:40:04.297Z"},
				{"id": "B2", "Text": "bread", "n": "3", "done": true, "when": "2014-06-10T01:00:00Z"},
				{"id": "c3", "TEXT": "cheese", "N": 2.0, "done": nil},
				{"id": "d4", "text": "dates", "Text": "Dates", "n": 1.0, "Done": true, "when": "not a date"},
				{"id": "e5", "other": "x", "n": []any{3.0}, "done": map[string]any{"k": true}, "when": 42.0},
				{"id": "f6", "text": "figs", "n": 3.0, "done": false, "when": "2014-06-09T23:40:04.296Z"},
			}
			update(func(w store.Writer) {
				for _, r := range rows {
					Expect(w.PutRow("todo", r)).To(Succeed())
				}
				Expect(w.PutRow("other", map[string]any{"id": "a1", "text": "Apples", "n": 3.0})).To(Succeed())
			})
			q := store.Query{Skip: skip, Top: top}
			var err error
			if filter != "" {
				q.Filter, err = odata.ParseFilter(filter)
				Expect(err).NotTo(HaveOccurred())
			}
			if orderBy != "" {
				q.OrderBy, err = odata.ParseOrderBy(orderBy)
				Expect(err).NotTo(HaveOccurred())
			}
			want, wantTotal := q.Apply(rows)
			Expect(s.View(ctx, func(r store.Reader) error {
				got, total, err := r.Rows("todo", q)
				Expect(got).To(Equal(want))
				Expect(total).To(Equal(wantTotal))
				return err
			})).To(Succeed())
			_, matching := store.Query{Filter: q.Filter}.Apply(rows)
			Expect(s.Update(ctx, func(w store.Writer) error {
				Expect(w.DeleteRows("todo", q.Filter)).To(Equal(matching))
				_, left, err := w.Rows("todo", store.Query{})
				Expect(left).To(Equal(len(rows) - matching))
				return errors.Join(err, errors.New("roll back"))
			})).To(MatchError("roll back"))
		},
		Entry("a column with one spelling", "other eq 'x'", "", 0, 0),
		Entry("a column with three spellings", "text eq 'bread'", "", 0, 0),
		Entry("the spelling odata picks when a row has two", "text eq 'Dates'", "", 0, 0),
		Entry("a spelling no row has exactly", "TeXt ne 'x'", "", 0, 0),
		Entry("a column no row has", "missing eq null", "", 0, 0),
		Entry("numbers and strings", "n eq 3", "", 0, 0),
		Entry("a number column spelled two ways", "n lt 3", "", 0, 0),
		Entry("booleans, nulls and objects", "done or not done", "", 0, 0),
		Entry("a boolean spelled two ways", "done eq true", "", 0, 0),
		Entry("dates and strings that are not dates", "when ge datetimeoffset'2014-06-09T23:40:04.297Z'", "", 0, 0),
		Entry("functions over spellings", "startswith(tolower(text), 'd') or length(text) eq 6", "", 0, 0),
		Entry("a page without order", "n ne 1", "", 1, 2),
		Entry("a page in order", "n ne 1", "text desc", 1, 2),
		Entry("every row, paged", "", "", 2, 3),
		Entry("a page past the end", "done", "", 10, 3),
	)
})
