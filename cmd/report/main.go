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

// listFlag is a flag given several times or as a comma-separated list
// (-db a.db -db b.db, -db a.db,b.db); the first use replaces the default.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x == "" {
			return fmt.Errorf("empty name in %q", v)
		}
		l.vals = append(l.vals, x)
	}
	return nil
}

// source is one experiment of one database.
type source struct {
	db         *db.DB
	path, name string
	label      string // as the comparison names it
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPaths := &listFlag{vals: []string{"runs.db"}}
	fs.Var(dbPaths, "db", "the cliplab database to read; several (-db a.db -db b.db, or -db a.db,b.db) are compared in one report")
	experiments := &listFlag{}
	fs.Var(experiments, "experiment", "experiment to report (default: the only one, or each of them); several (-experiment a,b) are compared in one report")
	out := fs.String("out", "", "output folder (default reports/<experiment>, reports/<a>-vs-<b> for a comparison; with several experiments, <out>/<experiment>)")
	target := fs.Float64("target", 0.9, "target test accuracy for steps to target, in (0, 1]")
	metricName := fs.String("metric", "tail", "a run's final accuracy: tail (the mean of the evaluations in its last train.tail_fraction of steps) or last (its last evaluation)")
	every := fs.Duration("watch", 0, "keep running: look at the database every `interval` (30s, 1m) and regenerate the report when it changed; index.html reloads itself while runs have not ended (Ctrl-C stops)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: report [-db F[,F2]] [-experiment NAME[,NAME2]] [-out DIR] [-target 0.9] [-metric tail|last] [-watch 30s]")
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
	for i, e := range experiments.vals {
		if slices.Contains(experiments.vals[:i], e) {
			return usagef("-experiment names %q twice", e)
		}
	}
	var paths []string
	for _, p := range dbPaths.vals {
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	if *every > 0 && (len(paths) > 1 || len(experiments.vals) > 1) {
		return usagef("-watch follows one database (every experiment in it, or the one -experiment names); compare experiments without -watch")
	}
	var srcs []source
	held := map[string][]string{} // database → its experiments
	dbs := map[string]*db.DB{}
	for _, p := range paths {
		d, err := db.Open(p, db.Options{ReadOnly: true})
		if err != nil {
			if errors.Is(err, db.ErrMissing) || errors.Is(err, db.ErrNotSQLite) || errors.Is(err, db.ErrForeign) || errors.Is(err, db.ErrNewerSchema) || errors.Is(err, db.ErrOlderSchema) {
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
			return usagef("database %s holds no experiments; run one with: runner run -db %s experiments/NAME.yaml", p, p)
		}
		held[p], dbs[p] = exps, d
		for _, e := range exps {
			if len(experiments.vals) == 0 || slices.Contains(experiments.vals, e) {
				srcs = append(srcs, source{db: d, path: p, name: e, label: e})
			}
		}
	}
	for _, e := range experiments.vals {
		if slices.ContainsFunc(srcs, func(s source) bool { return s.name == e }) {
			continue
		}
		if len(paths) == 1 {
			return usagef("no experiment %q in %s; it holds: %s", e, paths[0], strings.Join(held[paths[0]], ", "))
		}
		var parts []string
		for _, p := range paths {
			parts = append(parts, p+" holds "+strings.Join(held[p], ", "))
		}
		return usagef("no experiment %q in %s (%s)", e, strings.Join(paths, ", "), strings.Join(parts, "; "))
	}
	if len(paths) > 1 || len(experiments.vals) > 1 {
		return compare(ctx, srcs, *out, *target, metric, stdout)
	}
	d := dbs[paths[0]]
	o := reportOptions{out: *out, target: *target, metric: metric}
	if len(experiments.vals) == 1 {
		o.experiment = experiments.vals[0]
	}
	if *every > 0 {
		o.live = *every
		return watch(ctx, d, o, *every, stdout)
	}
	_, err = writeAll(ctx, d, held[paths[0]], o, stdout, false)
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

// reportOne writes the report of one experiment into dir.
func reportOne(ctx context.Context, src source, dir string, target float64, metric report.Metric, stdout io.Writer) error {
	rep, err := load(ctx, src.db, src.name, target, metric)
	if err != nil {
		return err
	}
	files, _, err := rep.write(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s: %d files in %s; %s\n", src.name, files, dir, rep.statusLine())
	return nil
}

// compare writes one report that overlays the experiments of srcs into
// out (default reports/A-vs-B); with one source it is that experiment's
// report. An experiment held by several databases is labelled with the
// database's file name ("old:demo", or its path when the names agree).
func compare(ctx context.Context, srcs []source, out string, target float64, metric report.Metric, stdout io.Writer) error {
	if len(srcs) == 1 {
		if out == "" {
			out = filepath.Join("reports", fileSafe(srcs[0].name))
		}
		return reportOne(ctx, srcs[0], out, target, metric, stdout)
	}
	stems := map[string]map[string]bool{} // file name → databases
	for _, s := range srcs {
		if stems[dbStem(s.path)] == nil {
			stems[dbStem(s.path)] = map[string]bool{}
		}
		stems[dbStem(s.path)][s.path] = true
	}
	for i, s := range srcs {
		if slices.ContainsFunc(srcs, func(t source) bool { return t.name == s.name && t.path != s.path }) {
			srcs[i].label = dbStem(s.path) + ":" + s.name
			if len(stems[dbStem(s.path)]) > 1 {
				srcs[i].label = s.path + ":" + s.name
			}
		}
	}
	reps := make([]*report.Report, len(srcs))
	labels := make([]string, len(srcs))
	var status []string
	for i, src := range srcs {
		p, err := load(ctx, src.db, src.name, target, metric)
		if err != nil {
			return err
		}
		reps[i], labels[i] = p.Report, src.label
		status = append(status, fmt.Sprintf("%s (%s): %s", src.label, src.path, p.statusLine()))
	}
	rep := &paper{Report: report.Merge(strings.Join(labels, " vs "), reps, labels), parts: status}
	if out == "" {
		out = filepath.Join("reports", fileSafe(strings.Join(labels, "-vs-")))
	}
	files, _, err := rep.write(ctx, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s: %d files in %s; %s\n", rep.Experiment, files, out, strings.Join(status, "; "))
	return nil
}

// dbStem is a database's file name without its folder and extension.
func dbStem(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}
