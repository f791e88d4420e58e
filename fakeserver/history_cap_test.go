package fakeserver_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// seqs lists the events' sequence numbers.
func seqs(events []fakeserver.Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// syncWriter is a history writer a spec reads while the server writes.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) events() []fakeserver.Event {
	GinkgoHelper()
	w.mu.Lock()
	defer w.mu.Unlock()
	events, err := fakeserver.ReadJSONLines(bytes.NewReader(w.buf.Bytes()))
	Expect(err).NotTo(HaveOccurred())
	return events
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

var _ = Describe("A capped history", func() {
	It("keeps the newest events and says how many it dropped, never skipping a gap silently", func() {
		srv, _ := startServer(fakeserver.Config{HistoryLimit: 5})
		for i := range 12 {
			_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprint(i)})
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(srv.LastSeq()).To(BeEquivalentTo(12), "sequence numbers count dropped events too")
		Expect(srv.HistoryStats()).To(And(
			HaveField("Kept", 5), HaveField("Dropped", BeEquivalentTo(7)), HaveField("LastSeq", BeEquivalentTo(12))))

		h := srv.History()
		Expect(seqs(h)).To(Equal([]uint64{7, 8, 9, 10, 11, 12}))
		Expect(h[0]).To(And(HaveField("Source", fakeserver.SourceDropped), HaveField("Dropped", BeEquivalentTo(7)),
			HaveField("Error", ContainSubstring("events 1 to 7 were dropped"))))

		since := srv.HistorySince(3)
		Expect(since[0]).To(And(HaveField("Source", fakeserver.SourceDropped), HaveField("Dropped", BeEquivalentTo(4))))
		Expect(seqs(since[1:])).To(Equal([]uint64{8, 9, 10, 11, 12}))
		Expect(seqs(srv.HistorySince(9))).To(Equal([]uint64{10, 11, 12}), "no marker when nothing asked for is gone")
		Expect(srv.HistorySince(12)).To(BeEmpty())
	})

	It("keeps the events within a byte budget too", func() {
		srv, _ := startServer(fakeserver.Config{HistoryBytes: 64 << 10})
		for i := range 200 {
			_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprint(i), "text": strings.Repeat("x", 4000)})
			Expect(err).NotTo(HaveOccurred())
		}
		st := srv.HistoryStats()
		Expect(st.Bytes).To(BeNumerically("<=", 64<<10))
		Expect(st.Kept).To(BeNumerically(">", 1))
		Expect(uint64(st.Kept) + st.Dropped).To(BeEquivalentTo(200))
	})

	It("says what was dropped through the admin API", func() {
		srv, p := startServer(fakeserver.Config{HistoryLimit: 2})
		for _, id := range []string{"a", "b", "c"} {
			p.insert("todoitem", map[string]any{"id": id})
		}
		res, err := http.DefaultClient.Do(adminRequest("GET", p.base+"/_conflictlab/history"))
		Expect(err).NotTo(HaveOccurred())
		defer res.Body.Close()
		Expect(res.Header.Get("X-Conflictlab-History-Dropped")).To(Equal("1"))
		Expect(res.Header.Get("X-Conflictlab-History-Last-Seq")).To(Equal("3"))
		events, err := fakeserver.ReadJSONLines(res.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(seqs(events)).To(Equal([]uint64{1, 2, 3}))
		Expect(events[0]).To(And(HaveField("Source", "dropped"), HaveField("Dropped", BeEquivalentTo(1))))

		info := p.with("ZUMO-API-VERSION", "").do("GET", "/_conflictlab/info", nil).Object()
		Expect(info).To(HaveKeyWithValue("history", And(HaveKeyWithValue("dropped", 1.0), HaveKeyWithValue("kept", 2.0),
			HaveKeyWithValue("limit", 2.0), HaveKeyWithValue("lastSeq", 3.0))))
		Expect(srv.HistoryStats().Dropped).To(BeEquivalentTo(1))
	})

	It("streams every event to a writer as JSON Lines, in order, the dropped ones too", func() {
		w := &syncWriter{}
		srv, p := startServer(fakeserver.Config{HistoryLimit: 3, HistoryWriter: w})
		p.insert("todoitem", map[string]any{"id": "a", "n": 1})
		p.insert("todoitem", map[string]any{"id": "b", "n": 2})
		p.do("GET", "/tables/todoitem?$filter=n%20gt%201", nil) // evaluated outside the lock
		p.do("PATCH", "/tables/todoitem/a", map[string]any{"n": 3})
		p.do("GET", "/tables/nope/x", nil)
		p.with("ZUMO-API-VERSION", "").do("GET", "/tables/todoitem", nil)
		Expect(srv.Go("flushes the history's writer").FlushHistory()).To(Succeed())
		streamed := w.events()
		Expect(seqs(streamed)).To(Equal([]uint64{1, 2, 3, 4, 5, 6}))
		Expect(streamed[2]).To(And(HaveField("Op", fakeserver.OpQuery), HaveField("Rows", 1), HaveField("Status", 200)))
		Expect(streamed[3:]).To(Equal(srv.History()[1:]), "the stream holds what the ring holds")
		Expect(srv.History()[0].Dropped).To(BeEquivalentTo(3))
	})

	It("reports a stream it cannot write, and goes on serving", func() {
		srv, p := startServer(fakeserver.Config{HistoryWriter: failingWriter{}})
		for i := range 3 {
			p.insert("todoitem", map[string]any{"id": fmt.Sprint(i), "text": strings.Repeat("x", 30<<10)})
		}
		Expect(srv.Go("flushes the history's writer").FlushHistory()).To(MatchError(ContainSubstring("disk full")))
		Expect(srv.History()).To(HaveLen(3))
	})

	// One server each: against a remote server, each runs where the server is started for it.
	It("keeps only so much of one event, whatever a client sends: a refused request's query", func() {
		srv, p := startServer(fakeserver.Config{AuthToken: "secret"})
		long := strings.Repeat("a", 100<<10)
		p.do("GET", "/tables/todoitem?$filter="+long, nil)
		ev := srv.History()[0]
		Expect(ev.Status).To(Equal(http.StatusUnauthorized))
		Expect(len(ev.Query)).To(BeNumerically("<=", 2<<10+len("…")))
		Expect(ev.Query).To(HaveSuffix("…"))
		Expect(ev.Truncated).To(BeTrue())
	})

	It("keeps only so much of one event, whatever a client sends: a write's body", func() {
		srv, p := startServer(fakeserver.Config{})
		p.insert("todoitem", map[string]any{"id": "big", "text": strings.Repeat("b", 20<<10)})
		p.insert("todoitem", map[string]any{"id": "small", "text": "b"})
		h := srv.History()
		Expect(h[0]).To(And(HaveField("Body", BeNil()), HaveField("BodyBytes", BeNumerically(">", 20<<10)), HaveField("Truncated", BeTrue())))
		Expect(h[1]).To(And(HaveField("Body", HaveKeyWithValue("text", "b")), HaveField("Truncated", BeFalse())))
	})

	It("holds a thousand refused 120 KiB requests in little memory", func() {
		inProcessOnly("measures the memory of this process")
		srv, p := startServer(fakeserver.Config{AuthToken: "secret"})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		path := "/tables/todoitem?" + strings.Repeat("x", 120<<10)
		for range 1000 {
			req, _ := http.NewRequest("POST", p.base+path, strings.NewReader("{}"))
			req.Header.Set("ZUMO-API-VERSION", "2.0.0")
			res, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			Expect(res.StatusCode).To(Equal(http.StatusUnauthorized))
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		Expect(srv.HistoryStats().Kept).To(Equal(1000))
		Expect(srv.HistoryStats().Bytes).To(BeNumerically("<", 4<<20), "about 2.5 KiB an event")
		Expect(int64(after.HeapAlloc) - int64(before.HeapAlloc)).To(BeNumerically("<", 16<<20))
	})

	It("keeps the heap flat once the history is full", func() {
		inProcessOnly("measures the memory of this process")
		srv := fakeserver.New(fakeserver.Config{HistoryLimit: 1000, Clock: fakeserver.SimClock(t0)})
		h := srv.Handler()
		send := func(n int) {
			for i := range n {
				var req *http.Request
				if i%2 == 0 {
					req = httptest.NewRequest("POST", "/tables/todoitem", strings.NewReader(`{"text":"`+strings.Repeat("x", 200)+`"}`))
				} else {
					req = httptest.NewRequest("GET", "/tables/todoitem?$top=1&"+strings.Repeat("q", 500), nil)
				}
				req.RemoteAddr = "127.0.0.1:1"
				req.Header.Set("ZUMO-API-VERSION", "2.0.0")
				h.ServeHTTP(httptest.NewRecorder(), req)
				if i%2 == 0 { // the table itself must not grow: what grows is the history's business
					srv.Reset()
				}
			}
		}
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		send(5000)
		first := heap()
		send(20000)
		Expect(heap()).To(BeNumerically("<", first+4<<20), "the heap grew by more than 4 MiB after the history was full")
		Expect(srv.HistoryStats().Kept).To(BeNumerically("<=", 1000))
	})
})

var _ = Describe("A query evaluated outside the lock", func() {
	// bigTable is a server whose every query with a filter on user columns has much to do.
	bigTable := func(pers fakeserver.Personality, rows int) (*server, *peer) {
		srv, p := startServer(fakeserver.Config{Personality: pers, QueryTimeout: 30 * time.Second})
		for i := range rows {
			_, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%06d", i), "text": strings.Repeat("y", 2000)})
			Expect(err).NotTo(HaveOccurred())
		}
		return srv, p
	}

	DescribeTable("holds up no other request, and keeps its place in the history",
		func(pers fakeserver.Personality, other string) {
			srv, p := bigTable(pers, 20000)
			// On the node personality indexof's arguments are swapped (as on Node's SQLite):
			// the filter still matches every row, the long way.
			slow := "/tables/todoitem?$inlinecount=allpages&$filter=" + url.QueryEscape(strings.Repeat("indexof(text,'z') eq -1 and ", 20)+"true")
			type answered struct {
				r    *response
				took time.Duration
			}
			done := make(chan answered, 1)
			sent := time.Now()
			go func() {
				defer GinkgoRecover()
				r := p.do("GET", slow, nil)
				done <- answered{r, time.Since(sent)}
			}()
			// Wait until the query is under way (it has its event), then write and read: both
			// are answered long before the query, measured from when it was sent.
			Eventually(srv.LastSeq).Should(BeNumerically(">", 20000))
			p.do("PATCH", "/tables/todoitem/r000001", map[string]any{"text": "z"})
			p.do("GET", other, nil)
			quick := time.Since(sent)
			a := <-done
			Expect(a.r.Status).To(Equal(http.StatusOK))
			Expect(a.r.Object()).To(HaveKeyWithValue("count", 20000.0), "the query saw the table before the write")
			Expect(quick).To(BeNumerically("<", a.took/2), "the write and the read waited for the query")

			h := srv.HistorySince(20000)
			Expect(h[0]).To(And(HaveField("Op", fakeserver.OpQuery), HaveField("Rows", 50)))
			Expect(h[1]).To(And(HaveField("Op", fakeserver.OpUpdate), HaveField("Applied", true)))
		},
		Entry("the default personality", fakeserver.Personality(""), "/"),
		Entry("the node personality", fakeserver.PersonalityNode, "/tables/todoitem/r000002"),
	)
})
