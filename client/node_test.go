package client_test

import (
	"context"
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/peers/nodepeer"
)

// The client against the real Azure Mobile Apps Node backend (peers/node): it pages through
// every table with Node's Link, and settles Node's insert/insert conflict, whose 409 echoes the
// item sent, under every strategy. Skipped, with the reason, where the Node peer is not
// installed (make peers).
var _ = Describe("against the real Node backend", Ordered, Label("node"), func() {
	ctx := context.Background()
	var peer *nodepeer.Peer
	var tables []string
	BeforeAll(func() {
		var err error
		peer, err = nodepeer.Start(ctx, nodepeer.Options{PageSize: 2})
		if errors.Is(err, nodepeer.ErrNotInstalled) {
			Skip(err.Error())
		}
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(peer.Stop)
		info, err := peer.Info(ctx)
		Expect(err).NotTo(HaveOccurred())
		tables = info.Tables
	})
	BeforeEach(func() { Expect(peer.Reset(ctx)).To(Succeed()) })

	newClient := func(id string) *client.Client {
		c, err := client.New(peer.URL, client.WithInstallationID(id))
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	It("pulls every table in full and incrementally, page by page", func() {
		writer := newClient("writer")
		for _, table := range tables {
			for i := range 5 {
				_, err := writer.Table(table).Insert(ctx, client.Item{"id": fmt.Sprintf("%s-%d", table, i), "n": float64(i)})
				Expect(err).NotTo(HaveOccurred())
			}
		}
		sc, err := client.NewSyncContext(newClient("phone"), memory.New(), nil)
		Expect(err).NotTo(HaveOccurred())
		for _, table := range tables {
			Expect(sc.Table(table).Pull(ctx, nil, "")).To(Succeed(), table)
			rows, err := sc.Table(table).Read(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(rows).To(HaveLen(5), "%s: every page of 2, the last one short", table)

			_, err = writer.Table(table).Insert(ctx, client.Item{"id": table + "-new"})
			Expect(err).NotTo(HaveOccurred())
			Expect(sc.Table(table).Pull(ctx, nil, "all")).To(Succeed())
			Expect(sc.Table(table).Pull(ctx, nil, "all")).To(Succeed(), "and again, from its token")
			rows, err = sc.Table(table).Read(ctx, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(rows).To(HaveLen(6), table)
		}
	})

	DescribeTable("settles an insert/insert conflict, whose 409 carries no server row",
		func(h client.Handler, check func(server, local client.Item, res *client.PushResult, err error)) {
			theirs, err := newClient("tablet").Table("todoitem").Insert(ctx, client.Item{"id": "x", "text": "tablet"})
			Expect(err).NotTo(HaveOccurred())
			sc, err := client.NewSyncContext(newClient("phone"), memory.New(), h)
			Expect(err).NotTo(HaveOccurred())
			_, err = sc.Table("todoitem").Insert(ctx, client.Item{"id": "x", "text": "phone"})
			Expect(err).NotTo(HaveOccurred())
			res, err := sc.Push(ctx)
			server, lerr := newClient("reader").Table("todoitem").Lookup(ctx, "x")
			Expect(lerr).NotTo(HaveOccurred())
			local, _ := sc.Table("todoitem").Lookup(ctx, "x")
			Expect(theirs["version"]).NotTo(BeNil())
			check(server, local, res, err)
		},
		Entry("client wins: the phone's values end up on the server", client.ClientWins(),
			func(server, local client.Item, res *client.PushResult, err error) {
				Expect(err).NotTo(HaveOccurred())
				Expect(server["text"]).To(Equal("phone"))
				Expect(local["version"]).To(Equal(server["version"]))
			}),
		Entry("server wins: the server's real row is stored, not the echo", client.ServerWins(),
			func(server, local client.Item, res *client.PushResult, err error) {
				Expect(err).NotTo(HaveOccurred())
				Expect(server["text"]).To(Equal("tablet"))
				Expect(local["text"]).To(Equal("tablet"))
				Expect(local["version"]).To(Equal(server["version"]))
			}),
		Entry("cancel: the push stops, the insert stays queued", client.CancelPush(),
			func(server, local client.Item, res *client.PushResult, err error) {
				Expect(errors.Is(err, client.ErrPushCancelled)).To(BeTrue(), "%v", err)
				Expect(server["text"]).To(Equal("tablet"))
				Expect(local["text"]).To(Equal("phone"))
			}),
		Entry("manual: the error carries the server's real row", nil,
			func(server, local client.Item, res *client.PushResult, err error) {
				var pf *client.PushFailedError
				Expect(errors.As(err, &pf)).To(BeTrue(), "%v", err)
				Expect(pf.Errors).To(HaveLen(1))
				Expect(pf.Errors[0].Status).To(Equal(409))
				Expect(pf.Errors[0].ServerItem).To(HaveKeyWithValue("text", "tablet"))
				Expect(pf.Errors[0].ServerItem).To(HaveKeyWithValue("version", server["version"]))
			}),
	)
})
