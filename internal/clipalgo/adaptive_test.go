package clipalgo

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"cliplab/internal/tensor"
)

// vec returns a one-tensor model whose gradient is n·(0.6, 0.8), of norm n.
func vec(n float64) []Tensor[float64] {
	return []Tensor[float64]{{Name: "g", Role: tensor.Bias, Shape: []int{2}, Grad: []float64{0.6 * n, 0.8 * n}}}
}

// step is one Clip call on vec(norm) and what it must report.
type step struct {
	norm      float64
	threshold float64 // Stats.Threshold
	coef      float64 // the gradient afterwards is coef·vec(norm)
	fraction  float64
}

func runSteps(t *testing.T, s Spec, steps []step, after func(t *testing.T, i int, c Clipper[float64])) {
	t.Helper()
	c, err := New[float64](s)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		ts := vec(st.norm)
		got, err := c.Clip(ts)
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if !close(got.Threshold, st.threshold, 1e-12) {
			t.Errorf("step %d: threshold %.17g, want %.17g", i+1, got.Threshold, st.threshold)
		}
		if got.Fraction != st.fraction {
			t.Errorf("step %d: fraction %v, want %v", i+1, got.Fraction, st.fraction)
		}
		if got.NormBefore != st.norm {
			t.Errorf("step %d: norm before %v, want %v", i+1, got.NormBefore, st.norm)
		}
		want := vec(st.norm * st.coef)[0].Grad
		for j := range want {
			if !close(ts[0].Grad[j], want[j], 1e-12) {
				t.Errorf("step %d: grad[%d] %.17g, want %.17g", i+1, j, ts[0].Grad[j], want[j])
			}
		}
		if !close(got.NormAfter, st.norm*st.coef, 1e-12) {
			t.Errorf("step %d: norm after %.17g, want %.17g", i+1, got.NormAfter, st.norm*st.coef)
		}
		if after != nil {
			after(t, i+1, c)
		}
	}
}

// close reports |a-b| ≤ tol·max(1, |b|), treating equal infinities as close.
func close(a, b, tol float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// TestAutoClipHand follows pseeth/autoclip's autoclip.py (commit dfb622c) by
// hand: line 27 appends the norm to the history, line 28 takes
// np.percentile(history, p) (linear: virtual index (n-1)·p/100), line 29
// clips with clip_grad_norm_, coef = min(1, c/(N+1e-6)).
func TestAutoClipHand(t *testing.T) {
	runSteps(t, Spec{Method: "autoclip", Threshold: 50}, []step{
		// history [1]: the 50th percentile is 1 itself; torch still nudges
		// by 1/(1+1e-6), which does not count as clipping.
		{norm: 1, threshold: 1, coef: 1 / (1 + 1e-6)},
		// [1 3]: index 0.5 → 1 + 0.5·2 = 2.
		{norm: 3, threshold: 2, coef: 2 / (3 + 1e-6), fraction: 1},
		// [1 2 3]: index 1 → 2.
		{norm: 2, threshold: 2, coef: 2 / (2 + 1e-6)},
		// [1 2 3 10]: index 1.5 → 2.5.
		{norm: 10, threshold: 2.5, coef: 2.5 / (10 + 1e-6), fraction: 1},
		// [0.5 1 2 3 10]: index 2 → 2; 0.5 is below it, nudged only.
		{norm: 0.5, threshold: 2, coef: 1},
	}, nil)
	// optax's rescale: unchanged below the threshold, c/N above it.
	runSteps(t, Spec{Method: "autoclip", Threshold: 90}.With("variant", "optax"), []step{
		{norm: 1, threshold: 1, coef: 1},
		// [1 4]: index 0.9 → 4 - 3·0.1 = 3.7.
		{norm: 4, threshold: 3.7, coef: 3.7 / 4, fraction: 1},
	}, nil)
}

// zclipState exposes the EMA of a float64 zclip Clipper.
func zclipState(c Clipper[float64]) (mean, vari float64, ok bool) {
	z := c.(*zClip[float64])
	return z.mean, z.vari, z.initialized
}

// TestZClipHand follows bluorion-com/ZClip's zclip/zclip.py (commit 584ce4f)
// by hand with warmup_steps 2, α = 0.97, z_thresh 2.5, eps 1e-6.
func TestZClipHand(t *testing.T) {
	// Warm-up norms 1 and 3: _initialize_ema (lines 71-75) gives μ = 2 and
	// the population variance σ² = ((1-2)² + (3-2)²)/2 = 1.
	// Step 3, N = 12: z = (12-2)/(1+1e-6) (line 84) > 2.5, so (lines
	// 131-132) clip to μ + 2.5²·σ/z = 2 + 6.25·(1+1e-6)/10 = 2.625000625.
	// The threshold reported is the trigger μ + 2.5·(σ+1e-6) = 4.5000025.
	// The EMA (line 210, lines 79-80) takes the clip value, not the norm:
	// μ = 0.97·2 + 0.03·2.625000625 = 2.01875001875,
	// σ² = 0.97·1 + 0.03·(2.625000625 - 2.01875001875)² = 0.98102619392735...
	// Step 4, N = 2: z < 0, no clip; trigger 2.01875001875 + 2.5·(σ+1e-6)
	// = 4.4949216793781...; μ = 0.97·2.01875001875 + 0.03·2 = 2.0181875181875,
	// σ² = 0.97·0.98102619392735 + 0.03·(2 - 2.0181875181875)² = 0.95160533168406...
	// Step 5, N = 5: σ = 0.97550260465..., z = (5 - 2.0181875181875)/(σ+1e-6)
	// = 3.05669037776... > 2.5: clip to μ + 6.25·σ/z = 4.01279296577...
	const (
		thr3, mean3, var3 = 2.625000625, 2.01875001875, 0.9810261939273548
		mean4, var4       = 2.0181875181875, 0.9516053316840688
		thr5              = 4.01279296577805
	)
	trig4 := mean3 + 2.5*(math.Sqrt(var3)+1e-6)
	trig5 := mean4 + 2.5*(math.Sqrt(var4)+1e-6)
	steps := []step{
		{norm: 1, threshold: math.Inf(1), coef: 1},
		{norm: 3, threshold: math.Inf(1), coef: 1},
		{norm: 12, threshold: 4.5000025, coef: thr3 / (12 + 1e-6), fraction: 1},
		{norm: 2, threshold: trig4, coef: 1},
		{norm: 5, threshold: trig5, coef: thr5 / (5 + 1e-6), fraction: 1},
	}
	state := []struct{ mean, vari float64 }{{}, {2, 1}, {mean3, var3}, {mean4, var4}}
	checkState := func(t *testing.T, i int, c Clipper[float64]) {
		if i > len(state) {
			return
		}
		m, v, ok := zclipState(c)
		if ok != (i >= 2) || !close(m, state[i-1].mean, 1e-12) || !close(v, state[i-1].vari, 1e-12) {
			t.Errorf("after step %d: μ %.17g σ² %.17g initialised %v, want %.17g %.17g", i, m, v, ok, state[i-1].mean, state[i-1].vari)
		}
	}
	s := Spec{Method: "zclip", Threshold: 2.5}.With("warmup_steps", 2).With("max_grad_norm", -1.0)
	t.Run("no cap", func(t *testing.T) { runSteps(t, s, steps, checkState) })

	// With the default cap max_grad_norm = 1.0: warm-up steps go through
	// clip_grad_norm_(1.0) (line 200); later the clip value is
	// min(clip, 1.0) (line 164) applied as 1/(N+1e-6) when N > 1 (line 149);
	// the EMA still takes the uncapped clip value (line 210), so μ and σ²
	// are those above. Step 4's N = 2 exceeds the cap alone.
	s = s.With("max_grad_norm", 1.0)
	capped := []step{
		{norm: 1, threshold: 1, coef: 1 / (1 + 1e-6)},
		{norm: 3, threshold: 1, coef: 1 / (3 + 1e-6), fraction: 1},
		{norm: 12, threshold: 1, coef: 1 / (12 + 1e-6), fraction: 1},
		{norm: 2, threshold: 1, coef: 1 / (2 + 1e-6), fraction: 1},
		{norm: 5, threshold: 1, coef: 1 / (5 + 1e-6), fraction: 1},
	}
	t.Run("cap 1", func(t *testing.T) { runSteps(t, s, capped, checkState) })

	// clip_option mean (line 135): clip to μ; skip_update_on_spike (line
	// 206) leaves μ, σ² at the warm-up values after step 3's spike.
	s = Spec{Method: "zclip", Threshold: 2.5}.With("warmup_steps", 2).With("max_grad_norm", -1.0).With("clip_option", "mean").With("skip_update_on_spike", true)
	runSteps(t, s, []step{
		{norm: 1, threshold: math.Inf(1), coef: 1},
		{norm: 3, threshold: math.Inf(1), coef: 1},
		{norm: 12, threshold: 4.5000025, coef: 2 / (12 + 1e-6), fraction: 1},
	}, func(t *testing.T, i int, c Clipper[float64]) {
		if m, v, _ := zclipState(c); i == 3 && (m != 2 || v != 1) {
			t.Errorf("after a skipped spike: μ %v σ² %v, want 2 1", m, v)
		}
	})
}

// adaptiveReference is testdata/adaptive_reference.json, which
// testdata/gen_adaptive.py writes by running the reference code of AutoClip
// and ZClip (and numpy.percentile).
type adaptiveReference struct {
	Numpy       string `json:"numpy"`
	Percentiles []struct {
		A    []float64 `json:"a"`
		P    float64   `json:"p"`
		Want float64   `json:"want"`
	} `json:"percentiles"`
	Shapes [][]int `json:"shapes"`
	Cases  []struct {
		Name  string                     `json:"name"`
		Spec  map[string]json.RawMessage `json:"spec"`
		Steps []struct {
			Grad    [][]float64 `json:"grad"`
			Clipped [][]float64 `json:"clipped"`
			Mean    *float64    `json:"mean"`
			Var     *float64    `json:"var"`
		} `json:"steps"`
	} `json:"cases"`
}

func loadAdaptive(t *testing.T) *adaptiveReference {
	raw, err := os.ReadFile(filepath.Join("testdata", "adaptive_reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r adaptiveReference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestPercentileNumpy checks percentile bit for bit against
// numpy.percentile's default method (numpy 1.24, testdata/gen_adaptive.py).
func TestPercentileNumpy(t *testing.T) {
	r := loadAdaptive(t)
	if len(r.Percentiles) == 0 {
		t.Fatal("no percentile cases")
	}
	for _, c := range r.Percentiles {
		if got := percentile(c.A, c.P); got != c.Want {
			t.Errorf("percentile(n=%d, %v) = %.17g, numpy %s %.17g", len(c.A), c.P, got, r.Numpy, c.Want)
		}
	}
}

// TestAdaptiveReference replays the gradient sequences on which the
// reference AutoClip and ZClip code ran and compares every clipped element
// (and ZClip's μ and σ²) after every step.
func TestAdaptiveReference(t *testing.T) {
	r := loadAdaptive(t)
	if len(r.Cases) == 0 {
		t.Fatal("no cases")
	}
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
			clips := 0
			for i, st := range rc.Steps {
				ts := make([]Tensor[float64], len(st.Grad))
				for j := range st.Grad {
					ts[j] = Tensor[float64]{Name: "t", Shape: r.Shapes[j], Grad: append([]float64(nil), st.Grad[j]...)}
					ts[j].Role = [...]tensor.Role{tensor.DenseWeight, tensor.Bias}[len(r.Shapes[j])%2]
				}
				stats, err := c.Clip(ts)
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				clips += int(stats.Fraction)
				for j := range ts {
					for k, want := range st.Clipped[j] {
						if math.Abs(ts[j].Grad[k]-want) > 1e-12 {
							t.Fatalf("step %d: tensor %d [%d] = %.17g, reference %.17g", i+1, j, k, ts[j].Grad[k], want)
						}
					}
				}
				if st.Mean != nil {
					m, v, _ := zclipState(c)
					if !close(m, *st.Mean, 1e-12) || !close(v, *st.Var, 1e-12) {
						t.Fatalf("step %d: μ %.17g σ² %.17g, reference %.17g %.17g", i+1, m, v, *st.Mean, *st.Var)
					}
				}
			}
			if s.Method == "autoclip" && s.Threshold == 100 {
				// The 100th percentile is the largest norm so far: never exceeded.
				if clips != 0 {
					t.Errorf("%d steps clipped at the 100th percentile", clips)
				}
			} else if clips == 0 || clips == len(rc.Steps) {
				t.Errorf("%d of %d steps clipped: the sequence does not tell clipping from not", clips, len(rc.Steps))
			}
		})
	}
}
