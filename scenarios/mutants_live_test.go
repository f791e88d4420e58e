//go:build mutants

package scenarios_test

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

var catalogueFull = flag.Bool("mutants.full", false, "TestMutantsAreLive: play the whole catalogue under each mutant and log every scenario that catches it (else stop at the first)")

// catalogueRun is one scenario under one strategy.
type catalogueRun struct {
	sc       *scenarios.Scenario
	strategy string
}

func (r catalogueRun) name() string {
	if r.strategy == "" {
		return r.sc.Name
	}
	return r.sc.Name + " [" + r.strategy + "]"
}

// play plays one run with the Go client and the embedded server in memory, within a deadline
// (a mutant may loop).
func (r catalogueRun) play() reports.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return scenarios.Run(ctx, r.sc, r.strategy, scenarios.Options{InMemory: true, Timeout: 2 * time.Second})
}

// catches plays r under m, then, if it failed, without m: it catches m when it fails only with
// it. why is the failure under m.
func (r catalogueRun) catches(m mutants.Mutant, clean map[string]bool) (caught bool, why string) {
	restore := mutants.Enable(m)
	res := r.play()
	restore()
	if res.Status != reports.Failed {
		return false, ""
	}
	passes, known := clean[r.name()]
	if !known {
		passes = r.play().Status != reports.Failed
		clean[r.name()] = passes
	}
	if f := res.Failure; f != nil {
		why = fmt.Sprintf("step %d %s: %s", f.Step, f.Property, strings.ReplaceAll(f.Got, "\n", " "))
	}
	return passes, why
}

// firstCatch is the scenario that catches each mutant first in the catalogue, tried first so
// that the test stays short; if it no longer does, the rest of the catalogue is tried.
var firstCatch = map[mutants.Mutant]string{
	mutants.SkipPushBeforePull: "blog-buy-eggs", mutants.PurgeDespitePending: "purge-refused-with-pending",
	mutants.CollapseUpdateDelete: "collapse-after-update", mutants.ClientWinsLosesVersion: "blog-buy-eggs",
	mutants.IgnoreIfMatch: "blog-buy-eggs", mutants.ForgetUpdatedAt: "collapse-after-update",
	mutants.IncrementalGreaterThan: "incremental-shared-timestamps", mutants.StopAtShortPage: "pull-full-paging",
	mutants.DeleteWithoutIfMatch: "conflict-delete-update", mutants.ClientWinsUnbounded: "client-wins-max-tries",
	mutants.ForcedPurgeAllTables: "purge-forced", mutants.PurgeIgnoresQuery: "purge-query-removes-matching",
	mutants.DeleteAtTailIgnored: "collapse-update-delete-to-tail", mutants.PurgePushesFirstIgnored: "purge-pushes-first",
	mutants.IdenticalNotSuccess: "lost-response-update-identical", mutants.PushTableBeforePullIgnored: "push-before-pull-table-scope",
	mutants.ServerWinsKeepsLocal: "conflict-update-update", mutants.UpdateAfterFailedInsert: "collapse-insert-delete-after-attempt",
	mutants.MemoryCaseSensitiveIDs: "invalid-queries-and-operations", mutants.SQLiteCaseSensitiveIDs: "read-and-lookup",
	mutants.SkipIgnoredUnderCap: "pull-full-paging", mutants.UpdatedAtSecondPrecision: "incremental-delta-token",
	mutants.HardDeleteKeepsRow: "hard-delete-leaves-stale-row", mutants.V1VersionUnprefixed: "v1-blog-walkthrough",
	mutants.VersionBeforeExistence: "lost-response-delete", mutants.UndeleteKeepsVersion: "server-delete-undelete-pull",
}

// TestMutantsAreLive plays the catalogue (Go client, memory, every strategy a scenario lists)
// under each mutant of mutants.All and requires each to fail at least one run that passes
// without it: the mutant is live, and the catalogue can see it. It stops at the first such
// run, trying firstCatch's scenario first. The mutants in onlyByProbe are the exceptions: no
// catalogue scenario holds what shows them (the entry for each says what would), so each has
// a focused probe instead (mutantProbes, TestMutantProbes), and the catalogue is not played
// for them. With -mutants.full (go test -tags mutants -run TestMutantsAreLive -v ./scenarios
// -args -mutants.full) every run is played under every mutant, the exceptions included, and
// the runs that catch each are logged: what the campaign's world is measured against.
func TestMutantsAreLive(t *testing.T) {
	all, err := scenarios.Load("catalog")
	if err != nil {
		t.Fatal(err)
	}
	var runs []catalogueRun
	for _, sc := range all {
		for _, s := range sc.Runs() {
			runs = append(runs, catalogueRun{sc, s})
		}
	}
	clean := map[string]bool{} // run name → passes without any mutant
	for _, m := range mutants.All {
		t.Run(string(m), func(t *testing.T) {
			_, exempt := onlyByProbe[m]
			if exempt && !*catalogueFull {
				t.Skipf("no catalogue run can show it (%s): TestMutantProbes has its probe", onlyByProbe[m])
			}
			ordered := slices.Clone(runs)
			slices.SortStableFunc(ordered, func(a, b catalogueRun) int {
				return cmp.Compare(b2i(a.sc.Name != firstCatch[m]), b2i(b.sc.Name != firstCatch[m]))
			})
			var caught []string
			for _, r := range ordered {
				ok, why := r.catches(m, clean)
				if !ok {
					continue
				}
				caught = append(caught, r.name())
				t.Logf("caught by %s: %s", r.name(), clip(why, 200))
				if !*catalogueFull {
					break
				}
			}
			switch {
			case len(caught) == 0 && !exempt:
				t.Fatalf("%s survives the whole catalogue", m)
			case len(caught) > 0 && exempt:
				t.Logf("%s is listed in onlyByProbe but the catalogue catches it: %v", m, caught)
			case len(caught) == 0:
				t.Logf("survives the catalogue (by design: %s)", onlyByProbe[m])
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// onlyByProbe: the mutants no catalogue run can show, and what a test needs to show them.
// Each has a probe in mutantProbes; the two older ones are caught by the state machine too
// (properties/mutants_test.go).
var onlyByProbe = map[mutants.Mutant]string{
	mutants.PullOverwritesPending: "a row pulled while it has a queued operation: only a local write racing a pull " +
		"(the machine's concurrent mode) or a handler that leaves an operation queued after a clean push",
	mutants.DeletedInQueries: "an online query of a table holding a tombstone: pulls always ask for deleted rows, " +
		"and no catalogue `query` step meets a deleted row (the machine's P7 catches it)",
	mutants.SkippedRowsMoveToken: "an incremental pull that skips a row with a queued operation: a pull pushes first, " +
		"so only a local write racing the pull, or a handler leaving the operation queued, leaves one",
	mutants.OnPushCompleteThisPushOnly: "an error left by an earlier push that this push does not send again " +
		"(a push of another table, or one cancelled before it), and a check of what OnPushComplete is shown",
	mutants.MemoryErrorLostOnAttempt: "an error left unresolved, then a push that marks its operation attempted and " +
		"is cancelled before recording anything, then a look at the recorded errors",
	mutants.PageWithoutLink: "a page cut by the server's page size and a client that reads Link: the Go client " +
		"pages on with $skip, so rows and requests are the same",
	mutants.CaseSensitiveIDs: "ids that differ only in case on the server: no catalogue scenario writes one",
}

// probeWorld is an embedded server served in memory and one Go client of it.
type probeWorld struct {
	srv *fakeserver.Server
	sc  *client.SyncContext
}

func newProbeWorld(h client.Handler, cfg fakeserver.Config) (*probeWorld, error) {
	if cfg.Clock == nil {
		cfg.Clock = fakeserver.SimClock(time.Time{})
	}
	srv := fakeserver.New(cfg)
	c, err := client.New("http://conflictlab.invalid", client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
	if err != nil {
		return nil, err
	}
	sc, err := client.NewSyncContext(c, memory.New(), h)
	if err != nil {
		return nil, err
	}
	return &probeWorld{srv: srv, sc: sc}, nil
}

// conflictOnE1 seeds e1, pulls it, edits it locally and has another writer edit it on the
// server: the next push of e1 meets a 412.
func (w *probeWorld) conflictOnE1(ctx context.Context, queryID string) error {
	if _, err := w.srv.Insert("todoitem", map[string]any{"id": "e1", "text": "eggs"}); err != nil {
		return err
	}
	if err := w.sc.Table("todoitem").Pull(ctx, nil, queryID); err != nil {
		return err
	}
	if _, err := w.sc.Table("todoitem").Update(ctx, client.Item{"id": "e1", "text": "eggs (phone)"}); err != nil {
		return err
	}
	_, err := w.srv.Update("todoitem", "e1", map[string]any{"text": "eggs (server)"})
	return err
}

// keepQueued resolves every error by keeping its operation queued as it is: the push is
// clean, the operation stays, and the pull after it meets a row with a queued operation.
func keepQueued() client.Handler {
	return client.HandlerFuncs{Complete: func(ctx context.Context, res *client.PushResult) error {
		for _, e := range res.Errors {
			if err := e.UpdateOperation(ctx, e.Item); err != nil {
				return err
			}
		}
		return nil
	}}
}

// probePendingRowPulled: an incremental pull meets e1, whose update is queued: the local row
// must stay the local one and the delta token must not move past e1's server time.
func probePendingRowPulled(ctx context.Context) error {
	w, err := newProbeWorld(keepQueued(), fakeserver.Config{})
	if err != nil {
		return err
	}
	if err := w.conflictOnE1(ctx, "all"); err != nil {
		return err
	}
	var before string
	key := "deltaToken|todoitem|all"
	if err := w.sc.Store().View(ctx, func(r store.Reader) (err error) { before, _, err = r.Config(key); return err }); err != nil {
		return err
	}
	if err := w.sc.Table("todoitem").Pull(ctx, nil, "all"); err != nil {
		return err
	}
	row, err := w.sc.Table("todoitem").Lookup(ctx, "e1")
	if err != nil {
		return err
	}
	if row["text"] != "eggs (phone)" {
		return fmt.Errorf("the pull overwrote e1, which has a queued update: %v", row["text"])
	}
	var after string
	if err := w.sc.Store().View(ctx, func(r store.Reader) (err error) { after, _, err = r.Config(key); return err }); err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the skipped row moved the delta token from %s to %s", before, after)
	}
	return nil
}

// probeEarlierErrorsShown: the 412 recorded by one push must be shown to OnPushComplete by a
// later push of another table.
func probeEarlierErrorsShown(ctx context.Context) error {
	var shown []*client.TableOperationError
	h := client.HandlerFuncs{Complete: func(_ context.Context, res *client.PushResult) error {
		shown = res.Errors
		return nil
	}}
	w, err := newProbeWorld(h, fakeserver.Config{})
	if err != nil {
		return err
	}
	if err := w.conflictOnE1(ctx, ""); err != nil {
		return err
	}
	if _, err := w.sc.Push(ctx); err == nil {
		return fmt.Errorf("the push of e1 should have left a 412")
	}
	_, _ = w.sc.Push(ctx, client.OnlyTables("tag"))
	if len(shown) != 1 || shown[0].ItemID != "e1" {
		return fmt.Errorf("OnPushComplete of the push of tag was shown %d error(s), want the 412 of e1 left by the push before", len(shown))
	}
	return nil
}

// probeErrorSurvivesCancel: a push cancelled after marking e1 attempted must leave the error
// the push before recorded.
func probeErrorSurvivesCancel(ctx context.Context) error {
	cancel := false
	h := client.HandlerFuncs{Execute: func(ctx context.Context, op *client.TableOperation) (client.Item, error) {
		if cancel {
			op.CancelPush()
			return nil, nil
		}
		return op.Execute(ctx)
	}}
	w, err := newProbeWorld(h, fakeserver.Config{})
	if err != nil {
		return err
	}
	if err := w.conflictOnE1(ctx, ""); err != nil {
		return err
	}
	if _, err := w.sc.Push(ctx); err == nil {
		return fmt.Errorf("the push of e1 should have left a 412")
	}
	cancel = true
	if _, err := w.sc.Push(ctx); err == nil {
		return fmt.Errorf("the cancelled push should have failed")
	}
	errs, err := w.sc.OperationErrors(ctx)
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		return fmt.Errorf("after a cancelled push the store holds %d recorded error(s), want the 412 of e1", len(errs))
	}
	return nil
}

// probeLinkOnCutPage: a query the server's page size cuts gets Link rel=next.
func probeLinkOnCutPage(context.Context) error {
	srv := fakeserver.New(fakeserver.Config{PageSize: 2, Clock: fakeserver.SimClock(time.Time{})})
	for _, id := range []string{"a", "b", "c"} {
		if _, err := srv.Insert("todoitem", map[string]any{"id": id}); err != nil {
			return err
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/tables/todoitem", nil)
	req.Header.Set("ZUMO-API-VERSION", "2.0.0")
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("GET /tables/todoitem: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Header().Get("Link"), "rel=next") {
		return fmt.Errorf("a page of 2 of 3 rows came without Link rel=next (Link: %q)", rec.Header().Get("Link"))
	}
	return nil
}

// probeDeletedNotQueried: a query without __includeDeleted returns no tombstone.
func probeDeletedNotQueried(ctx context.Context) error {
	w, err := newProbeWorld(nil, fakeserver.Config{})
	if err != nil {
		return err
	}
	if _, err := w.srv.Insert("todoitem", map[string]any{"id": "d1"}); err != nil {
		return err
	}
	if _, err := w.srv.Delete("todoitem", "d1"); err != nil {
		return err
	}
	rows, err := w.sc.Client().Table("todoitem").Query(ctx, nil)
	if err != nil {
		return err
	}
	if len(rows) != 0 {
		return fmt.Errorf("a query without __includeDeleted returned %d row(s): %v", len(rows), rows)
	}
	return nil
}

// probeIDsFoldCase: the server's ids match case-insensitively: inserting A1 after a1 is a 409.
func probeIDsFoldCase(context.Context) error {
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Time{})})
	if _, err := srv.Insert("todoitem", map[string]any{"id": "a1"}); err != nil {
		return err
	}
	if _, err := srv.Insert("todoitem", map[string]any{"id": "A1"}); !errors.Is(err, fakeserver.ErrConflict) {
		return fmt.Errorf("inserting A1 after a1: %v, want a conflict (%d rows: %v)", err, len(srv.Rows("todoitem")), srv.Rows("todoitem"))
	}
	return nil
}

// mutantProbes: a focused check per mutant of onlyByProbe, nil when the rule holds.
var mutantProbes = map[mutants.Mutant]func(context.Context) error{
	mutants.PullOverwritesPending:      probePendingRowPulled,
	mutants.SkippedRowsMoveToken:       probePendingRowPulled,
	mutants.DeletedInQueries:           probeDeletedNotQueried,
	mutants.OnPushCompleteThisPushOnly: probeEarlierErrorsShown,
	mutants.MemoryErrorLostOnAttempt:   probeErrorSurvivesCancel,
	mutants.PageWithoutLink:            probeLinkOnCutPage,
	mutants.CaseSensitiveIDs:           probeIDsFoldCase,
}

// TestMutantProbes: each probe passes on the correct code and catches its mutant.
func TestMutantProbes(t *testing.T) {
	for m := range onlyByProbe {
		if mutantProbes[m] == nil {
			t.Errorf("%s survives the catalogue and has no probe", m)
		}
	}
	for m, probe := range mutantProbes {
		t.Run(string(m), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := probe(ctx); err != nil {
				t.Fatalf("fails on the correct code: %v", err)
			}
			restore := mutants.Enable(m)
			err := probe(ctx)
			restore()
			if err == nil {
				t.Fatalf("%s survives its probe", m)
			}
			t.Logf("caught: %v", err)
		})
	}
}
