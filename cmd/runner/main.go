// Command runner expands an experiment grid, trains every configuration and
// records every metric in one SQLite file. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"cliplab/internal/cmdflag"
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
  status           counts by status per experiment (-failed: the failed runs)
  slurm FILE       write (and -submit) a Slurm job-array script, one shard per task
  merge SHARD...   fold shard databases into one (-db)
  migrate          bring a database of an older cliplab to this one's schema
  export           one row per run, every axis and metric, as CSV or JSON lines
  bench            steps per second of cliplab and PyTorch on this machine
  privacy          ε that DP-SGD spends (-noise σ), or σ for a target ε (-epsilon)
  version          cliplab's version, VCS revision and Go version
  worker           (internal) one worker process of run -workers N -worker-procs

Flags go before or after the arguments. runner <command> -h lists a
command's flags.
`

func main() {
	// First: it may re-execute the process with OpenBLAS told the CPU's
	// kernels (internal/nn/ensure.go).
	// A worker process (run -workers N -worker-procs) is started by a runner that said it already.
	if err := nn.EnsureBLAS(); err != nil && !(len(os.Args) > 1 && os.Args[1] == workerCommand) {
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

var errFlagHelp = cmdflag.ErrHelp

// newFlagSet is the flag set of a subcommand: -h prints synopsis (a
// "usage: runner …" line and what the command does), then the flags.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, synopsis)
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, flags in any position (cmdflag.Parse), into fs:
// -h prints the usage and returns errFlagHelp; a bad flag is a usage error,
// printed once by exitCode.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := cmdflag.Parse(fs, args); err != nil {
		if errors.Is(err, cmdflag.ErrHelp) {
			return errFlagHelp
		}
		return usagef("%s: %v (runner %s -h lists its flags)", fs.Name(), err, fs.Name())
	}
	return nil
}
