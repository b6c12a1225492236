package clipalgo

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/tensor"
)

// TestEdgeCases holds each method to values worked out by hand from its
// reference's formula, on the cases the golden files do not reach: zero
// gradients, parameters far below AGC's eps, AGC's div_eps, norms exactly
// at the threshold, the L∞ norm, and optax's squeeze of an (out, 1) weight.
func TestEdgeCases(t *testing.T) {
	type tcase struct {
		role        tensor.Role
		shape       []int
		param, grad []float64
		last        bool
		want        []float64
	}
	cases := []struct {
		name     string
		spec     Spec
		ts       []tcase
		fraction float64
	}{
		// Zero gradients: nothing to clip. torch's coef is c/(0+1e-6),
		// clamped to 1; optax's trigger 0 < c keeps them; AGC's ‖G‖ = 0 is
		// below λ·max(‖W‖, eps) > 0.
		{"norm torch zeros", Spec{Method: "norm", Threshold: 1}, []tcase{{tensor.Bias, []int{3}, nil, []float64{0, 0, 0}, false, []float64{0, 0, 0}}}, 0},
		{"norm optax zeros", Spec{Method: "norm", Threshold: 1}.With("variant", "optax"), []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"norm inf zeros", Spec{Method: "norm", Threshold: 1}.With("norm_type", "inf"), []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"layer_norm zeros", Spec{Method: "layer_norm", Threshold: 1}, []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"block_rms zeros", Spec{Method: "block_rms", Threshold: 1}, []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"value zeros", Spec{Method: "value", Threshold: 1}, []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"agc zeros, zero weights", Spec{Method: "agc", Threshold: 0.01}, []tcase{{tensor.DenseWeight, []int{2, 2}, []float64{0, 0, 0, 0}, []float64{0, 0, 0, 0}, false, []float64{0, 0, 0, 0}}}, 0},
		{"autoclip zeros", Spec{Method: "autoclip", Threshold: 50}, []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},
		{"zclip zeros", Spec{Method: "zclip", Threshold: 2.5}, []tcase{{tensor.Bias, []int{2}, nil, []float64{0, 0}, false, []float64{0, 0}}}, 0},

		// Weights far below eps: max = λ·eps = 0.01·1e-3 = 1e-5; ‖G‖ = 5e-5,
		// so G·1e-5/5e-5 = G·0.2.
		{"agc tiny weights", Spec{Method: "agc", Threshold: 0.01}, []tcase{{tensor.Bias, []int{2}, []float64{1e-9, 0}, []float64{3e-5, 4e-5}, false, []float64{6e-6, 8e-6}}}, 1},
		// div_eps: max = 1e-4·1e-3 = 1e-7 ≤ ‖G‖ = 5e-7 < 1e-6, so optax
		// scales by 1e-7/max(5e-7, 1e-6) = 0.1, below max itself.
		{"agc div_eps", Spec{Method: "agc", Threshold: 1e-4}, []tcase{{tensor.Bias, []int{2}, []float64{0, 0}, []float64{3e-7, 4e-7}, false, []float64{3e-8, 4e-8}}}, 1},
		// Unit-wise: row 0 has ‖W‖ = 5, max 0.25, ‖G‖ = 0.5 → ·0.5; row 1 has
		// ‖W‖ = 0 → max 0.05·1e-3 = 5e-5, ‖G‖ = 0.1 → ·5e-4; the zero bias is
		// a third unit, unclipped: 2 of 3 units.
		{"agc units", Spec{Method: "agc", Threshold: 0.05}, []tcase{
			{tensor.DenseWeight, []int{2, 2}, []float64{3, 4, 0, 0}, []float64{0.3, 0.4, 0.06, 0.08}, false, []float64{0.15, 0.2, 3e-5, 4e-5}},
			{tensor.Bias, []int{2}, []float64{0, 0}, []float64{0, 0}, false, []float64{0, 0}},
		}, 2.0 / 3},
		// exclude_last leaves the Last tensors alone and out of the count.
		{"agc exclude_last", Spec{Method: "agc", Threshold: 0.05}.With("exclude_last", true), []tcase{
			{tensor.DenseWeight, []int{1, 2}, []float64{3, 4}, []float64{0.3, 0.4}, false, []float64{0.15, 0.2}},
			{tensor.DenseWeight, []int{1, 2}, []float64{3, 4}, []float64{0.3, 0.4}, true, []float64{0.3, 0.4}},
		}, 1},
		// An (out, 1) weight is (1, out) in optax's layout, which squeezes to
		// a vector: one unit, ‖W‖ = 5, max 0.25, ‖G‖ = 0.5 → ·0.5 (per row
		// it would give 0.15, 0.2).
		{"agc (out,1) is one unit", Spec{Method: "agc", Threshold: 0.05}, []tcase{
			{tensor.DenseWeight, []int{2, 1}, []float64{3, 4}, []float64{0.4, 0.3}, false, []float64{0.2, 0.15}},
		}, 1},
		// ‖G‖ = max = 0.1·5 = 0.5 exactly: optax takes the clipped branch
		// (not ‖G‖ < max) with factor 0.5/0.5 = 1: unchanged, not counted.
		{"agc at max", Spec{Method: "agc", Threshold: 0.1}, []tcase{{tensor.Bias, []int{2}, []float64{5, 0}, []float64{0.5, 0}, false, []float64{0.5, 0}}}, 0},

		// A norm of exactly the threshold: torch still multiplies by
		// 5/(5+1e-6); optax leaves it (5 < 5 is false, factor 5/5 = 1).
		{"norm torch at threshold", Spec{Method: "norm", Threshold: 5}, []tcase{{tensor.Bias, []int{2}, nil, []float64{3, 4}, false, []float64{3 * 5 / (5 + 1e-6), 4 * 5 / (5 + 1e-6)}}}, 0},
		{"norm optax at threshold", Spec{Method: "norm", Threshold: 5}.With("variant", "optax"), []tcase{{tensor.Bias, []int{2}, nil, []float64{3, 4}, false, []float64{3, 4}}}, 0},
		// L∞: the largest |g| is 4, coef 2/(4+1e-6).
		{"norm inf", Spec{Method: "norm", Threshold: 2}.With("norm_type", "inf"), []tcase{
			{tensor.Bias, []int{2}, nil, []float64{3, -4}, false, []float64{3 * 2 / (4 + 1e-6), -4 * 2 / (4 + 1e-6)}},
			{tensor.Bias, []int{1}, nil, []float64{1}, false, []float64{2 / (4 + 1e-6)}},
		}, 1},
		{"norm inf optax", Spec{Method: "norm", Threshold: 2}.With("norm_type", "inf").With("variant", "optax"), []tcase{
			{tensor.Bias, []int{3}, nil, []float64{3, -4, 1}, false, []float64{1.5, -2, 0.5}},
		}, 1},
		// clamp_: ±2 themselves are not clamped: 1 of 4.
		{"value", Spec{Method: "value", Threshold: 2}, []tcase{{tensor.DenseWeight, []int{2, 2}, nil, []float64{-3, 0.5, 2, -2}, false, []float64{-2, 0.5, 2, -2}}}, 0.25},
		// ‖(3, 4)‖ = 5 → ·1/5; ‖(0.3, 0.4)‖ = 0.5 ≤ 1 stays.
		{"layer_norm", Spec{Method: "layer_norm", Threshold: 1}, []tcase{
			{tensor.Bias, []int{2}, nil, []float64{3, 4}, false, []float64{0.6, 0.8}},
			{tensor.Bias, []int{2}, nil, []float64{0.3, 0.4}, false, []float64{0.3, 0.4}},
		}, 0.5},
		// rms(3, 4) = √12.5 → ÷√12.5; rms(0.5, 0.5) = 0.5 ≤ 1 stays; rms of
		// (1, 1) is exactly the threshold: max(1, 1) = 1, unchanged.
		{"block_rms", Spec{Method: "block_rms", Threshold: 1}, []tcase{
			{tensor.Bias, []int{2}, nil, []float64{3, 4}, false, []float64{3 / math.Sqrt(12.5), 4 / math.Sqrt(12.5)}},
			{tensor.Bias, []int{2}, nil, []float64{0.5, 0.5}, false, []float64{0.5, 0.5}},
			{tensor.Bias, []int{2}, nil, []float64{1, 1}, false, []float64{1, 1}},
		}, 1.0 / 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New[float64](tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			ts := make([]Tensor[float64], len(tc.ts))
			for i, x := range tc.ts {
				ts[i] = Tensor[float64]{Name: "t", Role: x.role, Shape: x.shape, Param: x.param, Grad: slices.Clone(x.grad), Last: x.last}
			}
			before := GlobalNorm(ts, 2)
			st, err := c.Clip(ts)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range tc.ts {
				for j := range x.want {
					if !close(ts[i].Grad[j], x.want[j], 1e-14) {
						t.Errorf("tensor %d [%d] = %.17g, want %.17g", i, j, ts[i].Grad[j], x.want[j])
					}
				}
			}
			if !close(st.Fraction, tc.fraction, 1e-15) {
				t.Errorf("fraction %v, want %v", st.Fraction, tc.fraction)
			}
			if st.NormBefore != before || !close(st.NormAfter, GlobalNorm(ts, 2), 1e-14) {
				t.Errorf("norms %v → %v, want %v → %v", st.NormBefore, st.NormAfter, before, GlobalNorm(ts, 2))
			}
		})
	}
}

// TestNonFinite checks that a NaN or ±Inf gradient (or AGC parameter) is
// an error naming the tensor, and that neither the gradients nor an
// adaptive method's state change.
func TestNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, s := range specsForAll() {
		for _, bad := range []float64{nan, inf, -inf} {
			t.Run(s.Method+"/"+strings.TrimSpace(fmtFloat(bad)), func(t *testing.T) {
				c, err := New[float64](s)
				if err != nil {
					t.Fatal(err)
				}
				ref, _ := New[float64](s)
				// A few good steps so the adaptive methods are past warm-up.
				for k := range 4 {
					good := smallModel(float64(k + 1))
					if _, err := c.Clip(good); err != nil {
						t.Fatal(err)
					}
					if _, err := ref.Clip(smallModel(float64(k + 1))); err != nil {
						t.Fatal(err)
					}
				}
				ts := smallModel(100)
				ts[1].Grad[1] = bad
				saved := [][]float64{slices.Clone(ts[0].Grad), slices.Clone(ts[1].Grad)}
				_, err = c.Clip(ts)
				if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), `"b1"`) {
					t.Fatalf("err = %v, want ErrNonFinite naming b1", err)
				}
				for i := range saved {
					for j := range saved[i] {
						if a, b := ts[i].Grad[j], saved[i][j]; a != b && !(a != a && b != b) {
							t.Fatalf("tensor %d [%d] changed: %v → %v", i, j, b, a)
						}
					}
				}
				// The state is as if the bad step never came.
				x, y := smallModel(7), smallModel(7)
				sx, _ := c.Clip(x)
				sy, _ := ref.Clip(y)
				if !sameStats(sx, sy) || !slices.Equal(x[0].Grad, y[0].Grad) {
					t.Errorf("after the error: %+v, a clipper that never saw it: %+v", sx, sy)
				}
			})
		}
	}

	c, _ := New[float64](Spec{Method: "agc", Threshold: 0.01})
	ts := smallModel(1)
	ts[0].Param[3] = nan
	saved := slices.Clone(ts[0].Grad)
	if _, err := c.Clip(ts); !errors.Is(err, ErrNonFiniteParam) || !strings.Contains(err.Error(), `"w0"`) {
		t.Errorf("agc with a NaN weight: err = %v, want ErrNonFiniteParam naming w0", err)
	}
	if !slices.Equal(saved, ts[0].Grad) {
		t.Error("agc changed gradients before reporting a NaN weight")
	}
}

func TestShapeErrors(t *testing.T) {
	for _, s := range specsForAll() {
		c, _ := New[float32](s)
		ts := []Tensor[float32]{{Name: "w", Role: tensor.DenseWeight, Shape: []int{2, 3}, Param: make([]float32, 6), Grad: make([]float32, 5)}}
		if _, err := c.Clip(ts); !errors.Is(err, ErrShape) {
			t.Errorf("%s: 5 gradients for (2, 3): err = %v, want ErrShape", s.Method, err)
		}
		ts = []Tensor[float32]{{Name: "w", Role: tensor.ConvWeight, Shape: []int{2, 3}, Param: make([]float32, 6), Grad: make([]float32, 6)}}
		if _, err := c.Clip(ts); !errors.Is(err, ErrShape) {
			t.Errorf("%s: conv of rank 2: err = %v, want ErrShape", s.Method, err)
		}
	}
	c, _ := New[float32](Spec{Method: "agc", Threshold: 0.01})
	ts := []Tensor[float32]{{Name: "w", Role: tensor.Bias, Shape: []int{3}, Grad: make([]float32, 3)}}
	if _, err := c.Clip(ts); !errors.Is(err, ErrShape) {
		t.Errorf("agc without parameters: err = %v, want ErrShape", err)
	}
}

func fmtFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	}
	return "-Inf"
}

// specsForAll is one Spec per method, zclip with a short warm-up.
func specsForAll() []Spec {
	return []Spec{
		{Method: "none"},
		{Method: "value", Threshold: 0.1},
		{Method: "norm", Threshold: 1},
		Spec{Method: "norm", Threshold: 1}.With("norm_type", "inf").With("variant", "optax"),
		{Method: "layer_norm", Threshold: 1},
		{Method: "block_rms", Threshold: 0.1},
		{Method: "agc", Threshold: 0.01},
		{Method: "autoclip", Threshold: 10},
		Spec{Method: "zclip", Threshold: 2.5}.With("warmup_steps", 3),
	}
}

// smallModel is a dense layer and its bias with gradients of size ~k.
func smallModel(k float64) []Tensor[float64] {
	w := []float64{0.1, -0.2, 0.3, -0.4, 0.5, -0.6}
	g := []float64{1, -2, 3, -1, 2, -3}
	b := []float64{0.01, 0.02}
	gb := []float64{-1, 1.5}
	for i := range g {
		g[i] *= k
	}
	for i := range gb {
		gb[i] *= k
	}
	return []Tensor[float64]{
		{Name: "w0", Role: tensor.DenseWeight, Shape: []int{2, 3}, Param: w, Grad: g},
		{Name: "b1", Role: tensor.Bias, Shape: []int{2}, Param: b, Grad: gb},
	}
}

// sameStats reports a == b, NaN equal to NaN.
func sameStats(a, b Stats) bool {
	eq := func(x, y float64) bool { return x == y || (x != x && y != y) }
	return eq(a.NormBefore, b.NormBefore) && eq(a.NormAfter, b.NormAfter) && eq(a.Fraction, b.Fraction) && eq(a.Threshold, b.Threshold)
}
