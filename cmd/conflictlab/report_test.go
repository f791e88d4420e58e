package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
)

var _ = Describe("conflictlab report", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	// set writes a result set into dir/name: a passing and a failing result against
	// target, and a campaign shard when shard is set.
	set := func(name string, target reports.Target, fails bool, shard *reports.Shard) string {
		GinkgoHelper()
		res := func(strategy string, status reports.Status) reports.Result {
			r := reports.Result{Scenario: "blog-buy-eggs", Strategy: strategy, Status: status, Target: &target,
				Client:  &reports.Client{Driver: "go"},
				Devices: []reports.Device{{Name: "phone", Strategy: strategy}}}
			if status == reports.Failed {
				r.Failure = &reports.Failure{Step: 4, Property: "P5"}
				r.History = &reports.History{Events: []reports.Event{{Seq: 1, Actor: "phone", Method: "PATCH", Path: "/tables/todoitem/e1", Status: 412}}}
			}
			return r
		}
		status := reports.Passed
		if fails {
			status = reports.Failed
		}
		run := &reports.Run{Server: target.URL, Started: time.Now(), Results: []reports.Result{res("client-wins", reports.Passed), res("server-wins", status)}}
		if shard != nil {
			run.Results = nil
			run.Campaigns = []reports.Campaign{{Name: "fuzz", Status: reports.Passed, Seed: uint64(100 * shard.Index), Shard: shard,
				Interleavings: 10, Actions: 100, Duration: time.Second, Properties: []reports.PropertyCount{{ID: "P3", Name: "queue", Checks: 5, Holds: 5}}}}
		}
		out := filepath.Join(dir, name)
		Expect(reports.WriteAll(out, run)).To(Succeed())
		return out
	}
	report := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs(append([]string{"report"}, args...))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.Execute()
		return out.String(), err
	}
	read := func(path string) string {
		GinkgoHelper()
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		return string(b)
	}

	It("puts two targets side by side and marks where they differ", func() {
		embedded := set("embedded", reports.Target{Kind: "embedded"}, false, nil)
		node := set("node", reports.Target{Kind: "node", URL: "http://127.0.0.1:3000"}, true, nil)
		out := filepath.Join(dir, "compare")
		stdout, err := report("--in", embedded, "--in", node, "--out", out)
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(ContainSubstring(filepath.Join(embedded, "results.json") + ": 2 passed, 0 failed, 0 skipped\n"))
		Expect(stdout).To(ContainSubstring(filepath.Join(node, "results.json") + ": 1 passed, 1 failed, 0 skipped\n"))
		Expect(stdout).To(ContainSubstring("together: 3 passed, 1 failed, 0 skipped\nreport: " + out + "\n"))
		md := read(filepath.Join(out, "report.md"))
		Expect(md).To(ContainSubstring("| scenario | labels | client-wins · embedded | client-wins · node | server-wins · embedded | server-wins · node |\n"))
		Expect(md).To(ContainSubstring("| blog-buy-eggs |  | pass | pass | ≠ pass | ≠ FAIL step 4 (P5) |\n"))
		Expect(md).To(ContainSubstring("- command: `conflictlab "))
		Expect(read(filepath.Join(out, "report.html"))).To(ContainSubstring(`<th class="side" title="server-wins on node, http://127.0.0.1:3000; client go">node</th>`))
		merged, err := readResults(filepath.Join(out, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(merged.Inputs).To(HaveLen(2))
		Expect(merged.Results).To(HaveLen(4))
		Expect(read(filepath.Join(out, "junit.xml"))).To(ContainSubstring(`<testcase name="server-wins [node]" classname="blog-buy-eggs"`))
	})

	It("names sets given as NAME=DIR when neither target nor client tells them apart", func() {
		a := set("a", reports.Target{Kind: "embedded"}, false, nil)
		b := set("b", reports.Target{Kind: "embedded"}, true, nil)
		out := filepath.Join(dir, "compare")
		_, err := report("--in", "before="+a, "--in", "after="+filepath.Join(b, "results.json"), "--out", out)
		Expect(err).NotTo(HaveOccurred())
		Expect(read(filepath.Join(out, "report.md"))).To(ContainSubstring("| client-wins · before | client-wins · after |"))
	})

	It("merges the shards of a campaign", func() {
		var args []string
		for i := range 3 {
			args = append(args, "--in", set("shard-"+string(rune('0'+i)), reports.Target{Kind: "embedded"}, false, &reports.Shard{Index: i, Count: 3}))
		}
		out := filepath.Join(dir, "campaign")
		_, err := report(append(args, "--out", out)...)
		Expect(err).NotTo(HaveOccurred())
		merged, err := readResults(filepath.Join(out, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(merged.Campaigns).To(HaveLen(1))
		Expect(merged.Campaigns[0].Interleavings).To(Equal(30))
		Expect(merged.Campaigns[0].Shards).To(HaveLen(3))
		Expect(read(filepath.Join(out, "report.md"))).To(ContainSubstring("- **Shards:** 0/3, 1/3, 2/3\n"))
	})

	It("renders one set again as it was", func() {
		a := set("a", reports.Target{Kind: "embedded"}, true, nil)
		out := filepath.Join(dir, "again")
		_, err := report("--in", a, "--out", out)
		Expect(err).NotTo(HaveOccurred())
		for _, f := range []string{"results.json", "report.md", "report.html", "junit.xml"} {
			Expect(read(filepath.Join(out, f))).To(Equal(read(filepath.Join(a, f))), f)
		}
	})

	DescribeTable("refuses bad input with a clear error",
		func(want string, args func(dir string) []string) {
			_, err := report(args(dir)...)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no --in", "--in and --out are both needed", func(string) []string { return []string{"--out", "x"} }),
		Entry("no --out", "--in and --out are both needed", func(d string) []string { return []string{"--in", d} }),
		Entry("a missing directory", "no such file", func(d string) []string { return []string{"--in", filepath.Join(d, "nope"), "--out", d} }),
		Entry("a directory without results.json", "results.json: no such file", func(d string) []string { return []string{"--in", d, "--out", d} }),
		Entry("not a results.json", "not a results.json", func(d string) []string {
			Expect(os.WriteFile(filepath.Join(d, "results.json"), []byte(`{"server":1}`), 0o644)).To(Succeed())
			return []string{"--in", d, "--out", filepath.Join(d, "o")}
		}),
		Entry("the same set twice", "the same results.json as --in", func(d string) []string {
			Expect(reports.WriteAll(d, &reports.Run{Server: "embedded"})).To(Succeed())
			return []string{"--in", d, "--in", filepath.Join(d, "results.json"), "--out", filepath.Join(d, "o")}
		}),
		Entry("the same shard twice", "the same shard of a campaign twice", func(d string) []string {
			run := &reports.Run{Campaigns: []reports.Campaign{{Name: "fuzz", Shard: &reports.Shard{Index: 1, Count: 2}}}}
			Expect(reports.WriteAll(filepath.Join(d, "x"), run)).To(Succeed())
			Expect(reports.WriteAll(filepath.Join(d, "y"), run)).To(Succeed())
			return []string{"--in", filepath.Join(d, "x"), "--in", filepath.Join(d, "y"), "--out", filepath.Join(d, "o")}
		}),
	)

	It("says how to use it", func() {
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs([]string{"report", "--help"})
		cmd.SetOut(&out)
		Expect(cmd.Execute()).To(Succeed())
		Expect(out.String()).To(ContainSubstring("--in out/embedded --in out/node"))
		Expect(strings.Count(out.String(), "--in")).To(BeNumerically(">", 5))
	})
})
