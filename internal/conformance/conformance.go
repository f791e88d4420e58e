// Package conformance runs the fake server's conformance suite (the Ginkgo suite of
// fakeserver) against a server of the caller's, as a user does:
//
//	CONFLICTLAB_SERVER=http://127.0.0.1:8080 go tool ginkgo ./fakeserver
//
// and reads what it found: the counts, every failure and every skip with its reason. The
// suite writes that outcome (as JSON) where CONFLICTLAB_CONFORMANCE_REPORT says; the tests of
// other packages use Run to show, in `make test`, what the suite says of conflictlab serve and
// of the real Node backend.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The environment the suite reads (docs/targets.md, "Running the conformance suite against
// your server").
const (
	EnvServer = "CONFLICTLAB_SERVER"
	EnvTarget = "CONFLICTLAB_TARGET"
	EnvReport = "CONFLICTLAB_CONFORMANCE_REPORT"
)

// Outcome is what a run of the suite against a server found.
type Outcome struct {
	Target  string `json:"target"`
	Kind    string `json:"kind"`
	Dialect string `json:"dialect"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	// Reasons counts the skips by reason.
	Reasons map[string]int `json:"skipReasons"`
	// Skips and Failures name each spec: "spec text: reason" or "spec text: failure".
	Skips    []string `json:"skips"`
	Failures []string `json:"failures"`
	// Unexplained are the skipped specs that gave no reason (the suite fails if any does).
	Unexplained []string `json:"unexplained,omitempty"`
}

// Options say where the suite runs and against what.
type Options struct {
	// Root is the module's root folder (where go.mod is).
	Root string
	// Server is the server's base URL (CONFLICTLAB_SERVER), or Target a target file
	// (CONFLICTLAB_TARGET); exactly one.
	Server, Target string
	// GoFlags are extra flags for go test (e.g. -race); SuiteFlags for the suite itself
	// (Ginkgo's, e.g. -ginkgo.skip=…).
	GoFlags, SuiteFlags []string
}

// ErrNoGo is returned when no go command can be found to run the suite with.
var ErrNoGo = errors.New("no go command to run the conformance suite with")

// Run runs `go test ./fakeserver` against the server and returns its outcome, and the
// suite's output. The error says why there is no outcome (the suite could not start, or the
// go command is missing); failed specs are an outcome, not an error.
func Run(ctx context.Context, o Options) (Outcome, string, error) {
	if (o.Server == "") == (o.Target == "") {
		return Outcome{}, "", errors.New("conformance: give a server URL or a target file, not both")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, serr := os.Stat(goBin); os.Getenv("GOROOT") == "" || serr != nil {
			return Outcome{}, "", fmt.Errorf("%w: %v", ErrNoGo, err)
		}
	}
	dir, err := os.MkdirTemp("", "conflictlab-conformance-")
	if err != nil {
		return Outcome{}, "", err
	}
	defer os.RemoveAll(dir)
	report := filepath.Join(dir, "outcome.json")
	args := append([]string{"test", "-count=1", "-timeout=10m"}, o.GoFlags...)
	args = append(args, "-run", "^TestFakeserver$", "./fakeserver", "-args", "-ginkgo.no-color", "-ginkgo.succinct")
	args = append(args, o.SuiteFlags...)
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = o.Root
	cmd.Env = append(withoutSuiteEnv(os.Environ()), EnvReport+"="+report)
	if o.Server != "" {
		cmd.Env = append(cmd.Env, EnvServer+"="+o.Server)
	} else {
		cmd.Env = append(cmd.Env, EnvTarget+"="+o.Target)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	data, err := os.ReadFile(report)
	if err != nil {
		return Outcome{}, out.String(), fmt.Errorf("the suite wrote no outcome (%v): %v", runErr, err)
	}
	var res Outcome
	if err := json.Unmarshal(data, &res); err != nil {
		return Outcome{}, out.String(), fmt.Errorf("the suite's outcome: %w", err)
	}
	return res, out.String(), nil
}

// withoutSuiteEnv drops the caller's own settings of the suite's variables.
func withoutSuiteEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == EnvServer || k == EnvTarget || k == EnvReport {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Summary is the outcome in a few lines: the counts, then the skips by reason, most first.
func (o Outcome) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of %s %s (%s): %d passed, %d failed, %d skipped\n", o.Kind, o.Target, o.Dialect, o.Passed, o.Failed, o.Skipped)
	for _, r := range o.ReasonsByCount() {
		fmt.Fprintf(&b, "  %5d skipped: %s\n", o.Reasons[r], r)
	}
	return b.String()
}

// ReasonsByCount lists the skip reasons, the most frequent first.
func (o Outcome) ReasonsByCount() []string {
	reasons := make([]string, 0, len(o.Reasons))
	for r := range o.Reasons {
		reasons = append(reasons, r)
	}
	slices.SortFunc(reasons, func(a, b string) int {
		if o.Reasons[a] != o.Reasons[b] {
			return o.Reasons[b] - o.Reasons[a]
		}
		return strings.Compare(a, b)
	})
	return reasons
}
