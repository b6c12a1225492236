// The command line: flags, the choice of experiments, exit codes.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"cliplab/internal/cmdflag"
	"cliplab/internal/db"
	"cliplab/internal/report"
)

// usageError marks errors caused by the command line or the input files:
// they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

var errFlagHelp = cmdflag.ErrHelp

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as "report: <message>" and returns 0, 1 (runtime) or
// 2 (usage or input).
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errFlagHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "report: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", "runs.db", "the cliplab database to read")
	experiment := fs.String("experiment", "", "experiment to report (default: the only one, or each of them)")
	out := fs.String("out", "", "output folder (default reports/<experiment>; with several experiments, <out>/<experiment>)")
	target := fs.Float64("target", 0.9, "target test accuracy for steps to target, in (0, 1]")
	metricName := fs.String("metric", "tail", "a run's final accuracy: tail (the mean of the evaluations in its last train.tail_fraction of steps) or last (its last evaluation)")
	every := fs.Duration("watch", 0, "keep running: look at the database every `interval` (30s, 1m) and regenerate the report when it changed; index.html reloads itself while runs have not ended (Ctrl-C stops)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: report [-db F] [-experiment NAME] [-out DIR] [-target 0.9] [-metric tail|last] [-watch 30s]")
		fs.PrintDefaults()
	}
	if err := cmdflag.Parse(fs, args); err != nil { // flags in any position, each error once
		if errors.Is(err, cmdflag.ErrHelp) {
			return errFlagHelp
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q: report takes flags only (the database is -db FILE)", fs.Args())
	}
	if !(*target > 0 && *target <= 1) {
		return usagef("-target %v: must be in (0, 1]", *target)
	}
	if flagGiven(fs, "watch") && *every < minWatch {
		return usagef("-watch %s: give an interval of at least %s, such as 30s or 1m", *every, minWatch)
	}
	metric, err := report.ParseMetric(*metricName)
	if err != nil {
		return usagef("-metric %q: must be tail or last", *metricName)
	}
	if st, err := os.Stat(*out); *out != "" && err == nil && !st.IsDir() {
		return usagef("-out %s is a file; give a folder (created if missing)", *out)
	}
	d, err := db.Open(*dbPath, db.Options{ReadOnly: true})
	if err != nil {
		if errors.Is(err, db.ErrMissing) || errors.Is(err, db.ErrNotSQLite) || errors.Is(err, db.ErrForeign) || errors.Is(err, db.ErrNewerSchema) {
			return usageError{err}
		}
		return err
	}
	defer d.Close()
	exps, err := d.Experiments(ctx)
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		return usagef("database %s holds no experiments; run one with: runner run -db %s experiments/NAME.yaml", *dbPath, *dbPath)
	}
	if *experiment != "" && !slices.Contains(exps, *experiment) {
		return usagef("no experiment %q in %s; it holds: %s", *experiment, *dbPath, strings.Join(exps, ", "))
	}
	o := reportOptions{experiment: *experiment, out: *out, target: *target, metric: metric}
	if *every > 0 {
		o.live = *every
		return watch(ctx, d, o, *every, stdout)
	}
	_, err = writeAll(ctx, d, exps, o, stdout, false)
	return err
}

// reportOptions say what run writes.
type reportOptions struct {
	experiment string        // "": every experiment
	out        string        // -out
	target     float64       // -target
	metric     report.Metric // -metric
	live       time.Duration // -watch: index.html reloads this often while runs have not ended; 0: never
}

// writeAll writes the report of each experiment of exps (or of
// o.experiment) and prints a line for each, or, with quiet, only for those
// whose files changed; it returns how many files changed.
func writeAll(ctx context.Context, d *db.DB, exps []string, o reportOptions, stdout io.Writer, quiet bool) (int, error) {
	todo := exps
	if o.experiment != "" {
		todo = []string{o.experiment}
	}
	changed := 0
	for _, e := range todo {
		dir := filepath.Join("reports", fileSafe(e))
		switch {
		case o.out != "" && len(todo) == 1:
			dir = o.out
		case o.out != "":
			dir = filepath.Join(o.out, fileSafe(e))
		}
		rep, err := load(ctx, d, e, o.target, o.metric)
		if err != nil {
			return changed, err
		}
		rep.live = o.live
		files, n, err := rep.write(ctx, dir)
		changed += n
		if err != nil {
			return changed, err
		}
		if !quiet || n > 0 {
			fmt.Fprintf(stdout, "report: %s: %d files in %s; %s\n", e, files, dir, rep.statusLine())
		}
	}
	return changed, nil
}
