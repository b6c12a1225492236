package train

import (
	"context"
	"strings"
	"testing"

	"cliplab/internal/record"
)

// scheduleYAML: 30 full-batch steps of the modular task with a warm-up of
// 5 steps and a cosine decay, and AdamW without decay on biases, norms and
// embeddings.
const scheduleYAML = `
name: t
dataset: modular
data: {modulus: 11, operation: "+", train_fraction: 0.5}
train:
  epochs: 30
  batch_size: full
  optimizer: {name: adamw, weight_decay: 0.5, no_decay: [bias, norm, embedding]}
  lr_schedule: {warmup: 5, decay: cosine, min_lr: 1.0e-4}
archs:
  gpt: {type: transformer, layers: 1, d_model: 16, heads: 2, context: 4}
grid:
  arch: [gpt]
  lr: [0.003]
  seed: [1]
  clip: [none]
`

// TestScheduleLogged: every logged step carries the lr the schedule gives
// it (steps.lr), the warm-up starts at lr/(W+1) and reaches lr at step W+1,
// and the optimizer steps with that lr: the same run with the constant
// schedule has the same first loss and a different second one.
func TestScheduleLogged(t *testing.T) {
	c := parseConfig(t, scheduleYAML)
	res, r := run(t, context.Background(), c, "")
	if res.Status != record.Done || len(r.steps) != 30 {
		t.Fatalf("status %s after %d logged steps, want done after 30", res.Status, len(r.steps))
	}
	for i, s := range r.steps {
		if want := c.LRSchedule.LR(c.LR, i+1, 30); s.LR != want {
			t.Errorf("step %d: logged lr %.10g, schedule %.10g", s.Step, s.LR, want)
		}
	}
	// nanoGPT's warm-up: lr·(e+1)/(W+1) at 0-based step e.
	if got, want := r.steps[0].LR, 0.003/6; got != want {
		t.Errorf("step 1: lr %g, want %g", got, want)
	}
	if got := r.steps[5].LR; got != 0.003 {
		t.Errorf("step 6, the first after the warm-up: lr %g, want 0.003", got)
	}
	if got := r.steps[29].LR; !(got > 1e-4 && got < 2e-4) {
		t.Errorf("last step: lr %g, want just above min_lr 1e-4", got)
	}

	flat := parseConfig(t, strings.Replace(scheduleYAML, "lr_schedule: {warmup: 5, decay: cosine, min_lr: 1.0e-4}", "lr_schedule: constant", 1))
	_, rf := run(t, context.Background(), flat, "")
	if rf.steps[0].Loss != r.steps[0].Loss {
		t.Errorf("first loss %v with the schedule, %v without: the weights differ before any step", r.steps[0].Loss, rf.steps[0].Loss)
	}
	if rf.steps[1].Loss == r.steps[1].Loss {
		t.Errorf("second loss %v with and without the schedule: the optimizer did not get the scheduled lr", r.steps[1].Loss)
	}
	for _, s := range rf.steps {
		if s.LR != flat.LR {
			t.Fatalf("constant schedule, step %d: lr %g, want %g", s.Step, s.LR, flat.LR)
		}
	}
}
