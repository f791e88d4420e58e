package main

import (
	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/internal/version"
	"github.com/conflictlab/conflictlab/scenarios"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "conflictlab",
		Short: "Test offline table sync: a fake versioned table server and the tools around it",
		Long: `conflictlab tests offline table sync of the Azure Mobile Apps / Mobile Services kind:
clients with a local store and an operation queue, a versioned table server, and the
conflicts between them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetVersionTemplate("conflictlab {{.Version}} (" + version.Get().Go + ")\n")
	root.AddCommand(newServeCommand(), newRunCommand(), newFuzzCommand(), newReportCommand(), newDriverCommand(), newProxyCommand(), newFaultsCommand())
	completeValues(root)
	return root
}

// completeValues teaches shell completion (conflictlab completion bash|zsh|fish|powershell)
// the values of the flags that take a word from a fixed list.
func completeValues(root *cobra.Command) {
	values := map[string][]string{
		"strategy": scenarios.Strategies,
		"client":   {"go", "js"},
		"dialect":  {"v2", "v1"},
		"progress": {"auto", "always", "never"},
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for flag, words := range values {
			if c.Flags().Lookup(flag) != nil {
				_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
