package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// Two devices, A and B, disagree about one item. A pushes first; B, running the strategy,
// meets the conflict.
var _ = Describe("conflict strategies", func() {
	type conflict struct {
		name     string
		setup    func(w *world, a, b *device) // both change the item; A pushes
		bWrite   func(b *device)
		id       string
		status   int // what B's push meets
		bChanged func(row client.Item) bool
	}
	updateUpdate := conflict{name: "update/update", id: "s", status: 412,
		setup: func(w *world, a, b *device) {
			w.seed("s", "seed", a, b)
			a.update(client.Item{"id": "s", "text": "A"})
			a.push()
		},
		bWrite: func(b *device) { b.update(client.Item{"id": "s", "text": "B"}) },
	}
	updateDelete := conflict{name: "update/delete (the server deleted it)", id: "s", status: 404,
		setup: func(w *world, a, b *device) {
			w.seed("s", "seed", a, b)
			a.delete(client.Item{"id": "s"})
			a.push()
		},
		bWrite: func(b *device) { b.update(client.Item{"id": "s", "text": "B"}) },
	}
	deleteUpdate := conflict{name: "delete/update (the server updated it)", id: "s", status: 412,
		setup: func(w *world, a, b *device) {
			w.seed("s", "seed", a, b)
			a.update(client.Item{"id": "s", "text": "A"})
			a.push()
		},
		bWrite: func(b *device) { b.delete(client.Item{"id": "s"}) },
	}
	insertInsert := conflict{name: "insert/insert (one id on two devices)", id: "x", status: 409,
		setup: func(w *world, a, b *device) {
			a.insert(client.Item{"id": "x", "text": "A"})
			a.push()
		},
		bWrite: func(b *device) { b.insert(client.Item{"id": "x", "text": "B"}) },
	}

	run := func(c conflict, h client.Handler, opts ...client.Option) (*world, *device, *client.PushResult, error) {
		w := newWorld(fakeserver.Config{})
		a := w.device(nil)
		b := w.device(h, opts...)
		c.setup(w, a, b)
		c.bWrite(b)
		res, err := b.sc.Push(context.Background())
		return w, b, res, err
	}

	DescribeTable("ClientWins: B's change ends up on the server",
		func(c conflict, wantDeleted bool) {
			w, b, res, err := run(c, client.ClientWins())
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Errors).To(BeEmpty())
			Expect(b.queue()).To(BeEmpty())
			srv := w.serverRow(c.id)
			if wantDeleted {
				Expect(srv["deleted"]).To(BeTrue())
				Expect(b.row(c.id)).To(BeNil())
				return
			}
			Expect(srv["deleted"]).To(BeFalse())
			Expect(srv["text"]).To(Equal("B"))
			Expect(b.row(c.id)).To(Equal(client.Item(srv)))
		},
		Entry("update/update", updateUpdate, false),
		Entry("update/delete: the row is undeleted and updated", updateDelete, false),
		Entry("delete/update: the delete is sent again with the server's version", deleteUpdate, true),
		Entry("insert/insert: the insert is sent as an update", insertInsert, false),
	)

	DescribeTable("ServerWins: B's change is dropped and B holds the server's row",
		func(c conflict, wantText any) {
			w, b, res, err := run(c, client.ServerWins())
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Errors).To(BeEmpty())
			Expect(b.queue()).To(BeEmpty())
			srv := w.serverRow(c.id)
			if wantText == nil {
				Expect(srv["deleted"]).To(BeTrue())
				Expect(b.row(c.id)).To(BeNil())
				return
			}
			Expect(srv["text"]).To(Equal(wantText))
			Expect(b.row(c.id)).To(Equal(client.Item(srv)))
		},
		Entry("update/update", updateUpdate, "A"),
		Entry("update/delete: the local row goes", updateDelete, nil),
		Entry("delete/update: the row comes back", deleteUpdate, "A"),
		Entry("insert/insert", insertInsert, "A"),
	)

	DescribeTable("CancelPush: the push stops at the conflict; B keeps its change, queued",
		func(c conflict) {
			w, b, res, err := run(c, client.CancelPush())
			before := w.serverRow(c.id)
			Expect(err).To(MatchError(client.ErrPushCancelled))
			Expect(res.Status).To(Equal(client.CancelledByOperation))
			Expect(res.Errors).To(HaveLen(1))
			Expect(res.Errors[0].Status).To(Equal(c.status))
			if c.status != 404 {
				Expect(res.Errors[0].ServerItem).To(HaveKeyWithValue("version", before["version"]))
			}
			Expect(b.queue()).To(HaveLen(1))
			Expect(b.op(c.id).State).To(BeEquivalentTo("pending"))
			Expect(b.errs()).To(BeEmpty(), "a cancelled push records no error")
			if b.op(c.id).Kind == "delete" {
				Expect(b.row(c.id)).To(BeNil())
			} else {
				Expect(b.row(c.id)["text"]).To(Equal("B"))
			}
			Expect(w.serverRow(c.id)).To(Equal(before))
		},
		Entry("update/update", updateUpdate),
		Entry("update/delete", updateDelete),
		Entry("delete/update", deleteUpdate),
		Entry("insert/insert", insertInsert),
	)

	It("CancelPush leaves the operations after the conflict unsent", func() {
		w := newWorld(fakeserver.Config{})
		a, b := w.device(nil), w.device(client.CancelPush())
		updateUpdate.setup(w, a, b)
		updateUpdate.bWrite(b)
		b.insert(client.Item{"id": "later"})
		_, pf := b.pushFails()
		Expect(pf.Status).To(Equal(client.CancelledByOperation))
		Expect(b.queue()).To(Equal([]string{"update s", "insert later"}))
		Expect(w.serverRow("later")).To(BeNil())
	})

	DescribeTable("the default handler records the conflict and goes on",
		func(c conflict) {
			w, b, res, err := run(c, nil)
			Expect(err).To(MatchError(client.ErrPushFailed))
			Expect(res.Status).To(Equal(client.Complete))
			Expect(res.Errors).To(HaveLen(1))
			Expect(res.Errors[0].Status).To(Equal(c.status))
			Expect(b.op(c.id).State).To(BeEquivalentTo("failed"))
			Expect(b.errs()).To(HaveLen(1))
			_ = w
		},
		Entry("update/update", updateUpdate),
		Entry("update/delete", updateDelete),
		Entry("delete/update", deleteUpdate),
		Entry("insert/insert", insertInsert),
	)

	Describe("TreatIdenticalAsSuccess", func() {
		sameChange := conflict{name: "both made the same change", id: "s", status: 412,
			setup:  updateUpdate.setup,
			bWrite: func(b *device) { b.update(client.Item{"id": "s", "text": "A"}) },
		}
		It("is off by default: an identical change still conflicts", func() {
			_, b, _, err := run(sameChange, nil)
			Expect(err).To(MatchError(client.ErrPreconditionFailed))
			Expect(b.errs()).To(HaveLen(1))
		})
		It("turns a conflict with an identical server item into success", func() {
			w, b, res, err := run(sameChange, nil, client.TreatIdenticalAsSuccess())
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Errors).To(BeEmpty())
			Expect(b.queue()).To(BeEmpty())
			Expect(b.row("s")).To(Equal(client.Item(w.serverRow("s"))))
		})
		It("still conflicts when the server item differs", func() {
			_, _, _, err := run(updateUpdate, nil, client.TreatIdenticalAsSuccess())
			Expect(err).To(MatchError(client.ErrPreconditionFailed))
		})
		It("covers an insert whose response was lost: the retry's 409 carries the same item", func() {
			w := newWorld(fakeserver.Config{})
			b := w.device(nil, client.TreatIdenticalAsSuccess())
			b.insert(client.Item{"id": "x", "text": "B", "n": 1})
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "x", "text": "B", "n": 1})
			Expect(err).NotTo(HaveOccurred())
			b.push()
			Expect(b.row("x")).To(Equal(client.Item(w.serverRow("x"))))
		})
	})

	It("ClientWins inserts the row again when the server deleted it for good", func() {
		w := newWorld(fakeserver.Config{HardDelete: true})
		a, b := w.device(nil), w.device(client.ClientWins())
		w.seed("s", "seed", a, b)
		a.delete(client.Item{"id": "s"})
		a.push()
		Expect(w.serverRow("s")).To(BeNil())
		b.update(client.Item{"id": "s", "text": "B"})
		b.push()
		Expect(w.serverRow("s")).To(HaveKeyWithValue("text", "B"))
		Expect(b.row("s")).To(Equal(client.Item(w.serverRow("s"))))
	})

	It("ClientWins gives up after MaxTries sends and records the error", func() {
		w := newWorld(fakeserver.Config{})
		a := w.device(nil)
		b := w.device(client.ClientWins(client.MaxTries(3)))
		w.seed("s", "seed", a, b)
		var patches atomic.Int32
		w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPatch {
				return false
			}
			n := patches.Add(1)
			// Another writer always gets in first: every try meets a newer version.
			row, err := w.srv.Write("todoitem", "s", map[string]any{"text": "other", "n": n})
			Expect(err).NotTo(HaveOccurred())
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusPreconditionFailed)
			_ = json.NewEncoder(rw).Encode(row)
			return true
		})
		b.update(client.Item{"id": "s", "text": "B"})
		_, pf := b.pushFails()
		Expect(patches.Load()).To(BeEquivalentTo(3))
		Expect(pf.Errors).To(HaveLen(1))
		Expect(pf.Errors[0].Status).To(Equal(412))
	})
})
