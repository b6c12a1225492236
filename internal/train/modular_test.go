package train

import (
	"context"
	"fmt"
	"math"
	"testing"

	"cliplab/internal/data"
	"cliplab/internal/grid"
	"cliplab/internal/record"
)

// modularYAML is a small grid of the modular task: a one-layer transformer,
// full batch, AdamW, two clip settings and two seeds (issue 12).
const modularYAML = `
name: t
dataset: modular
data: {modulus: 11, operation: "+", train_fraction: 0.5}
train: {epochs: 300, batch_size: full, optimizer: {name: adamw, weight_decay: 0.1, beta2: 0.98}, eval_every: 50}
archs:
  gpt: {type: transformer, layers: 1, d_model: 32, heads: 4, context: 4, init: gpt2}
grid:
  arch: [gpt]
  lr: [0.003]
  seed: [1, 2]
  clip: [none, {method: norm, threshold: 1}]
`

// TestTransformerLearnsModular runs a modular grid through Run end to end:
// 61 training equations of a + b mod 11 in one full batch a step, 300
// steps. Every run memorises its training set (train accuracy 1; chance is
// 1/11) and starts near the loss of a uniform guess, ln 11 ≈ 2.40; the
// same configuration run again gives bit-identical metrics.
func TestTransformerLearnsModular(t *testing.T) {
	exp, err := grid.Parse("t.yaml", []byte(modularYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := exp.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 4 {
		t.Fatalf("%d configurations, want 4", len(cfgs))
	}
	for i, c := range cfgs {
		res, r := run(t, context.Background(), c, "")
		if res.Status != record.Done || res.Steps != 300 {
			t.Fatalf("%s: status %s (%s) after %d steps, want done after 300", c.Label(), res.Status, res.Error, res.Steps)
		}
		var test, train record.Eval
		for _, e := range r.evals {
			if e.Step != res.Steps {
				continue
			}
			if e.Split == data.SplitTest {
				test = e
			} else {
				train = e
			}
		}
		t.Logf("%s: first loss %.4f; step %d: train acc %.4f loss %.4g, test acc %.4f loss %.4g",
			c.Label(), r.steps[0].Loss, res.Steps, train.Acc, train.Loss, test.Acc, test.Loss)
		if l := r.steps[0].Loss; math.Abs(l-math.Log(11)) > 0.5 {
			t.Errorf("%s: first loss %.4f, want about ln 11 = 2.40", c.Label(), l)
		}
		if train.Acc < 1 {
			t.Errorf("%s: train accuracy %.4f after %d steps, want 1", c.Label(), train.Acc, res.Steps)
		}
		if i == 0 {
			_, again := run(t, context.Background(), c, "")
			s0, e0 := r.withoutTimes()
			s1, e1 := again.withoutTimes()
			// %v, not reflect.DeepEqual: method none logs NaN thresholds.
			if fmt.Sprintf("%v %v", s0, e0) != fmt.Sprintf("%v %v", s1, e1) {
				t.Errorf("%s: a second run differs", c.Label())
			}
		}
	}
}
