package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/drivers"
)

func newDriverCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "driver",
		Short: "Check a client's driver, or serve the built-in client as one",
		Long: `A driver lets conflictlab play scenarios and campaigns against a sync client it did not write:
a child process that speaks JSON Lines on stdin and stdout (docs/drivers.md).`,
	}
	cmd.AddCommand(newDriverCheckCommand(), newDriverServeCommand())
	return cmd
}

func newDriverCheckCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check CMD [ARG...]",
		Short: "Exercise a driver against an embedded server and say what is wrong with it",
		Long: `Start the driver (CMD with its arguments, or "js" for drivers/js), and exercise it against an
embedded fake server: the hello and its capabilities, every op it claims with its results and
error kinds, a restart on each store it offers, and overlapping requests. It prints one line per
problem and exits 1 if there is any; a driver that crashes or hangs is a problem, never a hang.`,
		Example: `  conflictlab driver check js
  conflictlab driver check node my-driver.js --verbose
  conflictlab driver check conflictlab driver serve     # the built-in client, as a process`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("name the driver's command, e.g. conflictlab driver check node my-driver.js")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			factory, err := driverFactory(args, timeout)
			if err != nil {
				return usageError{err}
			}
			return checkDriver(cmd.Context(), factory, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().DurationVar(&timeout, "driver-timeout", 10*time.Second, "how long the driver may take to answer one request")
	return cmd
}

// driverFactory is the driver a user names: "go", "js", one command line, or a command and
// its arguments as separate words.
func driverFactory(args []string, timeout time.Duration) (drivers.Factory, error) {
	if len(args) == 1 {
		if args[0] == "go" || args[0] == "js" {
			return drivers.Lookup(args[0])
		}
		split, err := drivers.SplitCommand(args[0])
		if err != nil {
			return nil, err
		}
		args = split
	}
	return drivers.CommandFactory(drivers.Command{Args: args, Timeout: timeout}), nil
}

func checkDriver(ctx context.Context, factory drivers.Factory, stdout, stderr io.Writer) error {
	info, problems := drivers.Verify(ctx, factory, func(check string) {
		fmt.Fprintf(stderr, "checking: %s\n", check)
	})
	if info.Driver != "" {
		c := info.Capabilities
		fmt.Fprintf(stdout, "driver %s, protocol %d\n  strategies: %s\n  options: %s\n  stores: %s\n  dialects: %s\n  ops: %s\n",
			info, info.Protocol, list(c.Strategies), list(c.Options), list(c.Stores), list(c.Dialects), list(c.Ops))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "no problems found")
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "PROBLEM  %s\n", p)
	}
	fmt.Fprintf(stdout, "%d problem(s)\n", len(problems))
	return errFailed
}

func list(v []string) string {
	if len(v) == 0 {
		return "(none)"
	}
	return strings.Join(v, ", ")
}

func newDriverServeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve conflictlab's own Go client as a driver on stdin and stdout",
		Long: `Speak the driver protocol on stdin and stdout for conflictlab's own client: the reference
driver, and a way to see the protocol at work (conflictlab run --client 'conflictlab driver serve').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return drivers.Serve(cmd.Context(), os.Stdin, os.Stdout, drivers.Go())
		},
	}
}
