// What runner status shows beside the counts: the failed runs and who
// holds the running ones.

package db

import (
	"context"
	"fmt"
	"time"
)

// FailedRun is a run that ended failed, with its error.
type FailedRun struct {
	ID         int64
	Experiment string
	ConfigJSON []byte
	Attempt    int
	Error      string
}

// Failed returns the failed runs of experiment (every experiment if empty),
// by experiment and id.
func (d *DB) Failed(ctx context.Context, experiment string) ([]FailedRun, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, experiment, config_json, attempt, ifnull(error, '') FROM runs
		WHERE status = 'failed' AND (? = '' OR experiment = ?) ORDER BY experiment, id`, experiment, experiment)
	if err != nil {
		return nil, fmt.Errorf("list failed runs: %w", err)
	}
	defer rows.Close()
	var out []FailedRun
	for rows.Next() {
		var f FailedRun
		var cfg string
		if err := rows.Scan(&f.ID, &f.Experiment, &cfg, &f.Attempt, &f.Error); err != nil {
			return nil, fmt.Errorf("list failed runs: %w", err)
		}
		f.ConfigJSON = []byte(cfg)
		out = append(out, f)
	}
	return out, rows.Err()
}

// Holder is who holds a running run: its worker name and last heartbeat.
type Holder struct {
	ID         int64
	Experiment string
	Worker     string
	Heartbeat  time.Time // zero if none was written
}

// Holders returns the running runs of experiment (every experiment if
// empty) with their workers and heartbeats, by experiment and id.
func (d *DB) Holders(ctx context.Context, experiment string) ([]Holder, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, experiment, ifnull(worker, ''), ifnull(heartbeat_at, '') FROM runs
		WHERE status = 'running' AND (? = '' OR experiment = ?) ORDER BY experiment, id`, experiment, experiment)
	if err != nil {
		return nil, fmt.Errorf("list running runs: %w", err)
	}
	defer rows.Close()
	var out []Holder
	for rows.Next() {
		var h Holder
		var hb string
		if err := rows.Scan(&h.ID, &h.Experiment, &h.Worker, &hb); err != nil {
			return nil, fmt.Errorf("list running runs: %w", err)
		}
		h.Heartbeat, _ = time.Parse(timeLayout, hb)
		out = append(out, h)
	}
	return out, rows.Err()
}
