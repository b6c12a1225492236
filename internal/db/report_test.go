package db

import (
	"cliplab/internal/record"

	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// reportFixture fills a database with three runs of experiment "e": run 1
// done (steps 1..10, loss = step, grad norm = 2·step, clipped on even steps,
// evaluations at steps 5 and 10), run 2 diverged at step 4 (loss +Inf, grad
// norm NaN at step 4), run 3 pending; and one run of experiment "other" that
// must never show up.
func reportFixture(t *testing.T) (*DB, [3]int64) {
	t.Helper()
	d := mustOpen(t)
	ctx := context.Background()
	g := testGrid("e", 3)
	if _, err := d.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddGrid(ctx, testGrid("other", 1), false); err != nil {
		t.Fatal(err)
	}
	o := ClaimOptions{Worker: "w", StaleAfter: time.Hour}
	c1, err := d.Claim(ctx, "e", o)
	if err != nil {
		t.Fatal(err)
	}
	var steps []record.Step
	for i := 1; i <= 10; i++ {
		frac := 0.0
		if i%2 == 0 {
			frac = 1
		}
		steps = append(steps, record.Step{Step: i, Loss: float64(i), GradNorm: 2 * float64(i), ClippedNorm: 1, ClipFraction: frac, Threshold: 1, LR: 0.1, ElapsedS: float64(i) / 10})
	}
	evals := []record.Eval{
		{Step: 5, Split: "test", Acc: 0.5, Loss: 1.5, ElapsedS: 0.55},
		{Step: 5, Split: "train", Acc: 0.6, Loss: 1.2, ElapsedS: 0.56},
		{Step: 10, Split: "test", Acc: 0.8, Loss: 0.7, ElapsedS: 1.05},
		{Step: 10, Split: "train", Acc: 0.9, Loss: 0.4, ElapsedS: 1.06},
	}
	if err := d.Finish(ctx, c1.ID, c1.Attempt, steps, evals, record.Result{Status: record.Done, WallSeconds: 1.1, TrainFLOPs: 5e6, Steps: 10}); err != nil {
		t.Fatal(err)
	}
	c2, err := d.Claim(ctx, "e", o)
	if err != nil {
		t.Fatal(err)
	}
	div := []record.Step{
		{Step: 1, Loss: 2, GradNorm: 1, Threshold: 1},
		{Step: 2, Loss: 4, GradNorm: 10, Threshold: 1},
		{Step: 3, Loss: 8, GradNorm: 100, Threshold: 1},
		{Step: 4, Loss: math.Inf(1), GradNorm: math.NaN(), Threshold: 1},
	}
	if err := d.Finish(ctx, c2.ID, c2.Attempt, div, nil, record.Result{Status: record.Diverged, WallSeconds: 0.4, TrainFLOPs: 2e6, Steps: 4}); err != nil {
		t.Fatal(err)
	}
	runs, err := d.RunSummaries(ctx, "e")
	if err != nil || len(runs) != 3 {
		t.Fatalf("RunSummaries: %d runs, %v", len(runs), err)
	}
	return d, [3]int64{c1.ID, c2.ID, runs[2].ID}
}

func TestRunSummaries(t *testing.T) {
	d, ids := reportFixture(t)
	runs, err := d.RunSummaries(context.Background(), "e")
	if err != nil {
		t.Fatal(err)
	}
	old, err := d.ReportRuns(context.Background(), "e")
	if err != nil || len(old) != len(runs) {
		t.Fatalf("ReportRuns: %d runs, %v", len(old), err)
	}
	nan := math.NaN()
	// Expected values follow from reportFixture's comment: clip fraction
	// 5 clipped of 10 steps; max grad norm 2·10.
	want := []RunSummary{
		{ID: ids[0], Status: record.Done, WallSeconds: 1.1, TrainFLOPs: 5e6, Steps: 10, TestAcc: 0.8, TestLoss: 0.7, TrainAcc: 0.9, TrainLoss: 0.4, ClipFraction: 0.5, MaxGradNorm: 20},
		{ID: ids[1], Status: record.Diverged, WallSeconds: 0.4, TrainFLOPs: 2e6, Steps: 4, TestAcc: nan, TestLoss: nan, TrainAcc: nan, TrainLoss: nan, ClipFraction: 0, MaxGradNorm: 100},
		{ID: ids[2], Status: record.Pending, WallSeconds: nan, TrainFLOPs: nan, TestAcc: nan, TestLoss: nan, TrainAcc: nan, TrainLoss: nan, ClipFraction: nan, MaxGradNorm: nan},
	}
	lastStep := []int{10, 4, 0}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for i, w := range want {
		r := runs[i]
		if r.ID != w.ID || r.Status != w.Status || r.Steps != w.Steps ||
			!same(r.WallSeconds, w.WallSeconds) || !same(r.TrainFLOPs, w.TrainFLOPs) ||
			!same(r.TestAcc, w.TestAcc) || !same(r.TestLoss, w.TestLoss) || !same(r.TrainAcc, w.TrainAcc) || !same(r.TrainLoss, w.TrainLoss) ||
			!same(r.ClipFraction, w.ClipFraction) || !same(r.MaxGradNorm, w.MaxGradNorm) {
			t.Errorf("run %d:\n got %+v\nwant %+v", i, r, w)
		}
		if r.Experiment != "e" || r.ConfigHash != fmt.Sprintf("%064d", i) || r.SettingKey != "setting-e" ||
			r.Arch != "mlp2" || r.Method != "norm" || r.Threshold != 1 || r.LR != 0.1 || r.Seed != int64(i) {
			t.Errorf("run %d: columns %+v", i, r)
		}
		// ReportRuns (deprecated) reads the same rows, with config_json
		// and the last logged step.
		o := old[i]
		if o.ID != r.ID || o.Status != r.Status || !same(o.ClipFraction, r.ClipFraction) || o.ConfigJSON != fmt.Sprintf(`{"seed":%d}`, i) || o.LastStep != lastStep[i] {
			t.Errorf("ReportRuns run %d = %+v, want %+v with last step %d", i, o, r, lastStep[i])
		}
	}
}

func TestReportEvals(t *testing.T) {
	d, ids := reportFixture(t)
	evals, err := d.ReportEvals(context.Background(), "e")
	if err != nil {
		t.Fatal(err)
	}
	// Ordered by run, split (test < train), step.
	want := []EvalPoint{
		{ids[0], 5, "test", 0.5, 1.5, 0.55},
		{ids[0], 10, "test", 0.8, 0.7, 1.05},
		{ids[0], 5, "train", 0.6, 1.2, 0.56},
		{ids[0], 10, "train", 0.9, 0.4, 1.06},
	}
	if len(evals) != len(want) {
		t.Fatalf("got %d evals, want %d: %+v", len(evals), len(want), evals)
	}
	for i := range want {
		if evals[i] != want[i] {
			t.Errorf("eval %d = %+v, want %+v", i, evals[i], want[i])
		}
	}
}

func TestReportCurves(t *testing.T) {
	d, ids := reportFixture(t)
	tests := []struct {
		bins int
		want []CurvePoint
	}{
		// The three runs share one configuration but for the seed, so the
		// width comes from the longest, run 1 (10 steps in 3 bins: width
		// ceil(10/3) = 4, buckets 1–4, 5–8, 9–10; loss means 2.5, 6.5, 9.5;
		// grad norms twice that; even steps clipped: 2 of 4, 2 of 4, 1 of 2).
		// Run 2 diverged at step 4: one bucket 1–4 whose non-finite step 4 is
		// left out of the means: loss (2+4+8)/3, norm (1+10+100)/3.
		{3, []CurvePoint{
			{ids[0], 0, 4, 2.5, 5, 0.5, 0, nil},
			{ids[0], 1, 8, 6.5, 13, 0.5, 0, nil},
			{ids[0], 2, 10, 9.5, 19, 0.5, 0, nil},
			{ids[1], 0, 4, 14.0 / 3, 37, 0, 1, nil},
		}},
		// More bins than steps: one bucket per step.
		{1000, nil},
	}
	for _, tt := range tests {
		got, err := d.ReportCurves(context.Background(), "e", tt.bins)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want == nil {
			if len(got) != 14 {
				t.Errorf("bins %d: %d points, want 10 + 4", tt.bins, len(got))
			}
			last := got[len(got)-1]
			if last.RunID != ids[1] || last.Step != 4 || !math.IsNaN(last.Loss) || !math.IsNaN(last.GradNorm) || last.NonFinite != 1 {
				t.Errorf("bins %d: last point %+v, want step 4 with NaN loss and norm", tt.bins, last)
			}
			continue
		}
		if len(got) != len(tt.want) {
			t.Fatalf("bins %d: got %+v", tt.bins, got)
		}
		for i, w := range tt.want {
			g := got[i]
			if g.RunID != w.RunID || g.Bucket != w.Bucket || g.Step != w.Step || g.NonFinite != w.NonFinite ||
				math.Abs(g.Loss-w.Loss) > 1e-12 || math.Abs(g.GradNorm-w.GradNorm) > 1e-12 || math.Abs(g.ClipFraction-w.ClipFraction) > 1e-12 {
				t.Errorf("bins %d point %d = %+v, want %+v", tt.bins, i, g, w)
			}
		}
	}
}

// ReportCurves carries each bucket's spike steps (steps.spike = 1) with
// their losses, by step; a bucket or run without any, or with the flag
// NULL (steps logged before it existed), has none.
func TestReportCurvesSpikes(t *testing.T) {
	d, ids := reportFixture(t)
	if _, err := d.w.Exec("UPDATE steps SET spike = CASE WHEN step IN (7, 6) THEN 1 WHEN step = 2 THEN NULL ELSE 0 END WHERE run_id = ?", ids[0]); err != nil {
		t.Fatal(err)
	}
	got, err := d.ReportCurves(context.Background(), "e", 3)
	if err != nil {
		t.Fatal(err)
	}
	spikes := map[[2]int64][]Spike{}
	for _, p := range got {
		if p.Spikes != nil {
			spikes[[2]int64{p.RunID, int64(p.Bucket)}] = p.Spikes
		}
	}
	// Run 1's loss is its step (bucket 5–8 has mean 6.5).
	want := []Spike{{6, 6}, {7, 7}}
	if len(spikes) != 1 || !slices.Equal(spikes[[2]int64{ids[0], 1}], want) {
		t.Errorf("spikes by run and bucket %v, want run %d bucket 1: %v", spikes, ids[0], want)
	}
}
