// DP-SGD's adaptive clipping to a quantile of the per-example norms.

package clipalgo

import (
	"fmt"
	"math"
)

var _ ExampleClipper = (*dpQuantile)(nil)

var dpQuantileMethod = Method{
	Name: "dp_quantile",
	Doc: "DP-SGD adaptive clipping: flat clipping at C_t, then C_{t+1} = C_t·exp(−η(b̄ − γ)), b̄ the noised fraction of examples with ‖g_i‖ ≤ C_t; " +
		"σ is shared between the sum and the count (Andrew et al. Thm 1); fraction: of examples",
	Reference: "Andrew et al. 2021; TF Privacy QuantileAdaptiveClipSumQuery / QuantileEstimatorQuery (geometric update)",
	Threshold: Threshold{Takes: true, Unit: "norm C", Doc: "the initial clip norm C_0"},
	Options: []Option{
		{Name: "target_quantile", Kind: KindFloat, Default: 0.5, Check: openUnitCheck,
			Doc: "γ in (0, 1): the fraction of examples C tracks to leave unclipped"},
		{Name: "clip_lr", Kind: KindFloat, Default: 0.2, Check: positiveCheck,
			Doc: "η > 0 of the geometric update C·exp(−η(b̄ − γ))"},
		{Name: "count_noise", Kind: KindFloat, Default: 0.0, Check: nonNegativeCheck,
			Doc: "σ_b, the standard deviation of the noise on the count of unclipped examples; 0: the expected batch size/20 (the paper's choice); σ must be < 2σ_b"},
	},
	Needs: PerExampleGradients,
	build: builder{
		example: func(s Spec, dp DP) ExampleClipper {
			_, count, _ := quantileSigmas(s, dp.Sigma, dp.Expected)
			return &dpQuantile{c: s.Threshold, target: s.Float("target_quantile"), lr: s.Float("clip_lr"),
				countStd: count, expected: dp.Expected, normal: dp.Normal}
		},
		sigmas: quantileSigmas,
	},
}

// quantileSigmas is Andrew et al.'s Theorem 1: noise σ_Δ·C on the clipped
// sum and σ_b on the count of unclipped examples, each shifted by −1/2
// (sensitivity 1/2), cost what one Gaussian mechanism of noise multiplier
// σ = (σ_Δ⁻² + (2σ_b)⁻²)^(−1/2) costs. The run is accounted at the σ it
// gives; the sum gets σ_Δ = (σ⁻² − (2σ_b)⁻²)^(−1/2), which needs σ < 2σ_b.
// With σ = 0 nothing is private and neither is noised.
func quantileSigmas(s Spec, sigma, expected float64) (sum, count float64, err error) {
	if !(expected > 0) {
		return 0, 0, fmt.Errorf("batch_size: dp_quantile needs an expected batch size > 0, got %v", expected)
	}
	if sigma == 0 {
		return 0, 0, nil
	}
	sb, note := s.Float("count_noise"), ""
	if sb == 0 {
		sb, note = expected/20, " (the default, expected batch size/20)"
	}
	if !(sigma < 2*sb) {
		return 0, 0, fmt.Errorf("count_noise: dp_quantile needs noise_multiplier σ < 2·count_noise (Andrew et al. 2021, Thm 1), got σ = %s and count_noise = %s%s",
			FormatFloat(sigma), FormatFloat(sb), note)
	}
	return 1 / math.Sqrt(1/(sigma*sigma)-1/(4*sb*sb)), sb, nil
}

// dpQuantile is TF Privacy's QuantileAdaptiveClipSumQuery with
// geometric_update (Andrew et al. 2021): step t clips each example as
// dp_flat at C_t (Opacus's factor min(1, C_t/(‖g_i‖+1e-6))), and counts
// the examples with ‖g_i‖ ≤ C_t; the count, shifted by −1/2 per example,
// gets N(0, σ_b²) noise and is divided by the expected batch size B, then
// shifted back and held in [0, 1] (QuantileEstimatorQuery):
//
//	b̄ = clamp((Σ_i (1[‖g_i‖ ≤ C_t] − 1/2) + σ_b·z_t)/B + 1/2, 0, 1)
//	C_{t+1} = C_t · exp(−η(b̄ − γ))
//
// z_t is DP.Normal(t) at the t-th call (from 0). Stats.Threshold is C_t,
// the clip norm of the step and the sensitivity of its sum.
type dpQuantile struct {
	c, target, lr      float64
	countStd, expected float64
	normal             func(uint64) float64
	t                  uint64
}

func (d *dpQuantile) Weights(w []float32, sq []float64, b, nt int) (Stats, error) {
	if err := checkExamples(w, sq, b, nt); err != nil {
		return Stats{}, err
	}
	c := d.c
	st, clipped := flatWeights(w, sq, b, nt, c)
	unclipped := b - clipped
	below := float64(unclipped) - 0.5*float64(b)
	if d.countStd > 0 {
		below += d.countStd * d.normal(d.t)
	}
	frac := min(1, max(0, below/d.expected+0.5))
	d.c = c * math.Exp(-d.lr*(frac-d.target))
	d.t++
	return st, nil
}
