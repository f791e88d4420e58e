package client_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

var _ = Describe("push", func() {
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

	It("sends operations one at a time in queue order and stores what the server returns", func() {
		w.seed("u", "server u", d)
		w.seed("x", "server x", d)
		seq := w.lastSeq()
		d.insert(client.Item{"id": "n", "text": "new"})
		d.update(client.Item{"id": "u", "text": "changed"})
		d.delete(client.Item{"id": "x"})
		res := d.push()
		Expect(res.Errors).To(BeEmpty())
		Expect(w.requests(seq)).To(Equal([]string{
			"POST /tables/todoitem 201", "PATCH /tables/todoitem/u 200", "DELETE /tables/todoitem/x 200"}))
		Expect(d.queue()).To(BeEmpty())
		Expect(d.row("n")).To(Equal(client.Item(w.serverRow("n"))), "the returned row is stored with its system columns")
		Expect(d.row("u")).To(Equal(client.Item(w.serverRow("u"))))
		Expect(d.row("x")).To(BeNil())
		Expect(w.serverRow("x")["deleted"]).To(BeTrue())
	})

	It("sends If-Match with the row's version, so a stale update gets 412", func() {
		w.seed("u", "v1", d)
		_, err := w.srv.Write("todoitem", "u", map[string]any{"text": "other"})
		Expect(err).NotTo(HaveOccurred())
		d.update(client.Item{"id": "u", "text": "mine"})
		res, pf := d.pushFails()
		Expect(res.Status).To(Equal(client.Complete))
		Expect(pf.Errors).To(HaveLen(1))
		e := pf.Errors[0]
		Expect(e.Status).To(Equal(http.StatusPreconditionFailed))
		Expect(e).To(MatchError(client.ErrPreconditionFailed))
		Expect(pf).To(MatchError(client.ErrPushFailed))
		Expect(pf).To(MatchError(client.ErrPreconditionFailed))
		Expect(e.ServerItem).To(HaveKeyWithValue("text", "other"))
		Expect(e.Item).To(HaveKeyWithValue("text", "mine"))
		Expect(e.Item).NotTo(HaveKey("updatedAt"), "server-owned columns are not sent")
		Expect(string(e.RawResponse)).To(ContainSubstring(`"other"`))
		Expect(w.serverRow("u")["text"]).To(Equal("other"), "a stale write never applies")
		Expect(d.row("u")["text"]).To(Equal("mine"))
		Expect(d.op("u").State).To(BeEquivalentTo("failed"))
	})

	It("treats a 404 on delete as success", func() {
		w.seed("x", "server", d)
		_, err := w.srv.Delete("todoitem", "x")
		Expect(err).NotTo(HaveOccurred())
		d.delete(client.Item{"id": "x"})
		seq := w.lastSeq()
		d.push()
		Expect(w.requests(seq)).To(Equal([]string{"DELETE /tables/todoitem/x 404"}))
		Expect(d.queue()).To(BeEmpty())
		Expect(d.errs()).To(BeEmpty())
	})

	It("records 412, 409 and 500 and goes on with the next operation", func() {
		w.seed("stale", "v1", d)
		w.seed("boom", "v1", d)
		_, err := w.srv.Write("todoitem", "stale", map[string]any{"text": "other"})
		Expect(err).NotTo(HaveOccurred())
		_, err = w.srv.Insert("todoitem", map[string]any{"id": "dup", "text": "theirs"})
		Expect(err).NotTo(HaveOccurred())
		w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/boom") {
				rw.WriteHeader(http.StatusInternalServerError)
				_, _ = rw.Write([]byte(`{"error":"the database is on fire"}`))
				return true
			}
			return false
		})
		d.update(client.Item{"id": "stale", "text": "mine"})
		d.insert(client.Item{"id": "dup", "text": "mine"})
		d.update(client.Item{"id": "boom", "text": "mine"})
		d.insert(client.Item{"id": "ok", "text": "fine"})
		res, pf := d.pushFails()
		Expect(res.Status).To(Equal(client.Complete))
		statuses := []int{}
		for _, e := range pf.Errors {
			statuses = append(statuses, e.Status)
		}
		Expect(statuses).To(Equal([]int{412, 409, 500}))
		Expect(pf.Errors[1].ServerItem).To(HaveKeyWithValue("text", "theirs"))
		Expect(pf.Errors[1]).To(MatchError(client.ErrConflict))
		Expect(pf.Errors[2].ServerItem).To(BeNil())
		Expect(pf.Errors[2].Message).To(ContainSubstring("on fire"))
		Expect(w.serverRow("ok")).NotTo(BeNil(), "the push went on past the errors")
		Expect(d.queue()).To(Equal([]string{"update stale", "insert dup", "update boom"}))

		By("the next push retries them and gives OnPushComplete every recorded error")
		var seen []string
		d2 := *d
		sc, err := client.NewSyncContext(d.c, d.store, client.HandlerFuncs{Complete: func(ctx context.Context, r *client.PushResult) error {
			for _, e := range r.Errors {
				seen = append(seen, e.ItemID)
			}
			return nil
		}})
		Expect(err).NotTo(HaveOccurred())
		d2.sc = sc
		seq := w.lastSeq()
		_, pf = d2.pushFails()
		Expect(w.requests(seq)).To(Equal([]string{"PATCH /tables/todoitem/stale 412", "POST /tables/todoitem 409"}),
			"(the 500 is answered before the server records it)")
		Expect(seen).To(Equal([]string{"stale", "dup", "boom"}))
		Expect(pf.Errors).To(HaveLen(3))
	})

	It("gives OnPushComplete errors left from an earlier push even when nothing is sent", func() {
		w.seed("u", "v1", d)
		_, _ = w.srv.Write("todoitem", "u", map[string]any{"text": "other"})
		d.update(client.Item{"id": "u", "text": "mine"})
		d.pushFails()
		var got []*client.TableOperationError
		sc, err := client.NewSyncContext(d.c, d.store, client.HandlerFuncs{
			Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
				op.CancelPush()
				return nil, nil
			},
			Complete: func(ctx context.Context, r *client.PushResult) error {
				got = r.Errors
				return nil
			}})
		Expect(err).NotTo(HaveOccurred())
		_, err = sc.Push(ctx)
		Expect(err).To(MatchError(client.ErrPushCancelled))
		Expect(got).To(HaveLen(1))
		Expect(got[0].ItemID).To(Equal("u"))
	})

	Describe("aborts, leaving the operation queued and no error record", func() {
		It("on a network error", func() {
			d.insert(client.Item{"id": "n"})
			d.insert(client.Item{"id": "m"})
			w.ts.Close()
			res, pf := d.pushFails()
			Expect(res.Status).To(Equal(client.CancelledByNetworkError))
			Expect(pf).To(MatchError(client.ErrNetwork))
			var ne *client.NetworkError
			Expect(errors.As(pf, &ne)).To(BeTrue())
			Expect(d.queue()).To(Equal([]string{"insert n", "insert m"}))
			Expect(d.op("n").State).To(BeEquivalentTo("attempted"))
			Expect(d.op("m").State).To(BeEquivalentTo("pending"), "nothing after the abort was tried")
			Expect(d.errs()).To(BeEmpty())
		})

		It("on a timeout, then a later push completes the work", func() {
			var hang atomic32
			hang.set(1)
			release := make(chan struct{})
			DeferCleanup(func() { close(release) })
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if hang.get() == 1 && r.Method == http.MethodPost {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return true
				}
				return false
			})
			d = w.deviceWith([]client.ClientOption{client.WithTimeout(100 * time.Millisecond)}, nil)
			d.insert(client.Item{"id": "n", "text": "x"})
			res, pf := d.pushFails()
			Expect(res.Status).To(Equal(client.CancelledByNetworkError))
			var ne *client.NetworkError
			Expect(errors.As(pf, &ne)).To(BeTrue())
			Expect(ne.Timeout()).To(BeTrue())
			Expect(d.queue()).To(Equal([]string{"insert n"}))
			hang.set(0)
			d.push()
			Expect(w.serverRow("n")["text"]).To(Equal("x"))
		})

		It("on a 401", func() {
			w = newWorld(fakeserver.Config{AuthToken: "secret"})
			d = w.device(nil)
			d.insert(client.Item{"id": "n"})
			res, pf := d.pushFails()
			Expect(res.Status).To(Equal(client.CancelledByAuthenticationError))
			Expect(pf).To(MatchError(client.ErrAuthentication))
			Expect(d.queue()).To(Equal([]string{"insert n"}))
			Expect(d.errs()).To(BeEmpty())
			d = w.deviceWith([]client.ClientOption{client.WithAuthToken("secret")}, nil)
			d.insert(client.Item{"id": "n"})
			d.push()
		})

		It("when the handler cancels", func() {
			d = w.device(client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
				if op.ItemID() == "m" {
					op.CancelPush()
					return nil, nil
				}
				return op.Execute(ctx)
			}})
			d.insert(client.Item{"id": "n"})
			d.insert(client.Item{"id": "m"})
			d.insert(client.Item{"id": "o"})
			res, pf := d.pushFails()
			Expect(res.Status).To(Equal(client.CancelledByOperation))
			Expect(pf).To(MatchError(client.ErrPushCancelled))
			Expect(d.queue()).To(Equal([]string{"insert m", "insert o"}))
			Expect(d.op("m").State).To(BeEquivalentTo("pending"))
			Expect(w.serverRow("o")).To(BeNil())
		})

		It("when the context is cancelled", func() {
			cctx, cancel := context.WithCancel(ctx)
			d = w.device(client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
				cancel()
				return op.Execute(ctx)
			}})
			d.insert(client.Item{"id": "n"})
			res, err := d.sc.Push(cctx)
			Expect(err).To(MatchError(context.Canceled))
			Expect(res.Status).To(Equal(client.CancelledByContext))
			var ne *client.NetworkError
			Expect(errors.As(err, &ne)).To(BeFalse(), "a cancelled context is not a network error")
			Expect(d.queue()).To(Equal([]string{"insert n"}))
		})

		It("when the store fails", func() {
			d.insert(client.Item{"id": "n"})
			Expect(d.store.Close()).To(Succeed())
			res, err := d.sc.Push(ctx)
			Expect(err).To(MatchError(client.ErrStore))
			Expect(res.Status).To(Equal(client.CancelledByStoreError))
			Expect(w.srv.History()).To(BeEmpty())
		})
	})

	Describe("resolving recorded errors", func() {
		var stale func() *client.TableOperationError
		BeforeEach(func() {
			stale = func() *client.TableOperationError {
				w.seed("u", "v1", d)
				_, err := w.srv.Write("todoitem", "u", map[string]any{"text": "other"})
				Expect(err).NotTo(HaveOccurred())
				d.update(client.Item{"id": "u", "text": "mine"})
				_, pf := d.pushFails()
				Expect(pf.Errors).To(HaveLen(1))
				return pf.Errors[0]
			}
		})

		It("CancelAndUpdateItem drops the operation and stores the item (server wins)", func() {
			e := stale()
			Expect(e.CancelAndUpdateItem(ctx, e.ServerItem)).To(Succeed())
			Expect(e.Handled()).To(BeTrue())
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			Expect(d.row("u")).To(Equal(client.Item(w.serverRow("u"))))
			Expect(e.CancelAndUpdateItem(ctx, e.ServerItem)).To(MatchError(client.ErrInvalidOperation), "once only")
		})

		It("CancelAndUpdateItem with a tombstone removes the local row", func() {
			e := stale()
			Expect(e.CancelAndUpdateItem(ctx, client.Item{"id": "u", "deleted": true})).To(Succeed())
			Expect(d.queue()).To(BeEmpty())
			Expect(d.row("u")).To(BeNil())
		})

		It("CancelAndDiscardItem drops the operation and the local row", func() {
			e := stale()
			Expect(e.CancelAndDiscardItem(ctx)).To(Succeed())
			Expect(d.queue()).To(BeEmpty())
			Expect(d.row("u")).To(BeNil())
			Expect(w.serverRow("u")["text"]).To(Equal("other"))
		})

		It("UpdateOperation with the server's version makes the next push win (client wins)", func() {
			e := stale()
			item := d.row("u")
			item["version"] = e.ServerItem["version"]
			Expect(e.UpdateOperation(ctx, item)).To(Succeed())
			Expect(d.op("u").State).To(BeEquivalentTo("pending"))
			Expect(d.errs()).To(BeEmpty())
			d.push()
			Expect(w.serverRow("u")["text"]).To(Equal("mine"))
		})

		It("UpdateOperation on a delete keeps the item in the operation", func() {
			w.seed("x", "v1", d)
			_, err := w.srv.Write("todoitem", "x", map[string]any{"text": "other"})
			Expect(err).NotTo(HaveOccurred())
			d.delete(client.Item{"id": "x"})
			_, pf := d.pushFails()
			e := pf.Errors[0]
			Expect(e.UpdateOperation(ctx, e.ServerItem)).To(Succeed())
			Expect(d.op("x").Item).To(HaveKeyWithValue("version", e.ServerItem["version"]))
			Expect(d.row("x")).To(BeNil())
			d.push()
			Expect(w.serverRow("x")["deleted"]).To(BeTrue())
		})

		It("refuses to resolve an error whose operation changed since", func() {
			e := stale()
			d.update(client.Item{"id": "u", "text": "newer"})
			Expect(e.CancelAndUpdateItem(ctx, e.ServerItem)).To(MatchError(client.ErrOperationUpdated))
			Expect(e.Handled()).To(BeFalse())
			Expect(d.row("u")["text"]).To(Equal("newer"))
			Expect(d.queue()).To(Equal([]string{"update u"}))
		})

		It("resolution inside OnPushComplete makes the push clean", func() {
			w.seed("u", "v1", d)
			_, _ = w.srv.Write("todoitem", "u", map[string]any{"text": "other"})
			d = w.device(client.HandlerFuncs{Complete: func(ctx context.Context, r *client.PushResult) error {
				for _, e := range r.Errors {
					if err := e.CancelAndUpdateItem(ctx, e.ServerItem); err != nil {
						return err
					}
				}
				return nil
			}})
			d.pull()
			d.update(client.Item{"id": "u", "text": "mine"})
			Expect(d.row("u")["text"]).To(Equal("mine"))
			_, _ = w.srv.Write("todoitem", "u", map[string]any{"text": "other again"})
			res := d.push()
			Expect(res.Errors).To(HaveLen(1))
			Expect(res.Errors[0].Handled()).To(BeTrue())
			Expect(d.row("u")["text"]).To(Equal("other again"))
		})
	})

	It("records an unusable success response and changes no row", func() {
		w.seed("u", "v1", d)
		w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPatch {
				rw.WriteHeader(http.StatusOK)
				_, _ = rw.Write([]byte(`{"id": "u", "version": 12`))
				return true
			}
			return false
		})
		d.update(client.Item{"id": "u", "text": "mine"})
		d.insert(client.Item{"id": "n"})
		_, pf := d.pushFails()
		Expect(pf.Errors).To(HaveLen(1))
		Expect(pf.Errors[0].Status).To(Equal(200))
		Expect(d.row("u")["text"]).To(Equal("mine"))
		Expect(d.queue()).To(Equal([]string{"update u"}))
		Expect(w.serverRow("n")).NotTo(BeNil())
	})
})

// atomic32 is a tiny flag the intercepting handlers read from server goroutines.
type atomic32 struct{ v atomic.Int32 }

func (a *atomic32) set(n int32) { a.v.Store(n) }
func (a *atomic32) get() int32  { return a.v.Load() }
