package nn

// #include "kernels.h"
import "C"

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
	var noDecay []bool
	if spec.NoDecay != 0 {
		noDecay = make([]bool, len(params))
		for i, p := range params {
			noDecay[i] = GroupsOf(p)&spec.NoDecay != 0
		}
	}
	switch spec.Name {
	case "sgd":
		return &SGD{Params: params, WeightDecay: spec.WeightDecay, NoDecay: noDecay}, nil
	case "momentum":
		o := &SGD{Params: params, WeightDecay: spec.WeightDecay, NoDecay: noDecay, Momentum: spec.Momentum,
			Dampening: spec.Dampening, Nesterov: spec.Nesterov}
		o.buf = make([][]float32, len(params))
		for i, p := range params {
			o.buf[i] = make([]float32, len(p.W))
		}
		return o, nil
	default:
		o := &Adam{Params: params, Beta1: spec.Beta1, Beta2: spec.Beta2, Eps: spec.Eps,
			WeightDecay: spec.WeightDecay, NoDecay: noDecay, Decoupled: spec.Name == "adamw"}
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
	NoDecay     []bool // per parameter: no weight decay (nil: decay all)
	buf         [][]float32
	steps       int
}

// decays reports whether parameter k takes weight decay.
func decays(noDecay []bool, k int) bool { return noDecay == nil || !noDecay[k] }

// Step applies one update.
func (o *SGD) Step(lr float64) {
	o.steps++
	nlr := C.float(-lr)
	for k, p := range o.Params {
		w, g := p.W, p.G[:len(p.W)]
		wd := C.float(0)
		if decays(o.NoDecay, k) {
			wd = C.float(o.WeightDecay)
		}
		if o.Momentum == 0 {
			C.nn_sgd(fptr(w), fptr(g), C.long(len(w)), nlr, wd)
			continue
		}
		buf := o.buf[k][:len(w)]
		C.nn_sgd_momentum(fptr(w), fptr(g), fptr(buf), C.long(len(w)), nlr, wd,
			C.float(o.Momentum), C.float(1-o.Dampening), cbool(o.Nesterov), cbool(o.steps == 1))
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
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
	NoDecay      []bool // per parameter: no weight decay (nil: decay all)
	Decoupled    bool   // AdamW
	m, v         [][]float32
	steps        int
}

// Step applies one update.
func (o *Adam) Step(lr float64) {
	o.steps++
	t := float64(o.steps)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	nstep := C.float(-lr / bc1)
	bc2s := C.float(math.Sqrt(bc2))
	b1, b2 := C.float(o.Beta1), C.float(o.Beta2)
	c1, c2 := C.float(1-o.Beta1), C.float(1-o.Beta2)
	eps := C.float(o.Eps)
	for k, p := range o.Params {
		w, g := p.W, p.G[:len(p.W)]
		wd, decay := C.float(0), C.float(1)
		if decays(o.NoDecay, k) {
			wd, decay = C.float(o.WeightDecay), C.float(1-lr*o.WeightDecay)
		}
		m, v := o.m[k][:len(w)], o.v[k][:len(w)]
		C.nn_adam(fptr(w), fptr(g), fptr(m), fptr(v), C.long(len(w)), nstep, bc2s, b1, b2, c1, c2,
			eps, wd, decay, cbool(o.Decoupled))
	}
}
