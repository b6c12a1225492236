package db

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

// tailConfig is a configuration of 10 epochs of 10 steps: its tail window
// is the last ⌈0.05·100⌉ = 5 steps, 96 to 100.
func tailConfig(seed uint64) config.Config {
	return config.Config{
		Dataset: "mnist", Data: config.DataSpec{TrainSize: 640, TestSize: 100, TrainEvalSize: 100},
		ArchName: "m", Arch: nn.ArchSpec{Type: "mlp", Hidden: []int{4}}.Normalize(),
		Optimizer: nn.OptimSpec{Name: "sgd"}.Normalize(), LR: 0.3, BatchSize: 64, Epochs: 10, LogEvery: 1,
		DivergenceLoss: 1e4, Clip: clipalgo.Spec{Method: "none"}.Normalize(), Seed: seed,
	}
}

// TestTailMetrics: a run whose last evaluation collapses (0.95 → 0.50, as
// one step at a high learning rate can do: issue 17) keeps test_acc, the
// last evaluation, and gains test_acc_tail, the mean of the evaluations in
// its tail window, which moves by a fifth as much.
func TestTailMetrics(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	c := tailConfig(1)
	if _, from := c.Tail(); from != 96 {
		t.Fatalf("tail from step %d, want 96", from)
	}
	g := Grid{Experiment: "e", Hash: "h", Source: []byte("name: e"), Runs: []NewRun{NewRunOf(c)}}
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	cl, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w"})
	if err != nil || cl == nil {
		t.Fatal(cl, err)
	}
	var evals []record.Eval
	for _, e := range []struct {
		step int
		acc  float64
	}{{50, 0.90}, {95, 0.99}, {96, 0.95}, {97, 0.95}, {98, 0.95}, {99, 0.95}, {100, 0.50}} {
		evals = append(evals, record.Eval{Step: e.step, Split: "test", Acc: e.acc, Loss: 1 - e.acc},
			record.Eval{Step: e.step, Split: "train", Acc: e.acc + 0.01, Loss: 1})
	}
	if err := d.Finish(ctx, cl.ID, cl.Attempt, nil, evals, record.Result{Status: record.Done, Steps: 100}); err != nil {
		t.Fatal(err)
	}
	var last, tail, trainTail float64
	var n int
	if err := d.r.QueryRow("SELECT test_acc, test_acc_tail, train_acc_tail, tail_evals FROM run_summary").Scan(&last, &tail, &trainTail, &n); err != nil {
		t.Fatal(err)
	}
	if last != 0.5 || n != 5 || math.Abs(tail-0.86) > 1e-12 || math.Abs(trainTail-0.87) > 1e-12 {
		t.Errorf("test_acc %v, test_acc_tail %v over %d evaluations, train_acc_tail %v; want 0.5, 0.86 over 5, 0.87", last, tail, n, trainTail)
	}
	// RunSummaries, the report's reader, carries the same tail values
	// (test loss 1 − acc: mean 0.14).
	rs, err := d.RunSummaries(ctx, "e")
	if err != nil || len(rs) != 1 {
		t.Fatal(rs, err)
	}
	r := rs[0]
	if r.TestAcc != 0.5 || r.TailEvals != 5 || math.Abs(r.TestAccTail-0.86) > 1e-12 || math.Abs(r.TrainAccTail-0.87) > 1e-12 ||
		math.Abs(r.TestLossTail-0.14) > 1e-12 || r.TrainLossTail != 1 {
		t.Errorf("RunSummaries: %+v", r)
	}
}

// TestMigrateBackfillsTail: a file of schema version 1 (before the tail
// metrics) is migrated by Open: tail_from_step is computed from each run's
// configuration and run_summary gains the tail columns.
func TestMigrateBackfillsTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	c := tailConfig(7)
	for _, q := range []string{
		migrations[0],
		// run_summary as version 1 defined it (its first columns suffice).
		"CREATE VIEW run_summary AS SELECT r.id AS run_id, r.status FROM runs r",
		"PRAGMA user_version = 1",
		"PRAGMA application_id = 1668049264",
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO runs (experiment, config_hash, config_json, arch, dataset, optimizer, method, lr, batch_size, epochs, seed, created_at)
		VALUES ('e', ?, ?, 'm', 'mnist', 'sgd', 'none', 0.3, 64, 10, 7, 'now'), ('e', 'bad', '{}', 'm', 'mnist', 'sgd', 'none', 0.3, 64, 10, 8, 'now')`,
		c.Key(), string(c.Canonical())); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if ApplicationID != 1668049264 {
		t.Fatalf("ApplicationID %d changed: update this test's version-1 file", ApplicationID)
	}
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.r.Query("SELECT r.config_hash, r.tail_from_step, s.test_acc_tail FROM runs r JOIN run_summary s ON s.run_id = r.id ORDER BY r.id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []sql.NullInt64
	for rows.Next() {
		var key string
		var from sql.NullInt64
		var tail sql.NullFloat64
		if err := rows.Scan(&key, &from, &tail); err != nil {
			t.Fatal(err)
		}
		got = append(got, from)
	}
	if len(got) != 2 || got[0].Int64 != 96 || !got[0].Valid || got[1].Valid {
		t.Errorf("tail_from_step after migration %v, want 96 and NULL (unreadable configuration)", got)
	}
}
