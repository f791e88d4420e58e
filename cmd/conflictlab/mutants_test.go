//go:build mutants

package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/internal/mutants"
)

// Run with -tags mutants (make test does): a deliberately broken client must make
// conflictlab fuzz fail with a counterexample that conflictlab run replays.
var _ = Describe("conflictlab fuzz against a broken client", func() {
	It("exits 1 with a counterexample that conflictlab run replays", func() {
		restore := mutants.Enable(mutants.PurgeDespitePending)
		defer restore()
		dir := GinkgoT().TempDir()
		out, _, err := fuzz("--duration", "20s", "--seed", "3", "--strategy", "manual", "--clients", "2", "--shrink-time", "3s", "--out", dir)
		Expect(err).To(MatchError(errFailed))
		path := filepath.Join(dir, "counterexample.yaml")
		Expect(out).To(ContainSubstring("P2 (purge) violated"))
		Expect(out).To(ContainSubstring("counterexample " + path + "\nreplay: conflictlab run " + path))
		Expect(path).To(BeARegularFile())

		var runOut bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs([]string{"run", path})
		cmd.SetOut(&runOut)
		Expect(cmd.Execute()).To(MatchError(errFailed), "still broken: the replay fails too")
		Expect(runOut.String()).To(ContainSubstring("property: P2"))

		By("playing the failing interleaving alone, from its seed")
		seed := regexp.MustCompile(`\nFAIL at interleaving \d+ \(seed (\d+)\), after \d+ interleavings with the shrink's: `).FindStringSubmatch(out)
		Expect(seed).NotTo(BeNil(), out)
		alone := regexp.MustCompile(`(?m)^that interleaving alone: conflictlab fuzz (.*) --out \S+$`).FindStringSubmatch(out)
		Expect(alone).NotTo(BeNil(), out)
		Expect(alone[1]).To(Equal("--seed " + seed[1] + " --interleavings 1 --strategy manual --clients 2"))
		again, _, err := fuzz(append(strings.Fields(alone[1]), "--shrink-time", "3s", "--out", GinkgoT().TempDir())...)
		Expect(err).To(MatchError(errFailed))
		Expect(again).To(ContainSubstring("FAIL at interleaving 0 (seed " + seed[1] + ")"))
		Expect(again).To(ContainSubstring("P2 (purge) violated"))
	})
})

// The conformance suite against a server can fail: against conflictlab serve with a rule of
// the protocol broken (writes applied whatever their If-Match), it says so, spec by spec.
var _ = Describe("the conformance suite against a broken server", Label("conformance"), func() {
	It("fails the specs of the rule the server breaks", func() {
		restore := mutants.Enable(mutants.IgnoreIfMatch)
		defer restore()
		base, _, _, _, _ := serve("--sim-clock")
		out := runConformance(base)
		Expect(out.Failed).To(BeNumerically(">", 0))
		Expect(out.Failures).To(ContainElement(ContainSubstring("answers 412 with the server's row to a stale If-Match")))
		Expect(out.Passed).To(BeNumerically(">", out.Failed), "the rest of the protocol holds")
	})
})
