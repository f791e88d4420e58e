package targets_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/targets"
)

func TestTargets(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "targets")
}

var ctx = context.Background()

// other serves a fake server as a server conflictlab does not control: no admin API.
func other(cfg fakeserver.Config) (*fakeserver.Server, *targets.Target) {
	GinkgoHelper()
	srv := fakeserver.New(cfg)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_conflictlab") {
			http.NotFound(w, r)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	DeferCleanup(ts.Close)
	return srv, &targets.Target{URL: ts.URL}
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

var _ = Describe("target files", func() {
	write := func(text string) string {
		path := filepath.Join(GinkgoT().TempDir(), "target.yaml")
		Expect(os.WriteFile(path, []byte(text), 0o644)).To(Succeed())
		return path
	}

	It("reads what a target offers", func() {
		t, err := targets.LoadFile(write(`url: http://127.0.0.1:3000
kind: node
dialect: v2
reset: {url: http://127.0.0.1:3000/_peer/reset}
tables:
  todoitem: {softDelete: true, pageSize: 50, pageSizeCapsTop: false}
  "*": {softDelete: true}
`))
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Kind).To(Equal(targets.KindNode))
		Expect(t.Resettable()).To(BeTrue())
		tb, ok := t.Table("TodoItem")
		Expect(ok).To(BeTrue())
		Expect(*tb.PageSizeCapsTop).To(BeFalse())
		_, ok = t.Table("other")
		Expect(ok).To(BeTrue(), "* stands for the tables not named")
	})

	DescribeTable("says what is wrong with a bad one, and where",
		func(text, want string) {
			_, err := targets.LoadFile(write(text))
			Expect(err).To(MatchError(ContainSubstring(want)))
			var te *targets.Error
			Expect(errors.As(err, &te)).To(BeTrue())
		},
		Entry("no url", "kind: node\n", "url is required"),
		Entry("an unknown key", "url: http://x\nkinds: node\n", "target.yaml:2: field kinds not found"),
		Entry("a bad kind", "url: http://x\nkind: mongo\n", `kind "mongo": want conflictlab, node or other`),
		Entry("a bad value", "url: http://x\ntables:\n  t: {softDelete: maybe}\n", "target.yaml:3:"),
		Entry("two resets", "url: http://x\nreset: {url: http://x/r, command: [true]}\n", "give a url or a command, not both"),
		Entry("not YAML", "url: [\n", "target.yaml"),
	)
})

var _ = Describe("probing a server", func() {
	It("finds a conflictlab server and its settings", func() {
		srv := fakeserver.New(fakeserver.Config{PageSize: 7, HardDelete: true, Clock: fakeserver.SimClock(fakeserver.DefaultSimStart)})
		ts := srv.Start()
		defer ts.Close()
		t := &targets.Target{URL: ts.URL + "/"}
		Expect(targets.Probe(ctx, t)).To(Succeed())
		Expect(t.Kind).To(Equal(targets.KindConflictlab))
		Expect(t.SimulatedClock).To(BeTrue())
		star, _ := t.Table("*")
		Expect(star.PageSize).To(Equal(7))
		Expect(*star.SoftDelete).To(BeFalse())
		Expect(t.URL).To(Equal(ts.URL), "without the trailing slash")
	})

	DescribeTable("finds another server's dialect",
		func(d fakeserver.Dialect) {
			srv, t := other(fakeserver.Config{Dialect: d})
			_, _ = srv.Insert("todoitem", map[string]any{"id": "a"})
			Expect(targets.Probe(ctx, t)).To(Succeed())
			Expect(t.Kind).To(Equal(targets.KindOther))
			Expect(t.Dialect).To(Equal(string(d)))
		},
		Entry(nil, fakeserver.V2), Entry(nil, fakeserver.V1),
	)

	It("says when nothing answers", func() {
		err := targets.Probe(ctx, &targets.Target{URL: "http://127.0.0.1:1"})
		Expect(err).To(MatchError(targets.ErrUnreachable))
		Expect(err).To(MatchError(ContainSubstring("cannot reach the server")))
	})

	It("says when the server is not a table server", func() {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>welcome</html>"))
		}))
		defer ts.Close()
		err := targets.Probe(ctx, &targets.Target{URL: ts.URL})
		Expect(err).To(MatchError(targets.ErrNotATableServer))
		Expect(err).To(MatchError(ContainSubstring("GET /tables/todoitem (v1) answered 200 <html>welcome</html>")))
	})

	It("turns down a conflictlab proxy, naming its upstream", func() {
		proxy := fakeserver.New(fakeserver.Config{Upstream: "http://127.0.0.1:9"})
		ts := httptest.NewServer(proxy.Handler())
		defer ts.Close()
		Expect(targets.Probe(ctx, &targets.Target{URL: ts.URL})).To(MatchError(ContainSubstring("this is a conflictlab proxy (of http://127.0.0.1:9)")))
	})
})

var _ = Describe("what a target lacks", func() {
	node := &targets.Target{URL: "http://x", Kind: targets.KindNode, Dialect: "v2",
		Tables: map[string]targets.Table{"todoitem": {SoftDelete: yes(), PageSize: 50, PageSizeCapsTop: no()}}}
	step0 := 0
	DescribeTable("a run it cannot serve, and why",
		func(t *targets.Target, r targets.Requirements, want string) {
			if want == "" {
				Expect(t.Lacks(r)).To(BeEmpty())
			} else {
				Expect(t.Lacks(r)).To(ContainSubstring(want))
			}
		},
		Entry("HTTP faults: a proxy does them", node, targets.Requirements{Faults: []string{"drop-response", "reset"}, Tables: []string{"todoitem"}}, ""),
		Entry("a clock fault", node, targets.Requirements{Faults: []string{"clock-freeze"}}, "the fault clock-freeze needs a server conflictlab controls"),
		Entry("page-shift", node, targets.Requirements{Faults: []string{"page-shift"}}, "the fault page-shift needs"),
		Entry("a clock step", node, targets.Requirements{ClockStepMs: &step0}, "clockStepMs"),
		Entry("the other dialect", node, targets.Requirements{Dialect: "v1"}, "the scenario speaks v1; the target speaks v2"),
		Entry("a table it lacks", node, targets.Requirements{Tables: []string{"settings"}}, "the target has no table settings"),
		Entry("hard delete", node, targets.Requirements{Tables: []string{"todoitem"}, SoftDelete: no()}, "rely on hard delete; table todoitem does soft delete"),
		Entry("a page size that caps $top", node, targets.Requirements{Tables: []string{"todoitem"}, PageSize: 50}, "a page size that caps $top"),
		Entry("another page size", node, targets.Requirements{Tables: []string{"todoitem"}, PageSize: 2}, "pages of 2 rows; table todoitem pages by 50"),
		Entry("an unknown delete", &targets.Target{URL: "http://x", Kind: targets.KindOther},
			targets.Requirements{Tables: []string{"t"}, SoftDelete: yes()}, "does not say what table t does (tables.t.softDelete)"),
		Entry("a conflictlab server takes any settings", &targets.Target{URL: "http://x", Kind: targets.KindConflictlab, Dialect: "v2", SimulatedClock: true},
			targets.Requirements{Faults: []string{"clock-freeze"}, ClockStepMs: &step0, PageSize: 2, SoftDelete: no()}, ""),
		Entry("but not a clock step on the real clock", &targets.Target{URL: "http://x", Kind: targets.KindConflictlab, Dialect: "v2"},
			targets.Requirements{ClockStepMs: &step0}, "needs conflictlab serve --sim-clock"),
	)
})

var _ = Describe("the runner's reads of a server it does not control", func() {
	// hostile serves handler as a table server.
	hostile := func(h http.HandlerFunc) *targets.Target {
		ts := httptest.NewServer(h)
		DeferCleanup(ts.Close)
		return &targets.Target{URL: ts.URL, Kind: targets.KindOther, Dialect: "v2"}
	}
	connect := func(t *targets.Target) targets.Server {
		GinkgoHelper()
		s, err := targets.Connect(ctx, t, fakeserver.ResetSettings{Seed: 1})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(s.Close)
		return s
	}

	It("reads every row of a real table, tombstones included, and names the proxy as the clients' way in", func() {
		srv, t := other(fakeserver.Config{PageSize: 3})
		for i := range 10 {
			_, _ = srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("r%02d", i)})
		}
		_, _ = srv.Delete("todoitem", "r05")
		Expect(targets.Probe(ctx, t)).To(Succeed())
		s := connect(t)
		rows, err := s.Rows(ctx, "todoitem")
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(10))
		row, err := s.Row(ctx, "todoitem", "r05")
		Expect(err).NotTo(HaveOccurred())
		Expect(row).To(HaveKeyWithValue("deleted", true))
		Expect(s.URL()).NotTo(Equal(t.URL))
		Expect(s.Exact()).To(BeFalse())
	})

	It("stops reading a server whose pages never end", func() {
		restore := targets.SetReadLimits(32<<20, 1000)
		defer restore()
		var n atomic.Int64
		t := hostile(func(w http.ResponseWriter, r *http.Request) {
			rows := []map[string]any{}
			for range 100 {
				rows = append(rows, map[string]any{"id": fmt.Sprintf("x%d", n.Add(1))})
			}
			_ = json.NewEncoder(w).Encode(rows)
		})
		_, err := connect(t).Rows(ctx, "todoitem")
		Expect(err).To(MatchError(ContainSubstring("still not at its end after 1000 rows")))
	})

	It("stops reading a server that answers the same page again and again", func() {
		t := hostile(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`[{"id":"a"},{"id":"b"}]`))
		})
		_, err := connect(t).Rows(ctx, "todoitem")
		Expect(err).To(MatchError(ContainSubstring("answers the same rows again")))
	})

	It("reads no answer larger than its limit", func() {
		restore := targets.SetReadLimits(1<<20, 1000)
		defer restore()
		t := hostile(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`[{"id":"` + strings.Repeat("a", 2<<20) + `"}]`))
		})
		_, err := connect(t).Rows(ctx, "todoitem")
		Expect(err).To(MatchError(ContainSubstring("the answer is over 1 MiB")))
	})

	It("never unpacks a compressed answer: a gzip bomb is a few bytes read and an error", func() {
		var bomb bytes.Buffer
		zw := gzip.NewWriter(&bomb)
		_, _ = zw.Write([]byte("["))
		_, _ = zw.Write(bytes.Repeat([]byte(`{"id":"x"},`), 1<<20))
		_ = zw.Close()
		t := hostile(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(bomb.Bytes())
		})
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := connect(t).Rows(ctx, "todoitem")
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		Expect(err).To(MatchError(ContainSubstring("not the JSON expected")))
		Expect(after.TotalAlloc-before.TotalAlloc).To(BeNumerically("<", 4<<20), "the 11 MiB inside were never unpacked")
	})

	It("follows no redirect to another host, and sends its credentials nowhere else", func() {
		var elsewhere atomic.Int64
		thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			elsewhere.Add(1)
			_, _ = w.Write([]byte(`[{"id":"injected"}]`))
		}))
		defer thief.Close()
		t := hostile(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, thief.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		})
		t.Auth = targets.Auth{Token: "secret"}
		_, err := connect(t).Rows(ctx, "todoitem")
		Expect(err).To(MatchError(ContainSubstring("refusing to follow a redirect")))
		Expect(elsewhere.Load()).To(BeZero())
	})
})
