package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/goleak"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// The client against every fault action of the fake server (docs/faults.md), with the behaviour
// docs/semantics.md gives: push, pull, purge, a lost answer under every strategy, and no leaks.

var _ = Describe("push under faults", Label("faults"), func() {
	ctx := context.Background()

	It("latency: the push waits for the answer and completes", func() {
		w := newWorld(fakeserver.Config{})
		d := w.device(nil)
		d.insert(client.Item{"id": "n", "text": "mine"})
		rule := faultAdd(w, "latency", fakeserver.Match{Op: []string{"insert"}}, map[string]any{"ms": 60})
		seq := w.lastSeq()
		start := time.Now()
		res := d.push()
		Expect(time.Since(start)).To(BeNumerically(">=", 60*time.Millisecond))
		Expect(res.Errors).To(BeEmpty())
		Expect(d.queue()).To(BeEmpty())
		Expect(w.serverRow("n")).To(HaveKeyWithValue("text", "mine"))
		Expect(d.row("n")).To(Equal(client.Item(w.serverRow("n"))))
		hits := faultHits(w, seq, rule.ID)
		Expect(hits).To(HaveLen(1))
		Expect(hits[0].Status).To(Equal(http.StatusCreated))
		Expect(hits[0].Applied).To(BeTrue())
	})

	DescribeTable("a status fault is recorded as the operation's error and the push goes on",
		func(code int) {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			w.seed("u", "v1", d)
			d.insert(client.Item{"id": "a", "text": "A"})
			d.update(client.Item{"id": "u", "text": "mine"})
			d.insert(client.Item{"id": "b", "text": "B"})
			rule := faultAdd(w, "status", fakeserver.Match{Op: []string{"update"}, ID: "u"}, map[string]any{"code": code})
			seq := w.lastSeq()
			res, pf := d.pushFails()
			Expect(res.Status).To(Equal(client.Complete))
			Expect(pf.Errors).To(HaveLen(1))
			e := pf.Errors[0]
			Expect(e.ItemID).To(Equal("u"))
			Expect(e.Status).To(Equal(code))
			Expect(e.Message).To(ContainSubstring("(fault " + rule.ID + ")"))
			Expect(e.ServerItem).To(BeNil())
			Expect(e.Item).To(HaveKeyWithValue("text", "mine"))
			Expect(d.queue()).To(Equal([]string{"update u"}))
			Expect(d.op("u").State).To(BeEquivalentTo("failed"))
			Expect(d.errs()).To(HaveLen(1))
			Expect(d.errs()[0].Status).To(Equal(code))
			Expect(d.row("u")["text"]).To(Equal("mine"))
			Expect(w.serverRow("u")["text"]).To(Equal("v1"), "a status fault applies nothing")
			Expect(w.serverRow("a")).To(HaveKeyWithValue("text", "A"), "the push went on")
			Expect(w.serverRow("b")).To(HaveKeyWithValue("text", "B"), "the push went on")
			hits := faultSettled(w, seq, rule.ID)
			Expect(hits).To(HaveLen(1))
			Expect(hits[0].Status).To(Equal(code))
			Expect(hits[0].Applied).To(BeFalse())

			By("healed, the next push sends it again and completes")
			w.srv.Faults().Reset()
			d.push()
			Expect(w.serverRow("u")["text"]).To(Equal("mine"))
			faultExpectConverged(w, d)
		},
		Entry("500", http.StatusInternalServerError),
		Entry("503", http.StatusServiceUnavailable),
		Entry("408 (an HTTP answer, not a network timeout)", http.StatusRequestTimeout),
		Entry("429", http.StatusTooManyRequests),
	)

	It("status 401 aborts the push with CancelledByAuthenticationError, queue intact", func() {
		w := newWorld(fakeserver.Config{})
		d := w.device(nil)
		w.seed("u", "v1", d)
		d.insert(client.Item{"id": "a", "text": "A"})
		d.update(client.Item{"id": "u", "text": "mine"})
		d.insert(client.Item{"id": "b", "text": "B"})
		faultAdd(w, "status", fakeserver.Match{Op: []string{"update"}}, map[string]any{"code": 401})
		res, pf := d.pushFails()
		Expect(res.Status).To(Equal(client.CancelledByAuthenticationError))
		Expect(pf).To(MatchError(client.ErrAuthentication))
		Expect(pf.Errors).To(BeEmpty())
		Expect(d.queue()).To(Equal([]string{"update u", "insert b"}))
		Expect(d.op("u").State).To(BeEquivalentTo("attempted"))
		Expect(d.op("b").State).To(BeEquivalentTo("pending"))
		Expect(d.errs()).To(BeEmpty(), "an abort records no error")
		Expect(w.serverRow("a")).NotTo(BeNil(), "sent before the 401")
		Expect(w.serverRow("u")["text"]).To(Equal("v1"))
		Expect(w.serverRow("b")).To(BeNil(), "nothing after the abort is sent")

		w.srv.Faults().Reset()
		d.push()
		Expect(w.serverRow("u")["text"]).To(Equal("mine"))
		Expect(w.serverRow("b")).To(HaveKeyWithValue("text", "B"))
		faultExpectConverged(w, d)
	})

	type netFault struct {
		action  string
		match   fakeserver.Match
		params  map[string]any
		timeout time.Duration // the client's WithTimeout, 0 for the default
		timeOut bool          // the client gave up (NetworkError.Timeout)
		lasting bool          // still in force on a second push until healed
	}
	DescribeTable("a network fault aborts the push with nothing applied; healed, the push completes",
		func(f netFault) {
			w := newWorld(fakeserver.Config{})
			var copts []client.ClientOption
			if f.timeout > 0 {
				copts = append(copts, client.WithTimeout(f.timeout))
			}
			d := w.deviceWith(copts, nil)
			w.seed("u", "v1", d)
			d.insert(client.Item{"id": "a", "text": "A"})
			d.update(client.Item{"id": "u", "text": "mine"})
			local := faultLocal(d)
			server := w.srv.Rows("todoitem")
			rule := faultAdd(w, f.action, f.match, f.params)
			seq := w.lastSeq()

			res, err := d.sc.Push(ctx)
			ne := faultNetworkErr(res, err)
			Expect(ne.Timeout()).To(Equal(f.timeOut))
			Expect(ne.Method).To(Equal(http.MethodPost))
			Expect(res.Errors).To(BeEmpty())
			Expect(d.queue()).To(Equal([]string{"insert a", "update u"}))
			Expect(d.op("a").State).To(BeEquivalentTo("attempted"))
			Expect(d.op("u").State).To(BeEquivalentTo("pending"), "nothing after the abort was tried")
			Expect(d.errs()).To(BeEmpty(), "an abort records no error")
			Expect(faultLocal(d)).To(Equal(local))
			Expect(w.srv.Rows("todoitem")).To(Equal(server), "nothing was applied")
			hits := faultSettled(w, seq, rule.ID)
			Expect(hits).To(HaveLen(1))
			Expect(hits[0].Method).To(Equal(http.MethodPost))
			Expect(hits[0].Applied).To(BeFalse())
			Expect(hits[0].Status).To(BeZero(), "no answer was sent")
			Expect(hits[0].Error).To(HavePrefix("no answer"))

			if f.lasting {
				By("a partition lasts until it is healed")
				res, err = d.sc.Push(ctx)
				faultNetworkErr(res, err)
				Expect(d.queue()).To(Equal([]string{"insert a", "update u"}))
				Expect(w.srv.Rows("todoitem")).To(Equal(server))
			}

			By("healed, the next push completes")
			Expect(w.srv.Faults().Remove(rule.ID)).To(BeTrue(), "in force until removed, even when its Times are used up")
			d.push()
			Expect(w.serverRow("a")).To(HaveKeyWithValue("text", "A"))
			Expect(w.serverRow("u")).To(HaveKeyWithValue("text", "mine"))
			faultExpectConverged(w, d)
		},
		Entry("reset", netFault{action: "reset", match: fakeserver.Match{Method: []string{"POST"}, Times: 1}}),
		Entry("offline", netFault{action: "offline", lasting: true}),
		Entry("timeout: the client gives up", netFault{action: "timeout", match: fakeserver.Match{Op: []string{"insert"}},
			timeout: 150 * time.Millisecond, timeOut: true}),
		Entry("timeout{ms}: the server hangs up first", netFault{action: "timeout", match: fakeserver.Match{Op: []string{"insert"}},
			params: map[string]any{"ms": 30}}),
	)

	Describe("concurrent-write", func() {
		type cw struct {
			kind, id string
			status   int
		}
		ins := cw{"insert", "n", http.StatusConflict}
		upd := cw{"update", "u", http.StatusPreconditionFailed}
		del := cw{"delete", "u", http.StatusPreconditionFailed}

		// run makes the local change, lets another writer get in just before it reaches the
		// server, and pushes. The other writer bumps _conflictlab (and, for an insert,
		// creates the row with only that).
		run := func(c cw, h client.Handler, opts ...client.Option) (*world, *device, *client.PushResult, error, string) {
			w := newWorld(fakeserver.Config{})
			d := w.device(h, opts...)
			w.seed("u", "v1", d)
			switch c.kind {
			case "insert":
				d.insert(client.Item{"id": "n", "text": "mine"})
			case "update":
				d.update(client.Item{"id": "u", "text": "mine"})
			case "delete":
				d.delete(client.Item{"id": "u"})
			}
			rule := faultAdd(w, "concurrent-write", fakeserver.Match{Op: []string{c.kind}, ID: c.id, Times: 1}, nil)
			seq := w.lastSeq()
			res, err := d.sc.Push(ctx)
			// The hit is on the other write, a direct write made just before the request, and on
			// the request itself, which then met that write.
			hits := faultHits(w, seq, rule.ID)
			Expect(hits).To(HaveLen(2))
			Expect(hits[0].Source).To(Equal(fakeserver.SourceDirect))
			Expect(hits[0].Applied).To(BeTrue())
			Expect(hits[1].Source).To(Equal(fakeserver.SourceHTTP))
			Expect(hits[1].Seq).To(Equal(hits[0].Seq + 1))
			Expect(hits[1].Method).To(Equal(faultMethod[c.kind]))
			Expect(hits[1].Status).To(Equal(c.status))
			Expect(hits[1].Applied).To(BeFalse())
			return w, d, res, err, hits[0].VersionAfter
		}
		// theirs returns the server row, checking it is still what the other writer left.
		theirs := func(w *world, id, otherVersion string) map[string]any {
			GinkgoHelper()
			row := w.serverRow(id)
			Expect(otherVersion).NotTo(BeEmpty())
			Expect(row["version"]).To(Equal(otherVersion), "the conflicting write was refused")
			Expect(row).To(HaveKeyWithValue("_conflictlab", BeEquivalentTo(1)))
			return row
		}

		It("the other writer's row is what the conflict carries", func() {
			w, d, _, err, other := run(upd, nil)
			Expect(err).To(MatchError(client.ErrPreconditionFailed))
			e := d.errs()[0]
			Expect(e.ServerItem).To(HaveKeyWithValue("_conflictlab", BeEquivalentTo(1)))
			Expect(e.ServerItem).To(HaveKeyWithValue("text", "v1"))
			Expect(e.ServerItem).To(HaveKeyWithValue("version", other))
			Expect(w.serverRow("u")).To(HaveKeyWithValue("_conflictlab", BeEquivalentTo(1)))
		})

		DescribeTable("DefaultHandler records the 409/412 and keeps the operation",
			func(c cw) {
				w, d, res, err, other := run(c, nil)
				theirs := theirs(w, c.id, other)
				Expect(err).To(MatchError(client.ErrPushFailed))
				Expect(res.Status).To(Equal(client.Complete))
				Expect(res.Errors).To(HaveLen(1))
				Expect(res.Errors[0].Status).To(Equal(c.status))
				Expect(res.Errors[0].ServerItem).To(Equal(client.Item(theirs)))
				Expect(d.queue()).To(Equal([]string{c.kind + " " + c.id}))
				Expect(d.op(c.id).State).To(BeEquivalentTo("failed"))
				Expect(d.errs()).To(HaveLen(1))
				if c.kind == "delete" {
					Expect(d.row(c.id)).To(BeNil())
				} else {
					Expect(d.row(c.id)["text"]).To(Equal("mine"))
				}
			},
			Entry("insert: 409", ins), Entry("update: 412", upd), Entry("delete: 412", del),
		)

		DescribeTable("ClientWins sends again with the server's version: the local change lands",
			func(c cw) {
				w, d, _, err, other := run(c, client.ClientWins())
				Expect(err).NotTo(HaveOccurred())
				Expect(d.queue()).To(BeEmpty())
				Expect(d.errs()).To(BeEmpty())
				srv := w.serverRow(c.id)
				Expect(srv["version"]).NotTo(Equal(other), "sent again over the other write")
				Expect(srv).To(HaveKeyWithValue("_conflictlab", BeEquivalentTo(1)), "the other writer's column is merged, not lost")
				if c.kind == "delete" {
					Expect(srv["deleted"]).To(BeTrue())
					Expect(d.row(c.id)).To(BeNil())
					return
				}
				Expect(srv["text"]).To(Equal("mine"))
				Expect(d.row(c.id)).To(Equal(client.Item(srv)))
			},
			Entry("insert: 409, sent as an update", ins), Entry("update: 412", upd), Entry("delete: 412", del),
		)

		DescribeTable("ServerWins takes the other writer's row",
			func(c cw) {
				w, d, _, err, other := run(c, client.ServerWins())
				theirs := theirs(w, c.id, other)
				Expect(err).NotTo(HaveOccurred())
				Expect(d.queue()).To(BeEmpty())
				Expect(d.errs()).To(BeEmpty())
				Expect(d.row(c.id)).To(Equal(client.Item(theirs)), "for a delete, the row comes back")
			},
			Entry("insert: 409", ins), Entry("update: 412", upd), Entry("delete: 412", del),
		)

		DescribeTable("CancelPush stops with the conflict; the operation stays pending",
			func(c cw) {
				w, d, res, err, other := run(c, client.CancelPush())
				theirs := theirs(w, c.id, other)
				Expect(err).To(MatchError(client.ErrPushCancelled))
				Expect(res.Status).To(Equal(client.CancelledByOperation))
				Expect(res.Errors).To(HaveLen(1))
				Expect(res.Errors[0].Status).To(Equal(c.status))
				Expect(d.queue()).To(Equal([]string{c.kind + " " + c.id}))
				Expect(d.op(c.id).State).To(BeEquivalentTo("pending"))
				Expect(d.errs()).To(BeEmpty())
				Expect(res.Errors[0].ServerItem).To(Equal(client.Item(theirs)))
				if c.kind == "delete" {
					Expect(d.row(c.id)).To(BeNil())
				} else {
					Expect(d.row(c.id)["text"]).To(Equal("mine"))
				}
			},
			Entry("insert: 409", ins), Entry("update: 412", upd), Entry("delete: 412", del),
		)

		DescribeTable("TreatIdenticalAsSuccess: another writer that wrote the same value is a success",
			func(c cw) {
				w := newWorld(fakeserver.Config{})
				d := w.device(nil, client.TreatIdenticalAsSuccess())
				w.seed("u", "v1", d)
				if c.kind == "insert" {
					d.insert(client.Item{"id": c.id, "text": "mine"})
				} else {
					d.update(client.Item{"id": c.id, "text": "mine"})
				}
				faultAdd(w, "concurrent-write", fakeserver.Match{Op: []string{c.kind}, Times: 1},
					map[string]any{"patch": map[string]any{"text": "mine"}})
				seq := w.lastSeq()
				res := d.push()
				Expect(res.Errors).To(BeEmpty())
				Expect(faultRequestsOf(w, seq, faultMethod[c.kind])).
					To(HaveExactElements(HaveSuffix(fmt.Sprint(c.status))), "one request, which met the conflict")
				faultExpectConverged(w, d)
				Expect(d.row(c.id)["text"]).To(Equal("mine"))
			},
			Entry("insert: 409", ins), Entry("update: 412", upd),
		)
	})

	Describe("clock and paging faults leave the push alone", func() {
		It("clock-skew: the rows carry the updatedAt the server stamped, skewed", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			w.seed("u", "v1", d)
			d.insert(client.Item{"id": "n", "text": "mine"})
			d.update(client.Item{"id": "u", "text": "mine"})
			rule := faultAdd(w, "clock-skew", fakeserver.Match{Method: []string{"POST", "PATCH"}}, map[string]any{"ms": -3600000})
			seq := w.lastSeq()
			d.push()
			hits := faultHits(w, seq, rule.ID)
			Expect(hits).To(HaveLen(2))
			for _, ev := range hits {
				Expect(ev.Applied).To(BeTrue())
				Expect(ev.UpdatedAt).To(Equal(ev.Time.Add(-time.Hour)), "stamped an hour behind the server's clock")
				Expect(faultUpdatedAt(w, ev.ItemID)).To(Equal(ev.UpdatedAt.UTC().Format(faultStamp)))
				Expect(d.row(ev.ItemID)).To(Equal(client.Item(w.serverRow(ev.ItemID))))
			}
			Expect(faultUpdatedAt(w, "u") < w.serverRow("u")["createdAt"].(string)).To(BeTrue(), "updated before it was created: the fault's doing")
			faultExpectConverged(w, d)
		})

		It("clock-freeze: the rows share one updatedAt, as the server stamped them", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			for _, id := range []string{"a", "b", "c"} {
				d.insert(client.Item{"id": id, "text": id})
			}
			faultAdd(w, "clock-freeze", fakeserver.Match{}, nil)
			d.push()
			at := faultUpdatedAt(w, "a")
			Expect(faultUpdatedAt(w, "b")).To(Equal(at))
			Expect(faultUpdatedAt(w, "c")).To(Equal(at))
			Expect(w.serverRow("a")["version"]).NotTo(Equal(w.serverRow("b")["version"]), "versions still move")
			for _, id := range []string{"a", "b", "c"} {
				Expect(d.row(id)["updatedAt"]).To(Equal(at))
			}
			faultExpectConverged(w, d)
		})

		It("page-shift: never matches a push (it needs a later page of a query)", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			w.seed("u", "v1", d)
			d.insert(client.Item{"id": "n", "text": "mine"})
			d.update(client.Item{"id": "u", "text": "mine"})
			d.delete(client.Item{"id": "u"})
			rule := faultAdd(w, "page-shift", fakeserver.Match{}, nil)
			seq := w.lastSeq()
			d.push()
			matched, fired := faultTimes(w, rule.ID)
			Expect(matched).To(BeZero())
			Expect(fired).To(BeZero())
			Expect(faultHits(w, seq, rule.ID)).To(BeEmpty())
			Expect(faultServerIDs(w)).To(Equal([]string{"n", "u"}), "no row was shifted in")
			faultExpectConverged(w, d)
		})
	})
})

// A lost answer: the write reached the server and was applied, and the client cannot know
// it. drop-response closes the connection without the answer; latency holds it past the
// client's timeout; truncate sends it cut short. The operation stays queued; the next push
// sends it again and meets its own write: a 409 for an insert, a 412 for an update. A delete
// meets a 404, not a 412 (docs/protocol.md checks existence before the version, and the row
// is a tombstone now), which the client takes as success.
var _ = Describe("a lost answer", Label("faults"), func() {
	ctx := context.Background()

	type kind struct {
		name, id string
		seed     bool
		write    func(d *device)
		path     string
		again    int // what the next push meets
	}
	kinds := []kind{
		{name: "insert", id: "n", path: "/tables/todoitem", again: http.StatusConflict,
			write: func(d *device) { d.insert(client.Item{"id": "n", "text": "mine", "n": 1}) }},
		{name: "update", id: "u", seed: true, path: "/tables/todoitem/u", again: http.StatusPreconditionFailed,
			write: func(d *device) { d.update(client.Item{"id": "u", "text": "mine", "n": 1}) }},
		{name: "delete", id: "u", seed: true, path: "/tables/todoitem/u", again: http.StatusNotFound,
			write: func(d *device) { d.delete(client.Item{"id": "u"}) }},
	}

	type fault struct {
		action  string
		params  map[string]any
		timeout time.Duration // the client's WithTimeout
	}
	faults := []fault{
		{action: "drop-response"},
		{action: "latency", params: map[string]any{"ms": 2000}, timeout: 100 * time.Millisecond},
		{action: "truncate"},
	}

	cell := func(f fault, k kind, handler string, identical bool) {
		w := newWorld(fakeserver.Config{})
		var copts []client.ClientOption
		if f.timeout > 0 {
			copts = append(copts, client.WithTimeout(f.timeout))
		}
		var opts []client.Option
		if identical {
			opts = append(opts, client.TreatIdenticalAsSuccess())
		}
		d := w.deviceWith(copts, faultHandler(handler), opts...)
		if k.seed {
			w.seed(k.id, "v1", d)
		}
		k.write(d)
		local := d.row(k.id)
		method := faultMethod[k.name]
		rule := faultAdd(w, f.action, fakeserver.Match{Method: []string{method}, ID: k.id, Times: 1}, f.params)

		By("the first push: the write is applied, its answer lost")
		seq := w.lastSeq()
		res, err := d.sc.Push(ctx)
		hits := faultHits(w, seq, rule.ID)
		Expect(hits).To(HaveLen(1))
		Expect(hits[0].Method).To(Equal(method))
		Expect(hits[0].Applied).To(BeTrue(), "the server applied the write")
		Expect(w.requests(seq)).To(HaveLen(1))
		applied := w.serverRow(k.id)
		Expect(applied).NotTo(BeNil())
		Expect(applied["version"]).To(Equal(hits[0].VersionAfter))
		if k.name == "delete" {
			Expect(applied["deleted"]).To(BeTrue())
		} else {
			Expect(applied).To(HaveKeyWithValue("text", "mine"))
			Expect(applied["deleted"]).To(BeFalse())
		}
		if f.action == "truncate" {
			// The answer came, unreadable: an error record (status 2xx, ErrBadResponse), and
			// the push went on.
			var pf *client.PushFailedError
			Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
			Expect(res.Status).To(Equal(client.Complete))
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].Status).To(Equal(hits[0].Status))
			Expect(pf.Errors[0].Status).To(BeElementOf(http.StatusOK, http.StatusCreated))
			Expect(pf.Errors[0]).To(MatchError(client.ErrBadResponse))
			Expect(pf.Errors[0].ServerItem).To(BeNil())
			Expect(d.op(k.id).State).To(BeEquivalentTo("failed"))
			Expect(d.errs()).To(HaveLen(1))
		} else {
			ne := faultNetworkErr(res, err)
			Expect(ne.Timeout()).To(Equal(f.timeout > 0))
			Expect(d.op(k.id).State).To(BeEquivalentTo("attempted"))
			Expect(d.errs()).To(BeEmpty())
		}
		Expect(d.queue()).To(Equal([]string{k.name + " " + k.id}), "still queued")
		Expect(d.row(k.id)).To(Equal(local), "the local row is as it was")

		By("the next push meets its own write")
		seq = w.lastSeq()
		res, err = d.sc.Push(ctx)
		first := fmt.Sprintf("%s %s %d", method, k.path, k.again)
		var leftover []*client.TableOperationError
		switch {
		case k.name == "delete":
			// 404 on a delete is success, whatever the strategy.
			Expect(err).NotTo(HaveOccurred())
			Expect(w.requests(seq)).To(Equal([]string{first}))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			Expect(d.row(k.id)).To(BeNil())
			Expect(w.serverRow(k.id)).To(Equal(applied))
		case identical:
			// The server item equals what was sent: success, whatever the strategy, no error.
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Errors).To(BeEmpty())
			Expect(w.requests(seq)).To(Equal([]string{first}), "nothing sent again")
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			Expect(w.serverRow(k.id)).To(Equal(applied))
			Expect(d.row(k.id)).To(Equal(client.Item(applied)))
		case handler == "DefaultHandler":
			var pf *client.PushFailedError
			Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
			Expect(res.Status).To(Equal(client.Complete))
			Expect(w.requests(seq)).To(Equal([]string{first}))
			Expect(pf.Errors).To(HaveLen(1))
			e := pf.Errors[0]
			Expect(e.Status).To(Equal(k.again))
			Expect(e.ServerItem).To(Equal(client.Item(applied)))
			Expect(e.Item).To(HaveKeyWithValue("text", "mine"))
			Expect(d.queue()).To(Equal([]string{k.name + " " + k.id}))
			Expect(d.op(k.id).State).To(BeEquivalentTo("failed"))
			Expect(d.errs()).To(HaveLen(1))
			Expect(d.errs()[0].Status).To(Equal(k.again), "it replaces the truncate's record, if any")
			Expect(d.row(k.id)).To(Equal(local))
			Expect(w.serverRow(k.id)).To(Equal(applied))
			leftover = d.errs()
		case handler == "ClientWins":
			Expect(err).NotTo(HaveOccurred())
			Expect(w.requests(seq)).To(Equal([]string{first, fmt.Sprintf("PATCH /tables/todoitem/%s 200", k.id)}),
				"sent again (an insert as an update) with the server's version")
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			srv := w.serverRow(k.id)
			Expect(srv["version"]).NotTo(Equal(applied["version"]))
			Expect(srv).To(HaveKeyWithValue("text", "mine"))
			Expect(d.row(k.id)).To(Equal(client.Item(srv)))
		case handler == "ServerWins":
			Expect(err).NotTo(HaveOccurred())
			Expect(w.requests(seq)).To(Equal([]string{first}))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			Expect(w.serverRow(k.id)).To(Equal(applied))
			Expect(d.row(k.id)).To(Equal(client.Item(applied)))
		case handler == "CancelPush":
			Expect(err).To(MatchError(client.ErrPushCancelled))
			Expect(res.Status).To(Equal(client.CancelledByOperation))
			Expect(w.requests(seq)).To(Equal([]string{first}))
			Expect(res.Errors).NotTo(BeEmpty())
			conflict := res.Errors[0]
			Expect(conflict.Status).To(Equal(k.again))
			Expect(conflict.ServerItem).To(Equal(client.Item(applied)))
			Expect(d.queue()).To(Equal([]string{k.name + " " + k.id}))
			Expect(d.op(k.id).State).To(BeEquivalentTo("pending"))
			if f.action == "truncate" {
				// A cancelled push records nothing, and leaves the record of the earlier push.
				Expect(d.errs()).To(HaveLen(1))
				Expect(d.errs()[0]).To(MatchError(client.ErrBadResponse))
				Expect(res.Errors).To(HaveLen(2))
			} else {
				Expect(d.errs()).To(BeEmpty())
				Expect(res.Errors).To(HaveLen(1))
			}
			Expect(d.row(k.id)).To(Equal(local))
			Expect(w.serverRow(k.id)).To(Equal(applied))
			leftover = []*client.TableOperationError{conflict}
		default:
			Fail("no expectation for " + handler)
		}

		By("resolved (the server's item is the device's own write), a pull converges")
		for _, e := range leftover {
			Expect(e.CancelAndUpdateItem(ctx, e.ServerItem)).To(Succeed())
		}
		d.pull()
		faultExpectConverged(w, d)
		if k.name == "delete" {
			Expect(d.ids()).To(BeEmpty())
		} else {
			Expect(d.row(k.id)).To(HaveKeyWithValue("text", "mine"))
		}
	}

	var entries []TableEntry
	for _, f := range faults {
		for _, k := range kinds {
			for _, h := range faultHandlerNames {
				for _, identical := range []bool{false, true} {
					desc := fmt.Sprintf("%s on %s, %s", f.action, k.name, h)
					if identical {
						desc += ", TreatIdenticalAsSuccess"
					}
					entries = append(entries, Entry(desc, f, k, h, identical))
				}
			}
		}
	}
	DescribeTable("is met again on the next push and resolved by the strategy", cell, entries)
})

var _ = Describe("pull under faults", Label("faults"), func() {
	ctx := context.Background()

	// start makes a device that has pulled r00..r03 incrementally (query id "all"), then
	// changes the server behind its back: r01 updated, r02 deleted, r04 inserted.
	start := func(cfg fakeserver.Config, copts ...client.ClientOption) (*world, *device) {
		w := newWorld(cfg)
		d := w.deviceWith(copts, nil)
		for i := range 4 {
			_, err := w.srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%02d", i), "text": fmt.Sprintf("row %d", i)})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
		Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02", "r03"}))
		Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "r03")))
		_, err := w.srv.Write("todoitem", "r01", map[string]any{"text": "changed"})
		Expect(err).NotTo(HaveOccurred())
		_, err = w.srv.Delete("todoitem", "r02")
		Expect(err).NotTo(HaveOccurred())
		_, err = w.srv.Insert("todoitem", map[string]any{"id": "r04", "text": "row 4"})
		Expect(err).NotTo(HaveOccurred())
		return w, d
	}

	type pullFault struct {
		action  string
		params  map[string]any
		timeout time.Duration // the client's WithTimeout
		check   func(err error)
	}
	network := func(timeout bool) func(error) {
		return func(err error) {
			GinkgoHelper()
			Expect(err).To(MatchError(client.ErrNetwork))
			var ne *client.NetworkError
			Expect(errors.As(err, &ne)).To(BeTrue(), "got %v", err)
			Expect(ne.Method).To(Equal(http.MethodGet))
			Expect(ne.Timeout()).To(Equal(timeout))
		}
	}
	status := func(code int) func(error) {
		return func(err error) {
			GinkgoHelper()
			var he *client.HTTPError
			Expect(errors.As(err, &he)).To(BeTrue(), "got %v", err)
			Expect(he.Status).To(Equal(code))
			Expect(err).NotTo(MatchError(client.ErrNetwork))
		}
	}
	badResponse := func(err error) {
		GinkgoHelper()
		Expect(err).To(MatchError(client.ErrBadResponse))
		var re *client.ResponseError
		Expect(errors.As(err, &re)).To(BeTrue(), "got %v", err)
		Expect(re.Status).To(Equal(http.StatusOK))
		Expect(err).NotTo(MatchError(client.ErrNetwork))
	}
	failing := []pullFault{
		{action: "reset", check: network(false)},
		{action: "offline", check: network(false)},
		{action: "drop-response", check: network(false)},
		{action: "timeout", timeout: 150 * time.Millisecond, check: network(true)},
		{action: "timeout", params: map[string]any{"ms": 30}, check: network(false)},
		{action: "latency", params: map[string]any{"ms": 2000}, timeout: 150 * time.Millisecond, check: network(true)},
		{action: "status", params: map[string]any{"code": 500}, check: status(500)},
		{action: "status", params: map[string]any{"code": 503}, check: status(503)},
		{action: "status", params: map[string]any{"code": 401}, check: func(err error) {
			GinkgoHelper()
			status(401)(err)
			Expect(err).To(MatchError(client.ErrAuthentication))
		}},
		{action: "truncate", check: badResponse},
		{action: "truncate", params: map[string]any{"bytes": 0}, check: badResponse},
	}
	var entries []TableEntry
	for _, queryID := range []string{"", "all"} {
		for _, f := range failing {
			desc := f.action
			if f.params != nil {
				desc += fmt.Sprint(f.params)
			}
			if f.timeout > 0 {
				desc += fmt.Sprintf(", client timeout %v", f.timeout)
			}
			if queryID == "" {
				desc += ", full pull"
			} else {
				desc += ", incremental pull"
			}
			entries = append(entries, Entry(desc, queryID, f))
		}
	}
	// Times 0 (until healed): net/http sends a GET again, once, when a reused connection
	// closes before any answer, so a one-shot fault could go unseen.
	DescribeTable("a failed pull changes nothing; healed, it completes",
		func(queryID string, f pullFault) {
			var copts []client.ClientOption
			if f.timeout > 0 {
				copts = append(copts, client.WithTimeout(f.timeout))
			}
			w, d := start(fakeserver.Config{}, copts...)
			local, token := faultLocal(d), faultToken(d, "all")
			rule := faultAdd(w, f.action, fakeserver.Match{Op: []string{"query"}}, f.params)
			seq := w.lastSeq()
			err := d.todo.Pull(ctx, nil, queryID)
			f.check(err)
			Expect(faultLocal(d)).To(Equal(local), "the store is unchanged")
			Expect(faultToken(d, "all")).To(Equal(token), "the delta token is unchanged")
			Expect(faultToken(d, "")).To(BeEmpty())
			hits := faultSettled(w, seq, rule.ID)
			Expect(hits).NotTo(BeEmpty())
			Expect(faultGets(w, seq)).To(HaveLen(len(hits)), "every GET met the fault")

			By("healed, the pull completes")
			w.srv.Faults().Reset()
			seq = w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, queryID)).To(Succeed())
			Expect(faultHits(w, seq, rule.ID)).To(BeEmpty())
			faultExpectConverged(w, d)
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r03", "r04"}))
			Expect(d.row("r01")).To(HaveKeyWithValue("text", "changed"))
			if queryID != "" {
				Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "r04")))
			}
		},
		entries,
	)

	DescribeTable("a fault on a later page keeps the pages before it: each page is stored whole, with its token",
		func(queryID, action string) {
			w := newWorld(fakeserver.Config{PageSize: 2})
			d := w.device(nil)
			for i := range 5 {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%02d", i)})
				Expect(err).NotTo(HaveOccurred())
			}
			rule := faultAdd(w, action, fakeserver.Match{Op: []string{"query"}, After: 1}, nil)
			err := d.todo.Pull(ctx, nil, queryID)
			Expect(err).To(HaveOccurred())
			Expect(d.ids()).To(Equal([]string{"r00", "r01"}), "the first page, and nothing of the second")
			if queryID != "" {
				Expect(faultToken(d, queryID)).To(Equal(faultUpdatedAt(w, "r01")))
			}
			_, fired := faultTimes(w, rule.ID)
			Expect(fired).To(BeNumerically(">=", 1))
			w.srv.Faults().Reset()
			Expect(d.todo.Pull(ctx, nil, queryID)).To(Succeed())
			faultExpectConverged(w, d)
		},
		Entry("truncate, full pull", "", "truncate"),
		Entry("truncate, incremental pull", "all", "truncate"),
		Entry("drop-response, full pull", "", "drop-response"),
		Entry("drop-response, incremental pull", "all", "drop-response"),
	)

	It("latency: the pull waits and completes", func() {
		w, d := start(fakeserver.Config{PageSize: 2})
		rule := faultAdd(w, "latency", fakeserver.Match{Op: []string{"query"}}, map[string]any{"ms": 20, "jitterMs": 10})
		seq := w.lastSeq()
		Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
		Expect(faultHits(w, seq, rule.ID)).To(HaveLen(len(faultGets(w, seq))))
		faultExpectConverged(w, d)
		Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "r04")))
	})

	Describe("clock-freeze", func() {
		It("rows sharing one updatedAt across many pages: an incremental pull still gets every one", func() {
			w := newWorld(fakeserver.Config{PageSize: 2})
			d := w.device(nil)
			for _, id := range []string{"x0", "x1"} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": id})
				Expect(err).NotTo(HaveOccurred())
			}
			rule := faultAdd(w, "clock-freeze", fakeserver.Match{Client: "server"}, nil)
			for i := range 5 {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%02d", i)})
				Expect(err).NotTo(HaveOccurred())
			}
			frozen := faultUpdatedAt(w, "r00")
			Expect(faultUpdatedAt(w, "r04")).To(Equal(frozen))
			Expect(faultUpdatedAt(w, "x1") < frozen).To(BeTrue())
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02", "r03", "r04", "x0", "x1"}))
			Expect(faultToken(d, "all")).To(Equal(frozen))

			By("a later write at the same frozen time, with an id that sorts first, and a change to a row")
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "a-late"})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Write("todoitem", "r03", map[string]any{"text": "changed"})
			Expect(err).NotTo(HaveOccurred())
			Expect(faultUpdatedAt(w, "a-late")).To(Equal(frozen))
			Expect(faultUpdatedAt(w, "r03")).To(Equal(frozen))
			Expect(faultHits(w, 0, rule.ID)).To(HaveLen(7))
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(pullParam(pullGets(w, seq, "todoitem"), "$filter")).To(HaveEach("updatedAt ge datetimeoffset'"+frozen+"'"),
				"ge: the rows at the token are asked for again")
			faultExpectConverged(w, d)
			Expect(d.row("r03")).To(HaveKeyWithValue("text", "changed"))
			Expect(faultToken(d, "all")).To(Equal(frozen))
		})
	})

	Describe("page-shift", func() {
		// A page-shift inserts, before a later page ($skip > 0) of a query, copies of the
		// query's first row with ids that sort first ("!shift-000001"…), stamped by the clock
		// like any write: never back-dated. Paging by $skip then meets a row it has read again:
		// an insert before the cursor repeats rows, it never hides one. What must hold:
		//   - a pull ends with every row that matched its query when it started;
		//   - a copy that lands before the cursor is not seen by that pull. Ordered by id (a
		//     full pull) it always lands there; ordered by updatedAt (an incremental pull) only
		//     when it shares the cursor's timestamp, and then it sits at the token, so the next
		//     incremental pull gets it (ge). A copy stamped later lands after the cursor and the
		//     same pull reads it. Either way a second pull ends with every server row.

		It("a full pull gets every row there was and misses the copy shifted in before its cursor; the next full pull gets it", func() {
			w := newWorld(fakeserver.Config{PageSize: 2})
			d := w.device(nil)
			ids := pullSeedRows(w, 6)
			rule := faultAdd(w, "page-shift", fakeserver.Match{Times: 1}, nil)
			seq := w.lastSeq()
			d.pull()
			Expect(d.ids()).To(Equal(ids))
			Expect(faultServerIDs(w)).To(Equal(append([]string{"!shift-000001"}, ids...)))
			Expect(d.row("!shift-000001")).To(BeNil(), "shifted in behind the cursor")
			hits := faultHits(w, seq, rule.ID)
			Expect(hits).To(HaveLen(2), "the direct insert, and the GET it was made for")
			Expect(hits[0].Source).To(Equal(fakeserver.SourceDirect))
			Expect(hits[0].ItemID).To(Equal("!shift-000001"))
			Expect(hits[1].Source).To(Equal(fakeserver.SourceHTTP))
			Expect(pullParam(pullGets(w, seq, "todoitem"), "$skip")).To(Equal([]string{"-", "2", "4", "6", "7"}))
			Expect(pullGetRows(w, seq)).To(Equal([]int{2, 2, 2, 1, 0}), "r01 came twice: 7 rows read for 6")

			d.pull()
			Expect(d.ids()).To(Equal(faultServerIDs(w)))
			faultExpectConverged(w, d)
		})

		It("an incremental pull reads, in the same pull, a copy stamped after its cursor", func() {
			// a..e share t0, f is at t1 and the clock stays there (step 0). The shift fires on
			// the page at $skip 2 of the t0 group; its copy is stamped t1, after the cursor.
			clock := fakeserver.SimClock(syncT0).WithStep(0)
			w := newWorld(fakeserver.Config{PageSize: 2, Clock: clock})
			d := w.device(nil)
			for _, id := range []string{"a", "b", "c", "d", "e"} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": id, "text": id})
				Expect(err).NotTo(HaveOccurred())
			}
			clock.Advance(time.Second)
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "f", "text": "f"})
			Expect(err).NotTo(HaveOccurred())
			rule := faultAdd(w, "page-shift", fakeserver.Match{Times: 1}, nil)
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(faultHits(w, seq, rule.ID)).To(HaveLen(2))
			Expect(faultUpdatedAt(w, "!shift-000001")).To(Equal(faultUpdatedAt(w, "f")), "stamped by the clock")
			Expect(d.ids()).To(Equal(faultServerIDs(w)))
			Expect(d.ids()).To(HaveLen(7))
			Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "f")))
			faultExpectConverged(w, d)
		})

		It("an incremental pull misses a copy that shares its cursor's timestamp; it sits at the token and the next incremental pull gets it", func() {
			w := newWorld(fakeserver.Config{PageSize: 2, Clock: fakeserver.SimClock(syncT0).WithStep(0)})
			d := w.device(nil)
			for _, id := range []string{"a", "b", "c", "d", "e"} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": id, "text": id})
				Expect(err).NotTo(HaveOccurred())
			}
			faultAdd(w, "page-shift", fakeserver.Match{Times: 1}, nil)
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"a", "b", "c", "d", "e"}))
			Expect(faultServerIDs(w)).To(ContainElement("!shift-000001"))
			Expect(faultUpdatedAt(w, "!shift-000001")).To(Equal(faultToken(d, "all")))
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(pullParam(pullGets(w, seq, "todoitem"), "$filter")).To(HaveEach(ContainSubstring(faultToken(d, "all"))))
			Expect(d.ids()).To(Equal(faultServerIDs(w)))
			faultExpectConverged(w, d)
		})

		It("an endless shift with one-row pages cannot progress: the pull stops, keeping what it stored", func() {
			// a, b, c share t0; pages of 2. After [a b] (twice: the token moved, then $skip 2)
			// every page request inserts a row before the cursor: [b c], then [c] at $skip 4 and
			// [c] again at $skip 5. A server that does this cannot be told from one that ignores
			// $skip, and the client stops rather than loop (ErrBadResponse), with every row it
			// read stored and its token kept. Healed, the rows shifted in sit at the token.
			w := newWorld(fakeserver.Config{PageSize: 2, Clock: fakeserver.SimClock(syncT0).WithStep(0)})
			d := w.device(nil)
			for _, id := range []string{"a", "b", "c"} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": id, "text": id})
				Expect(err).NotTo(HaveOccurred())
			}
			faultAdd(w, "page-shift", fakeserver.Match{}, nil)
			seq := w.lastSeq()
			err := d.todo.Pull(ctx, nil, "all")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(err).To(MatchError(ContainSubstring("$skip")))
			Expect(pullParam(pullGets(w, seq, "todoitem"), "$skip")).To(Equal([]string{"-", "-", "2", "4", "5"}))
			Expect(d.ids()).To(Equal([]string{"a", "b", "c"}))
			Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "a")))
			Expect(faultServerIDs(w)).To(HaveLen(6))

			w.srv.Faults().Reset()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal(faultServerIDs(w)))
			faultExpectConverged(w, d)
		})
	})

	Describe("clock-skew", func() {
		It("backwards: an incremental pull misses the back-dated row; a full pull gets it", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			pullSeedRows(w, 3)
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			token := faultToken(d, "all")
			Expect(token).To(Equal(faultUpdatedAt(w, "r02")))
			rule := faultAdd(w, "clock-skew", fakeserver.Match{Client: "server", Times: 1}, map[string]any{"ms": -60000})
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "back", "text": "back-dated"})
			Expect(err).NotTo(HaveOccurred())
			Expect(faultHits(w, 0, rule.ID)).To(HaveLen(1))
			Expect(faultUpdatedAt(w, "back") < token).To(BeTrue(), "stamped a minute behind the token")

			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(pullGetRows(w, seq)).To(Equal([]int{1, 0}), "only r02, at the token")
			Expect(d.row("back")).To(BeNil(), "what the fault exposes: a row written behind the token is never asked for")
			Expect(faultToken(d, "all")).To(Equal(token))

			d.pull()
			Expect(d.row("back")).To(Equal(client.Item(w.serverRow("back"))))
			faultExpectConverged(w, d)
		})

		It("forwards: the token jumps ahead, and rows written after healing are missed until the clock catches up", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			pullSeedRows(w, 2)
			rule := faultAdd(w, "clock-skew", fakeserver.Match{Client: "server"}, map[string]any{"ms": 3600000})
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "ahead"})
			Expect(err).NotTo(HaveOccurred())
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"ahead", "r00", "r01"}))
			Expect(faultToken(d, "all")).To(Equal(faultUpdatedAt(w, "ahead")))

			Expect(w.srv.Faults().Remove(rule.ID)).To(BeTrue())
			_, err = w.srv.Insert("todoitem", map[string]any{"id": "after"})
			Expect(err).NotTo(HaveOccurred())
			Expect(faultUpdatedAt(w, "after") < faultToken(d, "all")).To(BeTrue())
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.row("after")).To(BeNil())
			d.pull()
			faultExpectConverged(w, d)
		})
	})

	It("push before pull under a network fault: the pull fails with the push's error and sends no GET", func() {
		w, d := start(fakeserver.Config{})
		d.insert(client.Item{"id": "n", "text": "mine"})
		local, token := faultLocal(d), faultToken(d, "all")
		rule := faultAdd(w, "offline", fakeserver.Match{}, nil)
		seq := w.lastSeq()
		err := d.todo.Pull(ctx, nil, "all")
		Expect(err).To(MatchError(client.ErrNetwork))
		Expect(err).To(MatchError(client.ErrPushFailed))
		var pf *client.PushFailedError
		Expect(errors.As(err, &pf)).To(BeTrue())
		Expect(pf.Status).To(Equal(client.CancelledByNetworkError))
		Expect(faultSettled(w, seq, rule.ID)).To(HaveLen(1))
		Expect(w.requests(seq)).To(Equal([]string{"POST /tables/todoitem 0"}), "the push's POST, and no GET")
		Expect(faultLocal(d)).To(Equal(local))
		Expect(faultToken(d, "all")).To(Equal(token))
		Expect(d.queue()).To(Equal([]string{"insert n"}))
		Expect(w.serverRow("n")).To(BeNil())

		w.srv.Faults().Reset()
		Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
		faultExpectConverged(w, d)
		Expect(d.ids()).To(Equal([]string{"n", "r00", "r01", "r03", "r04"}))
	})
})

var _ = Describe("purge under faults", Label("faults"), func() {
	ctx := context.Background()

	// start makes a device holding r00..r02, pulled incrementally under "all".
	start := func(copts []client.ClientOption, opts ...client.Option) (*world, *device) {
		w := newWorld(fakeserver.Config{})
		d := w.deviceWith(copts, nil, opts...)
		pullSeedRows(w, 3)
		Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
		Expect(faultToken(d, "all")).NotTo(BeEmpty())
		return w, d
	}

	It("by default sends no request: an offline server changes nothing", func() {
		w, d := start(nil)
		rule := faultAdd(w, "offline", fakeserver.Match{}, nil)
		seq := w.lastSeq()

		By("a purge of a clean table")
		Expect(d.todo.Purge(ctx, client.NewQuery().Where("id eq 'r00'"), "", false)).To(Succeed())
		Expect(d.ids()).To(Equal([]string{"r01", "r02"}))
		Expect(d.todo.Purge(ctx, nil, "all", false)).To(Succeed())
		Expect(d.ids()).To(BeEmpty())
		Expect(faultToken(d, "all")).To(BeEmpty())

		By("a purge of a dirty table: refused, without a request")
		d.insert(client.Item{"id": "n", "text": "mine"})
		Expect(d.todo.Purge(ctx, nil, "", false)).To(MatchError(client.ErrPurgePendingChanges))
		Expect(d.queue()).To(Equal([]string{"insert n"}))
		Expect(d.ids()).To(Equal([]string{"n"}))

		By("a forced purge")
		Expect(d.todo.Purge(ctx, nil, "", true)).To(Succeed())
		Expect(d.queue()).To(BeEmpty())
		Expect(d.ids()).To(BeEmpty())

		Expect(w.srv.HistorySince(seq)).To(BeEmpty(), "no request reached the server")
		matched, fired := faultTimes(w, rule.ID)
		Expect(matched).To(BeZero())
		Expect(fired).To(BeZero())
	})

	type purgeFault struct {
		action  string
		params  map[string]any
		timeout time.Duration
		check   func(err error)
	}
	network := func(err error) {
		GinkgoHelper()
		Expect(err).To(MatchError(client.ErrNetwork))
		var pf *client.PushFailedError
		Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
		Expect(pf.Status).To(Equal(client.CancelledByNetworkError))
	}
	DescribeTable("with PurgePushesFirst, a fault during the implicit push fails the purge and changes nothing",
		func(f purgeFault) {
			var copts []client.ClientOption
			if f.timeout > 0 {
				copts = append(copts, client.WithTimeout(f.timeout))
			}
			// TreatIdenticalAsSuccess: after a lost answer, the push after healing meets its
			// own insert and completes.
			w, d := start(copts, client.PurgePushesFirst(), client.TreatIdenticalAsSuccess())
			d.insert(client.Item{"id": "n", "text": "mine"})
			local, token := faultLocal(d), faultToken(d, "all")
			rule := faultAdd(w, f.action, fakeserver.Match{Method: []string{"POST"}}, f.params)
			seq := w.lastSeq()
			err := d.todo.Purge(ctx, nil, "all", false)
			Expect(err).To(MatchError(client.ErrPushFailed))
			f.check(err)
			Expect(faultLocal(d)).To(Equal(local), "no row purged")
			Expect(faultToken(d, "all")).To(Equal(token), "the token kept")
			Expect(d.queue()).To(Equal([]string{"insert n"}))
			Expect(faultSettled(w, seq, rule.ID)).To(HaveLen(1))
			Expect(w.requests(seq)).To(HaveExactElements(HavePrefix("POST /tables/todoitem ")), "the push's POST, nothing else")

			By("healed, the purge pushes and purges")
			w.srv.Faults().Reset()
			Expect(d.todo.Purge(ctx, nil, "all", false)).To(Succeed())
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			Expect(d.ids()).To(BeEmpty())
			Expect(faultToken(d, "all")).To(BeEmpty())
			Expect(w.serverRow("n")).To(HaveKeyWithValue("text", "mine"))
		},
		Entry("reset", purgeFault{action: "reset", check: network}),
		Entry("offline", purgeFault{action: "offline", check: network}),
		Entry("timeout", purgeFault{action: "timeout", timeout: 150 * time.Millisecond, check: network}),
		Entry("drop-response (applied on the server)", purgeFault{action: "drop-response", check: network}),
		Entry("status 500: the push completes with an error left, which is not clean", purgeFault{action: "status",
			params: map[string]any{"code": 500}, check: func(err error) {
				GinkgoHelper()
				var pf *client.PushFailedError
				Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
				Expect(pf.Status).To(Equal(client.Complete))
				Expect(pf.Errors).To(HaveLen(1))
				Expect(pf.Errors[0].Status).To(Equal(500))
			}}),
	)
})

// Each spec starts its own server and client, runs a family of faults against push and pull,
// closes everything, and then checks that every connection the server saw has been closed
// and that no goroutine the spec started is left. The client has no Close of its own: it is
// given an *http.Client (WithHTTPClient) whose idle connections the spec closes, as an app
// would.
var _ = Describe("no leaks under faults", Label("faults", "leaks"), func() {
	ctx := context.Background()

	type family struct {
		cfg     fakeserver.Config
		timeout time.Duration
		run     func(w *world, d *device)
		hangUps bool // faults of the family hang up on the client
	}
	pushFails := func(d *device, want client.PushStatus) {
		GinkgoHelper()
		res, err := d.sc.Push(ctx)
		Expect(err).To(HaveOccurred())
		Expect(res.Status).To(Equal(want))
	}
	DescribeTable("closes every connection and leaves no goroutine",
		func(f family) {
			ignore := goleak.IgnoreCurrent()
			w, conns, hc := faultTrackedWorld(f.cfg)
			copts := []client.ClientOption{client.WithHTTPClient(hc)}
			if f.timeout > 0 {
				copts = append(copts, client.WithTimeout(f.timeout))
			}
			d := w.deviceWith(copts, nil, client.TreatIdenticalAsSuccess())
			pullSeedRows(w, 5)
			d.pull()
			f.run(w, d)

			By("healed, the device converges")
			w.srv.Faults().Reset()
			_, _ = d.sc.Push(ctx) // what a fault left recorded is resolved below
			for _, e := range d.errs() {
				Expect(e.CancelAndUpdateItem(ctx, e.ServerItem)).To(Succeed())
			}
			d.pull()
			faultExpectConverged(w, d)

			By("closed, nothing is left")
			hc.CloseIdleConnections()
			Eventually(conns.open).WithTimeout(2*time.Second).WithPolling(5*time.Millisecond).Should(BeZero(),
				"the client holds no connection but idle ones")
			w.ts.Close()
			total, hijacked := conns.counts()
			Expect(total).To(BeNumerically(">", 0))
			Expect(conns.open()).To(BeZero())
			if f.hangUps {
				Expect(hijacked).To(BeNumerically(">", 0), "faults hung up on the client")
			} else {
				Expect(hijacked).To(BeZero())
			}
			goleak.VerifyNone(GinkgoT(), ignore)
		},
		Entry("network: reset, offline, drop-response, timeout", family{timeout: 150 * time.Millisecond, hangUps: true,
			run: func(w *world, d *device) {
				d.insert(client.Item{"id": "a", "text": "A"})
				faultAdd(w, "reset", fakeserver.Match{Times: 1}, nil)
				pushFails(d, client.CancelledByNetworkError)
				faultAdd(w, "drop-response", fakeserver.Match{Times: 1}, nil)
				pushFails(d, client.CancelledByNetworkError)
				Expect(w.serverRow("a")).NotTo(BeNil())
				d.update(client.Item{"id": "r00", "text": "changed"})
				faultAdd(w, "timeout", fakeserver.Match{Method: []string{"PATCH"}, Times: 1}, nil)
				pushFails(d, client.CancelledByNetworkError)
				rule := faultAdd(w, "offline", fakeserver.Match{}, nil)
				Expect(d.todo.Pull(ctx, nil, "all")).To(MatchError(client.ErrNetwork))
				w.srv.Faults().Remove(rule.ID)
				d.push()
				faultAdd(w, "offline", fakeserver.Match{}, nil)
				Expect(d.todo.Pull(ctx, nil, "all")).To(MatchError(client.ErrNetwork))
			}}),
		Entry("latency: answered late, and given up on", family{timeout: 150 * time.Millisecond,
			run: func(w *world, d *device) {
				d.insert(client.Item{"id": "a", "text": "A"})
				faultAdd(w, "latency", fakeserver.Match{Method: []string{"POST"}, Times: 1}, map[string]any{"ms": 2000})
				pushFails(d, client.CancelledByNetworkError)
				faultAdd(w, "latency", fakeserver.Match{Method: []string{"GET"}}, map[string]any{"ms": 10})
				Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			}}),
		Entry("status: 500, 503, 401", family{
			run: func(w *world, d *device) {
				d.insert(client.Item{"id": "a", "text": "A"})
				rule := faultAdd(w, "status", fakeserver.Match{Method: []string{"POST"}}, map[string]any{"code": 500})
				res, err := d.sc.Push(ctx)
				Expect(err).To(HaveOccurred())
				Expect(res.Errors).To(HaveLen(1))
				w.srv.Faults().Remove(rule.ID)
				faultAdd(w, "status", fakeserver.Match{Method: []string{"POST"}, Times: 1}, map[string]any{"code": 401})
				pushFails(d, client.CancelledByAuthenticationError)
				faultAdd(w, "status", fakeserver.Match{Method: []string{"GET"}}, map[string]any{"code": 503})
				var he *client.HTTPError
				Expect(errors.As(d.todo.Pull(ctx, nil, "all"), &he)).To(BeTrue())
			}}),
		Entry("truncate", family{
			run: func(w *world, d *device) {
				d.insert(client.Item{"id": "a", "text": "A"})
				faultAdd(w, "truncate", fakeserver.Match{Method: []string{"POST"}, Times: 1}, nil)
				res, err := d.sc.Push(ctx)
				Expect(err).To(HaveOccurred())
				Expect(res.Errors).To(HaveLen(1))
				d.push()
				faultAdd(w, "truncate", fakeserver.Match{Method: []string{"GET"}}, map[string]any{"bytes": 10})
				Expect(d.todo.Pull(ctx, nil, "all")).To(MatchError(client.ErrBadResponse))
			}}),
		Entry("concurrent-write", family{
			run: func(w *world, d *device) {
				d.update(client.Item{"id": "r00", "text": "mine"})
				d.insert(client.Item{"id": "a", "text": "A"})
				faultAdd(w, "concurrent-write", fakeserver.Match{}, nil)
				res, err := d.sc.Push(ctx)
				Expect(err).To(MatchError(client.ErrPushFailed))
				Expect(res.Errors).To(HaveLen(2))
			}}),
		Entry("clock: skew and freeze", family{
			run: func(w *world, d *device) {
				faultAdd(w, "clock-skew", fakeserver.Match{Times: 1}, map[string]any{"ms": -60000})
				d.insert(client.Item{"id": "a", "text": "A"})
				d.push()
				faultAdd(w, "clock-freeze", fakeserver.Match{}, nil)
				d.insert(client.Item{"id": "b", "text": "B"})
				d.insert(client.Item{"id": "c", "text": "C"})
				d.push()
				Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
				Expect(faultUpdatedAt(w, "b")).To(Equal(faultUpdatedAt(w, "c")))
			}}),
		Entry("page-shift", family{cfg: fakeserver.Config{PageSize: 2},
			run: func(w *world, d *device) {
				faultAdd(w, "page-shift", fakeserver.Match{Times: 2}, nil)
				d.pull()
				Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
				Expect(faultServerIDs(w)).To(ContainElement("!shift-000002"))
			}}),
	)
})
