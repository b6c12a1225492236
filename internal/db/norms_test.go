package db

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"cliplab/internal/record"
)

// TestStepNormsAndSpikes (issue 12, migration 5): a logged step's group
// norms land in step_norms, one row per group, its spike flag in
// steps.spike; run_summary's spikes counts the flags; Merge carries
// both into another database.
func TestStepNormsAndSpikes(t *testing.T) {
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
	norms := func(a, b float64) []record.GroupNorm {
		return []record.GroupNorm{{Group: "embedding", Norm: a}, {Group: "h.0.attention", Norm: b}}
	}
	for k := range 2 {
		cl, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w"})
		if err != nil || cl == nil {
			t.Fatal(cl, err)
		}
		steps := []record.Step{
			{Step: 1, Loss: 2, Norms: norms(1, 2)},
			{Step: 2, Loss: 9, Spike: k == 0, Norms: norms(3, 4)},
			{Step: 3, Loss: 9, Spike: k == 0}, // no norms (a diverging step)
		}
		if err := d.Append(ctx, cl.ID, cl.Attempt, steps[:2], nil); err != nil {
			t.Fatal(err)
		}
		if err := d.Finish(ctx, cl.ID, cl.Attempt, steps[2:], nil, record.Result{Status: record.Done, Steps: 3}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, d *DB) {
		t.Helper()
		rows, err := d.r.Query(`SELECT r.seed, n.step, n.grp, n.norm FROM step_norms n JOIN runs r ON r.id = n.run_id ORDER BY r.seed, n.step, n.grp`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var seed, step int
			var grp string
			var norm float64
			if err := rows.Scan(&seed, &step, &grp, &norm); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmtRow(seed, step, grp, norm))
		}
		want := []string{"1 1 embedding 1", "1 1 h.0.attention 2", "1 2 embedding 3", "1 2 h.0.attention 4",
			"2 1 embedding 1", "2 1 h.0.attention 2", "2 2 embedding 3", "2 2 h.0.attention 4"}
		if len(got) != len(want) {
			t.Fatalf("%s: step_norms %q, want %q", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: step_norms row %d %q, want %q", name, i, got[i], want[i])
			}
		}
		srows, err := d.r.Query("SELECT seed, spikes FROM run_summary ORDER BY seed")
		if err != nil {
			t.Fatal(err)
		}
		defer srows.Close()
		var spikes []sql.NullInt64
		for srows.Next() {
			var seed int
			var n sql.NullInt64
			if err := srows.Scan(&seed, &n); err != nil {
				t.Fatal(err)
			}
			spikes = append(spikes, n)
		}
		if len(spikes) != 2 || spikes[0] != (sql.NullInt64{Int64: 2, Valid: true}) || spikes[1] != (sql.NullInt64{Int64: 0, Valid: true}) {
			t.Errorf("%s: spikes %v, want 2 and 0", name, spikes)
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
}

// legacyFile creates a cliplab database of schema version v (migrations
// 1 … v, run_summary reduced to two columns) and returns its path and a
// raw connection to it, for migration tests to fill and close.
func legacyFile(t *testing.T, v int) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", v))
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(append([]string(nil), migrations[:v]...),
		"CREATE VIEW run_summary AS SELECT r.id AS run_id, r.status FROM runs r",
		fmt.Sprintf("PRAGMA user_version = %d", v), "PRAGMA application_id = 1668049264") {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return path, raw
}

func fmtRow(seed, step int, grp string, norm float64) string {
	return fmt.Sprintf("%d %d %s %v", seed, step, grp, norm)
}

// TestMigrationAddsSpikes: a file of schema version 5 with a logged step
// gains step_norms and steps.spike when opened; the old step's spike is
// NULL, so run_summary's spikes is NULL (not measured), not 0.
func TestMigrationAddsSpikes(t *testing.T) {
	path, raw := legacyFile(t, 5)
	c := tailConfig(3)
	if _, err := raw.Exec(`INSERT INTO runs (id, experiment, config_hash, config_json, arch, dataset, optimizer, method, lr, batch_size, epochs, seed, created_at)
		VALUES (1, 'e', ?, ?, 'm', 'mnist', 'sgd', 'none', 0.3, 64, 10, 3, 'now')`, c.Key(), string(c.Canonical())); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO steps (run_id, step, epoch, loss) VALUES (1, 1, 0, 2.3)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var spikes sql.NullInt64
	var norms int
	if err := d.r.QueryRow("SELECT spikes, (SELECT count(*) FROM step_norms) FROM run_summary").Scan(&spikes, &norms); err != nil {
		t.Fatal(err)
	}
	if spikes.Valid || norms != 0 {
		t.Errorf("after migration: spikes %v, %d step_norms rows; want NULL and 0", spikes, norms)
	}
}
