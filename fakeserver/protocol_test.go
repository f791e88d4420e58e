package fakeserver_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

var _ = Describe("System columns", func() {
	It("v2 returns every system column, versions from one server-wide counter, ms timestamps", func() {
		_, p := startServer(fakeserver.Config{})
		a := p.insert("todoitem", map[string]any{"id": "a", "text": "one"})
		b := p.insert("other", map[string]any{"id": "b"})
		Expect(a).To(HaveKeyWithValue("version", version(1)))
		Expect(b).To(HaveKeyWithValue("version", version(2)), "the counter is global, not per table")
		raw, err := base64.StdEncoding.DecodeString(a["version"].(string))
		Expect(err).NotTo(HaveOccurred())
		Expect(raw).To(HaveLen(8))
		Expect(a).To(HaveKeyWithValue("createdAt", at(0)))
		Expect(a).To(HaveKeyWithValue("updatedAt", at(0)))
		Expect(a).To(HaveKeyWithValue("deleted", false))
		Expect(b).To(HaveKeyWithValue("updatedAt", at(1)), "the simulated clock steps 1 ms per write")

		u := p.do("PATCH", "/tables/todoitem/a", map[string]any{"text": "two"}).Object()
		Expect(u).To(HaveKeyWithValue("version", version(3)))
		Expect(u).To(HaveKeyWithValue("createdAt", a["createdAt"]), "createdAt never changes")
		Expect(u).To(HaveKeyWithValue("updatedAt", at(2)))
	})

	It("generates a lower-case UUID v4 when the id is absent or null", func() {
		_, p := startServer(fakeserver.Config{Seed: 1})
		Expect(p.insert("todoitem", map[string]any{"text": "x"})["id"]).To(MatchRegexp(uuidV4.String()))
		Expect(p.insert("todoitem", map[string]any{"id": nil, "text": "y"})["id"]).To(MatchRegexp(uuidV4.String()))
	})

	It("generates the same ids from the same seed", func() {
		first := func(seed int64) any {
			_, p := startServer(fakeserver.Config{Seed: seed})
			if remote != nil && !remote.conflictlab() {
				Skip("needs a server whose generated ids follow a seed: a conflictlab server")
			}
			return p.insert("t", map[string]any{})["id"]
		}
		a, b, c := first(42), first(42), first(43)
		Expect(a).To(Equal(b))
		Expect(a).NotTo(Equal(c))
	})

	It("v1 returns only id and data unless __systemproperties asks", func() {
		_, p := startServer(fakeserver.Config{Dialect: fakeserver.V1})
		row := p.insert("todoitem", map[string]any{"id": "a", "text": "one"})
		Expect(row).To(Equal(map[string]any{"id": "a", "text": "one"}))

		r := p.do("GET", "/tables/todoitem/a?__systemproperties=__version,__updatedAt", nil)
		Expect(r.Object()).To(Equal(map[string]any{"id": "a", "text": "one",
			"__version": version(1), "__updatedAt": at(0)}))
		Expect(r.ETagVersion()).To(Equal(version(1)))

		r = p.do("GET", "/tables/todoitem/a?__systemproperties=*", nil)
		Expect(r.Object()).To(HaveKeyWithValue("__createdAt", at(0)))
		Expect(r.Object()).To(HaveKeyWithValue("__deleted", false))
		Expect(r.Object()).To(HaveLen(6))

		r = p.do("GET", "/tables/todoitem/a?__systemproperties=version,CREATEDAT", nil)
		Expect(r.Object()).To(HaveKey("__version"))
		Expect(r.Object()).To(HaveKey("__createdAt"))
	})

	It("v1 treats unprefixed names such as version as ordinary columns", func() {
		_, p := startServer(fakeserver.Config{Dialect: fakeserver.V1})
		row := p.insert("todoitem", map[string]any{"id": "a", "version": "mine", "updatedAt": "later"})
		Expect(row).To(HaveKeyWithValue("version", "mine"))
		Expect(row).To(HaveKeyWithValue("updatedAt", "later"))
	})
})

var _ = Describe("Requests", func() {
	for _, d := range dialects {
		Context(fmt.Sprintf("in dialect %s", d), func() {
			var (
				srv *server
				p   *peer
			)
			BeforeEach(func() {
				srv, p = startServer(fakeserver.Config{Dialect: d})
			})
			q := func(s string) string { // the v1 query that shows every system column
				if d == fakeserver.V1 {
					return s + "?__systemproperties=*"
				}
				return s
			}

			Describe("POST /tables/{t}", func() {
				It("answers 201 with the row, its ETag and its Location", func() {
					r := p.do("POST", q("/tables/todoitem"), map[string]any{"id": "e1", "text": "Buy eggs", "complete": false, "n": 1.5})
					Expect(r.Status).To(Equal(http.StatusCreated))
					Expect(r.Object()).To(HaveKeyWithValue("text", "Buy eggs"))
					Expect(r.Object()).To(HaveKeyWithValue("n", 1.5))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
					Expect(r.Header.Get("ETag")).To(Equal(`"` + version(1) + `"`))
					Expect(r.Header.Get("Location")).To(Equal("/tables/todoitem/e1"))
				})

				It("ignores a version in the body", func() {
					r := p.do("POST", q("/tables/todoitem"), map[string]any{"id": "e1", p.sys("version"): "AAAAAAAAAAk="})
					Expect(r.Status).To(Equal(http.StatusCreated))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
				})

				It("answers 409 with the server's row when the id exists", func() {
					p.insert("todoitem", map[string]any{"id": "e1", "text": "first"})
					r := p.do("POST", "/tables/todoitem", map[string]any{"id": "e1", "text": "second"})
					Expect(r.Status).To(Equal(http.StatusConflict))
					Expect(r.Object()).To(HaveKeyWithValue("text", "first"))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)), "a conflict body always carries the version")
					Expect(r.ETagVersion()).To(Equal(version(1)))
				})

				It("answers 409 with the tombstone when the id was soft-deleted", func() {
					p.insert("todoitem", map[string]any{"id": "e1", "text": "first"})
					Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
					r := p.do("POST", q("/tables/todoitem"), map[string]any{"id": "e1"})
					Expect(r.Status).To(Equal(http.StatusConflict))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("deleted"), true))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(2)))
				})

				It("matches ids case-insensitively and keeps the first spelling", func() {
					p.insert("todoitem", map[string]any{"id": "Item-A"})
					Expect(p.do("POST", "/tables/todoitem", map[string]any{"id": "item-a"}).Status).To(Equal(http.StatusConflict))
					r := p.do("GET", "/tables/todoitem/ITEM-A", nil)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue("id", "Item-A"))
				})

				It("accepts unicode ids and ids of 255 characters", func() {
					long := strings.Repeat("é", 255)
					for _, id := range []string{"日本語-ü", long, "with space", "a.b", "quote'd"} {
						row := p.insert("todoitem", map[string]any{"id": id})
						Expect(row["id"]).To(Equal(id))
						r := p.do("GET", "/tables/todoitem/"+url.PathEscape(id), nil)
						Expect(r.Status).To(Equal(http.StatusOK), "lookup of %q: %s", id, r.Raw)
						Expect(r.Object()["id"]).To(Equal(id))
					}
				})

				It("keeps a column under its first spelling", func() {
					p.insert("todoitem", map[string]any{"id": "a", "Text": "one"})
					row := p.do("PATCH", "/tables/todoitem/a", map[string]any{"text": "two"}).Object()
					Expect(row).To(HaveKeyWithValue("Text", "two"))
					Expect(row).NotTo(HaveKey("text"))
				})
			})

			Describe("GET /tables/{t}/{id}", func() {
				BeforeEach(func() {
					p.insert("todoitem", map[string]any{"id": "live", "text": "here"})
					p.insert("todoitem", map[string]any{"id": "gone", "text": "there"})
					Expect(p.do("DELETE", "/tables/todoitem/gone", nil).Status).To(Equal(http.StatusOK))
				})

				It("answers 200 with the row and its ETag", func() {
					r := p.do("GET", "/tables/todoitem/live", nil)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue("text", "here"))
					Expect(r.ETagVersion()).To(Equal(version(1)))
				})

				It("answers 404 for a missing row or table", func() {
					p.expectError(p.do("GET", "/tables/todoitem/nope", nil), 404, "not found")
					p.expectError(p.do("GET", "/tables/never/nope", nil), 404, "not found")
				})

				It("hides a soft-deleted row unless __includeDeleted=true", func() {
					p.expectError(p.do("GET", "/tables/todoitem/gone", nil), 404, "not found")
					p.expectError(p.do("GET", "/tables/todoitem/gone?__includeDeleted=yes", nil), 404, "not found")
					r := p.do("GET", q("/tables/todoitem/gone")+sep(q(""))+"__includeDeleted=TRUE", nil)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("deleted"), true))
				})
			})

			Describe("PATCH /tables/{t}/{id}", func() {
				BeforeEach(func() {
					p.insert("todoitem", map[string]any{"id": "e1", "text": "Buy eggs", "complete": false})
				})

				It("merges the body into the row and answers the whole row", func() {
					r := p.do("PATCH", q("/tables/todoitem/e1"), map[string]any{"text": "Buy eggs (6)", "qty": 6})
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue("text", "Buy eggs (6)"))
					Expect(r.Object()).To(HaveKeyWithValue("complete", false))
					Expect(r.Object()).To(HaveKeyWithValue("qty", 6.0))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(2)))
					Expect(r.ETagVersion()).To(Equal(version(2)))
				})

				It("sets a column to null", func() {
					r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": nil})
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue("text", BeNil()))
				})

				// $v in an If-Match is the row's version.
				DescribeTable("applies a matching If-Match",
					func(header string) {
						header = strings.ReplaceAll(header, "$v", version(1))
						r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}, "If-Match", header)
						Expect(r.Status).To(Equal(http.StatusOK), "If-Match %s: %s", header, r.Raw)
					},
					Entry("quoted", `"$v"`),
					Entry("unquoted", `$v`),
					Entry("star", `*`),
					Entry("weak", `W/"$v"`),
					Entry("in a list", `"AAAAAAAAAAk=", "$v"`),
					Entry("with spaces", `  "$v"  `),
				)

				// $lower in an If-Match is the row's version in lower case.
				DescribeTable("answers 412 with the server's row to a stale If-Match",
					func(header string) {
						if strings.Contains(header, "$lower") {
							header = strings.ReplaceAll(header, "$lower", strings.ToLower(version(1)))
						}
						r := p.do("PATCH", q("/tables/todoitem/e1"), map[string]any{"text": "stale"}, "If-Match", header)
						Expect(r.Status).To(Equal(http.StatusPreconditionFailed))
						Expect(r.Object()).To(HaveKeyWithValue("text", "Buy eggs"))
						Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
						Expect(r.ETagVersion()).To(Equal(version(1)))
						row, _ := srv.Row("todoitem", "e1")
						Expect(row).To(HaveKeyWithValue("text", "Buy eggs"))
					},
					Entry("quoted", `"AAAAAAAAAAk="`),
					Entry("unquoted", `AAAAAAAAAAk=`),
					Entry("escaped inner quotes", `"AAAA\"AAAAAk="`),
					Entry("another case", `"$lower"`),
				)

				It("answers 412 on v1 with __version even when no system properties were asked for", func() {
					r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "stale"}, "If-Match", `"AAAAAAAAAAk="`)
					Expect(r.Status).To(Equal(http.StatusPreconditionFailed))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
				})

				It("answers 409 when a version in the body does not match and there is no If-Match", func() {
					r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "stale", p.sys("version"): version(9)})
					Expect(r.Status).To(Equal(http.StatusConflict))
					Expect(r.Object()).To(HaveKeyWithValue("text", "Buy eggs"))
					Expect(r.ETagVersion()).To(Equal(version(1)))
				})

				It("applies a matching version in the body", func() {
					r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "ok", p.sys("version"): version(1)})
					Expect(r.Status).To(Equal(http.StatusOK))
				})

				It("lets If-Match decide over a version in the body", func() {
					r := p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "ok", p.sys("version"): version(9)}, "If-Match", `"`+version(1)+`"`)
					Expect(r.Status).To(Equal(http.StatusOK))
				})

				It("checks existence before the version: 404 for a missing or deleted row", func() {
					p.expectError(p.do("PATCH", "/tables/todoitem/nope", map[string]any{"text": "x"}, "If-Match", `"AAAAAAAAAAk="`), 404, "not found")
					Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
					p.expectError(p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}, "If-Match", `"AAAAAAAAAAk="`), 404, "not found")
					p.expectError(p.do("PATCH", "/tables/todoitem/e1", map[string]any{"text": "x"}), 404, "not found")
				})

				It("answers 400 when the body's id differs from the URL's", func() {
					p.expectError(p.do("PATCH", "/tables/todoitem/e1", map[string]any{"id": "e2", "text": "x"}), 400, "differs")
					Expect(p.do("PATCH", "/tables/todoitem/e1", map[string]any{"id": "E1", "text": "x"}).Status).To(Equal(http.StatusOK))
				})
			})

			Describe("DELETE /tables/{t}/{id}", func() {
				BeforeEach(func() {
					p.insert("todoitem", map[string]any{"id": "e1", "text": "Buy eggs"})
				})

				It("soft-deletes: 200 with the tombstone and a new version", func() {
					r := p.do("DELETE", q("/tables/todoitem/e1"), nil, "If-Match", `"`+version(1)+`"`)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("deleted"), true))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(2)))
					Expect(r.Object()).To(HaveKeyWithValue("text", "Buy eggs"))
					Expect(r.ETagVersion()).To(Equal(version(2)))
					row, ok := srv.Row("todoitem", "e1")
					Expect(ok).To(BeTrue())
					Expect(row).To(HaveKeyWithValue("deleted", true))
				})

				It("answers 404 to a missing or already deleted row", func() {
					p.expectError(p.do("DELETE", "/tables/todoitem/nope", nil), 404, "not found")
					Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
					p.expectError(p.do("DELETE", "/tables/todoitem/e1", nil), 404, "not found")
				})

				It("answers 412 with the row to a stale If-Match", func() {
					r := p.do("DELETE", "/tables/todoitem/e1", nil, "If-Match", `"AAAAAAAAAAk="`)
					Expect(r.Status).To(Equal(http.StatusPreconditionFailed))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
					row, _ := srv.Row("todoitem", "e1")
					Expect(row).To(HaveKeyWithValue("deleted", false))
				})
			})

			Describe("POST /tables/{t}/{id} (undelete)", func() {
				BeforeEach(func() {
					p.insert("todoitem", map[string]any{"id": "e1", "text": "Buy eggs"})
				})

				It("brings a deleted row back with a new version", func() {
					Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
					r := p.do("POST", q("/tables/todoitem/e1"), nil, "If-Match", `"`+version(2)+`"`)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("deleted"), false))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(3)))
					Expect(p.do("GET", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
				})

				It("returns a live row unchanged", func() {
					r := p.do("POST", q("/tables/todoitem/e1"), nil)
					Expect(r.Status).To(Equal(http.StatusOK))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(1)))
				})

				It("answers 404 to a missing row and 412 to a stale If-Match", func() {
					p.expectError(p.do("POST", "/tables/todoitem/nope", nil), 404, "not found")
					Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusOK))
					r := p.do("POST", "/tables/todoitem/e1", nil, "If-Match", `"`+version(1)+`"`)
					Expect(r.Status).To(Equal(http.StatusPreconditionFailed))
					Expect(r.Object()).To(HaveKeyWithValue(p.sys("version"), version(2)))
				})
			})
		})
	}

	Describe("hard delete", func() {
		It("removes the row: 204, no tombstone, and the id can be inserted again", func() {
			srv, p := startServer(fakeserver.Config{HardDelete: true})
			p.insert("todoitem", map[string]any{"id": "e1"})
			r := p.do("DELETE", "/tables/todoitem/e1", nil)
			Expect(r.Status).To(Equal(http.StatusNoContent))
			Expect(r.Raw).To(BeEmpty())
			_, ok := srv.Row("todoitem", "e1")
			Expect(ok).To(BeFalse())
			p.expectError(p.do("GET", "/tables/todoitem/e1?__includeDeleted=true", nil), 404, "not found")
			p.expectError(p.do("POST", "/tables/todoitem/e1", nil), 404, "not found")
			Expect(p.insert("todoitem", map[string]any{"id": "e1"})).To(HaveKeyWithValue("version", version(3)),
				"the hard delete consumed version 2")
		})

		It("applies to the named tables only with HardDeleteTables", func() {
			_, p := startServer(fakeserver.Config{HardDeleteTables: []string{"hard"}})
			p.insert("hard", map[string]any{"id": "e1"})
			p.insert("soft", map[string]any{"id": "e1"})
			Expect(p.do("DELETE", "/tables/hard/e1", nil).Status).To(Equal(http.StatusNoContent))
			Expect(p.do("DELETE", "/tables/soft/e1", nil).Status).To(Equal(http.StatusOK))
		})

		It("answers 204 but keeps the tombstone with DeleteNoContent", func() {
			srv, p := startServer(fakeserver.Config{DeleteNoContent: true})
			p.insert("todoitem", map[string]any{"id": "e1"})
			Expect(p.do("DELETE", "/tables/todoitem/e1", nil).Status).To(Equal(http.StatusNoContent))
			row, ok := srv.Row("todoitem", "e1")
			Expect(ok).To(BeTrue())
			Expect(row).To(HaveKeyWithValue("deleted", true))
		})
	})

	It("refuses a declared oversize body with 413 before acting, even on a DELETE, which reads no body", func() {
		srv, p := startServer(fakeserver.Config{MaxBodyBytes: 64})
		p.insert("todoitem", map[string]any{"id": "e1"})
		p.expectError(p.do("DELETE", "/tables/todoitem/e1", strings.Repeat(" ", 65)), 413, "limit of 64 bytes")
		row, _ := srv.Row("todoitem", "e1")
		Expect(row).To(HaveKeyWithValue("deleted", false))
	})

	Describe("API version, auth and tables", func() {
		It("accepts ZUMO-API-VERSION as a header or a query parameter in v2", func() {
			_, p := startServer(fakeserver.Config{})
			bare := p.with("ZUMO-API-VERSION", "")
			p.expectError(bare.do("GET", "/tables/todoitem", nil), 400, "ZUMO-API-VERSION")
			Expect(bare.do("GET", "/tables/todoitem?ZUMO-API-VERSION=2.0.0", nil).Status).To(Equal(http.StatusOK))
			Expect(bare.do("GET", "/tables/todoitem?zumo-api-version=2.0.1", nil).Status).To(Equal(http.StatusOK))
			Expect(bare.do("GET", "/tables/todoitem", nil, "zumo-api-version", "2.0.12").Status).To(Equal(http.StatusOK))
			p.expectError(bare.do("GET", "/tables/todoitem", nil, "ZUMO-API-VERSION", "3.0.0"), 400, "not supported")
		})

		It("needs no API version in v1", func() {
			_, p := startServer(fakeserver.Config{Dialect: fakeserver.V1})
			Expect(p.do("GET", "/tables/todoitem", nil).Status).To(Equal(http.StatusOK))
		})

		It("checks the app key and the auth token when configured", func() {
			_, p := startServer(fakeserver.Config{AppKey: "key", AuthToken: "token"})
			p.expectError(p.do("GET", "/tables/todoitem", nil), 401, "application key")
			p.expectError(p.do("GET", "/tables/todoitem", nil, "X-ZUMO-APPLICATION", "key"), 401, "authentication token")
			p.expectError(p.do("GET", "/tables/todoitem", nil, "X-ZUMO-APPLICATION", "key", "X-ZUMO-AUTH", "nope"), 401, "authentication token")
			Expect(p.do("GET", "/tables/todoitem", nil, "X-ZUMO-APPLICATION", "key", "X-ZUMO-AUTH", "token").Status).To(Equal(http.StatusOK))
		})

		It("creates tables on first write, and reads an unwritten table as empty", func() {
			srv, p := startServer(fakeserver.Config{})
			Expect(p.do("GET", "/tables/todoitem", nil).Array()).To(BeEmpty())
			Expect(srv.Tables()).To(BeEmpty())
			p.insert("todoitem", map[string]any{"id": "a"})
			Expect(srv.Tables()).To(Equal([]string{"todoitem"}))
			Expect(p.do("GET", "/tables/TodoItem", nil).IDs()).To(Equal([]string{"a"}), "table names are case-insensitive")
		})

		It("answers 404 for a table outside a fixed list", func() {
			srv, p := startServer(fakeserver.Config{Tables: []string{"todoitem"}})
			Expect(srv.Tables()).To(Equal([]string{"todoitem"}))
			p.expectError(p.do("GET", "/tables/other", nil), 404, "does not exist")
			p.expectError(p.do("POST", "/tables/other", map[string]any{"id": "a"}), 404, "does not exist")
			Expect(p.do("GET", "/tables/todoitem", nil).Status).To(Equal(http.StatusOK))
		})

		It("answers unknown routes with 404 and wrong methods with 405, as JSON", func() {
			_, p := startServer(fakeserver.Config{Dialect: fakeserver.V1})
			p.expectError(p.do("GET", "/api/custom", nil), 404, "no such route")
			r := p.do("PUT", "/tables/todoitem/e1", map[string]any{})
			p.expectError(r, 405, "not allowed")
			Expect(r.Header.Get("Allow")).To(Equal("GET, PATCH, DELETE, POST"))
			r = p.do("DELETE", "/tables/todoitem", nil)
			p.expectError(r, 405, "not allowed")
			Expect(r.Header.Get("Allow")).To(Equal("GET, POST"))
		})
	})
})

// sep is the separator that appends a parameter to a path that may already have a query.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

var _ = Describe("Queries", func() {
	var (
		srv *server
		p   *peer
	)
	seed := func(n int) {
		GinkgoHelper()
		for i := 1; i <= n; i++ {
			_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("i%02d", i), "n": i, "text": fmt.Sprintf("item %d", i), "complete": i%2 == 0})
			Expect(err).NotTo(HaveOccurred())
		}
	}
	get := func(query string) *response {
		GinkgoHelper()
		r := p.do("GET", "/tables/todoitem?"+query, nil)
		Expect(r.Status).To(Equal(http.StatusOK), "%s: %s", query, r.Raw)
		return r
	}

	BeforeEach(func() {
		srv, p = startServerOrDefer(fakeserver.Config{PageSize: 5})
	})

	It("filters with the OData grammar", func() {
		seed(4)
		Expect(get("$filter=" + url.QueryEscape("complete eq false")).IDs()).To(Equal([]string{"i01", "i03"}))
		Expect(get("$filter=" + url.QueryEscape("n gt 1 and not (n eq 3)")).IDs()).To(Equal([]string{"i02", "i04"}))
		Expect(get("$filter=" + url.QueryEscape("substringof('item 4',text) or startswith(id,'i01')")).IDs()).To(Equal([]string{"i01", "i04"}))
		Expect(get("$filter=" + url.QueryEscape("missing eq null")).IDs()).To(HaveLen(4))
		Expect(get("$filter=" + url.QueryEscape("missing gt 0")).IDs()).To(BeEmpty())
		Expect(get("$filter="+url.QueryEscape("missing ne 1")).IDs()).To(BeEmpty(), "only a comparison with the literal null tests for null")
		Expect(get("$filter=" + url.QueryEscape("updatedAt ge datetimeoffset'"+at(2)+"'")).IDs()).To(Equal([]string{"i03", "i04"}))
	})

	It("answers a malformed filter with 400 and the position", func() {
		p.expectError(p.do("GET", "/tables/todoitem?$filter="+url.QueryEscape("(n eq 1"), nil), 400, "position 7")
	})

	It("orders, breaking ties by id so pages are stable", func() {
		for _, r := range []map[string]any{{"id": "c", "k": 1}, {"id": "a", "k": 2}, {"id": "b", "k": 1}, {"id": "d"}} {
			_, err := srv.Insert("todoitem", r)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(get("").IDs()).To(Equal([]string{"a", "b", "c", "d"}))
		Expect(get("$orderby=k").IDs()).To(Equal([]string{"d", "b", "c", "a"}), "null first, then ties by id")
		Expect(get("$orderby="+url.QueryEscape("k desc")).IDs()).To(Equal([]string{"a", "b", "c", "d"}), "ties stay in id order when descending")
		Expect(get("$orderby=" + url.QueryEscape("k desc,id desc")).IDs()).To(Equal([]string{"a", "c", "b", "d"}))
	})

	It("applies $top and $skip, and $inlinecount counts before them", func() {
		seed(4)
		Expect(get("$top=2").IDs()).To(Equal([]string{"i01", "i02"}))
		Expect(get("$skip=3").IDs()).To(Equal([]string{"i04"}))
		Expect(get("$skip=9").IDs()).To(BeEmpty())
		Expect(get("$top=0").IDs()).To(BeEmpty())
		r := get("$top=1&$skip=1&$inlinecount=allpages&$filter=" + url.QueryEscape("n le 3"))
		Expect(r.Object()).To(HaveKeyWithValue("count", 3.0))
		Expect(r.Object()["results"]).To(HaveLen(1))
		Expect(get("$inlinecount=none").Array()).To(HaveLen(4))
	})

	It("selects columns, keeping id and, in v2, the system columns", func() {
		seed(1)
		row := get("$select=text").Array()[0].(map[string]any)
		Expect(row).To(HaveKeyWithValue("text", "item 1"))
		Expect(row).NotTo(HaveKey("n"))
		Expect(row).To(HaveKey("id"))
		Expect(row).To(HaveKey("version"))
		Expect(row).To(HaveKey("updatedAt"))
	})

	It("selects columns in v1 without system columns unless asked", func() {
		srv, p = startServer(fakeserver.Config{Dialect: fakeserver.V1})
		seed(1)
		Expect(get("$select=text").Array()[0]).To(Equal(map[string]any{"id": "i01", "text": "item 1"}))
		Expect(get("$select=text,__version").Array()[0]).To(HaveKey("__version"))
	})

	It("excludes deleted rows unless __includeDeleted is true", func() {
		seed(3)
		_, err := srv.Delete("todoitem", "i02")
		Expect(err).NotTo(HaveOccurred())
		Expect(get("").IDs()).To(Equal([]string{"i01", "i03"}))
		Expect(get("__includeDeleted=false").IDs()).To(Equal([]string{"i01", "i03"}))
		Expect(get("__includeDeleted=1").IDs()).To(Equal([]string{"i01", "i03"}))
		Expect(get("__includeDeleted=True").IDs()).To(Equal([]string{"i01", "i02", "i03"}))
		Expect(get("$inlinecount=allpages").Object()).To(HaveKeyWithValue("count", 2.0))
	})

	It("answers the incremental-sync query the SDKs send", func() {
		seed(3)
		_, err := srv.Delete("todoitem", "i01")
		Expect(err).NotTo(HaveOccurred())
		r := get("$filter=" + url.QueryEscape("(updatedAt ge datetimeoffset'"+at(1)+"')") +
			"&$orderby=updatedAt&$skip=0&$top=50&__includeDeleted=true")
		Expect(r.IDs()).To(Equal([]string{"i02", "i03", "i01"}))
		Expect(r.Array()[2]).To(HaveKeyWithValue("deleted", true))
	})

	It("answers the v1 incremental-sync query", func() {
		srv, p = startServer(fakeserver.Config{Dialect: fakeserver.V1})
		seed(2)
		r := get("$filter=" + url.QueryEscape("((complete eq false) and (__updatedAt ge datetimeoffset'"+at(0)+"'))") +
			"&$orderby=__updatedAt&$skip=0&$top=50&__includeDeleted=true&__systemproperties=__version,__updatedAt,__deleted")
		Expect(r.Array()).To(ConsistOf(map[string]any{"id": "i01", "n": 1.0, "text": "item 1", "complete": false,
			"__version": version(1), "__updatedAt": at(0), "__deleted": false}))
	})

	Describe("paging", func() {
		It("cuts pages at pageSize and links the next one", func() {
			seed(12)
			r := get("$filter=" + url.QueryEscape("n ge 2"))
			Expect(r.IDs()).To(Equal([]string{"i02", "i03", "i04", "i05", "i06"}))
			link := r.Header.Get("Link")
			Expect(link).To(MatchRegexp(`^<` + regexp.QuoteMeta(p.base) + `/tables/todoitem\?.*>; rel=next$`))
			next, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), ">; rel=next"))
			Expect(err).NotTo(HaveOccurred())
			Expect(next.Query().Get("$skip")).To(Equal("5"))
			Expect(next.Query().Get("$filter")).To(Equal("n ge 2"))
			Expect(next.Query().Has("$top")).To(BeFalse())
		})

		It("reduces $top in the link by what was returned", func() {
			seed(12)
			r := get("$top=8&$skip=1")
			Expect(r.IDs()).To(HaveLen(5))
			next, _ := url.Parse(strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Link"), "<"), ">; rel=next"))
			Expect(next.Query().Get("$skip")).To(Equal("6"))
			Expect(next.Query().Get("$top")).To(Equal("3"))
		})

		It("sends no link when $top, not the page size, ended the page, or nothing remains", func() {
			seed(12)
			Expect(get("$top=5").Header.Get("Link")).To(BeEmpty())
			Expect(get("$top=3").Header.Get("Link")).To(BeEmpty())
			Expect(get("$skip=7").Header.Get("Link")).To(BeEmpty())
			Expect(get("$skip=10").IDs()).To(Equal([]string{"i11", "i12"}))
		})

		It("reaches every row, once, by following the links", func() {
			seed(12)
			var ids []string
			path := "/tables/todoitem?$orderby=" + url.QueryEscape("n desc")
			for pages := 0; path != ""; pages++ {
				Expect(pages).To(BeNumerically("<", 10))
				r := p.do("GET", path, nil)
				ids = append(ids, r.IDs()...)
				path = ""
				if link := r.Header.Get("Link"); link != "" {
					u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), ">; rel=next"))
					Expect(err).NotTo(HaveOccurred())
					path = u.RequestURI()
				}
			}
			Expect(ids).To(HaveLen(12))
			Expect(ids[0]).To(Equal("i12"))
			Expect(ids[11]).To(Equal("i01"))
		})

		It("refuses $top above maxTop", func() {
			_, p = startServer(fakeserver.Config{MaxTop: 10})
			p.expectError(p.do("GET", "/tables/todoitem?$top=11", nil), 400, "limit of 10")
			Expect(p.do("GET", "/tables/todoitem?$top=10", nil).Status).To(Equal(http.StatusOK))
		})
	})
})

var _ = Describe("Concurrency", func() {
	It("lets exactly one of N concurrent PATCHes with the same If-Match win", func() {
		_, p := startServer(fakeserver.Config{Clock: fakeserver.RealClock()})
		v := p.insert("todoitem", map[string]any{"id": "e1", "n": 0})["version"]
		const n = 32
		answers := make([]*response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				// Recovered before Done: a failure is the spec's, not the next one's.
				defer wg.Done()
				defer GinkgoRecover()
				answers[i] = p.do("PATCH", "/tables/todoitem/e1", map[string]any{"n": i + 1}, "If-Match", fmt.Sprintf("%q", v))
			}()
		}
		wg.Wait()
		var winner *response
		for _, a := range answers {
			if a.Status == http.StatusOK {
				Expect(winner).To(BeNil(), "two PATCHes with one If-Match won")
				winner = a
			} else {
				Expect(a.Status).To(Equal(http.StatusPreconditionFailed))
			}
		}
		Expect(winner).NotTo(BeNil(), "no PATCH won")
		row := p.do("GET", "/tables/todoitem/e1", nil).Object()
		Expect(row["version"]).To(Equal(winner.Object()["version"]), "the winner's write is the last one")
		Expect(row["n"]).To(Equal(winner.Object()["n"]))
	})

	It("lets exactly one of N concurrent inserts of one id succeed", func() {
		_, p := startServer(fakeserver.Config{})
		const n = 16
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				// Recovered before Done: a failure is the spec's, not the next one's.
				defer wg.Done()
				defer GinkgoRecover()
				statuses <- p.do("POST", "/tables/todoitem", map[string]any{"id": "same"}).Status
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
		}
		Expect(counts).To(Equal(map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}))
	})

	It("hands out distinct, increasing versions under concurrent writes, in history order", func() {
		srv, p := startServer(fakeserver.Config{Clock: fakeserver.RealClock()})
		srv.needAdmin("writes as another writer and reads the history") // not in the goroutines
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				// Recovered before Done: a failure is the spec's, not the next one's.
				defer wg.Done()
				defer GinkgoRecover()
				id := fmt.Sprintf("r%d", i)
				p.insert("todoitem", map[string]any{"id": id})
				for j := range 5 {
					Expect(p.do("PATCH", "/tables/todoitem/"+id, map[string]any{"n": j}).Status).To(Equal(http.StatusOK))
				}
				_, err := srv.Write("todoitem", id, map[string]any{"n": 99})
				Expect(err).NotTo(HaveOccurred())
			}()
		}
		wg.Wait()
		var last uint64
		var lastTime time.Time
		for _, e := range srv.History() {
			if !e.Applied {
				continue
			}
			v, err := fakeserver.DecodeVersion(e.VersionAfter)
			Expect(err).NotTo(HaveOccurred())
			Expect(v).To(Equal(last+1), "history order is version order, with no gaps")
			Expect(e.UpdatedAt).NotTo(BeTemporally("<", lastTime), "updatedAt never goes backwards")
			last, lastTime = v, e.UpdatedAt
		}
		Expect(last).To(Equal(uint64(8 * 7)))
	})
})
