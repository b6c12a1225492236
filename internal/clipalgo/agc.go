package clipalgo

import (
	"math"
)

// agcDivEps is unitwise_clip's div_eps in optax (optax/transforms/_clipping.py):
// the clipped unit is G·max/max(‖G‖, 1e-6).
const agcDivEps = 1e-6

var _ Clipper[float32] = (*agc[float32])(nil)

var agcMethod = Method{
	Name:      "agc",
	Doc:       "adaptive gradient clipping, unit-wise: G_u scaled to at most c·max(‖W_u‖, eps); fraction: of the units it may clip",
	Reference: "optax.adaptive_grad_clip (Brock et al. 2021)",
	Threshold: Threshold{Takes: true, Unit: "λ", Doc: "λ, the clip ratio of gradient to parameter norm"},
	Options: []Option{
		{Name: "exclude_last", Kind: KindBool, Default: false,
			Doc: "leave the final classifier layer unclipped (Brock et al. 2021, §4.1)"},
		{Name: "eps", Kind: KindFloat, Default: 1e-3, Check: positiveCheck,
			Doc: "the floor on a unit's parameter norm (optax's default)"},
	},
	build: build(newAGC[float32], newAGC[float64]),
}

func newAGC[F Float](s Spec) *agc[F] {
	return &agc[F]{lambda: s.Threshold, eps: s.Float("eps"), excludeLast: s.Bool("exclude_last")}
}

// agc is adaptive gradient clipping, unit-wise, as optax.adaptive_grad_clip.
type agc[F Float] struct {
	buffers
	lambda, eps float64
	excludeLast bool
	scales      []float64 // per unit: the factor its gradient is multiplied by
	pn, gn      []float64 // per unit of one tensor: parameter and gradient norms
}

// unitNorms sets out[j] to the L2 norm of unit j of x (k units of m).
func unitNorms[F Float](out []float64, x []F, k, m int) {
	if x32, ok := any(x).([]float32); ok {
		rowNorms32(out, x32, k, m)
		return
	}
	for j := range k {
		out[j] = norm2(x[j*m : (j+1)*m])
	}
}

// scaleUnits multiplies unit j of x by s[j] and returns Σ x² of the result.
func scaleUnits[F Float](x []F, k, m int, s []float64) float64 {
	if x32, ok := any(x).([]float32); ok {
		return rowScale32(x32, k, m, s)
	}
	var t float64
	for j := range k {
		g := x[j*m : (j+1)*m]
		if s[j] == 1 {
			t += sumSq(g)
		} else {
			t += scale(g, s[j])
		}
	}
	return t
}

// units returns how a tensor of this shape splits into output units, as
// optax's unitwise_norm does on the transposed (IO / HWIO) layout: a tensor
// with at most one dimension longer than 1 (a bias, a scalar, an (out, 1)
// weight) is one unit; any other is shape[0] units of size/shape[0] elements
// (a row of a dense weight, a filter of a conv weight).
func units(shape []int) (count, length int) {
	n, long := size(shape), 0
	for _, d := range shape {
		if d > 1 {
			long++
		}
	}
	if long <= 1 || n == 0 {
		return 1, n
	}
	return shape[0], n / shape[0]
}

func (c *agc[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, true)
	if err != nil {
		return Stats{}, err
	}
	total := 0
	for i := range ts {
		if !(c.excludeLast && ts[i].Last) {
			k, _ := units(ts[i].Shape)
			total += k
		}
	}
	c.scales = grow(c.scales, total)

	// First every scale, so that a non-finite parameter stops the call
	// before any gradient changes.
	u, clipped := 0, 0
	for i := range ts {
		t := &ts[i]
		if c.excludeLast && t.Last {
			continue
		}
		k, m := units(t.Shape)
		c.pn, c.gn = grow(c.pn, k), grow(c.gn, k)
		unitNorms(c.pn, t.Param, k, m)
		unitNorms(c.gn, t.Grad, k, m)
		for j := range k {
			pn, gn := c.pn[j], c.gn[j]
			if math.IsNaN(pn) || math.IsInf(pn, 0) {
				return Stats{}, nonFinite(t.Name, "parameter", t.Param, ErrNonFiniteParam)
			}
			maxNorm := c.lambda * math.Max(pn, c.eps)
			s := 1.0
			if !(gn < maxNorm) {
				s = maxNorm / math.Max(gn, agcDivEps)
			}
			if s < 1 {
				clipped++
			}
			c.scales[u] = s
			u++
		}
	}

	u = 0
	for i := range ts {
		t := &ts[i]
		c.after[i] = c.before[i]
		if c.excludeLast && t.Last {
			continue
		}
		k, m := units(t.Shape)
		changed := false
		for j := range k {
			if c.scales[u+j] != 1 {
				changed = true
			}
		}
		if changed {
			c.after[i] = math.Sqrt(scaleUnits(t.Grad, k, m, c.scales[u:u+k]))
		}
		u += k
	}
	return Stats{NormBefore: n, NormAfter: norms2(c.after), Fraction: frac(clipped, total), Threshold: c.lambda}, nil
}
