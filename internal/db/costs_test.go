package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"cliplab/internal/record"
)

// TestCostColumns (issue 16, migration 8): a run's costs land in runs and
// run_summary (nonzero_params, model_bytes, effective_flops), a failed run
// without costs has NULL, Merge carries them, and a file of schema version
// 7 gains the columns, NULL for its runs.
func TestCostColumns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := Open(filepath.Join(dir, "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	g := Grid{Experiment: "e", Hash: "h", Source: []byte("name: e"), Runs: []NewRun{NewRunOf(tailConfig(1)), NewRunOf(tailConfig(2))}}
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	results := []record.Result{
		{Status: record.Done, Steps: 3, NonzeroParams: 1234, ModelBytes: 4321, EffectiveFLOPs: 2468},
		{Status: record.Failed, Error: "boom"},
	}
	for _, res := range results {
		cl, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w"})
		if err != nil || cl == nil {
			t.Fatal(cl, err)
		}
		if err := d.Finish(ctx, cl.ID, cl.Attempt, nil, nil, res); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, d *DB) {
		t.Helper()
		rows, err := d.r.Query("SELECT seed, nonzero_params, model_bytes, effective_flops FROM run_summary ORDER BY seed")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got [][3]any
		for rows.Next() {
			var seed int
			var nz, b sql.NullInt64
			var f sql.NullFloat64
			if err := rows.Scan(&seed, &nz, &b, &f); err != nil {
				t.Fatal(err)
			}
			got = append(got, [3]any{nz, b, f})
		}
		want := [][3]any{
			{sql.NullInt64{Int64: 1234, Valid: true}, sql.NullInt64{Int64: 4321, Valid: true}, sql.NullFloat64{Float64: 2468, Valid: true}},
			{sql.NullInt64{}, sql.NullInt64{}, sql.NullFloat64{}},
		}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: costs %v, want %v", name, got, want)
		}
	}
	check("a.db", d)
	out, err := Open(filepath.Join(dir, "out.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Merge(ctx, filepath.Join(dir, "a.db")); err != nil {
		t.Fatal(err)
	}
	check("merged", out)

	path, raw := legacyFile(t, 7)
	c := tailConfig(3)
	if _, err := raw.Exec(`INSERT INTO runs (id, experiment, config_hash, config_json, arch, dataset, optimizer, method, lr, batch_size, epochs, seed, created_at, status)
		VALUES (1, 'e', ?, ?, 'm', 'mnist', 'sgd', 'none', 0.3, 64, 10, 3, 'now', 'done')`, c.Key(), string(c.Canonical())); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	old, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	var nz, b sql.NullInt64
	var f sql.NullFloat64
	if err := old.r.QueryRow("SELECT nonzero_params, model_bytes, effective_flops FROM run_summary").Scan(&nz, &b, &f); err != nil {
		t.Fatal(err)
	}
	if nz.Valid || b.Valid || f.Valid {
		t.Errorf("a version 7 run after migration: %v %v %v, want NULL", nz, b, f)
	}
}
