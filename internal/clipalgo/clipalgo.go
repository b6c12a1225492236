package clipalgo

import (
	"errors"
	"fmt"
	"math"

	"cliplab/internal/tensor"
)

// Float is the element type of gradients and parameters. Training runs in
// float32; the golden-vector tests run the same code in float64.
type Float interface{ ~float32 | ~float64 }

// Tensor is one parameter with its gradient, laid out as PyTorch lays it out
// (row-major, C order). Clippers read Param and modify Grad in place. Param
// may be nil for every method but agc.
type Tensor[F Float] struct {
	Name  string
	Role  tensor.Role // checked against the shape's rank; agc finds units from the shape, as optax does
	Shape []int
	Param []F
	Grad  []F
	// Last marks the tensors of the final classifier layer (AGC's
	// exclude_last leaves them unclipped).
	Last bool
}

// Stats is what one Clip call reports.
type Stats struct {
	NormBefore float64 // global L2 norm of all gradients before clipping
	NormAfter  float64 // global L2 norm after clipping
	// Fraction clipped, as the method defines it: of elements (value), of
	// output units (agc, over the units it may clip), of tensors
	// (layer_norm, block_rms), of steps (norm, autoclip, zclip: 0 or 1,
	// 1 when the norm exceeded the threshold in force; torch's 1e-6 nudge of
	// a norm at or just under the threshold does not count).
	Fraction float64
	// Threshold in force at this step: the spec's threshold for the fixed
	// methods (λ for agc), the percentile's value for autoclip, and for zclip
	// the norm above which this step would be clipped (+Inf during warm-up
	// without a cap). NaN for none.
	Threshold float64
}

// ErrNonFinite is wrapped by the error Clip returns when a gradient holds NaN
// or ±Inf; the error's text names the tensor.
var ErrNonFinite = errors.New("clipalgo: non-finite gradient")

// ErrNonFiniteParam is wrapped by the error agc's Clip returns when a
// parameter holds NaN or ±Inf; the error's text names the tensor.
var ErrNonFiniteParam = errors.New("clipalgo: non-finite parameter")

// ErrShape is wrapped by the error Clip returns when a tensor's Grad (or, for
// agc, Param) does not hold as many elements as its Shape says.
var ErrShape = errors.New("clipalgo: tensor does not match its shape")

// Clipper clips a model's gradients in place, one call per training step.
// Adaptive methods keep their state between calls, so use one Clipper per run.
// When Clip returns an error the gradients are unchanged and so is the
// Clipper's state. A Clipper is not safe for concurrent use.
type Clipper[F Float] interface {
	Clip(ts []Tensor[F]) (Stats, error)
}

// New returns the Clipper that s describes, for a method that needs batch
// gradients (NewExample makes the others). s is normalized and validated first; the error is Validate's
// when s is invalid. The Clipper allocates on its first call (buffers sized
// to the model) and not after, except for autoclip's history, which grows by
// amortised appends.
func New[F Float](s Spec) (Clipper[F], error) {
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m, _ := Lookup(s.Method)
	if m.Needs != BatchGradients {
		return nil, fmt.Errorf("%w: %s needs %s (clipalgo.NewExample)", ErrNeeds, m.Name, m.Needs)
	}
	var c any
	switch any(F(0)).(type) {
	case float32:
		c = m.build.f32(s)
	case float64:
		c = m.build.f64(s)
	}
	return c.(Clipper[F]), nil
}

// GlobalNorm returns the global p-norm of the gradients of ts, accumulated in
// float64: for p = 2, the L2 norm as torch.nn.utils.clip_grad_norm_ computes
// it (the norm of the per-tensor norms); for p = +Inf, the largest absolute
// element. It is NaN or +Inf when a gradient is. It panics if p is neither
// 2 nor +Inf.
func GlobalNorm[F Float](ts []Tensor[F], p float64) float64 {
	switch {
	case p == 2:
		return combine(len(ts), func(i int) float64 { return norm2(ts[i].Grad) })
	case math.IsInf(p, 1):
		m := 0.0
		for i := range ts {
			x := maxAbs(ts[i].Grad)
			if x > m || math.IsNaN(x) {
				m = x
			}
		}
		return m
	}
	panic(fmt.Sprintf("clipalgo: GlobalNorm of order %v (want 2 or +Inf)", p))
}
