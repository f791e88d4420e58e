package reports_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
)

// jsonLen is the size of v's compact JSON.
func jsonLen(v any) int {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return len(b)
}

var _ = Describe("results.json", func() {
	It("round-trips every field: targets, clients, devices, histories, campaigns, provenance, limits, inputs", func() {
		run := genRun(genOptions{Seed: 9, Scenarios: 6, FailEvery: 4, Histories: true, Campaign: true, CampaignFails: true,
			Shard: &reports.Shard{Index: 1, Count: 2}})
		run.Inputs = []reports.Input{{Name: "a", Path: "out/a", Provenance: run.Provenance, Counts: run.Counts(), Campaigns: 1}}
		run.Results[0].Set = "a"
		run.Results[0].History.Lanes = []string{"tablet", "phone", "server"}
		run.Results[0].History.Cut = &reports.HistoryCut{Events: 2, Bodies: 1, Reason: "x"}
		got, err := reports.ReadJSON(strings.NewReader(render(reports.WriteJSON, run)))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(run))
	})

	It("names the new fields as documented", func() {
		run := genRun(genOptions{Seed: 1, Scenarios: 1, FailEvery: 1, Campaign: true})
		raw := render(reports.WriteJSON, run.Bounded())
		for _, field := range []string{`"provenance"`, `"goVersion"`, `"command"`, `"targets"`, `"clients"`, `"seeds"`, `"limits"`,
			`"target"`, `"kind": "embedded"`, `"dialect": "v2"`, `"client"`, `"driver": "go"`, `"devices"`, `"strategy": "client-wins"`,
			`"history"`, `"events"`, `"startNs"`, `"endNs"`, `"actor": "phone"`, `"ifMatch"`, `"version"`, `"versionBefore"`,
			`"conflict": true`, `"faults"`, `"action": "drop-response"`, `"requestBody"`, `"rowBefore"`, `"rowAfter"`,
			`"steps"`, `"campaigns"`, `"interleavings"`, `"actions"`, `"checks"`, `"holds"`, `"violated"`} {
			Expect(raw).To(ContainSubstring(field))
		}
	})

	It("is read strictly: an unknown field anywhere is an error that names it", func() {
		for _, doc := range []string{
			`{"server":"embedded","results":[],"surprise":1}`,
			`{"server":"embedded","results":[{"scenario":"a","status":"passed","history":{"events":[{"seq":1,"actor":"x","status":200,"colour":"red"}]}}]}`,
			`{"server":"embedded","results":[],"campaigns":[{"name":"fuzz","status":"passed","seed":1,"interleavings":1,"actions":1,"durationNs":1,"shards":[{"index":1,"count":2,"speed":3}]}]}`,
		} {
			_, err := reports.ReadJSON(strings.NewReader(doc))
			Expect(err).To(MatchError(ContainSubstring("unknown field")), doc)
			Expect(err).To(MatchError(ContainSubstring("not a results.json")), doc)
		}
	})

	It("reads a results.json from before this model, and shows it as it was", func() {
		old := `{"server":"embedded","started":"2024-03-05T14:30:00Z","durationNs":5,"results":[` +
			`{"scenario":"a","strategy":"client-wins","status":"passed","durationNs":1,"steps":2},` +
			`{"scenario":"b","status":"failed","durationNs":1,"steps":2,"failure":{"step":2,"what":"x","expectation":"y","got":"z"}}]}`
		run, err := reports.ReadJSON(strings.NewReader(old))
		Expect(err).NotTo(HaveOccurred())
		md := render(reports.WriteMarkdown, run)
		Expect(md).To(ContainSubstring("| scenario | labels | client-wins | own |\n"))
		Expect(md).To(ContainSubstring("| b |  | – | FAIL step 2 |\n"))
	})
})

var _ = Describe("Bounded", func() {
	// big is a history of n events, each with bodies of size bytes, step by step.
	big := func(n, size int) *reports.History {
		h := &reports.History{Started: genStart}
		body := `{"text":"` + strings.Repeat("é", size/2) + `"}`
		for i := range n {
			h.Events = append(h.Events, reports.Event{Seq: i + 1, Start: time.Duration(i) * time.Millisecond, End: time.Duration(i)*time.Millisecond + 500*time.Microsecond,
				Actor: "phone", Step: 1 + i/10, Method: "PATCH", Path: "/tables/t/x", Status: 200, RequestBody: body, ResponseBody: body})
		}
		for s := range n / 10 {
			h.Steps = append(h.Steps, reports.StepSpan{Index: s + 1, What: "phone: push", Start: time.Duration(s*10) * time.Millisecond, End: time.Duration(s*10+10) * time.Millisecond})
		}
		return h
	}
	result := func(status reports.Status, h *reports.History, failStep int) reports.Result {
		r := reports.Result{Scenario: "s", Strategy: "cancel", Status: status, History: h}
		if status == reports.Failed {
			r.Failure = &reports.Failure{Step: failStep}
		}
		return r
	}

	It("drops passed results' histories unless asked to keep them, and keeps failed ones", func() {
		run := &reports.Run{Results: []reports.Result{result(reports.Passed, big(5, 10), 0), result(reports.Failed, big(5, 10), 1)}}
		b := run.Bounded()
		Expect(b.Results[0].History).To(BeNil())
		Expect(b.Results[1].History).To(Equal(run.Results[1].History))
		Expect(run.Results[0].History).NotTo(BeNil(), "the run given is not changed")

		run.Limits = &reports.Limits{PassingHistories: true}
		b = run.Bounded()
		Expect(b.Results[0].History).To(Equal(run.Results[0].History))
		Expect(b.Limits).To(Equal(&reports.Limits{PassingHistories: true, BodyBytes: 2 << 10, ResultBytes: 256 << 10, TotalBytes: 32 << 20}))
	})

	It("cuts each body at BodyBytes, at a rune boundary, saying how much was cut", func() {
		run := &reports.Run{Limits: &reports.Limits{BodyBytes: 100}, Results: []reports.Result{result(reports.Failed, big(3, 1000), 1)}}
		h := run.Bounded().Results[0].History
		Expect(h.Events).To(HaveLen(3))
		for _, e := range h.Events {
			Expect(len(e.RequestBody)).To(BeNumerically("<=", 100))
			Expect(e.RequestBody).To(MatchRegexp(`^\{"text":"(é)+…\[\d+ bytes cut\]$`))
		}
		Expect(h.Cut).To(Equal(&reports.HistoryCut{Bodies: 6}))
		Expect(run.Results[0].History.Events[0].RequestBody).To(Equal(big(1, 1000).Events[0].RequestBody), "the run given is not changed")
	})

	It("cuts a history to ResultBytes around the failing step", func() {
		run := &reports.Run{Limits: &reports.Limits{ResultBytes: 8 << 10}, Results: []reports.Result{result(reports.Failed, big(100, 200), 7)}}
		h := run.Bounded().Results[0].History
		Expect(jsonLen(h)).To(BeNumerically("<=", 8<<10))
		Expect(h.Cut.Events).To(Equal(100 - len(h.Events)))
		Expect(h.Cut.Reason).To(Equal("the per-result cap of 8 KiB"))
		steps := map[int]int{}
		for _, e := range h.Events {
			steps[e.Step]++
		}
		Expect(steps[7]).To(Equal(10), "every event of the failing step")
		Expect(h.Events[0].Seq).To(BeNumerically(">", 1), "the far ones are left out")
		Expect(h.Events[len(h.Events)-1].Seq).To(BeNumerically("<", 100))
		Expect(h.Steps).To(HaveLen(10), "every step is kept")
	})

	It("keeps all histories within TotalBytes: passed ones left out, failed ones cut to their failing step", func() {
		limits := &reports.Limits{PassingHistories: true, TotalBytes: 64 << 10}
		run := &reports.Run{Limits: limits}
		for i := range 40 {
			status := reports.Passed
			if i%4 == 0 {
				status = reports.Failed
			}
			run.Results = append(run.Results, result(status, big(50, 100), 3))
		}
		b := run.Bounded()
		total, left := 0, 0
		for _, r := range b.Results {
			Expect(r.History).NotTo(BeNil())
			total += jsonLen(r.History)
			if r.Status == reports.Failed {
				Expect(len(r.History.Events)).To(BeNumerically(">=", 10), "a failure keeps its failing step")
				for _, e := range r.History.Events {
					if e.Step == 3 {
						continue
					}
				}
			} else if len(r.History.Events) == 0 {
				left++
				Expect(r.History.Cut.Reason).To(Equal("the cap of 64 KiB on all histories"))
			}
		}
		Expect(left).To(BeNumerically(">", 0))
		Expect(total).To(BeNumerically("<=", 64<<10+10*(16<<10)))
		Expect(b.Bounded()).To(Equal(b), "applying the limits again changes nothing")
	})

	It("keeps a 1,000-result run with histories bounded", func() {
		run := genRun(genOptions{Seed: 4, Scenarios: 400, FailEvery: 50, Histories: true})
		run.Limits.TotalBytes = 2 << 20
		size := func(r *reports.Run) int {
			var b bytes.Buffer
			Expect(reports.WriteJSON(&b, r)).To(Succeed())
			return b.Len()
		}
		bare := *run
		bare.Results = nil
		for _, r := range run.Results {
			r.History = nil
			bare.Results = append(bare.Results, r)
		}
		Expect(size(run)-size(&bare)).To(BeNumerically(">", 4<<20), "the histories alone are more than twice the cap")
		Expect(size(run.Bounded())-size(&bare)).To(BeNumerically("<", 2*(2<<20)), "the cap is of compact JSON: indented, twice as much at most")
	})
})

var _ = Describe("Merge", func() {
	It("keeps each target's results apart, so the matrix shows them side by side", func() {
		a := genRun(genOptions{Seed: 1, Scenarios: 4})
		b := genRun(genOptions{Seed: 1, Scenarios: 4, FailEvery: 3, Target: reports.Target{Kind: "node", URL: "http://127.0.0.1:3000"}})
		m, err := reports.Merge(&reports.Provenance{Command: []string{"conflictlab", "report"}}, reports.Set{Name: "a", Run: a}, reports.Set{Name: "b", Run: b})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Results).To(HaveLen(len(a.Results) + len(b.Results)))
		for _, r := range m.Results {
			Expect(r.Set).To(BeEmpty(), "the target tells them apart")
		}
		Expect(m.Inputs).To(HaveLen(2))
		Expect(m.Inputs[1].Counts).To(Equal(b.Counts()))
		Expect(m.Provenance.Targets).To(ConsistOf(reports.Target{Kind: "embedded", Dialect: "v2"}, reports.Target{Kind: "node", URL: "http://127.0.0.1:3000"}))
		Expect(m.Server).To(Equal("embedded, http://127.0.0.1:3000"))
		md := render(reports.WriteMarkdown, m)
		Expect(md).To(ContainSubstring("| scenario | labels | client-wins · embedded | client-wins · node | server-wins · embedded |"))
		Expect(md).To(ContainSubstring("≠ FAIL step"))
		Expect(md).To(MatchRegexp(`Sides: \*\*embedded\*\* = embedded, dialect v2; client go \(conflictlab/client \(devel\)\) \(\d+ passed, 0 failed, 0 skipped\); \*\*node\*\* = node, http://127.0.0.1:3000; client go`))
	})

	It("names the sets when neither target nor client tells them apart", func() {
		a := genRun(genOptions{Seed: 1, Scenarios: 2})
		b := genRun(genOptions{Seed: 1, Scenarios: 2})
		m, err := reports.Merge(nil, reports.Set{Name: "before", Run: a}, reports.Set{Name: "after", Run: b})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Results[0].Set).To(Equal("before"))
		Expect(m.Results[len(m.Results)-1].Set).To(Equal("after"))
		Expect(render(reports.WriteMarkdown, m)).To(ContainSubstring("| client-wins · before | client-wins · after |"))
	})

	It("merges the shards of a campaign into one, with their counts added up", func() {
		shard := func(i int, fails bool) *reports.Run {
			r := genRun(genOptions{Seed: uint64(i), Scenarios: 0, Campaign: true, CampaignFails: fails, Shard: &reports.Shard{Index: i, Count: 3}})
			r.Results = nil
			return r
		}
		m, err := reports.Merge(nil, reports.Set{Name: "s1", Run: shard(1, false)}, reports.Set{Name: "s3", Run: shard(3, true)}, reports.Set{Name: "s2", Run: shard(2, false)})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Campaigns).To(HaveLen(1))
		c := m.Campaigns[0]
		Expect(c.Shard).To(BeNil())
		Expect(c.Shards).To(HaveLen(3))
		Expect(c.Shards[0].Index).To(Equal(1))
		Expect(c.Shards[2].Status).To(Equal(reports.Failed))
		Expect(c.Status).To(Equal(reports.Failed))
		Expect(c.Interleavings).To(Equal(3 * 1200))
		Expect(c.Actions).To(Equal(3 * 48210))
		Expect(c.Duration).To(Equal(20 * time.Second))
		Expect(c.Seed).To(Equal(uint64(4243)))
		Expect(c.Properties[4]).To(Equal(reports.PropertyCount{ID: "P6", Name: "no silent loss", Checks: 9000, Holds: 8999, Violated: 1}))
		Expect(c.Counterexamples).To(HaveLen(1))
		Expect(c.Counterexamples[0].Shard.Index).To(Equal(3))
		Expect(c.MissingShards()).To(BeEmpty())

		md := render(reports.WriteMarkdown, m)
		Expect(md).To(ContainSubstring("- **Shards:** 1/3, 2/3, 3/3 (failed)\n"))
		Expect(md).To(ContainSubstring("| P6 no silent loss | 9000 | 8999 | 1 | 0 |"))
		Expect(md).To(ContainSubstring("**Counterexample 1** (P6), shard 3/3: seed `4248`, scenario `reports/out/fuzz/counterexample.yaml`"))

		m, err = reports.Merge(nil, reports.Set{Name: "s1", Run: shard(1, false)})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Campaigns[0].MissingShards()).To(Equal([]int{2, 3}))
		Expect(render(reports.WriteMarkdown, m)).To(ContainSubstring("- **Shards:** 1/3; missing 2/3, 3/3\n"))
	})

	It("refuses the same shard twice, naming both sets", func() {
		r := genRun(genOptions{Seed: 1, Campaign: true, Shard: &reports.Shard{Index: 0, Count: 2}})
		_, err := reports.Merge(nil, reports.Set{Name: "x", Run: r}, reports.Set{Name: "y", Run: r})
		Expect(err).To(MatchError(reports.ErrDuplicateShard))
		Expect(err).To(MatchError(ContainSubstring("fuzz shard 0/2 is in x and in y")))
	})

	It("refuses nothing to merge and a set without a run", func() {
		_, err := reports.Merge(nil)
		Expect(err).To(HaveOccurred())
		_, err = reports.Merge(nil, reports.Set{Name: "x"})
		Expect(err).To(MatchError(ContainSubstring("set 1 (x) has no run")))
	})
})

var _ = Describe("timelines in report.html", func() {
	It("carries each history as JSON that cannot close its script element", func() {
		run := genRun(genOptions{Seed: 5, Scenarios: 2, FailEvery: 2})
		for i := range run.Results {
			if h := run.Results[i].History; h != nil {
				h.Events[0].RequestBody = `</script><script>alert(1)</script><!--`
				h.Events[0].Note = "\u2028"
			}
		}
		page := render(reports.WriteHTML, run)
		Expect(page).NotTo(ContainSubstring("<script>alert"))
		Expect(page).NotTo(ContainSubstring("<!--"))
		Expect(page).To(ContainSubstring(`\u003c/script\u003e\u003cscript\u003ealert(1)`))
		Expect(strings.Count(page, `<script type="application/json" class="tl-data">`)).To(Equal(run.Counts().Failed))
		Expect(page).To(ContainSubstring(`<a href="#timeline-1">show what happened on the wire</a>`))
	})

	It("prints the failing step's events in report.md", func() {
		run := genRun(genOptions{Seed: 2, Scenarios: 8, FailEvery: 17})
		run.Results[16].Failure.Step = 5
		md := render(reports.WriteMarkdown, run)
		Expect(md).To(ContainSubstring("- **History** (the failing step and the events before it; the timeline is in report.html):\n"))
		Expect(md).To(MatchRegexp(`#\d+ \+[0-9.]+m?s phone \(step 5\) PATCH /tables/todoitem/e1 If-Match AAAAAAAAAAE= → no answer \(EOF: the answer was dropped\) \[fault drop-response lost\]`))
		Expect(md).To(MatchRegexp(`PATCH /tables/todoitem/e1 If-Match AAAAAAAAAAE= → 412 version AAAAAAAAAAI= conflict`))
	})
})
