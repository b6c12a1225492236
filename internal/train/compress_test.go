package train

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"cliplab/internal/compress"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

// pruneYAML is a small addition run (synthetic: no files needed) of an rnn
// with norm clipping; %s is the optimizer, %s the prune spec.
const pruneYAML = `
name: t
dataset: addition
data: {seq_len: 10, train_size: 320, test_size: 64, train_eval_size: 64}
train: {epochs: 2, batch_size: 32, optimizer: %s, prune: %s, log_every: 1}
archs:
  rnn: {type: rnn, hidden: 16}
grid:
  arch: [rnn]
  lr: [0.05]
  seed: [1]
  clip: [{method: norm, threshold: 0.5}]
`

// stepAll trains c step by step, calling check after each step (and once
// before the first, step 0).
func stepAll(t *testing.T, c config.Config, check func(r *trainer, step int)) {
	t.Helper()
	r := testTrainer(t, c)
	check(r, 0)
	for epoch := range c.Epochs {
		for i := range c.StepsPerEpoch() {
			if err := r.step(epoch, i); err != nil {
				t.Fatal(err)
			}
			check(r, r.res.Steps)
		}
	}
}

// testTrainer returns a trainer of c (a synthetic dataset) before its
// first step, recording to a *recorder.
func testTrainer(t *testing.T, c config.Config) *trainer {
	t.Helper()
	ds, err := data.Load(c.Dataset, DataOptions(c, ""))
	if err != nil {
		t.Fatal(err)
	}
	r, err := newTrainer(c, ds, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPrunedStayZero (issue 16): under every optimizer, weight decay on,
// pruned weights are exactly zero after every step, their number is
// round(s·n) of the schedule in force, and the run ends at the target
// sparsity.
func TestPrunedStayZero(t *testing.T) {
	optims := []string{
		"{name: sgd, weight_decay: 0.01}",
		"{name: momentum, momentum: 0.9, nesterov: true, weight_decay: 0.01}",
		"{name: adam, weight_decay: 0.01}",
		"{name: adamw, weight_decay: 0.1}",
	}
	prunes := []string{
		"{sparsity: 0.8, start: 0}",
		"{sparsity: 0.9, scope: layer, schedule: gradual, start: 0.1, end: 0.7, every: 3}",
	}
	for _, o := range optims {
		for _, p := range prunes {
			c := parseConfig(t, fmt.Sprintf(pruneYAML, o, p))
			events := c.Prune.Events(c.Steps())
			t.Run(o+" "+p, func(t *testing.T) {
				checked := 0
				var final float64 // the measured sparsity after the last step
				stepAll(t, c, func(r *trainer, step int) {
					want := 0.0
					for _, e := range events {
						if e.Step <= step {
							want = e.Sparsity
						}
					}
					var pruned, total, zeros int
					for i, w := range r.prune.ws {
						for _, j := range r.prune.masks.Pruned[i] {
							if w[j] != 0 {
								t.Fatalf("step %d: pruned weight %d of tensor %d is %v", step, j, i, w[j])
							}
						}
						pruned += len(r.prune.masks.Pruned[i])
						total += len(w)
						zeros += len(w) - compress.NonZero(w)
						if c.Prune.Scope == "layer" && len(r.prune.masks.Pruned[i]) != compress.Count(want, len(w)) {
							t.Fatalf("step %d: tensor %d has %d pruned, want round(%v·%d)", step, i, len(r.prune.masks.Pruned[i]), want, len(w))
						}
					}
					if c.Prune.Scope == "global" && pruned != compress.Count(want, total) {
						t.Fatalf("step %d: %d pruned, want round(%v·%d)", step, pruned, want, total)
					}
					if zeros < pruned {
						t.Fatalf("step %d: %d zeros, fewer than the %d pruned", step, zeros, pruned)
					}
					final = float64(zeros) / float64(total)
					checked++
				})
				if checked != c.Steps()+1 {
					t.Fatalf("checked %d steps", checked)
				}
				if got, want := final, c.Prune.Sparsity; got < want-0.01 || got > want+0.01 {
					t.Errorf("measured sparsity after training %.4f, want %v", got, want)
				}
			})
		}
	}
}

// TestPruneDeterminism: a run pruned after step t₀ logs exactly the unpruned
// run's steps up to t₀ (the masks are all ones until then) and differs
// after; the same pruned run twice is bit-identical.
func TestPruneDeterminism(t *testing.T) {
	plain := parseConfig(t, fmt.Sprintf(pruneYAML, "adam", "none"))
	pruned := parseConfig(t, fmt.Sprintf(pruneYAML, "adam", "{sparsity: 0.9, start: 0.5}"))
	t0 := pruned.Prune.Events(pruned.Steps())[0].Step
	if t0 != 10 {
		t.Fatalf("t₀ %d, want 10 of 20 steps", t0)
	}
	_, a := run(t, context.Background(), plain, "")
	resB, b := run(t, context.Background(), pruned, "")
	_, b2 := run(t, context.Background(), pruned, "")
	as, _ := a.withoutTimes()
	bs, be := b.withoutTimes()
	b2s, b2e := b2.withoutTimes()
	// steps 1 … t₀ are as[:t₀]; step t₀ + 1 is the first with the mask.
	if !equalSteps(as[:t0], bs[:t0]) {
		t.Error("the pruned run's steps up to t₀ differ from the unpruned run's")
	}
	if as[t0].Loss == bs[t0].Loss {
		t.Error("pruning 90% of the weights after t₀ left step t₀ + 1's loss as it was")
	}
	if !equalSteps(bs, b2s) || !slices.Equal(be, b2e) {
		t.Error("the same pruned run twice differs")
	}
	if resB.Status != record.Done || resB.NonzeroParams == 0 || resB.ModelBytes == 0 || resB.EffectiveFLOPs == 0 {
		t.Errorf("result %+v", resB)
	}
}

// TestRunCosts: the costs of a finished run are those of its model as it
// ended: an unpruned rnn stores every value as float32 (4 bytes each) and
// a pruned one fewer, with fewer effective FLOPs.
func TestRunCosts(t *testing.T) {
	plain := parseConfig(t, fmt.Sprintf(pruneYAML, "sgd", "none"))
	pruned := parseConfig(t, fmt.Sprintf(pruneYAML, "sgd", "{sparsity: 0.9, start: 0}"))
	a, _ := run(t, context.Background(), plain, "")
	b, _ := run(t, context.Background(), pruned, "")
	// rnn D 2, H 16, outputs 1: 16·2 + 16·16 + 16 + 16 + 16 + 1 = 337 values.
	if a.NonzeroParams != 337 || a.ModelBytes != 4*337 {
		t.Errorf("unpruned: %d non-zero, %d bytes; want 337 and %d", a.NonzeroParams, a.ModelBytes, 4*337)
	}
	// T 10: 2·(10·32 + 9·256 + 16) + 10·32 + 1
	if want := float64(2*(10*32+9*256+16) + 10*32 + 1); a.EffectiveFLOPs != want {
		t.Errorf("unpruned effective FLOPs %v, want %v", a.EffectiveFLOPs, want)
	}
	// 90% of the 304 weights pruned globally: round(273.6) = 274 zeros.
	if b.NonzeroParams > 337-274 || b.ModelBytes >= a.ModelBytes || b.EffectiveFLOPs >= a.EffectiveFLOPs/3 {
		t.Errorf("pruned: %d non-zero, %d bytes, %v FLOPs", b.NonzeroParams, b.ModelBytes, b.EffectiveFLOPs)
	}
}

// quantYAML is pruneYAML's run with clipping off and train.quantize %s.
const quantYAML = `
name: t
dataset: addition
data: {seq_len: 10, train_size: 320, test_size: 64, train_eval_size: 64}
train: {epochs: 2, batch_size: 32, optimizer: sgd, quantize: %s, log_every: 1}
archs:
  rnn: {type: rnn, hidden: 16}
grid:
  arch: [rnn]
  lr: [0.05]
  seed: [1]
  clip: [none]
`

// trained returns c's trainer after every step.
func trained(t *testing.T, c config.Config) *trainer {
	var out *trainer
	stepAll(t, c, func(r *trainer, _ int) { out = r })
	return out
}

// TestPostTrainingQuant (issue 16 point 2): post-training quantisation
// trains exactly as the float run, then the final weights are the float
// run's fake-quantised (compress.Quantize.Apply, which TestFakeQuantTorch
// holds to PyTorch), biases untouched, and the final test evaluation is
// that of the quantised model.
func TestPostTrainingQuant(t *testing.T) {
	for _, q := range []string{"4", "{bits: 3, scheme: affine, granularity: channel}"} {
		plain := parseConfig(t, fmt.Sprintf(quantYAML, "none"))
		quant := parseConfig(t, fmt.Sprintf(quantYAML, q))
		a, b := trained(t, plain), trained(t, quant)
		for i, p := range a.model.Params() {
			want := slices.Clone(p.W)
			if nn.Prunable(p) {
				quant.Quantize.Apply(want, p.W, nil, p.Shape)
			}
			if got := b.model.Params()[i].W; !slices.Equal(got, want) {
				t.Errorf("%s: %s is not the float run's quantised", q, p.Name)
			}
		}
		// The float run, quantised by hand, evaluated; against Run's last
		// test evaluation of the quantised configuration.
		a.quant = newQuantizer(quant.Quantize, a.model.Params())
		a.quant.deploy()
		wantLoss, wantAcc := a.eval.run(data.SplitTest)
		res, rec := run(t, context.Background(), quant, "")
		last := rec.evals[len(rec.evals)-2] // test, then train
		if last.Split != data.SplitTest || last.Step != res.Steps || last.Loss != wantLoss || last.Acc != wantAcc {
			t.Errorf("%s: final evaluation %+v, want the quantised model's loss %v acc %v", q, last, wantLoss, wantAcc)
		}
		_, plainRec := run(t, context.Background(), plain, "")
		if pl := plainRec.evals[len(plainRec.evals)-2]; pl.Loss == last.Loss {
			t.Errorf("%s: quantising left the final test loss at %v", q, pl.Loss)
		}
		if !equalSteps(plainRec.steps, rec.steps) {
			t.Errorf("%s: post-training quantisation changed training", q)
		}
		// At most dense storage: weight_ih 32, weight_hh 256 and fc.weight
		// 16 values of b bits with 8 bytes per group, 33 float32 biases.
		bits, groups := quant.Quantize.Bits, 3
		if quant.Quantize.Granularity == "channel" {
			groups = 16 + 16 + 1
		}
		dense := int64((32*bits+7)/8+(256*bits+7)/8+(16*bits+7)/8+8*groups) + 4*33
		if res.ModelBytes > dense || res.ModelBytes < dense-int64(304*bits/8) {
			t.Errorf("%s: model_bytes %d, want at most %d", q, res.ModelBytes, dense)
		}
	}
}

// TestQATStraightThrough: with QAT the first step's loss is the
// fake-quantised model's, and the SGD update is w − lr·g with g the
// gradient at the fake-quantised weights, zero where a value fell outside
// the range (the straight-through estimator as PyTorch's fake-quantize
// backward); the weights between steps stay float.
func TestQATStraightThrough(t *testing.T) {
	c := parseConfig(t, fmt.Sprintf(quantYAML, "{bits: 2, qat: true}"))
	r := testTrainer(t, c)
	ref := testTrainer(t, c) // the same initial weights
	w0 := make([][]float32, len(ref.model.Params()))
	masked := 0
	for i, p := range ref.model.Params() {
		w0[i] = slices.Clone(p.W)
	}
	var keep [][]bool
	for _, p := range ref.model.Params() {
		k := make([]bool, len(p.W))
		if nn.Prunable(p) {
			c.Quantize.Apply(p.W, slices.Clone(p.W), k, p.Shape)
		} else {
			for j := range k {
				k[j] = true
			}
		}
		keep = append(keep, k)
	}
	var b data.Batch
	ref.ds.TrainBatch(&b, 0, 0, c.BatchSize)
	wantLoss := ref.loss.forward(ref.model.Forward(b.X, b.B, b.Steps), &b)
	ref.model.Backward(ref.loss.grad)

	if err := r.step(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := r.sink.(*recorder).steps[0].Loss; got != wantLoss {
		t.Errorf("first loss %v, want the fake-quantised model's %v", got, wantLoss)
	}
	lr := float32(c.LR)
	for i, p := range r.model.Params() {
		g := ref.model.Params()[i].G
		for j, w := range p.W {
			gj := g[j]
			if !keep[i][j] {
				gj, masked = 0, masked+1
			}
			if want := w0[i][j] + float32((-lr)*gj); w != want {
				t.Fatalf("%s[%d] after step 1: %v, want %v − %v·%v = %v", p.Name, j, w, w0[i][j], lr, gj, want)
			}
		}
	}
	if masked == 0 {
		t.Error("no value fell outside the 2-bit range: the mask went untested")
	}
}
