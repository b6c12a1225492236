package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"cliplab/internal/record"
)

// rank orders the attempts of one configuration found in two databases:
// the better one is kept by Merge.
func rank(status record.Status) int {
	switch status {
	case record.Done:
		return 3
	case record.Diverged:
		return 2
	case record.Failed:
		return 1
	}
	return 0 // pending, running, interrupted: no result yet
}

// MergeStats says what Merge did with one shard.
type MergeStats struct {
	Added    int // configurations the output lacked
	Replaced int // configurations whose shard attempt was better
	Kept     int // configurations the output already held as well or better
}

// Merge folds the database at shardPath into d, in one transaction: every
// experiment grid it holds, and every run with its steps and evals. A
// configuration found in both keeps the better attempt (done over diverged
// over failed over unfinished); on a tie d's is kept, so merging the same
// shard twice adds nothing. A shard that holds an experiment under a grid d
// does not know is refused with ErrGridChanged, unless d does not hold that
// experiment yet. Runs still running in the shard come in as interrupted.
func (d *DB) Merge(ctx context.Context, shardPath string) (MergeStats, error) {
	var st MergeStats
	src, err := Open(shardPath, Options{ReadOnly: true})
	if err != nil {
		return st, err
	}
	src.Close()
	// ATTACH runs outside a transaction; DETACH too.
	conn, err := d.w.Conn(ctx)
	if err != nil {
		return st, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS shard", "file:"+shardPath+"?mode=ro"); err != nil {
		return st, fmt.Errorf("attach %s: %w", shardPath, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DETACH DATABASE shard")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return st, err
	}
	defer tx.Rollback()
	if err := mergeGrids(ctx, tx, d.path, shardPath); err != nil {
		return st, err
	}
	type srcRun struct {
		id               int64
		exp, key, status string
		outID            sql.NullInt64
		outStatus        sql.NullString
	}
	rows, err := tx.QueryContext(ctx, `SELECT s.id, s.experiment, s.config_hash, s.status, o.id, o.status
		FROM shard.runs s LEFT JOIN main.runs o ON o.experiment = s.experiment AND o.config_hash = s.config_hash
		ORDER BY s.id`)
	if err != nil {
		return st, err
	}
	var runs []srcRun
	for rows.Next() {
		var r srcRun
		if err := rows.Scan(&r.id, &r.exp, &r.key, &r.status, &r.outID, &r.outStatus); err != nil {
			rows.Close()
			return st, err
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	const cols = `experiment, config_hash, setting_key, config_json, arch, dataset, optimizer, method, threshold, lr, batch_size, epochs, seed,
		status, attempt, worker, heartbeat_at, created_at, started_at, finished_at, error, wall_seconds, train_flops, steps_done,
		cliplab_version, vcs_revision, go_version, host, epsilon, noise_multiplier, delta, sampling,
		blas_core, cpu_model, nonzero_params, model_bytes, effective_flops`
	srcCols := strings.Replace(cols, "status,", "CASE status WHEN 'running' THEN 'interrupted' ELSE status END,", 1)
	for _, r := range runs {
		var outID int64
		switch {
		case !r.outID.Valid:
			res, err := tx.ExecContext(ctx, "INSERT INTO main.runs ("+cols+") SELECT "+srcCols+" FROM shard.runs WHERE id = ?", r.id)
			if err != nil {
				return st, fmt.Errorf("copy run %d of %s: %w", r.id, shardPath, err)
			}
			outID, _ = res.LastInsertId()
			st.Added++
		case rank(record.Status(r.status)) > rank(record.Status(r.outStatus.String)):
			outID = r.outID.Int64
			if err := deleteMetrics(ctx, tx, outID); err != nil {
				return st, err
			}
			set := []string{}
			for _, c := range strings.Split(cols, ",") {
				c = strings.TrimSpace(c)
				if c == "experiment" || c == "config_hash" {
					continue
				}
				expr := "s." + c
				if c == "status" {
					expr = "CASE s.status WHEN 'running' THEN 'interrupted' ELSE s.status END"
				}
				set = append(set, c+" = "+expr)
			}
			// UPDATE … FROM needs SQLite 3.33; the driver bundles a newer one.
			if _, err := tx.ExecContext(ctx, "UPDATE main.runs SET "+strings.Join(set, ", ")+
				" FROM shard.runs s WHERE main.runs.id = ? AND s.id = ?", outID, r.id); err != nil {
				return st, fmt.Errorf("replace run %s: %w", r.key[:12], err)
			}
			st.Replaced++
		default:
			st.Kept++
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.steps (run_id, step, epoch, loss, grad_norm, clipped_norm, clip_fraction, threshold, lr, elapsed_s, spike)
			SELECT ?, step, epoch, loss, grad_norm, clipped_norm, clip_fraction, threshold, lr, elapsed_s, spike FROM shard.steps WHERE run_id = ?`, outID, r.id); err != nil {
			return st, fmt.Errorf("copy steps of run %s: %w", r.key[:12], err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.step_norms (run_id, step, grp, norm)
			SELECT ?, step, grp, norm FROM shard.step_norms WHERE run_id = ?`, outID, r.id); err != nil {
			return st, fmt.Errorf("copy step norms of run %s: %w", r.key[:12], err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.evals (run_id, step, epoch, split, loss, acc, elapsed_s, epsilon)
			SELECT ?, step, epoch, split, loss, acc, elapsed_s, epsilon FROM shard.evals WHERE run_id = ?`, outID, r.id); err != nil {
			return st, fmt.Errorf("copy evals of run %s: %w", r.key[:12], err)
		}
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("merge %s: %w", shardPath, err)
	}
	return st, nil
}

// mergeGrids copies the shard's experiment grids, refusing a grid that
// differs from the one the output holds under the same name.
func mergeGrids(ctx context.Context, tx *sql.Tx, outPath, shardPath string) error {
	rows, err := tx.QueryContext(ctx, `SELECT s.name, s.grid_hash,
		EXISTS (SELECT 1 FROM main.experiments o WHERE o.name = s.name),
		EXISTS (SELECT 1 FROM main.experiments o WHERE o.name = s.name AND o.grid_hash = s.grid_hash)
		FROM shard.experiments s ORDER BY s.name, s.grid_hash`)
	if err != nil {
		return err
	}
	type g struct {
		name, hash     string
		named, matched bool
	}
	var gs []g
	for rows.Next() {
		var x g
		if err := rows.Scan(&x.name, &x.hash, &x.named, &x.matched); err != nil {
			rows.Close()
			return err
		}
		gs = append(gs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range gs {
		if x.named && !x.matched {
			return fmt.Errorf("%w: shard %s holds experiment %q with grid %.12s, which %s holds with another grid", ErrGridChanged, shardPath, x.name, x.hash, outPath)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.experiments (name, grid_hash, source_yaml, created_at)
			SELECT name, grid_hash, source_yaml, created_at FROM shard.experiments WHERE name = ? AND grid_hash = ?
			ON CONFLICT DO NOTHING`, x.name, x.hash); err != nil {
			return err
		}
	}
	return nil
}

// GridRef is one experiment grid a database holds: its name and grid hash
// (an experiment extended with -extend holds several).
type GridRef struct{ Name, Hash string }

// Grids returns the experiment grids of d, by name and hash.
func (d *DB) Grids(ctx context.Context) ([]GridRef, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT name, grid_hash FROM experiments ORDER BY name, grid_hash")
	if err != nil {
		return nil, fmt.Errorf("list grids: %w", err)
	}
	defer rows.Close()
	var out []GridRef
	for rows.Next() {
		var g GridRef
		if err := rows.Scan(&g.Name, &g.Hash); err != nil {
			return nil, fmt.Errorf("list grids: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// CopyTo writes a consistent copy of d to path (VACUUM INTO), which must not
// exist or be an empty file. d is left as it was.
func (d *DB) CopyTo(ctx context.Context, path string) error {
	h := d.w
	if h == nil {
		h = d.r
	}
	if _, err := h.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("copy %s to %s: %w", d.path, path, err)
	}
	return nil
}
