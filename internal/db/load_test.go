package db

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cliplab/internal/record"
)

// TestLoad: Load writes finished runs as Claim and Finish would; an unknown
// key writes nothing.
func TestLoad(t *testing.T) {
	d := mustOpen(t)
	ctx := context.Background()
	if _, err := d.AddGrid(ctx, testGrid("e", 3), false); err != nil {
		t.Fatal(err)
	}
	run := func(i int) Finished {
		f := Finished{Key: fmt.Sprintf("%064d", i), Result: record.Result{Status: record.Done, WallSeconds: 2, TrainFLOPs: 1e6, Steps: 4}}
		for s := 1; s <= 4; s++ {
			f.Steps = append(f.Steps, record.Step{Step: s, Loss: 1, GradNorm: float64(s), ClipFraction: 0.5, LR: 0.1})
		}
		f.Evals = []record.Eval{{Step: 4, Split: "test", Acc: 0.5 + 0.1*float64(i)}}
		if i == 2 {
			f.Result = record.Result{Status: record.Diverged, Error: "loss inf", Steps: 4}
		}
		return f
	}
	bad := func(i int) Finished {
		f := run(i)
		if i == 1 {
			f.Key = strings.Repeat("f", 64)
		}
		return f
	}
	if err := d.Load(ctx, "e", 3, bad); err == nil || !strings.Contains(err.Error(), "no pending run ffffffffffff in e") {
		t.Fatalf("unknown key: %v", err)
	}
	if rs, _ := d.RunSummaries(ctx, "e"); rs[0].Status != record.Pending {
		t.Fatalf("a failed Load wrote run 0: %s", rs[0].Status)
	}
	if err := d.Load(ctx, "e", 3, run); err != nil {
		t.Fatal(err)
	}
	rs, err := d.RunSummaries(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []record.Status{record.Done, record.Done, record.Diverged} {
		r := rs[i]
		if r.Status != want || r.Steps != 4 || r.MaxGradNorm != 4 || r.ClipFraction != 0.5 || r.TestAcc != 0.5+0.1*float64(i) {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	if rs[2].Error != "loss inf" {
		t.Errorf("error %q", rs[2].Error)
	}
	if err := d.Load(ctx, "e", 1, run); err == nil {
		t.Errorf("a run loaded twice")
	}
}
