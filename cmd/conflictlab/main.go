// Command conflictlab runs the conflictlab tools: `conflictlab serve` starts the fake
// versioned table server; `conflictlab run` plays scenario files; `conflictlab fuzz`
// explores random interleavings; `conflictlab report` renders results again; `conflictlab
// driver` checks a client's driver.
//
// Exit status: 0 when everything passed, 1 when failures were found, 2 for bad usage or
// input (a bad flag, a scenario file with an error, a server that cannot be reached), 130
// when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitPassed      = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	code := exitCode(ctx, err)
	if err != nil && code != exitFailed { // after failures the summary line already said so
		if code == exitInterrupted {
			fmt.Fprintln(os.Stderr, "conflictlab: interrupted")
		} else {
			fmt.Fprintln(os.Stderr, "conflictlab:", err)
		}
	}
	os.Exit(code)
}

// exitCode is the exit status for what a command returned.
func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitPassed
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, errFailed):
		return exitFailed
	}
	return exitUsage
}

// usageError marks an error as the user's: a bad flag or argument.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
