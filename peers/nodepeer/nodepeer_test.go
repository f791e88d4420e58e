package nodepeer_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/conflictlab/conflictlab/peers/nodepeer"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// startPeer starts a Node peer for the spec, or skips the spec with the reason it cannot run.
func startPeer(ctx context.Context, opts nodepeer.Options) *nodepeer.Peer {
	GinkgoHelper()
	p, err := nodepeer.Start(ctx, opts)
	if errors.Is(err, nodepeer.ErrNotInstalled) {
		Skip(err.Error())
	}
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Stop)
	return p
}

func send(method, url, body string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	Expect(err).NotTo(HaveOccurred())
	return res.StatusCode, string(raw)
}

// alive reports whether a process with pid exists (signal 0 checks without sending).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

var _ = Describe("the Node peer", func() {
	It("says why it cannot run when peers/node was never installed", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "app.js"), []byte("// empty"), 0o644)).To(Succeed())
		_, err := nodepeer.Start(context.Background(), nodepeer.Options{Dir: dir})
		if err != nil && strings.Contains(err.Error(), "node not found") {
			Skip(err.Error())
		}
		Expect(err).To(MatchError(nodepeer.ErrNotInstalled))
		Expect(err.Error()).To(ContainSubstring("make peers"))
		var nie *nodepeer.NotInstalledError
		Expect(errors.As(err, &nie)).To(BeTrue())
	})

	It("says node is missing when it is", func() {
		err := nodepeer.Installed(nodepeer.Options{Node: "/nonexistent/node"})
		Expect(err).To(MatchError(nodepeer.ErrNotInstalled))
		Expect(err.Error()).To(ContainSubstring("node not found"))
	})

	It("refuses a table name Node would not take", func() {
		if err := nodepeer.Installed(nodepeer.Options{}); err != nil {
			Skip(err.Error())
		}
		_, err := nodepeer.Start(context.Background(), nodepeer.Options{Tables: []string{"todo item"}})
		Expect(err).To(MatchError(ContainSubstring(`table name "todo item"`)))
	})

	It("serves the real azure-mobile-apps on loopback, with our settings", func(ctx SpecContext) {
		p := startPeer(ctx, nodepeer.Options{PageSize: 3, Tables: []string{"todoitem", "tag"}})
		Expect(p.URL).To(MatchRegexp(`^http://127\.0\.0\.1:\d+$`))
		info, err := p.Info(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Version).To(Equal("4.0.2"))
		Expect(info.PageSize).To(Equal(3))
		Expect(info.SoftDelete).To(BeTrue())
		Expect(info.Tables).To(ConsistOf("todoitem", "tag"))

		status, body := send("POST", p.URL+"/tables/todoitem", `{"id":"e1","text":"Buy eggs"}`)
		Expect(status).To(Equal(http.StatusCreated), body)
		Expect(body).To(ContainSubstring(`"version":"MQ=="`)) // Node's own per-row version, not the fake's
	})

	It("empties every table and forgets the columns on Reset", func(ctx SpecContext) {
		p := startPeer(ctx, nodepeer.Options{})
		status, body := send("POST", p.URL+"/tables/todoitem", `{"id":"e1","text":"Buy eggs","extra":5}`)
		Expect(status).To(Equal(http.StatusCreated), body)
		status, body = send("DELETE", p.URL+"/tables/todoitem/e1", "")
		Expect(status).To(Equal(http.StatusOK), body)
		Expect(p.Reset(ctx)).To(Succeed())

		status, body = send("GET", p.URL+"/tables/todoitem?__includeDeleted=true", "")
		Expect(status).To(Equal(http.StatusOK), body)
		Expect(body).To(Equal("[]"))
		// The id is free again, and the column "extra" of the first run is gone.
		status, body = send("POST", p.URL+"/tables/todoitem", `{"id":"e1","text":"again"}`)
		Expect(status).To(Equal(http.StatusCreated), body)
		Expect(body).NotTo(ContainSubstring("extra"))
		Expect(body).To(ContainSubstring(`"version":"MQ=="`))
	})

	It("ends the process on Stop, and Stop can be called again", func(ctx SpecContext) {
		p := startPeer(ctx, nodepeer.Options{})
		Expect(p.Stop()).To(Succeed())
		Eventually(p.Exited()).Should(BeClosed())
		Expect(p.Stop()).To(Succeed())
		_, err := http.Get(p.URL + "/_peer/info")
		Expect(err).To(HaveOccurred())
	})

	It("ends the process when the context ends", func(ctx SpecContext) {
		if err := nodepeer.Installed(nodepeer.Options{}); err != nil {
			Skip(err.Error())
		}
		c, cancel := context.WithCancel(ctx)
		p, err := nodepeer.Start(c, nodepeer.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(p.Stop)
		cancel()
		Eventually(p.Exited()).WithTimeout(10 * time.Second).Should(BeClosed())
	})

	It("gives up on a context that ends before Node listens", func(ctx SpecContext) {
		if err := nodepeer.Installed(nodepeer.Options{}); err != nil {
			Skip(err.Error())
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		defer cancel()
		_, err := nodepeer.Start(c, nodepeer.Options{})
		Expect(err).To(MatchError(context.DeadlineExceeded))
	})

	It("reports a Node that exits at once, with what it said", func(ctx SpecContext) {
		if err := nodepeer.Installed(nodepeer.Options{}); err != nil {
			Skip(err.Error())
		}
		// A data file Node cannot create: it says so and exits; Start must not wait for its timeout.
		_, err := nodepeer.Start(ctx, nodepeer.Options{DBFile: "/nonexistent-dir/x/peer.sqlite"})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("exited before listening"))
	})

	It("does not outlive a stopped peer's process group", func(ctx SpecContext) {
		p := startPeer(ctx, nodepeer.Options{})
		pid := nodepeer.PidOf(p)
		Expect(alive(pid)).To(BeTrue())
		Expect(p.Stop()).To(Succeed())
		Expect(alive(pid)).To(BeFalse())
	})
})
