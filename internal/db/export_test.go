package db

import (
	"context"
	"math"
	"reflect"
	"slices"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

// TestExportColumns: Export flattens each run's configuration into columns
// named by their JSON path, with the zero values the canonical JSON leaves
// out (drop_last false, weight_decay 0, exclude_last false) where another
// run of the table has the field, the clip options of each method with
// their defaults, tail_fraction and spike_z resolved, and the run_summary
// columns first (spikes among them).
func TestExportColumns(t *testing.T) {
	ctx := context.Background()
	d := mustOpen(t)
	base := realConfig(0.1, 1)
	dropLast := base
	dropLast.DropLast = true
	decay := base
	decay.Optimizer = nn.OptimSpec{Name: "sgd", WeightDecay: 0.01}.Normalize()
	none := base
	none.Clip = clipalgo.Spec{Method: "none"}.Normalize()
	agc := base
	agc.Clip = clipalgo.Spec{Method: "agc", Threshold: 0.02}.With("exclude_last", true).Normalize()
	cfgs := []config.Config{base, dropLast, decay, none, agc}
	g := Grid{Experiment: "x", Hash: config.GridHash(cfgs), Source: []byte("name: x")}
	for _, c := range cfgs {
		g.Runs = append(g.Runs, NewRunOf(c))
	}
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	// The first run ends done with one evaluation; the rest stay pending.
	c, err := d.Claim(ctx, "x", ClaimOptions{Worker: "w", BLASCore: "SkylakeX"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(ctx, c.ID, c.Attempt, []record.Step{{Step: 10, Loss: 1, GradNorm: math.Inf(1)}},
		[]record.Eval{{Step: 10, Split: "test", Acc: 0.75, Loss: 0.5}}, record.Result{Status: record.Done, Steps: 10}); err != nil {
		t.Fatal(err)
	}
	tab, err := d.Export(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != len(cfgs) {
		t.Fatalf("%d rows, want %d", len(tab.Rows), len(cfgs))
	}
	col := map[string]int{}
	for i, c := range tab.Columns {
		col[c] = i
	}
	if !slices.Equal(tab.Columns[:3], []string{"run_id", "experiment", "config_hash"}) {
		t.Errorf("columns start %q, want run_summary's", tab.Columns[:3])
	}
	for _, c := range []string{"arch_spec.kernel", "optimizer.momentum"} {
		if _, ok := col[c]; ok {
			t.Errorf("column %s: no run has it, yet it is there", c)
		}
	}
	for _, c := range []string{"lr", "seed", "arch"} {
		n := 0
		for _, x := range tab.Columns {
			if x == c {
				n++
			}
		}
		if n != 1 {
			t.Errorf("column %s appears %d times, want once (run_summary's)", c, n)
		}
	}
	want := []map[string]any{
		{"drop_last": false, "optimizer.weight_decay": 0.0, "clip.method": "norm", "clip.threshold": 1.0, "clip.exclude_last": nil,
			"tail_fraction": config.DefaultTailFraction, "arch_spec.hidden": []any{int64(4)}, "data.train_size": int64(100),
			"test_acc": 0.75, "max_grad_norm": math.Inf(1), "blas_core": "SkylakeX", "status": "done",
			"spike_z": config.DefaultSpikeZ, "spikes": int64(0)},
		{"drop_last": true, "optimizer.weight_decay": 0.0, "status": "pending", "test_acc": nil, "blas_core": nil, "spikes": nil},
		{"drop_last": false, "optimizer.weight_decay": 0.01},
		{"clip.method": "none", "clip.threshold": nil, "clip.norm_type": nil},
		{"clip.method": "agc", "clip.threshold": 0.02, "clip.exclude_last": true, "clip.eps": 0.001, "clip.norm_type": nil},
	}
	for i, w := range want {
		for c, v := range w {
			j, ok := col[c]
			if !ok {
				t.Errorf("no column %s in %q", c, tab.Columns)
				continue
			}
			if got := tab.Rows[i][j]; !reflect.DeepEqual(got, v) {
				t.Errorf("row %d (%s): %s = %#v, want %#v", i+1, cfgs[i].Label(), c, got, v)
			}
		}
	}
	// Every experiment when none is named; none for an unknown name.
	if tab, err := d.Export(ctx, ""); err != nil || len(tab.Rows) != len(cfgs) {
		t.Errorf("Export of every experiment: %v, %v", tab, err)
	}
	if tab, err := d.Export(ctx, "nope"); err != nil || len(tab.Rows) != 0 {
		t.Errorf("Export of an unknown experiment: %v, %v; want no rows", tab, err)
	}
}

// TestDivergedSummary pins the rule README's "The database" states for a
// diverged run in run_summary: test_acc is its last evaluation before it
// diverged (NULL without one), its tail metrics NULL when no evaluation
// fell in the tail window; never a stand-in value (the report's chance
// level is the report's).
func TestDivergedSummary(t *testing.T) {
	ctx := context.Background()
	d := mustOpen(t)
	g, cfgs := realGrid("x") // 10 steps; the tail window is step 10
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	for i, evals := range [][]record.Eval{{{Step: 5, Split: "test", Acc: 0.6, Loss: 1.2}}, nil} {
		c, err := d.Claim(ctx, "x", ClaimOptions{Worker: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Finish(ctx, c.ID, c.Attempt, []record.Step{{Step: 7, Loss: math.NaN()}}, evals,
			record.Result{Status: record.Diverged, Steps: 7, Error: "non-finite loss"}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	sums, err := d.RunSummaries(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	for i, want := range [][3]float64{{0.6, 1.2, nan}, {nan, nan, nan}} {
		s := sums[i]
		got := [3]float64{s.TestAcc, s.TestLoss, s.TestAccTail}
		for j := range got {
			if !(got[j] == want[j] || math.IsNaN(got[j]) && math.IsNaN(want[j])) {
				t.Errorf("diverged run %d (%s): test_acc, test_loss, test_acc_tail = %v, want %v", i+1, cfgs[i].Label(), got, want)
				break
			}
		}
		if s.Status != record.Diverged {
			t.Errorf("run %d: status %s", i+1, s.Status)
		}
	}
}
