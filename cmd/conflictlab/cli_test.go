package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// conflictlab runs this test binary as the conflictlab binary: its output and exit status.
func conflictlab(args ...string) (string, int) {
	GinkgoHelper()
	proc := exec.Command(os.Args[0])
	proc.Env = append(os.Environ(), "CONFLICTLAB_BE_MAIN=1", "CONFLICTLAB_ARGS="+strings.Join(args, " "))
	out, err := proc.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	Expect(err).NotTo(HaveOccurred())
	return string(out), 0
}

var _ = Describe("the command line", func() {
	DescribeTable("exit statuses",
		func(want int, fragment string, args ...string) {
			out, status := conflictlab(args...)
			Expect(status).To(Equal(want), out)
			Expect(out).To(ContainSubstring(fragment))
		},
		Entry("0: everything passed", 0, "1 passed, 0 failed", "run", "--strategy", "cancel", "../../scenarios/catalog/blog-buy-eggs.yaml"),
		Entry("2: an unknown flag", 2, "unknown flag: --nope", "run", "--nope", "x"),
		Entry("2: a bad value", 2, `--strategy "lazy"`, "run", "--strategy", "lazy", "../../scenarios/catalog"),
		Entry("2: a scenario file that is not there", 2, "no such file", "run", "/nonexistent.yaml"),
		Entry("2: a label filter that does not parse, in plain text", 2, "Syntax Error Parsing Label Filter", "run", "--labels", "a||", "../../scenarios/catalog"),
	)

	It("prints no colour codes into a pipe", func() {
		out, _ := conflictlab("run", "--labels", "a||", "../../scenarios/catalog")
		Expect(out).NotTo(ContainSubstring("\x1b["))
	})

	It("exits 1 when a scenario fails", func() {
		dir := GinkgoT().TempDir()
		file := dir + "/wrong.yaml"
		Expect(os.WriteFile(file, []byte(`name: wrong
clients: {phone: {}}
steps:
  - phone: {op: insert, table: todoitem, item: {id: a}}
  - check: {phone: {pending: 0}}
`), 0o644)).To(Succeed())
		out, status := conflictlab("run", file)
		Expect(status).To(Equal(1), out)
		Expect(out).To(ContainSubstring("0 passed, 1 failed"))
	})

	It("exits 130 when interrupted", func() {
		proc := exec.Command(os.Args[0])
		var out bytes.Buffer
		proc.Stdout, proc.Stderr = &out, &out
		proc.Env = append(os.Environ(), "CONFLICTLAB_BE_MAIN=1", "CONFLICTLAB_ARGS=fuzz --duration 1m --out "+GinkgoT().TempDir())
		Expect(proc.Start()).To(Succeed())
		time.Sleep(time.Second)
		Expect(proc.Process.Signal(syscall.SIGINT)).To(Succeed())
		err := proc.Wait()
		var exit *exec.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), out.String())
		Expect(exit.ExitCode()).To(Equal(130), out.String())
		Expect(out.String()).To(ContainSubstring("interrupted"))
	})

	It("says its version", func() {
		out, status := conflictlab("--version")
		Expect(status).To(Equal(0))
		Expect(out).To(MatchRegexp(`^conflictlab \S+ \(go1\.\d+`))
	})

	It("completes the values of --strategy, --client and --dialect", func() {
		complete := func(args ...string) string {
			var out bytes.Buffer
			cmd := newRootCommand()
			cmd.SetArgs(append([]string{"__complete"}, args...))
			cmd.SetOut(&out)
			Expect(cmd.Execute()).To(Succeed())
			return out.String()
		}
		Expect(complete("run", "--strategy", "")).To(HavePrefix("client-wins\nserver-wins\ncancel\nmanual\n"))
		Expect(complete("fuzz", "--client", "")).To(HavePrefix("go\njs\n"))
		Expect(complete("serve", "--dialect", "")).To(HavePrefix("v2\nv1\n"))
	})

	It("keeps, under --strategy, only the scenarios without strategies whose devices use it", func() {
		out, status := conflictlab("run", "--strategy", "cancel", "--labels", "collapse", "../../scenarios/catalog")
		Expect(status).To(Equal(2), out)
		Expect(out).To(ContainSubstring("no scenario matches"), "their devices play manual")
		out, status = conflictlab("run", "--strategy", "manual", "--labels", "collapse", "../../scenarios/catalog")
		Expect(status).To(Equal(0), out)
		Expect(out).To(MatchRegexp(`(?m)^PASS  collapse-after-insert\s`))
	})

	Describe("another client through the driver protocol", func() {
		BeforeEach(func() {
			// The children this test starts as drivers are this binary serving the Go client.
			GinkgoT().Setenv("CONFLICTLAB_BE_MAIN", "1")
			GinkgoT().Setenv("CONFLICTLAB_ARGS", "driver serve")
		})

		It("plays scenarios with --client", func() {
			var out bytes.Buffer
			cmd := newRootCommand()
			cmd.SetArgs([]string{"run", "--client", os.Args[0], "../../scenarios/catalog/blog-buy-eggs.yaml"})
			cmd.SetOut(&out)
			Expect(cmd.Execute()).To(Succeed(), out.String())
			Expect(out.String()).To(ContainSubstring("3 passed, 0 failed, 0 skipped"))
		})

		It("checks a driver and finds nothing wrong with a good one", func() {
			var out bytes.Buffer
			cmd := newRootCommand()
			cmd.SetArgs([]string{"driver", "check", os.Args[0]})
			cmd.SetOut(&out)
			cmd.SetErr(&bytes.Buffer{})
			Expect(cmd.Execute()).To(Succeed(), out.String())
			Expect(out.String()).To(ContainSubstring("driver go (conflictlab client"))
			Expect(out.String()).To(ContainSubstring("no problems found"))
		})
	})

	It("checks a driver that is not one and says so", func() {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs([]string{"driver", "check", "/bin/cat"})
		cmd.SetOut(&out)
		cmd.SetErr(&bytes.Buffer{})
		Expect(cmd.Execute()).To(MatchError(errFailed))
		Expect(out.String()).To(ContainSubstring("PROBLEM  hello:"))
	})
})

var _ = Describe("conflictlab proxy", func() {
	It("forwards to its upstream, with faults and a history on the way", func() {
		upstream, _, _, _, _ := serve("--sim-clock")
		ctx, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		out := &syncBuffer{}
		cmd := newRootCommand()
		cmd.SetArgs([]string{"proxy", "--upstream", upstream, "--addr", "127.0.0.1:0"})
		cmd.SetOut(out)
		cmd.SetErr(&syncBuffer{})
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(ctx) }()
		line := regexp.MustCompile(`proxying (http://127\.0\.0\.1:\d+) to ` + regexp.QuoteMeta(upstream))
		Eventually(out.String).Should(MatchRegexp(line.String()))
		base := line.FindStringSubmatch(out.String())[1]

		req, _ := http.NewRequest("POST", base+"/tables/todoitem", strings.NewReader(`{"id":"e1","text":"eggs"}`))
		req.Header.Set("ZUMO-API-VERSION", "2.0.0")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		res.Body.Close()
		Expect(res.StatusCode).To(Equal(201))
		status, body := get(upstream + "/_conflictlab/tables/todoitem")
		Expect(status).To(Equal(200))
		Expect(body).To(ContainSubstring(`"text":"eggs"`))
		status, body = get(base + "/_conflictlab/history")
		Expect(status).To(Equal(200))
		Expect(body).To(ContainSubstring(`"itemId":"e1"`))
		status, body = get(base + "/_conflictlab/info")
		Expect(body).To(ContainSubstring(`"kind":"proxy"`))
		cancel()
		Eventually(done).Should(Receive(BeNil()))
	})

	It("needs an upstream", func() {
		out, status := conflictlab("proxy")
		Expect(status).To(Equal(2))
		Expect(out).To(ContainSubstring("--upstream is required"))
	})
})

var _ = Describe("certifying a server with run --server", func() {
	DescribeTable("conflictlab serve passes the catalogue in its dialect, every other run skipped with the reason",
		func(dialect string) {
			base, _, _, _, _ := serve("--sim-clock", "--dialect", dialect)
			var out bytes.Buffer
			cmd := newRootCommand()
			cmd.SetArgs([]string{"run", "--server", base, "../../scenarios/catalog"})
			cmd.SetOut(&out)
			cmd.SetErr(&bytes.Buffer{})
			Expect(cmd.Execute()).To(Succeed(), out.String())
			Expect(out.String()).To(MatchRegexp(`\d+ passed, 0 failed, \d+ skipped`))
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, "SKIP") {
					Expect(line).To(ContainSubstring("the scenario speaks"), "the only reason to skip against conflictlab serve is the dialect")
				}
			}
		},
		Entry("v2", "v2"),
		Entry("v1", "v1"),
	)

	DescribeTable("refuses a target it cannot use, with exit status 2 and the reason",
		func(want string, args ...string) {
			out, status := conflictlab(append([]string{"run"}, append(args, "../../scenarios/catalog/blog-buy-eggs.yaml")...)...)
			Expect(status).To(Equal(2), out)
			Expect(out).To(ContainSubstring(want))
			Expect(out).NotTo(ContainSubstring("PASS"), "nothing runs half-way")
		},
		Entry("an unreachable server", "cannot reach the server", "--server", "http://127.0.0.1:1"),
		Entry("not a URL", "want an http:// or https:// base URL", "--server", "ftp://example"),
		Entry("a target file that is not there", "cannot read the target file", "--target", "/nonexistent/target.yaml"),
	)

	It("drives a conflictlab server whose admin API wants a token, given the token", func() {
		base, _, _, _, _ := serve("--sim-clock", "--admin-token", "s3cret")
		run := func() (string, error) {
			var out bytes.Buffer
			cmd := newRootCommand()
			cmd.SetArgs([]string{"run", "--server", base, "../../scenarios/catalog/blog-buy-eggs.yaml"})
			cmd.SetOut(&out)
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			return out.String(), err
		}
		GinkgoT().Setenv("CONFLICTLAB_ADMIN_TOKEN", "")
		_, err := run()
		Expect(err).To(MatchError(ContainSubstring("admin API wants a token")))
		GinkgoT().Setenv("CONFLICTLAB_ADMIN_TOKEN", "s3cret")
		out, err := run()
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("3 passed, 0 failed"))
	})

	It("refuses a server that is not a table server", func() {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>hello</html>"))
		}))
		defer ts.Close()
		out, status := conflictlab("run", "--server", ts.URL, "../../scenarios/catalog/blog-buy-eggs.yaml")
		Expect(status).To(Equal(2), out)
		Expect(out).To(ContainSubstring("does not answer a table query"))
	})

	It("refuses a target file with an error, naming its line", func() {
		file := GinkgoT().TempDir() + "/target.yaml"
		Expect(os.WriteFile(file, []byte("url: http://127.0.0.1:3000\nkind: node\ntables:\n  todoitem: {softDelete: yes please}\n"), 0o644)).To(Succeed())
		out, status := conflictlab("run", "--target", file, "../../scenarios/catalog/blog-buy-eggs.yaml")
		Expect(status).To(Equal(2), out)
		Expect(out).To(ContainSubstring(file + ":4:"))
	})
})
