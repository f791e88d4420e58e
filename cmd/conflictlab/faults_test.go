package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/conflictlab/conflictlab/fakeserver"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// faultsCLI runs `conflictlab faults args...` and returns what it printed and its error.
func faultsCLI(stdin string, args ...string) (string, error) {
	GinkgoHelper()
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(append([]string{"faults"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	err := cmd.Execute()
	return out.String(), err
}

var _ = Describe("conflictlab faults", func() {
	var base string
	BeforeEach(func() {
		base, _, _, _, _ = serve("--seed", "3")
	})
	tableGet := func(path string) int {
		GinkgoHelper()
		status, _ := get(base+path, "ZUMO-API-VERSION", "2.0.0")
		return status
	}

	It("adds a rule from flags, lists it with its counters, removes it", func() {
		out, err := faultsCLI("", "add", "--server", base, "--action", "status", "--param", "code=503", "--method", "GET", "--times", "1")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(`added f1: status {"code":503} on {"method":["GET"],"times":1}` + "\n"))

		out, err = faultsCLI("", "list", "--server", base)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`ID\s+ACTION\s+PARAMS\s+MATCH\s+MATCHED\s+FIRED\n`))
		Expect(out).To(MatchRegexp(`f1\s+status\s+\{"code":503\}\s+\{"method":\["GET"\],"times":1\}\s+0\s+0\n`))

		Expect(tableGet("/tables/todoitem")).To(Equal(http.StatusServiceUnavailable))
		Expect(tableGet("/tables/todoitem")).To(Equal(http.StatusOK), "times: 1")
		out, err = faultsCLI("", "list", "--server", base+"/_conflictlab/", "--json")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(And(ContainSubstring(`"matched": 2`), ContainSubstring(`"fired": 1`)))

		out, err = faultsCLI("", "remove", "--server", base, "f1")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("removed f1\n"))
		out, err = faultsCLI("", "list", "--server", base)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("no fault rules in force\n"))
	})

	It("adds the rules of a YAML file, or of stdin, all together, and heals them", func() {
		file := filepath.Join(GinkgoT().TempDir(), "faults.yaml")
		Expect(os.WriteFile(file, []byte("- id: slow\n  action: latency\n  params: {ms: 5}\n- id: down\n  match: {op: insert}\n  action: status\n  params: {code: 500}\n"), 0o644)).To(Succeed())
		out, err := faultsCLI("", "add", "--server", base, "-f", file)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("added slow: latency {\"ms\":5} on every request\nadded down: status {\"code\":500} on {\"op\":[\"insert\"]}\n"))
		out, err = faultsCLI(`{"id":"gone","action":"offline","match":{"client":"tablet"}}`, "add", "--server", base, "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("added gone: offline"))

		_, err = faultsCLI("- id: slow\n  action: reset\n- id: other\n  action: reset\n", "add", "--server", base, "-f", "-")
		Expect(err).To(MatchError(ContainSubstring(`a rule with id "slow" is already in force`)))
		out, _ = faultsCLI("", "list", "--server", base)
		Expect(out).NotTo(ContainSubstring("other"), "none of a refused list goes in")

		out, err = faultsCLI("", "heal", "--server", base)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("healed 3 fault rule(s)\n"))
	})

	DescribeTable("names what is wrong with a rule before sending it",
		func(want string, args ...string) {
			for i, a := range args {
				if a == "{bad-rule-file}" { // made here, in the spec's own temporary directory
					args[i] = filepath.Join(GinkgoT().TempDir(), "rules.yaml")
					Expect(os.WriteFile(args[i], []byte("action: nope\n"), 0o644)).To(Succeed())
				}
			}
			out, err := faultsCLI("", append([]string{"add", "--server", base}, args...)...)
			Expect(err).To(MatchError(ContainSubstring(want)), out)
			out, _ = faultsCLI("", "list", "--server", base)
			Expect(out).To(Equal("no fault rules in force\n"))
		},
		Entry("no action", "give the rule's --action", "--method", "GET"),
		Entry("an unknown action", `action: unknown action "explode"`, "--action", "explode"),
		Entry("a bad parameter", "params.ms: must be between 0", "--action", "latency", "--param", "ms=-1"),
		Entry("a parameter without a value", `--param "ms": want key=value`, "--action", "latency", "--param", "ms"),
		Entry("an unknown method", `match.method: unknown method "FETCH"`, "--action", "reset", "--method", "FETCH"),
		Entry("a probability out of range", "match.probability: must be between 0 and 1", "--action", "reset", "--probability", "2"),
		Entry("flags and a file", "not both", "--action", "reset", "-f", "x.yaml"),
		Entry("a file with a bad rule", `rules.yaml:1:1: action: unknown action "nope"`, "-f", "{bad-rule-file}"),
	)

	It("manages the rules of a conflictlab proxy too", func() {
		upstream := fakeserver.New(fakeserver.Config{}).Start()
		DeferCleanup(upstream.Close)
		proxy := fakeserver.New(fakeserver.Config{Upstream: upstream.URL}).Start()
		DeferCleanup(proxy.Close)
		out, err := faultsCLI("", "add", "--server", proxy.URL, "--action", "drop-response", "--op", "insert", "--times", "1")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("added f1: drop-response"))
		out, err = faultsCLI("", "list", "--server", proxy.URL)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`f1\s+drop-response`))
		_, err = faultsCLI("", "add", "--server", proxy.URL, "--action", "clock-freeze")
		Expect(err).To(MatchError(ContainSubstring("clock-freeze")), "a proxy has no clock to freeze")
	})

	It("says when the rule to remove is not in force", func() {
		_, err := faultsCLI("", "remove", "--server", base, "nope")
		Expect(err).To(MatchError(`remove nope: no fault rule "nope" is in force`))
	})

	It("says clearly when the server is not a conflictlab server, or not there", func() {
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>hello</html>"))
		}))
		DeferCleanup(other.Close)
		_, err := faultsCLI("", "list", "--server", other.URL)
		Expect(err).To(MatchError(And(ContainSubstring(other.URL+" does not look like a conflictlab server"),
			ContainSubstring("GET /_conflictlab/faults answered 200 OK (text/html)"))))

		jsonAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found"}`))
		}))
		DeferCleanup(jsonAPI.Close)
		_, err = faultsCLI("", "heal", "--server", jsonAPI.URL)
		Expect(err).To(MatchError(ContainSubstring("does not look like a conflictlab server: DELETE /_conflictlab/faults answered 404 Not Found")))

		other.Close()
		_, err = faultsCLI("", "list", "--server", other.URL)
		Expect(err).To(MatchError(ContainSubstring("cannot reach the conflictlab server at " + other.URL)))
		_, err = faultsCLI("", "list", "--server", "127.0.0.1:8080")
		Expect(err).To(MatchError(ContainSubstring("give the server's URL")))
	})

	It("sends the admin token of a server that wants one, and says when it is missing", func() {
		_, stdout, _, _, _ := serve("--admin-addr", "127.0.0.1:0", "--admin-token", "s3cret")
		admin := regexp.MustCompile(`admin API at (http://\S+)/_conflictlab/`).FindStringSubmatch(stdout.String())[1]
		_, err := faultsCLI("", "list", "--server", admin)
		Expect(err).To(MatchError(ContainSubstring("missing or wrong admin token")))
		Expect(err).To(MatchError(ContainSubstring("--admin-token")))
		out, err := faultsCLI("", "add", "--server", admin, "--admin-token", "s3cret", "--action", "clock-freeze")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("added f1: clock-freeze"))
	})
})
