package layout

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/conflictlab/conflictlab"

// folder is the top-level folder of a package path ("internal/x" counts as "internal/x").
func folder(pkg string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	parts := strings.Split(rest, "/")
	if parts[0] == "internal" && len(parts) > 1 {
		return "internal/" + parts[1]
	}
	return parts[0]
}

// TestImportsPointOneWay reads `go list` and requires the graph of top-level folders (each
// package's non-test imports) to have no cycle: no folder imports one that imports it back,
// directly or through others.
func TestImportsPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	edges := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		from := folder(fields[0])
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			if to := folder(imp); to != from {
				if edges[from] == nil {
					edges[from] = map[string]bool{}
				}
				edges[from][to] = true
			}
		}
	}
	if len(edges) < 5 {
		t.Fatalf("go list found too few folders to judge: %v", edges)
	}
	if c := findCycle(edges); c != nil {
		t.Fatalf("imports go round in a circle: %s", strings.Join(c, " → "))
	}
}

// findCycle returns a cycle of the graph as the path that closes it, nil when there is none.
func findCycle(edges map[string]map[string]bool) []string {
	state := map[string]int{} // 0 new, 1 on the path, 2 done
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = 1
		path = append(path, n)
		next := make([]string, 0, len(edges[n]))
		for m := range edges[n] {
			next = append(next, m)
		}
		slices.Sort(next)
		for _, m := range next {
			switch state[m] {
			case 1:
				i := slices.Index(path, m)
				return append(slices.Clone(path[i:]), m)
			case 0:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	var froms []string
	for f := range edges {
		froms = append(froms, f)
	}
	slices.Sort(froms)
	for _, f := range froms {
		if state[f] == 0 {
			if c := visit(f); c != nil {
				return c
			}
		}
	}
	return nil
}

// TestFindCycle shows the check catching what it is for: the layout this repository had, with
// the checkers inside properties/ while scenarios/ used them.
func TestFindCycle(t *testing.T) {
	before := map[string]map[string]bool{"scenarios": {"properties": true, "client": true}, "properties": {"scenarios": true}, "client": {}}
	if c := findCycle(before); strings.Join(c, " ") != "properties scenarios properties" {
		t.Fatalf("found %v", c)
	}
	after := map[string]map[string]bool{"scenarios": {"check": true}, "properties": {"scenarios": true, "check": true}, "check": {}}
	if c := findCycle(after); c != nil {
		t.Fatalf("found a cycle in a graph without one: %v", c)
	}
}

// TestShippedBinaryHasNoMutants builds conflictlab as a user would (no build tags) and looks
// for the switchboard that turns deliberate bugs on: it must not be there.
func TestShippedBinaryHasNoMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "conflictlab")
	build := exec.Command("go", "build", "-o", bin, module+"/cmd/conflictlab")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	syms, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	for _, line := range strings.Split(string(syms), "\n") {
		if strings.Contains(line, "internal/mutants.") && (strings.Contains(line, "Enable") || strings.Contains(line, "active")) {
			t.Fatalf("the shipped binary carries the mutants' switchboard: %s", line)
		}
	}
	// The tag is what brings the switchboard in: with it, the package's files include it.
	files, err := exec.Command("go", "list", "-tags", "mutants", "-f", "{{.GoFiles}}", module+"/internal/mutants").Output()
	if err != nil || !bytes.Contains(files, []byte("on.go")) {
		t.Fatalf("with -tags mutants, internal/mutants should build on.go: %s %v", files, err)
	}
}
