package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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

const runUsage = `usage: runner run [-db runs.db] [-workers N] [-retry-failed] [-extend] [-shard i/n] [flags] FILE

Inserts the configurations of the grid in FILE that the database lacks, then
trains every one that is not done, N at a time. Run it again to resume.
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
	shard       worker.Shard // zero: the whole grid
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, runUsage); fs.PrintDefaults() }
	fs.StringVar(&f.db, "db", "runs.db", "SQLite `file` of results (created if missing)")
	fs.IntVar(&f.workers, "workers", runtime.NumCPU(), "runs trained at once, one goroutine each")
	fs.BoolVar(&f.retryFailed, "retry-failed", false, "train again the runs that failed")
	fs.BoolVar(&f.extend, "extend", false, "add this grid's new configurations to an experiment stored with another grid")
	fs.DurationVar(&f.stale, "stale", 2*time.Minute, "take over a running run of another host whose heartbeat is older than this")
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "`folder` of the MNIST files (make data fetches them)")
	fs.BoolVar(&f.exclusive, "exclusive", false, "no other runner uses this database: take over every run another process left running at once (runner slurm's tasks pass it)")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, lines otherwise), bar, lines, none")
	fs.Var(&f.shard, "shard", "train only shard `i/n` of the grid, 0 ≤ i < n, split by key (runner slurm); without -db the file is runs.shard-i-of-n.db")
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
	if f.workers < 1 {
		return usagef("-workers must be at least 1, got %d", f.workers)
	}
	switch f.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usagef("-progress %q: allowed: auto, bar, lines, none", f.progress)
	}

	exp, all, err := grid.Load(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	cfgs := f.shard.Filter(all)
	for _, w := range exp.Warnings {
		fmt.Fprintf(stderr, "runner: warning: %s\n", w)
	}
	if err := checkData(cfgs, f.dataDir); err != nil {
		return usageError{err}
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
	fmt.Fprintf(stderr, "runner: experiment %s: %d configurations%s, %d new, database %s, %d workers\n", exp.Name, len(cfgs), of, added, f.db, f.workers)
	return trainAll(ctx, d, exp.Name, f, stdout, stderr)
}

// defaultDataDir is $CLIPLAB_DATA, or data/mnist.
func defaultDataDir() string {
	if d := os.Getenv("CLIPLAB_DATA"); d != "" {
		return d
	}
	return data.DefaultMNISTDir
}

// parseFlags parses args, turning -h into a clean exit.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errFlagHelp
		}
		return usageError{err}
	}
	return nil
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

// gridOf is what the database records of an expanded grid.
func gridOf(exp *grid.Experiment, cfgs []config.Config) db.Grid {
	g := db.Grid{Experiment: exp.Name, Hash: config.GridHash(cfgs), Source: exp.Source}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, db.NewRunOf(c))
	}
	return g
}

// trainAll trains the runs of experiment with f.workers workers (package
// worker), showing progress on stderr, then prints where the experiment
// stands on stdout.
func trainAll(ctx context.Context, d *db.DB, experiment string, f runFlags, stdout, stderr io.Writer) error {
	prog, err := newProgress(ctx, d, experiment, f.progress, stderr)
	if err != nil {
		return err
	}
	err = worker.Run(ctx, d, experiment, worker.Options{Workers: f.workers, Stale: f.stale,
		Exclusive: f.exclusive, DataDir: f.dataDir, Observer: prog})
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
