package compress

// Fake quantisation of weights: train.quantize's spec, the quantisation
// parameters of PyTorch's min-max observers, and
// torch.fake_quantize_per_tensor_affine / _per_channel_affine bit for bit.

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Quantize schemes and granularities a Quantize accepts, and its bits.
var (
	QuantSchemes       = []string{"symmetric", "affine"}
	QuantGranularities = []string{"tensor", "channel"}
)

const (
	MinBits = 2
	MaxBits = 16
	// Defaults of train.quantize's fields.
	DefaultQuantScheme      = "symmetric"
	DefaultQuantGranularity = "tensor"
)

// Quantize is train.quantize: the weight matrices (those Prune acts on;
// biases, norms and embeddings stay float32) stored in Bits bits.
// Symmetric uses the signed range [−2^(b−1), 2^(b−1) − 1] with zero point
// 0, affine the unsigned range [0, 2^b − 1] with a zero point; tensor
// granularity one scale per tensor, channel one per output channel (the
// first dimension). Post-training (QAT false) the weights are quantised
// once, after the last step, before the final evaluation; with QAT every
// forward pass (training and evaluation) uses the fake-quantised weights
// and the gradient passes straight through to the float weights (zero
// where the value fell outside the range: PyTorch's fake-quantize mask),
// and the weights are quantised for good after the last step as well.
type Quantize struct {
	Bits        int    `json:"bits"`
	Scheme      string `json:"scheme"`
	Granularity string `json:"granularity"`
	QAT         bool   `json:"qat,omitempty"`
}

// Normalize fills the defaults of the fields left at zero.
func (q Quantize) Normalize() Quantize {
	if q.Scheme == "" {
		q.Scheme = DefaultQuantScheme
	}
	if q.Granularity == "" {
		q.Granularity = DefaultQuantGranularity
	}
	return q
}

// Validate reports the first thing wrong with a normalized Quantize, as
// "field: message".
func (q Quantize) Validate() error {
	switch {
	case q.Bits < MinBits || q.Bits > MaxBits:
		return fmt.Errorf("bits: must be a whole number from %d to %d, got %d", MinBits, MaxBits, q.Bits)
	case !slices.Contains(QuantSchemes, q.Scheme):
		return fmt.Errorf("scheme: unknown scheme %q (allowed: %s)", q.Scheme, strings.Join(QuantSchemes, ", "))
	case !slices.Contains(QuantGranularities, q.Granularity):
		return fmt.Errorf("granularity: unknown granularity %q (allowed: %s)", q.Granularity, strings.Join(QuantGranularities, ", "))
	}
	return nil
}

// String is the spec as a label shows it: "int8", "int4,affine,channel,qat".
func (q Quantize) String() string {
	s := fmt.Sprintf("int%d", q.Bits)
	if q.Scheme != DefaultQuantScheme {
		s += "," + q.Scheme
	}
	if q.Granularity != DefaultQuantGranularity {
		s += "," + q.Granularity
	}
	if q.QAT {
		s += ",qat"
	}
	return s
}

// Range is the integer range [qmin, qmax] of the scheme.
func (q Quantize) Range() (qmin, qmax int64) {
	if q.Scheme == "symmetric" {
		return -(1 << (q.Bits - 1)), 1<<(q.Bits-1) - 1
	}
	return 0, 1<<q.Bits - 1
}

// Groups is the number of quantisation groups (scales) of a tensor of
// shape: 1, or its first dimension per channel.
func (q Quantize) Groups(shape []int) int {
	if q.Granularity == "channel" && len(shape) > 0 {
		return shape[0]
	}
	return 1
}

// eps is torch.finfo(torch.float32).eps, the observers' smallest scale.
const eps = float32(1.1920928955078125e-07)

// Params returns the scale and zero point of values w as PyTorch 1.13's
// MinMaxObserver (and, per channel, PerChannelMinMaxObserver)
// _calculate_qparams computes them with quant_min, quant_max = Range():
// with m⁻ = min(min w, 0) and m⁺ = max(max w, 0) in float32,
// symmetric: scale = max(−m⁻, m⁺) / ((qmax − qmin)/2), zero point 0;
// affine: scale = (m⁺ − m⁻)/(qmax − qmin), zero point
// qmin − round(m⁻/scale) clamped to the range; the scale at least eps.
func (q Quantize) Params(w []float32) (scale float32, zp int64) {
	lo, hi := float32(0), float32(0)
	for _, x := range w {
		lo, hi = min(lo, x), max(hi, x)
	}
	qmin, qmax := q.Range()
	if q.Scheme == "symmetric" {
		scale = max(-lo, hi) / (float32(qmax-qmin) / 2)
		return max(scale, eps), 0
	}
	scale = max((hi-lo)/float32(qmax-qmin), eps)
	zp = qmin - int64(math.RoundToEven(float64(lo/scale)))
	return scale, min(max(zp, qmin), qmax)
}

// FakeQuant writes into dst the values src fake-quantised with scale and
// zero point, as torch.fake_quantize_per_tensor_affine (PyTorch 1.13,
// fake_quantize_tensor_cachemask_kernel):
//
//	q = int64(zp + nearbyint(x · (1/scale)))   (in float32, ties to even)
//	y = (clamp(q, qmin, qmax) − zp) · scale
//
// and, when keep is not nil, whether q fell inside [qmin, qmax] (the mask
// the gradient is multiplied by). dst may be src.
func FakeQuant(dst, src []float32, keep []bool, scale float32, zp, qmin, qmax int64) {
	inv := 1 / scale
	for i, x := range src {
		q := int64(float32(zp) + float32(math.RoundToEven(float64(x*inv))))
		if keep != nil {
			keep[i] = qmin <= q && q <= qmax
		}
		dst[i] = float32(float64(min(max(q, qmin), qmax)-zp) * float64(scale))
	}
}

// Apply fake-quantises tensor w of shape (one scale per tensor, or per
// slice along the first dimension for channel granularity) into dst, with
// the mask in keep when keep is not nil. It returns the number of groups.
func (q Quantize) Apply(dst, w []float32, keep []bool, shape []int) int {
	g := q.Groups(shape)
	n := len(w) / g
	qmin, qmax := q.Range()
	for c := range g {
		src := w[c*n : (c+1)*n]
		s, zp := q.Params(src)
		var k []bool
		if keep != nil {
			k = keep[c*n : (c+1)*n]
		}
		FakeQuant(dst[c*n:(c+1)*n], src, k, s, zp, qmin, qmax)
	}
	return g
}
