package db

import (
	"cliplab/internal/record"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// mustOpen opens a fresh database in t.TempDir (WTF Dial's MustOpenDB).
func mustOpen(t testing.TB) *DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "runs.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testGrid(name string, n int) Grid {
	g := Grid{Experiment: name, Hash: fmt.Sprintf("grid-%s-%d", name, n), Source: []byte("name: " + name)}
	for i := 0; i < n; i++ {
		g.Runs = append(g.Runs, NewRun{
			Key: fmt.Sprintf("%064d", i), ConfigJSON: []byte(fmt.Sprintf(`{"seed":%d}`, i)), SettingKey: "setting-" + name,
			Arch: "mlp2", Dataset: "mnist", Optimizer: "sgd", Method: "norm", Threshold: 1, HasThreshold: true,
			LR: 0.1, BatchSize: 64, Epochs: 1, Seed: uint64(i),
		})
	}
	return g
}

func TestAddGridTwiceInsertsNothing(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	g := testGrid("e", 5)
	if n, err := d.AddGrid(ctx, g, false); err != nil || n != 5 {
		t.Fatalf("first AddGrid = %d, %v; want 5, nil", n, err)
	}
	if n, err := d.AddGrid(ctx, g, false); err != nil || n != 0 {
		t.Fatalf("second AddGrid = %d, %v; want 0, nil", n, err)
	}
	// A different grid under the same name is refused, and writes nothing.
	g2 := testGrid("e", 7)
	if _, err := d.AddGrid(ctx, g2, false); !errors.Is(err, ErrGridChanged) {
		t.Fatalf("changed grid: err = %v, want ErrGridChanged", err)
	}
	if c := counts(t, d, "e"); c.Total != 5 {
		t.Fatalf("after refused grid: %d runs, want 5", c.Total)
	}
	// With extend, only the two new configurations are added, and both
	// grids are accepted from then on.
	if n, err := d.AddGrid(ctx, g2, true); err != nil || n != 2 {
		t.Fatalf("extend = %d, %v; want 2, nil", n, err)
	}
	for _, g := range []Grid{g, g2} {
		if n, err := d.AddGrid(ctx, g, false); err != nil || n != 0 {
			t.Fatalf("re-adding %s = %d, %v; want 0, nil", g.Hash, n, err)
		}
	}
}

func counts(t *testing.T, d *DB, exp string) Count {
	t.Helper()
	cs, err := d.Counts(context.Background(), exp)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		return Count{ByStatus: map[record.Status]int{}}
	}
	return cs[0]
}

func TestClaimLifecycle(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	if _, err := d.AddGrid(ctx, testGrid("e", 3), false); err != nil {
		t.Fatal(err)
	}
	o := ClaimOptions{Worker: "w1", StaleAfter: time.Hour}
	seen := map[int64]bool{}
	var claims []*Claim
	for i := 0; i < 3; i++ {
		c, err := d.Claim(ctx, "e", o)
		if err != nil || c == nil {
			t.Fatalf("claim %d: %v, %v", i, c, err)
		}
		if seen[c.ID] || c.Attempt != 1 {
			t.Fatalf("claim %d: id %d attempt %d (seen %v)", i, c.ID, c.Attempt, seen)
		}
		seen[c.ID] = true
		claims = append(claims, c)
	}
	if c, err := d.Claim(ctx, "e", o); err != nil || c != nil {
		t.Fatalf("fourth claim = %v, %v; want nothing", c, err)
	}
	steps := []record.Step{{Step: 1, Loss: 2.3, GradNorm: 1, ClippedNorm: 1, Threshold: math.NaN(), LR: 0.1}, {Step: 2, Loss: 2.0, GradNorm: 3, ClippedNorm: 1, ClipFraction: 1, Threshold: 1, LR: 0.1}}
	if err := d.Append(ctx, claims[0].ID, 1, steps, nil); err != nil {
		t.Fatal(err)
	}
	evals := []record.Eval{{Step: 2, Split: "test", Loss: 1.5, Acc: 0.6}, {Step: 2, Split: "train", Loss: 1.4, Acc: 0.62}}
	if err := d.Finish(ctx, claims[0].ID, 1, nil, evals, record.Result{Status: record.Done, WallSeconds: 1.5, TrainFLOPs: 1e9, Steps: 2}); err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(ctx, claims[1].ID, 1, nil, nil, record.Result{Status: record.Interrupted, Steps: 0}); err != nil {
		t.Fatal(err)
	}
	// A finished run can no longer be written by its attempt.
	if err := d.Append(ctx, claims[0].ID, 1, steps[:1], nil); !errors.Is(err, ErrLostClaim) {
		t.Fatalf("append after finish: %v, want ErrLostClaim", err)
	}
	c := counts(t, d, "e")
	if c.ByStatus[record.Done] != 1 || c.ByStatus[record.Interrupted] != 1 || c.ByStatus[record.Running] != 1 {
		t.Fatalf("counts %v", c.ByStatus)
	}
	// The interrupted run is claimed again, as attempt 2.
	c2, err := d.Claim(ctx, "e", o)
	if err != nil || c2 == nil || c2.ID != claims[1].ID || c2.Attempt != 2 {
		t.Fatalf("reclaim interrupted = %+v, %v", c2, err)
	}

	// run_summary shows the done run's final values.
	var acc, maxNorm, frac, flops float64
	var status string
	var steps64 int
	err = d.r.QueryRow("SELECT status, test_acc, max_grad_norm, clip_fraction, train_flops, steps FROM run_summary WHERE run_id = ?", claims[0].ID).
		Scan(&status, &acc, &maxNorm, &frac, &flops, &steps64)
	if err != nil {
		t.Fatal(err)
	}
	if record.Status(status) != record.Done || acc != 0.6 || maxNorm != 3 || frac != 0.5 || flops != 1e9 || steps64 != 2 {
		t.Fatalf("run_summary = %s %v %v %v %v %v", status, acc, maxNorm, frac, flops, steps64)
	}
}

func TestStaleRunIsReclaimedAndOldAttemptLocked(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	if _, err := d.AddGrid(ctx, testGrid("e", 1), false); err != nil {
		t.Fatal(err)
	}
	c1, err := d.Claim(ctx, "e", ClaimOptions{Worker: "dead", StaleAfter: time.Hour})
	if err != nil || c1 == nil {
		t.Fatal(c1, err)
	}
	if err := d.Append(ctx, c1.ID, c1.Attempt, []record.Step{{Step: 1, Loss: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	// Not stale yet with a one-hour window.
	if c, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w2", StaleAfter: time.Hour}); err != nil || c != nil {
		t.Fatalf("claim of a live run = %v, %v", c, err)
	}
	// Make the heartbeat old, as a killed worker leaves it.
	if _, err := d.w.Exec("UPDATE runs SET heartbeat_at = ?", formatTime(time.Now().Add(-10*time.Minute))); err != nil {
		t.Fatal(err)
	}
	c2, err := d.Claim(ctx, "e", ClaimOptions{Worker: "w2", StaleAfter: time.Minute})
	if err != nil || c2 == nil || c2.ID != c1.ID || c2.Attempt != 2 {
		t.Fatalf("reclaim = %+v, %v", c2, err)
	}
	var n int
	if err := d.r.QueryRow("SELECT count(*) FROM steps WHERE run_id = ?", c1.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("steps of the dead attempt left: %d, %v", n, err)
	}
	// The presumed-dead worker wakes up: its writes are refused.
	if err := d.Append(ctx, c1.ID, c1.Attempt, []record.Step{{Step: 2, Loss: 1}}, nil); !errors.Is(err, ErrLostClaim) {
		t.Fatalf("old attempt's append: %v, want ErrLostClaim", err)
	}
}

func TestRetryFailed(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	if _, err := d.AddGrid(ctx, testGrid("e", 2), false); err != nil {
		t.Fatal(err)
	}
	o := ClaimOptions{Worker: "w"}
	c, _ := d.Claim(ctx, "e", o)
	if err := d.Finish(ctx, c.ID, c.Attempt, nil, nil, record.Result{Status: record.Failed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	c, _ = d.Claim(ctx, "e", o)
	if err := d.Finish(ctx, c.ID, c.Attempt, nil, nil, record.Result{Status: record.Diverged}); err != nil {
		t.Fatal(err)
	}
	if c, err := d.Claim(ctx, "e", o); c != nil || err != nil {
		t.Fatalf("failed run claimed without retry: %v %v", c, err)
	}
	if n, err := d.RetryFailed(ctx, "e"); n != 1 || err != nil {
		t.Fatalf("RetryFailed = %d, %v", n, err)
	}
	if c, err := d.Claim(ctx, "e", o); c == nil || err != nil || c.Attempt != 2 {
		t.Fatalf("claim after retry = %+v, %v", c, err)
	}
}

// viewColumns lists the columns of view, as a list and as a set.
func viewColumns(t *testing.T, d *DB, view string) ([]string, map[string]bool) {
	t.Helper()
	rows, err := d.r.Query("SELECT * FROM " + view + " LIMIT 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	return cols, have
}

func TestRunSummaryColumns(t *testing.T) {
	cols, have := viewColumns(t, mustOpen(t), "run_summary")
	// The columns ../shared/DESIGN.md promises.
	want := []string{"run_id", "experiment", "config_hash", "setting_key", "arch", "dataset", "optimizer", "method", "threshold", "lr",
		"batch_size", "epochs", "seed", "status", "test_acc", "test_loss", "train_loss", "steps", "wall_seconds",
		"train_flops", "clip_fraction", "max_grad_norm",
		"test_acc_tail", "test_loss_tail", "train_acc_tail", "train_loss_tail", "tail_evals",
		"epsilon", "noise_multiplier", "delta", "sampling", "spikes"}
	for _, c := range want {
		if !have[c] {
			t.Errorf("run_summary lacks column %s (has %v)", c, cols)
		}
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := write("notes.txt", []byte("these are my notes, not a database\n"))

	foreign := filepath.Join(dir, "foreign.db")
	fdb, err := sql.Open("sqlite3", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fdb.Exec("CREATE TABLE invoices (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	fdb.Close()

	newer := filepath.Join(dir, "newer.db")
	d, err := Open(newer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	d.Close()

	for _, tc := range []struct {
		name string
		path string
		ro   bool
		want error
	}{
		{"text file", text, false, ErrNotSQLite},
		{"foreign sqlite", foreign, false, ErrForeign},
		{"newer schema", newer, false, ErrNewerSchema},
		{"newer schema read-only", newer, true, ErrNewerSchema},
		{"missing read-only", filepath.Join(dir, "nope.db"), true, ErrMissing},
		{"missing folder", filepath.Join(dir, "no", "such", "runs.db"), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			d, err := Open(tc.path, Options{ReadOnly: tc.ro})
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			after, _ := os.ReadFile(tc.path)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("file changed")
			}
			t.Log(err)
		})
	}
	// Nothing was created in the missing folder either.
	if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
		t.Fatalf("missing folder created: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	d, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddGrid(context.Background(), testGrid("e", 2), false); err != nil {
		t.Fatal(err)
	}
	d.Close()
	ro, err := Open(p, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	names, err := ro.Experiments(context.Background())
	if err != nil || !reflect.DeepEqual(names, []string{"e"}) {
		t.Fatalf("experiments = %v, %v", names, err)
	}
	if _, err := ro.AddGrid(context.Background(), testGrid("f", 1), false); err == nil {
		t.Fatal("write through a read-only handle succeeded")
	}
}

// TestConcurrentOpen: processes (here, handles) opening a new file at the
// same moment take turns: none sees a half-made schema and calls the file
// foreign (seen in TestTwoRunners on a loaded CI machine).
func TestConcurrentOpen(t *testing.T) {
	for round := 0; round < 20; round++ {
		p := filepath.Join(t.TempDir(), "runs.db")
		errs := make(chan error, 4)
		for i := 0; i < 4; i++ {
			go func() {
				d, err := Open(p, Options{})
				if err == nil {
					_, err = d.AddGrid(context.Background(), testGrid(fmt.Sprint("e", i), 3), false)
					d.Close()
				}
				errs <- err
			}()
		}
		for i := 0; i < 4; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
