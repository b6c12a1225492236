package train

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/data"
	"cliplab/internal/privacy"
	"cliplab/internal/record"
)

const dpYAML = `
name: t
dataset: mnist
data: {train_size: 640, test_size: 200, train_eval_size: 200}
train: {epochs: 2, batch_size: 64, eval_every: 5, TRAIN}
archs:
  mlp2: {type: mlp, hidden: [32, 16]}
  rnn: {type: rnn, hidden: [16]}
  lstm: {type: rnn, cell: lstm, hidden: [12]}
grid:
  arch: [mlp2]
  lr: [0.1]
  seed: [3]
  clip: [CLIP]
`

func dpConfigYAML(train, clip string) string {
	return strings.NewReplacer("TRAIN", train, "CLIP", clip).Replace(dpYAML)
}

// TestDPNoNoiseNoClipIsPlain: with σ = 0 and a clip norm no example
// reaches, a step of dp_flat, dp_per_layer or dp_quantile (whose C falls
// from 1e6 by at most e^(−0.1) a step) is the ordinary step: the same
// losses and accuracies, bit for bit, as method none (the weights of the
// row gradients are exactly 1, so the weight GEMM is Backward's).
func TestDPNoNoiseNoClipIsPlain(t *testing.T) {
	dir := mnistDir(t)
	for _, arch := range []string{"mlp2", "rnn", "lstm"} {
		plain := parseConfig(t, onArch(dpConfigYAML("optimizer: sgd", "none"), arch))
		_, a := run(t, context.Background(), plain, dir)
		for _, m := range []string{"dp_flat", "dp_per_layer", "dp_quantile"} {
			t.Run(arch+"/"+m, func(t *testing.T) {
				samePlain(t, dir, a, onArch(dpConfigYAML("noise_multiplier: 0", "{method: "+m+", threshold: 1.0e6}"), arch))
			})
		}
	}
}

// dpCopyYAML is dpYAML's grid on the copy task (4 output positions per
// example) with transformers: two layers, and one tied and trimmed.
const dpCopyYAML = `
name: t
dataset: copy
data: {seq_len: 4, vocab: 6, train_size: 320, test_size: 100, train_eval_size: 100}
train: {epochs: 2, batch_size: 32, eval_every: 5, TRAIN}
archs:
  gpt: {type: transformer, layers: 2, d_model: 16, heads: 2, context: 9}
  tied: {type: transformer, layers: 1, d_model: 16, heads: 4, context: 9, tied: true, trim: true}
grid:
  arch: [gpt]
  lr: [0.1]
  seed: [3]
  clip: [CLIP]
`

// TestDPNoNoiseNoClipIsPlainTransformer is TestDPNoNoiseNoClipIsPlain for
// transformers on the copy task, whose examples have several rows of
// logits.
func TestDPNoNoiseNoClipIsPlainTransformer(t *testing.T) {
	for _, arch := range []string{"gpt", "tied"} {
		cfg := func(train, clip string) string {
			y := strings.NewReplacer("TRAIN", train, "CLIP", clip).Replace(dpCopyYAML)
			return strings.Replace(y, "arch: [gpt]", "arch: ["+arch+"]", 1)
		}
		_, a := run(t, context.Background(), parseConfig(t, cfg("optimizer: sgd", "none")), "")
		t.Run(arch, func(t *testing.T) {
			samePlain(t, "", a, cfg("noise_multiplier: 0", "{method: dp_flat, threshold: 1.0e6}"))
		})
	}
}

// onArch sets a dpYAML grid's arch.
func onArch(yaml, arch string) string {
	return strings.Replace(yaml, "arch: [mlp2]", "arch: ["+arch+"]", 1)
}

// samePlain runs the DP configuration src and checks that it gives the
// plain run a's losses, accuracies and evaluations bit for bit.
func samePlain(t *testing.T, dir string, a *recorder, src string) {
	dp := parseConfig(t, src)
	res, b := run(t, context.Background(), dp, dir)
	if res.Status != record.Done || !math.IsInf(res.Epsilon, 1) {
		t.Fatalf("dp run: %+v, want done with ε = +Inf", res)
	}
	if len(a.steps) != len(b.steps) || len(a.evals) != len(b.evals) {
		t.Fatalf("%d/%d steps, %d/%d evals", len(a.steps), len(b.steps), len(a.evals), len(b.evals))
	}
	for i := range a.steps {
		if a.steps[i].Loss != b.steps[i].Loss {
			t.Errorf("step %d: loss %v without DP, %v with σ = 0", i+1, a.steps[i].Loss, b.steps[i].Loss)
		}
		if b.steps[i].ClipFraction != 0 {
			t.Errorf("step %d: clip fraction %v", i+1, b.steps[i].ClipFraction)
		}
	}
	for i := range a.evals {
		if a.evals[i].Acc != b.evals[i].Acc || a.evals[i].Loss != b.evals[i].Loss {
			t.Errorf("eval %d: %+v without DP, %+v with σ = 0", i, a.evals[i], b.evals[i])
		}
		if a.evals[i].Epsilon != 0 || !math.IsInf(b.evals[i].Epsilon, 1) {
			t.Errorf("eval %d: ε %v without DP (want 0), %v with σ = 0 (want +Inf)", i, a.evals[i].Epsilon, b.evals[i].Epsilon)
		}
	}
}

// TestDPOneExampleIsNorm: with batches of one and σ = 0, dp_flat trains as
// global-norm clipping (method norm) at the same threshold.
func TestDPOneExampleIsNorm(t *testing.T) {
	// Thresholds between the arch's smallest and largest gradient norms.
	for arch, c := range map[string]string{"mlp2": "1.4", "rnn": "1.4", "lstm": "1.0"} {
		t.Run(arch, func(t *testing.T) { oneExampleIsNorm(t, arch, c) })
	}
}

func oneExampleIsNorm(t *testing.T, arch, c string) {
	dir := mnistDir(t)
	yaml := strings.Replace(onArch(dpYAML, arch), "data: {train_size: 640, test_size: 200, train_eval_size: 200}", "data: {train_size: 40, test_size: 200, train_eval_size: 40}", 1)
	yaml = strings.Replace(yaml, "batch_size: 64", "batch_size: 1", 1)
	cfg := func(train, clip string) string {
		return strings.NewReplacer("TRAIN", train, "CLIP", clip).Replace(yaml)
	}
	_, a := run(t, context.Background(), parseConfig(t, cfg("optimizer: sgd", "{method: norm, threshold: "+c+"}")), dir)
	_, b := run(t, context.Background(), parseConfig(t, cfg("noise_multiplier: 0", "{method: dp_flat, threshold: "+c+"}")), dir)
	clipped := 0
	for i := range a.steps {
		sa, sb := a.steps[i], b.steps[i]
		if math.Abs(sa.Loss-sb.Loss) > 1e-5*math.Abs(sa.Loss) {
			t.Errorf("step %d: loss %v with norm, %v with dp_flat", i+1, sa.Loss, sb.Loss)
		}
		if math.Abs(sa.GradNorm-sb.GradNorm) > 1e-5*sa.GradNorm || sa.ClipFraction != sb.ClipFraction {
			t.Errorf("step %d: norm %v fraction %v with norm, %v %v with dp_flat", i+1, sa.GradNorm, sa.ClipFraction, sb.GradNorm, sb.ClipFraction)
		}
		clipped += int(sa.ClipFraction)
	}
	if clipped == 0 || clipped == len(a.steps) {
		t.Errorf("%d of %d steps clipped: the test needs both kinds", clipped, len(a.steps))
	}
	for i := range a.evals {
		if math.Abs(a.evals[i].Loss-b.evals[i].Loss) > 1e-4*a.evals[i].Loss {
			t.Errorf("eval %d: loss %v with norm, %v with dp_flat", i, a.evals[i].Loss, b.evals[i].Loss)
		}
	}
}

// TestDPRun: a DP run with noise and Poisson sampling is a function of its
// seed (two runs agree bit for bit), reports the accountant's ε at each
// evaluation, and its noise moves the weights (a different noise seed
// gives other losses).
func TestDPRun(t *testing.T) {
	dir := mnistDir(t)
	c := parseConfig(t, dpConfigYAML("noise_multiplier: 1.1, sampling: poisson, delta: 1.0e-5", "{method: dp_flat, threshold: 1}"))
	res1, a := run(t, context.Background(), c, dir)
	res2, b := run(t, context.Background(), c, dir)
	sa, ea := a.withoutTimes()
	sb, eb := b.withoutTimes()
	if !slices.Equal(ea, eb) || !equalSteps(sa, sb) || res1.Epsilon != res2.Epsilon {
		t.Errorf("two runs of one DP configuration differ")
	}
	q := 64.0 / 640
	for _, e := range a.evals {
		want, _, err := privacy.Spend(1.1, q, e.Step, 1e-5)
		if err != nil || e.Epsilon != want {
			t.Errorf("step %d: ε %v, accountant %v (%v)", e.Step, e.Epsilon, want, err)
		}
	}
	if want, _, _ := privacy.Spend(1.1, q, 20, 1e-5); res1.Epsilon != want || res1.Steps != 20 {
		t.Errorf("result: ε %v after %d steps, want %v after 20", res1.Epsilon, res1.Steps, want)
	}
	c.Seed = 4
	_, other := run(t, context.Background(), c, dir)
	if other.steps[1].Loss == a.steps[1].Loss {
		t.Errorf("another seed gives the same loss at step 2")
	}
}

func equalSteps(a, b []record.Step) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		same := func(u, v float64) bool { return u == v || (math.IsNaN(u) && math.IsNaN(v)) }
		if x.Step != y.Step || !same(x.Loss, y.Loss) || !same(x.GradNorm, y.GradNorm) || !same(x.ClippedNorm, y.ClippedNorm) ||
			!same(x.ClipFraction, y.ClipFraction) || !same(x.Threshold, y.Threshold) {
			return false
		}
	}
	return true
}

// TestDPNoiseStep: one DP step's gradient is the clipped sum plus noise of
// standard deviation σC divided by B: every example is clipped to C, so the
// clipped sum over B has norm at most C while the noise's is σC/B·√n ≈ 25C
// at σ = 10 over the model's n = 25,818 coordinates, and the gradient's
// sample standard deviation is σC/B within 2%.
func TestDPNoiseStep(t *testing.T) {
	st, mean, sd, n := noisyStep(t, "noise_multiplier: 10", "{method: dp_flat, threshold: 1.0e-3}")
	if st.Fraction != 1 || st.Threshold != 1e-3 {
		t.Fatalf("stats %+v", st)
	}
	want := 10 * 1e-3 / 64
	if math.Abs(sd-want) > 0.02*want || math.Abs(mean) > 4*want/math.Sqrt(float64(n)) {
		t.Errorf("gradient over %d coordinates: mean %.3g, sd %.4g; want about 0 and %.4g", n, mean, sd, want)
	}
}

// noisyStep runs the DP backward of the first batch of the configuration
// with train fields trainFields and clip entry clip, and returns its
// statistics and the mean and standard deviation of its n gradient
// coordinates.
func noisyStep(t *testing.T, trainFields, clip string) (st clipalgo.Stats, mean, sd float64, n int) {
	t.Helper()
	c := parseConfig(t, dpConfigYAML(trainFields, clip))
	ds, err := data.Load(c.Dataset, DataOptions(c, mnistDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := newTrainer(c, ds, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	r.ds.TrainBatch(&r.batch, 0, 0, c.BatchSize)
	out := r.model.Forward(r.batch.X, r.batch.B, 0)
	r.loss.forward(out, &r.batch)
	st, err = r.dp.backward(r.loss.grad, r.batch.B, 1)
	if err != nil {
		t.Fatal(err)
	}
	var s, s2 float64
	for _, p := range r.model.Params() {
		for _, g := range p.G {
			s += float64(g)
			s2 += float64(g) * float64(g)
			n++
		}
	}
	mean = s / float64(n)
	return st, mean, math.Sqrt(s2/float64(n) - mean*mean), n
}

// TestDPQuantileRun: dp_quantile's logged threshold follows the geometric
// update from the logged fraction clipped (σ = 0: no count noise, batches of
// B, so b̄ is the fraction unclipped); with σ > 0 a run is a function of
// its seed and is accounted at the σ given (Andrew et al. Thm 1), not at
// the sum's larger σ_Δ.
func TestDPQuantileRun(t *testing.T) {
	dir := mnistDir(t)
	c := parseConfig(t, dpConfigYAML("noise_multiplier: 0", "{method: dp_quantile, threshold: 0.05, target_quantile: 0.6, clip_lr: 0.3}"))
	_, a := run(t, context.Background(), c, dir)
	moved := 0
	for i := 1; i < len(a.steps); i++ {
		prev, s := a.steps[i-1], a.steps[i]
		want := prev.Threshold * math.Exp(-0.3*((1-prev.ClipFraction)-0.6))
		if math.Abs(s.Threshold-want) > 1e-12*want {
			t.Errorf("step %d: threshold %v, want %v from step %d's %v and fraction %v", s.Step, s.Threshold, want, prev.Step, prev.Threshold, prev.ClipFraction)
		}
		if prev.ClipFraction > 0 && prev.ClipFraction < 1 {
			moved++
		}
	}
	if a.steps[0].Threshold != 0.05 || moved == 0 {
		t.Errorf("first threshold %v, %d steps with a fraction strictly inside (0, 1)", a.steps[0].Threshold, moved)
	}

	c = parseConfig(t, dpConfigYAML("noise_multiplier: 1.1, sampling: poisson", "{method: dp_quantile, threshold: 1}"))
	res1, x := run(t, context.Background(), c, dir)
	res2, y := run(t, context.Background(), c, dir)
	sx, ex := x.withoutTimes()
	sy, ey := y.withoutTimes()
	if !slices.Equal(ex, ey) || !equalSteps(sx, sy) || res1.Epsilon != res2.Epsilon {
		t.Errorf("two runs of one dp_quantile configuration differ")
	}
	if want, _, _ := privacy.Spend(1.1, 64.0/640, 20, 1e-5); res1.Epsilon != want {
		t.Errorf("ε %v, want %v (the σ given)", res1.Epsilon, want)
	}
}

// TestDPQuantileNoiseStep: dp_quantile's clipped sum gets noise of standard
// deviation σ_Δ·C/B, σ_Δ = (σ⁻² − (2σ_b)⁻²)^(−1/2) = 11.547 at σ = 10 and
// σ_b = 10, within 2% (as TestDPNoiseStep).
func TestDPQuantileNoiseStep(t *testing.T) {
	_, _, sd, n := noisyStep(t, "noise_multiplier: 10", "{method: dp_quantile, threshold: 1.0e-3, count_noise: 10}")
	want := 1 / math.Sqrt(1/100.0-1/400.0) * 1e-3 / 64
	if math.Abs(sd-want) > 0.02*want {
		t.Errorf("gradient sd %.4g over %d coordinates, want σ_Δ·C/B = %.4g (σC/B would be %.4g)", sd, n, want, 10*1e-3/64)
	}
}
