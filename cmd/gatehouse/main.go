// Command gatehouse is the Gatehouse CLI: it works on access-policy manifests
// with no cluster, using the same compiler and evaluator as the operator.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/version"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the documented exit codes: 1 for a failed check
// (problems found, tests failed), 2 for bad usage or unreadable input.
func exitCode(err error) int {
	if e, ok := err.(interface{ ExitCode() int }); ok {
		return e.ExitCode()
	}
	return 2
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Compile, test and query Gatehouse access policy",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.String())
		},
	})
	return root
}
