// Package storetest is the conformance suite every store.Store must pass: the contract in
// store's doc comments, check by check.
//
// A store's own test suite registers the specs with Specs:
//
//	var _ = Describe("memory store", func() {
//		storetest.Specs(func() (store.Store, error) { return memory.New(), nil })
//	})
//
// The same checks are also plain values (Checks) that Verify runs outside Ginkgo and reports
// on, which is how the suite's own tests show that each check fails for a store with the bug it
// is there to catch.
package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

// Check is one conformance check. Run gets a fresh, empty store and reports through g; it makes
// every assertion on the goroutine it was called on, so any fail handler works, including one
// that panics to stop the check.
type Check struct {
	Name string // "section: what is checked", unique in Checks
	Run  func(ctx context.Context, g gomega.Gomega, s store.Store)
}

// section is a group of checks. A tabular section's checks come from a table of data and are
// registered as one DescribeTable; the others as one It each.
type section struct {
	name    string
	tabular bool
	checks  []Check
}

// sections lists the suite. Each function builds its section from scratch so that no two runs
// share test data.
func sections() []section {
	return []section{
		{name: "rows", checks: rowChecks()},
		{name: "row values", tabular: true, checks: valueChecks()},
		{name: "invalid rows", tabular: true, checks: invalidRowChecks()},
		{name: "queries", tabular: true, checks: queryChecks()},
		{name: "DeleteRows", tabular: true, checks: deleteRowsChecks()},
		{name: "operations", checks: operationChecks()},
		{name: "invalid operations", tabular: true, checks: invalidOperationChecks()},
		{name: "errors", checks: errorChecks()},
		{name: "config", checks: configChecks()},
		{name: "atomicity", tabular: true, checks: atomicityChecks()},
		{name: "isolation", checks: isolationChecks()},
		{name: "context", tabular: true, checks: contextChecks()},
		{name: "closed", checks: closedChecks()},
	}
}

// Checks returns every check of the suite, each named "section: check".
func Checks() []Check {
	var all []Check
	for _, sec := range sections() {
		for _, c := range sec.checks {
			all = append(all, Check{Name: sec.name + ": " + c.Name, Run: c.Run})
		}
	}
	return all
}

// timeout bounds one check, so a store that deadlocks fails the check instead of hanging it.
const timeout = 20 * time.Second

// Specs registers the suite's specs in the current container (or at the top level). open must
// return a fresh, empty store each time; each spec opens its own and closes it when done.
func Specs(open func() (store.Store, error)) {
	Describe("store conformance", func() {
		for _, sec := range sections() {
			Describe(sec.name, func() {
				if sec.tabular {
					args := []any{func(c Check) { runSpec(open, c) }}
					for _, c := range sec.checks {
						args = append(args, Entry(c.Name, c))
					}
					DescribeTable(sec.name, args...)
					return
				}
				for _, c := range sec.checks {
					It(c.Name, func() { runSpec(open, c) })
				}
			})
		}
	})
}

func runSpec(open func() (store.Store, error), c Check) {
	s, err := open()
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "opening a store")
	DeferCleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c.Run(ctx, gomega.Default, s)
}

// Verify runs one check against a fresh store from open, outside Ginkgo, and returns its first
// failure ("" when it passed). A panic in the check or the store counts as a failure.
func Verify(open func() (store.Store, error), c Check) (failure string) {
	s, err := open()
	if err != nil {
		return "opening a store: " + err.Error()
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type stop struct{ message string }
	defer func() {
		switch r := recover().(type) {
		case nil:
		case stop:
			failure = r.message
		default:
			failure = fmt.Sprintf("panic: %v", r)
		}
	}()
	g := gomega.NewGomega(func(message string, _ ...int) { panic(stop{message}) })
	c.Run(ctx, g, s)
	return ""
}

// Failures runs every check with Verify and returns the failures by check name.
func Failures(open func() (store.Store, error)) map[string]string {
	out := map[string]string{}
	for _, c := range Checks() {
		if f := Verify(open, c); f != "" {
			out[c.Name] = f
		}
	}
	return out
}

// --- helpers shared by the checks

// update runs fn in an Update that must succeed.
func update(ctx context.Context, g gomega.Gomega, s store.Store, fn func(w store.Writer)) {
	g.ExpectWithOffset(1, s.Update(ctx, func(w store.Writer) error { fn(w); return nil })).To(gomega.Succeed())
}

// view runs fn in a View that must succeed.
func view(ctx context.Context, g gomega.Gomega, s store.Store, fn func(r store.Reader)) {
	g.ExpectWithOffset(1, s.View(ctx, func(r store.Reader) error { fn(r); return nil })).To(gomega.Succeed())
}

// putRows stores rows in table in one Update.
func putRows(ctx context.Context, g gomega.Gomega, s store.Store, table string, rows ...map[string]any) {
	update(ctx, g, s, func(w store.Writer) {
		for _, r := range rows {
			g.ExpectWithOffset(2, w.PutRow(table, r)).To(gomega.Succeed(), "PutRow %v", r)
		}
	})
}

// ids returns the ids of rows, in order.
func ids(rows []map[string]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i], _ = r["id"].(string)
	}
	return out
}

// snapshot is everything a Reader can see of a store, for comparing whole states.
type snapshot struct {
	Rows   map[string][]map[string]any // by table, for the tables asked for
	Ops    []store.Operation
	Errors []store.OperationError
	Config map[string]string
}

func takeSnapshot(g gomega.Gomega, r store.Reader, tables ...string) snapshot {
	sn := snapshot{Rows: map[string][]map[string]any{}, Config: map[string]string{}}
	var err error
	for _, t := range tables {
		sn.Rows[t], _, err = r.Rows(t, store.Query{})
		g.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred())
	}
	sn.Ops, err = r.Operations()
	g.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred())
	sn.Errors, err = r.Errors()
	g.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred())
	keys, err := r.ConfigKeys("")
	g.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred())
	for _, k := range keys {
		v, ok, err := r.Config(k)
		g.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred())
		g.ExpectWithOffset(1, ok).To(gomega.BeTrue(), "ConfigKeys lists %q but Config does not find it", k)
		sn.Config[k] = v
	}
	return sn
}

func viewSnapshot(ctx context.Context, g gomega.Gomega, s store.Store, tables ...string) snapshot {
	var sn snapshot
	view(ctx, g, s, func(r store.Reader) { sn = takeSnapshot(g, r, tables...) })
	return sn
}
