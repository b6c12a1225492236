package db

import (
	"cliplab/internal/record"

	"context"
	"errors"
	"path/filepath"
	"testing"
)

// finishAll claims every run of exp in d and ends it with status(i), writing
// a step and an eval per run.
func finishAll(t *testing.T, d *DB, exp string, status func(key string) record.Status) {
	t.Helper()
	ctx := context.Background()
	for {
		c, err := d.Claim(ctx, exp, ClaimOptions{Worker: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return
		}
		s := status(c.Key)
		if s == record.Running {
			continue // leave it held
		}
		steps := []record.Step{{Step: 1, Loss: 1, GradNorm: 2}}
		evals := []record.Eval{{Step: 1, Split: "test", Acc: 0.5}}
		if err := d.Finish(ctx, c.ID, c.Attempt, steps, evals, record.Result{Status: s, Steps: 1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g := testGrid("e", 4)
	open := func(name string) *DB {
		d, err := Open(filepath.Join(dir, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	// Shard a holds runs 0 and 1 (1 failed), shard b holds 1 (done), 2 and 3
	// (3 still running, as a killed shard leaves it).
	a, b := open("a.db"), open("b.db")
	ga, gb := g, g
	ga.Runs, gb.Runs = g.Runs[:2], g.Runs[1:]
	if _, err := a.AddGrid(ctx, ga, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddGrid(ctx, gb, false); err != nil {
		t.Fatal(err)
	}
	finishAll(t, a, "e", func(k string) record.Status {
		if k == g.Runs[1].Key {
			return record.Failed
		}
		return record.Done
	})
	finishAll(t, b, "e", func(k string) record.Status {
		if k == g.Runs[3].Key {
			return record.Running
		}
		return record.Done
	})
	out := open("out.db")
	for i, step := range []struct {
		path string
		want MergeStats
	}{
		{"a.db", MergeStats{Added: 2}},
		{"b.db", MergeStats{Added: 2, Replaced: 1}},
		{"a.db", MergeStats{Kept: 2}}, // again: nothing changes
		{"b.db", MergeStats{Kept: 3}},
	} {
		st, err := out.Merge(ctx, filepath.Join(dir, step.path))
		if err != nil {
			t.Fatalf("merge %d (%s): %v", i, step.path, err)
		}
		if st != step.want {
			t.Fatalf("merge %d (%s) = %+v, want %+v", i, step.path, st, step.want)
		}
	}
	c := counts(t, out, "e")
	if c.Total != 4 || c.ByStatus[record.Done] != 3 || c.ByStatus[record.Interrupted] != 1 {
		t.Fatalf("merged counts %v", c.ByStatus)
	}
	var steps, evals int
	if err := out.r.QueryRow("SELECT count(*) FROM steps").Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if err := out.r.QueryRow("SELECT count(*) FROM evals").Scan(&evals); err != nil {
		t.Fatal(err)
	}
	if steps != 3 || evals != 3 {
		t.Fatalf("merged %d steps, %d evals; want 3 and 3 (one per finished run, none of the failed attempt)", steps, evals)
	}
	// The interrupted run can be finished from the merged file.
	cl, err := out.Claim(ctx, "e", ClaimOptions{Worker: "w"})
	if err != nil || cl == nil || cl.Key != g.Runs[3].Key {
		t.Fatalf("claim in merged = %+v, %v", cl, err)
	}

	// A shard of another grid under the same name is refused, and nothing
	// of it is written.
	other := open("other.db")
	if _, err := other.AddGrid(ctx, testGrid("e", 6), false); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Merge(ctx, filepath.Join(dir, "other.db")); !errors.Is(err, ErrGridChanged) {
		t.Fatalf("merge of another grid: %v, want ErrGridChanged", err)
	}
	if c := counts(t, out, "e"); c.Total != 4 {
		t.Fatalf("after refused merge: %d runs", c.Total)
	}
	// A file that is not a database is refused.
	if _, err := out.Merge(ctx, filepath.Join(dir, "nope.db")); !errors.Is(err, ErrMissing) {
		t.Fatalf("merge of a missing shard: %v", err)
	}
}
