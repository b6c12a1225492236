// The stateless methods: none, value, norm, layer_norm, block_rms.

package clipalgo

import "math"

// torchEps is the 1e-6 that torch.nn.utils.clip_grad_norm_ adds to the total
// norm before dividing (torch/nn/utils/clip_grad.py, clip_coef).
const torchEps = 1e-6

var (
	_ Clipper[float32] = (*none[float32])(nil)
	_ Clipper[float32] = (*value[float32])(nil)
	_ Clipper[float32] = (*globalNorm[float32])(nil)
	_ Clipper[float32] = (*layerNorm[float32])(nil)
	_ Clipper[float32] = (*blockRMS[float32])(nil)
)

var noneMethod = Method{
	Name:      "none",
	Doc:       "gradients unchanged; the statistics are still recorded",
	Reference: "the baseline",
	build:     build(func(Spec) *none[float32] { return &none[float32]{} }, func(Spec) *none[float64] { return &none[float64]{} }),
}

var valueMethod = Method{
	Name:      "value",
	Doc:       "every element clamped to [-c, c]; fraction: of elements beyond ±c",
	Reference: "torch.nn.utils.clip_grad_value_, optax.clip",
	Threshold: Threshold{Takes: true, Unit: "value c", Doc: "the clip value c"},
	build:     build(newValue[float32], newValue[float64]),
}

var normMethod = Method{
	Name:      "norm",
	Doc:       "all gradients scaled together when their global norm exceeds c",
	Reference: "torch.nn.utils.clip_grad_norm_, optax.clip_by_global_norm",
	Threshold: Threshold{Takes: true, Unit: "norm c", Doc: "the max norm c"},
	Options: []Option{
		{Name: "norm_type", Kind: KindText, Default: "2", Allowed: []string{"2", "inf"},
			Doc: "the global norm: L2 (2) or the largest absolute element (inf)"},
		variantOption("torch: ·min(1, c/(N+1e-6)) always; optax: ·c/N only when N ≥ c"),
	},
	build: build(newGlobalNorm[float32], newGlobalNorm[float64]),
}

var layerNormMethod = Method{
	Name:      "layer_norm",
	Doc:       "each tensor on its own scaled to norm at most c: g·c/max(‖g‖, c); fraction: of tensors",
	Reference: "tf.clip_by_norm (Keras clipnorm)",
	Threshold: Threshold{Takes: true, Unit: "norm c", Doc: "the max norm c of each tensor"},
	build:     build(newLayerNorm[float32], newLayerNorm[float64]),
}

var blockRMSMethod = Method{
	Name:      "block_rms",
	Doc:       "each tensor divided by max(1, rms(g)/c); fraction: of tensors",
	Reference: "optax.clip_by_block_rms",
	Threshold: Threshold{Takes: true, Unit: "RMS c", Doc: "the RMS threshold c"},
	build:     build(newBlockRMS[float32], newBlockRMS[float64]),
}

func newValue[F Float](s Spec) *value[F]         { return &value[F]{c: s.Threshold} }
func newLayerNorm[F Float](s Spec) *layerNorm[F] { return &layerNorm[F]{c: s.Threshold} }
func newBlockRMS[F Float](s Spec) *blockRMS[F]   { return &blockRMS[F]{c: s.Threshold} }
func newGlobalNorm[F Float](s Spec) *globalNorm[F] {
	return &globalNorm[F]{c: s.Threshold, inf: s.Str("norm_type") == "inf", optax: s.Str("variant") == "optax"}
}

// buffers holds the per-tensor norms one Clip call needs, reused between calls.
type buffers struct {
	before, after []float64
}

func (b *buffers) size(n int) {
	b.before = grow(b.before, n)
	b.after = grow(b.after, n)
}

type none[F Float] struct{ buffers }

func (c *none[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	return Stats{NormBefore: n, NormAfter: n, Threshold: math.NaN()}, nil
}

// value clamps every element to [-c, c] (torch clip_grad_value_, optax.clip).
type value[F Float] struct {
	buffers
	c float64
}

func (c *value[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	clamped, total := 0, 0
	for i := range ts {
		k, ss := clamp(ts[i].Grad, F(c.c))
		total += len(ts[i].Grad)
		c.after[i] = c.before[i]
		if k > 0 {
			c.after[i] = math.Sqrt(ss)
		}
		clamped += k
	}
	st := Stats{NormBefore: n, NormAfter: norms2(c.after), Threshold: c.c}
	if total > 0 {
		st.Fraction = float64(clamped) / float64(total)
	}
	return st, nil
}

// globalNorm rescales all gradients together when their global norm
// (L2 or L∞) exceeds c.
type globalNorm[F Float] struct {
	buffers
	c          float64
	inf, optax bool
}

func (c *globalNorm[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	total := n
	if c.inf {
		total = GlobalNorm(ts, math.Inf(1))
	}
	st := Stats{NormBefore: n, Threshold: c.c}
	st.NormAfter, st.Fraction = rescale(ts, c.before, c.after, total, c.c, c.optax)
	return st, nil
}

// torchCoef is clip_grad_norm_'s factor for total norm N and max norm c
// (torch/nn/utils/clip_grad.py): min(1, c/(N+1e-6)), applied always.
func torchCoef(n, c float64) float64 { return min(1, c/(n+torchEps)) }

// optaxCoef is clip_by_global_norm's (optax/transforms/_clipping.py): t is
// unchanged when N < c, else t/N·c; here one factor c/N, which differs from
// dividing first by at most an ulp. A zero N leaves the zeros as they are.
func optaxCoef(n, c float64) float64 {
	if n < c || n == 0 {
		return 1
	}
	return c / n
}

// applyCoef multiplies every gradient by s (skipping s = 1) and returns the
// global L2 norm afterwards, given the norms before.
func applyCoef[F Float](ts []Tensor[F], before, after []float64, s float64) float64 {
	if s == 1 {
		return norms2(before)
	}
	for i := range ts {
		after[i] = math.Sqrt(scale(ts[i].Grad, s))
	}
	return norms2(after)
}

// rescale clips the global norm n of ts to c as torch's clip_grad_norm_
// (optax false) or optax's clip_by_global_norm (optax true) does, and
// returns the global L2 norm afterwards and the fraction of steps clipped:
// 1 when n > c.
func rescale[F Float](ts []Tensor[F], before, after []float64, n, c float64, optax bool) (normAfter, fraction float64) {
	s := torchCoef(n, c)
	if optax {
		s = optaxCoef(n, c)
	}
	if n > c {
		fraction = 1
	}
	return applyCoef(ts, before, after, s), fraction
}

// layerNorm clips each tensor on its own to norm c: g·c/max(‖g‖, c)
// (tf.clip_by_norm, which Keras's clipnorm applies per variable).
type layerNorm[F Float] struct {
	buffers
	c float64
}

func (c *layerNorm[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	clipped := 0
	for i := range ts {
		c.after[i] = c.before[i]
		if c.before[i] > c.c {
			c.after[i] = math.Sqrt(scale(ts[i].Grad, c.c/c.before[i]))
			clipped++
		}
	}
	return Stats{NormBefore: n, NormAfter: norms2(c.after), Fraction: frac(clipped, len(ts)), Threshold: c.c}, nil
}

// blockRMS divides each tensor by max(1, rms(g)/c) (optax.clip_by_block_rms).
type blockRMS[F Float] struct {
	buffers
	c float64
}

func (c *blockRMS[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	clipped := 0
	for i := range ts {
		c.after[i] = c.before[i]
		m := len(ts[i].Grad)
		if m == 0 {
			continue
		}
		rms := c.before[i] / math.Sqrt(float64(m))
		if d := rms / c.c; d > 1 {
			c.after[i] = math.Sqrt(scale(ts[i].Grad, 1/d))
			clipped++
		}
	}
	return Stats{NormBefore: n, NormAfter: norms2(c.after), Fraction: frac(clipped, len(ts)), Threshold: c.c}, nil
}

func frac(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
