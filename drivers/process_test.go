package drivers_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/scenarios"
)

// served runs the scenario through the test binary serving the given driver mode.
func served(mode string) scenarios.Options {
	return scenarios.Options{Client: mode, Drivers: func(string) (drivers.Factory, error) {
		return drivers.CommandFactory(testDriver(mode)), nil
	}}
}

var _ = Describe("the process driver", func() {
	ctx := context.Background()

	Describe("the built-in client served over the protocol", func() {
		It("gives the catalogue's verdicts: the protocol loses nothing a check reads", func() {
			catalog, err := scenarios.Load("../scenarios/catalog")
			Expect(err).NotTo(HaveOccurred())
			// One driver process serves every run, one after the other, as a long-lived driver
			// may (each run opens and closes its own devices).
			reused := drivers.Reuse(drivers.CommandFactory(testDriver("go")))
			defer reused.Close()
			opts := scenarios.Options{Client: "go-process", Drivers: func(string) (drivers.Factory, error) { return reused.Factory(), nil }}
			runs := 0
			for _, sc := range catalog {
				for _, strategy := range sc.Runs() {
					inProcess := scenarios.Run(ctx, sc, strategy, scenarios.Options{InMemory: true})
					process := scenarios.Run(ctx, sc, strategy, opts)
					if strings.Contains(process.Reason, "no op store-fault") {
						// the protocol has no store-fault: such a scenario is skipped, as for any driver process
						Expect(process.Status).To(Equal(reports.Skipped), sc.Name)
						continue
					}
					Expect(process.Status).To(Equal(inProcess.Status), "%s [%s]: %+v", sc.Name, strategy, process.Failure)
					Expect(process.Steps).To(Equal(inProcess.Steps), sc.Name)
					Expect(process.Properties).To(Equal(inProcess.Properties), sc.Name)
					runs++
				}
			}
			Expect(runs).To(BeNumerically(">=", 90))
		})

		It("passes driver check", func() {
			info, problems := drivers.Verify(ctx, drivers.CommandFactory(testDriver("go")), nil)
			Expect(problems).To(BeEmpty())
			Expect(info.Driver).To(Equal("go"))
		})
	})

	DescribeTable("a broken driver fails with a clear message, never a hang",
		func(mode, want string) {
			start := time.Now()
			drv, err := drivers.Start(ctx, testDriver(mode))
			if err == nil {
				dev, oerr := drv.Open(ctx, drivers.DeviceConfig{Name: "phone", URL: "http://127.0.0.1:1", Dialect: "v2",
					Store: drivers.StoreConfig{Kind: "memory"}, Strategy: "manual"})
				err = oerr
				if err == nil {
					_, err = dev.Lookup(ctx, "todoitem", "e1")
				}
				Expect(drv.Close()).To(Succeed())
			}
			Expect(err).To(HaveOccurred())
			Expect(drivers.KindOf(err)).To(Equal(drivers.KindDriver))
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second))
		},
		Entry("an answer with an id no request has", "wrong-ids", "answered id 1000, which no request has"),
		Entry("a line that is not a response", "garbage", `not a response`),
		Entry("no answer at all", "hang", "did not answer open within 3s"),
		Entry("the stderr of a driver that hangs", "hang", "waiting for something that never comes"),
		Entry("an older protocol", "old-protocol", "protocol 0; conflictlab speaks 1"),
		Entry("a capability nobody knows", "unknown-capability", `unknown strategy "last-writer-wins"`),
		Entry("an error kind nobody knows", "bad-kind", `unknown error kind "oops"`),
	)

	It("fails a run whose driver crashes, with its stderr, and goes on", func() {
		sc, err := scenarios.LoadFile("../scenarios/catalog/blog-buy-eggs.yaml")
		Expect(err).NotTo(HaveOccurred())
		res := scenarios.Run(ctx, sc, "client-wins", served("crash-on-pull"))
		Expect(res.Status).To(Equal(reports.Failed))
		Expect(res.Failure.Expectation).To(Equal("the client's driver works"))
		Expect(res.Failure.Got).To(ContainSubstring("the driver exited (exit status 3)"))
		Expect(res.Failure.Got).To(ContainSubstring("segmentation fault in the SDK (simulated)"))
	})

	It("starts a reused driver again when it died, for the next run", func() {
		reused := drivers.Reuse(drivers.CommandFactory(testDriver("crash-on-pull")))
		defer reused.Close()
		sc, err := scenarios.LoadFile("../scenarios/catalog/blog-buy-eggs.yaml")
		Expect(err).NotTo(HaveOccurred())
		opts := scenarios.Options{Client: "crashy", Drivers: func(string) (drivers.Factory, error) { return reused.Factory(), nil }}
		for range 2 {
			res := scenarios.Run(ctx, sc, "client-wins", opts)
			Expect(res.Status).To(Equal(reports.Failed))
			Expect(res.Failure.Got).To(ContainSubstring("segmentation fault in the SDK (simulated)"), "it died in this run, not before it")
		}
	})

	It("skips a run that needs what the client lacks, with the reason", func() {
		sc, err := scenarios.LoadFile("../scenarios/catalog/blog-buy-eggs.yaml")
		Expect(err).NotTo(HaveOccurred())
		res := scenarios.Run(ctx, sc, "client-wins", served("lazy"))
		Expect(res.Status).To(Equal(reports.Skipped))
		Expect(res.Reason).To(ContainSubstring("phone: broken-lazy (none 0): the client has no op update, no strategy client-wins"))
	})

	Describe("driver check", func() {
		It("names what a crashing driver did", func() {
			_, problems := drivers.Verify(ctx, drivers.CommandFactory(testDriver("crash-on-pull")), nil)
			Expect(problems).NotTo(BeEmpty())
			Expect(problems[0].String()).To(ContainSubstring("segmentation fault in the SDK"))
		})

		It("names what a driver that answers nothing useful did", func() {
			_, problems := drivers.Verify(ctx, drivers.CommandFactory(testDriver("lazy")), nil)
			var lines []string
			for _, p := range problems {
				lines = append(lines, p.String())
			}
			all := strings.Join(lines, "\n")
			Expect(all).To(ContainSubstring("insert of an id the store has: succeeded; want the error invalid-operation"))
			Expect(all).To(ContainSubstring("lookup of a missing id"))
		})

		It("says when a driver cannot be started", func() {
			_, problems := drivers.Verify(ctx, drivers.CommandFactory(drivers.Command{Args: []string{"/nonexistent/driver"}}), nil)
			Expect(problems).To(HaveLen(1))
			Expect(problems[0].String()).To(ContainSubstring("cannot start /nonexistent/driver"))
		})
	})
})

var _ = Describe("driver errors", func() {
	DescribeTable("an error is of its own kind and of those its status and push imply",
		func(err *drivers.Error, kinds ...string) {
			for _, k := range append(drivers.Kinds, "any") {
				Expect(drivers.Matches(err, k)).To(Equal(k == "any" || contains(kinds, k)), "kind %s of %+v", k, err)
			}
		},
		Entry("a pull whose push lost the network", &drivers.Error{Kind: drivers.KindPushFailed, PushStatus: drivers.StatusCancelledByNetwork},
			drivers.KindPushFailed, drivers.KindNetwork),
		Entry("a pull whose push met a 412", &drivers.Error{Kind: drivers.KindPushFailed, PushStatus: drivers.StatusComplete,
			Errors: []drivers.OpError{{Status: 412}}}, drivers.KindPushFailed, drivers.KindConflict, drivers.KindHTTP),
		Entry("a pull whose push was cancelled", &drivers.Error{Kind: drivers.KindPushCancelled, PushStatus: drivers.StatusCancelledByOperation},
			drivers.KindPushFailed, drivers.KindPushCancelled),
		Entry("an online 401", &drivers.Error{Kind: drivers.KindAuth, Status: 401}, drivers.KindAuth, drivers.KindHTTP),
		Entry("a 404 on an online write", &drivers.Error{Kind: drivers.KindNotFound, Status: 404}, drivers.KindNotFound, drivers.KindHTTP),
		Entry("a local miss", &drivers.Error{Kind: drivers.KindNotFound}, drivers.KindNotFound),
		Entry("a local store that failed or crashed", &drivers.Error{Kind: drivers.KindStore}, drivers.KindStore),
	)

	It("is no kind at all when there is no error", func() {
		Expect(drivers.Matches(nil, "any")).To(BeFalse())
		Expect(drivers.KindOf(nil)).To(BeEmpty())
	})
})

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
