package nn

import (
	"fmt"
	"math"
)

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr.
	Step(lr float64)
}

// NewOptimizer returns the optimizer spec names over params, with
// PyTorch's defaults for the options spec leaves at zero. Its state (momentum
// buffers, moments) is allocated here, so Step does not allocate.
func NewOptimizer(spec OptimSpec, params []*Param) (Optimizer, error) {
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("optimizer: %w", err)
	}
	switch spec.Name {
	case "sgd":
		return &SGD{Params: params, WeightDecay: spec.WeightDecay}, nil
	case "momentum":
		o := &SGD{Params: params, WeightDecay: spec.WeightDecay, Momentum: spec.Momentum,
			Dampening: spec.Dampening, Nesterov: spec.Nesterov}
		o.buf = make([][]float32, len(params))
		for i, p := range params {
			o.buf[i] = make([]float32, len(p.W))
		}
		return o, nil
	default:
		o := &Adam{Params: params, Beta1: spec.Beta1, Beta2: spec.Beta2, Eps: spec.Eps,
			WeightDecay: spec.WeightDecay, Decoupled: spec.Name == "adamw"}
		o.m, o.v = make([][]float32, len(params)), make([][]float32, len(params))
		for i, p := range params {
			o.m[i], o.v[i] = make([]float32, len(p.W)), make([]float32, len(p.W))
		}
		return o, nil
	}
}

// SGD is torch.optim.SGD (PyTorch 1.13, _single_tensor_sgd):
//
//	g ← g + λ·w                                 (weight decay λ)
//	buf ← g at the first step, else μ·buf + (1−τ)·g   (momentum μ, dampening τ)
//	g ← g + μ·buf if Nesterov, else buf          (when μ ≠ 0)
//	w ← w − lr·g
type SGD struct {
	Params      []*Param
	Momentum    float64
	Dampening   float64
	Nesterov    bool
	WeightDecay float64
	buf         [][]float32
	steps       int
}

// Step applies one update.
func (o *SGD) Step(lr float64) {
	o.steps++
	nlr, wd := float32(-lr), float32(o.WeightDecay)
	mu, damp := float32(o.Momentum), float32(1-o.Dampening)
	for k, p := range o.Params {
		w, g := p.W, p.G[:len(p.W)]
		if o.Momentum == 0 {
			if wd == 0 {
				for i, gi := range g {
					w[i] += nlr * gi
				}
			} else {
				for i, gi := range g {
					w[i] += nlr * (gi + wd*w[i])
				}
			}
			continue
		}
		buf := o.buf[k][:len(w)]
		for i, gi := range g {
			if wd != 0 {
				gi += wd * w[i]
			}
			b := gi
			if o.steps > 1 {
				b = mu*buf[i] + damp*gi
			}
			buf[i] = b
			if o.Nesterov {
				gi += mu * b
			} else {
				gi = b
			}
			w[i] += nlr * gi
		}
	}
}

// Adam is torch.optim.Adam, or torch.optim.AdamW when Decoupled (PyTorch
// 1.13, _single_tensor_adam / _single_tensor_adamw), with t the step count:
//
//	AdamW: w ← w·(1 − lr·λ);  Adam: g ← g + λ·w
//	m ← β₁·m + (1−β₁)·g,  v ← β₂·v + (1−β₂)·g²
//	w ← w − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
type Adam struct {
	Params       []*Param
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	Decoupled    bool // AdamW
	m, v         [][]float32
	steps        int
}

// Step applies one update.
func (o *Adam) Step(lr float64) {
	o.steps++
	t := float64(o.steps)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	nstep := float32(-lr / bc1)
	bc2s := float32(math.Sqrt(bc2))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
	eps, wd := float32(o.Eps), float32(o.WeightDecay)
	decay := float32(1 - lr*o.WeightDecay)
	for k, p := range o.Params {
		w, g := p.W, p.G[:len(p.W)]
		m, v := o.m[k][:len(w)], o.v[k][:len(w)]
		for i, gi := range g {
			if o.Decoupled {
				w[i] *= decay
			} else if wd != 0 {
				gi += wd * w[i]
			}
			mi := b1*m[i] + c1*gi
			vi := b2*v[i] + c2*gi*gi
			m[i], v[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/bc2s + eps
			w[i] += nstep * (mi / denom)
		}
	}
}
