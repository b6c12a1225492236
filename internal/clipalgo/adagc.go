// AdaGC (Wang et al. 2025): each parameter tensor clipped against an EMA of
// its own clipped gradient norms, after a warm-up of global-norm clipping.
//
// It is matched to the authors' PyTorch code, lishuai-97/AdaGC at commit
// 32c249f, file megatron-gpt2.patch, class AdaGC, which the patch adds to
// Megatron-LLaMA's megatron/optimizer/clip_grads.py. Line numbers "line N"
// below are that clip_grads.py's after the patch (patch line = N + 50099);
// testdata/gen_adagc.py runs that class itself to make the golden vectors.
//
// Per call (clip_by_norm, lines 319-464), with N the global L2 norm, n_i the
// norm of tensor i and γ_i its state (state["norm_value"]):
//
//   - steps ≤ warmup_steps (line 396; steps counts calls from 1, line 324):
//     global clipping, coef = warmup_max_norm/(N + eps) applied to every
//     tensor only when coef < 1 (lines 400-406); then each tensor's norm,
//     measured after that scaling, sets γ_i on the first step and lowers it
//     to the smaller of the two after (lines 409-429): the warm-up leaves
//     each γ_i at the smallest clipped norm it saw, not at an average.
//   - after: per tensor, in order (lines 434-462): γ_i is set to n_i if it
//     was never set (line 450: only with warmup_steps 0, at the first step);
//     if n_i > λ·γ_i, the gradient is multiplied by λ·γ_i/(n_i + eps) and
//     n_i becomes λ·γ_i, the nominal clipped norm (lines 455-460); then
//     γ_i ← β·γ_i + (1−β)·n_i (line 462). The EMA takes the clipped norm,
//     never a spike's.
//
// Defaults: λ (clip_ratio) 1.04, β 0.99, eps 1e-6, start_clip_steps 100
// (AdaGC.__init__, line 289); warmup_max_norm is the max_norm Megatron
// passes, its --clip-grad, 1.0 in the authors' run_pretrain_gpt2_345m.sh
// (line 38) and Megatron's default.
//
// Where the paper and the code differ, this follows the code. The paper's
// update (arXiv 2502.11034; the repository's README writes it the same way)
// is h_i = min(1, λ_rel·γ_{t−1,i}/‖g_i‖) and γ_i ← β·γ_{t−1,i} + (1−β)‖ĝ_i‖:
// the code divides by ‖g_i‖ + eps, and feeds the EMA the nominal λ·γ rather
// than the norm of the rescaled gradient (smaller by the factor
// ‖g‖/(‖g‖+eps)). The paper's warm-up clips with h = min(1, λ_abs/‖g‖); the
// code divides by ‖g‖ + eps, so a norm within eps under the max is still
// nudged (not counted in Fraction, as for norm's torch variant).
//
// A consequence of the code that the docs do not spell out: a tensor whose
// gradient is exactly zero at one warm-up step gets γ_i = 0, and from then
// on every nonzero gradient of it exceeds λ·0 and is multiplied by
// 0/(n_i + eps) = 0 while γ_i stays 0: the tensor is never updated again.
// This implementation does the same (the golden case zeros_l1.2_warm4).
//
// Stats: NormBefore and NormAfter are global L2 norms; Fraction is the
// fraction of tensors clipped (during warm-up 1 when N > warmup_max_norm,
// when every tensor is scaled, else 0); Threshold is the threshold in force
// as a global norm: warmup_max_norm during warm-up, and after it
// sqrt(Σ_i (λ·γ_i)²) with γ before this step's update, the global norm the
// gradients would have with every tensor at its own threshold. Either way
// NormAfter ≤ Threshold, as for the global-norm methods, so that the two
// curves of a run can share an axis.

package clipalgo

import (
	"fmt"
	"math"
)

var _ Clipper[float32] = (*adaGC[float32])(nil)

var adaGCMethod = Method{
	Name: "adagc",
	Doc: "AdaGC: each tensor clipped to c times the EMA of its own clipped norms, after warmup_steps of global-norm clipping; " +
		"fraction: of tensors; threshold logged: the norm of the per-tensor thresholds",
	Reference: "lishuai-97/AdaGC megatron-gpt2.patch, class AdaGC (Wang et al. 2025)",
	Threshold: Threshold{Takes: true, Unit: "λ_rel",
		Doc: "λ_rel, the relative threshold: a tensor is clipped when its norm exceeds λ_rel times its EMA (the reference's default is 1.04)"},
	// In the order of the canonical JSON, which run keys fix.
	Options: []Option{
		{Name: "beta", Kind: KindFloat, Default: 0.99,
			Check: func(v any) string {
				if x := v.(float64); x < 0 || x >= 1 {
					return fmt.Sprintf("must be in [0, 1), got %v", x)
				}
				return ""
			},
			Doc: "the EMA factor β of each tensor's clipped norm, in [0, 1)"},
		{Name: "warmup_steps", Kind: KindInt, Default: 100,
			Check: func(v any) string {
				if n := v.(int); n < 0 {
					return fmt.Sprintf("must be ≥ 0, got %d", n)
				}
				return ""
			},
			Doc: "the first steps, clipped by global norm, whose smallest clipped norm per tensor starts its EMA; 0: none"},
		{Name: "warmup_max_norm", Kind: KindFloat, Default: 1.0, Check: positiveCheck,
			Doc: "the max global norm during warm-up (Megatron's --clip-grad)"},
		{Name: "eps", Kind: KindFloat, Default: 1e-6, Check: positiveCheck,
			Doc: "added to the norm in the denominator of every clip factor"},
	},
	build: build(newAdaGC[float32], newAdaGC[float64]),
}

func newAdaGC[F Float](s Spec) *adaGC[F] {
	return &adaGC[F]{lambda: s.Threshold, beta: s.Float("beta"), eps: s.Float("eps"),
		warmMax: s.Float("warmup_max_norm"), warmup: s.Int("warmup_steps")}
}

// adaGC is the reference's class AdaGC on one rank (lines 287-464).
type adaGC[F Float] struct {
	buffers
	lambda, beta, eps, warmMax float64
	warmup                     int

	steps int       // calls that succeeded (self.steps)
	gamma []float64 // per tensor, γ (state["norm_value"]); nil before the first call
}

func (c *adaGC[F]) Clip(ts []Tensor[F]) (Stats, error) {
	if c.gamma != nil && len(ts) != len(c.gamma) {
		return Stats{}, fmt.Errorf("adagc: %d tensors, %d at the first step: %w", len(ts), len(c.gamma), ErrShape)
	}
	c.size(len(ts))
	n, err := measure(ts, c.before, false)
	if err != nil {
		return Stats{}, err
	}
	first := c.gamma == nil
	if first {
		c.gamma = make([]float64, len(ts))
	}
	c.steps++
	st := Stats{NormBefore: n}

	if c.steps <= c.warmup {
		// Lines 400-406, then 409-429 on the norms after the scaling.
		st.Threshold = c.warmMax
		st.NormAfter = n
		copy(c.after, c.before)
		if coef := c.warmMax / (n + c.eps); coef < 1 {
			st.NormAfter = applyCoef(ts, c.before, c.after, coef)
		}
		if n > c.warmMax {
			st.Fraction = 1
		}
		for i, x := range c.after {
			if first || x < c.gamma[i] {
				c.gamma[i] = x
			}
		}
		return st, nil
	}

	if first {
		copy(c.gamma, c.before) // line 450
	}
	st.Threshold = combine(len(ts), func(i int) float64 { return c.lambda * c.gamma[i] })
	clipped := 0
	for i := range ts {
		g, x := c.gamma[i], c.before[i]
		c.after[i] = x
		if t := c.lambda * g; x > t { // lines 455-460
			c.after[i] = math.Sqrt(scale(ts[i].Grad, t/(x+c.eps)))
			x = t
			clipped++
		}
		// Line 462. The float64 conversions round each product on its
		// own, as torch does, where Go could fuse a multiply and an add.
		c.gamma[i] = float64(g*c.beta) + float64(x*(1-c.beta))
	}
	st.NormAfter = norms2(c.after)
	st.Fraction = frac(clipped, len(ts))
	return st, nil
}
