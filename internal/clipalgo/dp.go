// The per-example methods of DP-SGD: each example's gradient clipped before
// the sum, from the per-example norms the engine gives.

package clipalgo

import (
	"errors"
	"fmt"
	"math"
)

// ExampleClipper is the clipping of a method that needs per-example
// gradients (Needs PerExampleGradients). Given the squared L2 norms of each
// example's gradient per tensor, it says by how much each is scaled; the
// engine then sums the scaled gradients without forming them. Adaptive
// methods keep state between calls: use one per run. When Weights returns
// an error, w is unspecified and the state unchanged. An ExampleClipper is
// not safe for concurrent use.
type ExampleClipper interface {
	// Weights reads sq[i·nt + k], the squared norm of example i's gradient
	// of tensor k (b examples, nt tensors; the gradient of the example's own
	// loss), and writes w[i·nt + k], the factor that clips it. Stats:
	// NormBefore is the mean of the examples' norms, NormAfter the mean of
	// the clipped norms, Fraction the fraction of examples clipped,
	// Threshold the clip norm C in force (the sensitivity of the clipped
	// sum: DP-SGD's noise is N(0, σ²C²) per coordinate). It returns an error
	// wrapping ErrNonFinite when a norm is NaN or ±Inf, ErrShape when w or
	// sq is shorter than b·nt. b may be 0 (an empty Poisson batch).
	Weights(w []float32, sq []float64, b, nt int) (Stats, error)
}

// ErrNeeds is wrapped by the error New returns for a method that needs
// per-example gradients, and NewExample for one that does not.
var ErrNeeds = errors.New("clipalgo: method needs another kind of gradient")

// DP is what DP-SGD tells a per-example method besides its Spec.
type DP struct {
	// Sigma is the noise multiplier σ the run is accounted at.
	Sigma float64
	// Expected is the expected batch size B (B for shuffled batches, qN for
	// Poisson ones).
	Expected float64
	// Normal returns z(t), a standard normal that is a function of the
	// run's seed and t only, from a stream of its own (not the gradient's
	// noise): dp_quantile's count noise at its t-th call of Weights. Nil
	// when Sigma is 0.
	Normal func(t uint64) float64
}

// NewExample returns the ExampleClipper that s describes, for a method that
// needs per-example gradients, after normalizing and validating s (the
// error is Validate's when s is invalid, Sigmas' when dp's σ cannot be spent
// as the method needs).
func NewExample(s Spec, dp DP) (ExampleClipper, error) {
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m, _ := Lookup(s.Method)
	if m.Needs != PerExampleGradients {
		return nil, fmt.Errorf("%w: %s clips the batch gradient (clipalgo.New)", ErrNeeds, m.Name)
	}
	_, count, err := Sigmas(s, dp.Sigma, dp.Expected)
	if err != nil {
		return nil, err
	}
	if count > 0 && dp.Normal == nil {
		return nil, errors.New("clipalgo: DP.Normal is nil, and " + s.Method + " draws count noise")
	}
	return m.build.example(s, dp), nil
}

// Sigmas says how a per-example method spends the noise multiplier σ the
// run is accounted at, with expected batch size B: sum is the noise
// multiplier of the clipped sum's noise (N(0, sum²C²) per coordinate),
// count the standard deviation of the noise on the method's count of
// unclipped examples. Every method but dp_quantile spends it all on the sum
// (sum = σ, count = 0). The error, "field: message" as Validate's, says why
// σ cannot be spent so. s must be a normalized, valid Spec of a per-example
// method.
func Sigmas(s Spec, sigma, expected float64) (sum, count float64, err error) {
	m, ok := Lookup(s.Method)
	if !ok || m.Needs != PerExampleGradients {
		return 0, 0, fmt.Errorf("method: %s is not a per-example method", s.Method)
	}
	if m.build.sigmas == nil {
		return sigma, 0, nil
	}
	return m.build.sigmas(s, sigma, expected)
}

var _ ExampleClipper = (*dpFlat)(nil)

var dpFlatMethod = Method{
	Name: "dp_flat",
	Doc: "DP-SGD: each example's whole gradient scaled by min(1, C/(‖g_i‖+1e-6)) before the sum, then N(0, σ²C²) noise; " +
		"fraction: of examples",
	Reference: "Abadi et al. 2016; Opacus flat clipping (DPOptimizer.clip_and_accumulate)",
	Threshold: Threshold{Takes: true, Unit: "norm C", Doc: "the per-example clip norm C"},
	Needs:     PerExampleGradients,
	build:     builder{example: func(s Spec, _ DP) ExampleClipper { return &dpFlat{c: s.Threshold} }},
}

// dpFlat is Opacus's flat clipping: per_sample_clip_factor =
// (max_grad_norm / (per_sample_norms + 1e-6)).clamp(max=1.0)
// (opacus/optimizers/optimizer.py, clip_and_accumulate).
type dpFlat struct{ c float64 }

func (d *dpFlat) Weights(w []float32, sq []float64, b, nt int) (Stats, error) {
	if err := checkExamples(w, sq, b, nt); err != nil {
		return Stats{}, err
	}
	st, _ := flatWeights(w, sq, b, nt, d.c)
	return st, nil
}

// flatWeights writes Opacus's flat clip factors at clip norm c for b
// examples of nt tensors (checked by checkExamples) and returns the
// statistics and the number of examples clipped (‖g_i‖ > c).
func flatWeights(w []float32, sq []float64, b, nt int, c float64) (Stats, int) {
	st := Stats{Threshold: c}
	clipped := 0
	for i := 0; i < b; i++ {
		n := math.Sqrt(rowSum(sq[i*nt : (i+1)*nt]))
		f := min(1, c/(n+torchEps))
		if n > c {
			clipped++
		}
		st.NormBefore += n
		st.NormAfter += f * n
		for k := range nt {
			w[i*nt+k] = float32(f)
		}
	}
	if b > 0 {
		st.NormBefore /= float64(b)
		st.NormAfter /= float64(b)
		st.Fraction = float64(clipped) / float64(b)
	}
	return st, clipped
}

// checkExamples checks the sizes and that every norm is finite.
func checkExamples(w []float32, sq []float64, b, nt int) error {
	if len(w) < b*nt || len(sq) < b*nt {
		return fmt.Errorf("%w: %d examples of %d tensors need %d values, have %d norms and %d weights", ErrShape, b, nt, b*nt, len(sq), len(w))
	}
	for j, v := range sq[:b*nt] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: example %d, tensor %d: squared norm %v", ErrNonFinite, j/nt, j%nt, v)
		}
	}
	return nil
}

func rowSum(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}
