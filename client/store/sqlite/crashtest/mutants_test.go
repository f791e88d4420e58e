//go:build mutants

package crashtest

import (
	"fmt"
	"testing"

	"github.com/conflictlab/conflictlab/internal/mutants"
)

func init() {
	enableMutant = func(name string) func() { return mutants.Enable(mutants.Mutant(name)) }
}

// TestKillCatchesPageInTwoTransactions shows the kill at a store commit catching a client that
// stores a pulled page's token and its rows in two transactions: of the same seeded rounds,
// with the mutant in the child some leave a token above rows never stored (P9 violated, and
// the incremental pull after the restart does not bring them), without it none loses anything.
func TestKillCatchesPageInTwoTransactions(t *testing.T) {
	const rounds = 3
	caught := 0
	for seed := uint64(1); seed <= rounds; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			with := pullRound(t, seed, string(mutants.PageInTwoTransactions), true)
			// The mutant's odd transactions store a page's token, the even ones its rows.
			between := with.kill.Commit%2 == 1
			switch {
			case with.p9 && with.lost && between:
				caught++
				t.Logf("with the mutant, killed %s: %v", with.kill, with.findings)
			case between:
				t.Errorf("with the mutant, killed %s, between a page's token and its rows: not caught as a loss below the token: %v",
					with.kill, with.findings)
			case len(with.findings) > 0:
				t.Errorf("with the mutant, killed %s, after a page's rows: %v", with.kill, with.findings)
			}
			without := pullRound(t, seed, "", true)
			for _, f := range without.findings {
				t.Errorf("without the mutant, killed %s: %s", without.kill, f)
			}
		})
	}
	if caught == 0 {
		t.Fatalf("no round of %d caught a page stored in two transactions", rounds)
	}
	t.Logf("%d of %d rounds caught a page stored in two transactions", caught, rounds)
}
