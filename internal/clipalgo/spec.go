package clipalgo

import (
	"fmt"
	"math"
	"strings"
)

// Spec says which method clips and how, as the experiment file writes it
// (one entry of the grid's clip axis, with one threshold). Normalize fills in
// the defaults of the method's options and clears the options that do not
// apply, so that a resolved Spec marshals to the same canonical JSON however
// the file spelled it.
type Spec struct {
	Method string `json:"method" yaml:"method"`
	// Threshold is the method's one number: the clip value (value), the max
	// norm (norm, layer_norm), the RMS threshold (block_rms), λ (agc), the
	// percentile in (0, 100] (autoclip), the z threshold z_thresh (zclip; the
	// reference's default is 2.5). Unused by none.
	Threshold float64 `json:"threshold,omitempty" yaml:"threshold"`

	// norm: "2" (default) or "inf".
	NormType string `json:"norm_type,omitempty" yaml:"norm_type"`
	// norm, autoclip, zclip: how the final rescale is done. "torch" (default)
	// is clip_grad_norm_: scale by min(1, c/(N+1e-6)); for zclip it is exactly
	// the reference code, which uses clip_grad_norm_ during warm-up and, after
	// it, scales by c/(N+1e-6) only when N > c. "optax" is
	// clip_by_global_norm: scale by c/N only when N ≥ c.
	Variant string `json:"variant,omitempty" yaml:"variant"`
	// agc: leave the final classifier layer (tensors marked Last) unclipped
	// (Brock et al. 2021, §4.1).
	ExcludeLast bool `json:"exclude_last,omitempty" yaml:"exclude_last"`
	// agc: the floor on a unit's parameter norm (default 1e-3, as optax's
	// adaptive_grad_clip). zclip: added to the standard deviation in the
	// z-score (default 1e-6, as ZClip's eps).
	Eps float64 `json:"eps,omitempty" yaml:"eps"`

	// zclip options, named and defaulted as bluorion-com/ZClip's ZClip
	// constructor (zclip/zclip.py): EMA factor alpha (0.97); warmup_steps
	// (25), the number of steps whose norms initialise the mean and variance;
	// max_grad_norm (1.0), a cap on the clip threshold at every step, warm-up
	// included; 0 or unset means the default 1.0, a negative value turns the
	// cap off (the reference's None) and normalizes to -1.
	Alpha       float64 `json:"alpha,omitempty" yaml:"alpha"`
	WarmupSteps int     `json:"warmup_steps,omitempty" yaml:"warmup_steps"`
	MaxGradNorm float64 `json:"max_grad_norm,omitempty" yaml:"max_grad_norm"`
	// zclip: "zscore" (default) clips when the z-score exceeds the
	// threshold; "percentile" clips to μ + z_thresh·σ whenever the norm
	// exceeds it.
	Mode string `json:"mode,omitempty" yaml:"mode"`
	// zclip, zscore mode: "adaptive_scaling" (default) clips to
	// μ + z_thresh²·σ/z, "mean" clips to μ.
	ClipOption string `json:"clip_option,omitempty" yaml:"clip_option"`
	// zclip, zscore mode with adaptive_scaling: multiplies the whole
	// adaptive threshold (default 1.0; the reference code multiplies
	// μ + z_thresh²·σ/z, not only its second term as its docstring says).
	ClipFactor float64 `json:"clip_factor,omitempty" yaml:"clip_factor"`
	// zclip: leave the mean and variance as they are on a step that clipped
	// (default false: they are updated with the clip threshold).
	SkipUpdateOnSpike bool `json:"skip_update_on_spike,omitempty" yaml:"skip_update_on_spike"`
}

// Methods are the method names a Spec accepts, in the order reports list them.
var Methods = []string{"none", "value", "norm", "layer_norm", "block_rms", "agc", "autoclip", "zclip"}

// optionsOf lists the options (YAML names) each method takes besides threshold.
var optionsOf = map[string][]string{
	"none":       nil,
	"value":      nil,
	"norm":       {"norm_type", "variant"},
	"layer_norm": nil,
	"block_rms":  nil,
	"agc":        {"exclude_last", "eps"},
	"autoclip":   {"variant"},
	"zclip": {"variant", "alpha", "warmup_steps", "max_grad_norm", "eps",
		"mode", "clip_option", "clip_factor", "skip_update_on_spike"},
}

// Options returns the option names (as YAML spells them) that method takes
// besides threshold, and whether the method exists.
func Options(method string) ([]string, bool) {
	o, ok := optionsOf[method]
	return o, ok
}

// NeedsThreshold reports whether method takes a threshold.
func NeedsThreshold(method string) bool { return method != "none" }

// Normalize returns s with the defaults of its method filled in and the
// options its method does not take cleared. It does not validate.
func (s Spec) Normalize() Spec {
	out := Spec{Method: s.Method}
	if NeedsThreshold(s.Method) {
		out.Threshold = s.Threshold
	}
	variant := func() string {
		if s.Variant == "" {
			return "torch"
		}
		return s.Variant
	}
	orDefault := func(x, def float64) float64 {
		if x == 0 {
			return def
		}
		return x
	}
	switch s.Method {
	case "norm":
		out.NormType = s.NormType
		if out.NormType == "" {
			out.NormType = "2"
		}
		out.Variant = variant()
	case "agc":
		out.ExcludeLast = s.ExcludeLast
		out.Eps = orDefault(s.Eps, 1e-3)
	case "autoclip":
		out.Variant = variant()
	case "zclip":
		out.Variant = variant()
		out.Alpha = orDefault(s.Alpha, 0.97)
		out.WarmupSteps = s.WarmupSteps
		if out.WarmupSteps == 0 {
			out.WarmupSteps = 25
		}
		out.MaxGradNorm = orDefault(s.MaxGradNorm, 1.0)
		if out.MaxGradNorm < 0 {
			out.MaxGradNorm = -1
		}
		out.Eps = orDefault(s.Eps, 1e-6)
		out.Mode = s.Mode
		if out.Mode == "" {
			out.Mode = "zscore"
		}
		out.SkipUpdateOnSpike = s.SkipUpdateOnSpike
		if out.Mode == "zscore" {
			out.ClipOption = s.ClipOption
			if out.ClipOption == "" {
				out.ClipOption = "adaptive_scaling"
			}
			if out.ClipOption == "adaptive_scaling" {
				out.ClipFactor = orDefault(s.ClipFactor, 1.0)
			}
		}
	}
	return out
}

// Validate reports the first thing wrong with s, naming the field and what
// is allowed. Call it on a normalized Spec.
func (s Spec) Validate() error {
	if _, ok := optionsOf[s.Method]; !ok {
		return fmt.Errorf("method: unknown clip method %q (allowed: %s)", s.Method, strings.Join(Methods, ", "))
	}
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	if NeedsThreshold(s.Method) {
		if bad(s.Threshold) || s.Threshold <= 0 {
			return fmt.Errorf("threshold: method %s needs a threshold > 0, got %v", s.Method, s.Threshold)
		}
	}
	switch s.Method {
	case "norm":
		if s.NormType != "2" && s.NormType != "inf" {
			return fmt.Errorf("norm_type: %q is not allowed (allowed: 2, inf)", s.NormType)
		}
	case "agc":
		if bad(s.Eps) || s.Eps <= 0 {
			return fmt.Errorf("eps: must be > 0, got %v", s.Eps)
		}
	case "autoclip":
		if s.Threshold > 100 {
			return fmt.Errorf("threshold: autoclip's percentile must be in (0, 100], got %v", s.Threshold)
		}
	case "zclip":
		if bad(s.Alpha) || s.Alpha <= 0 || s.Alpha >= 1 {
			return fmt.Errorf("alpha: must be in (0, 1), got %v", s.Alpha)
		}
		if s.WarmupSteps < 1 {
			return fmt.Errorf("warmup_steps: must be ≥ 1, got %d", s.WarmupSteps)
		}
		if bad(s.MaxGradNorm) || (s.MaxGradNorm <= 0 && s.MaxGradNorm != -1) {
			return fmt.Errorf("max_grad_norm: must be > 0, or negative to turn the cap off, got %v", s.MaxGradNorm)
		}
		if bad(s.Eps) || s.Eps <= 0 {
			return fmt.Errorf("eps: must be > 0, got %v", s.Eps)
		}
		switch s.Mode {
		case "zscore":
			if s.ClipOption != "adaptive_scaling" && s.ClipOption != "mean" {
				return fmt.Errorf("clip_option: %q is not allowed (allowed: adaptive_scaling, mean)", s.ClipOption)
			}
			if s.ClipOption == "adaptive_scaling" && (bad(s.ClipFactor) || s.ClipFactor <= 0) {
				return fmt.Errorf("clip_factor: must be > 0, got %v", s.ClipFactor)
			}
		case "percentile":
		default:
			return fmt.Errorf("mode: %q is not allowed (allowed: zscore, percentile)", s.Mode)
		}
	}
	switch s.Method {
	case "norm", "autoclip", "zclip":
		if s.Variant != "torch" && s.Variant != "optax" {
			return fmt.Errorf("variant: %q is not allowed (allowed: torch, optax)", s.Variant)
		}
	}
	return nil
}
