package fakeserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/peers/nodepeer"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The node personality, difference by difference (docs/personalities.md). Each case is a
// list of requests; its check says what Node answers, and holds for the personality. The
// differential table below sends the same requests to the real Node backend (peers/node) and
// compares the answers, so a check that stopped being true of Node would show there.

// nodePageSize is the page size of both servers in these specs: small, so paging shows.
const nodePageSize = 2

// nodeTables are the tables both servers declare; any other is Node's HTML 404.
var nodeTables = []string{"todoitem", "other"}

// nodeStep is one request of a case.
type nodeStep struct {
	method, path, body string
	header             []string // pairs
}

// nodeAnswer is one answer, decoded.
type nodeAnswer struct {
	status int
	header http.Header
	raw    string
	body   any
}

func (a *nodeAnswer) obj() map[string]any {
	GinkgoHelper()
	m, ok := a.body.(map[string]any)
	Expect(ok).To(BeTrue(), "expected a JSON object, got %d %s", a.status, a.raw)
	return m
}

func (a *nodeAnswer) arr() []any {
	GinkgoHelper()
	s, ok := a.body.([]any)
	Expect(ok).To(BeTrue(), "expected a JSON array, got %d %s", a.status, a.raw)
	return s
}

func (a *nodeAnswer) ids() []string {
	GinkgoHelper()
	var out []string
	for _, r := range a.arr() {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// nodeCase is one difference: requests, and what Node answers to them.
type nodeCase struct {
	steps []nodeStep
	check func(a []*nodeAnswer)
}

func get(path string, header ...string) nodeStep { return nodeStep{"GET", path, "", header} }
func post(path, body string, header ...string) nodeStep {
	return nodeStep{"POST", path, body, header}
}
func patch(path, body string, header ...string) nodeStep {
	return nodeStep{"PATCH", path, body, header}
}
func del(path string, header ...string) nodeStep { return nodeStep{"DELETE", path, "", header} }

// sendAll sends the steps to base in order.
func sendAll(base string, steps []nodeStep) []*nodeAnswer {
	GinkgoHelper()
	var out []*nodeAnswer
	for _, st := range steps {
		req, err := http.NewRequest(st.method, base+st.path, strings.NewReader(st.body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(st.header); i += 2 {
			req.Header.Set(st.header[i], st.header[i+1])
		}
		countRemote(req.URL.String())
		res, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		Expect(err).NotTo(HaveOccurred())
		a := &nodeAnswer{status: res.StatusCode, header: res.Header, raw: string(raw)}
		if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			Expect(json.Unmarshal(raw, &a.body)).To(Succeed(), "%s", raw)
		}
		out = append(out, a)
	}
	return out
}

// startNodePersonality starts the server under test as the node personality: in process, or
// a conflictlab server started with --personality node --tables todoitem,other.
func startNodePersonality() string {
	GinkgoHelper()
	_, p := startServer(fakeserver.Config{Personality: fakeserver.PersonalityNode, PageSize: nodePageSize, Tables: nodeTables})
	return p.base
}

const (
	tableURL = "/tables/todoitem"
	weakETag = `^W/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$`
)

var nodeCases = []TableEntry{
	Entry("Link: no <>, no port, no table path; sent whenever a page is exactly $top long, the last one too", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a","text":"1"}`), post(tableURL, `{"id":"b","text":"2"}`),
			post(tableURL, `{"id":"c","text":"3"}`), post(tableURL, `{"id":"d","text":"4"}`),
			get(tableURL),
			get(tableURL + "?$top=2&$skip=2&__includeDeleted=true"),
			get(tableURL + "?$top=3"),
			get(tableURL + "?$filter=(updatedAt%20ge%20datetimeoffset'2000-01-01T00:00:00.000Z')&$orderby=updatedAt&$skip=0&$top=2"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[4].header.Get("Link")).To(Equal("http://127.0.0.1/?%24top=2&%24skip=2; rel=next"))
			Expect(a[5].ids()).To(Equal([]string{"c", "d"}))
			Expect(a[5].header.Get("Link")).To(Equal("http://127.0.0.1/?%24top=2&%24skip=4&__includeDeleted=true; rel=next"))
			Expect(a[6].header.Get("Link")).To(Equal("http://127.0.0.1/?%24top=3&%24skip=3; rel=next"))
			Expect(a[7].header.Get("Link")).To(Equal("http://127.0.0.1/?%24filter=(updatedAt%20ge%20datetimeoffset'2000-01-01T00%3A00%3A00.000Z')&%24orderby=updatedAt&%24skip=2&%24top=2; rel=next"))
		},
	}),
	Entry("page size: only the default $top; an explicit $top is honoured up to maxTop; $top=0 or garbage is the page size", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a"}`), post(tableURL, `{"id":"b"}`), post(tableURL, `{"id":"c"}`),
			get(tableURL + "?$top=5"), get(tableURL + "?$top=5000"), get(tableURL + "?$top=0"), get(tableURL + "?$top=abc"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[3].ids()).To(Equal([]string{"a", "b", "c"}))
			Expect(a[3].header.Get("Link")).To(BeEmpty())
			Expect(a[4].status).To(Equal(400))
			Expect(a[4].obj()).To(HaveKeyWithValue("error", "You cannot request more than 1000 records"))
			Expect(a[5].ids()).To(HaveLen(nodePageSize))
			Expect(a[6].ids()).To(HaveLen(nodePageSize))
		},
	}),
	Entry("insert/insert: 409 echoes the client's item (no server version) with express's weak ETag", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"e1","text":"Buy eggs"}`),
			post(tableURL, `{"id":"e1","text":"Other"}`),
			post(tableURL, `{"id":"e1","text":"Other","version":"Zm9v"}`),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[1].status).To(Equal(409))
			Expect(a[1].obj()).To(Equal(map[string]any{"id": "e1", "text": "Other"}))
			Expect(a[1].header.Get("ETag")).To(MatchRegexp(weakETag))
			Expect(a[1].header.Get("ETag")).To(Equal(`W/"1a-Ph6MODCdpeAYu9YUUc83kYjhU1k"`)) // as Node computed it for these bytes
			Expect(a[2].obj()).To(Equal(map[string]any{"id": "e1", "text": "Other", "version": "Zm9v"}))
		},
	}),
	Entry("If-Match: * and weak tags are 412; only the row's own tag matches", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"e1","text":"Buy eggs"}`),
			patch(tableURL+"/e1", `{"text":"star"}`, "If-Match", "*"),
			patch(tableURL+"/e1", `{"text":"weak"}`, "If-Match", `W/"MQ=="`),
			del(tableURL+"/e1", "If-Match", "*"),
			patch(tableURL+"/e1", `{"text":"strong"}`, "If-Match", `"MQ=="`),
			patch(tableURL+"/e1", `{"text":"stale body"}`),
			patch(tableURL+"/e1", `{"text":"stale body","version":"MQ=="}`),
		},
		check: func(a []*nodeAnswer) {
			for _, i := range []int{1, 2, 3} {
				Expect(a[i].status).To(Equal(412), "step %d: %s", i, a[i].raw)
				Expect(a[i].header.Get("ETag")).To(Equal(`"MQ=="`))
				Expect(a[i].obj()).To(HaveKeyWithValue("text", "Buy eggs"))
			}
			Expect(a[4].status).To(Equal(200))
			Expect(a[4].obj()).To(HaveKeyWithValue("version", "Mg=="))
			Expect(a[6].status).To(Equal(409)) // a version in the body, no If-Match: 409
		},
	}),
	Entry("bad input is a 500: a bad $filter, an unknown function, a nested object, an array, a column name it cannot quote", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"e1","text":"Buy eggs"}`),
			get(tableURL + "?$filter=text%20eq"),
			get(tableURL + "?$filter=contains(text,'eggs')"),
			post(tableURL, `{"id":"n1","sub":{"a":1}}`),
			post(tableURL, `{"id":"n2","arr":[1,2]}`),
			post(tableURL, `[{"id":"n3"}]`),
			post(tableURL, `{"id":"n4","my-field":1}`),
			patch(tableURL+"/e1", `{"sub":{"a":1}}`),
			get(tableURL + "?$filter=length(text)%20eq%204"),
			get(tableURL + "?$filter=year(createdAt)%20eq%202026"),
			get(tableURL + "?$select=*"),
		},
		check: func(a []*nodeAnswer) {
			for i := 1; i < len(a); i++ {
				Expect(a[i].status).To(Equal(500), "step %d: %s", i, a[i].raw)
				Expect(a[i].obj()).To(HaveKeyWithValue("error", Not(BeEmpty())))
			}
			Expect(a[3].obj()).To(HaveKeyWithValue("error", "Unsupported type: Object"))
			Expect(a[4].obj()).To(HaveKeyWithValue("error", "Unsupported type: Array"))
			Expect(a[8].obj()).To(HaveKeyWithValue("error", "SQLITE_ERROR: no such function: LEN"))
		},
	}),
	Entry("__includeDeleted=false returns deleted rows: any value turns it on", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a"}`), post(tableURL, `{"id":"d"}`), del(tableURL + "/d"),
			get(tableURL + "?__includeDeleted=false"), get(tableURL), get(tableURL + "?__includeDeleted="),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[3].ids()).To(Equal([]string{"a", "d"}))
			Expect(a[4].ids()).To(Equal([]string{"a"}))
			Expect(a[5].ids()).To(Equal([]string{"a"}))
		},
	}),
	Entry("versions are per row (MQ==, Mg==…), and a version sent on insert is kept, base64 again", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a"}`), post(tableURL, `{"id":"b"}`), patch(tableURL+"/a", `{"text":"x"}`),
			post(tableURL, `{"id":"v","version":"AAAAAAAAAAc="}`),
			patch(tableURL+"/v", `{"text":"y"}`, "If-Match", `"QUFBQUFBQUFBQWM9"`),
			post(tableURL, `{"id":"w","version":"5abc"}`), patch(tableURL+"/w", `{"text":"y"}`),
			post(tableURL, `{"id":"i","text":"x"}`, "If-Match", `"MQ=="`),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[0].obj()).To(HaveKeyWithValue("version", "MQ=="))
			Expect(a[1].obj()).To(HaveKeyWithValue("version", "MQ=="))
			Expect(a[2].obj()).To(HaveKeyWithValue("version", "Mg=="))
			Expect(a[3].obj()).To(HaveKeyWithValue("version", "QUFBQUFBQUFBQWM9"))
			Expect(a[3].header.Get("ETag")).To(Equal(`"QUFBQUFBQUFBQWM9"`))
			Expect(a[4].status).To(Equal(200))
			Expect(a[4].obj()).To(HaveKeyWithValue("version", "MQ=="))     // "AAAAAAAAAAc=" + 1 in SQLite is 1
			Expect(a[6].obj()).To(HaveKeyWithValue("version", "Ng=="))     // "5abc" + 1 is 6
			Expect(a[7].obj()).To(HaveKeyWithValue("version", "TVE9PQ==")) // If-Match on an insert is stored as sent
		},
	}),
	Entry("every schema column comes back, null when unset; a column first written as null is not made", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a","text":"x"}`), post(tableURL, `{"id":"b","extra":5,"brandnew":null}`),
			get(tableURL + "/a"), get(tableURL + "/b"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[2].obj()).To(HaveKeyWithValue("extra", BeNil()))
			Expect(a[3].obj()).To(HaveKeyWithValue("text", BeNil()))
			Expect(a[3].obj()).NotTo(HaveKey("brandnew"))
		},
	}),
	Entry("ids are case-sensitive", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"e1","text":"lower"}`), get(tableURL + "/E1"),
			post(tableURL, `{"id":"E1","text":"upper"}`), get(tableURL + "/E1"), get(tableURL + "?$filter=id%20eq%20'E1'"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[1].status).To(Equal(404))
			Expect(a[1].obj()).To(Equal(map[string]any{"error": "The item does not exist"}))
			Expect(a[2].status).To(Equal(201))
			Expect(a[3].obj()).To(HaveKeyWithValue("text", "upper"))
			Expect(a[4].ids()).To(Equal([]string{"E1"}))
		},
	}),
	Entry("undelete answers 201, and writes a live row again", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a"}`), del(tableURL + "/a"), post(tableURL+"/a", ""), post(tableURL+"/a", ""),
			post(tableURL+"/nope", ""), post(tableURL+"/a", "", "If-Match", `"MQ=="`),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[2].status).To(Equal(201))
			Expect(a[2].obj()).To(HaveKeyWithValue("version", "Mw=="))
			Expect(a[3].status).To(Equal(201))
			Expect(a[3].obj()).To(HaveKeyWithValue("version", "NA=="))
			Expect(a[4].status).To(Equal(404))
			Expect(a[5].status).To(Equal(412))
		},
	}),
	Entry("a deleted row's lookup is a 404, __includeDeleted or not; writes to it too; an insert over it is 409", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a"}`), del(tableURL + "/a"),
			get(tableURL + "/a?__includeDeleted=true"), patch(tableURL+"/a", `{"text":"x"}`), del(tableURL + "/a"),
			post(tableURL, `{"id":"a","text":"again"}`),
		},
		check: func(a []*nodeAnswer) {
			Expect([]int{a[2].status, a[3].status, a[4].status, a[5].status}).To(Equal([]int{404, 404, 404, 409}))
			Expect(a[5].obj()).To(Equal(map[string]any{"id": "a", "text": "again"}))
		},
	}),
	Entry("$select=text returns only that column; a column the table lacks makes the answer []", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a","text":"x"}`),
			get(tableURL + "?$select=text"), get(tableURL + "?$select=id,%20deleted"),
			get(tableURL + "?$select=nosuch"), get(tableURL + "?$filter=nosuch%20eq%201"), get(tableURL + "?$orderby=nosuch"),
			get(tableURL + "?$filter=hour(updatedAt)%20eq%201"),
			get("/tables/other?$inlinecount=allpages"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[1].arr()).To(Equal([]any{map[string]any{"text": "x"}}))
			Expect(a[2].arr()).To(Equal([]any{map[string]any{"id": "a", "deleted": false}}))
			for i := 3; i < 7; i++ {
				Expect(a[i].status).To(Equal(200))
				Expect(a[i].raw).To(Equal("[]"), "step %d", i)
			}
			// A table declared and never written is there, empty.
			Expect(a[7].obj()).To(Equal(map[string]any{"results": []any{}, "count": 0.0}))
		},
	}),
	Entry("string functions on sqlite: indexof's arguments are swapped, startswith/endswith/substringof compare with a number", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a","text":"Buy eggs"}`), post(tableURL, `{"id":"b","text":"Buy"}`),
			post(tableURL, `{"id":"c","text":"5"}`), post(tableURL, `{"id":"z","text":"0"}`),
			get(tableURL + "?$filter=indexof(text,'Buy')%20eq%200"),
			get(tableURL + "?$filter=indexof(text,'eggs')%20ge%200"),
			get(tableURL + "?$filter=startswith(text,'Buy')"),
			get(tableURL + "?$filter=startswith(text,'5')"),
			get(tableURL + "?$filter=endswith(text,'eggs')"),
			get(tableURL + "?$filter=substringof('eggs',text)"),
			get(tableURL + "?$filter=tolower(text)%20eq%20'buy'"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[4].ids()).To(Equal([]string{"b"})) // INSTR('Buy', text) - 1 = 0: text is a prefix of 'Buy'
			Expect(a[5].ids()).To(BeEmpty())
			Expect(a[6].ids()).To(Equal([]string{"z"})) // text LIKE ('Buy' + '%'), which is 0
			Expect(a[7].ids()).To(Equal([]string{"c"})) // text LIKE 5
			Expect(a[8].ids()).To(Equal([]string{"z"}))
			Expect(a[9].ids()).To(Equal([]string{"z"}))
			Expect(a[10].ids()).To(Equal([]string{"b"}))
		},
	}),
	Entry("rows come in insertion order, and $orderby's ties keep it; NULL sorts first", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"m","n":2}`), post(tableURL, `{"id":"b","n":1}`), post(tableURL, `{"id":"z","n":2}`),
			post(tableURL, `{"id":"a"}`),
			get(tableURL + "?$top=10"), get(tableURL + "?$orderby=n&$top=10"), get(tableURL + "?$orderby=n%20desc&$top=10"),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[4].ids()).To(Equal([]string{"m", "b", "z", "a"}))
			Expect(a[5].ids()).To(Equal([]string{"a", "b", "m", "z"}))
			Expect(a[6].ids()).To(Equal([]string{"m", "z", "b", "a"}))
		},
	}),
	Entry("headers: no Location on 201, x-zumo-server-version everywhere, weak ETags on lists and errors", nodeCase{
		steps: []nodeStep{post(tableURL, `{"id":"a"}`), get(tableURL), get(tableURL + "/nope")},
		check: func(a []*nodeAnswer) {
			Expect(a[0].header.Get("Location")).To(BeEmpty())
			for _, x := range a {
				Expect(x.header.Get("x-zumo-server-version")).To(Equal("node-4.0.2"))
			}
			Expect(a[0].header.Get("ETag")).To(Equal(`"MQ=="`))
			Expect(a[0].header.Get("cache-control")).To(Equal("no-cache"))
			Expect(a[1].header.Get("ETag")).To(MatchRegexp(weakETag))
			Expect(a[2].header.Get("ETag")).To(MatchRegexp(weakETag))
		},
	}),
	Entry("a value of another type than its column's is converted as SQLite stores it, not refused", nodeCase{
		steps: []nodeStep{
			post(tableURL, `{"id":"a","text":"x","complete":false,"n":1}`),
			post(tableURL, `{"id":"b","text":5,"complete":"yes","n":"12"}`),
			post(tableURL, `{"id":"c","text":true,"complete":0,"n":"abc"}`),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[1].obj()).To(And(HaveKeyWithValue("text", "5"), HaveKeyWithValue("complete", true), HaveKeyWithValue("n", 12.0)))
			Expect(a[2].obj()).To(And(HaveKeyWithValue("text", "1"), HaveKeyWithValue("complete", false), HaveKeyWithValue("n", "abc")))
		},
	}),
	Entry("bodies: an empty insert is a row, an empty update a 500, over 100 KiB a 400; reserved properties a 400", nodeCase{
		steps: []nodeStep{
			post(tableURL, ""),
			post(tableURL, `{"id":"a","text":"x"}`), patch(tableURL+"/a", ""), patch(tableURL+"/a", `{"id":"a"}`),
			post(tableURL, `{"id":"big","text":"`+strings.Repeat("x", 110_000)+`"}`),
			post(tableURL, `{"id":"r","createdAt":null}`), patch(tableURL+"/a", `{"Deleted":true}`),
			patch(tableURL+"/a", `{"id":"b","text":"y"}`),
			post(tableURL, `{"id":5,"text":"number id"}`),
		},
		check: func(a []*nodeAnswer) {
			Expect(a[0].status).To(Equal(201))
			Expect(a[0].obj()).To(HaveKeyWithValue("id", MatchRegexp(`^[0-9a-f-]{36}$`)))
			Expect(a[2].status).To(Equal(500))
			Expect(a[3].status).To(Equal(500))
			Expect(a[4].status).To(Equal(400))
			Expect(a[4].obj()).To(HaveKeyWithValue("error", "request entity too large"))
			Expect(a[5].obj()).To(HaveKeyWithValue("error", "Cannot update item with property 'createdAt' as it is reserved"))
			Expect(a[6].obj()).To(HaveKeyWithValue("error", "Cannot update item with property 'Deleted' as it is reserved"))
			Expect(a[7].obj()).To(HaveKeyWithValue("error", "The item ID and querystring ID did not match"))
			Expect(a[8].status).To(Equal(201))
			Expect(a[8].obj()).To(HaveKeyWithValue("id", "5"))
		},
	}),
	Entry("routes Node lacks: express's HTML 404", nodeCase{
		steps: []nodeStep{{"PUT", tableURL + "/a", `{}`, nil}, get("/tables/no-such"), get("/tables/never"), get("/nothing")},
		check: func(a []*nodeAnswer) {
			for _, x := range a {
				Expect(x.status).To(Equal(404))
				Expect(x.header.Get("Content-Type")).To(Equal("text/html; charset=utf-8"))
			}
			Expect(a[0].raw).To(ContainSubstring("<pre>Cannot PUT /tables/todoitem/a</pre>"))
		},
	}),
}

var _ = Describe("the node personality", func() {
	DescribeTable("answers as azure-mobile-apps 4.0.2 on sqlite does",
		func(c nodeCase) { c.check(sendAll(startNodePersonality(), c.steps)) },
		nodeCases)

	It("refuses what Node has no answer for", func() {
		inProcessOnly("builds servers with the Go API")
		_, err := fakeserver.NewServer(fakeserver.Config{Personality: fakeserver.PersonalityNode, Dialect: fakeserver.V1})
		Expect(err).To(MatchError(ContainSubstring("v2 only")))
		_, err = fakeserver.NewServer(fakeserver.Config{Personality: fakeserver.PersonalityNode, HardDelete: true})
		Expect(err).To(MatchError(ContainSubstring("soft delete")))
		_, err = fakeserver.NewServer(fakeserver.Config{Personality: "dotnet"})
		Expect(err).To(MatchError(ContainSubstring("unknown personality")))
		p, err := fakeserver.ParsePersonality("Node")
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(Equal(fakeserver.PersonalityNode))
	})

	It("keeps the default personality's answers where Node differs", func() {
		srv, cl := startServer(fakeserver.Config{PageSize: nodePageSize})
		_ = srv
		r := cl.do("POST", tableURL, map[string]any{"id": "e1"})
		Expect(r.Header.Get("Location")).NotTo(BeEmpty())
		r = cl.do("PATCH", tableURL+"/e1", map[string]any{"text": "x"}, "If-Match", "*")
		Expect(r.Status).To(Equal(200))
		r = cl.do("GET", tableURL+"/E1", nil)
		Expect(r.Status).To(Equal(200))
	})

	It("records its requests and serves the admin API like the default personality", func() {
		inProcessOnly("starts a server of its own in this process")
		srv, err := fakeserver.NewServer(fakeserver.Config{Personality: fakeserver.PersonalityNode})
		Expect(err).NotTo(HaveOccurred())
		ts := srv.Start()
		DeferCleanup(ts.Close)
		sendAll(ts.URL, []nodeStep{post(tableURL, `{"id":"a"}`), patch(tableURL+"/a", `{"text":"x"}`, "If-Match", "*")})
		h := srv.History()
		Expect(h).To(HaveLen(2))
		Expect(h[0].VersionAfter).To(Equal("MQ=="))
		Expect(h[1].Status).To(Equal(412))
		row, ok := srv.Row("todoitem", "a")
		Expect(ok).To(BeTrue())
		Expect(row).To(HaveKeyWithValue("version", "MQ=="))
		res, err := http.Get(ts.URL + "/_conflictlab/tables/todoitem/a")
		Expect(err).NotTo(HaveOccurred())
		res.Body.Close()
		Expect(res.Header.Get("ETag")).To(Equal(`"MQ=="`))
		// Another writer goes through the same rules: the row's next version is Mg==.
		out, err := srv.Write("todoitem", "a", map[string]any{"text": "server"})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveKeyWithValue("version", "Mg=="))
	})
})

// The differential: the same requests against real Node.
var _ = Describe("the node personality against real Node", Ordered, ContinueOnFailure, func() {
	var peer *nodepeer.Peer

	// Against a remote server each spec says why it is skipped (a skip in BeforeAll would give
	// the later specs Ginkgo's words instead).
	BeforeEach(func() { inProcessOnly("compares real Node with the personality in this process") })

	BeforeAll(func() {
		if remote != nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		p, err := nodepeer.Start(ctx, nodepeer.Options{PageSize: nodePageSize, Tables: nodeTables})
		if errors.Is(err, nodepeer.ErrNotInstalled) {
			Skip("no differential against real Node: " + err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Stop)
		peer = p
	})

	DescribeTable("gives Node's status, headers and body shape",
		func(c nodeCase) {
			Expect(peer.Reset(context.Background())).To(Succeed())
			real := sendAll(peer.URL, c.steps)
			fake := sendAll(startNodePersonality(), c.steps)
			for i := range c.steps {
				Expect(comparable(fake[i])).To(Equal(comparable(real[i])),
					"step %d: %s %s\n  node:        %d %s\n  personality: %d %s", i, c.steps[i].method, clip(c.steps[i].path),
					real[i].status, clip(real[i].raw), fake[i].status, clip(fake[i].raw))
			}
			c.check(real) // the check is true of Node itself
		},
		nodeCases)
})

var (
	isoTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	uuidRe  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// comparable is an answer less what may differ between two correct runs: times, generated
// ids, error wording and the weak ETags computed over them.
func comparable(a *nodeAnswer) map[string]any {
	out := map[string]any{"status": a.status}
	for _, h := range []string{"Content-Type", "Link", "Location", "x-zumo-server-version", "cache-control"} {
		out[h] = a.header.Get(h)
	}
	switch e := a.header.Get("ETag"); {
	case strings.HasPrefix(e, `W/"`):
		out["ETag"] = "weak"
	default:
		out["ETag"] = e
	}
	if a.body == nil {
		out["body"] = a.raw
		return out
	}
	out["body"] = normalise(a.body, "")
	return out
}

func normalise(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, val := range x {
			m[k] = normalise(val, k)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = normalise(val, "")
		}
		return s
	case string:
		switch {
		case key == "error":
			return "<message>"
		case isoTime.MatchString(x):
			if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return "<time>"
			}
		case uuidRe.MatchString(x):
			return "<uuid>"
		}
	}
	return v
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
