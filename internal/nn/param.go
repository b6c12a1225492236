package nn

import (
	"math"
	"math/rand/v2"

	"cliplab/internal/tensor"
)

// Role is the shared role type (see package tensor): what a parameter
// tensor is, so that a clipping method can find its output units.
type Role = tensor.Role

const (
	DenseWeight     = tensor.DenseWeight
	ConvWeight      = tensor.ConvWeight
	Bias            = tensor.Bias
	RecurrentWeight = tensor.RecurrentWeight
	Embedding       = tensor.Embedding
	NormWeight      = tensor.NormWeight
)

// Param is one parameter tensor and its gradient, in PyTorch's layout and
// under the name PyTorch's equivalent module gives it in its state_dict
// (see the package documentation).
type Param struct {
	Name  string
	Role  Role
	Shape []int     // PyTorch layout
	W, G  []float32 // values and gradients, len = product(Shape)
	Last  bool      // belongs to the final classifier layer
	norm  bool      // belongs to a layer norm (its bias, whose Role is Bias)
}

// Size returns the number of values in p.
func (p *Param) Size() int { return len(p.W) }

// paramSet allocates all of a model's parameters in one block (values) and
// one block (gradients), in the order they are added.
type paramSet struct {
	list []*Param
}

func (s *paramSet) add(name string, role Role, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := &Param{Name: name, Role: role, Shape: shape, W: make([]float32, n), G: make([]float32, n)}
	s.list = append(s.list, p)
	return p
}

// pack moves every parameter into two contiguous blocks so that sweeps over
// all parameters (optimizers, norms) stream through memory.
func (s *paramSet) pack() {
	total := 0
	for _, p := range s.list {
		total += len(p.W)
	}
	w, g := make([]float32, total), make([]float32, total)
	off := 0
	for _, p := range s.list {
		n := len(p.W)
		copy(w[off:off+n], p.W)
		p.W, p.G = w[off:off+n:off+n], g[off:off+n:off+n]
		off += n
	}
}

// uniform fills w with values drawn from U(-bound, bound), one
// rng.Float64() per value in index order, rounded to float32.
func uniform(w []float32, bound float64, rng *rand.Rand) {
	for i := range w {
		w[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// initFanIn is PyTorch's default for nn.Linear and nn.Conv2d: weight and
// bias in U(±1/√fan_in).
func initFanIn(w, b *Param, fanIn int, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(fanIn))
	uniform(w.W, bound, rng)
	uniform(b.W, bound, rng)
}

// grow returns buf resized to n values, reallocating only when its capacity
// is too small. Contents are not preserved when it reallocates.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

func growInt32(buf []int32, n int) []int32 {
	if cap(buf) < n {
		return make([]int32, n)
	}
	return buf[:n]
}
