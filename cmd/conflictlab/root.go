package main

import "github.com/spf13/cobra"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "conflictlab",
		Short: "Test offline table sync: a fake versioned table server and the tools around it",
		Long: `conflictlab tests offline table sync of the Azure Mobile Apps / Mobile Services kind:
clients with a local store and an operation queue, a versioned table server, and the
conflicts between them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newRunCommand(), newFuzzCommand(), newReportCommand())
	return root
}
