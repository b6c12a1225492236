// Command runner expands an experiment grid, trains every configuration and
// records every metric in one SQLite file. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"cliplab/internal/nn"
)

// usageError marks errors caused by the command line or the input files:
// they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// subcommands maps each subcommand to its function; each lives in its own file.
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}

const usage = `usage: runner <command> [flags] [args]

commands:
  plan FILE        show the configurations a grid expands to; writes nothing
  run FILE         train every configuration not yet done (resumable)
  status           counts by status per experiment
  slurm FILE       write (and -submit) a Slurm job-array script, one shard per task
  merge SHARD...   fold shard databases into one (-db)
  bench            steps per second of cliplab and PyTorch on this machine
  privacy          ε that DP-SGD spends (-noise σ), or σ for a target ε (-epsilon)
`

func main() {
	// First: it may re-execute the process with OpenBLAS told the CPU's
	// kernels (internal/nn/ensure.go).
	if err := nn.EnsureBLAS(); err != nil {
		fmt.Fprintf(os.Stderr, "runner: WARNING: %v; training runs slower than this CPU allows (Haswell kernels about 1.7×, Prescott 2.5–4.6×)\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return usageError{errors.New("no command given")}
		}
		return nil
	}
	cmd, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// exitCode prints err as "runner: <message>" and returns 0, 1 (runtime) or 2
// (usage or input).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if errors.Is(err, errFlagHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "runner: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

var errFlagHelp = errors.New("help requested")
