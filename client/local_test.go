package client_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

var _ = Describe("local writes", func() {
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

	It("generates an id, strips server-owned columns, keeps version, queues an insert", func() {
		it := d.insert(client.Item{"text": "a", "createdAt": "x", "updatedAt": "y", "deleted": false, "version": "v"})
		Expect(it["id"]).To(MatchRegexp(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`))
		Expect(it).To(Equal(client.Item{"id": it["id"], "text": "a", "version": "v"}))
		Expect(d.row(it["id"].(string))).To(Equal(it))
		Expect(d.queue()).To(Equal([]string{"insert " + it["id"].(string)}))
		op := d.op(it["id"].(string))
		Expect(op.State).To(BeEquivalentTo("pending"))
		Expect(op.Version).To(BeEquivalentTo(1))
		Expect(op.Item).To(BeNil())
		Expect(w.srv.History()).To(BeEmpty(), "a local write sends nothing")
	})

	It("does not change the caller's map", func() {
		item := client.Item{"text": "a", "updatedAt": "y"}
		d.insert(item)
		Expect(item).To(Equal(client.Item{"text": "a", "updatedAt": "y"}))
	})

	It("refuses an insert of an id that exists locally, changing nothing", func() {
		w.seed("a", "server", d)
		_, err := d.todo.Insert(ctx, client.Item{"id": "A", "text": "mine"})
		Expect(err).To(MatchError(client.ErrInvalidOperation))
		Expect(err.Error()).To(ContainSubstring("already exists"))
		Expect(d.row("a")["text"]).To(Equal("server"))
		Expect(d.queue()).To(BeEmpty())
	})

	DescribeTable("refuses bad items with ErrInvalidOperation and changes nothing",
		func(write func(*client.SyncTable) error) {
			Expect(write(d.todo)).To(MatchError(client.ErrInvalidOperation))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.ids()).To(BeEmpty())
		},
		Entry("nil insert", func(t *client.SyncTable) error { _, err := t.Insert(context.Background(), nil); return err }),
		Entry("numeric id", func(t *client.SyncTable) error {
			_, err := t.Insert(context.Background(), client.Item{"id": 7})
			return err
		}),
		Entry("id with /", func(t *client.SyncTable) error {
			_, err := t.Insert(context.Background(), client.Item{"id": "a/b"})
			return err
		}),
		Entry("empty id", func(t *client.SyncTable) error {
			_, err := t.Insert(context.Background(), client.Item{"id": ""})
			return err
		}),
		Entry("update without id", func(t *client.SyncTable) error {
			_, err := t.Update(context.Background(), client.Item{"text": "x"})
			return err
		}),
		Entry("delete without id", func(t *client.SyncTable) error { return t.Delete(context.Background(), client.Item{}) }),
		Entry("bad table name", func(t *client.SyncTable) error {
			_, err := d.sc.Table("no-dashes").Insert(context.Background(), client.Item{"id": "a"})
			return err
		}),
	)

	It("update is an upsert of the given properties", func() {
		w.seed("a", "server", d)
		before := d.row("a")
		got := d.update(client.Item{"id": "a", "complete": true})
		Expect(got).To(HaveKeyWithValue("text", "server"))
		Expect(got).To(HaveKeyWithValue("complete", true))
		Expect(got).To(HaveKeyWithValue("version", before["version"]))
		Expect(got).To(HaveKeyWithValue("updatedAt", before["updatedAt"]), "the pulled system columns stay until the push returns new ones")
		d.update(client.Item{"id": "new", "text": "made by update"})
		Expect(d.row("new")).To(Equal(client.Item{"id": "new", "text": "made by update"}))
		Expect(d.queue()).To(Equal([]string{"update a", "update new"}))
	})

	It("delete removes the row and keeps the item, with its version, in the operation", func() {
		w.seed("a", "server", d)
		v := d.row("a")["version"]
		d.delete(client.Item{"id": "a"})
		Expect(d.row("a")).To(BeNil())
		op := d.op("a")
		Expect(op.Kind).To(BeEquivalentTo("delete"))
		Expect(op.Item).To(HaveKeyWithValue("version", v))
		Expect(op.Item).To(HaveKeyWithValue("text", "server"))
	})

	// The collapse matrix of docs/semantics.md: an item with an existing operation gets a new one.
	type cell struct {
		existing, next string
		err            bool
		queue          []string
		row            bool // the local row exists afterwards
	}
	DescribeTable("the collapse matrix",
		func(c cell) {
			w.seed("s", "server", d) // a pulled row, for update and delete
			id := "s"
			switch c.existing {
			case "insert":
				id = "n"
				d.insert(client.Item{"id": "n", "text": "new"})
			case "update":
				d.update(client.Item{"id": "s", "text": "first"})
			case "delete":
				d.delete(client.Item{"id": "s"})
			}
			var before client.Operation
			if c.existing != "" {
				before = d.op(id)
			}
			// A recorded error on the existing operation is removed by any collapse.
			var err error
			switch c.next {
			case "insert":
				_, err = d.todo.Insert(ctx, client.Item{"id": id, "text": "again"})
			case "update":
				_, err = d.todo.Update(ctx, client.Item{"id": id, "text": "second"})
			case "delete":
				err = d.todo.Delete(ctx, client.Item{"id": id})
			}
			if c.err {
				Expect(err).To(MatchError(client.ErrInvalidOperation))
				if c.existing != "" {
					Expect(d.op(id)).To(Equal(before), "a refused write changes nothing")
				}
			} else {
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(d.queue()).To(Equal(c.queue))
			if c.row {
				Expect(d.row(id)).NotTo(BeNil())
			} else {
				Expect(d.row(id)).To(BeNil())
			}
			if !c.err && c.existing != "" && len(c.queue) == 1 && d.op(id).ID == before.ID {
				Expect(d.op(id).Version).To(Equal(before.Version+1), "a collapse bumps the operation's version")
			}
		},
		Entry("none + insert", cell{"", "insert", true, []string{}, true}),
		Entry("insert + insert: error", cell{"insert", "insert", true, []string{"insert n"}, true}),
		Entry("insert + update: keep the insert", cell{"insert", "update", false, []string{"insert n"}, true}),
		Entry("insert + delete: both vanish", cell{"insert", "delete", false, []string{}, false}),
		Entry("update + insert: error", cell{"update", "insert", true, []string{"update s"}, true}),
		Entry("update + update: keep the first", cell{"update", "update", false, []string{"update s"}, true}),
		Entry("update + delete: a delete in place", cell{"update", "delete", false, []string{"delete s"}, false}),
		Entry("delete + insert: error", cell{"delete", "insert", true, []string{"delete s"}, false}),
		Entry("delete + update: error", cell{"delete", "update", true, []string{"delete s"}, false}),
		Entry("delete + delete: error", cell{"delete", "delete", true, []string{"delete s"}, false}),
	)

	It("insert + update sends the latest row at push time", func() {
		d.insert(client.Item{"id": "n", "text": "first"})
		d.update(client.Item{"id": "n", "text": "latest"})
		d.push()
		Expect(w.serverRow("n")["text"]).To(Equal("latest"))
		Expect(w.requests(0)).To(Equal([]string{"POST /tables/todoitem 201"}))
	})

	It("update + delete keeps the update's queue position by default", func() {
		w.seed("s", "server", d)
		d.update(client.Item{"id": "s", "text": "x"})
		d.insert(client.Item{"id": "n"})
		d.delete(client.Item{"id": "s"})
		Expect(d.queue()).To(Equal([]string{"delete s", "insert n"}))
	})

	It("update + delete goes to the tail with DeleteAfterUpdateAtTail (.NET)", func() {
		d = w.device(nil, client.DeleteAfterUpdateAtTail())
		w.seed("s", "server", d)
		d.update(client.Item{"id": "s", "text": "x"})
		d.insert(client.Item{"id": "n"})
		d.delete(client.Item{"id": "s"})
		Expect(d.queue()).To(Equal([]string{"insert n", "delete s"}))
		Expect(d.op("s").Item).To(HaveKeyWithValue("text", "x"))
	})

	It("insert + delete is an error once the insert was attempted, and changes nothing", func() {
		d = w.device(client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
			return nil, &client.NetworkError{Method: "POST", URL: "x", Err: context.DeadlineExceeded}
		}})
		d.insert(client.Item{"id": "n", "text": "x"})
		_, pf := d.pushFails()
		Expect(pf.Status).To(Equal(client.CancelledByNetworkError))
		Expect(d.op("n").State).To(BeEquivalentTo("attempted"))
		err := d.todo.Delete(ctx, client.Item{"id": "n"})
		Expect(err).To(MatchError(ContainSubstring("inconsistent state")))
		Expect(d.queue()).To(Equal([]string{"insert n"}))
		Expect(d.row("n")).NotTo(BeNil())
	})

	It("a collapse removes the existing operation's recorded error", func() {
		w.seed("s", "server", d)
		_, err := w.srv.Write("todoitem", "s", map[string]any{"text": "other writer"})
		Expect(err).NotTo(HaveOccurred())
		d.update(client.Item{"id": "s", "text": "mine"})
		d.pushFails()
		Expect(d.errs()).To(HaveLen(1))
		Expect(d.op("s").State).To(BeEquivalentTo("failed"))
		d.update(client.Item{"id": "s", "text": "mine again"})
		Expect(d.errs()).To(BeEmpty())
		Expect(d.op("s").State).To(BeEquivalentTo("pending"))
	})

	It("reads locally with the server's filter semantics", func() {
		d.insert(client.Item{"id": "a", "n": 1, "text": "Buy milk"})
		d.insert(client.Item{"id": "b", "n": 2})
		d.insert(client.Item{"id": "c", "n": 3, "text": "buy eggs"})
		rows, err := d.todo.Read(ctx, client.NewQuery().Where("text ne 'x' and n ge 1").OrderByDesc("n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(2), "a row without text does not match text ne 'x'")
		Expect(rows[0]["id"]).To(Equal("c"))
		rows, err = d.todo.Read(ctx, client.NewQuery().Where("startswith(tolower(text), 'buy')").Skip(1).Top(1))
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]["id"]).To(Equal("c"))
		rows, err = d.todo.Read(ctx, client.NewQuery().Top(0))
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(BeEmpty())
		_, err = d.todo.Read(ctx, client.NewQuery().Where("n eq"))
		Expect(err).To(MatchError(client.ErrInvalidQuery))
	})
})
