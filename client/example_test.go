package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// walkthrough is the seed's conflict (offline-support-ios-sdk.md): the app pulls "Buy eggs"
// and edits it to "Buy eggs (6)" offline; another client changes it to "Buy organic eggs" on
// the server; the app's next pull pushes first and meets a 412. What happens then is the
// handler's choice.
func walkthrough(h client.Handler) {
	ctx := context.Background()
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(fakeserver.DefaultSimStart), Seed: 1})
	ts := srv.Start()
	defer ts.Close()
	_, _ = srv.Insert("todoitem", map[string]any{"id": "D265929E", "text": "Buy eggs", "complete": false})

	c, _ := client.New(ts.URL)
	local := memory.New()
	defer local.Close()
	sc, _ := client.NewSyncContext(c, local, h)
	todo := sc.Table("todoitem")
	incomplete := client.NewQuery().Where("complete eq false")
	_ = todo.Pull(ctx, incomplete, "")

	item, _ := todo.Lookup(ctx, "D265929E")
	item["text"] = "Buy eggs (6)"
	_, _ = todo.Update(ctx, item)

	// Another client, online, with the version it read.
	other, _ := client.New(ts.URL)
	_, _ = other.Table("todoitem").Update(ctx, client.Item{"id": "D265929E", "text": "Buy organic eggs", "version": item["version"]})

	err := todo.Pull(ctx, incomplete, "")
	var pf *client.PushFailedError
	if errors.As(err, &pf) {
		fmt.Println("pull:", pf.Status, "with", len(pf.Errors), "unhandled error(s):", errors.Is(err, client.ErrPreconditionFailed))
	} else {
		fmt.Println("pull:", err)
	}
	local1, _ := todo.Lookup(ctx, "D265929E")
	server, _ := srv.Row("todoitem", "D265929E")
	ops, _ := sc.PendingOperations(ctx)
	fmt.Printf("local %q, server %q, %d queued\n", local1["text"], server["text"], len(ops))
}

// The default handler records the conflict: the pull fails with "Not all operations
// completed successfully" [-1170], as in the seed, and the change stays queued.
func Example_walkthroughDefault() {
	walkthrough(nil)
	// Output:
	// pull: Complete with 1 unhandled error(s): true
	// local "Buy eggs (6)", server "Buy organic eggs", 1 queued
}

// "Use Client": the local change overwrites the server's.
func Example_walkthroughClientWins() {
	walkthrough(client.ClientWins())
	// Output:
	// pull: <nil>
	// local "Buy eggs (6)", server "Buy eggs (6)", 0 queued
}

// "Use Server": the server's value replaces the local change.
func Example_walkthroughServerWins() {
	walkthrough(client.ServerWins())
	// Output:
	// pull: <nil>
	// local "Buy organic eggs", server "Buy organic eggs", 0 queued
}

// "Cancel": the push stops; the change stays queued and the pull does not run.
func Example_walkthroughCancelPush() {
	walkthrough(client.CancelPush())
	// Output:
	// pull: CancelledByOperation with 1 unhandled error(s): true
	// local "Buy eggs (6)", server "Buy organic eggs", 1 queued
}
