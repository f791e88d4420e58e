package fakeserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// nestedConcat is issue 17's filter: concat nested n deep over a long column.
func nestedConcat(n int) string {
	e := "text"
	for range n {
		e = "concat(" + e + ",text)"
	}
	return "length(" + e + ") gt 0"
}

var _ = Describe("Query limits", func() {
	It("answers a filter that builds huge strings with a 400 at once, and stalls nobody", func() {
		srv, p := startServer(fakeserver.Config{})
		for _, id := range []string{"a", "b"} {
			_, err := srv.Insert("todoitem", map[string]any{"id": id, "text": strings.Repeat("x", 256<<10)})
			Expect(err).NotTo(HaveOccurred())
		}
		start := time.Now()
		r := p.do("GET", "/tables/todoitem?$filter="+url.QueryEscape(nestedConcat(20)), nil)
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
		p.expectError(r, http.StatusBadRequest, "too costly")
		Expect(r.Object()["error"]).To(ContainSubstring("longer than the limit of 1048576 bytes"))
		Expect(srv.History()[2]).To(And(HaveField("Status", 400), HaveField("Error", ContainSubstring("too costly"))))
	})

	DescribeTable("refuses a query over a limit with a 400 that names it",
		func(cfg fakeserver.Config, filter, fragment string) {
			inProcessOnly("fills a server of its own with 3000 rows before serving it")
			cfg.Clock = fakeserver.SimClock(t0)
			srv, err := fakeserver.NewServer(cfg)
			Expect(err).NotTo(HaveOccurred())
			for i := range 3000 {
				_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%05d", i), "text": strings.Repeat("t", 1000), "n": i})
				Expect(err).NotTo(HaveOccurred())
			}
			ts := srv.Start()
			DeferCleanup(ts.Close)
			p := newPeer(ts, fakeserver.V2)
			p.expectError(p.do("GET", "/tables/todoitem?$filter="+url.QueryEscape(filter), nil), http.StatusBadRequest, fragment)
			// It reads four rows: three for the page, one to know there is more.
			Expect(p.do("GET", "/tables/todoitem?$top=3&$filter="+url.QueryEscape("n ge 0"), nil).IDs()).To(HaveLen(3),
				"a cheap query still passes")
		},
		Entry("work", fakeserver.Config{QueryWork: 20_000}, "n ge 0 and n lt 0", "units of work"),
		Entry("work spent comparing long strings", fakeserver.Config{QueryWork: 30_000}, "text lt text", "units of work"),
		Entry("the string limit", fakeserver.Config{QueryStringBytes: 1500}, "length(concat(text,text)) eq 0", "longer than the limit of 1500 bytes"),
		Entry("time", fakeserver.Config{QueryTimeout: time.Millisecond},
			strings.Repeat("indexof(text,'u') eq -1 and ", 30)+"n lt 0", "took longer than this server's limit of 1ms"),
		// The node personality evaluates its queries (as SQLite would answer them) within the
		// same limits.
		Entry("work, node personality", fakeserver.Config{Personality: fakeserver.PersonalityNode, QueryWork: 20_000},
			"n ge 0 and n lt 0", "units of work"),
		Entry("work spent comparing long strings, node personality", fakeserver.Config{Personality: fakeserver.PersonalityNode, QueryWork: 30_000},
			"text lt text", "units of work"),
		Entry("the string limit, node personality", fakeserver.Config{Personality: fakeserver.PersonalityNode, QueryStringBytes: 1500},
			"concat(text,text) eq 'x'", "longer than the limit of 1500 bytes"),
		Entry("time, node personality", fakeserver.Config{Personality: fakeserver.PersonalityNode, QueryTimeout: time.Millisecond},
			strings.Repeat("indexof(text,'u') eq -1 and ", 30)+"n lt 0", "took longer than this server's limit of 1ms"),
	)

	It("answers the node personality's costly filter with a 400 at once too", func() {
		srv, p := startServer(fakeserver.Config{Personality: fakeserver.PersonalityNode})
		for _, id := range []string{"a", "b"} {
			_, err := srv.Insert("todoitem", map[string]any{"id": id, "text": strings.Repeat("x", 256<<10)})
			Expect(err).NotTo(HaveOccurred())
		}
		filter := "text" // concat nested 20 deep, without length (a 500 on Node)
		for range 20 {
			filter = "concat(" + filter + ",text)"
		}
		start := time.Now()
		r := p.do("GET", "/tables/todoitem?$filter="+url.QueryEscape(filter+" eq 'x'"), nil)
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
		p.expectError(r, http.StatusBadRequest, "too costly")
		Expect(srv.History()[2]).To(And(HaveField("Status", 400), HaveField("Error", ContainSubstring("longer than the limit of 1048576 bytes"))))
	})

	It("lifts a limit set to -1", func() {
		srv, p := startServer(fakeserver.Config{QueryWork: -1, QueryStringBytes: -1, QueryTimeout: -1})
		_, err := srv.Insert("todoitem", map[string]any{"id": "a", "text": strings.Repeat("x", 4<<10)})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.do("GET", "/tables/todoitem?$filter="+url.QueryEscape(nestedConcat(9)), nil).IDs()).To(Equal([]string{"a"}))
	})
})
