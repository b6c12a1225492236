// Loading many finished runs at once: the report's scale benchmark builds
// databases of 10,000 runs × 2,000 steps with it.

package db

import (
	"context"
	"database/sql"
	"fmt"

	"cliplab/internal/record"
)

// Finished is a run's record as Finish writes it: its key (config_hash),
// its logged steps and evaluations and its result.
type Finished struct {
	Key    string
	Steps  []record.Step
	Evals  []record.Eval
	Result record.Result
}

// Load writes n finished runs of experiment, which AddGrid has added and
// nobody has claimed, in one transaction: run(i) returns the i-th, and
// Load writes it as one claim and Finish would (attempt 1, this process's
// provenance) before asking for the next, so that memory holds one run at
// a time. It is for tests and benchmarks that build large databases (a
// runner claims and finishes runs one by one). An unknown key, or a run
// already claimed, is an error and nothing is written.
func (d *DB) Load(ctx context.Context, experiment string, n int, run func(i int) Finished) error {
	err := d.write(ctx, func(tx *sql.Tx) error {
		find, err := tx.PrepareContext(ctx, "SELECT id FROM runs WHERE experiment = ? AND config_hash = ? AND status = 'pending' AND attempt = 0")
		if err != nil {
			return err
		}
		defer find.Close()
		finish, err := tx.PrepareContext(ctx, `UPDATE runs SET status = ?, attempt = 1, worker = 'load', heartbeat_at = ?, started_at = ?,
			finished_at = ?, error = ?, wall_seconds = ?, train_flops = ?, steps_done = ?,
			cliplab_version = ?, vcs_revision = ?, go_version = ?, host = ?, cpu_model = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer finish.Close()
		ts := now()
		for i := range n {
			f := run(i)
			switch f.Result.Status {
			case record.Done, record.Diverged, record.Failed:
			default:
				return fmt.Errorf("run %d (%.12s): status %q: want done, diverged or failed", i, f.Key, f.Result.Status)
			}
			var id int64
			if err := find.QueryRowContext(ctx, experiment, f.Key).Scan(&id); err != nil {
				if err == sql.ErrNoRows {
					return fmt.Errorf("run %d: no pending run %.12s in %s", i, f.Key, experiment)
				}
				return err
			}
			if err := insertMetrics(ctx, tx, id, f.Steps, f.Evals); err != nil {
				return err
			}
			var e any
			if f.Result.Error != "" {
				e = f.Result.Error
			}
			if _, err := finish.ExecContext(ctx, f.Result.Status, ts, ts, ts, e, f.Result.WallSeconds, f.Result.TrainFLOPs, f.Result.Steps,
				prov.Version, prov.Revision, prov.GoVersion, prov.Host, nullIfEmpty(prov.CPUModel), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load runs of %s: %w", experiment, err)
	}
	return nil
}
