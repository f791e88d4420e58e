package drivers_test

import (
	"context"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
)

var _ = Describe("the built-in driver's store faults", func() {
	ctx := context.Background()
	open := func(cfg drivers.DeviceConfig) drivers.Device {
		GinkgoHelper()
		srv := fakeserver.New(fakeserver.Config{})
		cfg.Name, cfg.URL, cfg.Transport = "phone", "http://conflictlab.test", srv.Transport()
		dev, err := drivers.Go().Open(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(dev.Close, ctx)
		return dev
	}

	It("lists store-fault among its ops, and its devices are StoreFaulters", func() {
		Expect(drivers.Go().Info().Capabilities.Ops).To(ContainElement("store-fault"))
		_, ok := open(drivers.DeviceConfig{}).(drivers.StoreFaulter)
		Expect(ok).To(BeTrue())
	})

	It("refuses a crash of a memory store, which nothing would reopen, and a count below 1", func() {
		sf := open(drivers.DeviceConfig{}).(drivers.StoreFaulter)
		Expect(drivers.KindOf(sf.CrashStore(ctx, 1))).To(Equal(drivers.KindUnsupported))
		Expect(drivers.KindOf(sf.FailStore(ctx, 0))).To(Equal(drivers.KindInvalidOperation))
	})

	It("fails every op of a crashed device with kind store, and a reopened one holds what was committed", func() {
		path := filepath.Join(GinkgoT().TempDir(), "phone.db")
		cfg := drivers.DeviceConfig{Store: drivers.StoreConfig{Kind: "sqlite", Path: path}}
		dev := open(cfg)
		Expect(dev.(drivers.StoreFaulter).CrashStore(ctx, 2)).To(Succeed())
		_, err := dev.Insert(ctx, "todoitem", drivers.Item{"id": "a"})
		Expect(err).NotTo(HaveOccurred())
		_, err = dev.Insert(ctx, "todoitem", drivers.Item{"id": "b"})
		Expect(drivers.KindOf(err)).To(Equal(drivers.KindStore), "the op whose commit the crash follows: %v", err)
		for _, op := range []func() error{
			func() error { _, err := dev.Lookup(ctx, "todoitem", "a"); return err },
			func() error { _, err := dev.Query(ctx, "todoitem", nil); return err },
			func() error { _, err := dev.Push(ctx); return err },
			func() error { return dev.Pull(ctx, "todoitem", nil, "") },
			func() error { _, err := dev.Snapshot(ctx, []string{"todoitem"}); return err },
		} {
			err := op()
			Expect(drivers.KindOf(err)).To(Equal(drivers.KindStore))
			Expect(err).To(MatchError(ContainSubstring("crashed right after its store transaction 2 committed")))
		}
		crashed, ok := drivers.CrashState(dev)
		Expect(ok).To(BeTrue())
		Expect(crashed.Rows["todoitem"]).To(HaveLen(2))
		Expect(crashed.Ops).To(HaveLen(2))
		Expect(dev.Close(ctx)).To(Succeed())

		again := open(cfg)
		_, ok = drivers.CrashState(again)
		Expect(ok).To(BeFalse())
		after, err := again.Snapshot(ctx, []string{"todoitem"})
		Expect(err).NotTo(HaveOccurred())
		Expect(check.Durable(crashed, after).Verdict).To(Equal(reports.Holds))
		rows, err := again.Read(ctx, "todoitem", nil)
		Expect(err).NotTo(HaveOccurred())
		ids := []string{}
		for _, r := range rows {
			ids = append(ids, r["id"].(string))
		}
		slices.Sort(ids)
		Expect(ids).To(Equal([]string{"a", "b"}))
	})
})
