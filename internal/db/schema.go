package db

import (
	"context"
	"database/sql"
	"fmt"

	"cliplab/internal/config"
)

// migrations are applied in order; migration i brings the schema to
// user_version i+1. Never edit one that has shipped: append a new one.
// Views hold no data: after any migration, Open drops run_summary and
// run_axes and creates them from runSummaryView and runAxesView, so a change
// to a view is an edit there plus an appended migration (a comment alone
// will do) that makes existing files rebuild it.
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
	// 2: the first step of each run's tail window (issue 17).
	`ALTER TABLE runs ADD COLUMN tail_from_step INTEGER;`,
	// 3: runs.setting_key, the key of the configuration without its seed
	// (config.SettingKey), which statistics over seeds group by.
	`
ALTER TABLE runs ADD COLUMN setting_key TEXT; -- config.SettingKey: SHA-256 of the canonical config without its seed, hex
CREATE INDEX runs_setting ON runs(experiment, setting_key);
`,
	// 4: DP-SGD (issue 11): ε spent at each evaluation and by the run, σ
	// (given or solved for a target ε), δ and the sampling; NULL for runs
	// without DP. run_summary gains epsilon, noise_multiplier, delta and
	// sampling.
	`
ALTER TABLE runs ADD COLUMN epsilon REAL;          -- ε of (ε, delta)-DP spent by the steps trained; +Inf without noise
ALTER TABLE runs ADD COLUMN noise_multiplier REAL; -- σ: the noise is N(0, σ²C²) per coordinate of the clipped sum
ALTER TABLE runs ADD COLUMN delta REAL;
ALTER TABLE runs ADD COLUMN sampling TEXT;         -- shuffle | poisson
ALTER TABLE evals ADD COLUMN epsilon REAL;         -- ε spent by the steps up to this evaluation
`,
	// 5: provenance of the machine a run trained on (issue 13): the BLAS
	// kernels and the CPU, which set its speed and its last bits.
	`
ALTER TABLE runs ADD COLUMN blas_core TEXT; -- OpenBLAS core type the run trained with, e.g. Haswell, SkylakeX
ALTER TABLE runs ADD COLUMN cpu_model TEXT; -- the CPU's model name (/proc/cpuinfo)
`,
	// 6: issue 12's telemetry: the gradient norm of each parameter group at
	// each logged step (nn.NormGroups names the groups), and the loss-spike
	// flag of each logged step (README "Loss spikes"). run_summary gains
	// spikes.
	`
CREATE TABLE step_norms (
	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	step   INTEGER NOT NULL,   -- a logged step (steps.step)
	grp    TEXT    NOT NULL,   -- "embedding", "h.0.attention", "h.0.mlp", "h.0.norm", "final_norm", "head"; a layer ("0", "rnn", "fc") for the other archs
	norm   REAL,               -- L2 norm of the group's gradient before clipping
	PRIMARY KEY (run_id, step, grp)
) WITHOUT ROWID;
ALTER TABLE steps ADD COLUMN spike INTEGER; -- 1: a loss spike, 0: not; NULL for steps logged before version 6
`,
	// 7: the view run_axes (issue 13 section 3: every configuration field
	// run_summary has no column for; runAxesView), which Open creates
	// after a migration; nothing else changes.
	`-- 7: run_axes`,
	// 8: issue 16's costs of the model as deployed (pruned, quantised),
	// README "Compression costs"; NULL for runs that ended before version 8
	// and for failed runs. run_summary gains them, run_axes the prune_*
	// and quantize_* columns.
	`
ALTER TABLE runs ADD COLUMN nonzero_params INTEGER; -- parameter values that are not zero
ALTER TABLE runs ADD COLUMN model_bytes INTEGER;    -- storage: per tensor the smaller of dense and bitmap-sparse, at the stored bits
ALTER TABLE runs ADD COLUMN effective_flops REAL;   -- inference FLOPs of one example counting only non-zero weights
`,
	// 9: run_axes gains vocab (issue 12's copy task, data.vocab); Open
	// rebuilds the view after a migration; nothing else changes.
	`-- 9: run_axes with vocab`,
	// 10: run_axes gains trim (the transformer's arch_spec.trim).
	`-- 10: run_axes with trim`,
}

// derived are the runs columns computed from a run's configuration, which
// SQL cannot compute from config_json (a key is a hash of Go's canonical
// JSON). AddGrid writes them (NewRunOf); after any migration, Open fills
// the ones still NULL in existing rows (fillDerived). A column added by a
// migration that derives from the configuration gets a row here.
var derived = []struct {
	col string
	of  func(config.Config) any
}{
	{"tail_from_step", func(c config.Config) any { _, from := c.Tail(); return from }},
	{"setting_key", func(c config.Config) any { return c.SettingKey() }},
	{"noise_multiplier", func(c config.Config) any {
		if c.DP == nil {
			return nil
		}
		sigma, _ := c.NoiseMultiplier() // a config that decodes has a σ
		return sigma
	}},
	{"delta", func(c config.Config) any {
		if c.DP == nil {
			return nil
		}
		return c.DP.Delta
	}},
	{"sampling", func(c config.Config) any {
		if c.DP == nil {
			return nil
		}
		return string(c.DP.Sampling)
	}},
}

// fillDerived writes the derived columns that are NULL, from config_json
// decoded by config.DecodeConfig. A row whose config_json does not decode
// keeps NULL: it could not be trained or reported either, and the report
// names it. It runs inside the migration's transaction.
func fillDerived(ctx context.Context, conn *sql.Conn) error {
	for _, d := range derived {
		rows, err := conn.QueryContext(ctx, "SELECT id, config_json FROM runs WHERE "+d.col+" IS NULL ORDER BY id")
		if err != nil {
			return fmt.Errorf("%s: %w", d.col, err)
		}
		var ids []int64
		var vals []any
		for rows.Next() {
			var id int64
			var js string
			if err := rows.Scan(&id, &js); err != nil {
				rows.Close()
				return fmt.Errorf("%s: %w", d.col, err)
			}
			if c, err := config.DecodeConfig([]byte(js)); err == nil {
				ids, vals = append(ids, id), append(vals, d.of(c))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: %w", d.col, err)
		}
		for i, id := range ids {
			if _, err := conn.ExecContext(ctx, "UPDATE runs SET "+d.col+" = ? WHERE id = ?", vals[i], id); err != nil {
				return fmt.Errorf("%s: %w", d.col, err)
			}
		}
	}
	return nil

}

// runSummaryView is the run_summary view, as the current code defines it.
// Its columns are a contract (README, "The database"): add, never rename.
// A diverged run's final values are those of its last evaluation before it
// diverged (NULL without one), never a stand-in; the report's chance-level
// score for it is the report's (README states both).
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
	r.error,
	-- issue 17: the mean of the evaluations from tail_from_step on (the last
	-- tail_fraction of the steps), which one step cannot swing; NULL for a
	-- run that ended before its tail window
	(SELECT avg(e.acc)  FROM evals e WHERE e.run_id = r.id AND e.split = 'test'  AND e.step >= r.tail_from_step) AS test_acc_tail,
	(SELECT avg(e.loss) FROM evals e WHERE e.run_id = r.id AND e.split = 'test'  AND e.step >= r.tail_from_step) AS test_loss_tail,
	(SELECT avg(e.acc)  FROM evals e WHERE e.run_id = r.id AND e.split = 'train' AND e.step >= r.tail_from_step) AS train_acc_tail,
	(SELECT avg(e.loss) FROM evals e WHERE e.run_id = r.id AND e.split = 'train' AND e.step >= r.tail_from_step) AS train_loss_tail,
	(SELECT count(*)    FROM evals e WHERE e.run_id = r.id AND e.split = 'test'  AND e.step >= r.tail_from_step) AS tail_evals,
	-- issue 11: DP-SGD's ε spent (final), σ, δ and sampling; NULL without DP
	r.epsilon, r.noise_multiplier, r.delta, r.sampling,
	-- issue 12: logged steps flagged as loss spikes (README "Loss spikes");
	-- NULL for a run without steps logged since schema version 6
	(SELECT sum(s.spike) FROM steps s WHERE s.run_id = r.id) AS spikes,
	-- issue 16: the costs of the model as deployed (README "Compression
	-- costs"); NULL for a run that ended before schema version 8
	r.nonzero_params, r.model_bytes, r.effective_flops
FROM runs r;
`
