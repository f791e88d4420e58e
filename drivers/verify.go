package drivers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// A Problem is one thing a driver did wrong, as `conflictlab driver check` prints it.
type Problem struct {
	// Check names what was tried ("hello", "insert then lookup", "restart on sqlite"…).
	Check string
	What  string
}

func (p Problem) String() string { return p.Check + ": " + p.What }

// Verify exercises a driver against an embedded server and says what is wrong with it: the
// hello and its capabilities, every op it claims with its results and error kinds, a restart
// on each store it offers, and overlapping requests. A driver that crashes or hangs is a
// problem like any other; Verify never hangs on one. progress, when not nil, hears the name
// of each check as it starts.
func Verify(ctx context.Context, start Factory, progress func(string)) (Info, []Problem) {
	v := &verifier{ctx: ctx, progress: progress}
	drv, err := start(ctx)
	if err != nil {
		return Info{}, []Problem{{"hello", err.Error()}}
	}
	defer drv.Close()
	v.drv, v.info = drv, drv.Info()
	dir, err := os.MkdirTemp("", "conflictlab-driver-check-")
	if err != nil {
		return v.info, []Problem{{"setup", err.Error()}}
	}
	defer os.RemoveAll(dir)
	v.dir = dir
	v.run()
	return v.info, v.problems
}

type verifier struct {
	ctx      context.Context
	progress func(string)
	drv      Driver
	info     Info
	dir      string
	problems []Problem
	// fatal is set once the driver is gone: the checks after it are not tried.
	fatal bool
	n     int
}

func (v *verifier) has(op string) bool { return slices.Contains(v.info.Capabilities.Ops, op) }

func (v *verifier) problem(check, format string, args ...any) {
	v.problems = append(v.problems, Problem{check, fmt.Sprintf(format, args...)})
}

// failed records err as a problem of check when it is one; a dead driver ends the checks.
func (v *verifier) failed(check string, err error) bool {
	if err == nil {
		return false
	}
	v.problem(check, "%v", err)
	if KindOf(err) == KindDriver {
		v.fatal = true
	}
	return true
}

// wantKind checks that err is of kind.
func (v *verifier) wantKind(check string, err error, kind string) {
	switch {
	case err == nil:
		v.problem(check, "succeeded; want the error %s", kind)
	case KindOf(err) == KindDriver:
		v.failed(check, err)
	case !Matches(err, kind):
		v.problem(check, "failed with %s (%v); want the error %s", KindOf(err), err, kind)
	}
}

// world is a fresh embedded server and a device on it.
type world struct {
	srv *fakeserver.Server
	url string
	dev Device
	cfg DeviceConfig
	ts  interface{ Close() }
}

func (v *verifier) world(check, strategy, storeKind string) *world {
	srv := fakeserver.New(fakeserver.Config{})
	ts := srv.Start()
	v.n++
	cfg := DeviceConfig{Name: fmt.Sprintf("check%d", v.n), URL: ts.URL, Dialect: v.info.Capabilities.Dialects[0],
		InstallationID: fmt.Sprintf("check%d", v.n), Store: StoreConfig{Kind: storeKind}, Strategy: strategy, Timeout: 5 * time.Second}
	if cfg.Dialect != "v2" && slices.Contains(v.info.Capabilities.Dialects, "v2") {
		cfg.Dialect = "v2"
	}
	if cfg.Dialect == "v1" {
		srv = fakeserver.New(fakeserver.Config{Dialect: fakeserver.V1})
		ts.Close()
		ts = srv.Start()
		cfg.URL = ts.URL
	}
	if storeKind == "sqlite" {
		cfg.Store.Path = filepath.Join(v.dir, cfg.Name+".db")
	}
	dev, err := v.drv.Open(v.ctx, cfg)
	if v.failed(check+": open", err) {
		ts.Close()
		return nil
	}
	return &world{srv: srv, url: ts.URL, dev: dev, cfg: cfg, ts: ts}
}

func (w *world) close(ctx context.Context) {
	if w.dev != nil {
		_ = w.dev.Close(ctx)
	}
	w.ts.Close()
}

func (v *verifier) step(name string, fn func(string)) {
	if v.fatal || v.ctx.Err() != nil {
		return
	}
	if v.progress != nil {
		v.progress(name)
	}
	fn(name)
}

func (v *verifier) run() {
	strategy := v.info.Capabilities.Strategies[0]
	if slices.Contains(v.info.Capabilities.Strategies, "manual") {
		strategy = "manual"
	}
	kind := v.info.Capabilities.Stores[0]
	v.step("local writes, lookup and the queue", func(c string) { v.localWrites(c, strategy, kind) })
	v.step("push and the server", func(c string) { v.push(c, strategy, kind) })
	v.step("pull, incremental pull and purge", func(c string) { v.pull(c, strategy, kind) })
	v.step("a conflict and its resolution", func(c string) { v.conflict(c, kind) })
	for _, st := range v.info.Capabilities.Stores {
		v.step("restart on "+st, func(c string) { v.restart(c, strategy, st) })
	}
	v.step("overlapping requests", func(c string) { v.overlap(c, strategy, kind) })
}

func (v *verifier) localWrites(c, strategy, storeKind string) {
	w := v.world(c, strategy, storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	if v.has("insert") {
		_, err := w.dev.Insert(v.ctx, "todoitem", Item{"id": "c1", "text": "one"})
		if v.failed(c+": insert c1", err) {
			return
		}
		_, err = w.dev.Insert(v.ctx, "todoitem", Item{"id": "c1", "text": "again"})
		v.wantKind(c+": insert of an id the store has", err, KindInvalidOperation)
	}
	if v.has("update") && v.has("insert") {
		_, err := w.dev.Update(v.ctx, "todoitem", Item{"id": "c1", "text": "two"})
		if v.failed(c+": update c1", err) {
			return
		}
	}
	if v.has("lookup") {
		_, err := w.dev.Lookup(v.ctx, "todoitem", "nothing-has-this-id")
		v.wantKind(c+": lookup of a missing id", err, KindNotFound)
		if v.has("insert") {
			row, err := w.dev.Lookup(v.ctx, "todoitem", "c1")
			switch {
			case v.failed(c+": lookup c1", err):
			case row["id"] != "c1":
				v.problem(c+": lookup c1", "returned id %v", row["id"])
			case v.has("update") && row["text"] != "two":
				v.problem(c+": lookup c1 after the update", "text is %v, want two", row["text"])
			}
		}
	}
	if v.has("read") && v.has("insert") {
		_, err := w.dev.Insert(v.ctx, "todoitem", Item{"id": "c2", "text": "zzz"})
		if !v.failed(c+": insert c2", err) {
			rows, err := w.dev.Read(v.ctx, "todoitem", &Query{Filter: "text eq 'zzz'"})
			if !v.failed(c+": read with a filter", err) && (len(rows) != 1 || rows[0]["id"] != "c2") {
				v.problem(c+": read with a filter", "returned %d row(s) %v; want c2 alone", len(rows), ids(rows))
			}
		}
	}
	snap, err := w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if v.failed(c+": snapshot", err) {
		return
	}
	if v.has("insert") {
		for _, id := range []string{"c1", "c2"} {
			if !slices.ContainsFunc(snap.Ops, func(o store.Operation) bool { return strings.EqualFold(o.ItemID, id) }) && (id == "c1" || v.has("read")) {
				v.problem(c+": snapshot", "the queue has no operation for %s, inserted locally (operations: %d)", id, len(snap.Ops))
			}
		}
		if _, ok := snap.Rows["todoitem"]["c1"]; !ok {
			v.problem(c+": snapshot", "the rows of todoitem lack c1")
		}
	}
}

func (v *verifier) push(c, strategy, storeKind string) {
	if !v.has("insert") || !v.has("push") {
		return
	}
	w := v.world(c, strategy, storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	if _, err := w.dev.Insert(v.ctx, "todoitem", Item{"id": "p1", "text": "pushed"}); v.failed(c+": insert", err) {
		return
	}
	res, err := w.dev.Push(v.ctx)
	switch {
	case v.failed(c+": push", err):
		return
	case !res.Complete():
		v.problem(c+": push", "status %s with %d error(s); want complete", res.Status, len(res.Errors))
	}
	if row, ok := w.srv.Row("todoitem", "p1"); !ok || row["text"] != "pushed" {
		v.problem(c+": push", "the server has %v; want p1 with text pushed", row)
	}
	snap, err := w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if !v.failed(c+": snapshot after the push", err) && len(snap.Ops) != 0 {
		v.problem(c+": the queue after the push", "%d operation(s) left; want none", len(snap.Ops))
	}
	if v.has("delete") {
		if err := w.dev.Delete(v.ctx, "todoitem", Item{"id": "p1"}); !v.failed(c+": delete", err) {
			if _, err := w.dev.Push(v.ctx); !v.failed(c+": push of the delete", err) {
				if row, _ := w.srv.Row("todoitem", "p1"); row["deleted"] != true {
					v.problem(c+": push of the delete", "the server's row is %v; want it deleted", row)
				}
			}
		}
	}
	if v.has("query") {
		_, _ = w.srv.Insert("todoitem", map[string]any{"id": "online", "text": "from the server"})
		rows, err := w.dev.Query(v.ctx, "todoitem", &Query{Filter: "id eq 'online'"})
		if !v.failed(c+": online query", err) && (len(rows) != 1 || rows[0]["text"] != "from the server") {
			v.problem(c+": online query", "returned %v; want the server's row online", ids(rows))
		}
	}
}

func (v *verifier) pull(c, strategy, storeKind string) {
	if !v.has("pull") {
		return
	}
	w := v.world(c, strategy, storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	for i := range 7 {
		_, _ = w.srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("s%d", i), "text": "server"})
	}
	if v.failed(c+": full pull", w.dev.Pull(v.ctx, "todoitem", nil, "")) {
		return
	}
	snap, err := w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if !v.failed(c+": snapshot after the pull", err) && len(snap.Rows["todoitem"]) != 7 {
		v.problem(c+": full pull", "%d row(s) local; want the server's 7", len(snap.Rows["todoitem"]))
	}
	_, _ = w.srv.Update("todoitem", "s3", map[string]any{"text": "changed"})
	if v.failed(c+": incremental pull", w.dev.Pull(v.ctx, "todoitem", nil, "all")) {
		return
	}
	snap, err = w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if v.failed(c+": snapshot after the incremental pull", err) {
		return
	}
	if row := snap.Rows["todoitem"]["s3"]; row["text"] != "changed" {
		v.problem(c+": incremental pull", "s3 is %v; want the server's change", row)
	}
	if tok := snap.Config["deltaToken|todoitem|all"]; tok == "" {
		v.problem(c+": incremental pull", "no delta token under deltaToken|todoitem|all in the snapshot's config (keys: %v)", keys(snap.Config))
	} else if _, err := time.Parse(time.RFC3339Nano, tok); err != nil {
		v.problem(c+": incremental pull", "the delta token %q is not an ISO 8601 instant", tok)
	}
	if !v.has("purge") {
		return
	}
	if v.has("update") {
		if _, err := w.dev.Update(v.ctx, "todoitem", Item{"id": "s1", "text": "local"}); !v.failed(c+": update", err) {
			v.wantKind(c+": purge of a table with a queued operation", w.dev.Purge(v.ctx, "todoitem", nil, "", false), KindPurgePendingChanges)
		}
	}
	if v.failed(c+": forced purge", w.dev.Purge(v.ctx, "todoitem", nil, "", true)) {
		return
	}
	snap, err = w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if !v.failed(c+": snapshot after the forced purge", err) && (len(snap.Rows["todoitem"]) != 0 || len(snap.Ops) != 0) {
		v.problem(c+": forced purge", "%d row(s) and %d operation(s) left; want none", len(snap.Rows["todoitem"]), len(snap.Ops))
	}
}

func (v *verifier) conflict(c, storeKind string) {
	if !v.has("update") || !v.has("push") || !v.has("pull") || !slices.Contains(v.info.Capabilities.Strategies, "manual") {
		return
	}
	w := v.world(c, "manual", storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	_, _ = w.srv.Insert("todoitem", map[string]any{"id": "k", "text": "first"})
	if v.failed(c+": pull", w.dev.Pull(v.ctx, "todoitem", nil, "")) {
		return
	}
	if _, err := w.dev.Update(v.ctx, "todoitem", Item{"id": "k", "text": "mine"}); v.failed(c+": update", err) {
		return
	}
	_, _ = w.srv.Update("todoitem", "k", map[string]any{"text": "theirs"})
	res, err := w.dev.Push(v.ctx)
	if v.failed(c+": push that meets a 412", err) {
		return
	}
	if len(res.Errors) != 1 || res.Errors[0].Status != 412 || !strings.EqualFold(res.Errors[0].ItemID, "k") {
		v.problem(c+": push that meets a 412", "status %s, errors %+v; want one error of todoitem/k with status 412", res.Status, res.Errors)
		return
	}
	if res.Errors[0].ServerItem == nil || res.Errors[0].ServerItem["text"] != "theirs" {
		v.problem(c+": push that meets a 412", "the error's serverItem is %v; want the server's row", res.Errors[0].ServerItem)
	}
	errs, err := w.dev.Errors(v.ctx)
	if !v.failed(c+": errors", err) && len(errs) != 1 {
		v.problem(c+": errors after the 412", "%d error(s); want 1", len(errs))
	}
	if !v.has("resolve") {
		return
	}
	if v.failed(c+": resolve cancel-and-update", w.dev.Resolve(v.ctx, "todoitem", "k", "cancel-and-update", res.Errors[0].ServerItem)) {
		return
	}
	snap, err := w.dev.Snapshot(v.ctx, []string{"todoitem"})
	if !v.failed(c+": snapshot after the resolution", err) {
		if len(snap.Ops) != 0 {
			v.problem(c+": resolve cancel-and-update", "%d operation(s) left; want none", len(snap.Ops))
		}
		if row := snap.Rows["todoitem"]["k"]; row["text"] != "theirs" {
			v.problem(c+": resolve cancel-and-update", "the local row is %v; want the server's", row)
		}
	}
}

func (v *verifier) restart(c, strategy, storeKind string) {
	if !v.has("insert") {
		return
	}
	w := v.world(c, strategy, storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	if _, err := w.dev.Insert(v.ctx, "todoitem", Item{"id": "r1", "text": "kept"}); v.failed(c+": insert", err) {
		return
	}
	if v.failed(c+": close", w.dev.Close(v.ctx)) {
		w.dev = nil
		return
	}
	dev, err := v.drv.Open(v.ctx, w.cfg)
	w.dev = dev
	if v.failed(c+": open again", err) {
		return
	}
	snap, err := dev.Snapshot(v.ctx, []string{"todoitem"})
	if v.failed(c+": snapshot after the restart", err) || storeKind != "sqlite" {
		return
	}
	if _, ok := snap.Rows["todoitem"]["r1"]; !ok || len(snap.Ops) != 1 {
		v.problem(c, "after close and open on the same file: row r1 present %v, %d operation(s); want the row and its insert", ok, len(snap.Ops))
	}
}

// overlap sends a lookup while a pull is held up by the server: a driver must answer both,
// each with its own id, the lookup first.
func (v *verifier) overlap(c, strategy, storeKind string) {
	if !v.has("pull") || !v.has("lookup") || !v.has("insert") {
		return
	}
	w := v.world(c, strategy, storeKind)
	if w == nil {
		return
	}
	defer w.close(v.ctx)
	if _, err := w.dev.Insert(v.ctx, "other", Item{"id": "o1"}); v.failed(c+": insert", err) {
		return
	}
	_, _ = w.srv.Faults().Add(fakeserver.Rule{Action: "latency", Params: map[string]any{"ms": 1500.0},
		Match: fakeserver.Match{Method: []string{"GET"}, Table: "todoitem", Times: 1}})
	var wg sync.WaitGroup
	var pullErr error
	var pullDone time.Time
	wg.Add(1)
	go func() {
		defer wg.Done()
		pullErr = w.dev.Pull(v.ctx, "todoitem", nil, "")
		pullDone = time.Now()
	}()
	time.Sleep(200 * time.Millisecond)
	_, err := w.dev.Lookup(v.ctx, "other", "o1")
	lookupDone := time.Now()
	wg.Wait()
	v.failed(c+": lookup during a pull", err)
	v.failed(c+": pull held up by the server", pullErr)
	if err == nil && pullErr == nil && lookupDone.After(pullDone) {
		v.problem(c, "the lookup was answered only after the pull ended: requests must not wait for each other")
	}
}

func ids(rows []Item) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r["id"]
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
