// Command conflictlab runs the conflictlab tools: `conflictlab serve` starts the fake
// versioned table server; `conflictlab run` plays scenario files; `conflictlab report`
// renders a results.json again.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand()
	if err := cmd.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errFailed) { // the summary line already said so
			fmt.Fprintln(os.Stderr, "conflictlab:", err)
		}
		os.Exit(1)
	}
}
