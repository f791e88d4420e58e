package client_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

var _ = Describe("concurrency", func() {
	var (
		w        *world
		d        *device
		ctx      context.Context
		entered  chan string
		release  chan struct{}
		pushDone chan error
	)
	// A handler that stops inside each operation until released, so a test can act while an
	// operation is being pushed.
	BeforeEach(func() {
		ctx = context.Background()
		w = newWorld(fakeserver.Config{})
		entered, release = make(chan string, 10), make(chan struct{})
		d = w.device(client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
			entered <- op.ItemID()
			<-release
			return op.Execute(ctx)
		}})
		pushDone = make(chan error, 1)
	})
	startPush := func() {
		go func() {
			defer GinkgoRecover()
			_, err := d.sc.Push(ctx)
			pushDone <- err
		}()
		Eventually(entered).Should(Receive(Equal("a")))
	}

	It("a local write to the item being pushed waits until its operation has finished", func() {
		d.insert(client.Item{"id": "a", "text": "v1"})
		startPush()
		wrote := make(chan error, 1)
		go func() {
			_, err := d.todo.Update(ctx, client.Item{"id": "a", "text": "v2"})
			wrote <- err
		}()
		Consistently(wrote, 50*time.Millisecond).ShouldNot(Receive())

		By("writes to other items and reads go ahead meanwhile")
		d.insert(client.Item{"id": "b"})
		Expect(d.row("a")["text"]).To(Equal("v1"))

		close(release)
		Eventually(pushDone).Should(Receive(BeNil()))
		Eventually(wrote).Should(Receive(BeNil()))
		Expect(w.serverRow("a")["text"]).To(Equal("v1"), "the push sent the row as it was")
		Expect(d.queue()).To(ConsistOf("update a", "insert b"))
		Expect(d.row("a")["text"]).To(Equal("v2"))
		Expect(d.row("a")["version"]).To(Equal(w.serverRow("a")["version"]), "the update waited for the pushed version")
	})

	It("a waiting local write honours its context", func() {
		d.insert(client.Item{"id": "a"})
		startPush()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := d.todo.Update(tctx, client.Item{"id": "a", "text": "late"})
		Expect(err).To(MatchError(context.DeadlineExceeded))
		close(release)
		Eventually(pushDone).Should(Receive(BeNil()))
		Expect(d.queue()).To(BeEmpty(), "the timed-out write queued nothing")
	})

	It("push, pull and purge of one context run one at a time", func() {
		d.insert(client.Item{"id": "a"})
		startPush()
		seq := w.lastSeq()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		Expect(d.todo.Pull(tctx, nil, "")).To(MatchError(context.DeadlineExceeded))
		Expect(d.todo.Purge(tctx, nil, "", false)).To(MatchError(context.DeadlineExceeded))
		_, err := d.sc.Push(tctx)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(w.requests(seq)).To(BeEmpty())
		close(release)
		Eventually(pushDone).Should(Receive(BeNil()))
		d.pull()
	})

	It("a handler that calls back into its own context gets an error, not a deadlock", func() {
		var inner error
		d = w.device(client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
			_, inner = d.sc.Push(ctx)
			return op.Execute(ctx)
		}})
		d.insert(client.Item{"id": "a"})
		d.push()
		Expect(inner).To(MatchError(client.ErrInvalidOperation))
	})

	It("keeps every write of many goroutines writing while pushes run", func() {
		d = w.device(nil)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				for i := range 25 {
					id := fmt.Sprintf("g%d-%d", g, i)
					_, err := d.todo.Insert(ctx, client.Item{"id": id, "n": i})
					Expect(err).NotTo(HaveOccurred())
					_, err = d.todo.Update(ctx, client.Item{"id": id, "n": i + 100})
					Expect(err).NotTo(HaveOccurred())
				}
			}()
		}
		pushes := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(pushes)
			for range 5 {
				_, err := d.sc.Push(ctx)
				Expect(err).NotTo(HaveOccurred())
			}
		}()
		wg.Wait()
		<-pushes
		d.push()
		Expect(d.queue()).To(BeEmpty())
		rows := w.srv.Rows("todoitem")
		Expect(rows).To(HaveLen(100))
		for _, r := range rows {
			Expect(r["n"]).To(BeNumerically(">=", 100), "the last write of %v reached the server", r["id"])
			Expect(d.row(r["id"].(string))).To(Equal(client.Item(r)))
		}
	})
})
