// Package crashtest kills a sync client with SIGKILL in the middle of a push and of a pull, then
// reopens its SQLite store and checks that nothing was lost or half-written (P8 of
// docs/properties.md): the store is the only thing that survives, as when a phone's app is
// killed.
package crashtest

import (
	"context"
	"encoding/json"
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

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// The child: CRASHTEST_CHILD=push|pull, CRASHTEST_DB, CRASHTEST_URL. It syncs until killed.
func TestMain(m *testing.M) {
	if mode := os.Getenv("CRASHTEST_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("CRASHTEST_DB"), os.Getenv("CRASHTEST_URL")))
	}
	os.Exit(m.Run())
}

func child(mode, db, url string) int {
	ctx := context.Background()
	st, err := sqlite.Open(db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
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
	switch mode {
	case "push":
		_, err = sc.Push(ctx)
	case "pull":
		err = sc.Table(table).Pull(ctx, nil, "all")
	}
	// Reaching here means the kill came late; the parent accepts that too.
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
	}
	_ = st.Close()
	return 0
}

const (
	table    = "todoitem"
	pullPage = 20
)

var t0 = time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC)

// killer serves the fake server and SIGKILLs the child at the n-th request: before answering
// it (the request may or may not have been applied: a lost response) or just after (the child
// is storing the answer), as chosen.
type killer struct {
	srv      *fakeserver.Server
	n        atomic.Int32
	after    atomic.Bool
	seen     atomic.Int32
	mu       sync.Mutex
	proc     *os.Process
	killedAt atomic.Int32
}

func (k *killer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := k.seen.Add(1)
	target, after := k.n.Load(), k.after.Load()
	if n == target && !after {
		k.kill(n)
	}
	k.srv.Handler().ServeHTTP(w, r)
	if n == target && after {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
		k.kill(n)
	}
}

func (k *killer) kill(n int32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proc != nil {
		_ = k.proc.Signal(syscall.SIGKILL)
		k.killedAt.Store(n)
	}
}

// runChild runs the child against k until it dies.
func runChild(t *testing.T, k *killer, url, mode, db string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CRASHTEST_CHILD="+mode, "CRASHTEST_DB="+db, "CRASHTEST_URL="+url)
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

// TestKillDuringPush queues inserts, updates (some of which conflict on the server) and
// deletes, kills the pushing child at a random request, and checks the reopened store:
// every operation is still queued with its row, or done on the server with the server's row
// stored; a failed operation has its error record; then a push finishes the work.
func TestKillDuringPush(t *testing.T) {
	for round := range 6 {
		seed := uint64(time.Now().UnixNano())
		t.Run(fmt.Sprintf("round%d-seed%d", round, seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
			k := &killer{srv: srv}
			ts := httptest.NewServer(k)
			defer ts.Close()
			db := filepath.Join(t.TempDir(), "client.db")
			ctx := context.Background()

			// The device's state before the crash: 10 pulled rows (3 changed on the server since),
			// then 20 inserts, 6 updates and 2 deletes queued.
			st, err := sqlite.Open(db)
			if err != nil {
				t.Fatal(err)
			}
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
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			k.seen.Store(0) // count the child's requests only
			k.n.Store(int32(1 + rng.IntN(len(before))))
			k.after.Store(rng.IntN(2) == 0)
			seq := lastSeq(srv)
			runChild(t, k, ts.URL, "push", db)
			t.Logf("killed at request %d (after the answer: %v)", k.killedAt.Load(), k.after.Load())

			st, err = sqlite.Open(db)
			if err != nil {
				t.Fatalf("reopen after the kill: %v", err)
			}
			defer st.Close()
			sc = syncContext(t, st, ts.URL, client.ClientWins(), client.TreatIdenticalAsSuccess())
			todo = sc.Table(table)
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

// TestKillDuringPull kills an incremental pull at a random page and checks that the store
// holds whole pages only: the local rows are the first rows in updatedAt order, each equal to
// the server's, and the delta token is the last one's updatedAt (a half-stored page would
// break one of these). Then a pull completes.
func TestKillDuringPull(t *testing.T) {
	for round := range 6 {
		seed := uint64(time.Now().UnixNano())
		t.Run(fmt.Sprintf("round%d-seed%d", round, seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(t0), Seed: 1})
			const rows = 400
			order := make([]string, rows)
			for i := range rows {
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
			k.n.Store(int32(1 + rng.IntN(rows/pullPage)))
			k.after.Store(rng.IntN(2) == 0)
			ts := httptest.NewServer(k)
			defer ts.Close()
			db := filepath.Join(t.TempDir(), "client.db")
			st, err := sqlite.Open(db)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			runChild(t, k, ts.URL, "pull", db)
			t.Logf("killed at request %d (after the answer: %v)", k.killedAt.Load(), k.after.Load())

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
					t.Fatalf("row %d (%s) stored=%v, but %d rows are stored: not a prefix in updatedAt order", i, id, ok, len(local))
				}
				if ok {
					server, _ := srv.Row(table, id)
					if !sameRow(got[id], server) {
						t.Errorf("%s: local %v != server %v", id, got[id], server)
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
				t.Errorf("delta token %q, want %q (the newest stored row's updatedAt)", token, want)
			}
			if err := todo.Pull(ctx, nil, "all"); err != nil {
				t.Fatalf("the pull after the crash: %v", err)
			}
			if local, _ := todo.Read(ctx, nil); len(local) != rows {
				t.Fatalf("%d rows after the pull, want %d", len(local), rows)
			}
		})
	}
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
