package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// These specs put the client in front of servers that page, conflict and size their answers
// as the real Node backend does (issue 13), or as a hostile server would (issue 17): each
// failed, hung or blew up before the client learned to cope.

// hostileLimited is a client of url with tight paging limits, so that a server that never
// stops is stopped within a spec.
func hostileLimited(url string, l client.PagingLimits) *client.Client {
	GinkgoHelper()
	c, err := client.New(url, client.WithPagingLimits(l))
	Expect(err).NotTo(HaveOccurred())
	return c
}

// hostileCtx is a context a loop that never ends would run into; the specs expect to be
// stopped by the client long before it.
func hostileCtx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	DeferCleanup(cancel)
	return ctx
}

var _ = Describe("Node's paging (issue 13)", func() {
	DescribeTable("Query pages through Node's bare Link with $skip until a page is short or empty",
		func(rows int, wantSkips []string) {
			w := newWorld(fakeserver.Config{})
			ids := pullSeedRows(w, rows)
			links := hostileNodePaging(w, 2)
			seq := w.lastSeq()
			items, err := onlineClient(w.url, client.V2).Table("todoitem").Query(hostileCtx(), nil)
			Expect(err).NotTo(HaveOccurred())
			got := []string{}
			for _, it := range items {
				got = append(got, it["id"].(string))
			}
			Expect(got).To(Equal(ids))
			Expect(pullParam(pullGets(w, seq, "todoitem"), "$skip")).To(Equal(wantSkips))
			Expect(links.Load()).To(BeNumerically(">", 0))
		},
		Entry("7 rows: the short last page ends it", 7, []string{"-", "2", "4", "6"}),
		Entry("6 rows: Node's Link on the exact-size last page costs one empty page", 6, []string{"-", "2", "4", "6"}),
	)

	It("QueryPage's Next is the same query with $skip advanced, which NextPage follows; Top still ends a Query", func() {
		w := newWorld(fakeserver.Config{})
		pullSeedRows(w, 5)
		hostileNodePaging(w, 2)
		t := onlineClient(w.url, client.V2).Table("todoitem")
		ctx := hostileCtx()
		p, err := t.QueryPage(ctx, client.NewQuery().Where("text ne 'none'"))
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Items).To(HaveLen(2))
		Expect(p.Next).To(HavePrefix(w.url + "/tables/todoitem?"))
		Expect(p.Next).To(ContainSubstring("%24skip=2"))
		Expect(p.Next).To(ContainSubstring("%24filter="))
		p, err = t.NextPage(ctx, p.Next)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Items).To(HaveLen(2))
		Expect(p.Items[0]["id"]).To(Equal("r02"))

		seq := w.lastSeq()
		items, err := t.Query(ctx, client.NewQuery().Top(2))
		Expect(err).NotTo(HaveOccurred())
		Expect(items).To(HaveLen(2))
		Expect(pullGets(w, seq, "todoitem")).To(HaveLen(1), "nothing is left of $top: no next page")
	})

	DescribeTable("Pull pages through Node's bare Link, full and incremental",
		func(rows int, queryID string) {
			w := newWorld(fakeserver.Config{})
			ids := pullSeedRows(w, rows)
			hostileNodePaging(w, 2)
			d := w.device(nil, client.PullPageSize(2))
			Expect(d.todo.Pull(hostileCtx(), nil, queryID)).To(Succeed())
			Expect(d.ids()).To(Equal(ids))
			for _, id := range ids {
				Expect(d.row(id)).To(Equal(client.Item(w.serverRow(id))))
			}
			if queryID != "" {
				Expect(d.sc.DeltaToken(context.Background(), "todoitem", queryID)).To(Equal(tokenOf(w.serverRow(ids[len(ids)-1]))))
			}
		},
		Entry("full, 7 rows", 7, ""),
		Entry("full, 6 rows: Link on the exact-size last page", 6, ""),
		Entry("incremental, 7 rows", 7, "q"),
		Entry("incremental, 6 rows: Link on the exact-size last page", 6, "q"),
	)
})

var _ = Describe("Next-page links a client must not follow", func() {
	// serve answers GET /tables/todoitem with one fresh row per page and the Link that link
	// makes of the request; everything else is 404.
	serve := func(link func(r *http.Request) string) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/tables/todoitem" {
				rw.WriteHeader(http.StatusNotFound)
				return
			}
			if l := link(r); l != "" {
				rw.Header().Set("Link", l)
			}
			rw.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(rw, `[{"id":"p%d","updatedAt":"2014-06-09T23:40:04.297Z"}]`, hostileSkip(r))
		}
	}
	withSkip := func(r *http.Request, skip int) string {
		q := r.URL.Query()
		q.Set("$skip", strconv.Itoa(skip))
		return "<http://" + r.Host + r.URL.Path + "?" + q.Encode() + ">; rel=next"
	}
	// query and pull are the two loops that follow links.
	type loop func(ctx context.Context, c *client.Client) error
	query := loop(func(ctx context.Context, c *client.Client) error {
		_, err := c.Table("todoitem").Query(ctx, nil)
		return err
	})
	pull := loop(func(ctx context.Context, c *client.Client) error {
		sc := hostileSyncContext(c)
		return sc.Table("todoitem").Pull(ctx, nil, "")
	})
	loops := []TableEntry{Entry("Query", query), Entry("Pull", pull)}

	DescribeTable("a Link to another table of the same server is refused, and nothing is sent there",
		func(run loop) {
			rec := onlineRecord(serve(func(r *http.Request) string {
				return "<http://" + r.Host + "/tables/secret?$skip=1>; rel=next"
			}))
			err := run(hostileCtx(), onlineClient(rec.URL, client.V2))
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(err.Error()).To(ContainSubstring("not a page of /tables/todoitem"))
			Expect(rec.Requests()).To(HaveLen(1))
		},
		loops,
	)

	DescribeTable("a Link back to a page read before (A, B, A) is refused",
		func(run loop) {
			rec := onlineRecord(serve(func(r *http.Request) string {
				return withSkip(r, 1-min(hostileSkip(r), 1)) // $skip 0 and 1 name each other
			}))
			err := run(hostileCtx(), onlineClient(rec.URL, client.V2))
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(err.Error()).To(ContainSubstring("already read"))
			Expect(len(rec.Requests())).To(BeNumerically("<=", 3))
		},
		loops,
	)

	DescribeTable("a Link that only grows is refused",
		func(run loop) {
			rec := onlineRecord(serve(func(r *http.Request) string {
				q := r.URL.Query()
				q.Set("$skip", strconv.Itoa(hostileSkip(r)+1))
				q.Set("pad", q.Get("pad")+strings.Repeat("x", 200))
				return "<http://" + r.Host + r.URL.Path + "?" + q.Encode() + ">; rel=next"
			}))
			err := run(hostileCtx(), onlineClient(rec.URL, client.V2))
			var re *client.ResponseError
			Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
			Expect(re.Reason).To(ContainSubstring("a link that only grows"))
			Expect(len(rec.Requests())).To(BeNumerically("<", 30))
		},
		loops,
	)

	DescribeTable("endless fresh Links stop at PagingLimits.Pages",
		func(run loop) {
			rec := onlineRecord(serve(func(r *http.Request) string { return withSkip(r, hostileSkip(r)+1) }))
			err := run(hostileCtx(), hostileLimited(rec.URL, client.PagingLimits{Pages: 25}))
			var pe *client.PagingLimitError
			Expect(errors.As(err, &pe)).To(BeTrue(), "%v", err)
			Expect(err).To(MatchError(client.ErrPagingLimit))
			Expect(pe.Limit).To(Equal("pages"))
			Expect(pe.Max).To(Equal(25))
			Expect(rec.Requests()).To(HaveLen(25))
		},
		loops,
	)
})

// hostileSyncContext is a sync context over c with a memory store.
func hostileSyncContext(c *client.Client, opts ...client.Option) *client.SyncContext {
	GinkgoHelper()
	st := memoryStore()
	sc, err := client.NewSyncContext(c, st, nil, opts...)
	Expect(err).NotTo(HaveOccurred())
	return sc
}

var _ = Describe("Paging bounds (issue 17)", func() {
	It("has defaults, and refuses a negative limit", func() {
		c := onlineClient("http://127.0.0.1:1", client.V2)
		Expect(c.PagingLimits()).To(Equal(client.PagingLimits{Pages: client.DefaultMaxPages,
			Rows: client.DefaultMaxRows, PageRows: client.DefaultMaxPageRows}))
		c = hostileLimited("http://127.0.0.1:1", client.PagingLimits{Rows: 7})
		Expect(c.PagingLimits()).To(Equal(client.PagingLimits{Pages: client.DefaultMaxPages, Rows: 7, PageRows: client.DefaultMaxPageRows}))
		_, err := client.New("http://127.0.0.1:1", client.WithPagingLimits(client.PagingLimits{Pages: -1}))
		Expect(err).To(MatchError(client.ErrInvalidOperation))
	})

	DescribeTable("endless non-empty pages without a Link stop a pull at PagingLimits.Pages",
		func(queryID string) {
			var n atomic.Int64
			rec := onlineRecord(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "application/json")
				rows := []string{}
				for range 3 {
					i := n.Add(1)
					ts := syncT0.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
					rows = append(rows, fmt.Sprintf(`{"id":"e%d","updatedAt":%q}`, i, ts))
				}
				_, _ = io.WriteString(rw, "["+strings.Join(rows, ",")+"]")
			})
			sc := hostileSyncContext(hostileLimited(rec.URL, client.PagingLimits{Pages: 30}), client.PullPageSize(3))
			err := sc.Table("todoitem").Pull(hostileCtx(), nil, queryID)
			Expect(err).To(MatchError(client.ErrPagingLimit))
			Expect(rec.Requests()).To(HaveLen(30))
			rows, err := sc.Table("todoitem").Read(context.Background(), nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(rows).To(HaveLen(90), "the pages before the limit stay stored")
		},
		Entry("full", ""),
		Entry("incremental", "q"),
	)

	DescribeTable("more rows than PagingLimits.Rows stop a query or a pull",
		func(queryID string, online bool, stored int) {
			w := newWorld(fakeserver.Config{PageSize: 4})
			pullSeedRows(w, 30)
			c := hostileLimited(w.url, client.PagingLimits{Rows: 10})
			var err error
			if online {
				_, err = c.Table("todoitem").Query(hostileCtx(), nil)
			} else {
				sc := hostileSyncContext(c, client.PullPageSize(4))
				err = sc.Table("todoitem").Pull(hostileCtx(), nil, queryID)
				rows, rerr := sc.Table("todoitem").Read(context.Background(), nil)
				Expect(rerr).NotTo(HaveOccurred())
				Expect(rows).To(HaveLen(stored), "two pages stored; the third went over")
			}
			var pe *client.PagingLimitError
			Expect(errors.As(err, &pe)).To(BeTrue(), "%v", err)
			Expect(pe.Limit).To(Equal("rows"))
			Expect(pe.Error()).To(ContainSubstring("more than 10 rows"))
		},
		Entry("Query", "", true, 0),
		Entry("full pull", "", false, 8),
		Entry("incremental pull: its second page starts at the token", "q", false, 7),
	)

	It("sizes nothing from a count of 2^31-1", func() {
		rec := onlineRecord(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			if hostileSkip(r) == 0 {
				rw.Header().Set("Link", "<"+hostileSelf(r)+"&$skip=1>; rel=next")
				_, _ = io.WriteString(rw, `{"results":[{"id":"a"}],"count":2147483647}`)
				return
			}
			_, _ = io.WriteString(rw, `{"results":[],"count":2147483647}`)
		})
		t := onlineClient(rec.URL, client.V2).Table("todoitem")
		var items []client.Item
		var err error
		allocated := hostileAllocated(func() {
			items, err = t.Query(hostileCtx(), client.NewQuery().IncludeTotalCount())
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(items).To(HaveLen(1))
		Expect(allocated).To(BeNumerically("<", 64<<20), "bytes allocated for one row")
	})

	It("refuses a page of a million rows to a pull that asked for 50, without decoding it", func() {
		body := hostileRows(0, 1_000_000)
		w := newWorld(fakeserver.Config{})
		w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet {
				return false
			}
			rw.Header().Set("Content-Type", "application/json")
			rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = rw.Write(body)
			return true
		})
		d := w.device(nil)
		var err error
		allocated := hostileAllocated(func() { err = d.todo.Pull(hostileCtx(), nil, "") })
		var re *client.ResponseError
		Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
		Expect(err).To(MatchError(client.ErrBadResponse))
		Expect(re.Reason).To(ContainSubstring("more than the 50 rows its $top asked for"))
		Expect(d.ids()).To(BeEmpty())
		Expect(allocated).To(BeNumerically("<", 3*len(body)+(32<<20)), "the body is read, its rows are not decoded")
	})

	DescribeTable("a page larger than asked for is refused online too",
		func(q *client.Query, limits client.PagingLimits, rows int, ok bool) {
			rec := onlineRecord(onlineAnswer(http.StatusOK, string(hostileRows(0, rows))))
			_, err := hostileLimited(rec.URL, limits).Table("todoitem").QueryPage(hostileCtx(), q)
			if ok {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(MatchError(client.ErrBadResponse))
			Expect(err.Error()).To(ContainSubstring("the page holds more than"))
		},
		Entry("Top(3), 3 rows", client.NewQuery().Top(3), client.PagingLimits{}, 3, true),
		Entry("Top(3), 4 rows", client.NewQuery().Top(3), client.PagingLimits{}, 4, false),
		Entry("Top(0), 1 row", client.NewQuery().Top(0), client.PagingLimits{}, 1, false),
		Entry("no $top, PageRows 5, 5 rows", nil, client.PagingLimits{PageRows: 5}, 5, true),
		Entry("no $top, PageRows 5, 6 rows", nil, client.PagingLimits{PageRows: 5}, 6, false),
		Entry("Top(9), PageRows 5, 6 rows", client.NewQuery().Top(9), client.PagingLimits{PageRows: 5}, 6, false),
	)

	It("caps a pull's page size at PagingLimits.PageRows", func() {
		w := newWorld(fakeserver.Config{})
		pullSeedRows(w, 7)
		seq := w.lastSeq()
		sc := hostileSyncContext(hostileLimited(w.url, client.PagingLimits{PageRows: 3}), client.PullPageSize(50))
		Expect(sc.Table("todoitem").Pull(hostileCtx(), nil, "")).To(Succeed())
		Expect(pullParam(pullGets(w, seq, "todoitem"), "$top")).To(Equal([]string{"3", "3", "3", "3"}))
	})

	DescribeTable("a context cancelled mid-pull stops it at once, keeping the pages stored before",
		func(queryID string, stored []string) {
			w := newWorld(fakeserver.Config{PageSize: 2})
			pullSeedRows(w, 8)
			d := w.device(nil, client.PullPageSize(2))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var gets atomic.Int32
			w.interceptWith(func(rw http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || gets.Add(1) != 3 {
					return false
				}
				cancel()
				<-r.Context().Done() // hang until the client lets go
				return true
			})
			start := time.Now()
			err := d.todo.Pull(ctx, nil, queryID)
			Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
			Expect(errors.Is(err, context.Canceled)).To(BeTrue(), "%v", err)
			Expect(errors.Is(err, client.ErrNetwork)).To(BeFalse())
			Expect(gets.Load()).To(BeEquivalentTo(3))
			Expect(d.ids()).To(Equal(stored))
		},
		Entry("full", "", []string{"r00", "r01", "r02", "r03"}),
		Entry("incremental: the second page starts at the token", "q", []string{"r00", "r01", "r02"}),
	)
})

var _ = Describe("Node's insert/insert conflict (issue 13)", func() {
	var w *world
	BeforeEach(func() {
		w = newWorld(fakeserver.Config{})
	})

	// conflict has the server hold x (text A, deleted when tombstone) and device d insert x
	// with text B, in front of Node's conflict answers.
	conflict := func(h client.Handler, tombstone bool, opts ...client.Option) (*device, uint64) {
		_, err := w.srv.Insert("todoitem", map[string]any{"id": "x", "text": "A"})
		Expect(err).NotTo(HaveOccurred())
		if tombstone {
			_, err = w.srv.Delete("todoitem", "x")
			Expect(err).NotTo(HaveOccurred())
		}
		hostileNodeConflicts(w)
		d := w.device(h, opts...)
		d.insert(client.Item{"id": "x", "text": "B"})
		return d, w.lastSeq()
	}

	It("ClientWins reads the server's row and sends the insert as an update with its version", func() {
		d, seq := conflict(client.ClientWins(), false)
		d.push()
		Expect(w.serverRow("x")).To(HaveKeyWithValue("text", "B"))
		Expect(d.row("x")).To(Equal(client.Item(w.serverRow("x"))))
		Expect(d.queue()).To(BeEmpty())
		Expect(w.requests(seq)).To(Equal([]string{"POST /tables/todoitem 409", "GET /tables/todoitem/x 200", "PATCH /tables/todoitem/x 200"}))
	})

	It("ClientWins brings back a row the server deleted, which Node will not look up by id", func() {
		d, seq := conflict(client.ClientWins(), true)
		d.push()
		Expect(w.serverRow("x")).To(HaveKeyWithValue("text", "B"))
		Expect(w.serverRow("x")).To(HaveKeyWithValue("deleted", false))
		Expect(d.row("x")).To(Equal(client.Item(w.serverRow("x"))))
		Expect(w.requests(seq)).To(Equal([]string{"POST /tables/todoitem 409", "GET /tables/todoitem 200",
			"PATCH /tables/todoitem/x 404", "POST /tables/todoitem/x 200", "PATCH /tables/todoitem/x 200"}),
			"the lookup by id is Node's 404 and never reaches the server; the query by id finds the tombstone")
	})

	It("ServerWins stores the server's real row, not the echoed body", func() {
		d, _ := conflict(client.ServerWins(), false)
		d.push()
		Expect(w.serverRow("x")).To(HaveKeyWithValue("text", "A"))
		Expect(d.row("x")).To(Equal(client.Item(w.serverRow("x"))))
		Expect(d.row("x")).To(HaveKey("version"))
	})

	It("ServerWins removes the local row when the server's row is a tombstone", func() {
		d, _ := conflict(client.ServerWins(), true)
		d.push()
		Expect(d.row("x")).To(BeNil())
		Expect(d.queue()).To(BeEmpty())
	})

	It("DefaultHandler records the server's row as ServerItem and the echo as the raw response", func() {
		d, _ := conflict(nil, false)
		_, pf := d.pushFails()
		Expect(pf.Errors).To(HaveLen(1))
		e := pf.Errors[0]
		Expect(e.Status).To(Equal(http.StatusConflict))
		Expect(e.ServerItem).To(Equal(client.Item(w.serverRow("x"))))
		Expect(string(e.RawResponse)).To(Equal(`{"id":"x","text":"B"}`))
		Expect(e.CancelAndUpdateItem(context.Background(), e.ServerItem)).To(Succeed())
		Expect(d.row("x")).To(Equal(client.Item(w.serverRow("x"))))
	})

	It("CancelPush stops with the server's row in the conflict", func() {
		d, _ := conflict(client.CancelPush(), false)
		res, pf := d.pushFails()
		Expect(res.Status).To(Equal(client.CancelledByOperation))
		Expect(pf.Errors).To(HaveLen(1))
		Expect(pf.Errors[0].ServerItem).To(Equal(client.Item(w.serverRow("x"))))
		Expect(d.queue()).To(Equal([]string{"insert x"}))
	})

	It("TreatIdenticalAsSuccess compares with the server's row, not with the echo of what was sent", func() {
		d, _ := conflict(nil, false, client.TreatIdenticalAsSuccess())
		_, pf := d.pushFails()
		Expect(pf).To(MatchError(client.ErrConflict))
		Expect(w.serverRow("x")).To(HaveKeyWithValue("text", "A"))
		Expect(d.row("x")).To(HaveKeyWithValue("text", "B"))
	})

	It("Table.Insert returns the 409 with the server's row, and If-Match is built from its version", func() {
		_, err := w.srv.Insert("todoitem", map[string]any{"id": "x", "text": "A"})
		Expect(err).NotTo(HaveOccurred())
		hostileNodeConflicts(w)
		t := onlineClient(w.url, client.V2).Table("todoitem")
		_, err = t.Insert(context.Background(), client.Item{"id": "x", "text": "B"})
		he := onlineHTTPError(err)
		Expect(he.Status).To(Equal(http.StatusConflict))
		Expect(he.ServerItem).To(Equal(client.Item(w.serverRow("x"))))
		Expect(string(he.Body)).To(Equal(`{"id":"x","text":"B"}`))

		rec := onlineRecord(onlineItemOrPage)
		_, err = onlineClient(rec.URL, client.V2).Table("todoitem").Update(context.Background(), he.ServerItem)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Last().Header.Get("If-Match")).To(Equal(`"` + he.ServerItem["version"].(string) + `"`))
	})
})

var _ = Describe("A 409 on insert and its ETag", func() {
	serverRow := `{"id":"e1","version":"srv","text":"server"}`
	DescribeTable("the body is the server's row when the ETag, weak or strong, names its version; else the client reads the row",
		func(body, etag string, read bool) {
			rec := onlineRecord(func(rw http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					onlineAnswer(http.StatusOK, serverRow, "ETag", `"srv"`)(rw, r)
					return
				}
				kv := []string{}
				if etag != "" {
					kv = []string{"ETag", etag}
				}
				onlineAnswer(http.StatusConflict, body, kv...)(rw, r)
			})
			_, err := onlineClient(rec.URL, client.V2).Table("todoitem").Insert(context.Background(), client.Item{"id": "e1", "text": "mine"})
			he := onlineHTTPError(err)
			Expect(he.Status).To(Equal(http.StatusConflict))
			Expect(string(he.Body)).To(Equal(body))
			if !read {
				Expect(rec.Requests()).To(HaveLen(1))
				Expect(he.ServerItem).To(HaveKeyWithValue("version", "v1"))
				return
			}
			Expect(rec.Requests()).To(HaveLen(2))
			Expect(rec.Last().Path).To(Equal("/tables/todoitem/e1"))
			Expect(rec.Last().RawQuery).To(Equal("__includeDeleted=true"))
			Expect(he.ServerItem).To(HaveKeyWithValue("text", "server"))
		},
		Entry("strong ETag of the version", `{"id":"e1","version":"v1"}`, `"v1"`, false),
		Entry("weak ETag of the version", `{"id":"e1","version":"v1"}`, `W/"v1"`, false),
		Entry("no ETag", `{"id":"e1","version":"v1"}`, ``, true),
		Entry("an ETag of something else", `{"id":"e1","version":"v1"}`, `W/"1a-abc"`, true),
		Entry("Node's echo: no version, express's weak ETag", `{"id":"e1","text":"mine"}`, `W/"1a-2jmj7l5rSw0yVb/vlWAYkK/YBwk"`, true),
	)

	It("takes an escaped quote in an ETag for the quote", func() {
		rec := onlineRecord(onlineAnswer(http.StatusConflict, `{"id":"e1","version":"v\"1"}`, "ETag", `"v\"1"`))
		_, err := onlineClient(rec.URL, client.V2).Table("todoitem").Insert(context.Background(), client.Item{"id": "e1"})
		Expect(onlineHTTPError(err).ServerItem).To(HaveKeyWithValue("version", `v"1`))
		Expect(rec.Requests()).To(HaveLen(1))
	})

	It("a read that gets no response is both the conflict and a network error, and a push keeps the insert queued", func() {
		rec := onlineRecord(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				conn, _, err := rw.(http.Hijacker).Hijack()
				Expect(err).NotTo(HaveOccurred())
				_ = conn.Close()
				return
			}
			onlineAnswer(http.StatusConflict, `{"id":"e1","text":"mine"}`, "ETag", `W/"x"`)(rw, r)
		})
		c := onlineClient(rec.URL, client.V2)
		_, err := c.Table("todoitem").Insert(context.Background(), client.Item{"id": "e1", "text": "mine"})
		Expect(err).To(MatchError(client.ErrNetwork))
		he := onlineHTTPError(err)
		Expect(he.Status).To(Equal(http.StatusConflict))
		Expect(he.ServerItem).To(BeNil())

		sc, err := client.NewSyncContext(c, memoryStore(), client.ClientWins())
		Expect(err).NotTo(HaveOccurred())
		_, err = sc.Table("todoitem").Insert(context.Background(), client.Item{"id": "e1", "text": "mine"})
		Expect(err).NotTo(HaveOccurred())
		res, err := sc.Push(context.Background())
		Expect(err).To(MatchError(client.ErrNetwork))
		Expect(res.Status).To(Equal(client.CancelledByNetworkError))
		ops, err := sc.PendingOperations(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(ops).To(HaveLen(1))
	})

	It("never sends the wildcard If-Match: a version of * goes quoted", func() {
		rec := onlineRecord(onlineItemOrPage)
		t := onlineClient(rec.URL, client.V2).Table("todoitem")
		_, err := t.Update(context.Background(), client.Item{"id": "e1", "version": "*"})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Last().Header.Get("If-Match")).To(Equal(`"*"`))
		_, err = t.Delete(context.Background(), client.Item{"id": "e1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Last().Header.Values("If-Match")).To(BeEmpty())
	})
})
