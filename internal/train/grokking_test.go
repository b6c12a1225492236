package train

import (
	"context"
	"testing"

	"cliplab/internal/data"
	"cliplab/internal/grid"
	"cliplab/internal/record"
)

// TestGrokkingCI runs experiments/grokking-ci.yaml, the small cousin of
// grokking.yaml, end to end: 300 full-batch steps of a + b mod 23 for each
// of none, norm 1, zclip and adagc. Every run ends done; each memorises
// (train accuracy at least 0.75 on the 264 training pairs; run on
// 2026-12-05: 0.98, 0.96, 0.97, 0.81) and is still far from it on the test
// pairs (test accuracy below train accuracy − 0.5; seen 0.13–0.20, chance
// 1/23 ≈ 0.04), the pre-grokking phase grokking.yaml starts from; every
// logged step carries the six group norms of a one-layer transformer.
func TestGrokkingCI(t *testing.T) {
	_, cfgs, err := grid.Load("../../experiments/grokking-ci.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 4 {
		t.Fatalf("%d configurations, want 4", len(cfgs))
	}
	for _, c := range cfgs {
		res, r := run(t, context.Background(), c, "")
		if res.Status != record.Done || res.Steps != 300 {
			t.Fatalf("%s: status %s (%s) after %d steps, want done after 300", c.Label(), res.Status, res.Error, res.Steps)
		}
		var test, train float64
		for _, e := range r.evals {
			if e.Step == res.Steps && e.Split == data.SplitTest {
				test = e.Acc
			} else if e.Step == res.Steps {
				train = e.Acc
			}
		}
		t.Logf("%s: train acc %.4f, test acc %.4f", c.Label(), train, test)
		if train < 0.75 || test > train-0.5 {
			t.Errorf("%s: train acc %.4f, test acc %.4f; want train ≥ 0.75 and test < train − 0.5", c.Label(), train, test)
		}
		if len(r.steps) != 60 {
			t.Fatalf("%s: %d logged steps, want 60", c.Label(), len(r.steps))
		}
		for _, s := range r.steps {
			if len(s.Norms) != 6 {
				t.Fatalf("%s: step %d has %d group norms, want 6", c.Label(), s.Step, len(s.Norms))
			}
		}
	}
}
