package reports_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/reports"
)

// The browser specs open generated reports in headless Chromium (Debian's package; `make
// test` installs it when missing and root) and check that the page renders and works. They
// skip, saying why, where there is no Chromium, unless CONFLICTLAB_REQUIRE_CHROMIUM is set
// (make test sets it where it could install Chromium), and then they fail.
//
// Screenshots go to reports/out/ (git-ignored); CONFLICTLAB_SCREENSHOT=PATH also writes
// the README's screenshot there (make screenshot).

// chromiumPath finds Chromium: $CHROMIUM, /usr/bin/chromium, or chromium on PATH.
func chromiumPath() (string, error) {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no Chromium at /usr/bin/chromium, $CHROMIUM or on PATH (install Debian's chromium: apt-get install -y chromium)")
}

// outDir is where the specs write reports and screenshots: reports/out/browser.
var outDir = filepath.Join("out", "browser")

// page is one open tab and what its console said.
type page struct {
	ctx  context.Context
	mu   sync.Mutex
	msgs []string
}

// problems are the console errors, warnings and exceptions the page has had so far.
func (p *page) problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

var _ = Describe("report.html in a browser", Label("browser"), Ordered, ContinueOnFailure, func() {
	var browser context.Context

	BeforeAll(func() {
		path, err := chromiumPath()
		if err != nil {
			if os.Getenv("CONFLICTLAB_REQUIRE_CHROMIUM") != "" {
				Fail("CONFLICTLAB_REQUIRE_CHROMIUM is set but " + err.Error())
			}
			Skip("browser specs skipped: " + err.Error())
		}
		// These flags keep Chromium from reaching out (it has no network here, and its
		// attempts make connections fail) and from needing a sandbox or a GPU.
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Flag("headless", true),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(GinkgoT().TempDir()),
			chromedp.WindowSize(1600, 1000),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		DeferCleanup(cancelAlloc)
		ctx, cancel := chromedp.NewContext(alloc)
		DeferCleanup(cancel)
		// The browser lives as long as the context of its first action: no timeout here.
		Expect(chromedp.Do(ctx)).To(Succeed(), "starting %s", path)
		browser = ctx
		Expect(os.MkdirAll(outDir, 0o755)).To(Succeed())
	})

	// write renders run into out/browser/NAME and returns the report.html's path.
	write := func(name string, run *reports.Run) string {
		GinkgoHelper()
		dir := filepath.Join(outDir, name)
		Expect(reports.WriteAll(dir, run)).To(Succeed())
		abs, err := filepath.Abs(filepath.Join(dir, "report.html"))
		Expect(err).NotTo(HaveOccurred())
		return abs
	}

	// open opens file in a new tab, listening to its console from the start.
	open := func(file string) *page {
		GinkgoHelper()
		ctx, cancel := chromedp.NewContext(browser)
		DeferCleanup(cancel)
		p := &page{ctx: ctx}
		Expect(chromedp.Do(ctx)).To(Succeed(), "opening a tab")
		messages := chromedp.Console(ctx)
		go func() {
			for m, err := range messages {
				if err != nil {
					return
				}
				if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
					p.mu.Lock()
					p.msgs = append(p.msgs, m.String())
					p.mu.Unlock()
				}
			}
		}()
		do(p, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("#matrix")))
		return p
	}

	// screenshot saves the page (the whole of it, or the element sel) as out/NAME.png.
	screenshot := func(p *page, name, sel string) []byte {
		GinkgoHelper()
		var png []byte
		if sel == "" {
			png = get(p, chromedp.FullScreenshot(90))
		} else {
			do(p, chromedp.ScrollIntoView(chromedp.CSS(sel)))
			png = get(p, chromedp.Screenshot(chromedp.CSS(sel)))
		}
		Expect(os.WriteFile(filepath.Join("out", name+".png"), png, 0o644)).To(Succeed())
		return png
	}

	count := func(p *page, js string) int {
		GinkgoHelper()
		return get(p, chromedp.Evaluate[int](js))
	}
	text := func(p *page, js string) string {
		GinkgoHelper()
		return get(p, chromedp.Evaluate[string](js))
	}
	visibleRows := func(p *page) int {
		return count(p, `[...document.querySelectorAll("#matrix-table tbody tr.scenario-row")].filter(r => !r.hidden && r.offsetParent !== null).length`)
	}
	noProblems := func(p *page) {
		GinkgoHelper()
		Expect(p.problems()).To(BeEmpty(), "the console")
	}

	It("shows an all-green run: provenance, matrix with totals, legend, filter", func() {
		r := genRun(genOptions{Seed: 1, Scenarios: 12, Campaign: true})
		p := open(write("all-green", r))
		Expect(count(p, `document.querySelectorAll("#provenance tr").length`)).To(BeNumerically(">=", 5))
		rows := count(p, `document.querySelectorAll("#matrix-table tbody tr.scenario-row").length`)
		Expect(rows).To(Equal(12))
		Expect(count(p, `document.querySelectorAll("#matrix-table td.cell.fail").length`)).To(BeZero())
		Expect(count(p, `document.querySelectorAll("#matrix-table tfoot td.total").length`)).To(Equal(5), "client-wins, server-wins, cancel, manual, mixed")
		headers := text(p, `[...document.querySelectorAll("#matrix-table thead th")].map(th => th.textContent).join("|")`)
		Expect(headers).To(Equal("scenario|client-wins|server-wins|cancel|manual|mixed"))
		Expect(count(p, `document.querySelectorAll("section.campaign").length`)).To(Equal(1))
		Expect(count(p, `document.querySelectorAll("#prop-matrix th").length`)).To(BeNumerically(">", 8), "P3, P6, P8, P9 from the campaign")
		propIDs := text(p, `[...document.querySelectorAll("#prop-matrix tbody th")].map(th => th.textContent.split(" ")[0]).join(",")`)
		Expect(propIDs).To(Equal("P1,P2,P3,P4,P5,P6,P7,P8,P9"))

		// The filter: a status with nothing in it hides every row; a label shows its own.
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="fail"]`)))
		Expect(visibleRows(p)).To(BeZero())
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="all"]`)))
		Expect(visibleRows(p)).To(Equal(12))
		do(p, chromedp.Click(chromedp.CSS(`#matrix-table button.label[data-label="purge"]`)))
		purge := visibleRows(p)
		Expect(purge).To(BeNumerically(">", 0))
		Expect(purge).To(BeNumerically("<", 12))
		Expect(count(p, `[...document.querySelectorAll("#matrix-table tbody tr.scenario-row")].filter(r => !r.hidden && !r.dataset.labels.split(" ").includes("purge")).length`)).To(BeZero())
		shown := get(p, chromedp.Text(chromedp.CSS("#shown-count")))
		Expect(shown).To(Equal(fmt.Sprintf("%d of 12 scenarios", purge)))
		do(p, chromedp.Click(chromedp.CSS(`#matrix-table button.label[data-label="purge"]`)))
		Expect(visibleRows(p)).To(Equal(12))
		// The description folds out.
		do(p, chromedp.Click(chromedp.CSS(`#matrix-table details.desc summary`)))
		Expect(count(p, `document.querySelectorAll("#matrix-table details.desc[open]").length`)).To(Equal(1))
		screenshot(p, "all-green", "")
		noProblems(p)
	})

	It("shows one failure: its cell links to it, and its timeline draws lanes, steps and boxes with details on click", func() {
		r := genRun(genOptions{Seed: 2, Scenarios: 8, FailEvery: 17})
		Expect(r.Counts().Failed).To(Equal(1))
		p := open(write("one-failure", r))
		Expect(count(p, `document.querySelectorAll("#matrix-table td.cell.fail").length`)).To(Equal(1))
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="fail"]`)))
		Expect(visibleRows(p)).To(Equal(1))

		// The failed cell leads to its failure, which leads to its timeline.
		do(p, chromedp.Click(chromedp.CSS(`#matrix-table td.cell.fail a`)))
		hash := text(p, `location.hash`)
		Expect(hash).To(Equal("#failure-1"))
		do(p, chromedp.Click(chromedp.CSS(`#failure-1 a[href^="#timeline-"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#timeline-1 .ev`)))
		Expect(count(p, `document.querySelector("#timeline-1").open ? 1 : 0`)).To(Equal(1))
		lanes := count(p, `document.querySelectorAll("#timeline-1 .tl-lane-head").length`)
		Expect(lanes).To(BeNumerically(">=", 4), "two or three devices, the server and another writer")
		laneNames := text(p, `[...document.querySelectorAll("#timeline-1 .tl-lane-head")].map(e => e.textContent).join(",")`)
		Expect(laneNames).To(HaveSuffix(",server,writer"))
		Expect(laneNames).To(HavePrefix("phone,tablet"))
		Expect(count(p, `document.querySelectorAll("#timeline-1 .ev").length`)).To(Equal(len(r.Results[16].History.Events)))
		Expect(count(p, `document.querySelectorAll("#timeline-1 .ev.conflict").length`)).To(BeNumerically(">=", 1))
		Expect(count(p, `document.querySelectorAll("#timeline-1 .ev.faulted").length`)).To(BeNumerically(">=", 2), "the dropped answer and the concurrent write")
		Expect(count(p, `document.querySelectorAll("#timeline-1 .ev.noanswer").length`)).To(BeNumerically(">=", 1))
		Expect(count(p, `document.querySelectorAll("#timeline-1 .tl-step").length`)).To(BeNumerically(">=", 5))
		Expect(count(p, `document.querySelectorAll("#timeline-1 .tl-band").length`)).To(Equal(1), "the failing step is shaded")
		// Boxes of one lane never overlap.
		Expect(count(p, `(() => { const bs = [...document.querySelectorAll("#timeline-1 .ev")].map(b => b.getBoundingClientRect());
			let n = 0; for (let i = 0; i < bs.length; i++) for (let j = i + 1; j < bs.length; j++) {
				const a = bs[i], b = bs[j]; if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) n++; }
			return n; })()`)).To(BeZero())

		// A click on the conflict shows its bodies and rows.
		do(p, chromedp.Click(chromedp.CSS(`#timeline-1 .ev.conflict`)), chromedp.WaitVisible(chromedp.CSS(`#timeline-1 .tl-detail`)))
		detail := get(p, chromedp.Text(chromedp.CSS(`#timeline-1 .tl-detail`)))
		Expect(detail).To(ContainSubstring("412"))
		Expect(detail).To(ContainSubstring("If-Match sent"))
		Expect(detail).To(ContainSubstring("request body"))
		Expect(detail).To(ContainSubstring("row before"))
		Expect(detail).To(ContainSubstring(`"text": "Buy organic eggs"`))
		screenshot(p, "one-failure-timeline", "#timeline-1")
		noProblems(p)
	})

	It("shows two targets side by side, their differences marked and filterable", func() {
		embedded := genRun(genOptions{Seed: 3, Scenarios: 10})
		node := genRun(genOptions{Seed: 3, Scenarios: 10, FailEvery: 6,
			Target: reports.Target{Kind: "node", URL: "http://127.0.0.1:3000", Dialect: "v2", Personality: "azure-mobile-apps 4.0.2, sqlite"}})
		merged, err := reports.Merge(&reports.Provenance{Command: []string{"conflictlab", "report", "--in", "a", "--in", "b"}},
			reports.Set{Name: "embedded", Run: embedded}, reports.Set{Name: "node", Run: node})
		Expect(err).NotTo(HaveOccurred())
		p := open(write("two-targets", merged))
		groups := text(p, `[...document.querySelectorAll("#matrix-table thead th.group")].map(th => th.textContent).join("|")`)
		sides := text(p, `[...document.querySelectorAll("#matrix-table thead th.side")].map(th => th.textContent).join("|")`)
		Expect(groups).To(Equal("client-wins|server-wins|cancel|manual|mixed"))
		Expect(sides).To(Equal(strings.Repeat("embedded|node|", 4) + "embedded|node"))
		differing := count(p, `document.querySelectorAll("#matrix-table td.differs").length`)
		Expect(differing).To(Equal(2 * node.Counts().Failed))
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="differs"]`)))
		Expect(visibleRows(p)).To(BeNumerically(">", 0))
		Expect(count(p, `[...document.querySelectorAll("#matrix-table tbody tr.scenario-row")].filter(r => !r.hidden && !r.querySelector("td.differs")).length`)).To(BeZero())
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="all"]`)))
		screenshot(p, "two-targets", "#matrix-table")
		if path := os.Getenv("CONFLICTLAB_SCREENSHOT"); path != "" {
			// The README's picture: the matrix of two targets, then a failure's timeline.
			do(p, chromedp.EmulateViewport(1400, 900))
			png := screenshot(p, "readme-matrix", "#matrix-table")
			Expect(os.WriteFile(path, png, 0o644)).To(Succeed())
			do(p, chromedp.EmulateViewport(1800, 1000), chromedp.Navigate("file://"+write("two-targets", merged)+"#timeline-1"),
				chromedp.WaitVisible(chromedp.CSS("#timeline-1 .ev")), chromedp.Click(chromedp.CSS("#timeline-1 .ev.conflict")))
			png = screenshot(p, "readme-timeline", "#timeline-1")
			Expect(os.WriteFile(strings.TrimSuffix(path, ".png")+"-timeline.png", png, 0o644)).To(Succeed())
		}
		noProblems(p)
	})

	It("renders 1,000 results with histories within a few seconds", func() {
		r := genRun(genOptions{Seed: 4, Scenarios: 400, FailEvery: 50, Histories: true, Campaign: true, CampaignFails: true})
		Expect(len(r.Results)).To(BeNumerically(">=", 1000))
		file := write("thousand", r)
		info, err := os.Stat(filepath.Join(filepath.Dir(file), "results.json"))
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("1,000 results with histories: results.json %d KiB, report.html written\n", info.Size()>>10)

		start := time.Now()
		p := open(file)
		opened := time.Since(start)
		Expect(get(p, chromedp.Evaluate[bool](`document.querySelectorAll("#matrix-table tbody tr.scenario-row").length === 400`))).To(BeTrue())
		// What a reader waits for, measured by the page itself: until its load event is
		// over, script included. (The wall clock above adds chromedp mirroring the DOM,
		// which -race slows down.)
		loaded := time.Duration(get(p, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].loadEventEnd`)) * float64(time.Millisecond))
		// A timeline of one passing result, drawn on demand: the toggle's handler draws it
		// before dispatchEvent returns.
		drawn := time.Duration(get(p, chromedp.Evaluate[float64](`(() => {
			const d = document.getElementById("timeline-100"), t0 = performance.now();
			d.open = true; d.dispatchEvent(new Event("toggle"));
			return performance.now() - t0; })()`)) * float64(time.Millisecond))
		Expect(count(p, `document.querySelectorAll("#timeline-100 .ev").length`)).To(BeNumerically(">", 5))
		do(p, chromedp.Evaluate[chromedp.Void](`location.hash = "#timeline-101"`), chromedp.WaitVisible(chromedp.CSS(`#timeline-101 .ev`)))
		// The counterexample's timeline is there too.
		Expect(count(p, `document.querySelectorAll(".counterexample a[href^='#timeline-']").length`)).To(Equal(1))
		do(p, chromedp.Click(chromedp.CSS(`button.status-filter[data-status="fail"]`)))
		Expect(visibleRows(p)).To(BeNumerically(">", 0))
		GinkgoWriter.Printf("page loaded in %s (opened through chromedp in %s), a timeline drawn in %s\n", loaded, opened, drawn)
		Expect(loaded).To(BeNumerically("<", 5*time.Second))
		Expect(drawn).To(BeNumerically("<", time.Second))
		noProblems(p)
	})
})

// do runs actions in p's tab, bounded so that a page that hangs fails the spec.
func do(p *page, actions ...chromedp.Action[chromedp.Void]) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	Expect(chromedp.Do(ctx, actions...)).To(Succeed())
}

// get runs one action in p's tab and returns its value.
func get[T any](p *page, action chromedp.Action[T]) T {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	Expect(err).NotTo(HaveOccurred())
	return v
}
