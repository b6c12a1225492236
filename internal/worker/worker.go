package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/nn"
	"cliplab/internal/record"
	"cliplab/internal/train"
)

// Options say how Run trains an experiment's runs.
type Options struct {
	Workers int // runs trained at once, one goroutine each; at least 1
	// Stale: a running run of another host whose heartbeat is older than
	// this is taken over (db.ClaimOptions.StaleAfter; 0: 2 minutes). The
	// heartbeat is renewed every Stale/8, at least every 100 ms. Runs this
	// process holds are never taken over, whatever Stale says.
	Stale time.Duration
	// Exclusive: no other process uses the database, so a run held by
	// another worker name is an earlier, dead incarnation of this one and is
	// taken over at once (runner slurm's tasks), unless its process is a
	// live Related one (runner run's worker processes).
	Exclusive bool
	DataDir   string   // the MNIST files (data.Options.Dir)
	Observer  Observer // told of each run started and ended; may be nil
}

// Observer is told when a worker of this process starts and ends a run
// (runner's progress display). Its methods are called from the workers'
// goroutines, concurrently.
type Observer interface {
	Started(c *db.Claim)
	Finished(c *db.Claim, o Outcome)
}

// Lost is the Outcome status of a run that another worker claimed while this
// one trained it (its heartbeat went stale): this attempt's rows were not
// written, and the run is the other worker's now. It is never stored.
const Lost record.Status = "lost"

// Outcome is how one claimed run ended for this process.
type Outcome struct {
	Status record.Status // Done, Diverged, Failed, Interrupted, or Lost
	Reason string        // why it did not end Done: the error, the divergence, "interrupted"
	Acc    float64       // final test accuracy; -1 if none was measured
	Steps  int           // optimizer steps taken
	Wall   float64       // seconds, evaluations included
	Err    error         // the database could not record it
}

// Run trains the runs of experiment in d with o.Workers workers, each
// claiming the next run left (pending, interrupted, or held by a dead
// worker), until none is left or ctx is cancelled; a cancelled run finishes
// its step, is recorded as interrupted, and its worker stops. A heartbeat
// renews the claims of the runs in flight. Training errors and panics mark
// their run failed and the worker goes on; Run returns the database's
// errors only (a worker stops at its first).
func Run(ctx context.Context, d *db.DB, experiment string, o Options) error {
	if o.Workers < 1 {
		return fmt.Errorf("worker: %d workers, want at least 1", o.Workers)
	}
	if o.Stale <= 0 {
		o.Stale = 2 * time.Minute
	}
	me := ID()
	// Each worker spends most of its time in cgo calls into OpenBLAS longer
	// than the 20 µs after which the scheduler hands its P to another
	// thread; with only one P per worker, the worker then waits for a P on
	// every return. Two per worker measured 1.94× on two cores for two
	// workers instead of 1.53× (mlp2 steps, GOMAXPROCS 4 against 2).
	if n := 2 * o.Workers; runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	held := newHeld()
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		t := time.NewTicker(max(o.Stale/8, 100*time.Millisecond))
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
	blasCore := nn.BLASCore() // runs.blas_core: the kernels this process trains with
	for slot := 0; slot < o.Workers; slot++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			isDead := IsDead
			if o.Exclusive {
				// No other process uses this file: whoever else holds a run
				// is an earlier incarnation of this one, and dead, unless it
				// is one of the worker processes of this one's runner.
				isDead = func(w string) bool { return !strings.HasPrefix(w, me+"#") && !Related(w) }
			}
			own := func(w string) bool { return strings.HasPrefix(w, me+"#") }
			co := db.ClaimOptions{Worker: fmt.Sprintf("%s#%d", me, slot), StaleAfter: o.Stale, IsDead: isDead, Own: own,
				BLASCore: blasCore}
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
				if o.Observer != nil {
					o.Observer.Started(c)
				}
				out := trainOne(ctx, d, c, o.DataDir)
				held.remove(c.ID)
				if o.Observer != nil {
					o.Observer.Finished(c, out)
				}
				if out.Err != nil && !errors.Is(out.Err, db.ErrLostClaim) {
					errMu.Lock()
					firstErr = errors.Join(firstErr, out.Err)
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	stopHB()
	hbWG.Wait()
	return firstErr
}

// trainOne trains a claimed run and records its end. Training errors and
// panics mark the run failed; only database errors are returned (in Err).
func trainOne(ctx context.Context, d *db.DB, c *db.Claim, dataDir string) (out Outcome) {
	wctx := context.WithoutCancel(ctx) // the run's last rows are written even after Ctrl-C
	sink := newSink(wctx, d, c)
	fail := func(msg string) Outcome {
		err := d.Finish(wctx, c.ID, c.Attempt, sink.steps, sink.evals, record.Result{Status: record.Failed, Error: msg})
		return Outcome{Status: record.Failed, Reason: msg, Acc: -1, Err: err}
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
			return Outcome{Status: Lost, Acc: -1, Err: err}
		}
		return fail(err.Error())
	}
	err = d.Finish(wctx, c.ID, c.Attempt, sink.steps, sink.evals, res)
	if errors.Is(err, db.ErrLostClaim) {
		return Outcome{Status: Lost, Acc: -1, Err: err}
	}
	reason := res.Error
	if res.Status == record.Interrupted {
		reason = "interrupted"
	}
	return Outcome{Status: res.Status, Reason: reason, Acc: sink.acc, Steps: res.Steps, Wall: res.WallSeconds, Err: err}
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
