package clipalgo

import "errors"

// Float is the element type of gradients and parameters. Training runs in
// float32; the golden-vector tests run the same code in float64.
type Float interface{ ~float32 | ~float64 }

// Role says what a tensor is, so that unit-wise methods (AGC) can find its
// output units: a row of a dense or recurrent weight, a filter of a conv
// weight, a whole bias.
type Role uint8

const (
	Dense     Role = iota // weight (out, in)
	Conv                  // weight (out, in, kh, kw)
	Bias                  // (out,)
	Recurrent             // recurrent weight (out, in), e.g. (H, H) or (4H, H)
)

// Tensor is one parameter with its gradient, laid out as PyTorch lays it out
// (row-major, C order). Clippers read Param and modify Grad in place.
type Tensor[F Float] struct {
	Name  string
	Role  Role
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
	// output units (agc), of tensors (layer_norm, block_rms), of steps
	// (norm, autoclip, zclip: 0 or 1).
	Fraction  float64
	Threshold float64 // threshold in force at this step (NaN for none)
}

// ErrNonFinite is wrapped by the error Clip returns when a gradient holds NaN
// or ±Inf; the error's text names the tensor.
var ErrNonFinite = errors.New("clipalgo: non-finite gradient")

// Clipper clips a model's gradients in place, one call per training step.
// Adaptive methods keep their state between calls, so use one Clipper per run.
type Clipper[F Float] interface {
	Clip(ts []Tensor[F]) (Stats, error)
}
