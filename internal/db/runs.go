package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/record"
)

// ErrGridChanged is returned by AddGrid when the experiment name already
// holds a different grid and extend was not asked for.
var ErrGridChanged = errors.New("db: a different grid is already stored under this experiment name")

// ErrLostClaim is returned when a run is no longer held by the attempt that
// writes to it (it was presumed dead and claimed again by another worker).
var ErrLostClaim = errors.New("db: run is no longer held by this attempt")

// NewRun is one configuration of a grid, as AddGrid inserts it.
type NewRun struct {
	Key        string // SHA-256 of ConfigJSON, hex
	ConfigJSON []byte // canonical resolved config
	// SettingKey is the configuration's config.SettingKey (the key without
	// its seed). AddGrid computes it and TailFrom from ConfigJSON when it is
	// empty.
	SettingKey   string
	Arch         string // arch name in the grid
	Dataset      string
	Optimizer    string
	Method       string
	Threshold    float64 // ignored (NULL) when HasThreshold is false
	HasThreshold bool
	LR           float64
	BatchSize    int
	Epochs       int
	Seed         uint64
	TailFrom     int // first step of the tail window (config.Config.Tail)
	// DP-SGD: Private is set for a run with DP (config.Config.Private);
	// then σ (given or solved for the target ε), δ and the sampling.
	// AddGrid computes them from ConfigJSON when SettingKey is empty.
	Private         bool
	NoiseMultiplier float64
	Delta           float64
	Sampling        string
}

// NewRunOf returns what AddGrid records of configuration c.
func NewRunOf(c config.Config) NewRun {
	m, _ := clipalgo.Lookup(c.Clip.Method)
	_, from := c.Tail()
	r := NewRun{
		Key: c.Key(), ConfigJSON: c.Canonical(), SettingKey: c.SettingKey(), Arch: c.ArchName, Dataset: c.Dataset, Optimizer: c.Optimizer.Name,
		Method: c.Clip.Method, Threshold: c.Clip.Threshold, HasThreshold: m != nil && m.Threshold.Takes,
		LR: c.LR, BatchSize: c.BatchSize, Epochs: c.Epochs, Seed: c.Seed, TailFrom: from,
	}
	if c.DP != nil {
		r.Private, r.Delta, r.Sampling = true, c.DP.Delta, string(c.DP.Sampling)
		r.NoiseMultiplier, _ = c.NoiseMultiplier() // a valid config has its σ
	}
	return r
}

// Grid is what AddGrid records of an experiment file.
type Grid struct {
	Experiment string
	Hash       string // grid hash: SHA-256 of the sorted config keys
	Source     []byte // the experiment file as given
	Runs       []NewRun
}

// AddGrid records the grid and inserts the runs that are missing, all in one
// transaction: either all of it is stored or none. When the experiment name
// already holds a different grid, it returns ErrGridChanged unless extend is
// set. It returns how many runs were inserted.
func (d *DB) AddGrid(ctx context.Context, g Grid, extend bool) (added int, err error) {
	err = d.write(ctx, func(tx *sql.Tx) error {
		var known []string
		rows, err := tx.QueryContext(ctx, "SELECT grid_hash FROM experiments WHERE name = ?", g.Experiment)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			known = append(known, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		same := false
		for _, h := range known {
			same = same || h == g.Hash
		}
		if len(known) > 0 && !same && !extend {
			return fmt.Errorf("%w: experiment %q in %s was run with another grid; rename the experiment (name:) or pass -extend to add the new configurations to it", ErrGridChanged, g.Experiment, d.path)
		}
		if !same {
			if _, err := tx.ExecContext(ctx, "INSERT INTO experiments (name, grid_hash, source_yaml, created_at) VALUES (?, ?, ?, ?)",
				g.Experiment, g.Hash, string(g.Source), now()); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO runs
			(experiment, config_hash, setting_key, config_json, arch, dataset, optimizer, method, threshold, lr, batch_size, epochs, seed, created_at, tail_from_step,
			 noise_multiplier, delta, sampling)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (experiment, config_hash) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		t := now()
		for _, r := range g.Runs {
			var th any
			if r.HasThreshold {
				th = r.Threshold
			}
			if r.SettingKey == "" {
				c, err := config.DecodeConfig(r.ConfigJSON)
				if err != nil {
					return fmt.Errorf("run %s: setting key: %w", r.Key[:min(12, len(r.Key))], err)
				}
				d := NewRunOf(c)
				r.SettingKey, r.TailFrom = d.SettingKey, d.TailFrom
				r.Private, r.NoiseMultiplier, r.Delta, r.Sampling = d.Private, d.NoiseMultiplier, d.Delta, d.Sampling
			}
			var sigma, delta, sampling any
			if r.Private {
				sigma, delta, sampling = r.NoiseMultiplier, r.Delta, r.Sampling
			}
			res, err := stmt.ExecContext(ctx, g.Experiment, r.Key, r.SettingKey, string(r.ConfigJSON), r.Arch, r.Dataset, r.Optimizer,
				r.Method, th, r.LR, r.BatchSize, r.Epochs, int64(r.Seed), t, r.TailFrom, sigma, delta, sampling)
			if err != nil {
				return fmt.Errorf("insert run %s: %w", r.Key[:12], err)
			}
			n, _ := res.RowsAffected()
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add grid: %w", err)
	}
	return added, nil
}

// Claim is a run taken by a worker.
type Claim struct {
	ID         int64
	Attempt    int
	Key        string
	ConfigJSON []byte
}

// ClaimOptions say which runs Claim may take.
type ClaimOptions struct {
	Worker string // who claims, e.g. host/pid/start#slot
	// StaleAfter: a running run whose heartbeat is older than this is taken
	// over (its worker is presumed dead). Default 2 minutes.
	StaleAfter time.Duration
	// IsDead, if set, reports a worker known to be dead (a process of this
	// host that no longer exists): its runs are taken over at once.
	IsDead func(worker string) bool
	// Own, if set, reports a worker of the claiming process itself: its
	// runs are never taken over, however old their heartbeat (a process
	// does not steal from itself when its heartbeat writes fall behind).
	Own func(worker string) bool
	// BLASCore is the OpenBLAS core type the claiming process trains with
	// (nn.BLASCore), stored in runs.blas_core with the rest of the
	// provenance; "" stores NULL.
	BLASCore string
}

// Claim takes the next run of experiment that is pending, interrupted, or
// running under a dead worker (stale heartbeat, or IsDead), marks it
// running under a new attempt and deletes the rows of its earlier attempts,
// in one transaction. It returns nil when there is nothing left to take.
func (d *DB) Claim(ctx context.Context, experiment string, o ClaimOptions) (*Claim, error) {
	if o.StaleAfter == 0 {
		o.StaleAfter = 2 * time.Minute
	}
	var c *Claim
	err := d.write(ctx, func(tx *sql.Tx) error {
		t := time.Now()
		stale := formatTime(t.Add(-o.StaleAfter))
		rows, err := tx.QueryContext(ctx, `SELECT id, status, ifnull(worker, ''), ifnull(heartbeat_at, '') FROM runs
			WHERE experiment = ? AND status IN ('pending', 'interrupted', 'running') ORDER BY id`, experiment)
		if err != nil {
			return err
		}
		id := int64(-1)
		dead := map[string]bool{}
		for rows.Next() {
			var rid int64
			var status, worker, hb string
			if err := rows.Scan(&rid, &status, &worker, &hb); err != nil {
				rows.Close()
				return err
			}
			if record.Status(status) == record.Running && o.Own != nil && o.Own(worker) {
				continue
			}
			if record.Status(status) != record.Running || hb < stale {
				id = rid
				break
			}
			if o.IsDead != nil {
				isDead, seen := dead[worker]
				if !seen {
					isDead = o.IsDead(worker)
					dead[worker] = isDead
				}
				if isDead {
					id = rid
					break
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if id < 0 {
			return nil
		}
		var cl Claim
		var cfg string
		if err := tx.QueryRowContext(ctx, "SELECT id, attempt, config_hash, config_json FROM runs WHERE id = ?", id).
			Scan(&cl.ID, &cl.Attempt, &cl.Key, &cfg); err != nil {
			return err
		}
		cl.Attempt++
		cl.ConfigJSON = []byte(cfg)
		if err := deleteMetrics(ctx, tx, cl.ID); err != nil {
			return err
		}
		ts := formatTime(t)
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'running', attempt = ?, worker = ?, heartbeat_at = ?,
			started_at = ?, finished_at = NULL, error = NULL, wall_seconds = NULL, train_flops = NULL, steps_done = NULL,
			nonzero_params = NULL, model_bytes = NULL, effective_flops = NULL,
			cliplab_version = ?, vcs_revision = ?, go_version = ?, host = ?, blas_core = ?, cpu_model = ?
			WHERE id = ?`, cl.Attempt, o.Worker, ts, ts, prov.Version, prov.Revision, prov.GoVersion, prov.Host,
			nullIfEmpty(o.BLASCore), nullIfEmpty(prov.CPUModel), cl.ID); err != nil {
			return err
		}
		c = &cl
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim a run: %w", err)
	}
	return c, nil
}

func deleteMetrics(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM steps WHERE run_id = ?", id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM step_norms WHERE run_id = ?", id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM evals WHERE run_id = ?", id)
	return err
}

// RetryFailed sets the failed runs of experiment back to pending, so that
// Claim takes them again. It returns how many.
func (d *DB) RetryFailed(ctx context.Context, experiment string) (int, error) {
	var n int64
	err := d.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET status = 'pending' WHERE experiment = ? AND status = 'failed'", experiment)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("retry failed runs: %w", err)
	}
	return int(n), nil
}

// Append writes a batch of a held run's metrics in one transaction and
// renews its heartbeat. It returns ErrLostClaim if the run is no longer held
// by attempt.
func (d *DB) Append(ctx context.Context, id int64, attempt int, steps []record.Step, evals []record.Eval) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		if err := hold(ctx, tx, id, attempt); err != nil {
			return err
		}
		return insertMetrics(ctx, tx, id, steps, evals)
	})
	if err != nil {
		return fmt.Errorf("write metrics of run %d: %w", id, err)
	}
	return nil
}

// Finish writes the last metrics of a held run and its result, in one
// transaction.
func (d *DB) Finish(ctx context.Context, id int64, attempt int, steps []record.Step, evals []record.Eval, r record.Result) error {
	switch r.Status {
	case record.Done, record.Diverged, record.Failed, record.Interrupted:
	default:
		panic("db: Finish with status " + string(r.Status))
	}
	err := d.write(ctx, func(tx *sql.Tx) error {
		if err := hold(ctx, tx, id, attempt); err != nil {
			return err
		}
		if err := insertMetrics(ctx, tx, id, steps, evals); err != nil {
			return err
		}
		var e any
		if r.Error != "" {
			e = r.Error
		}
		// epsilon only for a run with DP (noise_multiplier set): the others
		// have Epsilon 0 (record.Result).
		// costs 0 (unknown: record.Result) as NULL
		var nz, bytes, eflops any
		if r.ModelBytes > 0 {
			nz, bytes, eflops = r.NonzeroParams, r.ModelBytes, r.EffectiveFLOPs
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ?, wall_seconds = ?, train_flops = ?, steps_done = ?,
			epsilon = CASE WHEN noise_multiplier IS NULL THEN NULL ELSE ? END,
			nonzero_params = ?, model_bytes = ?, effective_flops = ?
			WHERE id = ?`, r.Status, e, now(), r.WallSeconds, r.TrainFLOPs, r.Steps, real(r.Epsilon), nz, bytes, eflops, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// hold renews the heartbeat of run id if attempt still holds it.
func hold(ctx context.Context, tx *sql.Tx, id int64, attempt int) error {
	res, err := tx.ExecContext(ctx, "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND attempt = ? AND status = 'running'", now(), id, attempt)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrLostClaim
	}
	return nil
}

// Heartbeat renews the heartbeat of the runs this process holds, so that
// long silent phases (a big evaluation) do not look like a dead worker.
func (d *DB) Heartbeat(ctx context.Context, held map[int64]int) error {
	if len(held) == 0 {
		return nil
	}
	return d.write(ctx, func(tx *sql.Tx) error {
		t := now()
		for id, attempt := range held {
			if _, err := tx.ExecContext(ctx, "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND attempt = ? AND status = 'running'", t, id, attempt); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertMetrics(ctx context.Context, tx *sql.Tx, id int64, steps []record.Step, evals []record.Eval) error {
	if len(steps) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO steps (run_id, step, epoch, loss, grad_norm, clipped_norm, clip_fraction, threshold, lr, elapsed_s, spike)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		norms, err := tx.PrepareContext(ctx, `INSERT INTO step_norms (run_id, step, grp, norm) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer norms.Close()
		for _, s := range steps {
			spike := 0
			if s.Spike {
				spike = 1
			}
			if _, err := stmt.ExecContext(ctx, id, s.Step, s.Epoch, real(s.Loss), real(s.GradNorm), real(s.ClippedNorm),
				real(s.ClipFraction), real(s.Threshold), real(s.LR), s.ElapsedS, spike); err != nil {
				return fmt.Errorf("insert step %d: %w", s.Step, err)
			}
			for _, g := range s.Norms {
				if _, err := norms.ExecContext(ctx, id, s.Step, g.Group, real(g.Norm)); err != nil {
					return fmt.Errorf("insert norm of %s at step %d: %w", g.Group, s.Step, err)
				}
			}
		}
	}
	if len(evals) > 0 {
		var private bool
		if err := tx.QueryRowContext(ctx, "SELECT noise_multiplier IS NOT NULL FROM runs WHERE id = ?", id).Scan(&private); err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO evals (run_id, step, epoch, split, loss, acc, elapsed_s, epsilon) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range evals {
			var eps any // NULL for a run without DP (Epsilon 0)
			if private {
				eps = real(e.Epsilon)
			}
			if _, err := stmt.ExecContext(ctx, id, e.Step, e.Epoch, e.Split, real(e.Loss), real(e.Acc), e.ElapsedS, eps); err != nil {
				return fmt.Errorf("insert %s eval at step %d: %w", e.Split, e.Step, err)
			}
		}
	}
	return nil
}

// real maps a float64 to what SQLite stores: NaN becomes NULL (SQLite has no
// NaN); ±Inf are kept (SQLite stores them as ±9e999).
func real(x float64) any {
	if x != x {
		return nil
	}
	return x
}

// write runs f in one write transaction (BEGIN IMMEDIATE) on the writer
// connection.
func (d *DB) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	if d.w == nil {
		return errors.New("db: database opened read-only")
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Count is how many runs of an experiment are in each status.
type Count struct {
	Experiment string
	ByStatus   map[record.Status]int
	Total      int
}

// Counts returns the number of runs per status of every experiment (or of
// the one named), ordered by experiment name.
func (d *DB) Counts(ctx context.Context, experiment string) ([]Count, error) {
	q := "SELECT experiment, status, count(*) FROM runs"
	var args []any
	if experiment != "" {
		q += " WHERE experiment = ?"
		args = append(args, experiment)
	}
	q += " GROUP BY experiment, status ORDER BY experiment, status"
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("count runs: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var e, s string
		var n int
		if err := rows.Scan(&e, &s, &n); err != nil {
			return nil, fmt.Errorf("count runs: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Experiment != e {
			out = append(out, Count{Experiment: e, ByStatus: map[record.Status]int{}})
		}
		c := &out[len(out)-1]
		c.ByStatus[record.Status(s)] = n
		c.Total += n
	}
	return out, rows.Err()
}

// Experiments returns the names of the experiments in the database, sorted.
func (d *DB) Experiments(ctx context.Context) ([]string, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT DISTINCT name FROM experiments ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// quoteList is a helper for error messages: "a, b, c" or "none".
func quoteList(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
