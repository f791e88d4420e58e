package scenarios_test

import (
	"context"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// withoutStoreFault is the built-in driver claiming it cannot fault its stores, as a process
// driver's capabilities do.
type withoutStoreFault struct{ drivers.Driver }

func (d withoutStoreFault) Info() drivers.Info {
	info := d.Driver.Info()
	info.Capabilities.Ops = slices.DeleteFunc(slices.Clone(info.Capabilities.Ops), func(op string) bool { return op == "store-fault" })
	return info
}

const storeFaults = `name: store-faults
clients:
  phone: {store: sqlite}
steps:
  - phone: {op: insert, table: todoitem, item: {id: a, text: one}}
  - phone: {op: store-fault, fail: 2}
  - phone: {op: insert, table: todoitem, item: {id: b, text: two}}
  - phone: {op: insert, table: todoitem, item: {id: c, text: three}}
    expect: {error: store}
  - phone: {op: insert, table: todoitem, item: {id: d, text: four}}
  - check: {phone: {pending: 3, todoitem: {a: {text: one}, b: {text: two}, c: null, d: {text: four}}}}
  - phone: {op: store-fault, crash: 1}
  - phone: {op: update, table: todoitem, item: {id: a, text: uno}}
    expect: {error: store}
  - phone: {op: lookup, table: todoitem, id: a}
    expect: {error: store}
  - phone: {op: push}
    expect: {error: store}
  - phone: {op: restart}
  - check: {phone: {pending: 3, todoitem: {a: {text: uno}, b: {text: two}, c: null, d: {text: four}}}}
  - phone: {op: push}
  - check: {server: {todoitem: {a: {text: uno}, b: {text: two}, c: null, d: {text: four}}}}
`

var _ = Describe("store faults", func() {
	It("fails one store transaction, and crashes a SQLite client until its restart", func() {
		res := play(storeFaults, "", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), "%s", explain(res))
	})

	It("fails a scenario whose client does not fail where the store-fault says", func() {
		// one transaction later: the insert of c succeeds, d's fails
		sc, err := scenarios.Parse([]byte(storeFaults), "test.yaml")
		Expect(err).NotTo(HaveOccurred())
		sc.Steps[1].Op.Fail = 3
		res := scenarios.Run(context.Background(), sc, "", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Step).To(Equal(4))
		Expect(res.Failure.Expectation).To(ContainSubstring("fails with store"))
	})

	// The failed transaction is the one storing the server's answer: the insert stays queued, and
	// its retry meets the row it made (a 409 with an identical item, a success under this option).
	It("fails a push that meets a failed transaction with cancelled-by-store-error, and the next push completes", func() {
		res := play(`name: push-store-fault
clients:
  phone: {options: {treatIdenticalAsSuccess: true}}
steps:
  - phone: {op: insert, table: todoitem, item: {id: a, text: one}}
  - phone: {op: store-fault, fail: 2}
  - phone: {op: push}
    expect: {status: cancelled-by-store-error}
  - check: {phone: {pending: 1}}
  - phone: {op: push}
    expect: {requests: [POST /tables/todoitem]}
  - check: {phone: {pending: 0}, server: {todoitem: {a: {text: one}}}}
`, "", scenarios.Options{})
		Expect(res.Status).To(Equal(reports.Passed), "%s", explain(res))
	})

	It("is skipped, with the reason, for a client that cannot fault its store", func() {
		res := play(storeFaults, "", scenarios.Options{Drivers: func(string) (drivers.Factory, error) {
			return func(context.Context) (drivers.Driver, error) { return withoutStoreFault{drivers.Go()}, nil }, nil
		}})
		Expect(res.Status).To(Equal(reports.Skipped), "%s", explain(res))
		Expect(res.Reason).To(ContainSubstring("no op store-fault"))
	})

	DescribeTable("refuses a store-fault that cannot be played",
		func(op, store, msg string) {
			_, err := scenarios.Parse([]byte("name: bad\nclients:\n  phone: {store: "+store+"}\nsteps:\n  - phone: "+op+"\n"), "bad.yaml")
			Expect(err).To(MatchError(ContainSubstring(msg)))
			var le *scenarios.LoadError
			Expect(err).To(BeAssignableToTypeOf(le))
		},
		Entry("a crash on a memory store", "{op: store-fault, crash: 1}", "memory", "crash needs store: sqlite"),
		Entry("neither fail nor crash", "{op: store-fault}", "sqlite", "store-fault needs fail: N"),
		Entry("both", "{op: store-fault, fail: 1, crash: 2}", "sqlite", "fail or crash, not both"),
		Entry("a count of 0", "{op: store-fault, fail: 0}", "sqlite", "at least 1"),
		Entry("another key", "{op: store-fault, fail: 1, table: todoitem}", "sqlite", "table"),
	)

	It("writes store-fault steps back as it reads them", func() {
		sc, err := scenarios.Parse([]byte(storeFaults), "test.yaml")
		Expect(err).NotTo(HaveOccurred())
		assertRoundTrip(sc)
	})
})
