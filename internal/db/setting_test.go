package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
)

// realConfig is a valid configuration (as internal/config's tests build
// one) at learning rate lr and seed.
func realConfig(lr float64, seed uint64) config.Config {
	return config.Config{
		Dataset: "mnist", Data: config.DataSpec{TrainSize: 100, TestSize: 50, TrainEvalSize: 50},
		ArchName: "m", Arch: nn.ArchSpec{Type: "mlp", Hidden: []int{4}}.Normalize(),
		Optimizer: nn.OptimSpec{Name: "sgd"}.Normalize(), LR: lr, BatchSize: 10, Epochs: 1, LogEvery: 1,
		DivergenceLoss: 1e4, Clip: clipalgo.Spec{Method: "norm", Threshold: 1}.Normalize(), Seed: seed,
	}
}

// realGrid is two learning rates × two seeds of realConfig, without
// setting keys (AddGrid computes them).
func realGrid(name string) (Grid, []config.Config) {
	var cfgs []config.Config
	for _, lr := range []float64{0.1, 0.2} {
		for _, seed := range []uint64{1, 2} {
			cfgs = append(cfgs, realConfig(lr, seed))
		}
	}
	g := Grid{Experiment: name, Hash: config.GridHash(cfgs), Source: []byte("name: " + name)}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, NewRun{Key: c.Key(), ConfigJSON: c.Canonical(), Arch: c.ArchName, Dataset: c.Dataset,
			Optimizer: c.Optimizer.Name, Method: c.Clip.Method, Threshold: c.Clip.Threshold, HasThreshold: true,
			LR: c.LR, BatchSize: c.BatchSize, Epochs: c.Epochs, Seed: c.Seed})
	}
	return g, cfgs
}

// settingKeys reads config_hash → setting_key from run_summary.
func settingKeys(t *testing.T, d *DB) map[string]string {
	t.Helper()
	rows, err := d.r.Query("SELECT config_hash, coalesce(setting_key, 'NULL') FROM run_summary")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, s string
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		out[k] = s
	}
	return out
}

// TestAddGridSettingKey: AddGrid writes config.SettingKey for runs that do
// not bring one, shared by the seeds of a setting and nothing else, and
// refuses a configuration it cannot decode rather than store no key.
func TestAddGridSettingKey(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	g, cfgs := realGrid("e")
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	got := settingKeys(t, d)
	for _, c := range cfgs {
		if got[c.Key()] != c.SettingKey() {
			t.Errorf("%s: setting_key %s, want %s", c.Label(), got[c.Key()], c.SettingKey())
		}
	}
	if cfgs[0].SettingKey() != cfgs[1].SettingKey() || cfgs[0].SettingKey() == cfgs[2].SettingKey() {
		t.Fatal("fixture: seeds must share a setting key, learning rates not")
	}
	bad := testGrid("bad", 1)
	bad.Runs[0].SettingKey = ""
	if _, err := d.AddGrid(ctx, bad, false); err == nil || !strings.Contains(err.Error(), "setting key") {
		t.Errorf("undecodable config without a setting key: err = %v", err)
	}
	if c := counts(t, d, "bad"); c.Total != 0 {
		t.Errorf("the refused grid wrote %d runs", c.Total)
	}
}

// TestMigrationFillsSettingKey: a file of schema version 1 (no setting_key
// column) gains the column, filled from config_json by config.SettingKey,
// and the view shows it; a row whose config_json does not decode keeps
// NULL.
func TestMigrationFillsSettingKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	_, cfgs := realGrid("e")
	stmts := []string{migrations[0],
		// The view as version 1 files hold it (enough of it to be dropped).
		"CREATE VIEW run_summary AS SELECT id AS run_id, experiment FROM runs",
		fmt.Sprintf("PRAGMA user_version = 1; PRAGMA application_id = %d", ApplicationID)}
	for _, c := range cfgs {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO runs (experiment, config_hash, config_json, arch, dataset, optimizer, method, threshold, lr, batch_size, epochs, seed, created_at)
			VALUES ('e', '%s', '%s', 'm', 'mnist', 'sgd', 'norm', 1, %v, 10, 1, %d, 'then')`, c.Key(), c.Canonical(), c.LR, c.Seed))
	}
	stmts = append(stmts, `INSERT INTO runs (experiment, config_hash, config_json, arch, dataset, optimizer, method, threshold, lr, batch_size, epochs, seed, created_at)
		VALUES ('e', 'bogus', '{"seed":9}', 'm', 'mnist', 'sgd', 'norm', 1, 0.1, 10, 1, 9, 'then')`)
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	raw.Close()

	// A reader refuses the old file until a writer has migrated it.
	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !errors.Is(err, ErrOlderSchema) || !strings.Contains(err.Error(), "runner migrate -db") {
		t.Fatalf("read-only open of version 1: %v", err)
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := settingKeys(t, d)
	for _, c := range cfgs {
		if got[c.Key()] != c.SettingKey() {
			t.Errorf("%s: setting_key %s, want %s", c.Label(), got[c.Key()], c.SettingKey())
		}
	}
	if got["bogus"] != "NULL" {
		t.Errorf("undecodable row: setting_key %s, want NULL", got["bogus"])
	}
	// One configuration per setting, the undecodable run left out.
	sc, err := d.SettingConfigs(context.Background(), "e")
	if err != nil || len(sc) != 2 {
		t.Fatalf("SettingConfigs = %d, %v; want 2", len(sc), err)
	}
	for _, s := range sc {
		c, err := config.DecodeConfig(s.ConfigJSON)
		if err != nil || c.SettingKey() != s.SettingKey || c.Seed != 1 {
			t.Errorf("setting %.12s: config seed %d, key %.12s, %v (want the first run's, seed 1)", s.SettingKey, c.Seed, c.SettingKey(), err)
		}
	}
}

// TestMergeKeepsSettingKey: merged runs keep their setting keys.
func TestMergeKeepsSettingKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g, cfgs := realGrid("e")
	a, err := Open(filepath.Join(dir, "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	a.Close()
	out := mustOpen(t)
	if _, err := out.Merge(ctx, filepath.Join(dir, "a.db")); err != nil {
		t.Fatal(err)
	}
	got := settingKeys(t, out)
	for _, c := range cfgs {
		if got[c.Key()] != c.SettingKey() {
			t.Errorf("merged %s: setting_key %s, want %s", c.Label(), got[c.Key()], c.SettingKey())
		}
	}
}
