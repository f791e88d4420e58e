package scenariotest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/scenarios"
	"github.com/conflictlab/conflictlab/scenarios/scenariotest"
)

// TestRun plays one catalogue file the way a user's plain go test would, and shows that a
// scenario that does not hold fails its subtest (in a test of its own, whose failure is the
// point).
func TestRun(t *testing.T) {
	scenariotest.Run(t, scenarios.Options{InMemory: true}, "../catalog/blog-buy-eggs.yaml")
}

func TestRunFailsAScenarioThatDoesNotHold(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wrong.yaml")
	if err := os.WriteFile(file, []byte(`name: wrong
clients: {phone: {}}
steps:
  - phone: {op: insert, table: todoitem, item: {id: a}}
  - check: {phone: {pending: 0}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "wrong", F: func(t *testing.T) { scenariotest.Run(t, scenarios.Options{InMemory: true}, file) }}})
	if ok {
		t.Fatal("a scenario whose check does not hold passed")
	}
}
