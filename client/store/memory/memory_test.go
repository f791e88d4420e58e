package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/storetest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func openMemory() (store.Store, error) { return memory.New(), nil }

var _ = Describe("memory store", func() {
	storetest.Specs(openMemory)

	var s *memory.Store
	var ctx context.Context
	BeforeEach(func() {
		s = memory.New()
		DeferCleanup(s.Close)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		DeferCleanup(cancel)
	})

	It("refuses a write through a View's Reader", func() {
		Expect(s.View(ctx, func(r store.Reader) error {
			w, ok := r.(store.Writer)
			if ok {
				Expect(w.PutRow("todo", map[string]any{"id": "a"})).To(HaveOccurred())
				Expect(w.SetConfig("k", "v")).To(HaveOccurred())
			}
			return nil
		})).To(Succeed())
		Expect(s.View(ctx, func(r store.Reader) error {
			_, err := r.Row("todo", "a")
			Expect(err).To(MatchError(store.ErrNotFound))
			Expect(r.ConfigKeys("")).To(BeEmpty())
			return nil
		})).To(Succeed())
	})

	It("refuses an operation error without its ID or with an item JSON cannot encode", func() {
		Expect(s.Update(ctx, func(w store.Writer) error {
			Expect(w.PutError(store.OperationError{Status: 412})).To(MatchError(store.ErrInvalid))
			Expect(w.PutError(store.OperationError{OperationID: "op1", ServerItem: map[string]any{"f": func() {}}})).
				To(MatchError(store.ErrInvalid))
			return nil
		})).To(Succeed())
		Expect(s.View(ctx, func(r store.Reader) error {
			Expect(r.Errors()).To(BeEmpty())
			return nil
		})).To(Succeed())
	})

	It("does not make a View wait for an Update's fn", func() {
		inUpdate, release := make(chan struct{}), make(chan struct{})
		updated := make(chan error, 1)
		go func() {
			updated <- s.Update(ctx, func(w store.Writer) error {
				close(inUpdate)
				<-release
				return w.SetConfig("k", "v")
			})
		}()
		Eventually(inUpdate).Should(BeClosed())
		quick, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		Expect(s.View(quick, func(r store.Reader) error {
			_, ok, err := r.Config("k")
			Expect(ok).To(BeFalse())
			return err
		})).To(Succeed())
		close(release)
		Eventually(updated).Should(Receive(BeNil()))
	})

	It("gives up a commit whose context ends while Views hold the store, applying nothing", func() {
		inView, release := make(chan struct{}), make(chan struct{})
		viewed := make(chan error, 1)
		go func() {
			viewed <- s.View(ctx, func(store.Reader) error { close(inView); <-release; return nil })
		}()
		Eventually(inView).Should(BeClosed())
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		ran := false
		Expect(s.Update(short, func(w store.Writer) error { ran = true; return w.SetConfig("k", "v") })).
			To(MatchError(context.DeadlineExceeded))
		Expect(ran).To(BeTrue(), "fn runs while Views read; only the commit waits for them")
		close(release)
		Eventually(viewed).Should(Receive(BeNil()))
		Expect(s.View(ctx, func(r store.Reader) error {
			Expect(r.ConfigKeys("")).To(BeEmpty())
			return nil
		})).To(Succeed())
	})

	It("discards an Update that is running when the store closes", func() {
		Expect(s.Update(ctx, func(w store.Writer) error {
			Expect(w.SetConfig("k", "v")).To(Succeed())
			Expect(s.Close()).To(Succeed())
			_, _, err := w.Config("k")
			Expect(err).To(MatchError(store.ErrClosed))
			return nil
		})).To(MatchError(store.ErrClosed))
	})

	It("lets goroutines share a Writer inside fn", func() {
		Expect(s.Update(ctx, func(w store.Writer) error {
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					defer GinkgoRecover()
					Expect(w.PutRow("todo", map[string]any{"id": fmt.Sprint(i)})).To(Succeed())
				})
			}
			wg.Wait()
			return nil
		})).To(Succeed())
		Expect(s.View(ctx, func(r store.Reader) error {
			_, total, err := r.Rows("todo", store.Query{})
			Expect(total).To(Equal(20))
			return err
		})).To(Succeed())
	})

	It("keeps 100k rows in less than 3 times their JSON size", func() {
		rows := benchRows(100_000)
		jsonSize := 0
		for _, r := range rows {
			b, err := json.Marshal(r)
			Expect(err).NotTo(HaveOccurred())
			jsonSize += len(b)
		}
		before := heapInUse()
		for page := range len(rows) / 50 {
			// No deadline: under -race on a busy machine this takes a while.
			Expect(s.Update(context.Background(), func(w store.Writer) error {
				for _, r := range rows[page*50 : page*50+50] {
					if err := w.PutRow("todo", r); err != nil {
						return err
					}
				}
				return nil
			})).To(Succeed())
		}
		used := heapInUse() - before
		runtime.KeepAlive(rows)
		ratio := float64(used) / float64(jsonSize)
		AddReportEntry("heap / JSON size", fmt.Sprintf("%.2f (%d / %d bytes)", ratio, used, jsonSize))
		Expect(ratio).To(BeNumerically("<", 3))
		runtime.KeepAlive(s)
	})
})

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// The suite must fail for stores with the bugs it is there to catch; these are such stores,
// each the memory store with one thing broken, and the checks each must fail.
var _ = Describe("the conformance suite", func() {
	broken := map[string]struct {
		open func() (store.Store, error)
		fail []string
	}{
		"a store whose failed Update still applies its writes": {
			open: func() (store.Store, error) { return leakyUpdates{memory.New()}, nil },
			fail: []string{
				"atomicity: an Update whose fn returns an error applies nothing",
				"atomicity: an Update whose fn returns a wrapped error applies nothing",
			},
		},
		"a store that keeps and hands out the caller's row maps": {
			open: func() (store.Store, error) { return newAliasing(), nil },
			fail: []string{
				"rows: a stored row does not change with the map it was stored from",
				"rows: a returned row is the caller's to change",
			},
		},
		"a store that ignores contexts": {
			open: func() (store.Store, error) { return ignoresContext{memory.New()}, nil },
			fail: []string{
				"context: a View with a cancelled context does not run fn",
				"context: an Update with a past its deadline context does not run fn",
				"context: an Update waiting for another gives up when its context ends",
			},
		},
	}
	for name, b := range broken {
		It("fails "+name, func() {
			failures := map[string]string{}
			for _, c := range storetest.Checks() {
				if !wanted(c.Name, b.fail) {
					continue
				}
				if f := storetest.Verify(b.open, c); f != "" {
					failures[c.Name] = f
				}
			}
			for _, f := range b.fail {
				Expect(failures).To(HaveKey(f))
			}
		})
	}

	It("passes the memory store when run outside Ginkgo, so a failure above is the bug's", func() {
		Expect(storetest.Failures(openMemory)).To(BeEmpty())
	})

	It("names every check uniquely", func() {
		seen := map[string]bool{}
		for _, c := range storetest.Checks() {
			Expect(seen).NotTo(HaveKey(c.Name))
			seen[c.Name] = true
		}
	})
})

func wanted(name string, names []string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// leakyUpdates commits an Update even when its fn fails.
type leakyUpdates struct{ *memory.Store }

func (s leakyUpdates) Update(ctx context.Context, fn func(store.Writer) error) error {
	var fnErr error
	if err := s.Store.Update(ctx, func(w store.Writer) error { fnErr = fn(w); return nil }); err != nil {
		return err
	}
	return fnErr
}

// ignoresContext never looks at the caller's context.
type ignoresContext struct{ *memory.Store }

func (s ignoresContext) View(_ context.Context, fn func(store.Reader) error) error {
	return s.Store.View(context.Background(), fn)
}

func (s ignoresContext) Update(_ context.Context, fn func(store.Writer) error) error {
	return s.Store.Update(context.Background(), fn)
}

// aliasing remembers the maps given to PutRow and returns them from Row, as a store that
// forgets to copy would.
type aliasing struct {
	*memory.Store
	mu   sync.Mutex
	kept map[string]map[string]any
}

func newAliasing() *aliasing {
	return &aliasing{Store: memory.New(), kept: map[string]map[string]any{}}
}

func (s *aliasing) key(table, id string) string { return strings.ToLower(table + "\x00" + id) }

func (s *aliasing) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.Store.View(ctx, func(r store.Reader) error { return fn(aliasingWriter{Writer: r.(store.Writer), s: s}) })
}

func (s *aliasing) Update(ctx context.Context, fn func(store.Writer) error) error {
	return s.Store.Update(ctx, func(w store.Writer) error { return fn(aliasingWriter{Writer: w, s: s}) })
}

type aliasingWriter struct {
	store.Writer
	s *aliasing
}

func (w aliasingWriter) PutRow(table string, row map[string]any) error {
	if err := w.Writer.PutRow(table, row); err != nil {
		return err
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.kept[w.s.key(table, row["id"].(string))] = row
	return nil
}

func (w aliasingWriter) Row(table, id string) (map[string]any, error) {
	w.s.mu.Lock()
	row, ok := w.s.kept[w.s.key(table, id)]
	w.s.mu.Unlock()
	if ok {
		return row, nil
	}
	return w.Writer.Row(table, id)
}
