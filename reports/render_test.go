package reports_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/reports"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// render returns what write makes of run, failing the spec on an error.
func render(write func(io.Writer, *reports.Run) error, run *reports.Run) string {
	GinkgoHelper()
	var b bytes.Buffer
	Expect(write(&b, run)).To(Succeed())
	return b.String()
}

// lines splits s into its lines.
func lines(s string) []string { return strings.Split(s, "\n") }

// unescapedPipes counts the pipes of a Markdown table row that are not escaped.
func unescapedPipes(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

var _ = Describe("WriteMarkdown", func() {
	var md string
	BeforeEach(func() { md = render(reports.WriteMarkdown, sampleRun()) })

	It("opens with the server, the date, the duration and the summary line", func() {
		Expect(lines(md)[:5]).To(Equal([]string{
			"# conflictlab compatibility report",
			"",
			"Server `http://127.0.0.1:8080`, started 2024-03-05 14:30:00 UTC, took 2.345s.",
			"",
			"**3 passed, 3 failed, 2 skipped**",
		}))
	})

	It("follows the summary with the provenance", func() {
		run := sampleRun()
		run.Provenance = &reports.Provenance{Version: "v0.3.0", Commit: "0123456789abcdef0123", Modified: true, GoVersion: "go1.26.0",
			Platform: "linux/amd64", Date: started, Command: []string{"conflictlab", "run", "--out", "x"},
			Targets: []reports.Target{{Kind: "node", URL: "http://127.0.0.1:3000", Dialect: "v1", Personality: "azure-mobile-apps 4.0.2"}},
			Clients: []reports.Client{{Driver: "js", SDK: "azure-mobile-apps-client", Version: "2.0.1"}}, Seeds: []uint64{7, 42}}
		Expect(lines(render(reports.WriteMarkdown, run))[5:15]).To(Equal([]string{
			"",
			"- conflictlab: `v0.3.0 commit 0123456789ab (modified)`",
			"- Go: `go1.26.0 linux/amd64`",
			"- date: `2024-03-05 14:30:00 UTC`",
			"- command: `conflictlab run --out x`",
			"- targets: `node, http://127.0.0.1:3000, dialect v1, azure-mobile-apps 4.0.2`",
			"- clients: `js (azure-mobile-apps-client 2.0.1)`",
			"- seeds: `7, 42`",
			"- histories: `histories of failed results; bodies cut at 2 KiB, each history at 256 KiB, all at 32 MiB`",
			"",
		}))
	})

	It("shows the matrix: a row per scenario by name, a column per strategy, the own strategy last, totals", func() {
		Expect(md).To(ContainSubstring(strings.Join([]string{
			"## Matrix",
			"",
			"| scenario | labels | client-wins | server-wins | cancel | own |",
			"|---|---|---|---|---|---|",
			`| a\|pipe \<b\>\&co\</b\> | odd\|label | – | – | – | pass |`,
			"| blog-buy-eggs | blog, conflict | pass | FAIL step 4 (P5) | pass | – |",
			"| crash-mid-push | durability | skip | skip | – | – |",
			"| purge-pending | purge | FAIL at end (P2) | FAIL | – | – |",
			"| **total** | | 1✓ 1✗ 1– | 0✓ 2✗ 1– | 1✓ 0✗ 0– | 1✓ 0✗ 0– |",
			"",
		}, "\n")))
	})

	It("puts a scenario without strategies under the strategy its devices used, naming each when they differ", func() {
		run := sampleRun()
		run.Results[3].Devices = []reports.Device{{Name: "phone", Strategy: "manual"}, {Name: "tablet", Strategy: "manual"}}
		md := render(reports.WriteMarkdown, run)
		Expect(md).To(ContainSubstring("| scenario | labels | client-wins | server-wins | cancel | manual |\n"))
		Expect(md).To(ContainSubstring(`| a\|pipe \<b\>\&co\</b\> | odd\|label | – | – | – | pass |`))
		Expect(md).NotTo(ContainSubstring("| own |"))
		run.Results[3].Devices[1].Strategy = "client-wins"
		md = render(reports.WriteMarkdown, run)
		Expect(md).To(ContainSubstring("| scenario | labels | client-wins | server-wins | cancel | mixed |\n"))
		Expect(md).To(ContainSubstring(`| – | – | – | pass (phone: manual, tablet: client-wins) |`))
	})

	It("shows the worst result, and its first failure, when a scenario ran twice under a strategy", func() {
		twice := func(statuses ...reports.Status) string {
			run := &reports.Run{Server: "embedded"}
			for i, st := range statuses {
				res := reports.Result{Scenario: "again", Strategy: "cancel", Status: st}
				if st == reports.Failed {
					res.Failure = &reports.Failure{Step: i + 1}
				}
				run.Results = append(run.Results, res)
			}
			return render(reports.WriteMarkdown, run)
		}
		Expect(twice(reports.Passed, reports.Failed)).To(ContainSubstring("| again |  | FAIL step 2 |\n"))
		Expect(twice(reports.Failed, reports.Passed, reports.Failed)).To(ContainSubstring("| again |  | FAIL step 1 |\n"))
		Expect(twice(reports.Skipped, reports.Passed, reports.Skipped)).To(ContainSubstring("| again |  | pass |\n"))
	})

	It("escapes every pipe in a table cell, so each row of a table has exactly its columns", func() {
		run := sampleRun()
		run.Results[1].Labels = []string{"x|y", "new\nline"}
		run.Results[0].Properties[0].Name = "a|b"
		tables, header := 0, -1
		for _, l := range lines(render(reports.WriteMarkdown, run)) {
			if !strings.HasPrefix(l, "|") {
				header = -1
				continue
			}
			if header < 0 {
				header = unescapedPipes(l)
				tables++
			}
			Expect(unescapedPipes(l)).To(Equal(header), "row %q", l)
		}
		Expect(tables).To(Equal(3), "the matrix, the properties, the properties by column")
	})

	It("tallies each property over the results that checked it, P10 after P5", func() {
		Expect(md).To(ContainSubstring(strings.Join([]string{
			"| property | name | results | holds | violated | unknown |",
			"|---|---|--:|--:|--:|--:|",
			"| P1 | push-before-pull | 3 | 3 | 0 | 0 |",
			"| P2 | purge | 1 | 0 | 1 | 0 |",
			"| P4 | convergence | 1 | 0 | 0 | 1 |",
			"| P5 | strategy | 2 | 1 | 1 | 0 |",
			"| P10 | made-up | 1 | 1 | 0 | 0 |",
			"",
		}, "\n")))
	})

	It("says why each property did not hold", func() {
		Expect(md).To(ContainSubstring("- **P2** purge violated in purge-pending × client-wins: `e2 still there`\n"))
		Expect(md).To(ContainSubstring("- **P4** convergence unknown in purge-pending × client-wins: `a fault was never healed`\n"))
		Expect(md).To(ContainSubstring("- **P5** strategy violated in blog-buy-eggs × server-wins: \n  ```\n  local row kept\n  server row: {\"text\":\"Buy organic eggs\"}\n  ```\n"))
	})

	It("details each failure: step, expectation, what happened, property, rule, requests and replay", func() {
		Expect(md).To(ContainSubstring(strings.Join([]string{
			"### 1. blog-buy-eggs × server-wins",
			"",
			"- **File:** `catalog/blog-buy-eggs.yaml`",
			"- **At:** step 4, line 23: `phone: pull todoitem (queryId all)`",
			"- **Property:** P5",
			"- **Rule:** a 412 answer is resolved by the strategy",
			"- **Expected:** `requests [PATCH /tables/todoitem/e1, GET /tables/todoitem, ...]`",
			"- **Got:** ",
			"  ```",
			"  requests [PATCH /tables/todoitem/e1]",
			`  then error: push-failed <script>alert("x")</script> & 'more' | piped`,
			"  ```",
			"- **Requests:**",
			"  ```",
			"  PATCH /tables/todoitem/e1 412",
			"  GET /tables/todoitem?$filter=a|b 200",
			"  ```",
			"- **Replay:** `conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml`",
			"",
		}, "\n")))
		Expect(md).To(ContainSubstring("### 2. purge-pending × client-wins\n\n- **At:** end-of-scenario checks: `end-of-scenario checks`\n- **Property:** P2\n"))
		Expect(md).To(ContainSubstring("### 3. purge-pending × server-wins\n\n- **At:** not recorded\n- **Expected:** *(empty)*\n- **Got:** *(empty)*\n"))
	})

	It("keeps backticks inside a code span or block from closing it", func() {
		run := sampleRun()
		run.Results[0].Failure.What = "run `x`"
		run.Results[0].Failure.Got = "```\nfenced"
		md := render(reports.WriteMarkdown, run)
		Expect(md).To(ContainSubstring("- **At:** step 4, line 23: `` run `x` ``\n"))
		Expect(md).To(ContainSubstring("- **Got:** \n  ````\n  ```\n  fenced\n  ````\n"))
	})

	It("groups what was skipped by reason", func() {
		Expect(md).To(ContainSubstring(strings.Join([]string{
			"## Skipped scenarios",
			"",
			"**needs the embedded server** (2)",
			"",
			"- crash-mid-push × client-wins",
			"- crash-mid-push × server-wins",
			"",
			"## Skipped steps",
			"",
			"**faults need the embedded server** (1)",
			"",
			"- blog-buy-eggs × cancel, step 3: `fault: drop-response`",
			"",
		}, "\n")))
	})

	It("says so when nothing ran", func() {
		md := render(reports.WriteMarkdown, &reports.Run{Server: "embedded", Duration: 1500 * time.Microsecond})
		Expect(md).To(Equal(strings.Join([]string{
			"# conflictlab compatibility report",
			"",
			"Server `embedded`, took 2ms.",
			"",
			"**0 passed, 0 failed, 0 skipped**",
			"",
			"- histories: `histories of failed results; bodies cut at 2 KiB, each history at 256 KiB, all at 32 MiB`",
			"",
			"## Matrix",
			"",
			"No scenario ran.",
			"",
			"## Properties",
			"",
			"No property was checked.",
			"",
			"## Failures",
			"",
			"None.",
			"",
		}, "\n")))
	})
})

var _ = Describe("WriteHTML", func() {
	var page string
	BeforeEach(func() { page = render(reports.WriteHTML, sampleRun()) })

	It("is one page with its style and its one script inline, and nothing fetched", func() {
		Expect(page).To(HavePrefix("<!DOCTYPE html>"))
		Expect(page).To(ContainSubstring("<style>"))
		Expect(strings.Count(strings.ToLower(page), "<script")).To(Equal(1), "no history, so no timeline data")
		for _, external := range []string{"<link", "src=", "@import", "url(", "http://", "https://", "fetch(", "XMLHttpRequest", "innerHTML", "eval("} {
			Expect(strings.ReplaceAll(page, "http://127.0.0.1:8080", "")).NotTo(ContainSubstring(external))
		}
		Expect(page).To(HaveSuffix("</html>\n"))
	})

	It("opens with the server, the date, the duration and the summary", func() {
		Expect(page).To(ContainSubstring(`<title>conflictlab compatibility report: 3 passed, 3 failed, 2 skipped</title>`))
		Expect(page).To(ContainSubstring(`Server <code>http://127.0.0.1:8080</code>, started 2024-03-05 14:30:00 UTC, took 2.345s.`))
		Expect(page).To(ContainSubstring(`3 passed, <span class="n-fail">3 failed</span>, 2 skipped`))
	})

	It("colours the matrix cells and links each failed one to its failure", func() {
		Expect(page).To(ContainSubstring(`<tr><th class="scenario-col">scenario</th><th title="client-wins">client-wins</th><th title="server-wins">server-wins</th><th title="cancel">cancel</th><th title="own">own</th></tr>`))
		Expect(page).To(ContainSubstring(`<tr class="scenario-row" data-labels="blog conflict" data-status="pass fail" data-name="blog-buy-eggs">` + "\n" +
			`<th scope="row"><span class="name">blog-buy-eggs</span> <a class="file" href="catalog/blog-buy-eggs.yaml" title="the scenario file">blog-buy-eggs.yaml</a>` +
			`<div class="labels"><button type="button" class="label" data-label="blog">blog</button><button type="button" class="label" data-label="conflict">conflict</button></div></th>` +
			`<td class="cell pass">pass</td>` +
			`<td class="cell fail" title="requests [PATCH /tables/todoitem/e1, GET /tables/todoitem, ...]"><a href="#failure-1">FAIL step 4 (P5)</a></td>` +
			`<td class="cell pass">pass</td>` +
			`<td class="cell none" title="did not run here">–</td></tr>`))
		Expect(page).To(ContainSubstring(`<td class="cell skip" title="needs the embedded server">skip</td>`))
		Expect(page).To(ContainSubstring(`<a href="#failure-3">FAIL</a>`))
		Expect(page).To(ContainSubstring(`<section class="failure" id="failure-1">`))
		Expect(page).To(MatchRegexp(`td\.pass \{ background: #[0-9a-f]+; color: #[0-9a-f]+; \}`))
		Expect(page).To(MatchRegexp(`td\.fail \{ background: #[0-9a-f]+;`))
		Expect(page).To(MatchRegexp(`td\.skip \{ background: #[0-9a-f]+;`))
	})

	It("escapes everything that comes from the run", func() {
		Expect(page).NotTo(ContainSubstring("<script>alert"))
		Expect(page).NotTo(ContainSubstring("<b>&co"))
		Expect(page).To(ContainSubstring(`<th scope="row"><span class="name">a|pipe &lt;b&gt;&amp;co&lt;/b&gt;</span><div class="labels"><button type="button" class="label" data-label="odd|label">odd|label</button></div></th>`))
		Expect(page).To(ContainSubstring("<dt>Got</dt><dd><pre>requests [PATCH /tables/todoitem/e1]\n" +
			"then error: push-failed &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;more&#39; | piped</pre></dd>"))
	})

	It("escapes attribute values too", func() {
		run := sampleRun()
		run.Results[0].Failure.Expectation = `"><script>alert(1)</script>`
		page := render(reports.WriteHTML, run)
		Expect(page).NotTo(ContainSubstring("<script>alert"))
		Expect(page).To(ContainSubstring(`title="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`))
	})

	It("shows the properties, the failures in full and what was skipped", func() {
		Expect(page).To(ContainSubstring(`<tr><th scope="row">P5</th><td>strategy</td><td class="num">2</td><td class="num">1</td><td class="num">1</td><td class="num">0</td></tr>`))
		Expect(page).To(ContainSubstring(`<tr><td>P4 convergence</td><td class="verdict-unknown">unknown</td><td>purge-pending</td><td>client-wins</td><td><pre>a fault was never healed</pre></td></tr>`))
		Expect(page).To(ContainSubstring("<h3>1. blog-buy-eggs × server-wins</h3>"))
		Expect(page).To(ContainSubstring("<dt>At</dt><dd>step 4, line 23: <code>phone: pull todoitem (queryId all)</code></dd>"))
		Expect(page).To(ContainSubstring("<dt>Property</dt><dd>P5</dd>\n<dt>Rule</dt><dd>a 412 answer is resolved by the strategy</dd>"))
		Expect(page).To(ContainSubstring("<dt>Requests</dt><dd><pre>PATCH /tables/todoitem/e1 412\nGET /tables/todoitem?$filter=a|b 200</pre></dd>"))
		Expect(page).To(ContainSubstring("<dt>Replay</dt><dd><pre>conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml</pre></dd>"))
		Expect(page).To(ContainSubstring("<h3>3. purge-pending × server-wins</h3>\n<dl class=\"failure\">\n<dt>At</dt><dd>not recorded</dd>\n" +
			"<dt>Expected</dt><dd><em>(empty)</em></dd>\n<dt>Got</dt><dd><em>(empty)</em></dd>\n</dl>"))
		Expect(page).To(ContainSubstring("<h3>needs the embedded server (2)</h3>\n<ul>\n<li>crash-mid-push × client-wins</li>\n<li>crash-mid-push × server-wins</li>\n</ul>"))
		Expect(page).To(ContainSubstring("<li>blog-buy-eggs × cancel, step 3: <code>fault: drop-response</code></li>"))
	})

	It("says so when nothing ran", func() {
		page := render(reports.WriteHTML, &reports.Run{Server: "embedded"})
		Expect(page).To(ContainSubstring("<p>No scenario ran.</p>"))
		Expect(page).To(ContainSubstring("<p>No property was checked.</p>"))
		Expect(page).To(ContainSubstring("<p>None.</p>"))
		Expect(page).NotTo(ContainSubstring("Skipped"))
	})
})

// The JUnit schema as a CI tool reads it, independent of the renderer's own types.
type (
	xmlSuites struct {
		XMLName  xml.Name   `xml:"testsuites"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Time     string     `xml:"time,attr"`
		Suites   []xmlSuite `xml:"testsuite"`
	}
	xmlSuite struct {
		Name       string        `xml:"name,attr"`
		Tests      int           `xml:"tests,attr"`
		Failures   int           `xml:"failures,attr"`
		Skipped    int           `xml:"skipped,attr"`
		Time       string        `xml:"time,attr"`
		Timestamp  string        `xml:"timestamp,attr"`
		Properties []xmlProperty `xml:"properties>property"`
		Cases      []xmlCase     `xml:"testcase"`
	}
	xmlProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	xmlCase struct {
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	}
)

// decodeJUnit decodes junit.xml strictly, failing the spec if it is not well-formed.
func decodeJUnit(s string) xmlSuites {
	GinkgoHelper()
	var doc xmlSuites
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	Expect(dec.Decode(&doc)).To(Succeed())
	return doc
}

var _ = Describe("WriteJUnit", func() {
	var raw string
	var doc xmlSuites
	BeforeEach(func() {
		raw = render(reports.WriteJUnit, sampleRun())
		doc = decodeJUnit(raw)
	})

	It("is XML with the run's totals", func() {
		Expect(raw).To(HavePrefix(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<!-- conflictlab compatibility report\n     targets: other, http://127.0.0.1:8080\n"))
		Expect(raw).To(ContainSubstring("\n-->\n<testsuites"))
		Expect(doc.Tests).To(Equal(8))
		Expect(doc.Failures).To(Equal(3))
		Expect(doc.Skipped).To(Equal(2))
		Expect(doc.Errors).To(Equal(0))
		Expect(doc.Time).To(Equal("2.345"))
	})

	It("has a suite per scenario by name, with its counts and time", func() {
		type counts struct {
			Name                     string
			Tests, Failures, Skipped int
			Time                     string
		}
		var got []counts
		for _, s := range doc.Suites {
			got = append(got, counts{s.Name, s.Tests, s.Failures, s.Skipped, s.Time})
			Expect(s.Timestamp).To(Equal("2024-03-05T14:30:00"))
		}
		Expect(got).To(Equal([]counts{
			{"a|pipe <b>&co</b>", 1, 0, 0, "0.010"},
			{"blog-buy-eggs", 3, 1, 0, "0.300"},
			{"crash-mid-push", 2, 0, 2, "0.000"},
			{"purge-pending", 2, 2, 0, "0.090"},
		}))
		Expect(doc.Suites[1].Properties).To(ConsistOf(
			xmlProperty{"server", "http://127.0.0.1:8080"},
			xmlProperty{"labels", "blog,conflict"},
			xmlProperty{"file", "catalog/blog-buy-eggs.yaml"},
			xmlProperty{"targets", "other, http://127.0.0.1:8080"}))
	})

	It("has a case per strategy, classed by its scenario and named for the strategy", func() {
		var names, classes []string
		for _, s := range doc.Suites {
			for _, c := range s.Cases {
				names = append(names, c.Name)
				classes = append(classes, c.Classname)
			}
		}
		Expect(names).To(Equal([]string{
			"own",
			"client-wins", "server-wins", "cancel",
			"client-wins", "server-wins",
			"client-wins", "server-wins",
		}))
		Expect(classes).To(Equal([]string{"a|pipe <b>&co</b>", "blog-buy-eggs", "blog-buy-eggs", "blog-buy-eggs",
			"crash-mid-push", "crash-mid-push", "purge-pending", "purge-pending"}))
		Expect(doc.Suites[1].Cases[0].Time).To(Equal("0.100"))
	})

	It("names the target and client too when there are several", func() {
		a, b := sampleRun(), sampleRun()
		for i := range b.Results {
			b.Results[i].Target = &reports.Target{Kind: "node", URL: "http://127.0.0.1:3000"}
			b.Results[i].Client = &reports.Client{Driver: "js", Version: "2.0.1"}
		}
		merged, err := reports.Merge(nil, reports.Set{Name: "a", Run: a}, reports.Set{Name: "b", Run: b})
		Expect(err).NotTo(HaveOccurred())
		doc := decodeJUnit(render(reports.WriteJUnit, merged))
		Expect(doc.Tests).To(Equal(16))
		var names []string
		for _, c := range doc.Suites[1].Cases {
			names = append(names, c.Classname+": "+c.Name)
		}
		Expect(names).To(Equal([]string{
			"blog-buy-eggs: client-wins [other · client ?]", "blog-buy-eggs: client-wins [node · js 2.0.1]",
			"blog-buy-eggs: server-wins [other · client ?]", "blog-buy-eggs: server-wins [node · js 2.0.1]",
			"blog-buy-eggs: cancel [other · client ?]", "blog-buy-eggs: cancel [node · js 2.0.1]",
		}))
	})

	It("tells each failure: message, property as type, and the story as text", func() {
		f := doc.Suites[1].Cases[1].Failure
		Expect(f).NotTo(BeNil())
		Expect(f.Message).To(Equal("step 4 (P5): expected requests [PATCH /tables/todoitem/e1, GET /tables/todoitem, ...]"))
		Expect(f.Type).To(Equal("P5"))
		Expect(f.Text).To(Equal(strings.Join([]string{
			"step 4, line 23: phone: pull todoitem (queryId all)",
			"property: P5",
			"rule: a 412 answer is resolved by the strategy",
			"expected: requests [PATCH /tables/todoitem/e1, GET /tables/todoitem, ...]",
			"got: requests [PATCH /tables/todoitem/e1]",
			`  then error: push-failed <script>alert("x")</script> & 'more' | piped`,
			"requests:",
			"  PATCH /tables/todoitem/e1 412",
			"  GET /tables/todoitem?$filter=a|b 200",
			"replay: conflictlab run --strategy server-wins catalog/blog-buy-eggs.yaml",
			"",
		}, "\n")))
		Expect(raw).NotTo(ContainSubstring("<script>"))
		Expect(raw).To(ContainSubstring("got: requests [PATCH /tables/todoitem/e1]\n  then error"), "line breaks stay readable")

		Expect(doc.Suites[3].Cases[0].Failure.Message).To(Equal("at end (P2): expected P2 holds"))
		Expect(doc.Suites[3].Cases[1].Failure.Message).To(Equal("failed"))
		Expect(doc.Suites[3].Cases[1].Failure.Text).To(BeEmpty())
	})

	It("marks skipped results with their reason and lists skipped steps as output", func() {
		for _, c := range doc.Suites[2].Cases {
			Expect(c.Skipped).NotTo(BeNil())
			Expect(c.Skipped.Message).To(Equal("needs the embedded server"))
			Expect(c.Failure).To(BeNil())
		}
		Expect(doc.Suites[1].Cases[0].Skipped).To(BeNil())
		Expect(doc.Suites[1].Cases[0].Failure).To(BeNil())
		Expect(doc.Suites[1].Cases[2].SystemOut).To(Equal("skipped step 3 (fault: drop-response): faults need the embedded server\n"))
	})

	It("stays valid XML when the output holds characters XML cannot", func() {
		run := sampleRun()
		run.Results[0].Failure.Got = "\x1b[31mred\x1b[0m ]]> \x00"
		run.Results[0].Failure.Expectation = "tab\there\r\nand \x07 bell"
		doc := decodeJUnit(render(reports.WriteJUnit, run))
		f := doc.Suites[1].Cases[1].Failure
		Expect(f.Text).To(ContainSubstring("got: \uFFFD[31mred\uFFFD[0m ]]> \uFFFD\n"))
		Expect(f.Message).To(Equal("step 4 (P5): expected tab\there"))
	})
})

var _ = Describe("WriteJSON and ReadJSON", func() {
	It("round-trip a run", func() {
		run := sampleRun()
		got, err := reports.ReadJSON(strings.NewReader(render(reports.WriteJSON, run)))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(run))
	})
})

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

var errWrite = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

var _ = DescribeTable("every renderer returns the writer's error",
	func(write func(io.Writer, *reports.Run) error, after int) {
		Expect(write(&failingWriter{n: after}, sampleRun())).To(MatchError(errWrite))
	},
	Entry("Markdown, at once", reports.WriteMarkdown, 0),
	Entry("Markdown, midway", reports.WriteMarkdown, 1000),
	Entry("HTML, at once", reports.WriteHTML, 0),
	Entry("HTML, midway", reports.WriteHTML, 4000),
	Entry("JUnit, at once", reports.WriteJUnit, 0),
	Entry("JUnit, midway", reports.WriteJUnit, 500),
	Entry("JSON", reports.WriteJSON, 0),
)

var _ = Describe("WriteAll", func() {
	var dir string
	BeforeEach(func() { dir = filepath.Join(GinkgoT().TempDir(), "out", "report") })

	// tempFiles lists what a write left behind besides the reports.
	tempFiles := func() []string {
		GinkgoHelper()
		matches, err := filepath.Glob(filepath.Join(dir, ".*.tmp"))
		Expect(err).NotTo(HaveOccurred())
		return matches
	}

	It("writes every file into a directory it creates, as each renderer does with the bounded run", func() {
		run := sampleRun().Bounded()
		Expect(run.Limits).To(Equal(&reports.DefaultLimits))
		Expect(reports.WriteAll(dir, sampleRun())).To(Succeed())
		for name, write := range map[string]func(io.Writer, *reports.Run) error{
			"results.json": reports.WriteJSON, "report.md": reports.WriteMarkdown,
			"report.html": reports.WriteHTML, "junit.xml": reports.WriteJUnit,
		} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			if name == "report.html" {
				// Scenario files are linked from where the page is, the current directory
				// being where their paths start.
				wd, err := os.Getwd()
				Expect(err).NotTo(HaveOccurred())
				base, err := filepath.Rel(dir, wd)
				Expect(err).NotTo(HaveOccurred())
				link := `href="` + filepath.ToSlash(base) + `/catalog/blog-buy-eggs.yaml"`
				Expect(string(data)).To(ContainSubstring(link))
				data = []byte(strings.ReplaceAll(string(data), link, `href="catalog/blog-buy-eggs.yaml"`))
			}
			Expect(string(data)).To(Equal(render(write, run)), name)
			info, err := os.Stat(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o644)), name)
		}
		entries, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(4))

		f, err := os.Open(filepath.Join(dir, "results.json"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		Expect(reports.ReadJSON(f)).To(Equal(run))
	})

	It("replaces the files of an earlier run", func() {
		Expect(reports.WriteAll(dir, sampleRun())).To(Succeed())
		Expect(reports.WriteAll(dir, &reports.Run{Server: "embedded"})).To(Succeed())
		md, err := os.ReadFile(filepath.Join(dir, "report.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(ContainSubstring("**0 passed, 0 failed, 0 skipped**"))
		Expect(tempFiles()).To(BeEmpty())
	})

	It("names the file it could not write, writes the others and leaves no temporary file", func() {
		Expect(os.MkdirAll(filepath.Join(dir, "report.html", "in-the-way"), 0o755)).To(Succeed())
		err := reports.WriteAll(dir, sampleRun())
		Expect(err).To(MatchError(ContainSubstring(filepath.Join(dir, "report.html"))))
		Expect(err.Error()).NotTo(ContainSubstring("report.md"))
		for _, name := range []string{"results.json", "report.md", "junit.xml"} {
			Expect(filepath.Join(dir, name)).To(BeARegularFile())
		}
		Expect(tempFiles()).To(BeEmpty())
	})

	It("fails when the directory cannot be made", func() {
		file := filepath.Join(GinkgoT().TempDir(), "a-file")
		Expect(os.WriteFile(file, nil, 0o644)).To(Succeed())
		Expect(reports.WriteAll(filepath.Join(file, "out"), sampleRun())).To(MatchError(ContainSubstring(file)))
	})
})
