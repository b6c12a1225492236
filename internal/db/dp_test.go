package db

import (
	"context"
	"database/sql"
	"math"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/record"
)

// dpConfig is tailConfig trained with dp_flat at σ = 1.1, or at the σ
// solved for ε = 2 when target is set.
func dpConfig(seed uint64, target bool) config.Config {
	c := tailConfig(seed)
	c.Clip = clipalgo.Spec{Method: "dp_flat", Threshold: 1}.Normalize()
	c.DP = &config.DPSpec{NoiseMultiplier: 1.1, Delta: 1e-5, Sampling: config.Poisson}
	if target {
		c.DP.NoiseMultiplier, c.DP.TargetEpsilon = 0, 2
	}
	return c
}

// TestDPColumns: a DP run stores σ (given, or solved for its target ε), δ
// and the sampling when added, ε at each evaluation and at the end; a run
// without DP keeps NULL in all of them whatever its Result and evals say.
func TestDPColumns(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	cfgs := []config.Config{dpConfig(1, false), dpConfig(2, true), tailConfig(3)}
	var runs []NewRun
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, NewRunOf(c))
	}
	solved, err := cfgs[1].NoiseMultiplier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddGrid(ctx, Grid{Experiment: "e", Hash: "h", Source: []byte("name: e"), Runs: runs}, false); err != nil {
		t.Fatal(err)
	}
	for range cfgs {
		cl, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w"})
		if err != nil || cl == nil {
			t.Fatal(cl, err)
		}
		evals := []record.Eval{{Step: 50, Split: "test", Acc: 0.5, Epsilon: 0.7}, {Step: 100, Split: "test", Acc: 0.6, Epsilon: 1.5}}
		if err := d.Finish(ctx, cl.ID, cl.Attempt, nil, evals, record.Result{Status: record.Done, Steps: 100, Epsilon: 1.5}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := d.r.Query(`SELECT s.seed, s.epsilon, s.noise_multiplier, s.delta, s.sampling,
		(SELECT group_concat(e.epsilon) FROM evals e WHERE e.run_id = s.run_id)
		FROM run_summary s ORDER BY s.seed`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		seed              int
		eps, sigma, delta sql.NullFloat64
		sampling, evals   sql.NullString
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seed, &r.eps, &r.sigma, &r.delta, &r.sampling, &r.evals); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows", len(got))
	}
	for i, r := range got[:2] {
		sigma := []float64{1.1, solved}[i]
		if r.eps.Float64 != 1.5 || r.sigma.Float64 != sigma || r.delta.Float64 != 1e-5 || r.sampling.String != "poisson" || r.evals.String != "0.7,1.5" {
			t.Errorf("seed %d: %+v, want ε 1.5, σ %v, δ 1e-5, poisson, evals 0.7,1.5", r.seed, r, sigma)
		}
	}
	if r := got[2]; r.eps.Valid || r.sigma.Valid || r.delta.Valid || r.sampling.Valid || r.evals.Valid {
		t.Errorf("run without DP: %+v, want NULLs", r)
	}
	if solved <= 0 || math.IsInf(solved, 0) {
		t.Errorf("solved σ %v", solved)
	}
}

// TestMigrationFillsDP: a file of schema version 3 holding a DP run's
// configuration gains σ, δ and the sampling from it when opened.
func TestMigrationFillsDP(t *testing.T) {
	path, raw := legacyFile(t, 3)
	c := dpConfig(5, false)
	if _, err := raw.Exec(`INSERT INTO runs (experiment, config_hash, config_json, arch, dataset, optimizer, method, lr, batch_size, epochs, seed, created_at)
		VALUES ('e', ?, ?, 'm', 'mnist', 'sgd', 'dp_flat', 0.3, 64, 10, 5, 'now')`, c.Key(), string(c.Canonical())); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var sigma, delta float64
	var sampling string
	var eps sql.NullFloat64
	if err := d.r.QueryRow("SELECT noise_multiplier, delta, sampling, epsilon FROM run_summary").Scan(&sigma, &delta, &sampling, &eps); err != nil {
		t.Fatal(err)
	}
	if sigma != 1.1 || delta != 1e-5 || sampling != "poisson" || eps.Valid {
		t.Errorf("after migration: σ %v δ %v %s ε %v", sigma, delta, sampling, eps)
	}
}
