package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// pullGets returns, parsed, the query strings of the GETs on table's collection recorded
// since seq.
func pullGets(w *world, since uint64, table string) []url.Values {
	GinkgoHelper()
	out := []url.Values{}
	for _, ev := range w.srv.HistorySince(since) {
		if ev.Source != fakeserver.SourceHTTP || ev.Method != http.MethodGet || ev.Path != "/tables/"+table {
			continue
		}
		v, err := url.ParseQuery(ev.Query)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, v)
	}
	return out
}

// pullGetRows returns how many rows each GET on todoitem since seq answered with.
func pullGetRows(w *world, since uint64) []int {
	out := []int{}
	for _, ev := range w.srv.HistorySince(since) {
		if ev.Source == fakeserver.SourceHTTP && ev.Method == http.MethodGet && ev.Path == "/tables/todoitem" {
			out = append(out, ev.Rows)
		}
	}
	return out
}

// pullParam returns one parameter of each query ("-" where it is absent).
func pullParam(qs []url.Values, name string) []string {
	out := []string{}
	for _, q := range qs {
		if !q.Has(name) {
			out = append(out, "-")
			continue
		}
		out = append(out, q.Get(name))
	}
	return out
}

// pullSeedRows writes n rows r00, r01, ... straight into the server's todoitem table.
func pullSeedRows(w *world, n int) []string {
	GinkgoHelper()
	ids := []string{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("r%02d", i)
		_, err := w.srv.Insert("todoitem", map[string]any{"id": id, "text": fmt.Sprintf("row %d", i)})
		Expect(err).NotTo(HaveOccurred())
		ids = append(ids, id)
	}
	return ids
}

// pullStripLinks puts a proxy in front of the server that removes the Link header from every
// GET answer, like a server that caps its pages without saying so. It counts the links it
// removed.
func pullStripLinks(w *world) *atomic.Int32 {
	var stripped atomic.Int32
	h := w.srv.Handler()
	w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			if k == "Link" {
				stripped.Add(1)
				continue
			}
			rw.Header()[k] = v
		}
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
		return true
	})
	return &stripped
}

// pullKeepFailing is a handler whose OnPushComplete resolves every recorded error with
// UpdateOperation and the item that was sent: the operation stays queued and pending, yet the
// push ends cleanly, so a pull goes on and meets a row with a queued operation.
func pullKeepFailing() client.Handler {
	return client.HandlerFuncs{Complete: func(ctx context.Context, r *client.PushResult) error {
		for _, e := range r.Errors {
			if err := e.UpdateOperation(ctx, e.Item); err != nil {
				return err
			}
		}
		return nil
	}}
}

// pullStale makes the device's copy of id stale (the server changes the row) and queues a
// local update of it, which will get 412.
func pullStale(w *world, d *device, id, serverText, localText string) {
	GinkgoHelper()
	_, err := w.srv.Write("todoitem", id, map[string]any{"text": serverText})
	Expect(err).NotTo(HaveOccurred())
	d.update(client.Item{"id": id, "text": localText})
}

// tokenOf formats a server row's updatedAt as a delta token.
func tokenOf(row map[string]any) string {
	return row["updatedAt"].(string)
}

var _ = Describe("pull", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })

	Describe("what it stores", func() {
		var (
			w *world
			d *device
		)
		BeforeEach(func() {
			w = newWorld(fakeserver.Config{})
			d = w.device(nil)
		})

		It("stores every row with its system columns, asking for deleted rows too", func() {
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "a", "text": "one", "n": 1, "done": false})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Insert("todoitem", map[string]any{"id": "b", "text": "two"})
			Expect(err).NotTo(HaveOccurred())
			seq := w.lastSeq()
			d.pull()
			Expect(d.ids()).To(Equal([]string{"a", "b"}))
			a := d.row("a")
			Expect(a).To(Equal(client.Item(w.serverRow("a"))))
			Expect(a).To(HaveKeyWithValue("version", w.serverRow("a")["version"]))
			Expect(a).To(HaveKeyWithValue("updatedAt", "2014-06-09T23:40:04.297Z"))
			Expect(a).To(HaveKeyWithValue("createdAt", "2014-06-09T23:40:04.297Z"))
			Expect(a).To(HaveKeyWithValue("deleted", false))
			Expect(a).To(HaveKeyWithValue("n", 1.0))
			Expect(d.row("b")).To(Equal(client.Item(w.serverRow("b"))))
			gets := pullGets(w, seq, "todoitem")
			Expect(gets).To(HaveLen(2), "one page of rows, then an empty page ends the pull")
			Expect(pullParam(gets, "__includeDeleted")).To(Equal([]string{"true", "true"}))
			Expect(pullParam(gets, "$top")).To(Equal([]string{"50", "50"}))
			Expect(pullParam(gets, "$skip")).To(Equal([]string{"-", "2"}))
			Expect(d.queue()).To(BeEmpty(), "a pull queues nothing")
		})

		It("replaces a pulled row with the server's newer value", func() {
			w.seed("a", "old", d)
			_, err := w.srv.Write("todoitem", "a", map[string]any{"text": "new"})
			Expect(err).NotTo(HaveOccurred())
			d.pull()
			Expect(d.row("a")).To(Equal(client.Item(w.serverRow("a"))))
			Expect(d.row("a")["text"]).To(Equal("new"))
		})

		It("removes the local row of a deleted row (a tombstone)", func() {
			w.seed("a", "stays", d)
			w.seed("b", "goes", d)
			Expect(d.ids()).To(Equal([]string{"a", "b"}))
			_, err := w.srv.Delete("todoitem", "b")
			Expect(err).NotTo(HaveOccurred())
			Expect(w.serverRow("b")["deleted"]).To(BeTrue())
			d.pull()
			Expect(d.ids()).To(Equal([]string{"a"}))
			Expect(d.row("a")).To(Equal(client.Item(w.serverRow("a"))))
		})

		It("never stores a tombstone it has not seen before", func() {
			_, err := w.srv.Insert("todoitem", map[string]any{"id": "gone", "text": "x"})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Delete("todoitem", "gone")
			Expect(err).NotTo(HaveOccurred())
			w.seed("a", "live", d)
			Expect(d.ids()).To(Equal([]string{"a"}))
		})

		It("never deletes local rows the server did not return (filtered out)", func() {
			w.seed("a", "keep", d)
			w.seed("b", "other", d)
			_, err := w.srv.Write("todoitem", "a", map[string]any{"text": "keep too"})
			Expect(err).NotTo(HaveOccurred())
			before := d.row("b")
			Expect(d.todo.Pull(ctx, client.NewQuery().Where("startswith(text, 'keep')"), "")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"a", "b"}))
			Expect(d.row("a")["text"]).To(Equal("keep too"))
			Expect(d.row("b")).To(Equal(before))
		})

		It("never deletes local rows the server no longer has (hard delete)", func() {
			w = newWorld(fakeserver.Config{HardDelete: true})
			d = w.device(nil)
			w.seed("a", "one", d)
			w.seed("b", "two", d)
			bRow := d.row("b")
			gone, err := w.srv.Delete("todoitem", "b")
			Expect(err).NotTo(HaveOccurred())
			Expect(gone).To(BeNil())
			Expect(w.serverRow("b")).To(BeNil())
			d.pull()
			Expect(d.ids()).To(Equal([]string{"a", "b"}))
			Expect(d.row("b")).To(Equal(bRow))
		})

		It("pulls only the rows a filter matches", func() {
			for _, r := range []struct{ id, text string }{{"a", "buy eggs"}, {"b", "walk dog"}, {"c", "buy milk"}} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": r.id, "text": r.text})
				Expect(err).NotTo(HaveOccurred())
			}
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, client.NewQuery().Where("startswith(text, 'buy')"), "")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"a", "c"}))
			gets := pullGets(w, seq, "todoitem")
			Expect(pullParam(gets, "$filter")).To(HaveEach("startswith(text,'buy')"))
			Expect(pullParam(gets, "__includeDeleted")).To(HaveEach("true"))
		})

		It("pulls into a table whose name differs only in case, as the same table", func() {
			w.seed("a", "one")
			Expect(d.sc.Table("TodoItem").Pull(ctx, nil, "")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"a"}))
		})
	})

	Describe("push before pull", func() {
		var w *world
		BeforeEach(func() { w = newWorld(fakeserver.Config{}) })

		It("pushes the whole context first when the table has queued operations", func() {
			d := w.device(nil)
			w.seed("u", "server", d)
			seq := w.lastSeq()
			d.insert(client.Item{"id": "n", "text": "new"})
			_, err := d.sc.Table("other").Insert(ctx, client.Item{"id": "o", "text": "elsewhere"})
			Expect(err).NotTo(HaveOccurred())
			d.update(client.Item{"id": "u", "text": "mine"})
			d.pull()
			Expect(w.requests(seq)).To(Equal([]string{
				"POST /tables/todoitem 201", "POST /tables/other 201", "PATCH /tables/todoitem/u 200",
				"GET /tables/todoitem 200", "GET /tables/todoitem 200"}))
			Expect(d.queue()).To(BeEmpty())
			Expect(d.ids()).To(Equal([]string{"n", "u"}))
			Expect(d.row("u")).To(Equal(client.Item(w.serverRow("u"))))
			Expect(d.row("u")["text"]).To(Equal("mine"))
			o, ok := w.srv.Row("other", "o")
			Expect(ok).To(BeTrue())
			Expect(o["text"]).To(Equal("elsewhere"))
		})

		It("pushes only the pulled table with PushTableBeforePull", func() {
			d := w.device(nil, client.PushTableBeforePull())
			seq := w.lastSeq()
			_, err := d.sc.Table("other").Insert(ctx, client.Item{"id": "o", "text": "elsewhere"})
			Expect(err).NotTo(HaveOccurred())
			d.insert(client.Item{"id": "n", "text": "new"})
			d.pull()
			Expect(w.requests(seq)).To(Equal([]string{
				"POST /tables/todoitem 201", "GET /tables/todoitem 200", "GET /tables/todoitem 200"}))
			Expect(d.queue()).To(Equal([]string{"insert o"}))
			_, ok := w.srv.Row("other", "o")
			Expect(ok).To(BeFalse())
		})

		It("does not push when only another table has queued operations", func() {
			d := w.device(nil)
			w.seed("a", "one")
			seq := w.lastSeq()
			_, err := d.sc.Table("other").Insert(ctx, client.Item{"id": "o", "text": "elsewhere"})
			Expect(err).NotTo(HaveOccurred())
			d.pull()
			Expect(w.requests(seq)).To(Equal([]string{"GET /tables/todoitem 200", "GET /tables/todoitem 200"}))
			Expect(d.queue()).To(Equal([]string{"insert o"}))
			Expect(d.ids()).To(Equal([]string{"a"}))
		})

		It("fails with the push's *PushFailedError and sends no GET when the push leaves an error", func() {
			d := w.device(nil)
			w.seed("u", "v1", d)
			w.seed("other", "v1", d)
			pullStale(w, d, "u", "theirs", "mine")
			_, err := w.srv.Write("todoitem", "other", map[string]any{"text": "changed on the server"})
			Expect(err).NotTo(HaveOccurred())
			seq := w.lastSeq()
			err = d.todo.Pull(ctx, nil, "")
			var pf *client.PushFailedError
			Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
			Expect(pf.Status).To(Equal(client.Complete))
			Expect(pf.Errors).To(HaveLen(1))
			Expect(pf.Errors[0].ItemID).To(Equal("u"))
			Expect(pf.Errors[0].Status).To(Equal(http.StatusPreconditionFailed))
			Expect(err).To(MatchError(client.ErrPushFailed))
			Expect(w.requests(seq)).To(Equal([]string{"PATCH /tables/todoitem/u 412"}))
			Expect(d.row("other")["text"]).To(Equal("v1"), "nothing was pulled")
			Expect(d.row("u")["text"]).To(Equal("mine"))
			Expect(d.queue()).To(Equal([]string{"update u"}))
		})

		It("fails with the push's error when the push is cancelled by a network error, and sends no GET", func() {
			d := w.device(nil)
			w.seed("a", "one", d)
			d.insert(client.Item{"id": "n", "text": "new"})
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost {
					panic(http.ErrAbortHandler) // the connection drops: no response
				}
				return false
			})
			seq := w.lastSeq()
			err := d.todo.Pull(ctx, nil, "")
			var pf *client.PushFailedError
			Expect(errors.As(err, &pf)).To(BeTrue(), "got %v", err)
			Expect(pf.Status).To(Equal(client.CancelledByNetworkError))
			Expect(err).To(MatchError(client.ErrNetwork))
			Expect(pullGets(w, seq, "todoitem")).To(BeEmpty())
			Expect(d.queue()).To(Equal([]string{"insert n"}))
		})
	})

	Describe("rows with a queued operation", func() {
		It("are skipped: the local change wins until it is pushed", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(pullKeepFailing())
			w.seed("p", "v1", d)
			w.seed("q", "v1", d)
			pullStale(w, d, "p", "theirs", "mine")
			_, err := w.srv.Write("todoitem", "q", map[string]any{"text": "q changed"})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Insert("todoitem", map[string]any{"id": "r", "text": "new"})
			Expect(err).NotTo(HaveOccurred())
			seq := w.lastSeq()
			d.pull()
			Expect(w.requests(seq)).To(Equal([]string{
				"PATCH /tables/todoitem/p 412", "GET /tables/todoitem 200", "GET /tables/todoitem 200"}))
			Expect(d.queue()).To(Equal([]string{"update p"}), "the push was clean but kept the operation")
			Expect(d.op("p").State).To(BeEquivalentTo("pending"))
			Expect(d.row("p")["text"]).To(Equal("mine"))
			Expect(d.row("p")["version"]).NotTo(Equal(w.serverRow("p")["version"]))
			Expect(d.row("q")).To(Equal(client.Item(w.serverRow("q"))))
			Expect(d.row("r")).To(Equal(client.Item(w.serverRow("r"))))
		})

		It("are skipped even when the server deleted them", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(pullKeepFailing())
			w.seed("p", "v1", d)
			pullStale(w, d, "p", "theirs", "mine")
			_, err := w.srv.Delete("todoitem", "p")
			Expect(err).NotTo(HaveOccurred())
			// The update now gets 404, which the default push records; the handler keeps it.
			d.pull()
			Expect(d.queue()).To(Equal([]string{"update p"}))
			Expect(d.row("p")["text"]).To(Equal("mine"))
		})

		It("are skipped when written locally while the pull is between push and GET", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			w.seed("a", "v1", d)
			_, err := w.srv.Write("todoitem", "a", map[string]any{"text": "server"})
			Expect(err).NotTo(HaveOccurred())
			var wrote atomic.Bool
			writeErr := make(chan error, 1)
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && wrote.CompareAndSwap(false, true) {
					_, err := d.todo.Update(context.Background(), client.Item{"id": "a", "text": "typed meanwhile"})
					writeErr <- err
				}
				return false
			})
			d.pull()
			Expect(wrote.Load()).To(BeTrue())
			Expect(<-writeErr).NotTo(HaveOccurred(), "a local write may run beside a pull")
			Expect(d.queue()).To(Equal([]string{"update a"}))
			Expect(d.row("a")["text"]).To(Equal("typed meanwhile"))
		})
	})

	Describe("paging", func() {
		It("follows the server's Link rel=next when its pages are smaller than the client's", func() {
			w := newWorld(fakeserver.Config{PageSize: 3})
			d := w.device(nil, client.PullPageSize(5))
			ids := pullSeedRows(w, 9)
			seq := w.lastSeq()
			d.pull()
			Expect(d.ids()).To(Equal(ids))
			for _, id := range ids {
				Expect(d.row(id)).To(Equal(client.Item(w.serverRow(id))))
			}
			gets := pullGets(w, seq, "todoitem")
			// $top=5 gets 3 rows and a link to the 2 left of that $top; then the client asks
			// for the next 5 from row 5, gets 3 and a link to 2 more, of which 1 is left.
			Expect(pullParam(gets, "$skip")).To(Equal([]string{"-", "3", "5", "8", "9"}))
			Expect(pullParam(gets, "$top")).To(Equal([]string{"5", "2", "5", "2", "5"}))
			Expect(pullGetRows(w, seq)).To(Equal([]int{3, 2, 3, 1, 0}))
			Expect(pullParam(gets, "__includeDeleted")).To(HaveEach("true"))
		})

		It("treats a short page as not the end when the server caps pages without a Link", func() {
			w := newWorld(fakeserver.Config{PageSize: 3})
			d := w.device(nil)
			stripped := pullStripLinks(w)
			ids := pullSeedRows(w, 8)
			seq := w.lastSeq()
			d.pull()
			Expect(stripped.Load()).To(BeNumerically(">", 0), "the server did cap its pages")
			Expect(d.ids()).To(Equal(ids))
			gets := pullGets(w, seq, "todoitem")
			Expect(pullParam(gets, "$skip")).To(Equal([]string{"-", "3", "6", "8"}))
			Expect(pullParam(gets, "$top")).To(HaveEach("50"))
			Expect(pullGetRows(w, seq)).To(Equal([]int{3, 3, 2, 0}))
		})

		DescribeTable("reads exactly a query's Top rows across pages",
			func(serverPage, clientPage, top int, strip bool, wantTops []string) {
				w := newWorld(fakeserver.Config{PageSize: serverPage})
				d := w.device(nil, client.PullPageSize(clientPage))
				if strip {
					pullStripLinks(w)
				}
				ids := pullSeedRows(w, 12)
				seq := w.lastSeq()
				Expect(d.todo.Pull(ctx, client.NewQuery().Top(top), "")).To(Succeed())
				Expect(d.ids()).To(Equal(ids[:top]))
				gets := pullGets(w, seq, "todoitem")
				Expect(pullParam(gets, "$top")).To(Equal(wantTops))
				sum := 0
				for _, n := range pullGetRows(w, seq) {
					sum += n
				}
				Expect(sum).To(Equal(top), "no row beyond $top is asked for")
			},
			Entry("server pages of 3 with links", 3, 50, 7, false, []string{"7", "4", "1"}),
			Entry("server pages of 3 without links", 3, 50, 7, true, []string{"7", "4", "1"}),
			Entry("client pages of 2", 50, 2, 5, false, []string{"2", "2", "1"}),
			Entry("a Top the first page covers", 50, 50, 4, false, []string{"4"}),
		)

		It("sends nothing for Top(0)", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			pullSeedRows(w, 2)
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, client.NewQuery().Top(0), "")).To(Succeed())
			Expect(w.requests(seq)).To(BeEmpty())
			Expect(d.ids()).To(BeEmpty())
		})

		It("starts at a query's Skip", func() {
			w := newWorld(fakeserver.Config{PageSize: 2})
			d := w.device(nil)
			ids := pullSeedRows(w, 6)
			Expect(d.todo.Pull(ctx, client.NewQuery().Skip(3), "")).To(Succeed())
			Expect(d.ids()).To(Equal(ids[3:]))
		})
	})

	Describe("incremental (with a query id)", func() {
		It("asks for rows updated since the token, which starts at 1970 and becomes the greatest updatedAt", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			pullSeedRows(w, 3)
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(""))
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02"}))
			gets := pullGets(w, seq, "todoitem")
			Expect(gets).NotTo(BeEmpty())
			first := gets[0]
			Expect(first.Get("$filter")).To(Equal("updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z'"))
			Expect(first.Get("$orderby")).To(Equal("updatedAt"))
			Expect(first.Get("__includeDeleted")).To(Equal("true"))
			Expect(first.Get("$top")).To(Equal("50"))
			Expect(first.Get("$skip")).To(BeElementOf("", "0"))
			newest := tokenOf(w.serverRow("r02"))
			Expect(newest).To(Equal("2014-06-09T23:40:04.299Z"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(newest))
			Expect(d.sc.DeltaToken(ctx, "TODOITEM", "all")).To(Equal(newest), "table names match in any case")
			Expect(d.sc.DeltaToken(ctx, "todoitem", "other")).To(Equal(""), "tokens are per query id")
			Expect(gets[1:]).NotTo(BeEmpty())
			for _, g := range gets[1:] {
				Expect(g.Get("$filter")).To(Equal("updatedAt ge datetimeoffset'" + newest + "'"))
			}
		})

		It("brings on the next pull only the rows changed since, tombstones included", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			pullSeedRows(w, 4)
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			token := tokenOf(w.serverRow("r03"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(token))

			// Drop r00 from the local store behind the client's back: an incremental pull
			// must not bring it back, as it has not changed.
			Expect(d.store.Update(ctx, func(wr store.Writer) error { return wr.DeleteRow("todoitem", "r00") })).To(Succeed())
			_, err := w.srv.Write("todoitem", "r01", map[string]any{"text": "changed"})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Delete("todoitem", "r02")
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Insert("todoitem", map[string]any{"id": "r04", "text": "new"})
			Expect(err).NotTo(HaveOccurred())

			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			gets := pullGets(w, seq, "todoitem")
			Expect(gets[0].Get("$filter")).To(Equal("updatedAt ge datetimeoffset'" + token + "'"))
			Expect(pullGetRows(w, seq)[0]).To(Equal(4), "r03 (at the token) and the three changed rows")
			Expect(d.ids()).To(Equal([]string{"r01", "r03", "r04"}))
			Expect(d.row("r01")).To(Equal(client.Item(w.serverRow("r01"))))
			Expect(d.row("r04")).To(Equal(client.Item(w.serverRow("r04"))))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("r04"))))
		})

		It("combines the query's filter with the token, keeping its meaning", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(nil)
			for _, r := range []struct{ id, text string }{{"a", "a"}, {"b", "b"}, {"c", "c"}} {
				_, err := w.srv.Insert("todoitem", map[string]any{"id": r.id, "text": r.text})
				Expect(err).NotTo(HaveOccurred())
			}
			q := client.NewQuery().Where("text eq 'a' or text eq 'b'")
			Expect(d.todo.Pull(ctx, q, "ab")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"a", "b"}))
			token := tokenOf(w.serverRow("b"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "ab")).To(Equal(token))

			Expect(d.store.Update(ctx, func(wr store.Writer) error { return wr.DeleteRow("todoitem", "a") })).To(Succeed())
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, q, "ab")).To(Succeed())
			gets := pullGets(w, seq, "todoitem")
			Expect(gets[0].Get("$filter")).To(Equal("(text eq 'a' or text eq 'b') and updatedAt ge datetimeoffset'" + token + "'"))
			Expect(d.ids()).To(Equal([]string{"b"}), "a is older than the token: the or must not escape the and")
		})

		It("pulls every row of a group sharing one updatedAt that is larger than a page", func() {
			w := newWorld(fakeserver.Config{Clock: fakeserver.SimClock(syncT0).WithStep(0)})
			d := w.device(nil, client.PullPageSize(3))
			ids := pullSeedRows(w, 7)
			Expect(w.serverRow("r00")["updatedAt"]).To(Equal(w.serverRow("r06")["updatedAt"]))
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal(ids))
			gets := pullGets(w, seq, "todoitem")
			t0 := "2014-06-09T23:40:04.297Z"
			Expect(pullParam(gets, "$filter")).To(Equal([]string{
				"updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z'",
				"updatedAt ge datetimeoffset'" + t0 + "'", "updatedAt ge datetimeoffset'" + t0 + "'",
				"updatedAt ge datetimeoffset'" + t0 + "'", "updatedAt ge datetimeoffset'" + t0 + "'"}))
			Expect(pullParam(gets, "$skip")).To(Equal([]string{"-", "-", "3", "6", "7"}),
				"the token moved once (skip back to 0), then skip advances while it stands still")
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(t0))
		})

		It("restarts $skip at 0 when the token moves after pages that shared a timestamp", func() {
			// 4 rows at t0, then 3 at t1, pages of 3: the third page moves the token while $skip
			// is 3; continuing at $skip 3 under the new token would miss a row at t1.
			clock := fakeserver.SimClock(syncT0).WithStep(0)
			w := newWorld(fakeserver.Config{Clock: clock})
			d := w.device(nil, client.PullPageSize(3))
			for i := range 7 {
				if i == 4 {
					clock.Advance(time.Second)
				}
				_, err := w.srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("g%d", i)})
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"g0", "g1", "g2", "g3", "g4", "g5", "g6"}))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal("2014-06-09T23:40:05.297Z"))
		})

		It("pulls a same-timestamp group the server caps below the client's page, without links", func() {
			w := newWorld(fakeserver.Config{PageSize: 2, Clock: fakeserver.SimClock(syncT0).WithStep(0)})
			d := w.device(nil)
			pullStripLinks(w)
			ids := pullSeedRows(w, 5)
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal(ids))
		})

		It("does not let rows skipped for a queued operation move the token", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(pullKeepFailing())
			w.seed("a", "v1", d)
			w.seed("p", "v1", d)
			pullStale(w, d, "p", "theirs", "mine") // p is now the newest row on the server
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.queue()).To(Equal([]string{"update p"}))
			Expect(d.row("p")["text"]).To(Equal("mine"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("a"))))
		})

		It("brings a row skipped earlier once its operation is pushed", func() {
			w := newWorld(fakeserver.Config{})
			var keep atomic.Bool
			keep.Store(true)
			h := client.HandlerFuncs{Complete: func(ctx context.Context, r *client.PushResult) error {
				for _, e := range r.Errors {
					if !keep.Load() {
						// Take the server's row: the operation is gone.
						if err := e.CancelAndUpdateItem(ctx, e.ServerItem); err != nil {
							return err
						}
						continue
					}
					if err := e.UpdateOperation(ctx, e.Item); err != nil {
						return err
					}
				}
				return nil
			}}
			d := w.device(h)
			w.seed("a", "v1", d)
			w.seed("p", "v1", d)
			pullStale(w, d, "p", "theirs", "mine")
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.row("p")["text"]).To(Equal("mine"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("a"))))

			keep.Store(false)
			_, err := d.sc.Push(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.queue()).To(BeEmpty())
			// Drop the row CancelAndUpdateItem stored, so only the pull can bring it back.
			Expect(d.store.Update(ctx, func(wr store.Writer) error { return wr.DeleteRow("todoitem", "p") })).To(Succeed())
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.row("p")).To(Equal(client.Item(w.serverRow("p"))), "the token had not passed p")
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("p"))))
		})

		It("lets skipped rows move the token with SkippedRowsMoveToken", func() {
			w := newWorld(fakeserver.Config{})
			d := w.device(pullKeepFailing(), client.SkippedRowsMoveToken())
			w.seed("a", "v1", d)
			w.seed("p", "v1", d)
			pullStale(w, d, "p", "theirs", "mine")
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.queue()).To(Equal([]string{"update p"}))
			Expect(d.row("p")["text"]).To(Equal("mine"), "still skipped")
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("p"))))
		})

		It("restarts from the saved token after a failed page", func() {
			w := newWorld(fakeserver.Config{PageSize: 2})
			d := w.device(nil, client.PullPageSize(2))
			pullSeedRows(w, 5)
			var n atomic.Int32
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && n.Add(1) == 3 {
					rw.WriteHeader(http.StatusInternalServerError)
					_, _ = rw.Write([]byte(`{"error":"down"}`))
					return true
				}
				return false
			})
			err := d.todo.Pull(ctx, nil, "all")
			var he *client.HTTPError
			Expect(errors.As(err, &he)).To(BeTrue(), "got %v", err)
			Expect(he.Status).To(Equal(http.StatusInternalServerError))
			// Pages r00,r01 then (from r01) r01,r02 were stored with their tokens.
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02"}))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("r02"))))
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(pullGets(w, seq, "todoitem")[0].Get("$filter")).To(ContainSubstring(tokenOf(w.serverRow("r02"))))
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02", "r03", "r04"}))
		})
	})

	Describe("refused queries", func() {
		var (
			w *world
			d *device
		)
		BeforeEach(func() {
			w = newWorld(fakeserver.Config{})
			d = w.device(nil)
			w.seed("a", "one", d)
			d.insert(client.Item{"id": "n", "text": "queued"})
		})

		DescribeTable("fail with ErrInvalidQuery, send nothing and push nothing",
			func(q *client.Query, queryID string) {
				seq := w.lastSeq()
				err := d.todo.Pull(ctx, q, queryID)
				Expect(err).To(MatchError(client.ErrInvalidQuery))
				Expect(w.requests(seq)).To(BeEmpty())
				Expect(d.queue()).To(Equal([]string{"insert n"}))
				Expect(d.sc.DeltaToken(ctx, "todoitem", queryID)).To(Equal(""))
			},
			Entry("$select", client.NewQuery().Select("text"), ""),
			Entry("$select, incremental", client.NewQuery().Select("text"), "q"),
			Entry("$orderby with a query id", client.NewQuery().OrderBy("text"), "q"),
			Entry("$top with a query id", client.NewQuery().Top(5), "q"),
			Entry("$top 0 with a query id", client.NewQuery().Top(0), "q"),
			Entry("$skip with a query id", client.NewQuery().Skip(2), "q"),
			Entry("a query id with |", nil, "a|b"),
			Entry("a query id of 256 characters", nil, strings.Repeat("q", 256)),
			Entry("__includeDeleted as a parameter", client.NewQuery().Param("__includeDeleted", "true"), ""),
			Entry("__includeDeleted as a parameter in another case", client.NewQuery().Param("__INCLUDEDELETED", "false"), "q"),
			Entry("IncludeDeleted()", client.NewQuery().IncludeDeleted(), ""),
			Entry("IncludeDeleted(), incremental", client.NewQuery().IncludeDeleted(), "q"),
			Entry("a bad filter", client.NewQuery().Where("text eq"), ""),
			Entry("a bad filter, incremental", client.NewQuery().Where("startswith(text"), "q"),
			Entry("$inlinecount", client.NewQuery().IncludeTotalCount(), ""),
		)

		It("accepts a query id of 255 characters", func() {
			id := strings.Repeat("q", 255)
			Expect(d.todo.Pull(ctx, nil, id)).To(Succeed())
			Expect(d.sc.DeltaToken(ctx, "todoitem", id)).To(Equal(tokenOf(w.serverRow("n"))))
		})

		It("accepts OrderBy, Top and Skip without a query id", func() {
			Expect(d.todo.Pull(ctx, client.NewQuery().OrderByDesc("text").Top(1).Skip(0), "")).To(Succeed())
		})
	})

	Describe("in the v1 dialect", func() {
		var (
			w *world
			d *device
		)
		BeforeEach(func() {
			w = newWorld(fakeserver.Config{Dialect: fakeserver.V1})
			d = w.device(nil)
		})

		v1Row := func(srv map[string]any) client.Item {
			out := client.Item{}
			for k, v := range srv {
				switch k {
				case "version", "createdAt", "updatedAt", "deleted":
					out["__"+k] = v
				default:
					out[k] = v
				}
			}
			return out
		}

		It("stores rows with their __ system columns and removes __deleted ones", func() {
			pullSeedRows(w, 3)
			seq := w.lastSeq()
			d.pull()
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02"}))
			Expect(d.row("r01")).To(Equal(v1Row(w.serverRow("r01"))))
			Expect(d.row("r01")).To(HaveKeyWithValue("__deleted", false))
			Expect(d.row("r01")).NotTo(HaveKey("version"))
			gets := pullGets(w, seq, "todoitem")
			Expect(pullParam(gets, "__includeDeleted")).To(HaveEach("true"))
			Expect(pullParam(gets, "__systemproperties")).NotTo(ContainElement("-"))

			_, err := w.srv.Delete("todoitem", "r01")
			Expect(err).NotTo(HaveOccurred())
			d.pull()
			Expect(d.ids()).To(Equal([]string{"r00", "r02"}))
		})

		It("pulls incrementally on __updatedAt", func() {
			pullSeedRows(w, 3)
			seq := w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal([]string{"r00", "r01", "r02"}))
			gets := pullGets(w, seq, "todoitem")
			Expect(gets[0].Get("$filter")).To(Equal("__updatedAt ge datetimeoffset'1970-01-01T00:00:00.000Z'"))
			Expect(gets[0].Get("$orderby")).To(Equal("__updatedAt"))
			Expect(gets[0].Get("__includeDeleted")).To(Equal("true"))
			Expect(gets[0].Has("__systemproperties")).To(BeTrue())
			token := tokenOf(w.serverRow("r02"))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(token))

			Expect(d.store.Update(ctx, func(wr store.Writer) error { return wr.DeleteRow("todoitem", "r00") })).To(Succeed())
			_, err := w.srv.Delete("todoitem", "r01")
			Expect(err).NotTo(HaveOccurred())
			_, err = w.srv.Insert("todoitem", map[string]any{"id": "r03", "text": "new"})
			Expect(err).NotTo(HaveOccurred())
			seq = w.lastSeq()
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			gets = pullGets(w, seq, "todoitem")
			Expect(gets[0].Get("$filter")).To(Equal("__updatedAt ge datetimeoffset'" + token + "'"))
			Expect(d.ids()).To(Equal([]string{"r02", "r03"}))
			Expect(d.row("r03")).To(Equal(v1Row(w.serverRow("r03"))))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal(tokenOf(w.serverRow("r03"))))
		})

		It("pulls a same-timestamp group larger than a page", func() {
			w = newWorld(fakeserver.Config{Dialect: fakeserver.V1, Clock: fakeserver.SimClock(syncT0).WithStep(0)})
			d = w.device(nil, client.PullPageSize(2))
			ids := pullSeedRows(w, 5)
			Expect(d.todo.Pull(ctx, nil, "all")).To(Succeed())
			Expect(d.ids()).To(Equal(ids))
			Expect(d.sc.DeltaToken(ctx, "todoitem", "all")).To(Equal("2014-06-09T23:40:04.297Z"))
		})
	})

	It("honours its context: a cancelled one sends nothing", func() {
		w := newWorld(fakeserver.Config{})
		d := w.device(nil)
		pullSeedRows(w, 2)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		seq := w.lastSeq()
		Expect(d.todo.Pull(cctx, nil, "")).To(MatchError(context.Canceled))
		Expect(w.requests(seq)).To(BeEmpty())
		Expect(d.ids()).To(BeEmpty())
	})
})
