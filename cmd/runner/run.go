package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/record"
	"cliplab/internal/train"
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
	shard       shardSpec // zero: the whole grid (shard.go)
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
		f.db = shardDBPath(f.db, f.shard)
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
	cfgs := f.shard.filter(all)
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

// trainAll runs f.workers workers that claim and train runs of experiment
// until none is left, or ctx is cancelled.
func trainAll(ctx context.Context, d *db.DB, experiment string, f runFlags, stdout, stderr io.Writer) error {
	me := workerID()
	// Each worker spends most of its time in cgo calls into OpenBLAS longer
	// than the 20 µs after which the scheduler hands its P to another
	// thread; with only one P per worker, the worker then waits for a P on
	// every return. Two per worker measured 1.94× on two cores for two
	// workers instead of 1.53× (mlp2 steps, GOMAXPROCS 4 against 2).
	if n := 2 * f.workers; runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	prog, err := newProgress(ctx, d, experiment, f.progress, stderr)
	if err != nil {
		return err
	}
	held := newHeld()
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		t := time.NewTicker(max(f.stale/8, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				// A failed heartbeat is retried at the next tick; a run that
				// was lost shows up as ErrLostClaim in its next write.
				_ = d.Heartbeat(hbCtx, held.snapshot())
			}
		}
	}()

	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for slot := 0; slot < f.workers; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			isDead := deadWorker
			if f.exclusive {
				// No other process uses this file: whoever else holds a run
				// is an earlier incarnation of this one, and dead.
				isDead = func(w string) bool { return !strings.HasPrefix(w, me+"#") }
			}
			co := db.ClaimOptions{Worker: fmt.Sprintf("%s#%d", me, slot), StaleAfter: f.stale, IsDead: isDead}
			for ctx.Err() == nil {
				c, err := d.Claim(context.WithoutCancel(ctx), experiment, co)
				if err != nil {
					errMu.Lock()
					firstErr = errors.Join(firstErr, err)
					errMu.Unlock()
					return
				}
				if c == nil {
					return
				}
				held.add(c.ID, c.Attempt)
				prog.started(c)
				out := trainOne(ctx, d, c, f.dataDir)
				held.remove(c.ID)
				prog.finished(c, out)
				if out.err != nil && !errors.Is(out.err, db.ErrLostClaim) {
					errMu.Lock()
					firstErr = errors.Join(firstErr, out.err)
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	stopHB()
	hbWG.Wait()
	prog.close()
	if firstErr != nil {
		return firstErr
	}
	return prog.summary(ctx, stdout)
}

// outcome is how one claimed run ended for this process.
type outcome struct {
	status record.Status
	reason string
	acc    float64 // final test accuracy, NaN if none
	steps  int
	wall   float64
	err    error // the database could not record it
}

// trainOne trains a claimed run and records its end. Training errors and
// panics mark the run failed; only database errors are returned.
func trainOne(ctx context.Context, d *db.DB, c *db.Claim, dataDir string) (out outcome) {
	wctx := context.WithoutCancel(ctx) // the run's last rows are written even after Ctrl-C
	sink := &dbSink{ctx: wctx, d: d, id: c.ID, attempt: c.Attempt, lastFlush: time.Now(), acc: -1}
	fail := func(msg string) outcome {
		err := d.Finish(wctx, c.ID, c.Attempt, sink.steps, sink.evals, record.Result{Status: record.Failed, Error: msg})
		return outcome{status: record.Failed, reason: msg, err: err}
	}
	defer func() {
		if p := recover(); p != nil {
			out = fail(fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	cfg, err := config.DecodeConfig(c.ConfigJSON)
	if err != nil {
		return fail(fmt.Sprintf("decode config: %v", err))
	}
	ds, err := data.Load(cfg.Dataset, train.DataOptions(cfg, dataDir))
	if err != nil {
		return fail(err.Error())
	}
	res, err := train.Run(ctx, cfg, ds, sink)
	if err != nil {
		if errors.Is(err, db.ErrLostClaim) {
			return outcome{status: "lost", err: err}
		}
		return fail(err.Error())
	}
	err = d.Finish(wctx, c.ID, c.Attempt, sink.steps, sink.evals, res)
	reason := res.Error
	if res.Status == record.Interrupted {
		reason = "interrupted"
	}
	return outcome{status: res.Status, reason: reason, acc: sink.acc, steps: res.Steps, wall: res.WallSeconds, err: err}
}

// dbSink buffers a run's metrics and writes them in batches: every
// flushRows rows or flushEvery, whichever comes first.
type dbSink struct {
	ctx       context.Context
	d         *db.DB
	id        int64
	attempt   int
	steps     []record.Step
	evals     []record.Eval
	lastFlush time.Time
	acc       float64 // last test accuracy
}

const (
	flushRows  = 2000
	flushEvery = 2 * time.Second
)

func (s *dbSink) Step(st record.Step) error {
	s.steps = append(s.steps, st)
	return s.maybeFlush()
}

func (s *dbSink) Eval(e record.Eval) error {
	s.evals = append(s.evals, e)
	if e.Split == data.SplitTest {
		s.acc = e.Acc
	}
	return s.maybeFlush()
}

func (s *dbSink) maybeFlush() error {
	if len(s.steps)+len(s.evals) < flushRows && time.Since(s.lastFlush) < flushEvery {
		return nil
	}
	if err := s.d.Append(s.ctx, s.id, s.attempt, s.steps, s.evals); err != nil {
		return err
	}
	s.steps, s.evals = s.steps[:0], s.evals[:0]
	s.lastFlush = time.Now()
	return nil
}

// held is the set of runs this process trains, for the heartbeat.
type held struct {
	mu   sync.Mutex
	runs map[int64]int
}

func newHeld() *held { return &held{runs: map[int64]int{}} }

func (h *held) add(id int64, attempt int) { h.mu.Lock(); h.runs[id] = attempt; h.mu.Unlock() }
func (h *held) remove(id int64)           { h.mu.Lock(); delete(h.runs, id); h.mu.Unlock() }
func (h *held) snapshot() map[int64]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[int64]int, len(h.runs))
	for k, v := range h.runs {
		m[k] = v
	}
	return m
}
