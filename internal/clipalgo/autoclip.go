package clipalgo

import (
	"fmt"
	"math"
	"sort"
)

var _ Clipper[float32] = (*autoClip[float32])(nil)

var autoClipMethod = Method{
	Name:      "autoclip",
	Doc:       "AutoClip: the global norm clipped to the c-th percentile of every norm seen so far",
	Reference: "pseeth/autoclip autoclip.py (Seetharaman et al. 2020)",
	Threshold: Threshold{Takes: true, Unit: "percentile", Doc: "the percentile p in (0, 100]",
		Check: func(x float64) string {
			if x > 100 {
				return fmt.Sprintf("autoclip's percentile must be in (0, 100], got %v", x)
			}
			return ""
		}},
	Options: []Option{variantOption("the final rescale, as norm's")},
	build:   build(newAutoClip[float32], newAutoClip[float64]),
}

func newAutoClip[F Float](s Spec) *autoClip[F] {
	return &autoClip[F]{p: s.Threshold, optax: s.Str("variant") == "optax"}
}

// autoClip is AutoClip (Seetharaman et al. 2020) as pseeth/autoclip's
// autoclip.py does it: append the global L2 norm to the full history, take
// the p-th percentile of the history with numpy's default (linear)
// interpolation, and clip the global norm to it with clip_grad_norm_.
type autoClip[F Float] struct {
	buffers
	p     float64
	optax bool
	// sorted holds every norm seen so far, ascending: inserting in order
	// costs a binary search and a memmove instead of a sort per step.
	sorted []float64
}

func (c *autoClip[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	i := sort.SearchFloat64s(c.sorted, n)
	c.sorted = append(c.sorted, 0)
	copy(c.sorted[i+1:], c.sorted[i:])
	c.sorted[i] = n
	thr := percentile(c.sorted, c.p)
	st := Stats{NormBefore: n, Threshold: thr}
	st.NormAfter, st.Fraction = rescale(ts, c.before, c.after, n, thr, c.optax)
	return st, nil
}

// percentile returns the p-th percentile (p in [0, 100]) of the ascending,
// non-empty, NaN-free slice a exactly as numpy.percentile(a, p) computes it
// with its default method "linear" (numpy/lib/function_base.py, numpy 1.24:
// percentile divides q by 100; _quantile takes the virtual index (n-1)·q,
// _get_indexes clamps it to the last element, _lerp interpolates from the
// nearer end).
func percentile(a []float64, p float64) float64 {
	n := len(a)
	q := p / 100
	vi := float64(n-1) * q
	if vi >= float64(n-1) {
		return a[n-1]
	}
	if vi < 0 {
		return a[0]
	}
	prev := math.Floor(vi)
	lo, hi := a[int(prev)], a[int(prev)+1]
	gamma := vi - prev
	diff := hi - lo
	// Explicit float64 conversions keep each product rounded on its own, as
	// numpy's separate ufuncs do, where Go could otherwise fuse a multiply
	// and an add.
	if gamma >= 0.5 {
		return hi - float64(diff*(1-gamma))
	}
	return lo + float64(diff*gamma)
}
