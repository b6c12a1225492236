package clipalgo

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"cliplab/internal/tensor"
)

// TestDPFlatWeights checks dp_flat's factors against Opacus's formula
// min(1, C/(‖g_i‖ + 1e-6)) (opacus/optimizers/optimizer.py,
// clip_and_accumulate) and its statistics.
func TestDPFlatWeights(t *testing.T) {
	c, err := NewExample(Spec{Method: "dp_flat", Threshold: 1}, DP{})
	if err != nil {
		t.Fatal(err)
	}
	// Three examples of two tensors: norms 0.5, 1 and 5.
	sq := []float64{0.09, 0.16, 0.36, 0.64, 9, 16}
	w := make([]float32, 6)
	st, err := c.Weights(w, sq, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 1, 1 / (1 + 1e-6), 1 / (1 + 1e-6), 1 / (5 + 1e-6), 1 / (5 + 1e-6)}
	for i := range w {
		if w[i] != float32(want[i]) {
			t.Errorf("w[%d] = %v, want %v", i, w[i], float32(want[i]))
		}
	}
	// The example at norm exactly C is nudged by the 1e-6, not counted.
	if st.Fraction != 1.0/3 || st.Threshold != 1 {
		t.Errorf("fraction %v threshold %v, want 1/3 and 1", st.Fraction, st.Threshold)
	}
	if math.Abs(st.NormBefore-6.5/3) > 1e-12 || math.Abs(st.NormAfter-(0.5+1/(1+1e-6)+5/(5+1e-6))/3) > 1e-12 {
		t.Errorf("norms %v → %v", st.NormBefore, st.NormAfter)
	}
	if _, err := c.Weights(w, []float64{1, math.NaN()}, 1, 2); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN norm: %v, want ErrNonFinite", err)
	}
	if _, err := c.Weights(w[:1], sq, 3, 2); !errors.Is(err, ErrShape) {
		t.Errorf("short w: %v, want ErrShape", err)
	}
	if st, err := c.Weights(nil, nil, 0, 2); err != nil || st.Fraction != 0 {
		t.Errorf("empty batch: %+v, %v", st, err)
	}
}

// TestDPFlatOneExampleIsNorm: with a batch of one, dp_flat's clipped
// gradient is torch's global-norm clipping (method norm) of that gradient.
func TestDPFlatOneExampleIsNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dp, _ := NewExample(Spec{Method: "dp_flat", Threshold: 0.7}, DP{})
	norm, _ := New[float32](Spec{Method: "norm", Threshold: 0.7})
	for trial := range 20 {
		ts := []Tensor[float32]{
			{Name: "w", Role: tensor.DenseWeight, Shape: []int{3, 4}, Grad: make([]float32, 12)},
			{Name: "b", Role: tensor.Bias, Shape: []int{3}, Grad: make([]float32, 3)},
		}
		scale := math.Pow(10, float64(trial%5-2))
		sq := make([]float64, len(ts))
		for k := range ts {
			for j := range ts[k].Grad {
				v := float32((2*rng.Float64() - 1) * scale)
				ts[k].Grad[j] = v
				sq[k] += float64(v) * float64(v)
			}
		}
		w := make([]float32, len(ts))
		want := make([][]float32, len(ts))
		for k := range ts {
			want[k] = append([]float32(nil), ts[k].Grad...)
		}
		wst, err := dp.Weights(w, sq, 1, len(ts))
		if err != nil {
			t.Fatal(err)
		}
		nst, err := norm.Clip(ts)
		if err != nil {
			t.Fatal(err)
		}
		if (wst.Fraction == 1) != (nst.Fraction == 1) {
			t.Errorf("trial %d: dp_flat clipped %v, norm %v", trial, wst.Fraction, nst.Fraction)
		}
		for k := range ts {
			for j, g := range want[k] {
				got := w[k] * g
				if d := math.Abs(float64(got - ts[k].Grad[j])); d > 1e-6*math.Abs(float64(ts[k].Grad[j]))+1e-30 {
					t.Errorf("trial %d %s[%d]: dp_flat %v, norm %v", trial, ts[k].Name, j, got, ts[k].Grad[j])
				}
			}
		}
	}
}
