package faulty_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/faulty"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestFaulty(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "faulty store")
}

const table = "todo"

// put stores row id in one Update of s.
func put(s store.Store, id string) error {
	return s.Update(context.Background(), func(w store.Writer) error {
		return w.PutRow(table, map[string]any{"id": id})
	})
}

// ids lists the rows of s.
func ids(s store.Store) []string {
	var out []string
	Expect(s.View(context.Background(), func(r store.Reader) error {
		rows, _, err := r.Rows(table, store.Query{})
		for _, row := range rows {
			out = append(out, row["id"].(string))
		}
		return err
	})).To(Succeed())
	return out
}

var _ = Describe("a faulty store", func() {
	for _, kind := range []string{"memory", "sqlite"} {
		Context("over a "+kind+" store", func() {
			var (
				path    string
				open    func() store.Store
				commits []int
				s       *faulty.Store
			)
			BeforeEach(func() {
				path = filepath.Join(GinkgoT().TempDir(), "store.db")
				open = func() store.Store {
					if kind == "memory" {
						return memory.New()
					}
					st, err := sqlite.Open(path)
					Expect(err).NotTo(HaveOccurred())
					return st
				}
				commits = nil
				s = faulty.New(open(), faulty.AfterCommit(func(n int) { commits = append(commits, n) }))
				DeferCleanup(s.Close)
			})

			It("passes transactions through while unarmed, numbering the commits", func() {
				Expect(put(s, "a")).To(Succeed())
				Expect(put(s, "b")).To(Succeed())
				Expect(ids(s)).To(Equal([]string{"a", "b"}))
				Expect(commits).To(Equal([]int{1, 2}))
				Expect(s.Transactions()).To(Equal(2))
			})

			It("fails the armed transaction after running it, rolls it back, and works again after", func() {
				Expect(put(s, "a")).To(Succeed())
				Expect(s.FailAt(2)).To(Succeed())
				Expect(put(s, "b")).To(Succeed())
				ran := false
				err := s.Update(context.Background(), func(w store.Writer) error {
					ran = true
					if err := w.PutRow(table, map[string]any{"id": "c"}); err != nil {
						return err
					}
					return w.SetConfig("token", "t")
				})
				Expect(ran).To(BeTrue())
				Expect(err).To(MatchError(faulty.ErrInjected))
				var ie *faulty.InjectedError
				Expect(errors.As(err, &ie)).To(BeTrue())
				Expect(ie.N).To(Equal(3))
				Expect(ids(s)).To(Equal([]string{"a", "b"}), "nothing of the failed transaction is visible")
				Expect(s.View(context.Background(), func(r store.Reader) error {
					_, ok, err := r.Config("token")
					Expect(ok).To(BeFalse())
					return err
				})).To(Succeed())
				Expect(put(s, "d")).To(Succeed())
				Expect(ids(s)).To(Equal([]string{"a", "b", "d"}))
				Expect(commits).To(Equal([]int{1, 2, 4}))
			})

			It("spends the failure on a transaction that fails on its own", func() {
				Expect(s.FailAt(1)).To(Succeed())
				own := errors.New("my own")
				Expect(s.Update(context.Background(), func(store.Writer) error { return own })).To(MatchError(own))
				Expect(put(s, "a")).To(Succeed())
			})

			It("refuses to arm with a count below 1", func() {
				Expect(s.FailAt(0)).To(MatchError(faulty.ErrArm))
				Expect(s.CrashAfter(-1)).To(MatchError(faulty.ErrArm))
				Expect(put(s, "a")).To(Succeed())
			})

			It("commits the armed transaction, then refuses everything", func() {
				Expect(s.CrashAfter(2)).To(Succeed())
				Expect(put(s, "a")).To(Succeed())
				err := put(s, "b")
				Expect(err).To(MatchError(faulty.ErrCrashed))
				var ce *faulty.CrashError
				Expect(errors.As(err, &ce)).To(BeTrue())
				Expect(ce.N).To(Equal(2))
				Expect(commits).To(Equal([]int{1, 2}), "the hook sees the last commit")
				Expect(s.Crashed()).NotTo(BeNil())

				ran := false
				Expect(s.Update(context.Background(), func(store.Writer) error { ran = true; return nil })).To(MatchError(faulty.ErrCrashed))
				Expect(s.View(context.Background(), func(store.Reader) error { ran = true; return nil })).To(MatchError(faulty.ErrCrashed))
				Expect(ran).To(BeFalse())
				Expect(s.Close()).To(Succeed())
				if kind == "sqlite" {
					again := open()
					defer again.Close()
					Expect(ids(again)).To(Equal([]string{"a", "b"}), "the reopened file holds every commit up to the crash")
				}
			})

			It("crashes with the transaction before as the last commit when the armed one fails", func() {
				Expect(s.CrashAfter(1)).To(Succeed())
				Expect(s.FailAt(1)).To(Succeed())
				err := put(s, "a")
				var ce *faulty.CrashError
				Expect(errors.As(err, &ce)).To(BeTrue())
				Expect(ce.N).To(Equal(0))
				Expect(commits).To(BeEmpty())
				if kind == "sqlite" {
					Expect(s.Close()).To(Succeed())
					again := open()
					defer again.Close()
					Expect(ids(again)).To(BeEmpty())
				}
			})

			It("rolls back a transaction that waited for write access while the store crashed", func() {
				Expect(s.CrashAfter(1)).To(Succeed())
				inside, release := make(chan struct{}), make(chan struct{})
				first := make(chan error, 1)
				go func() {
					first <- s.Update(context.Background(), func(w store.Writer) error {
						close(inside)
						<-release
						return w.PutRow(table, map[string]any{"id": "a"})
					})
				}()
				<-inside
				second := make(chan error, 1)
				go func() { second <- put(s, "b") }()
				close(release)
				Eventually(first).Should(Receive(MatchError(faulty.ErrCrashed)))
				Eventually(second).Should(Receive(MatchError(faulty.ErrCrashed)))
				Expect(commits).To(Equal([]int{1}))
				if kind == "sqlite" {
					Expect(s.Close()).To(Succeed())
					again := open()
					defer again.Close()
					Expect(ids(again)).To(Equal([]string{"a"}))
				}
			})

			It("honours a cancelled context without counting a transaction", func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				Expect(s.FailAt(1)).To(Succeed())
				Expect(s.Update(ctx, func(store.Writer) error { return nil })).To(MatchError(context.Canceled))
				Expect(s.View(ctx, func(store.Reader) error { return nil })).To(MatchError(context.Canceled))
				Expect(s.Transactions()).To(Equal(0))
				Expect(put(s, "a")).To(MatchError(faulty.ErrInjected), "the armed failure is still ahead")
			})
		})
	}
})

// A store fails its second transaction from now once, and crashes after the one after.
func Example() {
	ctx := context.Background()
	s := faulty.New(memory.New())
	defer s.Close()
	put := func(id string) error {
		return s.Update(ctx, func(w store.Writer) error { return w.PutRow("todo", map[string]any{"id": id}) })
	}
	_ = s.FailAt(2)
	_ = s.CrashAfter(3)
	fmt.Println(put("a"))
	fmt.Println(put("b"))
	fmt.Println(put("c"))
	fmt.Println(put("d"))
	// Output:
	// <nil>
	// faulty: store transaction 2 failed (injected); it was rolled back
	// faulty: the store crashed right after transaction 3 committed; reopen it
	// faulty: the store crashed right after transaction 3 committed; reopen it
}

var _ = Describe("OnCrash", func() {
	It("shows the inner store as the crash leaves it, before closing it", func() {
		var seen []string
		last := -1
		s := faulty.New(memory.New(), faulty.OnCrash(func(n int, inner store.Store) {
			last = n
			seen = ids(inner)
		}))
		defer s.Close()
		Expect(s.CrashAfter(2)).To(Succeed())
		Expect(put(s, "a")).To(Succeed())
		Expect(put(s, "b")).To(MatchError(faulty.ErrCrashed))
		Expect(last).To(Equal(2))
		Expect(seen).To(Equal([]string{"a", "b"}))
	})
})

var _ = Describe("a panic in the transaction the crash follows", func() {
	It("rolls it back and the store dies all the same, with the one before as the last commit", func() {
		var last = -1
		s := faulty.New(memory.New(), faulty.OnCrash(func(n int, _ store.Store) { last = n }))
		defer s.Close()
		Expect(put(s, "a")).To(Succeed())
		Expect(s.CrashAfter(1)).To(Succeed())
		Expect(func() {
			_ = s.Update(context.Background(), func(store.Writer) error { panic("boom") })
		}).To(PanicWith("boom"))
		Expect(last).To(Equal(1))
		Expect(s.Crashed()).To(Equal(&faulty.CrashError{N: 1}))
		Expect(put(s, "b")).To(MatchError(faulty.ErrCrashed))
	})
})
