package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// malformedRow is a well-formed v2 row, for bodies that mix good rows with a bad one.
const malformedRow = `{"id":"good","text":"fine","version":"AAAAAAAAAAE=","createdAt":"2014-06-09T23:40:04.297Z",` +
	`"updatedAt":"2014-06-09T23:40:04.297Z","deleted":false}`

// malformedGETs makes the n-th GET on todoitem (counting from 1; 0: every one) answer 200
// with body (and an extra header pair when given) instead of reaching the server. It
// returns how many it answered.
func malformedGETs(w *world, n int32, body string, header ...string) *atomic.Int32 {
	var seen, answered atomic.Int32
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/tables/todoitem" {
			return false
		}
		if i := seen.Add(1); n != 0 && i != n {
			return false
		}
		answered.Add(1)
		for i := 0; i+1 < len(header); i += 2 {
			rw.Header().Set(header[i], header[i+1])
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write([]byte(body))
		return true
	})
	return &answered
}

// malformedWrites lets the server apply the first write whose method is method, then
// replaces the response's body (keeping its status) with body: the write happened, its
// answer is garbage.
func malformedWrites(w *world, method, body string) *atomic.Int32 {
	var done atomic.Int32
	h := w.srv.Handler()
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method != method || !done.CompareAndSwap(0, 1) {
			return false
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write([]byte(body))
		return true
	})
	return &done
}

var _ = Describe("malformed server answers", func() {
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

	Describe("to a pull's GET", func() {
		DescribeTable("fail the pull with ErrBadResponse and store nothing of the page",
			func(body string, queryID string) {
				// Only the first GET is broken: a pull that took the bad page for good would go
				// on to the server's (empty) next page and succeed.
				answered := malformedGETs(w, 1, body)
				err := d.todo.Pull(ctx, nil, queryID)
				Expect(answered.Load()).To(BeEquivalentTo(1), "the pull stops at the bad page")
				Expect(err).To(MatchError(client.ErrBadResponse))
				var re *client.ResponseError
				Expect(errors.As(err, &re)).To(BeTrue(), "got %T %v", err, err)
				Expect(re.Status).To(Equal(http.StatusOK))
				Expect(d.ids()).To(BeEmpty())
				Expect(d.queue()).To(BeEmpty())
				if queryID != "" {
					Expect(d.sc.DeltaToken(ctx, "todoitem", queryID)).To(Equal(""))
				}
			},
			Entry("bad JSON", `[`+malformedRow+`,{"id":`, ""),
			Entry("bad JSON, incremental", `[`+malformedRow+`,{"id":`, "q"),
			Entry("not JSON at all", `<html>Service Unavailable</html>`, ""),
			Entry("an empty body", ``, ""),
			Entry("a row without an id", `[`+malformedRow+`,{"text":"no id"}]`, ""),
			Entry("a row without an id, incremental", `[`+malformedRow+`,{"text":"no id","updatedAt":"2014-06-09T23:40:04.297Z"}]`, "q"),
			Entry("a row whose id is a number", `[`+malformedRow+`,{"id":7}]`, ""),
			Entry("a row whose id is empty", `[`+malformedRow+`,{"id":""}]`, ""),
			Entry("a null row", `[`+malformedRow+`,null]`, ""),
			Entry("a row that is a number", `[`+malformedRow+`,3]`, ""),
			Entry("a row whose version is a number", `[`+malformedRow+`,{"id":"b","version":12}]`, ""),
			Entry("a row whose version is a number, incremental", `[`+malformedRow+`,{"id":"b","version":12,"updatedAt":"2014-06-09T23:40:04.297Z"}]`, "q"),
			Entry("a row whose deleted is a string", `[`+malformedRow+`,{"id":"b","deleted":"true"}]`, ""),
			Entry("a row whose deleted is a string, incremental", `[`+malformedRow+`,{"id":"b","deleted":"yes","updatedAt":"2014-06-09T23:40:04.297Z"}]`, "q"),
			Entry("a row whose deleted is a number", `[`+malformedRow+`,{"id":"b","deleted":1}]`, ""),
			Entry("an object where an array is expected", `{"id":"good","text":"fine"}`, ""),
			Entry("an object where an array is expected, incremental", malformedRow, "q"),
			Entry("an envelope whose results are not an array", `{"results":{"id":"good"},"count":1}`, ""),
			Entry("a string where an array is expected", `"rows"`, ""),
			Entry("an incremental row without updatedAt", `[`+malformedRow+`,{"id":"b","text":"when?"}]`, "q"),
			Entry("an incremental row whose updatedAt is not a time", `[`+malformedRow+`,{"id":"b","updatedAt":"yesterday"}]`, "q"),
			Entry("an incremental row whose updatedAt is a number", `[`+malformedRow+`,{"id":"b","updatedAt":1402357204297}]`, "q"),
		)

		It("fails on a malformed Link header, storing nothing of that page", func() {
			malformedGETs(w, 1, `[`+malformedRow+`]`, "Link", `<http://`)
			err := d.todo.Pull(ctx, nil, "")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(d.ids()).To(BeEmpty())
		})

		It("refuses to follow a Link to another host, after storing the page that carried it", func() {
			var elsewhere atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				elsewhere.Add(1)
				rw.WriteHeader(http.StatusOK)
				_, _ = rw.Write([]byte(`[]`))
			}))
			DeferCleanup(other.Close)
			malformedGETs(w, 1, `[`+malformedRow+`]`, "Link", "<"+other.URL+"/tables/todoitem?$skip=1>; rel=next")
			err := d.todo.Pull(ctx, nil, "")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(elsewhere.Load()).To(BeZero(), "nothing is sent off the client's server")
			Expect(d.ids()).To(Equal([]string{"good"}))
		})

		It("fails with ErrBadResponse, instead of looping, on a Link to the page it came with", func() {
			// BUG (client/pull.go pullAll): the loop follows page.Next without checking that
			// it differs from the URL just fetched, so a server whose Link rel=next points at
			// the same page makes Pull fetch it forever (until ctx ends). Table.Query refuses
			// this ("the next-page link %q points at the page it came with"); pullAll should
			// do the same: remember the URL it fetched and return a *ResponseError when
			// page.Next equals it.
			var gets atomic.Int32
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || r.URL.Path != "/tables/todoitem" {
					return false
				}
				gets.Add(1)
				self := "http://" + r.Host + r.URL.RequestURI()
				rw.Header().Set("Link", "<"+self+">; rel=next")
				rw.Header().Set("Content-Type", "application/json")
				_, _ = rw.Write([]byte(`[` + malformedRow + `]`))
				return true
			})
			tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			err := d.todo.Pull(tctx, nil, "")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(gets.Load()).To(BeNumerically("<=", 2))
		})

		It("keeps the pages stored before the bad one, and none of the bad one", func() {
			w = newWorld(fakeserver.Config{PageSize: 2})
			d = w.device(nil, client.PullPageSize(2))
			pullSeedRows(w, 6)
			malformedGETs(w, 2, `[{"id":"r02","text":"x"},{"id":"r03","version":4}]`)
			err := d.todo.Pull(ctx, nil, "")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(d.ids()).To(Equal([]string{"r00", "r01"}))
			Expect(d.row("r00")).To(Equal(client.Item(w.serverRow("r00"))))

			By("the next pull, with the server well again, gets everything")
			w.intercept.Store(nil)
			d.pull()
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02", "r03", "r04", "r05"}))
		})

		It("keeps the token of the pages stored before the bad one in an incremental pull", func() {
			w = newWorld(fakeserver.Config{PageSize: 2})
			d = w.device(nil, client.PullPageSize(2))
			pullSeedRows(w, 6)
			// GET 1: r00 r01 (token moves to r01); GET 2 from r01: r01 r02; GET 3 is bad.
			malformedGETs(w, 3, `[{"id":"r02","updatedAt":"2014-06-09T23:40:04.299Z"},{"id":"r03"}]`)
			err := d.todo.Pull(ctx, nil, "q")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02"}))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "q")).To(Equal(tokenOf(w.serverRow("r02"))))
		})

		It("does not present a malformed page as a local store failure", func() {
			// Regression: applyPage once found an incremental row without updatedAt only inside
			// the store transaction, so storeError wrapped the *ResponseError and the pull's
			// error also satisfied errors.Is(err, ErrStore) ("local store error: store a
			// pulled page: ...").
			malformedGETs(w, 1, `[`+malformedRow+`,{"id":"b","text":"when?"}]`)
			err := d.todo.Pull(ctx, nil, "q")
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(err).NotTo(MatchError(client.ErrStore))
		})
	})

	Describe("to a push's write", func() {
		DescribeTable("record an error for the operation, go on with the next, and leave the store whole",
			func(body string) {
				d.insert(client.Item{"id": "bad", "text": "b"})
				d.insert(client.Item{"id": "ok", "text": "o"})
				seq := w.lastSeq()
				malformedWrites(w, http.MethodPost, body)
				res, pf := d.pushFails()
				Expect(res.Status).To(Equal(client.Complete))
				Expect(w.requests(seq)).To(Equal([]string{"POST /tables/todoitem 201", "POST /tables/todoitem 201"}))
				Expect(pf.Errors).To(HaveLen(1))
				e := pf.Errors[0]
				Expect(e.ItemID).To(Equal("bad"))
				Expect(e.Kind).To(Equal(client.InsertOperation))
				Expect(e.Status).To(Equal(http.StatusCreated))
				Expect(string(e.RawResponse)).To(Equal(body))
				Expect(e.Message).To(ContainSubstring("malformed"))
				Expect(e.ServerItem).To(BeNil())

				Expect(d.row("bad")).To(Equal(client.Item{"id": "bad", "text": "b"}), "nothing of the answer is stored")
				Expect(d.op("bad").State).To(BeEquivalentTo("failed"))
				Expect(d.queue()).To(Equal([]string{"insert bad"}))
				Expect(d.row("ok")).To(Equal(client.Item(w.serverRow("ok"))))
				Expect(d.ids()).To(Equal([]string{"bad", "ok"}))
				Expect(w.serverRow("bad")["text"]).To(Equal("b"), "the server did apply the write")
			},
			Entry("garbage", `{"id":`),
			Entry("not JSON", `Created`),
			Entry("an empty body", ``),
			Entry("null", `null`),
			Entry("an array where an object is expected", `[{"id":"bad","text":"b"}]`),
			Entry("a row without an id", `{"text":"b","version":"AAAAAAAAAAE="}`),
			Entry("a row whose id is a number", `{"id":1,"text":"b"}`),
			Entry("a row whose version is a number", `{"id":"bad","text":"b","version":7}`),
		)

		It("lets errors.Is find ErrBadResponse in the recorded error and the push's error", func() {
			// BUG (client/resolve.go TableOperationError.Is): a recorded error is rebuilt from
			// the store without its cause, and Is maps only 412/409/404 statuses, so neither
			// the TableOperationError nor the *PushFailedError satisfies
			// errors.Is(err, ErrBadResponse) for a malformed answer, although PushFailedError
			// promises "the cause's kind" and a 412 does give ErrPreconditionFailed. Fix: in
			// TableOperationError.Is, also return true for ErrBadResponse when Status is 2xx
			// (a recorded error with a 2xx status can only be an answer the client could not
			// use); or store the error's kind in store.OperationError.
			d.insert(client.Item{"id": "bad", "text": "b"})
			malformedWrites(w, http.MethodPost, `{"id":`)
			_, pf := d.pushFails()
			Expect(pf.Errors).To(HaveLen(1))
			// errors.Is rather than MatchError: a failing MatchError would print the whole error
			// struct, sync context included, racing with the client's goroutines.
			Expect(errors.Is(pf.Errors[0], client.ErrBadResponse)).To(BeTrue(), "the recorded error: %v", pf.Errors[0])
			Expect(errors.Is(pf, client.ErrBadResponse)).To(BeTrue(), "the push's error: %v", pf)
			Expect(errors.Is(d.errs()[0], client.ErrBadResponse)).To(BeTrue(), "the stored error: %v", d.errs()[0])
		})

		It("keeps the local row and its version when an update's 200 is garbage", func() {
			w.seed("u", "v1", d)
			before := d.row("u")
			d.update(client.Item{"id": "u", "text": "mine"})
			malformedWrites(w, http.MethodPatch, `{"id":"u","text":`)
			_, pf := d.pushFails()
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].Status).To(Equal(http.StatusOK))
			Expect(d.row("u")["text"]).To(Equal("mine"))
			Expect(d.row("u")["version"]).To(Equal(before["version"]))
			Expect(d.queue()).To(Equal([]string{"update u"}))
		})

		It("keeps a delete queued when its 200 is garbage", func() {
			w.seed("x", "v1", d)
			d.delete(client.Item{"id": "x"})
			malformedWrites(w, http.MethodDelete, `{"id":"x","deleted":`)
			_, pf := d.pushFails()
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].Kind).To(Equal(client.DeleteOperation))
			Expect(d.row("x")).To(BeNil())
			Expect(d.queue()).To(Equal([]string{"delete x"}))
		})

		It("does not store a write's answer under another item's id", func() {
			// Regression: completeOperation once stored the answer under its own id, so an
			// answer about another item created (or overwrote) that row and completed the
			// operation. It is a malformed answer, recorded like any bad body.
			d.insert(client.Item{"id": "mine", "text": "m"})
			malformedWrites(w, http.MethodPost,
				`{"id":"someone-else","text":"x","version":"AAAAAAAAAAE=","createdAt":"2014-06-09T23:40:04.297Z",`+
					`"updatedAt":"2014-06-09T23:40:04.297Z","deleted":false}`)
			_, err := d.sc.Push(ctx)
			Expect(err).To(MatchError(client.ErrPushFailed))
			Expect(d.ids()).To(Equal([]string{"mine"}))
			Expect(d.row("mine")).To(Equal(client.Item{"id": "mine", "text": "m"}))
			Expect(d.queue()).To(Equal([]string{"insert mine"}))
			Expect(d.errs()).To(HaveLen(1))
			Expect(d.errs()[0].Status).To(Equal(http.StatusCreated))
			Expect(d.errs()[0].Message).To(ContainSubstring("someone-else"))
		})

		It("leaves the recorded error resolvable and the store usable", func() {
			d.insert(client.Item{"id": "bad", "text": "b"})
			malformedWrites(w, http.MethodPost, `{"id":`)
			_, pf := d.pushFails()
			Expect(pf.Errors).To(HaveLen(1))
			// The server has the row; take it.
			Expect(pf.Errors[0].CancelAndUpdateItem(ctx, w.serverRow("bad"))).To(Succeed())
			Expect(d.queue()).To(BeEmpty())
			Expect(d.errs()).To(BeEmpty())
			d.pull()
			Expect(d.row("bad")).To(Equal(client.Item(w.serverRow("bad"))))
		})
	})

	It("keeps what the push before the pull stored when the page after it is bad", func() {
		w.seed("p", "v1", d)
		d.update(client.Item{"id": "p", "text": "again"})
		// The push before the pull succeeds; the page is bad.
		malformedGETs(w, 1, `[{"id":"p","text":"server","version":9}]`)
		err := d.todo.Pull(ctx, nil, "")
		Expect(err).To(MatchError(client.ErrBadResponse))
		Expect(strings.ToLower(err.Error())).To(ContainSubstring("version"))
		Expect(d.row("p")).To(Equal(client.Item(w.serverRow("p"))))
		Expect(d.row("p")["text"]).To(Equal("again"))
	})
})
