package clipalgo

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/tensor"
)

// adaGCState exposes a float64 adagc Clipper's step count and γ.
func adaGCState(c Clipper[float64]) (steps int, gamma []float64) {
	a := c.(*adaGC[float64])
	return a.steps, slices.Clone(a.gamma)
}

// adaGCReference is testdata/adagc_reference.json, which
// testdata/gen_adagc.py writes by running the reference class AdaGC
// (lishuai-97/AdaGC megatron-gpt2.patch, commit 32c249f) in float64.
type adaGCReference struct {
	Reference string  `json:"reference"`
	Shapes    [][]int `json:"shapes"`
	Cases     []struct {
		Name  string                     `json:"name"`
		Spec  map[string]json.RawMessage `json:"spec"`
		Steps []struct {
			Grad      [][]float64 `json:"grad"`
			Clipped   [][]float64 `json:"clipped"`
			TotalNorm float64     `json:"total_norm"`
			Gamma     []float64   `json:"gamma"`
		} `json:"steps"`
	} `json:"cases"`
}

// TestAdaGCReference replays the gradient sequences on which the reference
// AdaGC code ran and compares every clipped element, the total norm it
// returned and every tensor's γ (its state["norm_value"]) after every step,
// at 1e-12.
func TestAdaGCReference(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "adagc_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r adaGCReference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Cases) < 7 {
		t.Fatalf("%d cases, want the 7 gen_adagc.py writes", len(r.Cases))
	}
	// Over all cases, after warm-up: tensors clipped and tensors left alone,
	// so that the sequences tell one from the other.
	clippedAfter, keptAfter, warmClipped, warmKept := 0, 0, 0, 0
	for _, rc := range r.Cases {
		t.Run(rc.Name, func(t *testing.T) {
			g := goldenFile{Params: map[string]json.RawMessage{}}
			for k, v := range rc.Spec {
				if k == "method" {
					if err := json.Unmarshal(v, &g.Method); err != nil {
						t.Fatal(err)
					}
					continue
				}
				g.Params[k] = v
			}
			s, err := specOf(&g)
			if err != nil {
				t.Fatal(err)
			}
			c, err := New[float64](s)
			if err != nil {
				t.Fatal(err)
			}
			warmup := s.Normalize().Int("warmup_steps")
			for i, st := range rc.Steps {
				ts := make([]Tensor[float64], len(st.Grad))
				for j := range st.Grad {
					role := tensor.Bias
					if len(r.Shapes[j]) == 2 {
						role = tensor.DenseWeight
					}
					ts[j] = Tensor[float64]{Name: "t", Role: role, Shape: r.Shapes[j], Grad: slices.Clone(st.Grad[j])}
				}
				stats, err := c.Clip(ts)
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				if !close(stats.NormBefore, st.TotalNorm, 1e-12) {
					t.Errorf("step %d: norm before %.17g, reference %.17g", i+1, stats.NormBefore, st.TotalNorm)
				}
				for j := range ts {
					for k, want := range st.Clipped[j] {
						if math.Abs(ts[j].Grad[k]-want) > 1e-12 {
							t.Fatalf("step %d: tensor %d [%d] = %.17g, reference %.17g", i+1, j, k, ts[j].Grad[k], want)
						}
					}
				}
				_, gamma := adaGCState(c)
				for j := range gamma {
					if !close(gamma[j], st.Gamma[j], 1e-12) {
						t.Fatalf("step %d: γ[%d] = %.17g, reference %.17g", i+1, j, gamma[j], st.Gamma[j])
					}
				}
				if i+1 <= warmup {
					if stats.Fraction == 1 {
						warmClipped++
					} else {
						warmKept++
					}
					continue
				}
				k := int(math.Round(stats.Fraction * float64(len(ts))))
				clippedAfter += k
				keptAfter += len(ts) - k
			}
		})
	}
	if clippedAfter == 0 || keptAfter == 0 || warmClipped == 0 || warmKept == 0 {
		t.Errorf("warm-up steps clipped %d, not %d; tensors clipped after warm-up %d, not %d: the sequences do not tell clipping from not",
			warmClipped, warmKept, clippedAfter, keptAfter)
	}
}

// TestAdaGCHand follows the reference's clip_by_norm (lines 319-464 of the
// patched clip_grads.py, see adagc.go) by hand on a one-tensor model.
func TestAdaGCHand(t *testing.T) {
	const eps = 1e-6
	// warmup_steps 2, warmup_max_norm 1, λ 1.5, β 0.9.
	// Step 1 (warm-up), N = 3: coef 1/(3+1e-6) < 1 (line 400), so the norm
	// after is 3/(3+1e-6), which starts γ (line 425).
	// Step 2 (warm-up), N = 0.5: coef 1/0.500001 ≥ 1, unchanged; γ = min(γ,
	// 0.5) = 0.5 (line 428).
	// Step 3, N = 2 > 1.5·0.5: ·0.75/(2+1e-6) (line 457); γ = 0.9·0.5 +
	// 0.1·0.75 = 0.525 (line 462, the clipped norm).
	// Step 4, N = 0.7 ≤ 1.5·0.525 = 0.7875: unchanged; γ = 0.9·0.525 +
	// 0.1·0.7 = 0.5425.
	// Step 5, N = 10 > 1.5·0.5425 = 0.81375: ·0.81375/(10+1e-6); γ =
	// 0.9·0.5425 + 0.1·0.81375 = 0.569625.
	gammas := []float64{3 / (3 + eps), 0.5, 0.525, 0.5425, 0.569625}
	check := func(t *testing.T, i int, c Clipper[float64]) {
		steps, g := adaGCState(c)
		if steps != i || len(g) != 1 || !close(g[0], gammas[i-1], 1e-12) {
			t.Errorf("after step %d: steps %d γ %v, want %d %.17g", i, steps, g, i, gammas[i-1])
		}
	}
	s := Spec{Method: "adagc", Threshold: 1.5}.With("warmup_steps", 2).With("beta", 0.9)
	runSteps(t, s, []step{
		{norm: 3, threshold: 1, coef: 1 / (3 + eps), fraction: 1},
		{norm: 0.5, threshold: 1, coef: 1},
		{norm: 2, threshold: 0.75, coef: 0.75 / (2 + eps), fraction: 1},
		{norm: 0.7, threshold: 0.7875, coef: 1},
		{norm: 10, threshold: 0.81375, coef: 0.81375 / (10 + eps), fraction: 1},
	}, check)

	// warmup_steps 0: the first step sets γ to the raw norm 2 (line 450),
	// and λ 0.5 clips it at once: ·1/(2+1e-6); γ = 0.99·2 + 0.01·1 = 1.99.
	// Step 2, N = 0.9 ≤ 0.5·1.99: unchanged; γ = 0.99·1.99 + 0.01·0.9.
	gammas = []float64{1.99, 0.99*1.99 + 0.01*0.9}
	runSteps(t, Spec{Method: "adagc", Threshold: 0.5}.With("warmup_steps", 0), []step{
		{norm: 2, threshold: 1, coef: 1 / (2 + eps), fraction: 1},
		{norm: 0.9, threshold: 0.995, coef: 1},
	}, check)

	// A norm within eps under warmup_max_norm is nudged as the reference
	// does (coef = 1/(1+1e-6) < 1), but not counted as clipped.
	gammas = []float64{1 / (1 + eps)}
	runSteps(t, Spec{Method: "adagc", Threshold: 1.04}.With("warmup_steps", 1), []step{
		{norm: 1, threshold: 1, coef: 1 / (1 + eps)},
	}, check)
}

// adaGCSpecs cover the warm-up (long, short, none), λ below and above 1 and
// every option.
var adaGCSpecs = []Spec{
	Spec{Method: "adagc", Threshold: 1.04}.With("warmup_steps", 5),
	Spec{Method: "adagc", Threshold: 1.5}.With("warmup_steps", 3).With("beta", 0.9).With("warmup_max_norm", 0.1),
	Spec{Method: "adagc", Threshold: 0.8}.With("warmup_steps", 0).With("beta", 0.0),
	Spec{Method: "adagc", Threshold: 2}.With("warmup_steps", 2).With("eps", 0.01).With("warmup_max_norm", 10.0),
	{Method: "adagc", Threshold: 1.04},
}

// steadyModel is randomModel's tensors rescaled to per-tensor norms base[i]
// times a factor in [0.7, 1.4) (a spike of ×20 on one step in 15), the way
// gradients of a training run drift, so that after warm-up some tensors
// stay under their thresholds.
func steadyModel[F Float](rng *rand.Rand, base []float64) []Tensor[F] {
	ts := randomModel[F](rng)
	for i := range ts {
		n := norm2(ts[i].Grad)
		if n == 0 {
			continue
		}
		f := base[i] * (0.7 + 0.7*rng.Float64())
		if rng.IntN(15) == 0 {
			f *= 20
		}
		for j := range ts[i].Grad {
			ts[i].Grad[j] = F(float64(ts[i].Grad[j]) * f / n)
		}
	}
	return ts
}

// TestAdaGCProperties runs adagc on seeded random models, in float32 and
// float64, and checks what the reference's rules imply whatever the input:
// during warm-up one global factor, unchanged when N + eps ≤ the max; after
// it each tensor at most λ·γ (its EMA before the step), unchanged bit for
// bit at or below it; γ updated as line 462 says; the stats as adagc.go
// documents them.
func TestAdaGCProperties(t *testing.T) {
	t.Run("float32", func(t *testing.T) { adaGCProperties[float32](t) })
	t.Run("float64", func(t *testing.T) { adaGCProperties[float64](t) })
}

func adaGCProperties[F Float](t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tol := tolOf[F]()
	for _, s := range adaGCSpecs {
		for _, steady := range []bool{false, true} {
			ns := s.Normalize()
			lambda, beta, eps, warmMax, warmup := ns.Threshold, ns.Float("beta"), ns.Float("eps"), ns.Float("warmup_max_norm"), ns.Int("warmup_steps")
			c, err := New[F](s)
			if err != nil {
				t.Fatal(err)
			}
			a := c.(*adaGC[F])
			base := make([]float64, 8)
			for i := range base {
				base[i] = math.Pow(10, rng.Float64()*2-2)
			}
			counts := map[string]int{}
			for step := 1; step <= warmup+40; step++ {
				var before []Tensor[F]
				if steady {
					before = steadyModel[F](rng, base)
				} else {
					before = randomModel[F](rng)
				}
				ts := clone(before)
				prev := slices.Clone(a.gamma)
				st, err := c.Clip(ts)
				if err != nil {
					t.Fatalf("%s step %d: %v", ns.Label(), step, err)
				}
				fail := func(format string, args ...any) {
					t.Helper()
					t.Errorf("%s steady=%v step %d: "+format, append([]any{ns.Label(), steady, step}, args...)...)
				}
				nb, na := GlobalNorm(before, 2), GlobalNorm(ts, 2)
				if !close(st.NormBefore, nb, 1e-12) || !close(st.NormAfter, na, 1e-12) {
					fail("stats norms %v → %v, measured %v → %v", st.NormBefore, st.NormAfter, nb, na)
				}
				if na > nb*(1+1e-12) || na > st.Threshold*(1+tol) {
					fail("norm %v → %v, threshold %v", nb, na, st.Threshold)
				}
				for i := range ts {
					for j, x := range ts[i].Grad {
						y := before[i].Grad[j]
						if float64(x)*float64(y) < 0 || math.Abs(float64(x)) > math.Abs(float64(y)) {
							fail("tensor %d [%d]: %v → %v", i, j, y, x)
						}
					}
				}
				unchanged := func(i int) bool { return slices.Equal(ts[i].Grad, before[i].Grad) }
				if step <= warmup {
					if st.Threshold != warmMax || (st.Fraction == 1) != (nb > warmMax) || (st.Fraction != 0 && st.Fraction != 1) {
						fail("warm-up: threshold %v fraction %v for norm %v, max %v", st.Threshold, st.Fraction, nb, warmMax)
					}
					if nb+eps <= warmMax {
						counts["warm kept"]++
						for i := range ts {
							if !unchanged(i) {
								fail("warm-up: norm %v + eps ≤ %v but tensor %d changed", nb, warmMax, i)
							}
						}
					} else {
						counts["warm clipped"]++
						if !close(na, warmMax*nb/(nb+eps), tol) {
							fail("warm-up: norm after %v, want %v", na, warmMax*nb/(nb+eps))
						}
					}
					for i := range ts {
						want := norm2(ts[i].Grad)
						if step > 1 {
							want = min(prev[i], want)
						}
						if !close(a.gamma[i], want, 1e-12) {
							fail("warm-up: γ[%d] = %v, want min(%v, ‖clipped‖) = %v", i, a.gamma[i], prev, want)
						}
					}
					continue
				}
				if prev == nil { // warmup_steps 0: the first step starts γ at the raw norms
					prev = make([]float64, len(before))
					for i := range before {
						prev[i] = norm2(before[i].Grad)
					}
				}
				clipped := 0
				var thr2 float64
				for i := range ts {
					thr := lambda * prev[i]
					thr2 += thr * thr
					b, x := norm2(before[i].Grad), norm2(ts[i].Grad)
					if x > thr*(1+tol) {
						fail("tensor %d: %v → %v above λ·γ = %v", i, b, x, thr)
					}
					fed := b
					if b <= thr {
						counts["kept"]++
						if !unchanged(i) {
							fail("tensor %d: %v ≤ λ·γ = %v changed", i, b, thr)
						}
					} else {
						counts["clipped"]++
						clipped++
						fed = thr
						if !close(x, thr*b/(b+eps), tol) && thr*b/(b+eps) > 1e-30 {
							fail("tensor %d: %v → %v, want λ·γ·‖g‖/(‖g‖+eps) = %v", i, b, x, thr*b/(b+eps))
						}
					}
					if want := beta*prev[i] + (1-beta)*fed; !close(a.gamma[i], want, 1e-12) {
						fail("γ[%d] = %v, want β·%v + (1-β)·%v = %v", i, a.gamma[i], prev[i], fed, want)
					}
				}
				if st.Fraction != float64(clipped)/float64(len(ts)) {
					fail("fraction %v, want %d/%d", st.Fraction, clipped, len(ts))
				}
				if !close(st.Threshold, math.Sqrt(thr2), 1e-12) {
					fail("threshold %v, want ‖λ·γ‖ = %v", st.Threshold, math.Sqrt(thr2))
				}
			}
			if counts["clipped"] == 0 || (steady && counts["kept"] == 0) {
				t.Errorf("%s steady=%v: %v: the models do not tell clipping from not", ns.Label(), steady, counts)
			}
		}
	}
}

// TestAdaGCErrors checks that a call that fails (a non-finite gradient, a
// gradient that does not match its shape, a model with another number of
// tensors) changes neither the gradients nor the state: the steps that follow
// are those of a clipper that never saw it, during warm-up and after.
func TestAdaGCErrors(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	bad := map[string]func() []Tensor[float64]{
		"nan": func() []Tensor[float64] { ts := smallModel(50); ts[1].Grad[1] = nan; return ts },
		"inf": func() []Tensor[float64] { ts := smallModel(50); ts[0].Grad[4] = -inf; return ts },
		"shape": func() []Tensor[float64] {
			ts := smallModel(50)
			ts[0].Grad = ts[0].Grad[:5]
			return ts
		},
		"fewer tensors": func() []Tensor[float64] { return smallModel(50)[:1] },
	}
	for name, make := range bad {
		for _, at := range []int{1, 2, 4} { // warmup_steps 3: the first step, in warm-up, after
			if name == "fewer tensors" && at == 1 {
				continue // the first call fixes the number of tensors
			}
			t.Run(name+"/"+string(rune('0'+at)), func(t *testing.T) {
				s := Spec{Method: "adagc", Threshold: 1.1}.With("warmup_steps", 3).With("warmup_max_norm", 5.0)
				c, _ := New[float64](s)
				ref, _ := New[float64](s)
				for k := 1; k < at; k++ {
					for _, cl := range []Clipper[float64]{c, ref} {
						if _, err := cl.Clip(smallModel(float64(k))); err != nil {
							t.Fatal(err)
						}
					}
				}
				ts := make()
				saved := make2(ts)
				_, err := c.Clip(ts)
				switch {
				case err == nil:
					t.Fatal("no error")
				case strings.HasPrefix(name, "nan") || strings.HasPrefix(name, "inf"):
					if !errors.Is(err, ErrNonFinite) {
						t.Fatalf("err = %v, want ErrNonFinite", err)
					}
				case at > 1 && !errors.Is(err, ErrShape):
					t.Fatalf("err = %v, want ErrShape", err)
				}
				for i := range saved {
					if !slices.EqualFunc(saved[i], ts[i].Grad, func(a, b float64) bool { return a == b || (a != a && b != b) }) {
						t.Fatalf("tensor %d changed: %v → %v", i, saved[i], ts[i].Grad)
					}
				}
				for k := at; k < at+4; k++ {
					x, y := smallModel(float64(k)*0.7), smallModel(float64(k)*0.7)
					sx, err := c.Clip(x)
					if err != nil {
						t.Fatal(err)
					}
					sy, _ := ref.Clip(y)
					nx, gx := adaGCState(c)
					ny, gy := adaGCState(ref)
					if !sameStats(sx, sy) || !slices.Equal(x[0].Grad, y[0].Grad) || !slices.Equal(x[1].Grad, y[1].Grad) || nx != ny || !slices.Equal(gx, gy) {
						t.Fatalf("step %d after the error: %+v γ %v (step %d), a clipper that never saw it: %+v γ %v (step %d)", k, sx, gx, nx, sy, gy, ny)
					}
				}
			})
		}
	}
}

func make2(ts []Tensor[float64]) [][]float64 {
	out := make([][]float64, len(ts))
	for i := range ts {
		out[i] = slices.Clone(ts[i].Grad)
	}
	return out
}

// TestAdaGCSpec checks the declaration's defaults against the reference's
// (AdaGC.__init__, line 289; Megatron's --clip-grad 1.0) and its checks
// against the reference's (lines 291-298: 0 ≤ β < 1, eps > 0,
// start_clip_steps ≥ 0).
func TestAdaGCSpec(t *testing.T) {
	js, err := json.Marshal(Spec{Method: "adagc", Threshold: 1.04}.Normalize())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"method":"adagc","threshold":1.04,"beta":0.99,"warmup_steps":100,"warmup_max_norm":1,"eps":0.000001}`; string(js) != want {
		t.Errorf("canonical JSON %s, want %s", js, want)
	}
	if got := (Spec{Method: "adagc", Threshold: 1.1}.With("warmup_steps", 5).Normalize().Label()); got != "adagc:1.1,warmup_steps=5" {
		t.Errorf("label %q", got)
	}
	for _, tc := range []struct {
		s     Spec
		field string // "" when valid
	}{
		{Spec{Method: "adagc"}, "threshold:"},
		{Spec{Method: "adagc", Threshold: 0.5}, ""},
		{Spec{Method: "adagc", Threshold: 1}.With("beta", 1.0), "beta:"},
		{Spec{Method: "adagc", Threshold: 1}.With("beta", -0.1), "beta:"},
		{Spec{Method: "adagc", Threshold: 1}.With("beta", 0.0), ""},
		{Spec{Method: "adagc", Threshold: 1}.With("warmup_steps", -1), "warmup_steps:"},
		{Spec{Method: "adagc", Threshold: 1}.With("warmup_steps", 0), ""},
		{Spec{Method: "adagc", Threshold: 1}.With("warmup_max_norm", 0.0), "warmup_max_norm:"},
		{Spec{Method: "adagc", Threshold: 1}.With("eps", 0.0), "eps:"},
	} {
		err := tc.s.Normalize().Validate()
		if tc.field == "" && err != nil || tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)) {
			t.Errorf("%+v: err = %v, want one about %q", tc.s, err, tc.field)
		}
	}
}

// TestAdaGCNoAllocs checks that Clip allocates nothing after its first call,
// during warm-up and after it.
func TestAdaGCNoAllocs(t *testing.T) {
	m := benchModels[0]
	ts := make([]Tensor[float32], len(m.shapes))
	for i, sh := range m.shapes {
		n := size(sh)
		ts[i] = Tensor[float32]{Name: "t", Role: m.roles[i], Shape: sh, Grad: make([]float32, n)}
		for j := range n {
			ts[i].Grad[j] = float32(j%7) * 0.01
		}
	}
	for _, warm := range []int{0, 1000} {
		c, _ := New[float32](Spec{Method: "adagc", Threshold: 1.04}.With("warmup_steps", warm).With("warmup_max_norm", 0.01))
		if _, err := c.Clip(ts); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(50, func() { c.Clip(ts) }); n != 0 {
			t.Errorf("warmup_steps %d: %v allocations per call", warm, n)
		}
	}
}

// BenchmarkAdaGC times one adagc Clip call in float32 on the mlp2 and rnn
// gradients of BenchmarkClip, in warm-up and after it, with thresholds that
// clip most steps (compare with BenchmarkClip's layer_norm, the other
// per-tensor rescale).
func BenchmarkAdaGC(b *testing.B) {
	for _, m := range benchModels {
		rng := rand.New(rand.NewPCG(1, 2))
		ts := make([]Tensor[float32], len(m.shapes))
		orig := make([][]float32, len(m.shapes))
		for i, sh := range m.shapes {
			n := size(sh)
			ts[i] = Tensor[float32]{Name: "t", Role: m.roles[i], Shape: sh, Grad: make([]float32, n)}
			orig[i] = make([]float32, n)
			for j := range n {
				orig[i][j] = float32(rng.NormFloat64() * 0.01)
			}
		}
		for _, warm := range []int{1 << 30, 0} {
			name := m.name + "/warmup"
			if warm == 0 {
				name = m.name + "/after"
			}
			b.Run(name, func(b *testing.B) {
				c, err := New[float32](Spec{Method: "adagc", Threshold: 0.5}.With("warmup_steps", warm).With("warmup_max_norm", 0.01))
				if err != nil {
					b.Fatal(err)
				}
				restore := func() {
					for i := range ts {
						copy(ts[i].Grad, orig[i])
					}
				}
				restore()
				if _, err := c.Clip(ts); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					restore()
					if _, err := c.Clip(ts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
