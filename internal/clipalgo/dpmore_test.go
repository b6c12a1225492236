package clipalgo

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// perExample is a batch of per-example gradients, materialised: g[i][k] is
// example i's gradient of tensor k. The references below clip them the way
// Opacus's optimizers do (per tensor, then sum) and are checked against
// the factors the ExampleClipper gives from the squared norms alone.
type perExample [][][]float64

func randomExamples(rng *rand.Rand, b int, sizes []int) perExample {
	g := make(perExample, b)
	for i := range g {
		scale := math.Pow(10, 2*rng.Float64()-1) // norms from 0.1 to 10 or so
		g[i] = make([][]float64, len(sizes))
		for k, n := range sizes {
			g[i][k] = make([]float64, n)
			for j := range g[i][k] {
				g[i][k][j] = float64(float32(scale * rng.NormFloat64()))
			}
		}
	}
	return g
}

func (g perExample) sq() []float64 {
	var out []float64
	for _, ex := range g {
		for _, t := range ex {
			var s float64
			for _, v := range t {
				s += v * v
			}
			out = append(out, s)
		}
	}
	return out
}

// sum is Σ_i w_ik g_ik per tensor.
func (g perExample) sum(w []float32) [][]float64 {
	nt := len(g[0])
	out := make([][]float64, nt)
	for k := range nt {
		out[k] = make([]float64, len(g[0][k]))
	}
	for i, ex := range g {
		for k, t := range ex {
			for j, v := range t {
				out[k][j] += float64(w[i*nt+k]) * v
			}
		}
	}
	return out
}

func l2(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

func closeSums(t *testing.T, name string, got, want [][]float64) {
	t.Helper()
	for k := range want {
		// The factors are float32: each term is off by up to 6e-8 relative,
		// so the tolerance is relative to the tensor's norm.
		tol := 1e-6 * l2(want[k])
		for j := range want[k] {
			if d := math.Abs(got[k][j] - want[k][j]); d > tol {
				t.Fatalf("%s: tensor %d [%d]: %v, reference %v", name, k, j, got[k][j], want[k][j])
			}
		}
	}
}

// TestDPPerLayerWeights checks dp_per_layer against Opacus's
// DPPerLayerOptimizer with max_grad_norm = [C/√K]·K, written out on
// materialised per-example gradients: each tensor's gradient clipped by
// (C_k/(‖g_ik‖ + 1e-6)).clamp(max=1), then summed; an example clipped in
// every tensor ends at norm √(Σ C_k²) = C.
func TestDPPerLayerWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := []int{12, 3, 20, 5}
	const c, b = 2.0, 16
	g := randomExamples(rng, b, sizes)
	clip, err := NewExample(Spec{Method: "dp_per_layer", Threshold: c}, DP{})
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, b*len(sizes))
	st, err := clip.Weights(w, g.sq(), b, len(sizes))
	if err != nil {
		t.Fatal(err)
	}
	// Opacus, per parameter: per_sample_clip_factor, then the sum.
	ck := c / math.Sqrt(float64(len(sizes)))
	want := make([][]float64, len(sizes))
	clippedEx := map[int]bool{}
	var before, after float64
	for k, n := range sizes {
		want[k] = make([]float64, n)
		for i := range b {
			norm := l2(g[i][k])
			f := math.Min(1, ck/(norm+1e-6))
			if norm > ck {
				clippedEx[i] = true
			}
			for j, v := range g[i][k] {
				want[k][j] += f * v
			}
		}
	}
	for i := range b {
		var s, sa float64
		for k := range sizes {
			n := l2(g[i][k])
			s += n * n
			f := math.Min(1, ck/(n+1e-6))
			sa += f * f * n * n
		}
		before += math.Sqrt(s) / b
		after += math.Sqrt(sa) / b
	}
	closeSums(t, "dp_per_layer", g.sum(w), want)
	if st.Threshold != c || st.Fraction != float64(len(clippedEx))/b || math.Abs(st.NormBefore-before) > 1e-9*before || math.Abs(st.NormAfter-after) > 1e-9*after {
		t.Errorf("stats %+v; want threshold %v, fraction %v, norms %v → %v", st, c, float64(len(clippedEx))/b, before, after)
	}
	if len(clippedEx) == 0 || len(clippedEx) == b {
		t.Errorf("%d of %d examples clipped: the test needs both kinds", len(clippedEx), b)
	}
	// Σ C_k² = C²: an example far above every C_k is clipped to norm C.
	big := []float64{1e6, 4e6, 9e6, 16e6}
	w1 := make([]float32, 4)
	if _, err := clip.Weights(w1, big, 1, 4); err != nil {
		t.Fatal(err)
	}
	var s float64
	for k := range big {
		s += float64(w1[k]) * float64(w1[k]) * big[k]
	}
	if math.Abs(math.Sqrt(s)-c) > 1e-6*c {
		t.Errorf("an example clipped in every tensor has norm %v, want C = %v", math.Sqrt(s), c)
	}
	if _, err := clip.Weights(w1, []float64{1, math.Inf(1), 1, 1}, 1, 4); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Inf norm: %v, want ErrNonFinite", err)
	}
	if st, err := clip.Weights(nil, nil, 0, 4); err != nil || st.Fraction != 0 || st.Threshold != c {
		t.Errorf("empty batch: %+v, %v", st, err)
	}
}

// TestDPAutomaticWeights checks dp_automatic against Bu et al.'s AUTO-S,
// g_i·C/(‖g_i‖ + γ), on materialised gradients: every clipped gradient has
// norm C‖g_i‖/(‖g_i‖ + γ) < C; γ = 0 normalises every nonzero gradient to
// exactly C and leaves a zero gradient zero.
func TestDPAutomaticWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	sizes := []int{7, 9}
	const c, b = 0.5, 12
	for _, gamma := range []float64{0.01, 0, 3} {
		spec := Spec{Method: "dp_automatic", Threshold: c}
		if gamma != 0.01 {
			spec = spec.With("gamma", gamma)
		}
		clip, err := NewExample(spec, DP{})
		if err != nil {
			t.Fatal(err)
		}
		g := randomExamples(rng, b, sizes)
		clear(g[3][0]) // one zero gradient
		clear(g[3][1])
		w := make([]float32, b*len(sizes))
		st, err := clip.Weights(w, g.sq(), b, len(sizes))
		if err != nil {
			t.Fatal(err)
		}
		want := make([][]float64, len(sizes))
		for k, n := range sizes {
			want[k] = make([]float64, n)
		}
		scaled := 0
		for i := range b {
			norm := math.Hypot(l2(g[i][0]), l2(g[i][1]))
			f := 0.0
			if norm+gamma > 0 {
				f = c / (norm + gamma)
			}
			if norm > 0 && f < 1 {
				scaled++
			}
			for k := range sizes {
				for j, v := range g[i][k] {
					want[k][j] += f * v
				}
				// Each example's clipped norm.
			}
			var s float64
			for k := range sizes {
				s += float64(w[i*2+k]) * float64(w[i*2+k]) * l2(g[i][k]) * l2(g[i][k])
			}
			wantNorm := c * norm / (norm + gamma)
			if norm == 0 {
				wantNorm = 0
			}
			if math.Abs(math.Sqrt(s)-wantNorm) > 1e-6*c || math.Sqrt(s) > c*(1+1e-7) {
				t.Errorf("γ = %v, example %d: clipped norm %v, want %v ≤ C", gamma, i, math.Sqrt(s), wantNorm)
			}
		}
		closeSums(t, "dp_automatic", g.sum(w), want)
		if st.Threshold != c || st.Fraction != float64(scaled)/b {
			t.Errorf("γ = %v: stats %+v, want threshold %v, fraction %v", gamma, st, c, float64(scaled)/b)
		}
	}
	if _, err := NewExample(Spec{Method: "dp_automatic", Threshold: 1}.With("gamma", -0.1), DP{}); err == nil || err.Error() != "gamma: must be ≥ 0, got -0.1" {
		t.Errorf("negative γ: %v", err)
	}
}

// TestDPQuantileSigmas checks Andrew et al.'s Theorem 1 as Sigmas spends σ:
// σ_Δ⁻² + (2σ_b)⁻² = σ⁻², σ_b = count_noise or B/20, σ ≥ 2σ_b refused, and
// the other methods spend σ on the sum alone.
func TestDPQuantileSigmas(t *testing.T) {
	q := Spec{Method: "dp_quantile", Threshold: 1}.Normalize()
	for _, c := range []struct {
		spec            Spec
		sigma, expected float64
		sb              float64
	}{
		{q, 1, 256, 12.8},
		{q, 0.5, 64, 3.2},
		{q.With("count_noise", 10.0), 19.9, 256, 10},
		{q.With("count_noise", 0.3), 0.59, 256, 0.3},
	} {
		sum, count, err := Sigmas(c.spec, c.sigma, c.expected)
		if err != nil {
			t.Fatalf("σ %v, B %v: %v", c.sigma, c.expected, err)
		}
		if count != c.sb {
			t.Errorf("σ %v, B %v: σ_b %v, want %v", c.sigma, c.expected, count, c.sb)
		}
		if got := 1/(sum*sum) + 1/(4*count*count); math.Abs(got-1/(c.sigma*c.sigma)) > 1e-12/(c.sigma*c.sigma) {
			t.Errorf("σ %v: σ_Δ = %v, σ_b = %v compose to σ⁻² = %v, want %v", c.sigma, sum, count, got, 1/(c.sigma*c.sigma))
		}
		if sum <= c.sigma {
			t.Errorf("σ_Δ %v ≤ σ %v", sum, c.sigma)
		}
	}
	if sum, count, err := Sigmas(q, 0, 256); sum != 0 || count != 0 || err != nil {
		t.Errorf("σ = 0: %v, %v, %v; want no noise at all", sum, count, err)
	}
	for _, c := range []struct {
		spec  Spec
		sigma float64
		want  string
	}{
		{q, 25.6, "count_noise: dp_quantile needs noise_multiplier σ < 2·count_noise (Andrew et al. 2021, Thm 1), got σ = 25.6 and count_noise = 12.8 (the default, expected batch size/20)"},
		{q.With("count_noise", 1.0), 3, "count_noise: dp_quantile needs noise_multiplier σ < 2·count_noise (Andrew et al. 2021, Thm 1), got σ = 3 and count_noise = 1"},
	} {
		_, _, err := Sigmas(c.spec, c.sigma, 256)
		if err == nil || err.Error() != c.want {
			t.Errorf("σ %v: %v, want %q", c.sigma, err, c.want)
		}
		if _, err := NewExample(c.spec, DP{Sigma: c.sigma, Expected: 256, Normal: func(uint64) float64 { return 0 }}); err == nil {
			t.Errorf("NewExample accepts σ %v", c.sigma)
		}
	}
	for _, m := range []string{"dp_flat", "dp_per_layer", "dp_automatic"} {
		if sum, count, err := Sigmas(Spec{Method: m, Threshold: 1}.Normalize(), 1.3, 256); sum != 1.3 || count != 0 || err != nil {
			t.Errorf("%s: %v, %v, %v; want σ on the sum", m, sum, count, err)
		}
	}
	if _, err := NewExample(q, DP{Sigma: 1, Expected: 256}); err == nil {
		t.Errorf("dp_quantile with σ > 0 and no DP.Normal accepted")
	}
}

// TestDPQuantileUpdate follows C_t over steps against TF Privacy's
// QuantileEstimatorQuery written out: b̄ = clamp((Σ(1[‖g_i‖ ≤ C_t] − ½) +
// σ_b z_t)/B + ½, 0, 1), C_{t+1} = C_t·exp(−η(b̄ − γ)), each step clipped as
// dp_flat at C_t; z_t is DP.Normal(t); an error leaves C as it was.
func TestDPQuantileUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const c0, expected, nt = 1.5, 20.0, 3
	spec := Spec{Method: "dp_quantile", Threshold: c0}.With("target_quantile", 0.7).With("clip_lr", 0.3)
	var calls []uint64
	z := func(t uint64) float64 { calls = append(calls, t); return math.Sin(float64(t)+1) * 3 }
	clip, err := NewExample(spec, DP{Sigma: 1.5, Expected: expected, Normal: z})
	if err != nil {
		t.Fatal(err)
	}
	_, sb, _ := Sigmas(spec.Normalize(), 1.5, expected)
	c := c0
	for step := range 30 {
		b := 14 + rng.IntN(13) // Poisson-like sizes around B = 20, beyond it too
		sq := make([]float64, b*nt)
		for j := range sq {
			sq[j] = math.Pow(10, 2*rng.Float64()-1)
		}
		if step == 10 {
			bad := slices.Clone(sq)
			bad[4] = math.NaN()
			if _, err := clip.Weights(make([]float32, b*nt), bad, b, nt); !errors.Is(err, ErrNonFinite) {
				t.Fatalf("NaN: %v", err)
			}
		}
		w := make([]float32, b*nt)
		st, err := clip.Weights(w, sq, b, nt)
		if err != nil {
			t.Fatal(err)
		}
		if st.Threshold != c {
			t.Fatalf("step %d: threshold %v, reference %v", step, st.Threshold, c)
		}
		// The step clips as dp_flat at C_t.
		wf := make([]float32, b*nt)
		ff, _ := NewExample(Spec{Method: "dp_flat", Threshold: c}, DP{})
		stf, _ := ff.Weights(wf, sq, b, nt)
		if !slices.Equal(w, wf) || st != stf {
			t.Fatalf("step %d: not dp_flat at C_t: %+v, %+v", step, st, stf)
		}
		below := 0.0
		for i := range b {
			if math.Sqrt(sq[i*nt]+sq[i*nt+1]+sq[i*nt+2]) <= c {
				below++
			}
		}
		frac := (below-0.5*float64(b)+sb*math.Sin(float64(step)+1)*3)/expected + 0.5
		frac = math.Max(0, math.Min(1, frac))
		c *= math.Exp(-0.3 * (frac - 0.7))
	}
	if want := slices.Collect(func(yield func(uint64) bool) {
		for i := range uint64(30) {
			if !yield(i) {
				return
			}
		}
	}); !slices.Equal(calls, want) {
		t.Errorf("count noise drawn at %v, want 0 … 29 once each", calls)
	}
}

// TestDPQuantileTracks: without noise, C converges to the target quantile
// of a fixed distribution of per-example norms (log-uniform on [0.1, 10]:
// quantile γ at 0.1·100^γ).
func TestDPQuantileTracks(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, target := range []float64{0.2, 0.5, 0.9} {
		clip, err := NewExample(Spec{Method: "dp_quantile", Threshold: 30}.With("target_quantile", target), DP{Expected: 256})
		if err != nil {
			t.Fatal(err)
		}
		const b = 256
		sq, w := make([]float64, b), make([]float32, b)
		var st Stats
		var sum float64
		for step := range 600 {
			for i := range sq {
				n := 0.1 * math.Pow(100, rng.Float64())
				sq[i] = n * n
			}
			if st, err = clip.Weights(w, sq, b, 1); err != nil {
				t.Fatal(err)
			}
			if step >= 400 {
				sum += math.Log(st.Threshold)
			}
		}
		got, want := math.Exp(sum/200), 0.1*math.Pow(100, target)
		if math.Abs(math.Log(got/want)) > 0.1 {
			t.Errorf("target quantile %v: C settles at %.4g, the quantile is %.4g", target, got, want)
		}
		t.Logf("target %v: C %.4g, quantile %.4g", target, got, want)
	}
}
