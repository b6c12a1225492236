package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestOptimizers checks two steps of each optimizer against the update
// rules of torch.optim (PyTorch 1.13 docs and _single_tensor_sgd /
// _single_tensor_adam / _single_tensor_adamw), worked by hand for one
// weight w₀ = 1 with lr 0.1. A second tensor with the gradients negated
// must move the opposite way (w₀ = −1), so that updates are not mixed up
// between tensors.
func TestOptimizers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  OptimSpec
		grads [2]float32
		want  [2]float64 // w after step 1 and step 2
	}{
		// w ← w − lr·g: 1 − 0.05, then − 0.05.
		{"sgd", OptimSpec{Name: "sgd"}, [2]float32{0.5, 0.5}, [2]float64{0.95, 0.9}},
		// g ← g + λw: 1 − 0.1·(0.5 + 0.1) = 0.94; 0.94 − 0.1·(0.5 + 0.094) = 0.8806.
		{"sgd-wd", OptimSpec{Name: "sgd", WeightDecay: 0.1}, [2]float32{0.5, 0.5}, [2]float64{0.94, 0.8806}},
		// buf₁ = g = 0.5 → 0.95; buf₂ = 0.9·0.5 + 0.5 = 0.95 → 0.95 − 0.095 = 0.855.
		{"momentum", OptimSpec{Name: "momentum"}, [2]float32{0.5, 0.5}, [2]float64{0.95, 0.855}},
		// The first step takes no dampening: buf₁ = 0.5 → 0.95;
		// buf₂ = 0.9·0.5 + (1 − 0.5)·0.5 = 0.7 → 0.95 − 0.07 = 0.88.
		{"momentum-dampening", OptimSpec{Name: "momentum", Dampening: 0.5}, [2]float32{0.5, 0.5}, [2]float64{0.95, 0.88}},
		// Nesterov: g + μ·buf: 0.5 + 0.45 = 0.95 → 0.905; buf₂ = 0.95,
		// 0.5 + 0.855 = 1.355 → 0.905 − 0.1355 = 0.7695.
		{"nesterov", OptimSpec{Name: "momentum", Nesterov: true}, [2]float32{0.5, 0.5}, [2]float64{0.905, 0.7695}},
		// Adam, β = (0.9, 0.999), ε = 1e-8. Step 1: m = 0.05, v = 0.00025,
		// lr/(1−β₁) = 1, √v/√(1−β₂) = 0.5 → 1 − 0.05/(0.5 + 1e-8) = 0.9.
		// Step 2, g = −0.25: m = 0.045 − 0.025 = 0.02, v = 0.00024975 +
		// 0.0000625 = 0.00031225, lr/(1−0.81) = 0.5263158,
		// √(0.00031225/0.001999) = 0.3952254 → 0.9 − 0.5263158·0.02/0.3952254
		// = 0.8733663.
		{"adam", OptimSpec{Name: "adam"}, [2]float32{0.5, -0.25}, [2]float64{0.9, 0.8733663}},
		// L2 through the gradient: g = 0.5 + 0.1 = 0.6, m = 0.06, √v/√(1−β₂)
		// = 0.6 → 0.9. Step 2: g = 0.5 + 0.09 = 0.59, m = 0.113, v =
		// 0.00035964 + 0.0003481 = 0.00070774, √(v/0.001999) = 0.5950185,
		// 0.5263158·0.113/0.5950185 = 0.0999527 → 0.8000473.
		{"adam-l2", OptimSpec{Name: "adam", WeightDecay: 0.1}, [2]float32{0.5, 0.5}, [2]float64{0.9, 0.8000473}},
		// AdamW decays first: 1·(1 − 0.1·0.01) = 0.999, then the Adam step
		// of 0.1 → 0.899; 0.899·0.999 = 0.898101, − 0.1 (constant gradient:
		// m/√v stays 1 after bias correction) → 0.798101.
		{"adamw", OptimSpec{Name: "adamw"}, [2]float32{0.5, 0.5}, [2]float64{0.899, 0.798101}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Param{Name: "a", Shape: []int{1}, W: []float32{1}, G: make([]float32, 1)}
			b := &Param{Name: "b", Shape: []int{1}, W: []float32{-1}, G: make([]float32, 1)}
			opt, err := NewOptimizer(tc.spec, []*Param{a, b})
			if err != nil {
				t.Fatal(err)
			}
			for s, g := range tc.grads {
				a.G[0], b.G[0] = g, -g
				opt.Step(0.1)
				if math.Abs(float64(a.W[0])-tc.want[s]) > 2e-6 || a.W[0] != -b.W[0] {
					t.Errorf("step %d: w = %.7f and %.7f, want %.7f and its negative", s+1, a.W[0], b.W[0], tc.want[s])
				}
			}
		})
	}
}

func TestOptimizerErrors(t *testing.T) {
	for _, spec := range []OptimSpec{
		{Name: "rmsprop"},
		{Name: "momentum", Momentum: 1.5},
		{Name: "momentum", Nesterov: true, Dampening: 0.1},
		{Name: "adam", Eps: -1},
		{Name: "sgd", WeightDecay: math.NaN()},
	} {
		if _, err := NewOptimizer(spec, nil); err == nil {
			t.Errorf("NewOptimizer(%+v) succeeded", spec)
		}
	}
}

// TestAdamBits: the vectorised Adam gives, bit for bit, the scalar rule
// written out in Go with every operation rounded to float32 (explicit
// conversions forbid fused multiply-adds), on a length that leaves a tail.
func TestAdamBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spec := range []OptimSpec{{Name: "adam"}, {Name: "adam", WeightDecay: 0.1}, {Name: "adamw"}} {
		const n = 37
		p := &Param{Name: "p", Shape: []int{n}, W: randu(rng, n, 1), G: make([]float32, n)}
		w := append([]float32(nil), p.W...)
		m, v := make([]float32, n), make([]float32, n)
		opt, err := NewOptimizer(spec, []*Param{p})
		if err != nil {
			t.Fatal(err)
		}
		s := spec.Normalize()
		b1, b2, eps, wd := float32(s.Beta1), float32(s.Beta2), float32(s.Eps), float32(s.WeightDecay)
		// 1 − β in float64, then rounded: PyTorch passes alpha=1-beta1 as a
		// Python float.
		c1, c2 := float32(1-s.Beta1), float32(1-s.Beta2)
		const lr = 0.01
		for step := 1; step <= 3; step++ {
			copy(p.G, randu(rng, n, 1))
			opt.Step(lr)
			nstep := float32(-lr / (1 - math.Pow(s.Beta1, float64(step))))
			bc2s := float32(math.Sqrt(1 - math.Pow(s.Beta2, float64(step))))
			decay := float32(1 - lr*s.WeightDecay)
			for i := range w {
				g := p.G[i]
				if s.Name == "adamw" {
					w[i] = float32(w[i] * decay)
				} else if wd != 0 {
					g = float32(g + float32(wd*w[i]))
				}
				m[i] = float32(float32(b1*m[i]) + float32(c1*g))
				v[i] = float32(float32(b2*v[i]) + float32(c2*float32(g*g)))
				denom := float32(float32(float32(math.Sqrt(float64(v[i])))/bc2s) + eps)
				w[i] = float32(w[i] + float32(nstep*float32(m[i]/denom)))
			}
			for i := range w {
				if p.W[i] != w[i] {
					t.Fatalf("%s step %d: w[%d] = %v, scalar rule %v", spec.Name, step, i, p.W[i], w[i])
				}
			}
		}
	}
}
