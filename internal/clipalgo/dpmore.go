// DP-SGD's per-layer and automatic clipping.

package clipalgo

import (
	"fmt"
	"math"
)

var (
	_ ExampleClipper = (*dpPerLayer)(nil)
	_ ExampleClipper = (*dpAutomatic)(nil)
)

var dpPerLayerMethod = Method{
	Name: "dp_per_layer",
	Doc: "DP-SGD per-layer clipping: each example's gradient of parameter tensor k scaled by min(1, C_k/(‖g_ik‖+1e-6)), " +
		"C_k = C/√K over the K tensors (Σ C_k² = C²), then N(0, σ²C²) noise; fraction: of examples with a tensor clipped",
	Reference: "McMahan et al. 2018; Opacus per-layer clipping (DPPerLayerOptimizer, equal split)",
	Threshold: Threshold{Takes: true, Unit: "norm C", Doc: "the per-example clip norm C, split equally: C_k = C/√K"},
	Needs:     PerExampleGradients,
	build:     builder{example: func(s Spec, _ DP) ExampleClipper { return &dpPerLayer{c: s.Threshold} }},
}

// dpPerLayer is Opacus's DPPerLayerOptimizer with the equal split of its
// tutorials (max_grad_norm = [C/√K]·K): per parameter tensor,
// per_sample_clip_factor = (C_k / (per_sample_norms + 1e-6)).clamp(max=1.0),
// and the noise's sensitivity ‖(C_1 … C_K)‖₂ = C.
type dpPerLayer struct{ c float64 }

func (d *dpPerLayer) Weights(w []float32, sq []float64, b, nt int) (Stats, error) {
	if err := checkExamples(w, sq, b, nt); err != nil {
		return Stats{}, err
	}
	st := Stats{Threshold: d.c}
	if b == 0 {
		return st, nil
	}
	ck := d.c / math.Sqrt(float64(nt))
	clipped := 0
	for i := range b {
		row := sq[i*nt : (i+1)*nt]
		var after float64
		any := false
		for k, s := range row {
			n := math.Sqrt(s)
			f := min(1, ck/(n+torchEps))
			if n > ck {
				any = true
			}
			after += f * f * s
			w[i*nt+k] = float32(f)
		}
		if any {
			clipped++
		}
		st.NormBefore += math.Sqrt(rowSum(row))
		st.NormAfter += math.Sqrt(after)
	}
	st.NormBefore /= float64(b)
	st.NormAfter /= float64(b)
	st.Fraction = float64(clipped) / float64(b)
	return st, nil
}

var dpAutomaticMethod = Method{
	Name: "dp_automatic",
	Doc: "DP-SGD automatic clipping: each example's gradient scaled by C/(‖g_i‖+γ) (every example, up or down), " +
		"then N(0, σ²C²) noise; γ = 0 is normalisation; fraction: of examples scaled down",
	Reference: "Bu et al. 2022 (AUTO-S, scaled by C); Das et al. 2021 (γ = 0)",
	Threshold: Threshold{Takes: true, Unit: "norm C", Doc: "the norm C every example's gradient is scaled to (up to γ)"},
	Options: []Option{{Name: "gamma", Kind: KindFloat, Default: 0.01, Check: nonNegativeCheck,
		Doc: "the stability constant γ ≥ 0 of C/(‖g_i‖+γ); 0: normalisation C·g_i/‖g_i‖"}},
	Needs: PerExampleGradients,
	build: builder{example: func(s Spec, _ DP) ExampleClipper {
		return &dpAutomatic{c: s.Threshold, gamma: s.Float("gamma")}
	}},
}

// dpAutomatic is Bu et al.'s automatic clipping AUTO-S, g_i·C/(‖g_i‖ + γ):
// every clipped gradient has norm C·‖g_i‖/(‖g_i‖ + γ) < C, so the sum's
// sensitivity is C. With γ = 0 it is Das et al.'s normalisation; a zero
// gradient then gets factor 0 (it is zero whatever its factor), and a
// factor beyond float32's range is held at its largest value.
type dpAutomatic struct{ c, gamma float64 }

func (d *dpAutomatic) Weights(w []float32, sq []float64, b, nt int) (Stats, error) {
	if err := checkExamples(w, sq, b, nt); err != nil {
		return Stats{}, err
	}
	st := Stats{Threshold: d.c}
	if b == 0 {
		return st, nil
	}
	scaled := 0
	for i := range b {
		n := math.Sqrt(rowSum(sq[i*nt : (i+1)*nt]))
		f := 0.0
		if n+d.gamma > 0 {
			f = min(d.c/(n+d.gamma), math.MaxFloat32)
		}
		if n > 0 && f < 1 {
			scaled++
		}
		st.NormBefore += n
		st.NormAfter += f * n
		for k := range nt {
			w[i*nt+k] = float32(f)
		}
	}
	st.NormBefore /= float64(b)
	st.NormAfter /= float64(b)
	st.Fraction = float64(scaled) / float64(b)
	return st, nil
}

func nonNegativeCheck(v any) string {
	if x := v.(float64); x < 0 {
		return fmt.Sprintf("must be ≥ 0, got %v", x)
	}
	return ""
}
