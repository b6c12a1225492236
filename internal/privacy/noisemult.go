// σ for a target ε: Opacus's get_noise_multiplier.

package privacy

import (
	"fmt"
	"math"
)

// MaxNoiseMultiplier is the largest σ NoiseMultiplier tries: Opacus's
// MAX_SIGMA (opacus/accountants/utils.py line 20).
const MaxNoiseMultiplier = 1e6

// NoiseMultiplier returns the noise multiplier σ with which steps steps of
// the sampled Gaussian mechanism at sampling rate q spend at most epsilon of
// (epsilon, delta)-DP and at least epsilon·(1 − 1%), with the ε it spends.
//
// It is Opacus's get_noise_multiplier (opacus/accountants/utils.py lines
// 23–78, behind make_private_with_epsilon), step for step: σ_high doubles
// from 10 (20, 40, …) until ε(σ_high) ≤ target, an error once σ_high
// exceeds MaxNoiseMultiplier; then bisection on [0, σ_high], keeping σ_high
// at ε ≤ target, until target − ε(σ_high) ≤ tol; σ_high is returned. Opacus
// uses tol = epsilon_tolerance = 0.01, an absolute tolerance; here
// tol = min(0.01, 0.01·epsilon), so that the result is within 1% of the
// target whatever its size, and for targets ≥ 1 the bisection is Opacus's
// own and returns the σ Opacus returns.
//
// It returns an error wrapping ErrInput for epsilon ≤ 0, delta outside
// (0, 1), q outside (0, 1] or steps < 1, and one wrapping ErrUnreachable
// when no σ ≤ MaxNoiseMultiplier reaches the target (ε does not fall below
// a floor set by δ and the orders, about 0.1 at δ = 1e-5, however large σ).
func NoiseMultiplier(epsilon, delta, q float64, steps int) (sigma, spent float64, err error) {
	switch {
	case !(epsilon > 0) || math.IsInf(epsilon, 1):
		return 0, 0, fmt.Errorf("%w: target epsilon %v must be finite and > 0", ErrInput, epsilon)
	case !(delta > 0 && delta < 1):
		return 0, 0, fmt.Errorf("%w: delta %v outside (0, 1)", ErrInput, delta)
	case !(q > 0 && q <= 1):
		return 0, 0, fmt.Errorf("%w: sampling rate %v outside (0, 1]", ErrInput, q)
	case steps < 1:
		return 0, 0, fmt.Errorf("%w: steps %d < 1", ErrInput, steps)
	}
	tol := math.Min(0.01, 0.01*epsilon)
	spend := func(s float64) float64 {
		e, _, err := Spend(s, q, steps, delta)
		if err != nil {
			panic(err) // inputs checked above
		}
		return e
	}

	lo, hi := 0.0, 10.0
	epsHigh := math.Inf(1)
	for epsHigh > epsilon {
		hi *= 2
		epsHigh = spend(hi)
		if hi > MaxNoiseMultiplier {
			return 0, 0, fmt.Errorf("%w: ε = %v at δ = %v, q = %v, %d steps: even σ = %g spends ε = %.4g (ε has a floor that δ sets)",
				ErrUnreachable, epsilon, delta, q, steps, hi, epsHigh)
		}
	}
	// Bisection halves [lo, hi] each time; 200 halvings pass float64's
	// resolution of any σ ≤ MaxNoiseMultiplier, a guard that is never reached
	// while ε(σ) is continuous.
	for i := 0; epsilon-epsHigh > tol && i < 200; i++ {
		mid := (lo + hi) / 2
		e := spend(mid)
		if e < epsilon {
			hi, epsHigh = mid, e
		} else {
			lo = mid
		}
	}
	return hi, epsHigh, nil
}
