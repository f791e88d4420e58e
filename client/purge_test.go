package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// purgeSnapshot is everything a purge may change on a device, as plain values.
type purgeSnapshot struct {
	IDs      []string
	Rows     map[string]client.Item
	Queue    []string
	Errors   []string // "table/item status"
	Tokens   map[string]string
	Other    []client.Item // the rows of table "other"
	Requests int
}

func purgeSnap(w *world, d *device, tokens ...string) purgeSnapshot {
	GinkgoHelper()
	ctx := context.Background()
	s := purgeSnapshot{IDs: d.ids(), Rows: map[string]client.Item{}, Queue: d.queue(), Errors: []string{},
		Tokens: map[string]string{}, Requests: len(w.srv.History())}
	for _, id := range s.IDs {
		s.Rows[id] = d.row(id)
	}
	for _, e := range d.errs() {
		s.Errors = append(s.Errors, e.Table+"/"+e.ItemID+" "+http.StatusText(e.Status))
	}
	for _, t := range tokens {
		table, q, _ := strings.Cut(t, "|")
		tok, err := d.sc.DeltaToken(ctx, table, q)
		Expect(err).NotTo(HaveOccurred())
		s.Tokens[t] = tok
	}
	other, err := d.sc.Table("other").Read(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	s.Other = other
	return s
}

var _ = Describe("purge", func() {
	var (
		w   *world
		d   *device
		ctx context.Context
	)
	BeforeEach(func() {
		ctx = context.Background()
		w = newWorld(fakeserver.Config{})
		d = w.device(nil)
	})

	// dirty gives the device pulled rows a, b, c, delta tokens q1 and q2, a row and token in
	// table other, and a queued update of a whose push recorded a 412.
	dirty := func() {
		GinkgoHelper()
		for _, r := range []struct{ id, text string }{{"a", "keep"}, {"b", "drop"}, {"c", "drop"}} {
			_, err := w.srv.Insert("todoitem", map[string]any{"id": r.id, "text": r.text})
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := w.srv.Insert("other", map[string]any{"id": "o", "text": "other"})
		Expect(err).NotTo(HaveOccurred())
		Expect(d.todo.Pull(ctx, nil, "q1")).To(Succeed())
		Expect(d.todo.Pull(ctx, client.NewQuery().Where("text eq 'keep'"), "q2")).To(Succeed())
		Expect(d.sc.Table("other").Pull(ctx, nil, "q1")).To(Succeed())
		_, err = w.srv.Write("todoitem", "a", map[string]any{"text": "theirs"})
		Expect(err).NotTo(HaveOccurred())
		d.update(client.Item{"id": "a", "text": "mine"})
		_, pf := d.pushFails()
		Expect(pf.Errors).To(HaveLen(1))
		Expect(d.queue()).To(Equal([]string{"update a"}))
	}

	Describe("not forced", func() {
		It("fails with ErrPurgePendingChanges on a table with queued operations and changes nothing", func() {
			dirty()
			before := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(before.Tokens["todoitem|q1"]).NotTo(BeEmpty())
			Expect(before.Errors).To(Equal([]string{"todoitem/a Precondition Failed"}))
			for _, q := range []*client.Query{nil, client.NewQuery().Where("text eq 'drop'")} {
				err := d.todo.Purge(ctx, q, "q1", false)
				Expect(err).To(MatchError(client.ErrPurgePendingChanges))
				var se *client.SyncError
				Expect(errors.As(err, &se)).To(BeTrue())
				Expect(se.Code).To(Equal(-1180))
				Expect(purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")).To(Equal(before))
			}
		})

		It("counts an insert as a queued operation", func() {
			d.insert(client.Item{"id": "n", "text": "new"})
			Expect(d.todo.Purge(ctx, nil, "", false)).To(MatchError(client.ErrPurgePendingChanges))
			Expect(d.ids()).To(Equal([]string{"n"}))
			Expect(d.queue()).To(Equal([]string{"insert n"}))
		})

		It("counts a delete as a queued operation", func() {
			w.seed("x", "server", d)
			w.seed("y", "server", d)
			d.delete(client.Item{"id": "x"})
			Expect(d.todo.Purge(ctx, nil, "", false)).To(MatchError(client.ErrPurgePendingChanges))
			Expect(d.ids()).To(Equal([]string{"y"}))
			Expect(d.queue()).To(Equal([]string{"delete x"}))
		})

		It("is not stopped by another table's queued operations", func() {
			w.seed("a", "one", d)
			_, err := d.sc.Table("other").Insert(ctx, client.Item{"id": "o", "text": "queued"})
			Expect(err).NotTo(HaveOccurred())
			Expect(d.todo.Purge(ctx, nil, "", false)).To(Succeed())
			Expect(d.ids()).To(BeEmpty())
			Expect(d.queue()).To(Equal([]string{"insert o"}))
			o, err := d.sc.Table("other").Lookup(ctx, "o")
			Expect(err).NotTo(HaveOccurred())
			Expect(o["text"]).To(Equal("queued"))
		})

		It("deletes exactly the rows the query matches, keeps tokens, and sends nothing", func() {
			dirty()
			// Resolve a's conflict so the table is clean.
			Expect(d.errs()[0].CancelAndUpdateItem(ctx, d.errs()[0].ServerItem)).To(Succeed())
			Expect(d.queue()).To(BeEmpty())
			before := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(before.IDs).To(Equal([]string{"a", "b", "c"}))

			Expect(d.todo.Purge(ctx, client.NewQuery().Where("text eq 'drop'"), "", false)).To(Succeed())
			after := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(after.IDs).To(Equal([]string{"a"}))
			Expect(after.Rows["a"]).To(Equal(before.Rows["a"]))
			Expect(after.Tokens).To(Equal(before.Tokens), "no query id: no token is reset")
			Expect(after.Other).To(Equal(before.Other))
			Expect(after.Requests).To(Equal(before.Requests), "a purge never touches the network")
		})

		It("matches the filter as the server would (case-insensitive functions, missing properties)", func() {
			for _, r := range []map[string]any{
				{"id": "a", "text": "Buy eggs"}, {"id": "b", "text": "walk"}, {"id": "c"}, {"id": "d", "text": "BUY milk"},
			} {
				_, err := w.srv.Insert("todoitem", r)
				Expect(err).NotTo(HaveOccurred())
			}
			d.pull()
			Expect(d.todo.Purge(ctx, client.NewQuery().Where("startswith(tolower(text), 'buy')"), "", false)).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"b", "c"}))
			Expect(d.todo.Purge(ctx, client.NewQuery().Where("text eq null"), "", false)).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"b"}))
		})

		It("deletes every row when the query is nil, and resets the given query id's token only", func() {
			dirty()
			Expect(d.errs()[0].CancelAndUpdateItem(ctx, d.errs()[0].ServerItem)).To(Succeed())
			before := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(before.Tokens["todoitem|q2"]).NotTo(BeEmpty())

			Expect(d.todo.Purge(ctx, nil, "q1", false)).To(Succeed())
			after := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(after.IDs).To(BeEmpty())
			Expect(after.Tokens).To(Equal(map[string]string{
				"todoitem|q1": "", "todoitem|q2": before.Tokens["todoitem|q2"], "other|q1": before.Tokens["other|q1"]}))
			Expect(after.Other).To(Equal(before.Other))
			Expect(after.Requests).To(Equal(before.Requests))

			By("the next incremental pull under q1 starts again from 1970 and brings every row back")
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "q1")).To(Succeed())
			Expect(pullGets(w, seq, "todoitem")[0].Get("$filter")).To(ContainSubstring("1970-01-01T00:00:00.000Z"))
			Expect(d.ids()).To(Equal([]string{"a", "b", "c"}))
		})

		It("succeeds on an empty table and resets a token", func() {
			pullSeedRows(w, 1)
			Expect(d.todo.Pull(ctx, nil, "q")).To(Succeed())
			Expect(d.todo.Purge(ctx, client.NewQuery().Where("text eq 'nothing'"), "q", false)).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"r00"}))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "q")).To(Equal(""))
		})
	})

	Describe("forced", func() {
		It("deletes the table's operations, their errors, all its tokens and rows, and nothing of another table", func() {
			dirty()
			d.insert(client.Item{"id": "n", "text": "new"})
			// A failed operation in table other: an insert of an id the server has.
			_, err := d.sc.Table("other").Insert(ctx, client.Item{"id": "o2", "text": "mine"})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Insert("other", map[string]any{"id": "o2", "text": "theirs"})
			Expect(err).NotTo(HaveOccurred())
			_, pf := d.pushFails()
			Expect(pf.Errors).To(HaveLen(2))
			Expect(d.queue()).To(Equal([]string{"update a", "insert o2"}), "n went through")
			before := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(before.Errors).To(Equal([]string{"todoitem/a Precondition Failed", "other/o2 Conflict"}))

			Expect(d.todo.Purge(ctx, client.NewQuery().Where("text eq 'drop'"), "q1", true)).To(Succeed())
			after := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(after.IDs).To(BeEmpty(), "a forced purge deletes every row, whatever the query")
			Expect(after.Queue).To(Equal([]string{"insert o2"}))
			Expect(after.Errors).To(Equal([]string{"other/o2 Conflict"}))
			Expect(after.Tokens).To(Equal(map[string]string{
				"todoitem|q1": "", "todoitem|q2": "", "other|q1": before.Tokens["other|q1"]}))
			Expect(after.Other).To(Equal(before.Other))
			Expect(after.Requests).To(Equal(before.Requests), "a purge never touches the network")

			By("the purged table pushes nothing; the other table's operation is still there")
			seq := w.lastSeq()
			_, pf = d.pushFails()
			Expect(w.requests(seq)).To(Equal([]string{"POST /tables/other 409"}))
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].ItemID).To(Equal("o2"))
		})

		It("does not take the tokens of a table whose name starts with this one's", func() {
			w.seed("a", "one", d)
			_, err := w.srv.Insert("todoitem2", map[string]any{"id": "z", "text": "two"})
			Expect(err).NotTo(HaveOccurred())
			Expect(d.todo.Pull(ctx, nil, "q")).To(Succeed())
			Expect(d.sc.Table("todoitem2").Pull(ctx, nil, "q")).To(Succeed())
			tok2, err := d.sc.DeltaToken(ctx, "todoitem2", "q")
			Expect(err).NotTo(HaveOccurred())
			Expect(tok2).NotTo(BeEmpty())
			Expect(d.todo.Purge(ctx, nil, "", true)).To(Succeed())
			Expect(d.sc.DeltaToken(ctx, "todoitem", "q")).To(Equal(""))
			Expect(d.sc.DeltaToken(ctx, "todoitem2", "q")).To(Equal(tok2))
			rows, err := d.sc.Table("todoitem2").Read(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(rows).To(HaveLen(1))
		})

		It("fails at once with ErrPurgePendingChanges while an operation of the table is being pushed", func() {
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			DeferCleanup(func() { once.Do(func() { close(release) }) })
			h := client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
				if op.ItemID() == "n" {
					close(entered)
					<-release
				}
				return op.Execute(ctx)
			}}
			d = w.device(h)
			w.seed("a", "one", d)
			d.insert(client.Item{"id": "n", "text": "new"})
			pushed := make(chan error, 1)
			go func() {
				defer GinkgoRecover()
				_, err := d.sc.Push(ctx)
				pushed <- err
			}()
			Eventually(entered).Should(BeClosed())

			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			err := d.todo.Purge(pctx, nil, "", true)
			Expect(err).To(MatchError(client.ErrPurgePendingChanges))
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second), "it does not wait for the push")
			Expect(d.ids()).To(Equal([]string{"a", "n"}))
			Expect(d.queue()).To(Equal([]string{"insert n"}))

			By("a forced purge of another table waits for the push instead, then runs")
			purged := make(chan error, 1)
			go func() {
				defer GinkgoRecover()
				purged <- d.sc.Table("other").Purge(ctx, nil, "", true)
			}()
			Consistently(purged, 100*time.Millisecond).ShouldNot(Receive())

			once.Do(func() { close(release) })
			Eventually(pushed).Should(Receive(BeNil()))
			Eventually(purged).Should(Receive(BeNil()))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.row("n")).To(Equal(client.Item(w.serverRow("n"))))

			By("once the push is over, the forced purge goes through")
			Expect(d.todo.Purge(ctx, nil, "", true)).To(Succeed())
			Expect(d.ids()).To(BeEmpty())
		})
	})

	Describe("with PurgePushesFirst", func() {
		BeforeEach(func() { d = w.device(nil, client.PurgePushesFirst()) })

		It("pushes the queued operations, then purges", func() {
			w.seed("a", "one", d)
			w.seed("b", "two", d)
			Expect(d.todo.Pull(ctx, nil, "q")).To(Succeed())
			d.insert(client.Item{"id": "n", "text": "new"})
			d.update(client.Item{"id": "a", "text": "changed"})
			seq := w.lastSeq()
			Expect(d.todo.Purge(ctx, client.NewQuery().Where("text ne 'two'"), "q", false)).To(Succeed())
			Expect(w.requests(seq)).To(Equal([]string{"POST /tables/todoitem 201", "PATCH /tables/todoitem/a 200"}))
			Expect(w.serverRow("n")["text"]).To(Equal("new"))
			Expect(w.serverRow("a")["text"]).To(Equal("changed"))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.ids()).To(Equal([]string{"b"}), "the pushed rows matched the filter and were purged")
			Expect(d.sc.DeltaToken(ctx, "todoitem", "q")).To(Equal(""))
		})

		It("sends nothing when the table is clean", func() {
			w.seed("a", "one", d)
			seq := w.lastSeq()
			Expect(d.todo.Purge(ctx, nil, "", false)).To(Succeed())
			Expect(w.requests(seq)).To(BeEmpty())
			Expect(d.ids()).To(BeEmpty())
		})

		It("returns the push's error and deletes nothing when the push fails", func() {
			dirty()
			d.insert(client.Item{"id": "n", "text": "new"})
			before := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			seq := w.lastSeq()
			err := d.todo.Purge(ctx, nil, "q1", false)
			var pf *client.PushFailedError
			Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
			Expect(err).To(MatchError(client.ErrPreconditionFailed))
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].ItemID).To(Equal("a"))
			Expect(w.requests(seq)).To(Equal([]string{"PATCH /tables/todoitem/a 412", "POST /tables/todoitem 201"}))
			after := purgeSnap(w, d, "todoitem|q1", "todoitem|q2", "other|q1")
			Expect(after.IDs).To(Equal(before.IDs))
			Expect(after.Rows["a"]).To(Equal(before.Rows["a"]))
			Expect(after.Rows["b"]).To(Equal(before.Rows["b"]))
			Expect(after.Rows["n"]).To(Equal(client.Item(w.serverRow("n"))), "n was pushed before the purge gave up")
			Expect(after.Queue).To(Equal([]string{"update a"}))
			Expect(after.Errors).To(Equal(before.Errors))
			Expect(after.Tokens).To(Equal(before.Tokens))
		})

		It("leaves a forced purge as it is: no push", func() {
			w.seed("a", "one", d)
			d.insert(client.Item{"id": "n", "text": "new"})
			seq := w.lastSeq()
			Expect(d.todo.Purge(ctx, nil, "", true)).To(Succeed())
			Expect(w.requests(seq)).To(BeEmpty())
			Expect(d.ids()).To(BeEmpty())
			Expect(d.queue()).To(BeEmpty())
		})
	})

	DescribeTable("refuses queries that are more than a filter with ErrInvalidQuery, changing nothing",
		func(q *client.Query, queryID string, force bool) {
			w.seed("a", "one", d)
			Expect(d.todo.Pull(ctx, nil, "q")).To(Succeed())
			d.insert(client.Item{"id": "n", "text": "new"})
			before := purgeSnap(w, d, "todoitem|q")
			Expect(d.todo.Purge(ctx, q, queryID, force)).To(MatchError(client.ErrInvalidQuery))
			Expect(purgeSnap(w, d, "todoitem|q")).To(Equal(before))
		},
		Entry("Top", client.NewQuery().Top(1), "", false),
		Entry("Top, forced", client.NewQuery().Top(1), "", true),
		Entry("Top(0)", client.NewQuery().Top(0), "", true),
		Entry("OrderBy", client.NewQuery().OrderBy("text"), "", false),
		Entry("OrderBy, forced", client.NewQuery().OrderByDesc("text"), "q", true),
		Entry("Skip", client.NewQuery().Skip(1), "", true),
		Entry("Select", client.NewQuery().Select("text"), "", true),
		Entry("a bad filter", client.NewQuery().Where("text eq"), "", true),
		Entry("a query id with |", nil, "q|1", true),
		Entry("a query id of 256 characters", nil, strings.Repeat("q", 256), true),
	)
})
