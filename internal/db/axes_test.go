package db

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
)

// axesGrid is realConfig's setting and one setting for each change that
// run_summary has no column for, each at seeds 1 and 2: the names of the
// changes, and the grid.
func axesGrid(t *testing.T) ([]string, Grid) {
	t.Helper()
	changes := []struct {
		name string
		f    func(*config.Config)
	}{
		{"base", func(*config.Config) {}},
		{"train_size", func(c *config.Config) { c.Data.TrainSize = 200 }},
		{"seq_len", func(c *config.Config) { c.Data.SeqLen = 7 }},
		{"hidden", func(c *config.Config) { c.Arch = nn.ArchSpec{Type: "mlp", Hidden: []int{8}}.Normalize() }},
		{"optimizer_weight_decay", func(c *config.Config) { c.Optimizer = nn.OptimSpec{Name: "sgd", WeightDecay: 0.1}.Normalize() }},
		{"lr_schedule_warmup", func(c *config.Config) { c.LRSchedule = nn.Schedule{Warmup: 0.1} }},
		{"clip_norm_type", func(c *config.Config) {
			c.Clip = clipalgo.Spec{Method: "norm", Threshold: 1}.With("norm_type", "inf").Normalize()
		}},
		{"tail_fraction", func(c *config.Config) { c.TailFraction = 0.2 }},
	}
	var cfgs []config.Config
	var names []string
	for _, ch := range changes {
		names = append(names, ch.name)
		for _, seed := range []uint64{1, 2} {
			c := realConfig(0.1, seed)
			ch.f(&c)
			cfgs = append(cfgs, c)
		}
	}
	g := Grid{Experiment: "e", Hash: config.GridHash(cfgs), Source: []byte("name: e")}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, NewRunOf(c))
	}
	return names, g
}

// groups counts the groups of run_summary JOIN run_axes by cols, and the
// groups that hold more than one setting_key.
func groups(t *testing.T, d *DB, cols []string) (n, pooled int) {
	t.Helper()
	q := "SELECT count(DISTINCT s.setting_key) FROM run_summary s JOIN run_axes a USING (run_id) GROUP BY " + strings.Join(cols, ", ")
	rows, err := d.r.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		n++
		if k > 1 {
			pooled++
		}
	}
	return n, pooled
}

// summaryGroupBy are run_summary's columns that set a run's configuration,
// its seed left out.
var summaryGroupBy = []string{"s.experiment", "s.arch", "s.dataset", "s.optimizer", "s.method", "s.threshold", "s.lr",
	"s.batch_size", "s.epochs", "s.noise_multiplier", "s.delta", "s.sampling"}

// TestRunAxesSeparatesSettings: settings that differ only in a field
// run_summary has no column for (train_size, seq_len, the optimizer's and
// the clip method's options, the schedule, tail_fraction) pool under a
// GROUP BY of run_summary's columns, and come apart once run_axes's
// columns are added, each group then holding the seeds of one setting.
func TestRunAxesSeparatesSettings(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	names, g := axesGrid(t)
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	if n, pooled := groups(t, d, summaryGroupBy); n != 1 || pooled != 1 {
		t.Fatalf("GROUP BY run_summary's columns: %d groups, %d pooled; want the %d settings in 1", n, pooled, len(names))
	}
	var all []string
	for _, a := range axisColumns() {
		all = append(all, "a."+a.col)
	}
	if n, pooled := groups(t, d, append(summaryGroupBy, all...)); n != len(names) || pooled != 0 {
		t.Errorf("GROUP BY run_summary's and run_axes's columns: %d groups, %d pooled; want %d, 0", n, pooled, len(names))
	}
	// Each change alone separates its setting from the base.
	for _, name := range names[1:] {
		if n, pooled := groups(t, d, append(summaryGroupBy, "a."+name)); n != 2 || pooled != 1 {
			t.Errorf("GROUP BY run_summary's columns and %s: %d groups, %d pooled; want 2 groups, 1 pooled (the other settings)", name, n, pooled)
		}
	}
	var seqLen, trainSize sql.NullInt64
	var norm string
	var tail float64
	if err := d.r.QueryRow(`SELECT max(seq_len), max(train_size), min(clip_norm_type), min(tail_fraction) FROM run_axes`).Scan(&seqLen, &trainSize, &norm, &tail); err != nil {
		t.Fatal(err)
	}
	if seqLen.Int64 != 7 || trainSize.Int64 != 200 || norm != "2" || tail != config.DefaultTailFraction {
		t.Errorf("run_axes: max seq_len %v, max train_size %v, min clip_norm_type %q, min tail_fraction %v; want 7, 200, \"2\", %v",
			seqLen, trainSize, norm, tail, config.DefaultTailFraction)
	}
}

// TestMigrationCreatesRunAxes: a version 5 file gains run_axes when a
// writer opens it.
func TestMigrationCreatesRunAxes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v5.db")
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	_, cfgs := realGrid("e")
	stmts := append([]string{}, migrations[:5]...)
	stmts = append(stmts, "CREATE VIEW run_summary AS SELECT id AS run_id, experiment FROM runs",
		fmt.Sprintf("PRAGMA user_version = 5; PRAGMA application_id = %d", ApplicationID))
	for _, c := range cfgs {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO runs (experiment, config_hash, config_json, arch, dataset, optimizer, method, threshold, lr, batch_size, epochs, seed, created_at)
			VALUES ('e', '%s', '%s', 'm', 'mnist', 'sgd', 'norm', 1, %v, 10, 1, %d, 'then')`, c.Key(), c.Canonical(), c.LR, c.Seed))
	}
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	raw.Close()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n, trainSize int
	if err := d.r.QueryRow("SELECT count(*), min(train_size) FROM run_axes").Scan(&n, &trainSize); err != nil || n != len(cfgs) || trainSize != 100 {
		t.Errorf("run_axes after migration: %d rows, train_size %d, %v; want %d, 100", n, trainSize, err, len(cfgs))
	}
}

// TestRunAxesColumns: run_axes's columns are a contract (README, "The
// database"): these stay, under these names; new ones may follow.
func TestRunAxesColumns(t *testing.T) {
	cols, have := viewColumns(t, mustOpen(t), "run_axes")
	want := []string{"run_id", "experiment", "setting_key",
		"train_size", "test_size", "train_eval_size", "seq_len", "vocab", "modulus", "operation", "train_fraction",
		"arch_type", "hidden", "activation", "channels", "kernel", "pool", "cell",
		"layers", "d_model", "heads", "d_ff", "context", "tied", "init", "approximate", "trim",
		"optimizer_momentum", "optimizer_nesterov", "optimizer_dampening", "optimizer_beta1", "optimizer_beta2",
		"optimizer_eps", "optimizer_weight_decay", "optimizer_no_decay",
		"lr_schedule_warmup", "lr_schedule_decay", "lr_schedule_min_lr",
		"drop_last", "eval_every", "tail_fraction", "log_every", "divergence_loss",
		"clip_norm_type", "clip_variant", "clip_exclude_last", "clip_eps", "clip_alpha", "clip_warmup_steps",
		"clip_max_grad_norm", "clip_mode", "clip_clip_option", "clip_clip_factor", "clip_skip_update_on_spike",
		"clip_beta", "clip_warmup_max_norm", "dp_target_epsilon"}
	for _, c := range want {
		if !have[c] {
			t.Errorf("run_axes lacks column %s (has %v)", c, cols)
		}
	}
}
