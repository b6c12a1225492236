package train

import (
	"context"
	"math"
	"strings"
	"testing"

	"cliplab/internal/record"
)

// TestSpikeRule: no spike in the 25 warm-up losses, however large; after
// them, on losses alternating 1 and 3 (mean 2, sd 1), 4.4 is not a spike
// at spike_z 2.5 and 4.6 is, NaN and +Inf are neither nor do they move the
// EMA, and a spike enters the EMA as its threshold (4.5, not 4.6).
func TestSpikeRule(t *testing.T) {
	s := newSpikes(2.5)
	for i := range spikeWarmup {
		l := 1.0
		if i%2 == 1 {
			l = 3
		}
		if i == 3 {
			l = 100
		}
		if s.observe(l) {
			t.Fatalf("warm-up loss %d (%v) counted as a spike", i, l)
		}
	}
	// Replace the warm-up statistics with the ones the steps below assume.
	s.mean, s.vari = 2, 1
	if s.observe(math.NaN()) || s.observe(math.Inf(1)) {
		t.Error("a non-finite loss counted as a spike")
	}
	if s.mean != 2 || s.vari != 1 {
		t.Errorf("non-finite losses moved the EMA to mean %v var %v", s.mean, s.vari)
	}
	if s.observe(4.4) {
		t.Error("4.4 counted as a spike (threshold 2 + 2.5·1 = 4.5)")
	}
	s.mean, s.vari = 2, 1
	if !s.observe(4.6) {
		t.Error("4.6 not counted as a spike (threshold 4.5)")
	}
	// The EMA took 4.5: mean 0.97·2 + 0.03·4.5 = 2.075, var 0.97·1 + 0.03·(4.5 − 2.075)².
	if wm, wv := 0.97*2+0.03*4.5, 0.97+0.03*(4.5-2.075)*(4.5-2.075); math.Abs(s.mean-wm) > 1e-12 || math.Abs(s.vari-wv) > 1e-12 {
		t.Errorf("EMA after a spike: mean %v var %v, want %v %v", s.mean, s.vari, wm, wv)
	}
	// Threshold now 2.075 + 2.5·√1.1464 = 4.752.
	if !s.observe(4.8) {
		t.Error("after the spike, 4.8 not counted as a spike (threshold 4.752)")
	}
}

// TestStepNorms trains a 2-layer transformer on the modular task with norm
// clipping at 0.5 and log_every 3: every logged step carries the gradient
// norm of each group (nn.NormGroups), measured before clipping, so their
// squares add up to the step's grad_norm squared (float32 gradients summed
// in float64 in a different order: 1e-6 relative), steps between logs carry
// none, and a run whose loss never jumps has no spikes. It also runs the
// same configuration with a learning rate of 1 and checks that the spike
// flags of that run follow the rule applied to its logged losses.
func TestStepNorms(t *testing.T) {
	const yaml = `
name: t
dataset: modular
data: {modulus: 11, operation: "+", train_fraction: 0.5}
train: {epochs: 90, batch_size: full, optimizer: {name: adamw, weight_decay: 0.1}, log_every: 3, eval_every: 0}
archs:
  gpt: {type: transformer, layers: 2, d_model: 16, heads: 2, context: 4}
grid:
  arch: [gpt]
  lr: [LR]
  seed: [1]
  clip: [{method: norm, threshold: 0.5}]
`
	c := parseConfig(t, strings.Replace(yaml, "LR", "0.001", 1))
	res, r := run(t, context.Background(), c, "")
	if res.Status != record.Done {
		t.Fatalf("status %s (%s)", res.Status, res.Error)
	}
	want := []string{"embedding", "h.0.norm", "h.0.attention", "h.0.mlp", "h.1.norm", "h.1.attention", "h.1.mlp", "final_norm", "head"}
	if len(r.steps) != 30 {
		t.Fatalf("%d logged steps, want 30", len(r.steps))
	}
	for _, s := range r.steps {
		if s.Step%3 != 0 {
			t.Fatalf("step %d logged with log_every 3", s.Step)
		}
		if len(s.Norms) != len(want) {
			t.Fatalf("step %d: %d group norms, want %d", s.Step, len(s.Norms), len(want))
		}
		var sq float64
		for i, g := range s.Norms {
			if g.Group != want[i] {
				t.Fatalf("step %d: group %d is %q, want %q", s.Step, i, g.Group, want[i])
			}
			if !(g.Norm > 0) {
				t.Errorf("step %d: %s norm %v", s.Step, g.Group, g.Norm)
			}
			sq += g.Norm * g.Norm
		}
		if n := math.Sqrt(sq); math.Abs(n-s.GradNorm) > 1e-6*s.GradNorm {
			t.Errorf("step %d: group norms make %v, grad_norm %v", s.Step, n, s.GradNorm)
		}
		if s.Spike {
			t.Errorf("step %d: loss %v flagged as a spike in a smooth run", s.Step, s.Loss)
		}
	}

	c = parseConfig(t, strings.Replace(yaml, "LR", "1", 1))
	_, r = run(t, context.Background(), c, "")
	rule := newSpikes(c.Spike())
	n := 0
	for _, s := range r.steps {
		if got := rule.observe(s.Loss); got != s.Spike {
			t.Errorf("lr 1, step %d: loss %v spike %v, the rule says %v", s.Step, s.Loss, s.Spike, got)
		}
		if s.Spike {
			n++
		}
	}
	t.Logf("lr 1: %d logged steps, %d spikes", len(r.steps), n)
}
