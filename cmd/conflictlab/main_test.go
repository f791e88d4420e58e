package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestMain lets the test binary stand in for the conflictlab binary, so the suite can send
// real signals to a real process without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("CONFLICTLAB_BE_MAIN") == "1" {
		os.Args = append([]string{"conflictlab"}, strings.Fields(os.Getenv("CONFLICTLAB_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "conflictlab CLI")
}

// syncBuffer is an output a goroutine writes while the spec reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var servingLine = regexp.MustCompile(`serving (v\d) tables on (http://127\.0\.0\.1:\d+)`)

// serve runs `conflictlab serve args...` in-process until the spec ends.
func serve(args ...string) (base string, stdout, stderr *syncBuffer, done chan error, stop func()) {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr, done = &syncBuffer{}, &syncBuffer{}, make(chan error, 1)
	cmd := newRootCommand()
	cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	Eventually(stdout.String).Should(MatchRegexp(servingLine.String()))
	base = servingLine.FindStringSubmatch(stdout.String())[2]
	DeferCleanup(cancel)
	return base, stdout, stderr, done, cancel
}

func get(url string, kv ...string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest("GET", url, nil)
	Expect(err).NotTo(HaveOccurred())
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

var _ = Describe("conflictlab serve", func() {
	It("serves the table protocol and the admin API, logs at -v, and writes the history on exit", func() {
		history := filepath.Join(GinkgoT().TempDir(), "history.jsonl")
		base, stdout, stderr, done, stop := serve("-v", "--sim-clock", "--clock-step", "0", "--seed", "7", "--history", history)
		Expect(stdout.String()).To(ContainSubstring("seed 7"))

		req, _ := http.NewRequest("POST", base+"/tables/todoitem", strings.NewReader(`{"id":"e1","text":"Buy eggs"}`))
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		res, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusCreated))

		status, body := get(base + "/_conflictlab/tables/todoitem")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring(`"updatedAt":"2014-06-11T00:00:00.000Z"`))
		Eventually(stderr.String).Should(MatchRegexp(`POST /tables/todoitem 201 client="Go-http-client/1.1" version=AAAAAAAAAAE=`))

		stop()
		Eventually(done).Should(Receive(BeNil()))
		Expect(stdout.String()).To(ContainSubstring("conflictlab: stopped"))
		f, err := os.Open(history)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		events, err := fakeserver.ReadJSONLines(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(HaveLen(1))
		Expect(events[0].ItemID).To(Equal("e1"))
	})

	It("speaks v1 with an app key", func() {
		base, _, _, _, _ := serve("--dialect", "v1", "--app-key", "secret", "--tables", "todoitem")
		status, body := get(base + "/tables/todoitem")
		Expect(status).To(Equal(http.StatusUnauthorized))
		Expect(body).To(ContainSubstring(`"code":401`))
		status, _ = get(base+"/tables/todoitem", "X-ZUMO-APPLICATION", "secret")
		Expect(status).To(Equal(http.StatusOK))
		status, _ = get(base+"/tables/other", "X-ZUMO-APPLICATION", "secret")
		Expect(status).To(Equal(http.StatusNotFound))
	})

	It("answers as the Node backend with --personality node", func() {
		base, _, _, _, _ := serve("--personality", "node")
		req, err := http.NewRequest("PATCH", base+"/tables/todoitem/e1", strings.NewReader(`{"text":"x"}`))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		res, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		res.Body.Close()
		Expect(res.StatusCode).To(Equal(http.StatusNotFound))
		Expect(res.Header.Get("x-zumo-server-version")).To(Equal("node-4.0.2"))
	})

	It("serves the admin API on its own address with --admin-addr", func() {
		base, stdout, _, _, _ := serve("--admin-addr", "127.0.0.1:0")
		admin := regexp.MustCompile(`admin API at (http://\S+)/_conflictlab/`).FindStringSubmatch(stdout.String())
		Expect(admin).To(HaveLen(2))
		Expect(admin[1]).NotTo(Equal(base))
		status, _ := get(base + "/_conflictlab/history")
		Expect(status).To(Equal(http.StatusNotFound), "not on the table address")
		status, _ = get(admin[1] + "/_conflictlab/history")
		Expect(status).To(Equal(http.StatusOK))
	})

	DescribeTable("refuses bad flags with a clear error",
		func(want string, args ...string) {
			cmd := newRootCommand()
			cmd.SetArgs(append([]string{"serve"}, args...))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			Expect(cmd.Execute()).To(MatchError(ContainSubstring(want)))
		},
		Entry("dialect", "unknown dialect", "--dialect", "v3"),
		Entry("personality", "unknown personality", "--personality", "dotnet"),
		Entry("personality and dialect", "v2 only", "--personality", "node", "--dialect", "v1"),
		Entry("page size", "must be positive", "--page-size", "0"),
		Entry("table name", "invalid table name", "--tables", "bad-name"),
		Entry("clock start", "--clock-start", "--sim-clock", "--clock-start", "yesterday"),
		Entry("negative step", "--clock-step", "--sim-clock", "--clock-step", "-1ms"),
		Entry("address", "cannot listen", "--addr", "127.0.0.1:notaport"),
		Entry("arguments", "unknown command", "extra"),
		Entry("history limit", "--history-limit must be positive", "--history-limit", "0"),
		Entry("query timeout", "--query-timeout must be positive", "--query-timeout", "0s"),
		Entry("an admin address open to everyone", "is not a loopback address", "--admin-addr", "0.0.0.0:0"),
		Entry("an admin address with an empty host", "every interface", "--admin-addr", ":0"),
		Entry("--admin-open without a token", "give it an --admin-token", "--admin-open", "--admin-addr", "0.0.0.0:0"),
		Entry("--admin-open without an address", "give one", "--admin-open", "--admin-token", "t"),
	)

	It("streams the history to --history while it serves, and keeps the newest --history-limit in memory", func() {
		history := filepath.Join(GinkgoT().TempDir(), "history.jsonl")
		base, stdout, _, done, stop := serve("--history", history, "--history-limit", "2")
		Expect(stdout.String()).To(ContainSubstring("streaming the history to " + history))
		for _, id := range []string{"a", "b", "c"} {
			status, _ := get(base+"/tables/todoitem/"+id, "ZUMO-API-VERSION", "2.0.0")
			Expect(status).To(Equal(http.StatusNotFound))
		}
		read := func() []fakeserver.Event {
			raw, err := os.ReadFile(history)
			Expect(err).NotTo(HaveOccurred())
			events, err := fakeserver.ReadJSONLines(bytes.NewReader(raw))
			Expect(err).NotTo(HaveOccurred())
			return events
		}
		Eventually(read, 5*time.Second).Should(HaveLen(3), "written while the server runs")
		_, info := get(base + "/_conflictlab/info")
		Expect(info).To(ContainSubstring(`"dropped":1`))
		stop()
		Eventually(done).Should(Receive(BeNil()))
		Expect(stdout.String()).To(ContainSubstring("(3 events; the in-memory history dropped 1)"))
		Expect(read()).To(HaveLen(3))
	})

	It("serves an opened admin API with its token only", func() {
		_, stdout, _, _, _ := serve("--admin-addr", "127.0.0.1:0", "--admin-open", "--admin-token", "s3cret")
		admin := regexp.MustCompile(`admin API at (http://\S+)/_conflictlab/`).FindStringSubmatch(stdout.String())
		Expect(admin).To(HaveLen(2))
		status, _ := get(admin[1] + "/_conflictlab/faults")
		Expect(status).To(Equal(http.StatusUnauthorized))
		status, _ = get(admin[1]+"/_conflictlab/faults", "Authorization", "Bearer s3cret")
		Expect(status).To(Equal(http.StatusOK))
	})

	It("answers what net/http refuses by itself in JSON", func() {
		base, _, _, _, _ := serve()
		status, body := get(base+"/tables/todoitem", "ZUMO-API-VERSION", "2.0.0", "Expect", "the-unexpected")
		Expect(status).To(Equal(http.StatusExpectationFailed))
		Expect(body).To(HavePrefix(`{"error":"net/http refused the request: unsupported Expect header`))
	})

	It("puts the rules of --faults in force, lists them, and shows them firing in the history", func() {
		file := filepath.Join(GinkgoT().TempDir(), "faults.yaml")
		Expect(os.WriteFile(file, []byte(`# the phone loses the answer to its first update
- id: lost-update
  match: {method: PATCH, client: phone, times: 1}
  action: drop-response
- match: {op: query}
  action: latency
  params: {ms: 10}
`), 0o644)).To(Succeed())
		base, stdout, _, done, stop := serve("--faults", file)
		Expect(stdout.String()).To(ContainSubstring("2 fault rule(s) in force from " + file))
		Expect(stdout.String()).To(ContainSubstring(`lost-update: drop-response on {"method":["PATCH"],"client":"phone","times":1}`))
		Expect(stdout.String()).To(ContainSubstring(`f1: latency {"ms":10} on {"op":["query"]}`))

		status, body := get(base + "/_conflictlab/faults")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring(`"id":"lost-update"`))

		send := func(method, path, body string) (*http.Response, error) {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("ZUMO-API-VERSION", "2.0.0")
			req.Header.Set("X-ZUMO-INSTALLATION-ID", "phone")
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				res.Body.Close()
			}
			return res, err
		}
		res, err := send("POST", "/tables/todoitem", `{"id":"e1","text":"eggs"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.StatusCode).To(Equal(http.StatusCreated))
		_, err = send("PATCH", "/tables/todoitem/e1", `{"text":"milk"}`)
		Expect(err).To(HaveOccurred(), "the answer was dropped")
		_, body = get(base + "/_conflictlab/tables/todoitem/e1")
		Expect(body).To(ContainSubstring(`"text":"milk"`), "after the update was applied")
		Eventually(func() string { _, h := get(base + "/_conflictlab/history"); return h }).
			Should(ContainSubstring(`"faults":[{"id":"lost-update","action":"drop-response"}]`))
		stop()
		Eventually(done).Should(Receive(BeNil()))
	})

	It("stops while a timeout fault holds a request", func() {
		file := filepath.Join(GinkgoT().TempDir(), "faults.yaml")
		Expect(os.WriteFile(file, []byte("- action: timeout\n"), 0o644)).To(Succeed())
		base, _, _, done, stop := serve("--faults", file)
		go func() {
			defer GinkgoRecover()
			res, err := (&http.Client{Timeout: time.Minute}).Get(base + "/tables/todoitem?ZUMO-API-VERSION=2.0.0")
			if err == nil {
				res.Body.Close()
			}
		}()
		Eventually(func() string { _, b := get(base + "/_conflictlab/faults"); return b }).Should(ContainSubstring(`"fired":1`))
		stop()
		Eventually(done, 3*time.Second).Should(Receive(BeNil()), "healed before shutdown, not held for the shutdown's 5 s")
	})

	DescribeTable("refuses a bad fault file, naming the file, the line and the field",
		func(content, want string) {
			file := filepath.Join(GinkgoT().TempDir(), "faults.yaml")
			Expect(os.WriteFile(file, []byte(content), 0o644)).To(Succeed())
			cmd := newRootCommand()
			cmd.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--faults", file})
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			Expect(cmd.Execute()).To(MatchError(And(ContainSubstring("--faults: "+file), ContainSubstring(want))))
		},
		Entry("an unknown action", "- action: reset\n- action: explode\n", ":2:3: [1].action: unknown action \"explode\""),
		Entry("a bad parameter", "action: latency\nparams: {ms: -1}\n", ":2:10: params.ms: must be between 0"),
		Entry("a syntax error", "- action: [reset\n", ":1:1: did not find expected"),
	)

	It("refuses a fault file that is missing", func() {
		cmd := newRootCommand()
		cmd.SetArgs([]string{"serve", "--faults", "/nonexistent/faults.yaml"})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		Expect(cmd.Execute()).To(MatchError(ContainSubstring("--faults: open /nonexistent/faults.yaml: no such file")))
	})

	It("refuses an address that is in use", func() {
		base, _, _, _, _ := serve()
		cmd := newRootCommand()
		cmd.SetArgs([]string{"serve", "--addr", strings.TrimPrefix(base, "http://")})
		cmd.SetOut(io.Discard)
		Expect(cmd.Execute()).To(MatchError(ContainSubstring("address already in use")))
	})

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		It("stops cleanly on "+sig.String(), func() {
			history := filepath.Join(GinkgoT().TempDir(), "h.jsonl")
			proc := exec.Command(os.Args[0])
			proc.Env = append(os.Environ(), "CONFLICTLAB_BE_MAIN=1",
				"CONFLICTLAB_ARGS=serve --addr 127.0.0.1:0 --history "+history)
			out, err := proc.StdoutPipe()
			Expect(err).NotTo(HaveOccurred())
			Expect(proc.Start()).To(Succeed())
			lines := bufio.NewScanner(out)
			Expect(lines.Scan()).To(BeTrue())
			Expect(lines.Text()).To(MatchRegexp(servingLine.String()))
			base := servingLine.FindStringSubmatch(lines.Text())[2]
			status, _ := get(base+"/tables/todoitem", "ZUMO-API-VERSION", "2.0.0")
			Expect(status).To(Equal(http.StatusOK))

			Expect(proc.Process.Signal(sig)).To(Succeed())
			var rest strings.Builder
			for lines.Scan() {
				rest.WriteString(lines.Text() + "\n")
			}
			exited := make(chan error, 1)
			go func() { exited <- proc.Wait() }()
			Eventually(exited, 10*time.Second).Should(Receive(BeNil()), "exit status 0")
			Expect(rest.String()).To(ContainSubstring("conflictlab: stopped"))
			Expect(history).To(BeAnExistingFile())
		})
	}

	It("has help that shows the admin API and an example", func() {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs([]string{"serve", "--help"})
		cmd.SetOut(&out)
		Expect(cmd.Execute()).To(Succeed())
		Expect(out.String()).To(ContainSubstring("/_conflictlab/history"))
		Expect(out.String()).To(ContainSubstring("--sim-clock"))
		Expect(out.String()).To(ContainSubstring("curl"))
	})
})

var _ = Describe("conflictlab run and report", func() {
	const passing = `name: passing
labels: [conflict]
strategies: [client-wins, server-wins]
server:
  tables:
    todoitem: [{id: e1, text: Buy eggs}]
clients:
  phone: {}
steps:
  - phone: {op: pull, table: todoitem}
  - phone: {op: update, table: todoitem, item: {id: e1, text: mine}}
  - server: {op: update, table: todoitem, item: {id: e1, text: theirs}}
  - phone: {op: push}
  - check: {server: {todoitem: {e1: {text: mine}}}}
    when: {strategy: client-wins}
  - check: {server: {todoitem: {e1: {text: theirs}}}}
    when: {strategy: server-wins}
`
	const failing = `name: failing
labels: [purge]
clients:
  phone: {}
steps:
  - phone: {op: insert, table: todoitem, item: {id: e1}}
  - phone: {op: purge, table: todoitem}
`
	var dir string
	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "passing.yaml"), []byte(passing), 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "failing.yaml"), []byte(failing), 0o644)).To(Succeed())
	})
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs(append([]string{"run"}, args...))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.Execute()
		return out.String(), err
	}

	It("prints a line per scenario and strategy, the failure, a summary, and fails", func() {
		outDir := filepath.Join(GinkgoT().TempDir(), "out")
		out, err := run("--out", outDir, dir)
		Expect(err).To(MatchError(errFailed))
		Expect(out).To(MatchRegexp(`FAIL  failing +\S+\n      step 2 \(line 7\): phone: purge todoitem\n`))
		Expect(out).To(ContainSubstring("expected: the step succeeds"))
		Expect(out).To(ContainSubstring("the table has pending operations [-1180]"))
		Expect(out).To(ContainSubstring("replay:   conflictlab run " + filepath.Join(dir, "failing.yaml")))
		Expect(out).To(MatchRegexp(`PASS  passing \[client-wins\] +\S+\n`))
		Expect(out).To(MatchRegexp(`PASS  passing \[server-wins\] +\S+\n`))
		Expect(out).To(MatchRegexp(`\n2 passed, 1 failed, 0 skipped in \S+\n$`))
		for _, f := range []string{"results.json", "report.md", "report.html", "junit.xml"} {
			Expect(filepath.Join(outDir, f)).To(BeARegularFile())
		}
		md, _ := os.ReadFile(filepath.Join(outDir, "report.md"))
		Expect(string(md)).To(ContainSubstring("| passing |"))

		again := filepath.Join(GinkgoT().TempDir(), "again")
		cmd := newRootCommand()
		var rout bytes.Buffer
		cmd.SetOut(&rout)
		cmd.SetArgs([]string{"report", "--in", outDir, "--out", again})
		Expect(cmd.Execute()).To(Succeed())
		Expect(rout.String()).To(ContainSubstring("2 passed, 1 failed, 0 skipped"))
		md2, _ := os.ReadFile(filepath.Join(again, "report.md"))
		Expect(md2).To(Equal(md), "the report renders from results.json alone")
	})

	It("filters by labels and strategy, counting scenarios that cannot run under it as skipped", func() {
		out, err := run("--labels", "conflict", "--strategy", "server-wins", dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(ContainSubstring("client-wins"))
		Expect(out).To(HaveSuffix(" skipped in " + out[strings.LastIndex(out, " in ")+4:]))
		Expect(out).To(ContainSubstring("1 passed, 0 failed, 0 skipped"))
		out, err = run("--strategy", "cancel", filepath.Join(dir, "passing.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("SKIP  passing [cancel]"))
		Expect(out).To(ContainSubstring("0 passed, 0 failed, 1 skipped"))
	})

	DescribeTable("refuses bad input with a clear error",
		func(want string, args ...string) {
			_, err := run(args...)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no paths", "name at least one scenario file"),
		Entry("a strategy", `--strategy "lazy"`, "--strategy", "lazy", "x.yaml"),
		Entry("a label filter", "--labels", "--labels", "a &&", "x.yaml"),
		Entry("a missing file", "no such file", "/nonexistent/x.yaml"),
		Entry("nothing matching", "no scenario matches", "--labels", "nothing-has-this", "../../scenarios/catalog/blog-buy-eggs.yaml"),
	)
})

// fuzz runs conflictlab fuzz in process: what it printed, its progress and its error.
func fuzz(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(append([]string{"fuzz"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

var _ = Describe("conflictlab fuzz", func() {
	It("explores for the time it is given and reports what it did", func() {
		dir := GinkgoT().TempDir()
		out, progress, err := fuzz("--duration", "1s", "--seed", "7", "--out", dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`^no property violated: \d+ interleavings, \d+ actions in \S+ \(\d+ actions/s\)\nresults: \S+/results.json\n$`))
		Expect(progress).To(ContainSubstring("interleavings"))
		f, err := os.Open(filepath.Join(dir, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		run, err := reports.ReadJSON(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(run.Campaigns).To(HaveLen(1))
		camp := run.Campaigns[0]
		Expect(camp.Seed).To(BeEquivalentTo(7))
		Expect(camp.Interleavings).To(BeNumerically(">", 0))
		var ids []string
		for _, p := range camp.Properties {
			ids = append(ids, p.ID)
			Expect(p.Checks).To(Equal(p.Holds + p.Violated + p.Unknown))
		}
		Expect(ids).To(ContainElements("P3", "P6", "P7"), "the machine's own properties are counted too")
	})

	It("explores another server through the table API", func() {
		base, _, _, _, _ := serve("--sim-clock")
		out, _, err := fuzz("--server", base, "--duration", "1s", "--seed", "5", "--out", GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(HavePrefix("no property violated: "))
	})

	// campaign reads the campaign a fuzz run wrote into dir.
	campaign := func(dir string) reports.Campaign {
		GinkgoHelper()
		run, err := readResults(filepath.Join(dir, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(run.Campaigns).To(HaveLen(1))
		return run.Campaigns[0]
	}

	It("plays a count of interleavings on several workers, and the same ones as one worker", func() {
		one, two := GinkgoT().TempDir(), GinkgoT().TempDir()
		out1, progress, err := fuzz("--interleavings", "8", "--seed", "21", "--workers", "1", "--out", one)
		Expect(err).NotTo(HaveOccurred(), out1)
		Expect(progress).To(HavePrefix("fuzz: seed 21, 1 worker(s)\n"))
		out2, progress, err := fuzz("--interleavings", "8", "--seed", "21", "--workers", "2", "--out", two)
		Expect(err).NotTo(HaveOccurred(), out2)
		Expect(progress).To(HavePrefix("fuzz: seed 21, 2 worker(s)\n"))
		a, b := campaign(one), campaign(two)
		Expect(a.Interleavings).To(Equal(8))
		Expect(a.Shard).To(BeNil())
		Expect(b.Interleavings).To(Equal(a.Interleavings))
		Expect(b.Actions).To(Equal(a.Actions))
		Expect(b.Properties).To(Equal(a.Properties))
	})

	It("plays its shard, and conflictlab report merges the shards into what one run explores", func() {
		whole := GinkgoT().TempDir()
		_, _, err := fuzz("--interleavings", "9", "--seed", "33", "--out", whole)
		Expect(err).NotTo(HaveOccurred())
		var ins []string
		for i := 1; i <= 3; i++ {
			dir := GinkgoT().TempDir()
			_, progress, err := fuzz("--interleavings", "9", "--seed", "33", "--shard", fmt.Sprintf("%d/3", i), "--out", dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(progress).To(ContainSubstring(fmt.Sprintf(", shard %d/3\n", i)))
			c := campaign(dir)
			Expect(c.Shard).To(Equal(&reports.Shard{Index: i, Count: 3}), "shards count from 1")
			Expect(c.Seed).To(BeEquivalentTo(33))
			Expect(c.Interleavings).To(Equal(3))
			ins = append(ins, "--in", dir)
		}
		merged := GinkgoT().TempDir()
		cmd := newRootCommand()
		cmd.SetArgs(append(append([]string{"report"}, ins...), "--out", merged))
		cmd.SetOut(io.Discard)
		Expect(cmd.Execute()).To(Succeed())
		m, w := campaign(merged), campaign(whole)
		Expect(m.Shards).To(HaveLen(3))
		Expect(m.MissingShards()).To(BeEmpty())
		Expect(m.Seed).To(Equal(w.Seed))
		Expect(m.Interleavings).To(Equal(w.Interleavings))
		Expect(m.Actions).To(Equal(w.Actions))
		Expect(m.Properties).To(Equal(w.Properties))
	})

	It("takes its shard from a Kubernetes Indexed Job, index 0 being shard 1", func() {
		GinkgoT().Setenv("JOB_COMPLETION_INDEX", "0")
		GinkgoT().Setenv("JOB_COMPLETIONS", "4")
		dir := GinkgoT().TempDir()
		_, progress, err := fuzz("--interleavings", "4", "--seed", "8", "--out", dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(progress).To(ContainSubstring(", shard 1/4\n"))
		Expect(campaign(dir).Shard).To(Equal(&reports.Shard{Index: 1, Count: 4}))
		Expect(campaign(dir).Interleavings).To(Equal(1))

		_, _, err = fuzz("--interleavings", "4", "--seed", "8", "--shard", "2/4", "--out", dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(campaign(dir).Shard).To(Equal(&reports.Shard{Index: 2, Count: 4}), "--shard wins over the Job's")

		GinkgoT().Setenv("JOB_COMPLETIONS", "")
		_, _, err = fuzz("--interleavings", "4", "--seed", "8", "--out", dir)
		Expect(err).To(MatchError(ContainSubstring("JOB_COMPLETION_INDEX")))
	})

	DescribeTable("refuses bad flags",
		func(want string, args ...string) {
			_, _, err := fuzz(args...)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("clients", "--clients 5", "--clients", "5"),
		Entry("strategy", `--strategy "lazy"`, "--strategy", "lazy"),
		Entry("duration", "--duration must be positive", "--duration", "0s"),
		Entry("interleavings", "--interleavings -1", "--interleavings", "-1"),
		Entry("workers", "--workers -2", "--workers", "-2"),
		Entry("a shard 0", "--shard: a shard is i/n with 1 ≤ i ≤ n", "--shard", "0/3", "--seed", "1"),
		Entry("a shard past n", "--shard: a shard is i/n with 1 ≤ i ≤ n", "--shard", "4/3", "--seed", "1"),
		Entry("a shard that is not i/n", "--shard: a shard is i/n", "--shard", "two", "--seed", "1"),
		Entry("a shard without a seed", "--shard 2/3 needs --seed", "--shard", "2/3"),
	)

	It("plays one interleaving at a time against another server", func() {
		base, _, _, _, _ := serve("--sim-clock")
		_, _, err := fuzz("--server", base, "--workers", "2", "--duration", "1s", "--out", GinkgoT().TempDir())
		Expect(err).To(MatchError(ContainSubstring("--workers 2: against --server or --target a campaign plays one interleaving at a time")))
	})
})
