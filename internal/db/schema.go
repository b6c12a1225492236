package db

import (
	"context"
	"database/sql"

	"cliplab/internal/config"
)

// migrations are applied in order; migration i brings the schema to
// user_version i+1. Never edit one that has shipped: append a new one.
// Views hold no data: after any migration, Open drops run_summary and creates
// it from runSummaryView, so a change to the view is an edit there plus an
// appended migration (a comment alone will do) that makes existing files
// rebuild it.
var migrations = []string{
	// 1: runs, experiments, steps, evals.
	`
CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	experiment   TEXT    NOT NULL,
	config_hash  TEXT    NOT NULL,         -- SHA-256 of config_json, hex
	config_json  TEXT    NOT NULL,         -- canonical resolved config
	arch         TEXT    NOT NULL,         -- arch name in the grid
	dataset      TEXT    NOT NULL,
	optimizer    TEXT    NOT NULL,
	method       TEXT    NOT NULL,         -- clip method
	threshold    REAL,                     -- NULL for method none
	lr           REAL    NOT NULL,
	batch_size   INTEGER NOT NULL,
	epochs       INTEGER NOT NULL,
	seed         INTEGER NOT NULL,
	status       TEXT    NOT NULL DEFAULT 'pending'
	             CHECK (status IN ('pending','running','done','diverged','failed','interrupted')),
	attempt      INTEGER NOT NULL DEFAULT 0,  -- times claimed
	worker       TEXT,                        -- host:pid/slot of the claimer
	heartbeat_at TEXT,                        -- RFC 3339 UTC, last sign of life
	created_at   TEXT    NOT NULL,
	started_at   TEXT,
	finished_at  TEXT,
	error        TEXT,
	-- final results, written when the run ends
	wall_seconds REAL,
	train_flops  REAL,     -- total forward+backward FLOPs of all steps trained
	steps_done   INTEGER,
	-- provenance of the code that trained it
	cliplab_version TEXT,
	vcs_revision    TEXT,
	go_version      TEXT,
	host            TEXT
);
CREATE UNIQUE INDEX runs_key ON runs(experiment, config_hash);
CREATE INDEX runs_experiment_status ON runs(experiment, status);

-- experiments: each grid accepted under a name (a name holds more than one
-- grid only when it was extended with runner run -extend).
CREATE TABLE experiments (
	name        TEXT NOT NULL,
	grid_hash   TEXT NOT NULL,   -- SHA-256 of the sorted config hashes
	source_yaml TEXT NOT NULL,   -- the experiment file as given
	created_at  TEXT NOT NULL,
	PRIMARY KEY (name, grid_hash)
);

CREATE TABLE steps (
	run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	step          INTEGER NOT NULL,   -- 1-based optimizer step
	epoch         INTEGER NOT NULL,   -- 0-based
	loss          REAL,
	grad_norm     REAL,   -- global L2 norm before clipping
	clipped_norm  REAL,   -- global L2 norm after clipping
	clip_fraction REAL,
	threshold     REAL,   -- threshold in force
	lr            REAL,
	elapsed_s     REAL,   -- seconds since the run started
	PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

CREATE TABLE evals (
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	step   INTEGER NOT NULL,
	epoch  INTEGER NOT NULL,
	split  TEXT    NOT NULL CHECK (split IN ('test','train')),
	loss   REAL,
	acc    REAL,
	elapsed_s REAL,
	PRIMARY KEY (run_id, step, split)
) WITHOUT ROWID;
`,
	// 2: runs.setting_key, the key of the configuration without its seed
	// (config.SettingKey), which statistics over seeds group by. AddGrid
	// writes it; for the rows already there, Open fills it in Go after the
	// migration (fillSettingKeys: the key is a hash of Go's canonical JSON,
	// which SQL cannot compute).
	`
ALTER TABLE runs ADD COLUMN setting_key TEXT; -- config.SettingKey: SHA-256 of the canonical config without its seed, hex
CREATE INDEX runs_setting ON runs(experiment, setting_key);
`,
}

// runSummaryView is the run_summary view, as the current code defines it.
// Its columns are a contract (README, "The database"): add, never rename.
const runSummaryView = `
-- run_summary: one row per run with its final values (NULL where none).
CREATE VIEW run_summary AS
SELECT
	r.id AS run_id, r.experiment, r.config_hash, r.setting_key, r.arch, r.dataset, r.optimizer,
	r.method, r.threshold, r.lr, r.batch_size, r.epochs, r.seed, r.status,
	(SELECT e.acc  FROM evals e WHERE e.run_id = r.id AND e.split = 'test'  ORDER BY e.step DESC LIMIT 1) AS test_acc,
	(SELECT e.loss FROM evals e WHERE e.run_id = r.id AND e.split = 'test'  ORDER BY e.step DESC LIMIT 1) AS test_loss,
	(SELECT e.acc  FROM evals e WHERE e.run_id = r.id AND e.split = 'train' ORDER BY e.step DESC LIMIT 1) AS train_acc,
	(SELECT e.loss FROM evals e WHERE e.run_id = r.id AND e.split = 'train' ORDER BY e.step DESC LIMIT 1) AS train_loss,
	r.steps_done AS steps,
	r.wall_seconds,
	r.train_flops,
	(SELECT avg(s.clip_fraction) FROM steps s WHERE s.run_id = r.id) AS clip_fraction,
	(SELECT max(s.grad_norm)     FROM steps s WHERE s.run_id = r.id) AS max_grad_norm,
	r.error
FROM runs r;
`

// fillSettingKeys writes runs.setting_key where it is NULL (the rows of a
// file written before migration 2), from config_json: config.DecodeConfig
// then SettingKey, the one definition of a setting. A row whose config_json
// does not decode keeps NULL: it could not be trained or reported either,
// and the report names it. It runs inside the migration's transaction.
func fillSettingKeys(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT id, config_json FROM runs WHERE setting_key IS NULL ORDER BY id")
	if err != nil {
		return err
	}
	type fill struct {
		id  int64
		key string
	}
	var fills []fill
	for rows.Next() {
		var id int64
		var js string
		if err := rows.Scan(&id, &js); err != nil {
			rows.Close()
			return err
		}
		if c, err := config.DecodeConfig([]byte(js)); err == nil {
			fills = append(fills, fill{id, c.SettingKey()})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(fills) == 0 {
		return nil
	}
	stmt, err := conn.PrepareContext(ctx, "UPDATE runs SET setting_key = ? WHERE id = ?")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, f := range fills {
		if _, err := stmt.ExecContext(ctx, f.key, f.id); err != nil {
			return err
		}
	}
	return nil
}
