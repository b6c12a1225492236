package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/train"
	"cliplab/internal/worker"
)

func init() { subcommands["run"] = cmdRun }

const runUsage = `usage: runner run [-db runs.db] [-workers N] [-set FIELD=VALUE]... [-retry-failed] [-extend] [-shard i/n] [flags] FILE

Inserts the configurations of the grid in FILE that the database lacks, then
trains every one that is not done, N at a time. Run it again to resume.
-set changes the file before it is read (-set train.epochs=2 -set
grid.lr=0.1,0.3); the database stores the file with its overrides.
`

// runFlags are the flags of runner run.
type runFlags struct {
	db          string
	workers     int
	retryFailed bool
	extend      bool
	stale       time.Duration
	dataDir     string
	progress    string
	exclusive   bool
	procs       bool         // -worker-procs: workers in processes (trainProcs)
	shard       worker.Shard // zero: the whole grid
	sets        setList      // -set overrides of the experiment file
}

// inProcs reports whether the workers train in worker processes
// (-worker-procs with two or more workers; trainProcs).
func (f runFlags) inProcs() bool { return f.procs && f.workers > 1 }

// minStale is the smallest -stale: the heartbeat is written every -stale/8,
// and a write can wait seconds for a busy database; a shorter window would
// take over runs whose process is alive.
const minStale = 10 * time.Second

// runFlagSet declares the flags of runner run into f; runner slurm parses
// its -run-arg flags with it too.
func runFlagSet(f *runFlags, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("run", runUsage, stderr)
	fs.StringVar(&f.db, "db", "runs.db", "SQLite `file` of results (created if missing)")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "runs trained at once (by workers of this process; see -worker-procs)")
	fs.BoolVar(&f.procs, "worker-procs", false, "with -workers N ≥ 2: one worker in the runner and one in each of N-1 worker processes it starts, instead of N workers in the runner (measured slower on two cores; isolates the workers' memory)")
	fs.BoolVar(&f.retryFailed, "retry-failed", false, "train again the runs that failed")
	fs.BoolVar(&f.extend, "extend", false, "add this grid's new configurations to an experiment stored with another grid")
	fs.DurationVar(&f.stale, "stale", 2*time.Minute, "take over a running run of another process whose heartbeat is older than this (at least 10s)")
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "`folder` of the MNIST files: $CLIPLAB_DATA if set, else data/mnist (make data fetches them there)")
	fs.BoolVar(&f.exclusive, "exclusive", false, "no other runner uses this database: take over every run another process left running at once (runner slurm's tasks pass it)")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines, none")
	fs.Var(&f.sets, "set", setUsage)
	fs.Var(&f.shard, "shard", "train only shard `i/n` of the grid, 0 ≤ i < n, split by key (runner slurm); without -db the file is runs.shard-i-of-n.db")
	return fs
}

// checkRunFlags refuses values of runner run's flags that cannot work.
func checkRunFlags(f runFlags) error {
	if f.workers < 1 {
		return usagef("-workers must be at least 1, got %d", f.workers)
	}
	if f.stale < minStale {
		return usagef("-stale must be at least %s (heartbeats are written every -stale/8; a shorter window takes over runs whose process is alive), got %s", minStale, f.stale)
	}
	switch f.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usagef("-progress %q: allowed: auto, bar, lines, none", f.progress)
	}
	return nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := runFlagSet(&f, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.shard.N > 0 && !flagGiven(fs, "db") {
		f.db = worker.ShardDBPath(f.db, f.shard)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("run takes one experiment file, got %d arguments", fs.NArg())
	}
	if err := checkRunFlags(f); err != nil {
		return err
	}

	exp, all, err := grid.LoadSet(fs.Arg(0), f.sets)
	if err != nil {
		return usageError{err}
	}
	cfgs := f.shard.Filter(all)
	for _, w := range exp.Warnings {
		fmt.Fprintf(stderr, "runner: warning: %s\n", w)
	}
	if err := checkData(cfgs, f.dataDir); err != nil {
		return usageError{dataHint(err, f.dataDir, flagGiven(fs, "data"))}
	}
	if f.inProcs() {
		shareEarly(f.dataDir)
	}
	d, err := openDB(f.db)
	if err != nil {
		return err
	}
	defer d.Close()
	g := gridOf(exp, cfgs)
	g.Hash = config.GridHash(all) // a shard records the whole grid's hash, so merge can match shards
	added, err := d.AddGrid(ctx, g, f.extend)
	if err != nil {
		if errors.Is(err, db.ErrGridChanged) {
			return usageError{err}
		}
		return err
	}
	if f.retryFailed {
		if _, err := d.RetryFailed(ctx, exp.Name); err != nil {
			return err
		}
	}
	of := ""
	if f.shard.N > 0 {
		of = fmt.Sprintf(" (shard %s of a grid of %d)", f.shard, len(all))
	}
	procs := ""
	if f.inProcs() {
		procs = " (the runner and 1 worker process)"
		if f.workers > 2 {
			procs = fmt.Sprintf(" (the runner and %d worker processes)", f.workers-1)
		}
	}
	fmt.Fprintf(stderr, "runner: experiment %s: %d configurations%s, %d new, database %s, %d workers%s\n", exp.Name, len(cfgs), of, added, f.db, f.workers, procs)
	if f.procs && !f.inProcs() {
		fmt.Fprintf(stderr, "runner: warning: -worker-procs has no effect with -workers 1: the one worker trains in the runner\n")
	}
	if w := revisionWarning(db.CurrentProvenance()); w != "" {
		fmt.Fprintf(stderr, "runner: warning: %s\n", w)
	}
	return trainAll(ctx, d, exp.Name, f, stdout, stderr)
}

// defaultDataDir is $CLIPLAB_DATA, or data/mnist.
func defaultDataDir() string {
	if d := os.Getenv("CLIPLAB_DATA"); d != "" {
		return d
	}
	return data.DefaultMNISTDir
}

// openDB opens the database for writing; a path or file the user must fix
// is an input error.
func openDB(path string) (*db.DB, error) {
	d, err := db.Open(path, db.Options{})
	if err != nil {
		if db.IsBusy(err) {
			return nil, err // another process held the file too long: runtime
		}
		return nil, usageError{err}
	}
	return d, nil
}

// checkData loads every dataset the grid needs once, so that missing files
// are reported before anything is written.
func checkData(cfgs []config.Config, dir string) error {
	seen := map[string]bool{}
	for _, c := range cfgs {
		o := train.DataOptions(c, dir)
		k := fmt.Sprintf("%s %+v", c.Dataset, o)
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, err := data.Load(c.Dataset, o); err != nil {
			return err
		}
	}
	return nil
}

// dataHint adds to a missing or broken MNIST file's error the folder
// runner looked in, where that folder came from, and the two ways to fix it.
func dataHint(err error, dir string, fromFlag bool) error {
	if !errors.Is(err, data.ErrMNIST) {
		return err
	}
	abs, aerr := filepath.Abs(dir)
	if aerr != nil {
		abs = dir
	}
	from := "the default data/mnist, relative to the current folder"
	switch {
	case fromFlag:
		from = "-data"
	case os.Getenv("CLIPLAB_DATA") != "":
		from = "$CLIPLAB_DATA"
	}
	return fmt.Errorf("%w; runner looked for the MNIST files in folder %s (from %s): give the folder that holds them with -data DIR or $CLIPLAB_DATA, or run \"make data\" in the cliplab repository to fetch them into its data/mnist", err, abs, from)
}

// gridOf is what the database records of an expanded grid.
func gridOf(exp *grid.Experiment, cfgs []config.Config) db.Grid {
	g := db.Grid{Experiment: exp.Name, Hash: config.GridHash(cfgs), Source: exp.Source}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, db.NewRunOf(c))
	}
	return g
}

// trainAll trains the runs of experiment with f.workers workers (package
// worker): all in this process (worker.Run), or with -worker-procs one here
// and one in each of f.workers-1 worker processes (trainProcs); it shows
// progress on stderr, then prints where the experiment stands on stdout.
//
// Workers of one process are the default: measured side by side they were
// faster than worker processes on every grid tried (issue 13 section 6:
// BenchmarkGrid 1.91× one worker against 1.73×, the demo 1.95× and 1.90×
// against 1.82× and 1.87×, on two cores), as a process's start and first
// run cost more than sharing one heap and scheduler does, once worker.Run
// gives each worker two scheduler slots.
func trainAll(ctx context.Context, d *db.DB, experiment string, f runFlags, stdout, stderr io.Writer) error {
	prog, err := newProgress(ctx, d, experiment, f.progress, stderr)
	if err != nil {
		return err
	}
	if f.inProcs() {
		err = trainProcs(ctx, d, experiment, f, prog, stderr)
	} else {
		err = worker.Run(ctx, d, experiment, worker.Options{Workers: f.workers, Stale: f.stale,
			Exclusive: f.exclusive, DataDir: f.dataDir, Observer: prog})
	}
	prog.close()
	if err != nil {
		return err
	}
	return prog.summary(ctx, stdout)
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
