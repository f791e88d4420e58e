package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// onlineCall is one Table method, called with a fixed item or query, for the specs that hold
// for every method.
//
// base is the server's URL, which NextPage needs for a link of its own.
type onlineCall func(ctx context.Context, t *client.Table, base string) (any, error)

var (
	onlineInsert onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
	}
	onlineUpdate onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Update(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
	}
	onlineDelete onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Delete(ctx, client.Item{"id": "e1"})
	}
	onlineUndelete onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Undelete(ctx, client.Item{"id": "e1"})
	}
	onlineLookup onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Lookup(ctx, "e1")
	}
	onlineQueryPage onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.QueryPage(ctx, nil)
	}
	onlineQuery onlineCall = func(ctx context.Context, t *client.Table, _ string) (any, error) {
		return t.Query(ctx, nil)
	}
	onlineNextPage onlineCall = func(ctx context.Context, t *client.Table, base string) (any, error) {
		return t.NextPage(ctx, base+"/tables/todoitem?$skip=1")
	}
)

// onlineEveryCall is each method of Table once.
var onlineEveryCall = []TableEntry{
	Entry("Insert", onlineInsert),
	Entry("Update", onlineUpdate),
	Entry("Delete", onlineDelete),
	Entry("Undelete", onlineUndelete),
	Entry("Lookup", onlineLookup),
	Entry("QueryPage", onlineQueryPage),
	Entry("Query", onlineQuery),
	Entry("NextPage", onlineNextPage),
}

// onlineItemOrPage answers what each method expects: a page for a query, the item otherwise
// (its id from the path, or from the body of an insert, else "e1").
func onlineItemOrPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, id, isItem := strings.Cut(r.URL.Path, "/tables/todoitem/")
	if r.Method == http.MethodGet && !isItem {
		if r.URL.Query().Get("$inlinecount") == "allpages" {
			_, _ = w.Write([]byte(`{"results":[],"count":0}`))
			return
		}
		_, _ = w.Write([]byte(`[]`))
		return
	}
	if !isItem {
		var body struct{ ID any }
		_ = json.NewDecoder(r.Body).Decode(&body)
		id, _ = body.ID.(string)
	}
	if id == "" {
		id = "e1"
	}
	_ = json.NewEncoder(w).Encode(client.Item{"id": id, "version": "AAAAAAAAAAE=", "__version": "AAAAAAAAAAE="})
}

// onlineHang answers nothing until the client goes away or the spec ends.
func onlineHang() http.HandlerFunc {
	release := make(chan struct{})
	DeferCleanup(func() { close(release) })
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

// onlineHangInBody sends the status and half a body, then hangs.
func onlineHangInBody() http.HandlerFunc {
	hang := onlineHang()
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`[{"id":"e1",`))
		w.(http.Flusher).Flush()
		hang(w, r)
	}
}

func onlineHTTPError(err error) *client.HTTPError {
	GinkgoHelper()
	var he *client.HTTPError
	Expect(errors.As(err, &he)).To(BeTrue(), "want an *HTTPError, got %T: %v", err, err)
	return he
}

func onlineNetworkError(err error) *client.NetworkError {
	GinkgoHelper()
	var ne *client.NetworkError
	Expect(errors.As(err, &ne)).To(BeTrue(), "want a *NetworkError, got %T: %v", err, err)
	Expect(err).To(MatchError(client.ErrNetwork))
	return ne
}

func onlineResponseError(err error) *client.ResponseError {
	GinkgoHelper()
	var re *client.ResponseError
	Expect(errors.As(err, &re)).To(BeTrue(), "want a *ResponseError, got %T: %v", err, err)
	Expect(err).To(MatchError(client.ErrBadResponse))
	return re
}

// onlineExpectContextError checks the error of a call whose own context ended.
func onlineExpectContextError(err, want error) {
	GinkgoHelper()
	Expect(err).To(MatchError(want))
	var ne *client.NetworkError
	Expect(errors.As(err, &ne)).To(BeFalse(), "a cancelled call is not a network error: %v", err)
	Expect(errors.Is(err, client.ErrNetwork)).To(BeFalse())
}

var onlineUUID = `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`

var _ = Describe("Client", func() {
	It("accepts an absolute http or https URL, with or without a trailing slash", func() {
		for in, want := range map[string]string{
			"http://example.com":            "http://example.com",
			"http://example.com/":           "http://example.com",
			"HTTPS://Example.COM:8443/api/": "https://example.com:8443/api",
			" http://127.0.0.1:8080/a/b ":   "http://127.0.0.1:8080/a/b",
		} {
			c, err := client.New(in)
			Expect(err).NotTo(HaveOccurred(), in)
			Expect(c.BaseURL()).To(Equal(want), in)
		}
	})

	DescribeTable("refuses a base URL it cannot extend with /tables/",
		func(baseURL string) {
			_, err := client.New(baseURL)
			Expect(err).To(MatchError(client.ErrInvalidOperation))
		},
		Entry("empty", ""),
		Entry("a path", "/api"),
		Entry("no scheme", "example.com"),
		Entry("another scheme", "ftp://example.com"),
		Entry("no host", "http://"),
		Entry("opaque", "http:example.com"),
		Entry("a query", "http://example.com/?a=1"),
		Entry("a fragment", "http://example.com/#top"),
		Entry("unparsable", "http://[::1"),
		Entry("credentials", "https://user:pass@example.com"),
	)

	It("has defaults: v2, a User-Agent, and a random installation id kept for its life", func() {
		rec := onlineRecord(onlineItemOrPage)
		c, err := client.New(rec.URL)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Dialect()).To(Equal(client.V2))
		Expect(c.InstallationID()).To(MatchRegexp(onlineUUID))
		other, _ := client.New(rec.URL)
		Expect(other.InstallationID()).NotTo(Equal(c.InstallationID()))
		for range 2 {
			_, err := c.Table("todoitem").Lookup(context.Background(), "e1")
			Expect(err).NotTo(HaveOccurred())
		}
		for _, r := range rec.Requests() {
			Expect(r.Header.Get("X-ZUMO-INSTALLATION-ID")).To(Equal(c.InstallationID()))
			Expect(r.Header.Get("User-Agent")).To(Equal(client.DefaultUserAgent))
		}
	})

	DescribeTable("refuses options that cannot work",
		func(opt client.ClientOption) {
			_, err := client.New("http://example.com", opt)
			Expect(err).To(MatchError(client.ErrInvalidOperation))
		},
		Entry("an unknown dialect", client.WithDialect(client.Dialect(7))),
		Entry("a negative timeout", client.WithTimeout(-time.Second)),
		Entry("a token with a newline", client.WithAuthToken("tok\nX-Evil: 1")),
		Entry("an app key with a NUL", client.WithAppKey("key\x00")),
		Entry("an installation id with a CR", client.WithInstallationID("a\rb")),
		Entry("a User-Agent with a DEL", client.WithUserAgent("ua\x7f")),
	)

	DescribeTable("refuses a bad table name on every call, sending nothing",
		func(call onlineCall) {
			rec := onlineRecord(onlineItemOrPage)
			c := onlineClient(rec.URL, client.V2)
			for _, name := range []string{"", "todo item", "todo/item", "../x", "tôdo", strings.Repeat("t", 129)} {
				t := c.Table(name)
				Expect(t.Name()).To(Equal(name))
				_, err := call(context.Background(), t, rec.URL)
				Expect(err).To(MatchError(client.ErrInvalidOperation), "table %q", name)
			}
			Expect(c.Table(strings.Repeat("t", 128)).Name()).To(HaveLen(128))
			Expect(rec.Requests()).To(BeEmpty())
		},
		onlineEveryCall,
	)
})

var _ = Describe("Table against the fake server", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })

	Describe("Insert", func() {
		DescribeTable("returns the server's row with every system column, leaving the item alone",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				item := client.Item{"id": "e1", "text": "Buy eggs", "complete": false, "n": 6}
				before := maps.Clone(item)
				row, err := env.t.Insert(ctx, item)
				Expect(err).NotTo(HaveOccurred())
				Expect(item).To(Equal(before))
				Expect(row).To(SatisfyAll(
					HaveKeyWithValue("id", "e1"),
					HaveKeyWithValue("text", "Buy eggs"),
					HaveKeyWithValue("complete", false),
					HaveKeyWithValue("n", 6.0),
					HaveKeyWithValue(d.Column(client.ColumnVersion), "AAAAAAAAAAE="),
					HaveKeyWithValue(d.Column(client.ColumnCreatedAt), MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)),
					HaveKeyWithValue(d.Column(client.ColumnUpdatedAt), row[d.Column(client.ColumnCreatedAt)]),
					HaveKeyWithValue(d.Column(client.ColumnDeleted), false),
				))
				Expect(row).To(HaveLen(8))
				server, ok := env.srv.Row("todoitem", "e1")
				Expect(ok).To(BeTrue())
				Expect(server).To(HaveKeyWithValue("text", "Buy eggs"))
			},
			onlineDialects,
		)

		DescribeTable("lets the server choose the id when the item has none or a nil one",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				for _, item := range []client.Item{{"text": "a"}, {"id": nil, "text": "b"}, {"ID": nil, "text": "c"}, nil} {
					row, err := env.t.Insert(ctx, item)
					Expect(err).NotTo(HaveOccurred())
					Expect(row["id"]).To(MatchRegexp(onlineUUID))
				}
				Expect(env.srv.Rows("todoitem")).To(HaveLen(4))
			},
			onlineDialects,
		)

		DescribeTable("never sends createdAt, updatedAt or deleted, which the server refuses",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				item := client.Item{"id": "e1", "text": "a", d.Column(client.ColumnCreatedAt): "2001-01-01T00:00:00.000Z",
					d.Column(client.ColumnUpdatedAt): "2001-01-01T00:00:00.000Z", d.Column(client.ColumnDeleted): true}
				row, err := env.t.Insert(ctx, item)
				Expect(err).NotTo(HaveOccurred())
				Expect(row[d.Column(client.ColumnDeleted)]).To(BeFalse())
				Expect(row[d.Column(client.ColumnCreatedAt)]).NotTo(HavePrefix("2001"))
			},
			onlineDialects,
		)

		DescribeTable("refuses an id that is not a non-empty string, sending nothing",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				for _, id := range []any{"", 5.0, true, map[string]any{}} {
					_, err := env.t.Insert(ctx, client.Item{"id": id})
					Expect(err).To(MatchError(client.ErrInvalidOperation), "id %#v", id)
				}
				_, err := env.t.Insert(ctx, client.Item{"id": "e1", "ch": make(chan int)})
				Expect(err).To(MatchError(client.ErrInvalidOperation))
				Expect(env.srv.History()).To(BeEmpty())
			},
			onlineDialects,
		)

		DescribeTable("answers an existing id with a 409 that carries the server's row",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				first, err := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				Expect(err).NotTo(HaveOccurred())
				_, err = env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy milk"})
				Expect(err).To(MatchError(client.ErrConflict))
				Expect(err).NotTo(MatchError(client.ErrPreconditionFailed))
				he := onlineHTTPError(err)
				Expect(he.Status).To(Equal(http.StatusConflict))
				Expect(he.Method).To(Equal(http.MethodPost))
				Expect(he.URL).To(HavePrefix(env.url + "/tables/todoitem"))
				Expect(he.IsConflict()).To(BeTrue())
				Expect(he.ServerItem).To(Equal(first))
				Expect(he.Body).NotTo(BeEmpty())

				// A deleted row's id is taken too: the 409 carries the tombstone.
				_, err = env.t.Delete(ctx, first)
				Expect(err).NotTo(HaveOccurred())
				_, err = env.t.Insert(ctx, client.Item{"id": "e1"})
				Expect(onlineHTTPError(err).ServerItem).To(HaveKeyWithValue(d.Column(client.ColumnDeleted), true))
			},
			onlineDialects,
		)
	})

	Describe("Update", func() {
		DescribeTable("merges the item into the row and returns the whole row with a new version",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, err := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs", "complete": false})
				Expect(err).NotTo(HaveOccurred())
				item := client.Item{"id": "e1", "complete": true, d.Column(client.ColumnVersion): row[d.Column(client.ColumnVersion)]}
				before := maps.Clone(item)
				updated, err := env.t.Update(ctx, item)
				Expect(err).NotTo(HaveOccurred())
				Expect(item).To(Equal(before))
				Expect(updated).To(SatisfyAll(
					HaveKeyWithValue("text", "Buy eggs"),
					HaveKeyWithValue("complete", true),
					HaveKeyWithValue(d.Column(client.ColumnVersion), "AAAAAAAAAAI="),
					HaveKeyWithValue(d.Column(client.ColumnCreatedAt), row[d.Column(client.ColumnCreatedAt)]),
					HaveKey(d.Column(client.ColumnUpdatedAt)),
				))
				// The row as the server returned it, system columns and all, can be written back.
				updated["text"] = "Buy eggs (6)"
				again, err := env.t.Update(ctx, updated)
				Expect(err).NotTo(HaveOccurred())
				Expect(again).To(HaveKeyWithValue("text", "Buy eggs (6)"))
				Expect(env.srv.History()[2].VersionBefore).To(Equal("AAAAAAAAAAI="))
			},
			onlineDialects,
		)

		DescribeTable("with a stale version gets a 412 that carries the server's row; with the server's version it applies",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, err := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				Expect(err).NotTo(HaveOccurred())
				_, err = env.srv.Write("todoitem", "e1", map[string]any{"text": "Buy organic eggs"})
				Expect(err).NotTo(HaveOccurred())

				row["text"] = "Buy eggs (6)"
				_, err = env.t.Update(ctx, row)
				Expect(err).To(MatchError(client.ErrPreconditionFailed))
				he := onlineHTTPError(err)
				Expect(he.Status).To(Equal(http.StatusPreconditionFailed))
				Expect(he.Method).To(Equal(http.MethodPatch))
				Expect(he.IsConflict()).To(BeTrue())
				Expect(he.ServerItem).To(SatisfyAll(
					HaveKeyWithValue("text", "Buy organic eggs"),
					HaveKeyWithValue(d.Column(client.ColumnVersion), "AAAAAAAAAAI="),
				))
				Expect(he.Error()).To(ContainSubstring("412"))

				row[d.Column(client.ColumnVersion)] = he.ServerItem[d.Column(client.ColumnVersion)]
				won, err := env.t.Update(ctx, row)
				Expect(err).NotTo(HaveOccurred())
				Expect(won).To(HaveKeyWithValue("text", "Buy eggs (6)"))
			},
			onlineDialects,
		)

		DescribeTable("without a version sends no If-Match, and the last writer wins",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				_, err := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				Expect(err).NotTo(HaveOccurred())
				_, err = env.srv.Write("todoitem", "e1", map[string]any{"text": "Buy organic eggs"})
				Expect(err).NotTo(HaveOccurred())
				row, err := env.t.Update(ctx, client.Item{"id": "e1", "text": "mine"})
				Expect(err).NotTo(HaveOccurred())
				Expect(row).To(HaveKeyWithValue("text", "mine"))
			},
			onlineDialects,
		)

		DescribeTable("answers a missing or deleted row with a 404",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				_, err := env.t.Update(ctx, client.Item{"id": "nope", "text": "x"})
				Expect(err).To(MatchError(client.ErrNotFound))
				Expect(onlineHTTPError(err).ServerItem).To(BeNil())
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1"})
				_, err = env.t.Delete(ctx, row)
				Expect(err).NotTo(HaveOccurred())
				_, err = env.t.Update(ctx, client.Item{"id": "e1", "text": "x"})
				Expect(err).To(MatchError(client.ErrNotFound))
			},
			onlineDialects,
		)
	})

	DescribeTable("Update, Delete and Undelete need a non-empty string id, and send nothing without one",
		func(d client.Dialect) {
			env := onlineStart(d, fakeserver.Config{})
			for _, item := range []client.Item{nil, {}, {"id": ""}, {"id": 5.0}, {"id": nil}, {"text": "x"}} {
				_, err := env.t.Update(ctx, item)
				Expect(err).To(MatchError(client.ErrInvalidOperation), "update %v", item)
				_, err = env.t.Delete(ctx, item)
				Expect(err).To(MatchError(client.ErrInvalidOperation), "delete %v", item)
				_, err = env.t.Undelete(ctx, item)
				Expect(err).To(MatchError(client.ErrInvalidOperation), "undelete %v", item)
			}
			_, err := env.t.Lookup(ctx, "")
			Expect(err).To(MatchError(client.ErrInvalidOperation))
			_, err = env.t.Update(ctx, client.Item{"id": "e1", d.Column(client.ColumnVersion): "a\nb"})
			Expect(err).To(MatchError(client.ErrInvalidOperation))
			Expect(env.srv.History()).To(BeEmpty())
		},
		onlineDialects,
	)

	Describe("Delete", func() {
		DescribeTable("returns the tombstone; the row is gone for Lookup",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, err := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				Expect(err).NotTo(HaveOccurred())
				before := maps.Clone(row)
				tomb, err := env.t.Delete(ctx, row)
				Expect(err).NotTo(HaveOccurred())
				Expect(row).To(Equal(before))
				Expect(tomb).To(SatisfyAll(
					HaveKeyWithValue("id", "e1"),
					HaveKeyWithValue(d.Column(client.ColumnDeleted), true),
					HaveKeyWithValue(d.Column(client.ColumnVersion), "AAAAAAAAAAI="),
				))
				_, err = env.t.Lookup(ctx, "e1")
				Expect(err).To(MatchError(client.ErrNotFound))
				_, err = env.t.Delete(ctx, client.Item{"id": "e1"})
				Expect(err).To(MatchError(client.ErrNotFound))
			},
			onlineDialects,
		)

		DescribeTable("with a stale version gets a 412 with the server's row, and deletes nothing",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				_, err := env.srv.Write("todoitem", "e1", map[string]any{"text": "Buy organic eggs"})
				Expect(err).NotTo(HaveOccurred())
				_, err = env.t.Delete(ctx, row)
				Expect(err).To(MatchError(client.ErrPreconditionFailed))
				he := onlineHTTPError(err)
				Expect(he.Method).To(Equal(http.MethodDelete))
				Expect(he.ServerItem).To(HaveKeyWithValue("text", "Buy organic eggs"))
				Expect(env.t.Lookup(ctx, "e1")).To(HaveKeyWithValue("text", "Buy organic eggs"))
			},
			onlineDialects,
		)

		DescribeTable("returns nil for a 204",
			func(d client.Dialect, cfg fakeserver.Config) {
				env := onlineStart(d, cfg)
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1"})
				tomb, err := env.t.Delete(ctx, row)
				Expect(err).NotTo(HaveOccurred())
				Expect(tomb).To(BeNil())
				_, err = env.t.Lookup(ctx, "e1")
				Expect(err).To(MatchError(client.ErrNotFound))
			},
			Entry("v2 hard delete", client.V2, fakeserver.Config{HardDelete: true}),
			Entry("v1 hard delete", client.V1, fakeserver.Config{HardDelete: true}),
			Entry("v2 .NET-style 204", client.V2, fakeserver.Config{DeleteNoContent: true}),
			Entry("v1 .NET-style 204", client.V1, fakeserver.Config{DeleteNoContent: true}),
		)
	})

	Describe("Undelete", func() {
		DescribeTable("brings a deleted row back with a new version",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				tomb, err := env.t.Delete(ctx, row)
				Expect(err).NotTo(HaveOccurred())
				live, err := env.t.Undelete(ctx, tomb)
				Expect(err).NotTo(HaveOccurred())
				Expect(live).To(SatisfyAll(
					HaveKeyWithValue("text", "Buy eggs"),
					HaveKeyWithValue(d.Column(client.ColumnDeleted), false),
					HaveKeyWithValue(d.Column(client.ColumnVersion), "AAAAAAAAAAM="),
				))
				Expect(env.t.Lookup(ctx, "e1")).To(Equal(live))
				events := env.srv.History()
				Expect(events[len(events)-2].Op).To(Equal(fakeserver.OpUndelete))
			},
			onlineDialects,
		)

		DescribeTable("with a stale version gets a 412; a missing row a 404",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1"})
				_, err := env.t.Delete(ctx, client.Item{"id": "e1"})
				Expect(err).NotTo(HaveOccurred())
				_, err = env.t.Undelete(ctx, row)
				Expect(err).To(MatchError(client.ErrPreconditionFailed))
				Expect(onlineHTTPError(err).ServerItem).To(HaveKeyWithValue(d.Column(client.ColumnDeleted), true))
				_, err = env.t.Undelete(ctx, client.Item{"id": "nope"})
				Expect(err).To(MatchError(client.ErrNotFound))
			},
			onlineDialects,
		)
	})

	Describe("Lookup", func() {
		DescribeTable("returns the row, or a 404 with the server's message",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				row, _ := env.t.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
				Expect(env.t.Lookup(ctx, "e1")).To(Equal(row))
				Expect(env.t.Lookup(ctx, "E1")).To(Equal(row)) // ids match case-insensitively
				_, err := env.t.Lookup(ctx, "nope")
				Expect(err).To(MatchError(client.ErrNotFound))
				he := onlineHTTPError(err)
				Expect(he.Status).To(Equal(http.StatusNotFound))
				Expect(he.Message).NotTo(BeEmpty())
				Expect(he.Message).NotTo(Equal("Not Found")) // the server's own words
			},
			onlineDialects,
		)

		DescribeTable("escapes ids in the path",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				id := "a b%c+d&e=f;g é"
				row, err := env.t.Insert(ctx, client.Item{"id": id, "text": "odd"})
				Expect(err).NotTo(HaveOccurred())
				Expect(row["id"]).To(Equal(id))
				Expect(env.t.Lookup(ctx, id)).To(HaveKeyWithValue("text", "odd"))
				row["text"] = "odder"
				Expect(env.t.Update(ctx, row)).To(HaveKeyWithValue("text", "odder"))
				_, err = env.t.Delete(ctx, client.Item{"id": id})
				Expect(err).NotTo(HaveOccurred())
				for _, e := range env.srv.History() {
					Expect(e.ItemID).To(Equal(id))
				}
			},
			onlineDialects,
		)
	})

	DescribeTable("answers 401 without the server's credential, and works with it",
		func(d client.Dialect, cfg fakeserver.Config, opt client.ClientOption, header string) {
			env := onlineStart(d, cfg)
			_, err := env.t.Insert(ctx, client.Item{"id": "e1"})
			Expect(err).To(MatchError(client.ErrAuthentication))
			he := onlineHTTPError(err)
			Expect(he.Status).To(Equal(http.StatusUnauthorized))
			Expect(he.Message).To(ContainSubstring(header))

			wrong := onlineClient(env.url, d, client.WithAuthToken("wrong"), client.WithAppKey("wrong"))
			_, err = wrong.Table("todoitem").Query(ctx, nil)
			Expect(err).To(MatchError(client.ErrAuthentication))

			t := onlineClient(env.url, d, opt).Table("todoitem")
			_, err = t.Insert(ctx, client.Item{"id": "e1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Query(ctx, nil)).To(HaveLen(1))
		},
		Entry("v2 auth token", client.V2, fakeserver.Config{AuthToken: "s3cret"}, client.WithAuthToken("s3cret"), "X-ZUMO-AUTH"),
		Entry("v1 application key", client.V1, fakeserver.Config{AppKey: "k3y"}, client.WithAppKey("k3y"), "X-ZUMO-APPLICATION"),
	)

	DescribeTable("identifies itself to the server by its installation id",
		func(d client.Dialect) {
			env := onlineStart(d, fakeserver.Config{})
			phone := onlineClient(env.url, d, client.WithInstallationID("phone-1")).Table("todoitem")
			_, err := env.t.Insert(ctx, client.Item{"id": "e1"})
			Expect(err).NotTo(HaveOccurred())
			_, err = phone.Update(ctx, client.Item{"id": "e1", "text": "x"})
			Expect(err).NotTo(HaveOccurred())
			_, err = phone.Query(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			events := env.srv.History()
			Expect(events).To(HaveLen(3))
			Expect(events[0].Client).To(Equal(env.c.InstallationID()))
			Expect(events[1].Client).To(Equal("phone-1"))
			Expect(events[2].Client).To(Equal("phone-1"))
			if d == client.V1 {
				for _, e := range events {
					vals, err := url.ParseQuery(e.Query)
					Expect(err).NotTo(HaveOccurred())
					Expect(vals.Get("__systemproperties")).To(Equal("*"))
				}
			}
		},
		onlineDialects,
	)

	Describe("queries", func() {
		// onlineRows fills the table with r00..r{n-1}, with n the row's number, directly.
		onlineRows := func(srv *fakeserver.Server, n int) {
			GinkgoHelper()
			for i := range n {
				_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%02d", i), "n": i})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		ids := func(items []client.Item) []string {
			out := make([]string, len(items))
			for i, it := range items {
				out[i] = it["id"].(string)
			}
			return out
		}
		queries := func(srv *fakeserver.Server) int {
			n := 0
			for _, e := range srv.History() {
				if e.Op == fakeserver.OpQuery {
					n++
				}
			}
			return n
		}
		rowIDs := func(from, to int) []string {
			var out []string
			for i := from; i < to; i++ {
				out = append(out, fmt.Sprintf("r%02d", i))
			}
			return out
		}

		DescribeTable("Query follows the next-page links and returns every row with its system columns",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 10)
				items, err := env.t.Query(ctx, nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(items)).To(Equal(rowIDs(0, 10)))
				for _, it := range items {
					Expect(it).To(HaveKey(d.Column(client.ColumnVersion)))
					Expect(it).To(HaveKey(d.Column(client.ColumnUpdatedAt)))
					Expect(it).To(HaveKeyWithValue(d.Column(client.ColumnDeleted), false))
				}
				Expect(queries(env.srv)).To(Equal(4))
			},
			onlineDialects,
		)

		DescribeTable("QueryPage returns one page and the link to the next; NextPage follows it",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 7)
				p, err := env.t.QueryPage(ctx, nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(p.Items)).To(Equal(rowIDs(0, 3)))
				Expect(p.Count).To(Equal(-1))
				Expect(p.Next).To(HavePrefix(env.url + "/tables/todoitem?"))
				p, err = env.t.NextPage(ctx, p.Next)
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(p.Items)).To(Equal(rowIDs(3, 6)))
				Expect(p.Items[0]).To(HaveKey(d.Column(client.ColumnVersion)))
				p, err = env.t.NextPage(ctx, p.Next)
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(p.Items)).To(Equal(rowIDs(6, 7)))
				Expect(p.Next).To(BeEmpty())
			},
			onlineDialects,
		)

		DescribeTable("a query's $top holds across pages",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 10)
				items, err := env.t.Query(ctx, client.NewQuery().Top(7))
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(items)).To(Equal(rowIDs(0, 7)))
				Expect(queries(env.srv)).To(Equal(3))
				items, err = env.t.Query(ctx, client.NewQuery().Top(0))
				Expect(err).NotTo(HaveOccurred())
				Expect(items).To(BeEmpty())
			},
			onlineDialects,
		)

		DescribeTable("IncludeTotalCount gives the count of every matching row",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 10)
				q := client.NewQuery().Where("n ge 2").IncludeTotalCount()
				p, err := env.t.QueryPage(ctx, q)
				Expect(err).NotTo(HaveOccurred())
				Expect(p.Count).To(Equal(8))
				Expect(ids(p.Items)).To(Equal(rowIDs(2, 5)))
				p, err = env.t.NextPage(ctx, p.Next)
				Expect(err).NotTo(HaveOccurred())
				Expect(p.Count).To(Equal(8))
				items, err := env.t.Query(ctx, q)
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(items)).To(Equal(rowIDs(2, 10)))
			},
			onlineDialects,
		)

		DescribeTable("filters, orders, skips and selects on the server",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 10)
				items, err := env.t.Query(ctx, client.NewQuery().Where("n ge 4").OrderByDesc("n").Skip(1))
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(items)).To(Equal([]string{"r08", "r07", "r06", "r05", "r04"}))
				Expect(items[0]).To(HaveKeyWithValue("n", 8.0))
				items, err = env.t.Query(ctx, client.NewQuery().Where("n eq 3").Select("id"))
				Expect(err).NotTo(HaveOccurred())
				Expect(items).To(HaveLen(1))
				Expect(items[0]).NotTo(HaveKey("n"))
			},
			onlineDialects,
		)

		DescribeTable("leaves deleted rows out unless asked",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{PageSize: 3})
				onlineRows(env.srv, 5)
				_, err := env.t.Delete(ctx, client.Item{"id": "r01"})
				Expect(err).NotTo(HaveOccurred())
				Expect(env.t.Query(ctx, nil)).To(HaveLen(4))
				items, err := env.t.Query(ctx, client.NewQuery().IncludeDeleted())
				Expect(err).NotTo(HaveOccurred())
				Expect(ids(items)).To(Equal(rowIDs(0, 5)))
				Expect(items[1]).To(HaveKeyWithValue(d.Column(client.ColumnDeleted), true))
			},
			onlineDialects,
		)

		DescribeTable("an empty table is an empty page",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{})
				onlineRows(env.srv, 1)
				p, err := env.t.QueryPage(ctx, client.NewQuery().Where("n gt 5"))
				Expect(err).NotTo(HaveOccurred())
				Expect(p.Items).To(BeEmpty())
				Expect(p.Next).To(BeEmpty())
			},
			onlineDialects,
		)

		DescribeTable("a malformed query is refused by the server with a 400",
			func(d client.Dialect) {
				env := onlineStart(d, fakeserver.Config{MaxTop: 10})
				_, err := env.t.Query(ctx, client.NewQuery().Top(11))
				he := onlineHTTPError(err)
				Expect(he.Status).To(Equal(http.StatusBadRequest))
				Expect(he.Message).To(ContainSubstring("$top"))
			},
			onlineDialects,
		)
	})

	DescribeTable("is safe for concurrent use, and conditional writes race as they should",
		func(d client.Dialect) {
			env := onlineStart(d, fakeserver.Config{})
			row, err := env.t.Insert(ctx, client.Item{"id": "e1", "n": 0})
			Expect(err).NotTo(HaveOccurred())
			const writers = 16
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					item := maps.Clone(row)
					item["n"] = i
					_, errs[i] = env.t.Update(ctx, item)
					for j := range 5 {
						_, err := env.t.Insert(ctx, client.Item{"id": fmt.Sprintf("w%d-%d", i, j)})
						Expect(err).NotTo(HaveOccurred())
					}
					_, err := env.t.Query(ctx, nil)
					Expect(err).NotTo(HaveOccurred())
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
					continue
				}
				Expect(err).To(MatchError(client.ErrPreconditionFailed))
				Expect(onlineHTTPError(err).ServerItem).NotTo(BeNil())
			}
			Expect(won).To(Equal(1))
			Expect(env.srv.Rows("todoitem")).To(HaveLen(1 + writers*5))
		},
		onlineDialects,
	)
})

var _ = Describe("Table's requests", func() {
	var ctx context.Context
	BeforeEach(func() { ctx = context.Background() })

	DescribeTable("carry the dialect's headers on every call",
		func(d client.Dialect, call onlineCall) {
			rec := onlineRecord(onlineItemOrPage)
			plain := onlineClient(rec.URL, d)
			_, err := call(ctx, plain.Table("todoitem"), rec.URL)
			Expect(err).NotTo(HaveOccurred())
			r := rec.Last()
			Expect(r.Header.Get("Accept")).To(Equal("application/json"))
			Expect(r.Header.Get("User-Agent")).To(Equal(client.DefaultUserAgent))
			Expect(r.Header.Get("X-ZUMO-INSTALLATION-ID")).To(Equal(plain.InstallationID()))
			Expect(r.Header).NotTo(HaveKey("X-Zumo-Auth"))
			Expect(r.Header).NotTo(HaveKey("X-Zumo-Application"))
			if len(r.Body) > 0 {
				Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			} else {
				Expect(r.Header).NotTo(HaveKey("Content-Type"))
			}
			vals, err := url.ParseQuery(r.RawQuery)
			Expect(err).NotTo(HaveOccurred())
			if d == client.V2 {
				Expect(r.Header.Get("ZUMO-API-VERSION")).To(Equal("2.0.0"))
				Expect(vals).NotTo(HaveKey("__systemproperties"))
			} else {
				Expect(r.Header).NotTo(HaveKey("Zumo-Api-Version"))
				Expect(vals["__systemproperties"]).To(Equal([]string{"*"}))
			}

			full := onlineClient(rec.URL, d, client.WithAuthToken("tok"), client.WithAppKey("key"),
				client.WithInstallationID("phone-1"), client.WithUserAgent("todo/1.0"))
			_, err = call(ctx, full.Table("todoitem"), rec.URL)
			Expect(err).NotTo(HaveOccurred())
			r = rec.Last()
			Expect(r.Header.Get("X-ZUMO-AUTH")).To(Equal("tok"))
			Expect(r.Header.Get("X-ZUMO-APPLICATION")).To(Equal("key"))
			Expect(r.Header.Get("X-ZUMO-INSTALLATION-ID")).To(Equal("phone-1"))
			Expect(full.InstallationID()).To(Equal("phone-1"))
			Expect(r.Header.Get("User-Agent")).To(Equal("todo/1.0"))
		},
		Entry("v2 Insert", client.V2, onlineInsert), Entry("v1 Insert", client.V1, onlineInsert),
		Entry("v2 Update", client.V2, onlineUpdate), Entry("v1 Update", client.V1, onlineUpdate),
		Entry("v2 Delete", client.V2, onlineDelete), Entry("v1 Delete", client.V1, onlineDelete),
		Entry("v2 Undelete", client.V2, onlineUndelete), Entry("v1 Undelete", client.V1, onlineUndelete),
		Entry("v2 Lookup", client.V2, onlineLookup), Entry("v1 Lookup", client.V1, onlineLookup),
		Entry("v2 QueryPage", client.V2, onlineQueryPage), Entry("v1 QueryPage", client.V1, onlineQueryPage),
		Entry("v2 Query", client.V2, onlineQuery), Entry("v1 Query", client.V1, onlineQuery),
		Entry("v2 NextPage", client.V2, onlineNextPage), Entry("v1 NextPage", client.V1, onlineNextPage),
	)

	DescribeTable("send the method, path and body the protocol says",
		func(d client.Dialect) {
			rec := onlineRecord(onlineItemOrPage)
			t := onlineClient(rec.URL+"/api/", d).Table("todoitem")
			ver, created, updated, deleted := d.Column(client.ColumnVersion), d.Column(client.ColumnCreatedAt), d.Column(client.ColumnUpdatedAt), d.Column(client.ColumnDeleted)
			// Both spellings of the server's columns go, whatever the dialect.
			item := client.Item{"id": "e 1/2", "text": "t", ver: `v"1\`, created: "c", updated: "u", deleted: false,
				"createdAt": "c", "__updatedAt": "u", "Deleted": true}
			before := maps.Clone(item)

			_, err := t.Insert(ctx, item)
			Expect(err).NotTo(HaveOccurred())
			r := rec.Last()
			Expect(r.Method).To(Equal(http.MethodPost))
			Expect(r.Path).To(Equal("/api/tables/todoitem"))
			Expect(r.Header).NotTo(HaveKey("If-Match"))
			Expect(r.Body).To(MatchJSON(fmt.Sprintf(`{"id":"e 1/2","text":"t",%q:"v\"1\\"}`, ver)))

			_, err = t.Insert(ctx, client.Item{"id": nil, "text": "t"})
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.Last().Body).To(MatchJSON(`{"text":"t"}`))

			_, err = t.Update(ctx, item)
			Expect(err).NotTo(HaveOccurred())
			r = rec.Last()
			Expect(r.Method).To(Equal(http.MethodPatch))
			Expect(r.Path).To(Equal("/api/tables/todoitem/e%201%2F2"))
			Expect(r.Header.Values("If-Match")).To(Equal([]string{`"v\"1\\"`}))
			Expect(r.Body).To(MatchJSON(fmt.Sprintf(`{"id":"e 1/2","text":"t",%q:"v\"1\\"}`, ver)))

			_, err = t.Delete(ctx, item)
			Expect(err).NotTo(HaveOccurred())
			r = rec.Last()
			Expect(r.Method).To(Equal(http.MethodDelete))
			Expect(r.Path).To(Equal("/api/tables/todoitem/e%201%2F2"))
			Expect(r.Header.Get("If-Match")).To(Equal(`"v\"1\\"`))
			Expect(r.Body).To(BeEmpty())

			_, err = t.Undelete(ctx, client.Item{"id": "e1", ver: "AAAAAAAAAAE="})
			Expect(err).NotTo(HaveOccurred())
			r = rec.Last()
			Expect(r.Method).To(Equal(http.MethodPost))
			Expect(r.Path).To(Equal("/api/tables/todoitem/e1"))
			Expect(r.Header.Get("If-Match")).To(Equal(`"AAAAAAAAAAE="`))
			Expect(r.Body).To(BeEmpty())

			_, err = t.Update(ctx, client.Item{"id": "e1", "n": 1})
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.Last().Header).NotTo(HaveKey("If-Match"))

			_, err = t.Lookup(ctx, "a?b#c%d")
			Expect(err).NotTo(HaveOccurred())
			r = rec.Last()
			Expect(r.Method).To(Equal(http.MethodGet))
			Expect(r.Path).To(Equal("/api/tables/todoitem/a%3Fb%23c%25d"))

			Expect(item).To(Equal(before))
		},
		onlineDialects,
	)

	DescribeTable("render a Query as OData",
		func(d client.Dialect) {
			rec := onlineRecord(onlineItemOrPage)
			t := onlineClient(rec.URL, d).Table("todoitem")
			q := client.NewQuery().Where("complete eq false").Where("startswith(text, 'buy')").OrderByDesc("text").OrderBy("n").
				Top(5).Skip(2).Select("text", "complete").IncludeTotalCount().IncludeDeleted().Param("custom", "a b&c")
			_, err := t.QueryPage(ctx, q)
			Expect(err).NotTo(HaveOccurred())
			r := rec.Last()
			Expect(r.Method).To(Equal(http.MethodGet))
			Expect(r.Path).To(Equal("/tables/todoitem"))
			vals, err := url.ParseQuery(r.RawQuery)
			Expect(err).NotTo(HaveOccurred())
			want := url.Values{
				"$filter":          {"complete eq false and startswith(text,'buy')"},
				"$orderby":         {"text desc,n"},
				"$top":             {"5"},
				"$skip":            {"2"},
				"$select":          {"text,complete"},
				"$inlinecount":     {"allpages"},
				"__includeDeleted": {"true"},
				"custom":           {"a b&c"},
			}
			if d == client.V1 {
				want["__systemproperties"] = []string{"*"}
			}
			Expect(vals).To(Equal(want))

			_, err = t.QueryPage(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			if d == client.V2 {
				Expect(rec.Last().RawQuery).To(BeEmpty())
			} else {
				Expect(rec.Last().RawQuery).To(Equal("__systemproperties=%2A"))
			}

			// A v1 query that names its system properties keeps its own choice.
			_, err = t.QueryPage(ctx, client.NewQuery().Param("__systemproperties", "__version"))
			Expect(err).NotTo(HaveOccurred())
			vals, _ = url.ParseQuery(rec.Last().RawQuery)
			Expect(vals["__systemproperties"]).To(Equal([]string{"__version"}))
		},
		onlineDialects,
	)

	DescribeTable("a query that could not be built is its own error, and sends nothing",
		func(call func(context.Context, *client.Table, *client.Query) error) {
			rec := onlineRecord(onlineItemOrPage)
			t := onlineClient(rec.URL, client.V2).Table("todoitem")
			for _, q := range []*client.Query{
				client.NewQuery().Where("complete eq"),
				client.NewQuery().Top(-1),
				client.NewQuery().Param("$expand", "x"),
			} {
				Expect(call(ctx, t, q)).To(MatchError(client.ErrInvalidQuery))
			}
			Expect(rec.Requests()).To(BeEmpty())
		},
		Entry("QueryPage", func(ctx context.Context, t *client.Table, q *client.Query) error {
			_, err := t.QueryPage(ctx, q)
			return err
		}),
		Entry("Query", func(ctx context.Context, t *client.Table, q *client.Query) error {
			_, err := t.Query(ctx, q)
			return err
		}),
	)
})

var _ = Describe("Link headers", func() {
	DescribeTable("give Page.Next, resolved against the request's URL",
		func(want string, links ...string) {
			rec := onlineRecord(func(w http.ResponseWriter, r *http.Request) {})
			base := rec.URL
			kv := []string{}
			for _, l := range links {
				kv = append(kv, "Link", strings.ReplaceAll(l, "{base}", base))
			}
			rec.Respond(onlineAnswer(http.StatusOK, `[{"id":"a"}]`, kv...))
			p, err := onlineClient(rec.URL, client.V2).Table("todoitem").QueryPage(context.Background(), client.NewQuery().Top(5))
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Next).To(Equal(strings.ReplaceAll(want, "{base}", base)))
		},
		Entry("absolute", "{base}/tables/todoitem?$skip=3", "<{base}/tables/todoitem?$skip=3>; rel=next"),
		Entry("quoted rel", "{base}/p2", `<{base}/p2>; rel="next"`),
		Entry("no space, upper case", "{base}/p2", `<{base}/p2>;REL=NEXT`),
		Entry("relative path", "{base}/tables/todoitem?$skip=3", "</tables/todoitem?$skip=3>; rel=next"),
		Entry("relative query", "{base}/tables/todoitem?$skip=3", "<?$skip=3>; rel=next"),
		Entry("several links in one header", "{base}/p2", `<{base}/first>; rel="first", <{base}/p2>; rel="next last"`),
		Entry("commas and semicolons in quoted parameters", "{base}/p2", `<{base}/a,b>; title="a, b; <c>"; rel=prev, <{base}/p2>; title="x\"y"; rel=next`),
		Entry("the first rel counts", "", `<{base}/p2>; rel=prev; rel=next`),
		Entry("several headers", "{base}/p2", "<{base}/prev>; rel=prev", "<{base}/p2>; rel=next"),
		Entry("no next", "", "<{base}/prev>; rel=prev"),
		Entry("no Link at all", ""),
		Entry("Node's bare form: never used as a URL; the same query with $skip past the page",
			"{base}/tables/todoitem?%24skip=1&%24top=4", "http://127.0.0.1/?%24top=5&%24skip=0; rel=next"),
		Entry("a bare link to anywhere says only that more may follow",
			"{base}/tables/todoitem?%24skip=1&%24top=4", "https://elsewhere.example:8443/other; rel=next"),
		Entry("a bare link without rel=next", "", "http://127.0.0.1/?%24skip=1; rel=prev"),
		Entry("a bare value without parameters", "", "http://x/p2 rel=next"),
		Entry("a bare link after a standard one", "{base}/tables/todoitem?%24skip=1&%24top=4", "<{base}/p0>; rel=prev, http://127.0.0.1/?x=1; rel=next"),
	)

	DescribeTable("that cannot be parsed make a ResponseError",
		func(link string) {
			rec := onlineRecord(onlineAnswer(http.StatusOK, `[{"id":"a"}]`, "Link", link))
			_, err := onlineClient(rec.URL, client.V2).Table("todoitem").QueryPage(context.Background(), nil)
			Expect(onlineResponseError(err).Reason).To(ContainSubstring("Link"))
		},
		Entry("unterminated target", "<http://x/p2; rel=next"),
		Entry("unterminated quote", `<http://x/p2>; rel="next`),
		Entry("junk after the target", `<http://x/p2> rel=next`),
		Entry("a bad URL", `<http://[::1>; rel=next`),
	)

	It("NextPage refuses a link to another server, sending nothing", func() {
		rec := onlineRecord(onlineAnswer(http.StatusOK, `[{"id":"a"}]`, "Link", "<http://elsewhere.example/tables/todoitem?$skip=1>; rel=next"))
		t := onlineClient(rec.URL, client.V2, client.WithAuthToken("tok")).Table("todoitem")
		p, err := t.QueryPage(context.Background(), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Next).To(Equal("http://elsewhere.example/tables/todoitem?$skip=1"))
		for _, next := range []string{p.Next, "/tables/todoitem?$skip=1", "", "::", strings.Replace(rec.URL, "http:", "https:", 1) + "/tables/todoitem",
			strings.Replace(rec.URL, "127.0.0.1:", "127.0.0.1:1", 1) + "/tables/todoitem"} {
			_, err = t.NextPage(context.Background(), next)
			Expect(err).To(MatchError(client.ErrBadResponse), next)
		}
		_, err = t.Query(context.Background(), nil)
		Expect(err).To(MatchError(client.ErrBadResponse))
		Expect(rec.Requests()).To(HaveLen(2))
	})

	It("Query stops on an empty page, and on a link back to the same page", func() {
		rec := onlineRecord(func(w http.ResponseWriter, r *http.Request) {})
		rec.Respond(onlineAnswer(http.StatusOK, `[]`, "Link", "<"+rec.URL+"/tables/todoitem?$skip=0>; rel=next"))
		t := onlineClient(rec.URL, client.V2).Table("todoitem")
		items, err := t.Query(context.Background(), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(items).To(BeEmpty())
		Expect(rec.Requests()).To(HaveLen(1))

		rec.Respond(onlineAnswer(http.StatusOK, `[{"id":"a"}]`, "Link", "<"+rec.URL+"/tables/todoitem?$skip=0>; rel=next"))
		_, err = t.Query(context.Background(), nil)
		Expect(err).To(MatchError(client.ErrBadResponse))
		Expect(rec.Requests()).To(HaveLen(3)) // the first page, and the one its link names once
	})

	It("NextPage in v1 keeps asking for the system columns", func() {
		rec := onlineRecord(onlineItemOrPage)
		t := onlineClient(rec.URL, client.V1).Table("todoitem")
		for next, want := range map[string]string{
			rec.URL + "/tables/todoitem?$skip=3":                             "$skip=3&__systemproperties=*",
			rec.URL + "/tables/todoitem":                                     "__systemproperties=*",
			rec.URL + "/tables/todoitem?":                                    "__systemproperties=*",
			rec.URL + "/tables/todoitem?__systemproperties=__version&$top=1": "__systemproperties=__version&$top=1",
			rec.URL + "/tables/todoitem?$skip=3#frag":                        "$skip=3&__systemproperties=*",
		} {
			_, err := t.NextPage(context.Background(), next)
			Expect(err).NotTo(HaveOccurred())
			Expect(rec.Last().RawQuery).To(Equal(want), next)
		}
	})
})

var _ = Describe("Answers a client cannot use", func() {
	DescribeTable("are a ResponseError, never a panic",
		func(call onlineCall, status int, body string) {
			rec := onlineRecord(onlineAnswer(status, body))
			for _, d := range []client.Dialect{client.V2, client.V1} {
				var res any
				var err error
				Expect(func() { res, err = call(context.Background(), onlineClient(rec.URL, d).Table("todoitem"), rec.URL) }).NotTo(Panic())
				re := onlineResponseError(err)
				Expect(re.Status).To(Equal(status))
				Expect(string(re.Body)).To(Equal(body))
				Expect(re.Method).To(Equal(rec.Last().Method))
				Expect(re.URL).To(HavePrefix(rec.URL + "/tables/todoitem"))
				Expect(re.Error()).To(ContainSubstring("malformed response"))
				Expect(res).To(Or(BeNil(), BeAssignableToTypeOf(client.Item(nil)), BeAssignableToTypeOf((*client.Page)(nil)), BeAssignableToTypeOf([]client.Item(nil))))
			}
		},
		Entry("insert: not JSON", onlineInsert, 201, `<html>oops</html>`),
		Entry("insert: truncated JSON", onlineInsert, 201, `{"id":"e1"`),
		Entry("insert: trailing data", onlineInsert, 201, `{"id":"e1"} {}`),
		Entry("insert: empty body", onlineInsert, 201, ``),
		Entry("insert: null", onlineInsert, 201, `null`),
		Entry("insert: no id", onlineInsert, 201, `{"text":"Buy eggs"}`),
		Entry("insert: empty id", onlineInsert, 201, `{"id":""}`),
		Entry("insert: numeric id", onlineInsert, 201, `{"id":5}`),
		Entry("insert: an array", onlineInsert, 201, `[{"id":"e1"}]`),
		Entry("insert: a 204", onlineInsert, 204, ``),
		Entry("insert: another item", onlineInsert, 201, `{"id":"e2"}`),
		Entry("update: a string", onlineUpdate, 200, `"e1"`),
		Entry("update: another item", onlineUpdate, 200, `{"id":"e2","text":"Buy eggs"}`),
		Entry("delete: another item", onlineDelete, 200, `{"id":"e2","deleted":true}`),
		Entry("undelete: another item", onlineUndelete, 200, `{"id":"e12"}`),
		Entry("lookup: another item", onlineLookup, 200, `{"id":"e"}`),
		Entry("update: null id", onlineUpdate, 200, `{"id":null}`),
		Entry("delete: an array", onlineDelete, 200, `[]`),
		Entry("delete: a 200 with no body", onlineDelete, 200, ``),
		Entry("undelete: a number", onlineUndelete, 200, `42`),
		Entry("lookup: an object id", onlineLookup, 200, `{"id":{"a":1}}`),
		Entry("query: an object that is not a page", onlineQueryPage, 200, `{"id":"e1"}`),
		Entry("query: numbers", onlineQueryPage, 200, `[1,2]`),
		Entry("query: a null row", onlineQueryPage, 200, `[{"id":"e1"},null]`),
		Entry("query: a row without id", onlineQuery, 200, `[{"id":"e1"},{"text":"x"}]`),
		Entry("query: a string count", onlineQueryPage, 200, `{"results":[],"count":"3"}`),
		Entry("query: a negative count", onlineQueryPage, 200, `{"results":[],"count":-1}`),
		Entry("query: a fractional count", onlineQueryPage, 200, `{"results":[],"count":1.5}`),
		Entry("query: results that are not an array", onlineQueryPage, 200, `{"results":{"id":"e1"},"count":1}`),
		Entry("query: a string", onlineQueryPage, 200, `"rows"`),
		Entry("query: truncated", onlineQuery, 200, `[{"id":"e1"},`),
		Entry("query: empty body", onlineQueryPage, 200, ``),
		Entry("next page: an item", onlineNextPage, 200, `{"id":"e1"}`),
	)

	DescribeTable("a version that is not a string is a ResponseError in its dialect",
		func(d client.Dialect, body string, bad bool) {
			rec := onlineRecord(onlineAnswer(http.StatusOK, body))
			t := onlineClient(rec.URL, d).Table("todoitem")
			_, err := t.Lookup(context.Background(), "e1")
			rec.Respond(onlineAnswer(http.StatusOK, "["+body+"]"))
			_, qerr := t.Query(context.Background(), nil)
			if bad {
				Expect(onlineResponseError(err).Reason).To(ContainSubstring("version"))
				Expect(onlineResponseError(qerr).Reason).To(ContainSubstring("row 0"))
			} else {
				Expect(err).NotTo(HaveOccurred())
				Expect(qerr).NotTo(HaveOccurred())
			}
		},
		Entry("v2 number", client.V2, `{"id":"e1","version":1}`, true),
		Entry("v2 null", client.V2, `{"id":"e1","version":null}`, true),
		Entry("v2 object", client.V2, `{"id":"e1","version":{}}`, true),
		Entry("v1 number", client.V1, `{"id":"e1","__version":1}`, true),
		Entry("v1 with a data column named version", client.V1, `{"id":"e1","version":1,"__version":"AAAAAAAAAAE="}`, false),
		Entry("v2 string", client.V2, `{"id":"e1","version":"AAAAAAAAAAE="}`, false),
		Entry("v2 none", client.V2, `{"id":"e1"}`, false),
	)

	DescribeTable("a status outside 2xx is an HTTPError, with the server's item only when it is one",
		func(status int, body string, message string, serverItem bool, is error) {
			rec := onlineRecord(onlineAnswer(status, body))
			t := onlineClient(rec.URL, client.V2).Table("todoitem")
			var err error
			Expect(func() { _, err = t.Update(context.Background(), client.Item{"id": "e1", "version": "v"}) }).NotTo(Panic())
			he := onlineHTTPError(err)
			Expect(he.Status).To(Equal(status))
			Expect(he.Message).To(Equal(message))
			Expect(string(he.Body)).To(Equal(body))
			Expect(he.Method).To(Equal(http.MethodPatch))
			Expect(he.URL).To(Equal(rec.URL + "/tables/todoitem/e1"))
			if serverItem {
				var want client.Item
				Expect(json.Unmarshal([]byte(body), &want)).To(Succeed())
				Expect(he.ServerItem).To(Equal(want))
			} else {
				Expect(he.ServerItem).To(BeNil())
			}
			if is != nil {
				Expect(err).To(MatchError(is))
			}
			for _, other := range []error{client.ErrPreconditionFailed, client.ErrConflict, client.ErrNotFound, client.ErrAuthentication, client.ErrNetwork, client.ErrBadResponse} {
				if other != is {
					Expect(errors.Is(err, other)).To(BeFalse(), "%d is not %v", status, other)
				}
			}
		},
		Entry("412 with garbage", 412, `garbage`, "Precondition Failed", false, client.ErrPreconditionFailed),
		Entry("412 with an error body", 412, `{"error":"boom"}`, "boom", false, client.ErrPreconditionFailed),
		Entry("412 with the row", 412, `{"id":"e1","version":"AAAAAAAAAAI=","text":"srv"}`, "Precondition Failed", true, client.ErrPreconditionFailed),
		Entry("412 with another item's row", 412, `{"id":"e2","version":"AAAAAAAAAAI="}`, "Precondition Failed", false, client.ErrPreconditionFailed),
		Entry("412 with the row, id in other case", 412, `{"ID":"E1","version":"AAAAAAAAAAI="}`, "Precondition Failed", true, client.ErrPreconditionFailed),
		Entry("412 with an array", 412, `[{"id":"e1"}]`, "Precondition Failed", false, client.ErrPreconditionFailed),
		Entry("412 with a row whose version is a number", 412, `{"id":"e1","version":7}`, "Precondition Failed", false, client.ErrPreconditionFailed),
		Entry("412 with no body", 412, ``, "Precondition Failed", false, client.ErrPreconditionFailed),
		Entry("409 with the row", 409, `{"id":"e1","version":"AAAAAAAAAAI="}`, "Conflict", true, client.ErrConflict),
		Entry("409 with an id-less object", 409, `{"text":"srv"}`, "Conflict", false, client.ErrConflict),
		Entry("404 in v1's shape", 404, `{"code":404,"error":"no such item"}`, "no such item", false, client.ErrNotFound),
		Entry("401", 401, ``, "Unauthorized", false, client.ErrAuthentication),
		Entry("400 with a non-string error", 400, `{"error":5}`, "Bad Request", false, nil),
		Entry("500", 500, `{"error":"kaput"}`, "kaput", false, nil),
		Entry("a redirect, not followed", 302, ``, "Found", false, nil),
		Entry("an unknown status", 599, `{}`, "HTTP status 599", false, nil),
	)
})

var _ = Describe("Failures without an answer", func() {
	DescribeTable("a closed server is a NetworkError",
		func(call onlineCall) {
			ts := httptest.NewServer(http.NotFoundHandler())
			ts.Close()
			_, err := call(context.Background(), onlineClient(ts.URL, client.V2).Table("todoitem"), ts.URL)
			ne := onlineNetworkError(err)
			Expect(ne.URL).To(HavePrefix(ts.URL + "/tables/todoitem"))
			Expect(ne.Method).NotTo(BeEmpty())
			Expect(ne.Unwrap()).To(HaveLen(2))
			Expect(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)).To(BeFalse())
		},
		onlineEveryCall,
	)

	DescribeTable("a server that does not answer in time is a NetworkError that timed out",
		func(call onlineCall) {
			for _, hang := range []http.HandlerFunc{onlineHang(), onlineHangInBody()} {
				rec := onlineRecord(hang)
				t := onlineClient(rec.URL, client.V2, client.WithTimeout(150*time.Millisecond)).Table("todoitem")
				start := time.Now()
				_, err := call(context.Background(), t, rec.URL)
				Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
				ne := onlineNetworkError(err)
				Expect(ne.Timeout()).To(BeTrue(), "%v", err)
				Expect(err.Error()).To(ContainSubstring("150ms"))
				Expect(errors.Is(err, context.DeadlineExceeded)).To(BeFalse(), "the client's timeout is not the caller's deadline")
				Expect(errors.Is(err, context.Canceled)).To(BeFalse())
			}
		},
		onlineEveryCall,
	)

	It("an http.Client's own timeout is a NetworkError that timed out, not the caller's deadline", func() {
		rec := onlineRecord(onlineHang())
		h := &http.Client{Timeout: 150 * time.Millisecond}
		t := onlineClient(rec.URL, client.V2, client.WithHTTPClient(h), client.WithTimeout(0)).Table("todoitem")
		_, err := t.Lookup(context.Background(), "e1")
		ne := onlineNetworkError(err)
		Expect(ne.Timeout()).To(BeTrue(), "%v", err)
		Expect(errors.Is(err, context.DeadlineExceeded)).To(BeFalse())
	})

	It("WithTimeout(0) does not bound a request", func() {
		rec := onlineRecord(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(50 * time.Millisecond)
			onlineItemOrPage(w, r)
		})
		t := onlineClient(rec.URL, client.V2, client.WithTimeout(0)).Table("todoitem")
		Expect(t.Lookup(context.Background(), "e1")).To(HaveKeyWithValue("id", "e1"))
	})

	DescribeTable("the caller's context ending is its own error, not a NetworkError",
		func(call onlineCall) {
			for _, hang := range []http.HandlerFunc{onlineHang(), onlineHangInBody()} {
				rec := onlineRecord(hang)
				t := onlineClient(rec.URL, client.V2, client.WithTimeout(10*time.Second)).Table("todoitem")

				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				_, err := call(ctx, t, rec.URL)
				onlineExpectContextError(err, context.Canceled)

				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
				_, err = call(ctx, t, rec.URL)
				cancel()
				onlineExpectContextError(err, context.DeadlineExceeded)

				why := errors.New("user left the screen")
				cctx, ccancel := context.WithCancelCause(context.Background())
				time.AfterFunc(100*time.Millisecond, func() { ccancel(why) })
				_, err = call(cctx, t, rec.URL)
				onlineExpectContextError(err, context.Canceled)
				Expect(err).To(MatchError(why))
				Expect(err.Error()).To(ContainSubstring("user left the screen"))

				// A cause that is a network error does not make the cancellation one.
				cctx, ccancel = context.WithCancelCause(context.Background())
				time.AfterFunc(100*time.Millisecond, func() { ccancel(&client.NetworkError{Err: errors.New("x")}) })
				_, err = call(cctx, t, rec.URL)
				onlineExpectContextError(err, context.Canceled)
			}
		},
		onlineEveryCall,
	)

	It("tells the caller's cancellation from the client's timeout however they race with the answer", func() {
		rec := onlineRecord(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("$top"))
			time.Sleep(time.Duration(n) * 100 * time.Microsecond)
			onlineItemOrPage(w, r)
		})
		cancelling := onlineClient(rec.URL, client.V2).Table("todoitem")
		timing := onlineClient(rec.URL, client.V2, client.WithTimeout(time.Millisecond)).Table("todoitem")
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(2)
			q := client.NewQuery().Top(i % 20)
			go func() {
				defer wg.Done()
				defer GinkgoRecover()
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%20)*100*time.Microsecond)
				defer cancel()
				if _, err := cancelling.QueryPage(ctx, q); err != nil {
					onlineExpectContextError(err, context.DeadlineExceeded)
				}
			}()
			go func() {
				defer wg.Done()
				defer GinkgoRecover()
				if _, err := timing.QueryPage(context.Background(), q); err != nil {
					Expect(onlineNetworkError(err).Timeout()).To(BeTrue(), "%v", err)
					Expect(errors.Is(err, context.DeadlineExceeded)).To(BeFalse())
				}
			}()
		}
		wg.Wait()
	})

	DescribeTable("a context that has already ended sends nothing",
		func(call onlineCall) {
			rec := onlineRecord(onlineItemOrPage)
			t := onlineClient(rec.URL, client.V2).Table("todoitem")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := call(ctx, t, rec.URL)
			onlineExpectContextError(err, context.Canceled)
			Expect(rec.Requests()).To(BeEmpty())
		},
		onlineEveryCall,
	)

	It("a cancelled Query stops between pages", func() {
		var rec *onlineRecorder
		ctx, cancel := context.WithCancel(context.Background())
		rec = onlineRecord(func(w http.ResponseWriter, r *http.Request) {
			cancel() // the first page arrives whole; the second is never asked for
			onlineAnswer(http.StatusOK, `[{"id":"a"}]`, "Link", "<"+rec.URL+"/tables/todoitem?$skip=1>; rel=next")(w, r)
		})
		_, err := onlineClient(rec.URL, client.V2).Table("todoitem").Query(ctx, nil)
		onlineExpectContextError(err, context.Canceled)
		Expect(len(rec.Requests())).To(BeNumerically("<=", 1))
	})
})

// BenchmarkOnlineQuery reads 100k rows in pages of 50 through Table.Query, from a server
// that answers each page from memory, so the time is the client's.
func BenchmarkOnlineQuery(b *testing.B) {
	const rows, pageSize = 100_000, 50
	var page strings.Builder
	page.WriteByte('[')
	for i := range pageSize {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"id":"%08d-aaaa-4aaa-8aaa-aaaaaaaaaaaa","text":"Buy eggs number %d","complete":false,"n":%d,`+
			`"version":"AAAAAAAAB9E=","createdAt":"2014-06-09T23:40:04.297Z","updatedAt":"2014-06-09T23:40:04.297Z","deleted":false}`, i, i, i)
	}
	page.WriteByte(']')
	body := []byte(page.String())
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
		if skip+pageSize < rows {
			w.Header().Set("Link", fmt.Sprintf("<http://%s/tables/todoitem?$skip=%d>; rel=next", r.Host, skip+pageSize))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer ts.Close()
	c, err := client.New(ts.URL)
	if err != nil {
		b.Fatal(err)
	}
	t := c.Table("todoitem")
	b.ReportAllocs()
	for b.Loop() {
		items, err := t.Query(context.Background(), nil)
		if err != nil || len(items) != rows {
			b.Fatalf("%d rows, %v", len(items), err)
		}
	}
}
