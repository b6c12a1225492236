package clipalgo

import "math"

var _ Clipper[float32] = (*zClip[float32])(nil)

// zClip is ZClip (Kumar et al. 2025) as bluorion-com/ZClip's zclip/zclip.py
// (commit 584ce4f) does it; line numbers below are that file's.
type zClip[F Float] struct {
	buffers
	zThresh, alpha, eps, clipFactor float64
	maxGradNorm                     float64 // ≤ 0: no cap (the reference's None)
	warmup                          int
	optax, percentileMode, meanOpt  bool
	skipOnSpike                     bool

	warm        []float64 // norms of the warm-up steps (self.buffer)
	initialized bool
	mean, vari  float64
}

var zClipMethod = Method{
	Name:      "zclip",
	Doc:       "ZClip: clips when the global norm's z-score against its EMA mean and variance exceeds c",
	Reference: "bluorion-com/ZClip zclip/zclip.py (Kumar et al. 2025)",
	Threshold: Threshold{Takes: true, Unit: "z", Doc: "the z threshold z_thresh (the reference's default is 2.5)"},
	// In the order of the canonical JSON, which run keys fix.
	Options: []Option{
		variantOption("the rescale: torch (the reference) or optax"),
		{Name: "eps", Kind: KindFloat, Default: 1e-6, Check: positiveCheck,
			Doc: "added to the standard deviation in the z-score"},
		{Name: "alpha", Kind: KindFloat, Default: 0.97, Check: openUnitCheck, Doc: "the EMA factor"},
		{Name: "warmup_steps", Kind: KindInt, Default: 25, Check: positiveCheck,
			Doc: "steps whose norms initialise the mean and variance"},
		{Name: "max_grad_norm", Kind: KindFloat, Default: 1.0,
			Check: func(v any) string {
				if v.(float64) == 0 {
					return "must be > 0, or negative to turn the cap off, got 0"
				}
				return ""
			},
			Normalize: func(v any) any {
				if x := v.(float64); x < 0 {
					return -1.0
				}
				return v
			},
			Doc: "a cap on the clip threshold at every step, warm-up included; negative (stored as -1): no cap (the reference's None)"},
		{Name: "mode", Kind: KindString, Default: "zscore", Allowed: []string{"zscore", "percentile"},
			Doc: "zscore clips when z > c; percentile clips to μ + c·σ whenever the norm exceeds it"},
		{Name: "clip_option", Kind: KindString, Default: "adaptive_scaling", Allowed: []string{"adaptive_scaling", "mean"},
			Applies: func(s Spec) bool { return s.Str("mode") == "zscore" },
			Doc:     "mode zscore: clip to μ + c²σ/z (adaptive_scaling) or to μ (mean)"},
		{Name: "clip_factor", Kind: KindFloat, Default: 1.0, Check: positiveCheck,
			Applies: func(s Spec) bool { return s.Str("mode") == "zscore" && s.Str("clip_option") == "adaptive_scaling" },
			Doc:     "adaptive_scaling: multiplies the whole adaptive threshold"},
		{Name: "skip_update_on_spike", Kind: KindBool, Default: false,
			Doc: "leave the mean and variance as they are on a step that clipped"},
	},
	build: build(newZClip[float32], newZClip[float64]),
}

func newZClip[F Float](s Spec) *zClip[F] {
	// clip_option and clip_factor read their defaults where they do not
	// apply, and are not used there.
	return &zClip[F]{
		zThresh: s.Threshold, alpha: s.Float("alpha"), eps: s.Float("eps"), clipFactor: s.Float("clip_factor"),
		maxGradNorm: s.Float("max_grad_norm"), warmup: s.Int("warmup_steps"),
		optax: s.Str("variant") == "optax", percentileMode: s.Str("mode") == "percentile",
		meanOpt: s.Str("clip_option") == "mean", skipOnSpike: s.Bool("skip_update_on_spike"),
		warm: make([]float64, 0, s.Int("warmup_steps")),
	}
}

func (c *zClip[F]) capped() bool { return c.maxGradNorm > 0 }

func (c *zClip[F]) Clip(ts []Tensor[F]) (Stats, error) {
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{NormBefore: n}

	// Warm-up (step, lines 183-201): collect the norm; once warmup_steps are
	// in, initialise the EMA from them; clip with clip_grad_norm_ to the cap.
	if !c.initialized {
		c.warm = append(c.warm, n)
		if len(c.warm) >= c.warmup {
			c.initEMA()
		}
		st.Threshold = math.Inf(1)
		st.NormAfter = norms2(c.before)
		if c.capped() {
			st.Threshold = c.maxGradNorm
			st.NormAfter, st.Fraction = rescale(ts, c.before, c.after, n, c.maxGradNorm, c.optax)
		}
		return st, nil
	}

	clipVal, spike := c.clipValue(n)
	// _apply_clipping (lines 157-168): the clip value, or the norm itself,
	// capped by max_grad_norm.
	eff := n
	if spike {
		eff = clipVal
	}
	if c.capped() {
		eff = min(eff, c.maxGradNorm)
	}
	// apply_in_place_clipping (line 149): c/(N+1e-6) only when N > c.
	s := 1.0
	if c.optax {
		s = optaxCoef(n, eff)
	} else if n > eff {
		s = eff / (n + torchEps)
	}
	if n > eff {
		st.Fraction = 1
	}
	st.NormAfter = applyCoef(ts, c.before, c.after, s)
	st.Threshold = c.trigger()

	// Lines 206-210: the EMA takes the clip value (before the cap) on a
	// spike, unless skip_update_on_spike, and the raw norm otherwise.
	if spike && c.skipOnSpike {
		return st, nil
	}
	if spike {
		c.updateEMA(clipVal)
	} else {
		c.updateEMA(n)
	}
	return st, nil
}

// initEMA is _initialize_ema (lines 71-75): mean and population variance of
// the warm-up norms, summed left to right as Python's sum does (3.11).
func (c *zClip[F]) initEMA() {
	var s float64
	for _, x := range c.warm {
		s += x
	}
	k := float64(len(c.warm))
	c.mean = s / k
	var v float64
	for _, x := range c.warm {
		d := x - c.mean
		v += float64(d * d)
	}
	c.vari = v / k
	c.initialized = true
	c.warm = c.warm[:0]
}

// updateEMA is _update_ema (lines 77-80): the variance uses the mean just
// updated. The float64 conversions round each product on its own, as
// Python does, where Go could fuse a multiply and an add.
func (c *zClip[F]) updateEMA(x float64) {
	c.mean = float64(c.alpha*c.mean) + float64((1-c.alpha)*x)
	d := x - c.mean
	c.vari = float64(c.alpha*c.vari) + float64((1-c.alpha)*float64(d*d))
}

// clipValue is _compute_clip_val (lines 117-137) with
// _compute_positive_zscore (lines 82-85): the threshold to clip to and
// whether this norm calls for one.
func (c *zClip[F]) clipValue(n float64) (float64, bool) {
	std := math.Sqrt(c.vari)
	if c.percentileMode {
		thr := c.mean + float64(c.zThresh*std)
		return thr, n > thr
	}
	z := (n - c.mean) / (std + c.eps)
	if !(z > c.zThresh) {
		return 0, false
	}
	if c.meanOpt {
		return c.mean, true
	}
	eta := z / c.zThresh
	thr := c.mean + float64(c.zThresh*std)/eta
	return thr * c.clipFactor, true
}

// trigger is the norm above which the step just taken would have been
// clipped, from the EMA before its update: μ + z·(σ+eps) in zscore mode,
// μ + z·σ in percentile mode, capped by max_grad_norm.
func (c *zClip[F]) trigger() float64 {
	std := math.Sqrt(c.vari)
	t := c.mean + c.zThresh*(std+c.eps)
	if c.percentileMode {
		t = c.mean + c.zThresh*std
	}
	if c.capped() {
		t = min(t, c.maxGradNorm)
	}
	return t
}
