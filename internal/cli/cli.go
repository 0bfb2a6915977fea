// Package cli implements the gatehouse command line: it works on
// access-policy manifests with no cluster, using the same compiler and
// evaluator as the operator (internal/snapshot).
//
// Exit codes: 0 success; 1 the check failed (compile problems, failed policy
// tests, a denied `check`); 2 bad usage or unreadable input.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/internal/version"
)

// Exit codes of Run.
const (
	ExitOK     = 0
	ExitFailed = 1 // a check failed: problems, failed tests, denied
	ExitUsage  = 2 // bad usage or unreadable input
)

// Output formats of --output.
const (
	OutputTable = "table"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// exitError carries an exit code; silent ones have already been reported.
type exitError struct {
	code   int
	err    error
	silent bool
	hint   bool // point to --help
}

// Error returns the message of the wrapped error.
func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// Unwrap returns the wrapped error.
func (e *exitError) Unwrap() error { return e.err }

// failed is returned by commands whose output already says what failed.
func failed() error { return &exitError{code: ExitFailed, silent: true} }

// usageError marks an error as bad usage (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// env is what one Run works with.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	output string
	color  bool
	noClr  bool
}

// Run runs the gatehouse command line with args (without the program name)
// and returns the exit code. It never calls os.Exit, so tests run it
// in-process.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunContext(context.Background(), args, stdin, stdout, stderr)
}

// RunContext is Run with a context; cancelling it stops long-running
// commands (serve).
func RunContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if !xe.silent {
			fmt.Fprintln(stderr, "gatehouse:", xe.Error())
		}
		if xe.hint {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", commandUse)
		}
		return xe.code
	}
	// Errors of cobra itself: unknown commands, wrong number of arguments.
	fmt.Fprintln(stderr, "gatehouse:", err)
	fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", commandUse)
	return ExitUsage
}

// Main runs the command line of the binary and exits. Run as
// kubectl-gatehouse (a kubectl plugin), it calls itself "kubectl gatehouse".
func Main() {
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		commandUse = "kubectl gatehouse"
	}
	os.Exit(Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// commandUse is how usage texts name the command.
var commandUse = "gatehouse"

const rootLong = `gatehouse compiles, tests and queries Gatehouse access policy (Roles,
UserGroups, FieldPolicies, ApprovalChains) from YAML files, with no cluster,
using the same compiler and evaluator as the operator.

Manifests are read with -f: files, directories (recursively: *.yaml, *.yml,
*.json) or "-" for standard input (e.g. kustomize build output). A tenant is
an object's metadata.namespace, else the namespace of a kustomization.yaml in
the same directory, else --tenant, else "default".

Exit codes:
  0  success
  1  the check failed: compile problems, failed policy tests, check denied
  2  bad usage or unreadable input

Installed as kubectl-gatehouse on the PATH, it also runs as "kubectl gatehouse";
with --from-cluster (and diff's cluster:NAMESPACE) it reads the live objects
through your kubeconfig instead of files.`

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Compile, test and query Gatehouse access policy",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			e.ctx = cmd.Context()
			switch e.output {
			case OutputTable, OutputJSON, OutputYAML:
			default:
				return usageError("--output must be table, json or yaml, not %q", e.output)
			}
			e.color = !e.noClr && isTerminal(e.stdout) && os.Getenv("NO_COLOR") == ""
			return nil
		},
	}
	if commandUse != root.Use {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: commandUse}
	}
	root.PersistentFlags().StringVarP(&e.output, "output", "o", OutputTable, "output format: table, json or yaml")
	root.PersistentFlags().BoolVar(&e.noClr, "no-color", false, "never colour the output (also: NO_COLOR=1)")
	_ = root.RegisterFlagCompletionFunc("output", fixedCompletion(OutputTable, OutputJSON, OutputYAML))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: err, hint: true}
	})
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(e.stdout, version.String())
			},
		},
		newCompileCmd(e),
		newTestCmd(e),
		newCheckCmd(e),
		newWhoCanCmd(e),
		newCanIListCmd(e),
		newMatrixCmd(e),
		newDiffCmd(e),
		newImportCmd(e),
		newServeCmd(e),
		newAuditCmd(e),
		newConsoleCmd(e),
	)
	return root
}

// fixedCompletion completes a flag from a fixed list of values.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// isTerminal reports whether w is a terminal; a variable for tests.
var isTerminal = isCharDevice

// isCharDevice reports whether w is a character device (a terminal).
func isCharDevice(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// ANSI colours, used only on a terminal.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// paint wraps s in a colour when colour is on.
func (e *env) paint(color, s string) string {
	if !e.color {
		return s
	}
	return color + s + reset
}

// structured writes v as JSON or YAML when --output asks for it and reports
// whether it did.
func (e *env) structured(v any) (bool, error) {
	switch e.output {
	case OutputJSON:
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case OutputYAML:
		data, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = e.stdout.Write(data)
		return true, err
	}
	return false, nil
}
