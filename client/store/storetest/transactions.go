package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
	. "github.com/onsi/gomega"
)

// errRollback is what a check's fn returns to make its Update fail.
var errRollback = errors.New("storetest: rollback")

// seedBaseline commits a state with something of every kind, for checks that change it.
func seedBaseline(ctx context.Context, g Gomega, s store.Store) {
	update(ctx, g, s, func(w store.Writer) {
		g.Expect(w.PutRow("todo", map[string]any{"id": "r1", "text": "one"})).To(Succeed())
		g.Expect(w.PutRow("todo", map[string]any{"id": "r2", "text": "two"})).To(Succeed())
		g.Expect(w.PutRow("notes", map[string]any{"id": "n1", "text": "note"})).To(Succeed())
		g.Expect(w.PutOperation(newOp("o1", "todo", "r1", 1))).To(Succeed())
		g.Expect(w.PutOperation(newOp("o2", "todo", "r2", 2))).To(Succeed())
		g.Expect(w.PutError(store.OperationError{OperationID: "o1", Status: 412, Sequence: 1})).To(Succeed())
		g.Expect(w.SetConfig("k1", "v1")).To(Succeed())
		g.Expect(w.SetConfig("k2", "v2")).To(Succeed())
	})
}

// changeEverything makes a write of every kind to the baseline: puts, replacements and
// deletions of rows, operations, errors and config.
func changeEverything(g Gomega, w store.Writer) {
	g.Expect(w.PutRow("todo", map[string]any{"id": "r3", "text": "three"})).To(Succeed())
	g.Expect(w.PutRow("todo", map[string]any{"id": "R1", "text": "one, changed"})).To(Succeed())
	g.Expect(w.DeleteRow("todo", "r2")).To(Succeed())
	g.Expect(w.DeleteRows("notes", nil)).To(Equal(1))
	g.Expect(w.PutOperation(newOp("o3", "todo", "r3", 3))).To(Succeed())
	changed := newOp("o1", "todo", "r1", 1)
	changed.State, changed.Version = store.Attempted, 2
	g.Expect(w.PutOperation(changed)).To(Succeed())
	g.Expect(w.DeleteOperation("o2")).To(Succeed())
	g.Expect(w.DeleteError("o1")).To(Succeed())
	g.Expect(w.PutError(store.OperationError{OperationID: "o3", Status: 500, Sequence: 3})).To(Succeed())
	g.Expect(w.SetConfig("k1", "changed")).To(Succeed())
	g.Expect(w.DeleteConfig("k2")).To(Succeed())
	g.Expect(w.SetConfig("k3", "v3")).To(Succeed())
}

// changedState is the baseline after changeEverything.
func changedState() snapshot {
	o1 := newOp("o1", "todo", "r1", 1)
	o1.State, o1.Version = store.Attempted, 2
	return snapshot{
		Rows: map[string][]map[string]any{
			"todo":  {{"id": "r1", "text": "one, changed"}, {"id": "r3", "text": "three"}},
			"notes": {},
		},
		Ops:    []store.Operation{o1, newOp("o3", "todo", "r3", 3)},
		Errors: []store.OperationError{{OperationID: "o3", Status: 500, Sequence: 3}},
		Config: map[string]string{"k1": "changed", "k3": "v3"},
	}
}

// equalSnapshot compares states; an empty table's nil and empty slices are the same.
func equalSnapshot(want snapshot) OmegaMatcher {
	norm := func(sn snapshot) snapshot {
		rows := map[string][]map[string]any{}
		for t, rs := range sn.Rows {
			if len(rs) == 0 {
				rs = []map[string]any{}
			}
			rows[t] = rs
		}
		sn.Rows = rows
		if len(sn.Ops) == 0 {
			sn.Ops = nil
		}
		if len(sn.Errors) == 0 {
			sn.Errors = nil
		}
		return sn
	}
	return WithTransform(norm, Equal(norm(want)))
}

func atomicityChecks() []Check {
	type failure struct {
		name string
		// fail ends fn after its writes; check asserts what Update did with it.
		fail  func() error
		check func(g Gomega, update func() error)
	}
	failures := []failure{
		{"returns an error", func() error { return errRollback }, func(g Gomega, update func() error) {
			g.Expect(update()).To(MatchError(errRollback), "Update returns fn's error")
		}},
		{"returns a wrapped error", func() error { return fmt.Errorf("push: %w", errRollback) }, func(g Gomega, update func() error) {
			g.Expect(update()).To(MatchError(errRollback), "Update returns fn's error")
		}},
		{"panics", func() error { panic(errRollback) }, func(g Gomega, update func() error) {
			g.Expect(func() { _ = update() }).To(PanicWith(errRollback), "the panic goes on up")
		}},
	}
	var checks []Check
	for _, f := range failures {
		checks = append(checks, Check{"an Update whose fn " + f.name + " applies nothing", func(ctx context.Context, g Gomega, s store.Store) {
			seedBaseline(ctx, g, s)
			before := viewSnapshot(ctx, g, s, "todo", "notes")
			f.check(g, func() error {
				return s.Update(ctx, func(w store.Writer) error {
					changeEverything(g, w)
					// The Update sees its own writes before it fails.
					g.Expect(takeSnapshot(g, w, "todo", "notes")).To(equalSnapshot(changedState()))
					return f.fail()
				})
			})
			g.Expect(viewSnapshot(ctx, g, s, "todo", "notes")).To(equalSnapshot(before))
			// And the store is still usable: the failure released whatever it held.
			quick, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			g.Expect(s.Update(quick, func(w store.Writer) error { return w.SetConfig("after", "yes") })).To(Succeed())
			g.Expect(s.View(quick, func(r store.Reader) error { return nil })).To(Succeed())
		}})
	}
	checks = append(checks, Check{"an Update whose fn returns nil applies every write", func(ctx context.Context, g Gomega, s store.Store) {
		seedBaseline(ctx, g, s)
		update(ctx, g, s, func(w store.Writer) { changeEverything(g, w) })
		g.Expect(viewSnapshot(ctx, g, s, "todo", "notes")).To(equalSnapshot(changedState()))
	}})
	checks = append(checks, Check{"a refused write does not fail the Update", func(ctx context.Context, g Gomega, s store.Store) {
		update(ctx, g, s, func(w store.Writer) {
			g.Expect(w.PutRow("todo", map[string]any{"id": "a"})).To(Succeed())
			g.Expect(w.PutRow("todo", map[string]any{"no": "id"})).To(MatchError(store.ErrInvalid))
			g.Expect(w.PutOperation(newOp("o1", "todo", "a", 1))).To(Succeed())
			g.Expect(w.PutOperation(newOp("o2", "todo", "a", 2))).To(MatchError(store.ErrInvalid))
		})
		view(ctx, g, s, func(r store.Reader) {
			g.Expect(r.Row("todo", "a")).To(Equal(map[string]any{"id": "a"}))
			g.Expect(r.Operations()).To(WithTransform(opIDs, Equal([]string{"o1"})))
		})
	}})
	return checks
}

func isolationChecks() []Check {
	return []Check{
		{"a View during an Update sees all of it or none of it", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "v": 0.0}, map[string]any{"id": "b", "v": 0.0})
			update(ctx, g, s, func(w store.Writer) { g.Expect(w.SetConfig("v", "0")).To(Succeed()) })
			halfway := make(chan struct{})
			viewed := make(chan []any, 1)
			go func() {
				<-halfway
				var seen []any
				err := s.View(ctx, func(r store.Reader) error {
					for _, id := range []string{"a", "b"} {
						row, err := r.Row("todo", id)
						if err != nil {
							return err
						}
						seen = append(seen, row["v"])
					}
					v, _, err := r.Config("v")
					seen = append(seen, v)
					return err
				})
				if err != nil {
					seen = []any{err}
				}
				viewed <- seen
			}()
			update(ctx, g, s, func(w store.Writer) {
				g.Expect(w.PutRow("todo", map[string]any{"id": "a", "v": 1.0})).To(Succeed())
				close(halfway)
				// Give the View time to read, unless it waits for this Update to commit.
				select {
				case seen := <-viewed:
					viewed <- seen
				case <-time.After(300 * time.Millisecond):
				}
				g.Expect(w.PutRow("todo", map[string]any{"id": "b", "v": 1.0})).To(Succeed())
				g.Expect(w.SetConfig("v", "1")).To(Succeed())
			})
			var seen []any
			g.Eventually(viewed).WithContext(ctx).Should(Receive(&seen))
			g.Expect(seen).To(Or(Equal([]any{0.0, 0.0, "0"}), Equal([]any{1.0, 1.0, "1"})))
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("todo", "a")).To(HaveKeyWithValue("v", 1.0))
				g.Expect(r.Row("todo", "b")).To(HaveKeyWithValue("v", 1.0))
			})
		}},
		{"a View's state does not change while it runs", func(ctx context.Context, g Gomega, s store.Store) {
			putRows(ctx, g, s, "todo", map[string]any{"id": "a", "v": 0.0})
			inView := make(chan struct{})
			updated := make(chan error, 1)
			go func() {
				<-inView
				updated <- s.Update(ctx, func(w store.Writer) error {
					return w.PutRow("todo", map[string]any{"id": "a", "v": 1.0})
				})
			}()
			view(ctx, g, s, func(r store.Reader) {
				g.Expect(r.Row("todo", "a")).To(HaveKeyWithValue("v", 0.0))
				close(inView)
				// The Update may commit now (a store keeping versions) or wait for this View;
				// either way this View must not see it.
				select {
				case err := <-updated:
					updated <- err
				case <-time.After(200 * time.Millisecond):
				}
				g.Expect(r.Row("todo", "a")).To(HaveKeyWithValue("v", 0.0))
			})
			g.Eventually(updated).WithContext(ctx).Should(Receive(BeNil()))
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.Row("todo", "a")).To(HaveKeyWithValue("v", 1.0)) })
		}},
		{"Views run at the same time", func(ctx context.Context, g Gomega, s store.Store) {
			first, second := make(chan struct{}), make(chan struct{})
			go func() {
				<-first
				_ = s.View(ctx, func(store.Reader) error { close(second); return nil })
			}()
			view(ctx, g, s, func(store.Reader) {
				close(first)
				g.Eventually(second).WithTimeout(5*time.Second).Should(BeClosed(), "a second View did not start while the first ran")
			})
		}},
		{"concurrent Updates lose no update", func(ctx context.Context, g Gomega, s store.Store) {
			const workers, each = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for range workers {
				wg.Go(func() {
					for range each {
						errs <- s.Update(ctx, func(w store.Writer) error {
							v, _, err := w.Config("counter")
							if err != nil {
								return err
							}
							n, _ := strconv.Atoi(v)
							// Widen the window between read and write.
							time.Sleep(50 * time.Microsecond)
							return w.SetConfig("counter", strconv.Itoa(n+1))
						})
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				g.Expect(err).NotTo(HaveOccurred())
			}
			view(ctx, g, s, func(r store.Reader) {
				v, _, err := r.Config("counter")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(v).To(Equal(strconv.Itoa(workers * each)))
			})
		}},
		{"a View after an Update returns sees its writes", func(ctx context.Context, g Gomega, s store.Store) {
			filter, err := odata.ParseFilter("v eq 2")
			g.Expect(err).NotTo(HaveOccurred())
			for i := range 20 {
				putRows(ctx, g, s, "todo", map[string]any{"id": strconv.Itoa(i), "v": 2})
				view(ctx, g, s, func(r store.Reader) {
					_, total, err := r.Rows("todo", store.Query{Filter: filter})
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(total).To(Equal(i + 1))
				})
			}
		}},
	}
}

func contextChecks() []Check {
	type ctxCase struct {
		name string
		ctx  func(context.Context) (context.Context, context.CancelFunc)
		want error
	}
	cases := []ctxCase{
		{"cancelled", func(parent context.Context) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(parent)
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"past its deadline", func(parent context.Context) (context.Context, context.CancelFunc) {
			return context.WithDeadline(parent, time.Now().Add(-time.Second))
		}, context.DeadlineExceeded},
	}
	var checks []Check
	for _, c := range cases {
		checks = append(checks, Check{"a View with a " + c.name + " context does not run fn", func(ctx context.Context, g Gomega, s store.Store) {
			done, cancel := c.ctx(ctx)
			defer cancel()
			ran := false
			g.Expect(s.View(done, func(store.Reader) error { ran = true; return nil })).To(MatchError(c.want))
			g.Expect(ran).To(BeFalse())
		}})
		checks = append(checks, Check{"an Update with a " + c.name + " context does not run fn", func(ctx context.Context, g Gomega, s store.Store) {
			done, cancel := c.ctx(ctx)
			defer cancel()
			ran := false
			g.Expect(s.Update(done, func(w store.Writer) error { ran = true; return w.SetConfig("k", "v") })).To(MatchError(c.want))
			g.Expect(ran).To(BeFalse())
			view(ctx, g, s, func(r store.Reader) { g.Expect(r.ConfigKeys("")).To(BeEmpty()) })
		}})
	}
	checks = append(checks, Check{"an Update waiting for another gives up when its context ends", func(ctx context.Context, g Gomega, s store.Store) {
		holding, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.Update(ctx, func(w store.Writer) error {
				close(holding)
				// Bounded, so that a store that makes the second Update wait regardless of
				// its context fails this check instead of deadlocking it.
				select {
				case <-release:
				case <-time.After(3 * time.Second):
				}
				return w.SetConfig("first", "yes")
			})
		}()
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		g.Eventually(holding).WithContext(ctx).Should(BeClosed())
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		ran := false
		g.Expect(s.Update(short, func(store.Writer) error { ran = true; return nil })).To(MatchError(context.DeadlineExceeded))
		g.Expect(ran).To(BeFalse(), "fn ran while another Update held the store")
		close(release)
		g.Eventually(first).WithContext(ctx).Should(Receive(BeNil()))
		view(ctx, g, s, func(r store.Reader) { g.Expect(r.ConfigKeys("")).To(Equal([]string{"first"})) })
	}})
	return checks
}

func closedChecks() []Check {
	return []Check{
		{"after Close View and Update fail with ErrClosed and do not run fn", func(ctx context.Context, g Gomega, s store.Store) {
			seedBaseline(ctx, g, s)
			g.Expect(s.Close()).To(Succeed())
			ran := false
			g.Expect(s.View(ctx, func(store.Reader) error { ran = true; return nil })).To(MatchError(store.ErrClosed))
			g.Expect(s.Update(ctx, func(store.Writer) error { ran = true; return nil })).To(MatchError(store.ErrClosed))
			g.Expect(ran).To(BeFalse())
			err := s.Close()
			g.Expect(err == nil || errors.Is(err, store.ErrClosed)).To(BeTrue(), "closing twice: %v", err)
		}},
		{"a Reader used after its View returned fails with ErrClosed", func(ctx context.Context, g Gomega, s store.Store) {
			seedBaseline(ctx, g, s)
			var kept store.Reader
			view(ctx, g, s, func(r store.Reader) { kept = r })
			for name, err := range readerCalls(kept) {
				g.Expect(err).To(MatchError(store.ErrClosed), name)
			}
		}},
		{"a Writer used after its Update returned fails with ErrClosed and changes nothing", func(ctx context.Context, g Gomega, s store.Store) {
			seedBaseline(ctx, g, s)
			before := viewSnapshot(ctx, g, s, "todo", "notes")
			var committed, failed store.Writer
			update(ctx, g, s, func(w store.Writer) { committed = w })
			g.Expect(s.Update(ctx, func(w store.Writer) error { failed = w; return errRollback })).To(MatchError(errRollback))
			for _, w := range []store.Writer{committed, failed} {
				for name, err := range writerCalls(w) {
					g.Expect(err).To(MatchError(store.ErrClosed), name)
				}
				for name, err := range readerCalls(w) {
					g.Expect(err).To(MatchError(store.ErrClosed), name)
				}
			}
			g.Expect(viewSnapshot(ctx, g, s, "todo", "notes")).To(equalSnapshot(before))
		}},
	}
}

// readerCalls calls every Reader method and returns their errors by method.
func readerCalls(r store.Reader) map[string]error {
	out := map[string]error{}
	_, out["Row"] = r.Row("todo", "r1")
	_, _, out["Rows"] = r.Rows("todo", store.Query{})
	_, out["Operations"] = r.Operations()
	_, out["Operation"] = r.Operation("o1")
	_, out["OperationFor"] = r.OperationFor("todo", "r1")
	_, out["Errors"] = r.Errors()
	_, out["Error"] = r.Error("o1")
	_, _, out["Config"] = r.Config("k1")
	_, out["ConfigKeys"] = r.ConfigKeys("")
	return out
}

// writerCalls calls every Writer method, each a write that would change the baseline, and
// returns their errors by method.
func writerCalls(w store.Writer) map[string]error {
	out := map[string]error{}
	out["PutRow"] = w.PutRow("todo", map[string]any{"id": "late"})
	out["DeleteRow"] = w.DeleteRow("todo", "r1")
	_, out["DeleteRows"] = w.DeleteRows("todo", nil)
	out["PutOperation"] = w.PutOperation(newOp("late", "todo", "late", 9))
	out["DeleteOperation"] = w.DeleteOperation("o1")
	_, out["MaxSequence"] = w.MaxSequence()
	out["PutError"] = w.PutError(store.OperationError{OperationID: "late"})
	out["DeleteError"] = w.DeleteError("o1")
	out["SetConfig"] = w.SetConfig("late", "v")
	out["DeleteConfig"] = w.DeleteConfig("k1")
	return out
}
