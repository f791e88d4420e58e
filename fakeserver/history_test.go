package fakeserver_test

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
)

var _ = Describe("History", func() {
	It("records what a write was conditional on and how many tombstones a query returned", func() {
		srv, p := startServer(fakeserver.Config{})
		p.insert("todoitem", map[string]any{"id": "e1"})
		p.insert("todoitem", map[string]any{"id": "e2"})
		p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}, "If-Match", `"AAAAAAAAAAk=", "AAAAAAAAAAE="`)
		p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "y", "version": "AAAAAAAAAAE="})
		p.do("DELETE", "/tables/todoitem/e2", nil, "If-Match", "*")
		p.do("GET", "/tables/todoitem?__includeDeleted=true", nil)
		p.do("GET", "/tables/todoitem", nil)
		h := srv.History()
		Expect(h[2]).To(MatchFields(IgnoreExtras, Fields{"Precondition": Equal([]string{"AAAAAAAAAAk=", "AAAAAAAAAAE="}), "Applied": BeTrue()}))
		Expect(h[3]).To(MatchFields(IgnoreExtras, Fields{"Precondition": Equal([]string{"AAAAAAAAAAE="}), "Status": Equal(409)}))
		Expect(h[4].Precondition).To(BeEmpty(), "* is no precondition on a version")
		Expect(h[5]).To(MatchFields(IgnoreExtras, Fields{"Rows": Equal(2), "Tombstones": Equal(1), "IncludeDeleted": BeTrue()}))
		Expect(h[6]).To(MatchFields(IgnoreExtras, Fields{"Rows": Equal(1), "Tombstones": Equal(0), "IncludeDeleted": BeFalse()}))
	})

	It("records the If-Match of a write a fault answered in the server's stead", func() {
		srv, err := fakeserver.NewServer(fakeserver.Config{Clock: fakeserver.SimClock(t0)})
		Expect(err).NotTo(HaveOccurred())
		ts := srv.Start()
		DeferCleanup(ts.Close)
		p := newPeer(ts, fakeserver.V2)
		p.insert("todoitem", map[string]any{"id": "e1"})
		_, err = srv.Faults().Add(fakeserver.Rule{Action: "status", Params: map[string]any{"code": 401}, Match: fakeserver.Match{Method: []string{"PATCH"}}})
		Expect(err).NotTo(HaveOccurred())
		_, err = srv.Faults().Add(fakeserver.Rule{Action: "reset", Match: fakeserver.Match{Method: []string{"DELETE"}}})
		Expect(err).NotTo(HaveOccurred())
		p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}, "If-Match", `"AAAAAAAAAAE="`)
		req, err := http.NewRequest("DELETE", ts.URL+"/tables/todoitem/e1", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		req.Header.Set("If-Match", `W/"AAAAAAAAAAE="`)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		h := srv.History()
		Expect(h).To(HaveLen(3))
		Expect(h[1]).To(MatchFields(IgnoreExtras, Fields{"Method": Equal("PATCH"), "Status": Equal(401), "Applied": BeFalse(),
			"Precondition": Equal([]string{"AAAAAAAAAAE="})}))
		Expect(h[2]).To(MatchFields(IgnoreExtras, Fields{"Method": Equal("DELETE"), "Applied": BeFalse(),
			"Precondition": Equal([]string{"AAAAAAAAAAE="})}))
	})

	It("records every request with its outcome, in the order applied", func() {
		srv, p := startServer(fakeserver.Config{})
		p.insert("todoitem", map[string]any{"id": "e1", "text": "Buy eggs"})
		p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}, "If-Match", `"AAAAAAAAAAk="`, "X-ZUMO-INSTALLATION-ID", "")
		p.do("GET", "/tables/todoitem?$top=1", nil)
		p.with("ZUMO-API-VERSION", "").do("GET", "/tables/todoitem", nil)

		h := srv.History()
		Expect(h).To(HaveLen(4))
		Expect(h[0]).To(MatchFields(IgnoreExtras, Fields{
			"Seq": BeEquivalentTo(1), "Source": Equal("http"), "Client": Equal("phone"), "Method": Equal("POST"),
			"Path": Equal("/tables/todoitem"), "Op": Equal(fakeserver.OpInsert), "Table": Equal("todoitem"),
			"ItemID": Equal("e1"), "Status": Equal(201), "VersionBefore": BeEmpty(),
			"VersionAfter": Equal(version(1)), "Applied": BeTrue(), "Time": Equal(clockAt(0)), "UpdatedAt": Equal(clockAt(0)),
		}))
		Expect(h[1]).To(MatchFields(IgnoreExtras, Fields{
			"Seq": BeEquivalentTo(2), "Client": HavePrefix("Go-http-client"), "Op": Equal(fakeserver.OpUpdate),
			"Status": Equal(412), "VersionBefore": Equal(version(1)), "VersionAfter": Equal(version(1)),
			"Applied": BeFalse(), "Error": ContainSubstring("did not match"),
		}))
		Expect(h[2]).To(MatchFields(IgnoreExtras, Fields{
			"Op": Equal(fakeserver.OpQuery), "Query": Equal("$top=1"), "Status": Equal(200), "Rows": Equal(1),
		}))
		Expect(h[3]).To(MatchFields(IgnoreExtras, Fields{
			"Status": Equal(400), "Applied": BeFalse(), "Error": ContainSubstring("ZUMO-API-VERSION"),
		}))
	})

	It("records direct writes as the server's own", func() {
		srv, _ := startServer(fakeserver.Config{})
		_, err := srv.Write("todoitem", "e1", map[string]any{"text": "new"})
		Expect(err).NotTo(HaveOccurred())
		_, err = srv.Write("todoitem", "e1", map[string]any{"text": "newer"})
		Expect(err).NotTo(HaveOccurred())
		h := srv.History()
		Expect(h).To(HaveLen(2))
		Expect(h[0]).To(MatchFields(IgnoreExtras, Fields{"Source": Equal("direct"), "Client": Equal("server"),
			"Op": Equal(fakeserver.OpInsert), "Status": Equal(201), "Applied": BeTrue()}))
		Expect(h[1]).To(MatchFields(IgnoreExtras, Fields{"Op": Equal(fakeserver.OpUpdate), "Status": Equal(200),
			"VersionBefore": Equal(version(1)), "VersionAfter": Equal(version(2))}))
	})

	It("exports and reads back JSON Lines, and filters by sequence", func() {
		srv, p := startServer(fakeserver.Config{})
		p.insert("todoitem", map[string]any{"id": "a"})
		p.insert("todoitem", map[string]any{"id": "b"})
		p.do("DELETE", "/tables/todoitem/a", nil)
		var buf bytes.Buffer
		Expect(fakeserver.WriteJSONLines(&buf, srv.History())).To(Succeed())
		Expect(strings.Count(buf.String(), "\n")).To(Equal(3))
		back, err := fakeserver.ReadJSONLines(&buf)
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(srv.History()))
		Expect(srv.HistorySince(2)).To(HaveLen(1))
		Expect(srv.HistorySince(2)[0].Op).To(Equal(fakeserver.OpDelete))
	})
})

var _ = Describe("The Go API", func() {
	var srv *server
	BeforeEach(func() { srv, _ = startServer(fakeserver.Config{}) })

	It("writes like a request: versions, timestamps and the same refusals", func() {
		row, err := srv.Insert("todoitem", map[string]any{"id": "e1", "text": "Buy eggs", "n": 3})
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(Equal(map[string]any{"id": "e1", "text": "Buy eggs", "n": 3.0, "version": version(1),
			"createdAt": at(0), "updatedAt": at(0), "deleted": false}))

		_, err = srv.Insert("todoitem", map[string]any{"id": "e1"})
		Expect(err).To(MatchError(fakeserver.ErrConflict))
		var ferr *fakeserver.Error
		Expect(errors.As(err, &ferr)).To(BeTrue())
		Expect(ferr.Row).To(HaveKeyWithValue("text", "Buy eggs"))

		_, err = srv.Update("todoitem", "e1", map[string]any{"text": "x", "version": version(9)})
		Expect(err).To(MatchError(fakeserver.ErrConflict), "a version in the patch makes it conditional")
		row, err = srv.Update("todoitem", "e1", map[string]any{"text": "Buy organic eggs", "version": version(1)})
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(HaveKeyWithValue("version", version(2)))

		_, err = srv.Update("todoitem", "nope", map[string]any{"text": "x"})
		Expect(err).To(MatchError(fakeserver.ErrNotFound))
		_, err = srv.Insert("todoitem", map[string]any{"id": "e2", "n": "three"})
		Expect(err).To(MatchError(fakeserver.ErrBadRequest), "n is a number column")
		_, err = srv.Insert("todoitem", map[string]any{"id": "e2", "nested": map[string]any{}})
		Expect(err).To(MatchError(ContainSubstring("nested objects")))

		row, err = srv.Delete("todoitem", "e1")
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(HaveKeyWithValue("deleted", true))
		_, err = srv.Write("todoitem", "e1", map[string]any{"text": "again"})
		Expect(err).To(MatchError(fakeserver.ErrNotFound), "a tombstone is not written over")
		row, err = srv.Undelete("todoitem", "e1")
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(HaveKeyWithValue("deleted", false))
		Expect(row).To(HaveKeyWithValue("version", version(4)))
	})

	It("takes Go numbers of any integer or float type, and refuses non-finite ones", func() {
		inProcessOnly("converts Go values, which the admin API receives as JSON")
		type level int16
		row, err := srv.Insert("nums", map[string]any{"id": "a", "i8": int8(-8), "u64": uint64(1 << 63), "u8": uint8(7),
			"lv": level(3), "f32": float32(1.5), "t": time.Date(2020, 1, 2, 3, 4, 5, 6_000_000, time.UTC)})
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(Equal(map[string]any{"id": "a", "i8": -8.0, "u64": float64(1 << 63), "u8": 7.0, "lv": 3.0, "f32": 1.5,
			"t": "2020-01-02T03:04:05.006Z", "version": version(1), "createdAt": "2014-06-09T23:40:04.297Z",
			"updatedAt": "2014-06-09T23:40:04.297Z", "deleted": false}))
		_, err = srv.Insert("nums", map[string]any{"id": "b", "f": math.Inf(1)})
		Expect(err).To(MatchError(ContainSubstring("out of range")))
		_, err = srv.Insert("nums", map[string]any{"id": "b", "c": make(chan int)})
		Expect(err).To(MatchError(ContainSubstring("unsupported value")))
	})

	It("lists rows with tombstones, ordered by id, and resets to a new server", func() {
		for _, id := range []string{"b", "a", "c"} {
			_, err := srv.Insert("todoitem", map[string]any{"id": id})
			Expect(err).NotTo(HaveOccurred())
		}
		_, err := srv.Delete("todoitem", "c")
		Expect(err).NotTo(HaveOccurred())
		rows := srv.Rows("todoitem")
		Expect(rows).To(HaveLen(3))
		Expect([]any{rows[0]["id"], rows[1]["id"], rows[2]["id"]}).To(Equal([]any{"a", "b", "c"}))
		Expect(rows[2]).To(HaveKeyWithValue("deleted", true))
		_, ok := srv.Row("todoitem", "B")
		Expect(ok).To(BeTrue())

		srv.Reset()
		Expect(srv.Rows("todoitem")).To(BeEmpty())
		Expect(srv.History()).To(BeEmpty())
		row, err := srv.Insert("todoitem", map[string]any{"id": "a"})
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(HaveKeyWithValue("version", version(1)), "the counter restarts")
	})

	It("refuses an invalid configuration", func() {
		inProcessOnly("builds servers with the Go API")
		_, err := fakeserver.NewServer(fakeserver.Config{Dialect: "v3"})
		Expect(err).To(MatchError(ContainSubstring("dialect")))
		_, err = fakeserver.NewServer(fakeserver.Config{Tables: []string{"bad-name"}})
		Expect(err).To(MatchError(ContainSubstring("invalid table name")))
		Expect(func() { fakeserver.New(fakeserver.Config{PageSize: -1}) }).To(Panic())
	})
})

var _ = Describe("Clocks", func() {
	It("a simulated clock with step 0 gives every write one updatedAt", func() {
		srv, _ := startServer(fakeserver.Config{Clock: fakeserver.SimClock(t0).WithStep(0)})
		a, _ := srv.Insert("t", map[string]any{"id": "a"})
		b, _ := srv.Insert("t", map[string]any{"id": "b"})
		Expect(a["updatedAt"]).To(Equal(b["updatedAt"]))
		Expect(a["version"]).NotTo(Equal(b["version"]))
	})

	It("a simulated clock moves by its step per write and by Advance", func() {
		inProcessOnly("tests the Go type SimulatedClock")
		c := fakeserver.SimClock(t0).WithStep(10 * time.Millisecond)
		Expect(c.Stamp()).To(Equal(t0))
		Expect(c.Now()).To(Equal(t0.Add(10 * time.Millisecond)))
		c.Advance(-time.Second)
		Expect(c.Stamp()).To(Equal(t0.Add(-990 * time.Millisecond)))
		Expect(fakeserver.SimClock(time.Time{}).Now()).To(Equal(fakeserver.DefaultSimStart))
	})

	It("the real clock never goes backwards on its own, but Advance can turn it back", func() {
		inProcessOnly("tests the Go type of the real clock")
		c := fakeserver.RealClock()
		prev := c.Stamp()
		for range 1000 {
			t := c.Stamp()
			Expect(t).NotTo(BeTemporally("<", prev))
			Expect(t.Nanosecond() % int(time.Millisecond)).To(BeZero())
			prev = t
		}
		c.Advance(time.Hour)
		Expect(c.Stamp()).To(BeTemporally(">=", prev.Add(time.Hour)))
		c.Advance(-2 * time.Hour)
		Expect(c.Stamp()).To(BeTemporally("<", prev))
	})
})

var _ = Describe("The admin API", func() {
	var (
		srv   *server
		p     *peer
		admin *peer
	)
	BeforeEach(func() {
		srv, p = startServer(fakeserver.Config{})
		admin = p.with("ZUMO-API-VERSION", "", "X-ZUMO-INSTALLATION-ID", "")
	})

	It("exports the history as JSON Lines", func() {
		p.insert("todoitem", map[string]any{"id": "a"})
		p.insert("todoitem", map[string]any{"id": "b"})
		res, err := http.DefaultClient.Do(adminRequest("GET", admin.base+"/_conflictlab/history?since=1"))
		Expect(err).NotTo(HaveOccurred())
		defer res.Body.Close()
		Expect(res.Header.Get("Content-Type")).To(Equal("application/x-ndjson"))
		events, err := fakeserver.ReadJSONLines(res.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(HaveLen(1))
		Expect(events[0].ItemID).To(Equal("b"))
		Expect(srv.History()).To(HaveLen(2), "admin requests are not client traffic")
	})

	It("shows raw rows with tombstones, and writes as another writer", func() {
		p.insert("todoitem", map[string]any{"id": "a", "text": "one"})
		p.do("DELETE", "/tables/todoitem/a", nil)
		Expect(admin.do("GET", "/_conflictlab/tables/todoitem", nil).Array()).To(ConsistOf(
			And(HaveKeyWithValue("id", "a"), HaveKeyWithValue("deleted", true))))
		Expect(admin.do("GET", "/_conflictlab/tables/todoitem/a", nil).Object()).To(HaveKeyWithValue("deleted", true))

		r := admin.do("POST", "/_conflictlab/tables/todoitem/b", map[string]any{"text": "from the server"})
		Expect(r.Status).To(Equal(http.StatusOK))
		Expect(r.Object()).To(HaveKeyWithValue("version", version(3)))
		r = admin.do("POST", "/_conflictlab/tables/todoitem/a?op=update", map[string]any{"text": "x"})
		Expect(r.Status).To(Equal(http.StatusNotFound))
		r = admin.do("POST", "/_conflictlab/tables/todoitem/a?op=undelete", nil)
		Expect(r.Object()).To(HaveKeyWithValue("deleted", false))
		r = admin.do("POST", "/_conflictlab/tables/todoitem/a?op=insert", map[string]any{})
		Expect(r.Status).To(Equal(http.StatusConflict))
		Expect(r.Object()).To(HaveKeyWithValue("row", HaveKeyWithValue("id", "a")))
		r = admin.do("POST", "/_conflictlab/tables/todoitem/a?op=bogus", map[string]any{})
		Expect(r.Status).To(Equal(http.StatusBadRequest))
		Expect(admin.do("GET", "/_conflictlab/tables", nil).Array()).To(Equal([]any{"todoitem"}))

		Expect(srv.History()[len(srv.History())-1].Source).To(Equal("direct"))
		Expect(p.do("GET", "/tables/todoitem", nil).IDs()).To(Equal([]string{"a", "b"}))
	})

	It("resets the server", func() {
		p.insert("todoitem", map[string]any{"id": "a"})
		Expect(admin.do("POST", "/_conflictlab/reset", nil).Status).To(Equal(http.StatusOK))
		Expect(srv.Rows("todoitem")).To(BeEmpty())
		Expect(srv.History()).To(BeEmpty())
	})

	It("moves the clock", func() {
		r := admin.do("POST", "/_conflictlab/clock", map[string]any{"advanceMs": 1000, "stepMs": 0})
		Expect(r.Object()).To(Equal(map[string]any{"now": at(1000), "simulated": true, "stepMs": 0.0}))
		a := p.insert("t", map[string]any{})
		b := p.insert("t", map[string]any{})
		Expect(a["updatedAt"]).To(Equal(at(1000)))
		Expect(b["updatedAt"]).To(Equal(a["updatedAt"]))
		Expect(admin.do("POST", "/_conflictlab/clock", map[string]any{"advance": 1}).Status).To(Equal(http.StatusBadRequest))
		Expect(admin.do("POST", "/_conflictlab/clock", map[string]any{"advanceMs": int64(1) << 62}).Status).To(Equal(http.StatusBadRequest))
		Expect(admin.do("GET", "/_conflictlab/clock", nil).Object()).To(HaveKeyWithValue("now", at(1000)))
	})

	It("answers loopback clients only", func() {
		handlers := srv.Go("sends the handlers requests from another address")
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/_conflictlab/reset", nil) // RemoteAddr 192.0.2.1
		p.insert("todoitem", map[string]any{"id": "a"})
		handlers.Handler().ServeHTTP(rec, req)
		Expect(rec.Code).To(Equal(http.StatusForbidden))
		Expect(srv.Rows("todoitem")).To(HaveLen(1))
		rec = httptest.NewRecorder()
		handlers.AdminHandler().ServeHTTP(rec, req)
		Expect(rec.Code).To(Equal(http.StatusForbidden), "on an address of its own too")
		Expect(srv.Rows("todoitem")).To(HaveLen(1))

		open := fakeserver.New(fakeserver.Config{AdminOpen: true, AdminHosts: []string{"example.com"}}) // httptest's Host
		rec = httptest.NewRecorder()
		open.AdminHandler().ServeHTTP(rec, httptest.NewRequest("POST", "/_conflictlab/reset", nil))
		Expect(rec.Code).To(Equal(http.StatusOK), "AdminOpen opens the admin handler to other machines")
		rec = httptest.NewRecorder()
		open.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/_conflictlab/reset", nil))
		Expect(rec.Code).To(Equal(http.StatusForbidden), "but never the admin API under the table protocol's address")
	})
})
