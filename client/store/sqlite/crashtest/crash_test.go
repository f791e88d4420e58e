// Package crashtest kills a sync client with SIGKILL in the middle of a push and of a pull, then
// reopens its SQLite store and checks that nothing was lost or half-written (P8 of
// docs/properties.md, and P9 for the delta token a pull left): the store is the only thing
// that survives, as when a phone's app is killed.
//
// A round kills the child in one of two places. At a request: the killer SIGKILLs it before
// the server answers its n-th request (a response lost with the process). At a store commit:
// the child's store is wrapped by client/store/faulty, whose AfterCommit hook SIGKILLs the
// child itself right after its k-th transaction commits, k drawn over all the transactions
// the push or pull makes (counted beforehand by the same work on a memory store), so the kill
// lands between two commits, where a page or push result stored in two transactions would be
// cut in half.
package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/faulty"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
)

// The child: CRASHTEST_CHILD=push|pull, CRASHTEST_DB, CRASHTEST_URL; CRASHTEST_KILL_AFTER_COMMIT
// (k > 0: SIGKILL itself right after its k-th store commit); CRASHTEST_MUTANT (a mutant to
// enable, in a build with the tag mutants). It syncs until killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CRASHTEST_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("CRASHTEST_DB"), os.Getenv("CRASHTEST_URL")))
	}
	os.Exit(m.Run())
}

// enableMutant puts a mutant in force by its name; set only in a build with the tag mutants.
var enableMutant func(name string) (restore func())

func child(mode, db, url string) int {
	ctx := context.Background()
	if m := os.Getenv("CRASHTEST_MUTANT"); m != "" {
		if enableMutant == nil {
			fmt.Fprintln(os.Stderr, "child: mutant", m, "asked for in a build without the tag mutants")
			return 2
		}
		enableMutant(m)
	}
	killAt, _ := strconv.Atoi(os.Getenv("CRASHTEST_KILL_AFTER_COMMIT"))
	inner, err := sqlite.Open(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	st := faulty.New(inner, faulty.AfterCommit(func(n int) {
		if n == killAt {
			killSelf()
		}
	}))
	c, err := client.New(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	sc, err := client.NewSyncContext(c, st, nil, client.PullPageSize(pullPage))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	err = work(ctx, sc, mode)
	// Reaching here means the kill came late; the parent accepts that for a kill at a request.
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
	}
	_ = st.Close()
	return 0
}

// work is what the child does, and what counting the transactions does on a memory store.
func work(ctx context.Context, sc *client.SyncContext, mode string) error {
	if mode == "push" {
		_, err := sc.Push(ctx)
		return err
	}
	return sc.Table(table).Pull(ctx, nil, "all")
}

// killSelf SIGKILLs this process: no code of it runs after the commit that called it.
func killSelf() {
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = p.Signal(os.Kill)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: cannot kill itself:", err)
		os.Exit(3)
	}
	time.Sleep(time.Hour) // the signal is on its way
}

const (
	table    = "todoitem"
	pullPage = 20
)

var t0 = time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC)

// killer serves the fake server and, when n > 0, SIGKILLs the child before answering its n-th
// request (the request may or may not have been applied: a lost response).
type killer struct {
	srv      *fakeserver.Server
	n        atomic.Int32
	seen     atomic.Int32
	mu       sync.Mutex
	proc     *os.Process
	killedAt atomic.Int32
}

func (k *killer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := k.seen.Add(1); n == k.n.Load() {
		k.kill(n)
	}
	k.srv.Handler().ServeHTTP(w, r)
}

func (k *killer) kill(n int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != nil {
		_ = k.proc.Signal(syscall.SIGKILL)
		k.killedAt.Store(n)
	}
}

// kill is where a round kills the child: before the server answers request Request, or right
// after store commit Commit (one of them is 0).
type kill struct {
	Request int
	Commit  int
	Of      int // the transactions the work makes, for a kill at a commit
}

func (k kill) String() string {
	if k.Commit > 0 {
		return fmt.Sprintf("after store commit %d of %d", k.Commit, k.Of)
	}
	return fmt.Sprintf("before the answer to request %d", k.Request)
}

// drawKill draws a kill: at a commit two times in three, else at a request of the first
// requests many.
func drawKill(rng *rand.Rand, requests, commits int) kill {
	if rng.IntN(3) > 0 {
		return kill{Commit: 1 + rng.IntN(commits), Of: commits}
	}
	return kill{Request: 1 + rng.IntN(requests)}
}

// countTransactions is how many store transactions work makes on st against a server at url:
// the number of commit boundaries a kill can land on.
func countTransactions(t *testing.T, st *faulty.Store, url, mode string) int {
	t.Helper()
	before := st.Transactions()
	err := work(context.Background(), syncContext(t, st, url, nil), mode)
	if pf := (*client.PushFailedError)(nil); errors.As(err, &pf) {
		err = nil // the conflicts a push meets are the work's; their errors are recorded
	}
	if err != nil {
		t.Fatalf("counting the transactions of the %s: %v", mode, err)
	}
	return st.Transactions() - before
}

// runChild runs the child against k until it dies, killed as kl says, with mutant (when set) in
// force. A child told to kill itself at a commit must die of SIGKILL.
func runChild(t *testing.T, k *killer, url, mode, db string, kl kill, mutant string) {
	t.Helper()
	k.seen.Store(0) // count the child's requests only
	k.n.Store(int32(kl.Request))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CRASHTEST_CHILD="+mode, "CRASHTEST_DB="+db, "CRASHTEST_URL="+url,
		"CRASHTEST_KILL_AFTER_COMMIT="+strconv.Itoa(kl.Commit), "CRASHTEST_MUTANT="+mutant)
	cmd.Stderr = os.Stderr
	k.mu.Lock()
	if err := cmd.Start(); err != nil {
		k.mu.Unlock()
		t.Fatal(err)
	}
	k.proc = cmd.Process
	k.mu.Unlock()
	_ = cmd.Wait()
	k.mu.Lock()
	k.proc = nil
	k.mu.Unlock()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if kl.Commit > 0 && (!ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		t.Fatalf("the child was to kill itself %s, but ended with %v", kl, cmd.ProcessState)
	}
}

func syncContext(t *testing.T, st store.Store, url string, h client.Handler, opts ...client.Option) *client.SyncContext {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := client.NewSyncContext(c, st, h, append([]client.Option{client.PullPageSize(pullPage)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// pushWorld is the device's state before a push: 10 pulled rows (3 changed on the server
// since), then 20 inserts, 6 updates and 2 deletes queued in st. It returns the server and the
// queued operations.
func pushWorld(t *testing.T, st store.Store) (*fakeserver.Server, []client.Operation) {
	t.Helper()
	ctx := context.Background()
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	sc := syncContext(t, st, ts.URL, nil)
	todo := sc.Table(table)
	for i := range 10 {
		if _, err := srv.Insert(table, map[string]any{"id": "s" + strconv.Itoa(i), "text": "seed"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := todo.Pull(ctx, nil, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := srv.Write(table, "s"+strconv.Itoa(i), map[string]any{"text": "server"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if _, err := todo.Insert(ctx, client.Item{"id": "n" + strconv.Itoa(i), "text": "new " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		if _, err := todo.Update(ctx, client.Item{"id": "s" + strconv.Itoa(i), "text": "local"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 8; i < 10; i++ {
		if err := todo.Delete(ctx, client.Item{"id": "s" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := sc.PendingOperations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return srv, before
}

// TestKillDuringPush queues inserts, updates (some of which conflict on the server) and
// deletes, kills the pushing child at a random request or store commit, and checks the
// reopened store: every operation is still queued with its row, or done on the server with
// the server's row stored; a failed operation has its error record; then a push finishes the
// work.
func TestKillDuringPush(t *testing.T) {
	for round := range 6 {
		seed := uint64(time.Now().UnixNano())
		t.Run(fmt.Sprintf("round%d-seed%d", round, seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			ctx := context.Background()

			// The same work on a memory store against a server of its own counts the commits.
			var commits int
			{
				st := faulty.New(memory.New())
				srv, _ := pushWorld(t, st)
				ts := httptest.NewServer(srv.Handler())
				commits = countTransactions(t, st, ts.URL, "push")
				ts.Close()
				_ = st.Close()
			}

			db := filepath.Join(t.TempDir(), "client.db")
			st, err := sqlite.Open(db)
			if err != nil {
				t.Fatal(err)
			}
			srv, before := pushWorld(t, st)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			k := &killer{srv: srv}
			ts := httptest.NewServer(k)
			defer ts.Close()

			kl := drawKill(rng, len(before), commits)
			seq := lastSeq(srv)
			runChild(t, k, ts.URL, "push", db, kl, "")
			t.Logf("killed %s", kl)

			st, err = sqlite.Open(db)
			if err != nil {
				t.Fatalf("reopen after the kill: %v", err)
			}
			defer st.Close()
			sc := syncContext(t, st, ts.URL, client.ClientWins(), client.TreatIdenticalAsSuccess())
			todo := sc.Table(table)
			ops, err := sc.PendingOperations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := sc.OperationErrors(ctx)
			if err != nil {
				t.Fatal(err)
			}
			queued := map[string]client.Operation{}
			for _, op := range ops {
				queued[op.ItemID] = op
			}
			recorded := map[string]bool{}
			for _, e := range errs {
				recorded[e.OperationID] = true
				if _, ok := queued[e.ItemID]; !ok {
					t.Errorf("error recorded for %s, whose operation is gone", e.ItemID)
				}
			}
			applied := appliedWrites(srv, seq)
			for _, op := range before {
				now, still := queued[op.ItemID]
				row, lerr := todo.Lookup(ctx, op.ItemID)
				server, _ := srv.Row(table, op.ItemID)
				switch {
				case still:
					if now.Kind != op.Kind || now.Sequence != op.Sequence {
						t.Errorf("%s: operation changed from %s#%d to %s#%d", op.ItemID, op.Kind, op.Sequence, now.Kind, now.Sequence)
					}
					if now.State == "failed" && !recorded[now.ID] {
						t.Errorf("%s: failed without its error record", op.ItemID)
					}
					if op.Kind != "delete" && (lerr != nil || row["text"] == nil) {
						t.Errorf("%s: queued %s lost its local row: %v", op.ItemID, op.Kind, lerr)
					}
				case op.Kind == "delete":
					if lerr == nil || server["deleted"] != true {
						t.Errorf("%s: delete gone from the queue but row local=%v server=%v", op.ItemID, row, server)
					}
				default:
					if !applied[op.ItemID] {
						t.Errorf("%s: %s gone from the queue but never applied on the server", op.ItemID, op.Kind)
					}
					if lerr != nil || !sameRow(row, server) {
						t.Errorf("%s: done, but the local row %v is not the server's %v", op.ItemID, row, server)
					}
				}
			}

			// The next push completes the work (ClientWins takes the conflicts; a retried insert
			// whose first answer was lost meets an identical row).
			if _, err := sc.Push(ctx); err != nil {
				t.Fatalf("the push after the crash: %v", err)
			}
			if ops, _ := sc.PendingOperations(ctx); len(ops) != 0 {
				t.Fatalf("%d operations left after the push", len(ops))
			}
			for _, op := range before {
				server, _ := srv.Row(table, op.ItemID)
				row, lerr := todo.Lookup(ctx, op.ItemID)
				if op.Kind == "delete" {
					if server["deleted"] != true || lerr == nil {
						t.Errorf("%s: not deleted: server %v, local %v", op.ItemID, server, row)
					}
					continue
				}
				if !sameRow(row, server) {
					t.Errorf("%s: local %v != server %v", op.ItemID, row, server)
				}
			}
		})
	}
}

// TestKillDuringPull kills an incremental pull at a random request or store commit and checks
// what pullRound checks: whole pages only, the token at the newest stored row, P9, and a pull
// that completes.
func TestKillDuringPull(t *testing.T) {
	for round := range 6 {
		seed := uint64(time.Now().UnixNano())
		t.Run(fmt.Sprintf("round%d-seed%d", round, seed), func(t *testing.T) {
			r := pullRound(t, seed, "", false)
			for _, f := range r.findings {
				t.Error(f)
			}
		})
	}
}

// pullResult is what one round of pullRound found.
type pullResult struct {
	kill     kill
	findings []string // what the reopened store got wrong, for people
	p9       bool     // the saved token claims rows the store does not hold (P9 violated)
	lost     bool     // the incremental pull after the restart did not bring every row
}

// pullRows is how many rows the server holds for a pull round: pullRows/pullPage pages.
const pullRows = 400

// pullRound kills an incremental pull of pullRows rows (with mutant, when set, in force in the
// child) at a random request or store commit (only at a commit when atCommit), reopens the
// store and checks it holds whole pages only: the local rows are the first rows in updatedAt
// order, each equal to the server's; the delta token is the last one's updatedAt, and no row
// below it is missing (P9, check.IncrementalComplete). A page stored in two transactions
// would break one of these. Then a pull must complete: every row is stored.
func pullRound(t *testing.T, seed uint64, mutant string, atCommit bool) pullResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
	order := make([]string, pullRows)
	for i := range pullRows {
		id := fmt.Sprintf("r%04d", rng.IntN(1_000_000))
		for {
			if _, ok := srv.Row(table, id); !ok {
				break
			}
			id += "x"
		}
		if _, err := srv.Insert(table, map[string]any{"id": id, "n": i}); err != nil {
			t.Fatal(err)
		}
		order[i] = id
	}
	k := &killer{srv: srv}
	ts := httptest.NewServer(k)
	defer ts.Close()

	// The same pull on a memory store counts the commits (a pull only reads the server).
	counter := faulty.New(memory.New())
	restore := func() {}
	if mutant != "" {
		if enableMutant == nil {
			t.Fatalf("mutant %s asked for in a build without the tag mutants", mutant)
		}
		restore = enableMutant(mutant)
	}
	commits := countTransactions(t, counter, ts.URL, "pull")
	restore()
	_ = counter.Close()

	res := pullResult{kill: drawKill(rng, pullRows/pullPage, commits)}
	if atCommit && res.kill.Commit == 0 {
		res.kill = kill{Commit: 1 + rng.IntN(commits), Of: commits}
	}
	db := filepath.Join(t.TempDir(), "client.db")
	st, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	runChild(t, k, ts.URL, "pull", db, res.kill, mutant)
	t.Logf("killed %s", res.kill)
	report := func(format string, args ...any) { res.findings = append(res.findings, fmt.Sprintf(format, args...)) }

	ctx := context.Background()
	st, err = sqlite.Open(db)
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer st.Close()
	sc := syncContext(t, st, ts.URL, nil)
	todo := sc.Table(table)
	local, err := todo.Read(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]client.Item{}
	for _, r := range local {
		got[r["id"].(string)] = r
	}
	for i, id := range order {
		_, ok := got[id]
		if ok != (i < len(local)) {
			report("row %d (%s) stored=%v, but %d rows are stored: not a prefix in updatedAt order", i, id, ok, len(local))
			break
		}
		if ok {
			server, _ := srv.Row(table, id)
			if !sameRow(got[id], server) {
				report("%s: local %v != server %v", id, got[id], server)
			}
		}
	}
	token, err := sc.DeltaToken(ctx, table, "all")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	if len(local) > 0 {
		last, _ := srv.Row(table, order[len(local)-1])
		want = last["updatedAt"].(string)
	}
	if token != want {
		report("delta token %q, want %q (the newest stored row's updatedAt)", token, want)
	}
	if token != "" {
		at, err := time.Parse(time.RFC3339Nano, token)
		if err != nil {
			t.Fatalf("the delta token %q is not a time: %v", token, err)
		}
		snap, err := check.Take(ctx, st, []string{table})
		if err != nil {
			t.Fatal(err)
		}
		if f := check.IncrementalComplete(table, at, srv.Rows(table), snap); f.Verdict != reports.Holds {
			res.p9 = true
			report("%s %s: %s", f.Property, f.Verdict, f.Detail)
		}
	}
	if err := todo.Pull(ctx, nil, "all"); err != nil {
		t.Fatalf("the pull after the crash: %v", err)
	}
	if local, _ := todo.Read(ctx, nil); len(local) != pullRows {
		res.lost = true
		report("%d rows after the incremental pull from the saved token, want %d", len(local), pullRows)
	}
	return res
}

func lastSeq(srv *fakeserver.Server) uint64 {
	h := srv.History()
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Seq
}

// appliedWrites lists the items a request applied a write to since seq.
func appliedWrites(srv *fakeserver.Server, seq uint64) map[string]bool {
	out := map[string]bool{}
	for _, ev := range srv.HistorySince(seq) {
		if ev.Applied {
			out[ev.ItemID] = true
		}
	}
	return out
}

// sameRow compares a local row with the server's as JSON.
func sameRow(local client.Item, server map[string]any) bool {
	a, _ := json.Marshal(local)
	b, _ := json.Marshal(server)
	return string(a) == string(b)
}
