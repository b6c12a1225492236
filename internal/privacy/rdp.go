// The RDP accountant of the sampled Gaussian mechanism and its conversion to
// (ε, δ), line for line as Opacus computes them.

package privacy

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors; the functions below wrap them with the offending value.
var (
	ErrInput       = errors.New("privacy: invalid input")
	ErrUnreachable = errors.New("privacy: target epsilon unreachable")
)

// DefaultOrders returns the RDP orders α over which ε is minimised: Opacus's
// RDPAccountant.DEFAULT_ALPHAS, 1.1 to 10.9 in steps of 0.1 then 12 to 63
// (opacus/accountants/rdp.py line 22: [1 + x / 10.0 for x in range(1, 100)]
// + list(range(12, 64))). Each order is computed as Python computes it,
// 1 + x/10, so that the values are the same float64s. The slice is new on
// every call.
func DefaultOrders() []float64 {
	orders := make([]float64, 0, 99+52)
	for x := 1; x < 100; x++ {
		orders = append(orders, 1+float64(x)/10)
	}
	for a := 12; a < 64; a++ {
		orders = append(orders, float64(a))
	}
	return orders
}

// RDP returns the Rényi differential privacy ε_α of one step of the sampled
// Gaussian mechanism at order alpha > 1: each example in with probability q,
// noise multiplier sigma (noise standard deviation over L2 sensitivity).
// It is Opacus's _compute_rdp (opacus/accountants/analysis/rdp.py lines
// 235–259): 0 when q = 0, +Inf when sigma = 0 or alpha is +Inf,
// alpha/(2σ²) when q = 1, else log(A_α)/(α−1) with A_α of Mironov, Talwar
// and Zhang (2019), §3.3. It returns NaN where Opacus would raise (q or
// sigma out of range, or the alternating series of a fractional order
// cancelling below zero in floating point); Epsilon ignores NaN orders as
// Opacus's nanargmin does.
func RDP(q, sigma, alpha float64) float64 {
	if !(q >= 0 && q <= 1) || !(sigma >= 0) || !(alpha > 1) || math.IsNaN(sigma) {
		return math.NaN()
	}
	switch {
	case q == 0:
		return 0
	case sigma == 0: // no privacy
		return math.Inf(1)
	case q == 1:
		return alpha / (2 * sigma * sigma)
	case math.IsInf(alpha, 1):
		return math.Inf(1)
	}
	return logA(q, sigma, alpha) / (alpha - 1)
}

// logA is log(A_α), Opacus's _compute_log_a (rdp.py lines 195–217): the
// binomial expansion for integer α, the two-sided series for fractional α.
func logA(q, sigma, alpha float64) float64 {
	if alpha == math.Trunc(alpha) {
		return logAInt(q, sigma, int(alpha))
	}
	return logAFrac(q, sigma, alpha, seriesCutoff)
}

// seriesCutoff ends the series of a fractional order at the first term below
// exp(−30), as Opacus does (rdp.py line 189). The terms alternate in sign
// beyond i = α + 1, so log(A_α) is then exact to about exp(−30) ≈ 9.4e-14
// in absolute terms (rdp_test.go measures it against numerical integration).
const seriesCutoff = -30

// logAInt is Opacus's _compute_log_a_for_int_alpha (rdp.py lines 105–138):
// A_α = Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} exp((i²−i)/(2σ²)), summed in log
// space.
func logAInt(q, sigma float64, alpha int) float64 {
	a := float64(alpha)
	logQ, log1mQ := math.Log(q), math.Log(1-q)
	s2 := sigma * sigma
	logSum := math.Inf(-1)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		logCoef := logBinomInt(a, fi) + fi*logQ + (a-fi)*log1mQ
		s := logCoef + (fi*fi-fi)/(2*s2)
		logSum = logAdd(logSum, s)
	}
	return logSum
}

// logAFrac is Opacus's _compute_log_a_for_frac_alpha (rdp.py lines
// 141–192): A_α split at z0 = σ² log(1/q − 1) + 1/2 into integrals over
// (−∞, z0] and [z0, ∞), each a series in the generalised binomial
// coefficients C(α, i), summed until both terms fall below exp(cutoff).
func logAFrac(q, sigma, alpha, cutoff float64) float64 {
	logA0, logA1 := math.Inf(-1), math.Inf(-1)
	s2 := sigma * sigma
	z0 := s2*math.Log(1/q-1) + 0.5
	logQ, log1mQ := math.Log(q), math.Log(1-q)
	sqrt2s := math.Sqrt2 * sigma
	// C(α, i) by the recurrence C(α, i) = C(α, i−1)·(α−i+1)/i, carried as
	// log|C| and its sign (scipy's binom, which Opacus calls, differs by
	// rounding only).
	logAbsCoef, positive := 0.0, true
	for i := 0; ; i++ {
		if i > 0 {
			f := (alpha - float64(i) + 1) / float64(i)
			if f < 0 {
				positive = !positive
			}
			logAbsCoef += math.Log(math.Abs(f))
		}
		fi := float64(i)
		j := alpha - fi
		logT0 := logAbsCoef + fi*logQ + j*log1mQ
		logT1 := logAbsCoef + j*logQ + fi*log1mQ
		logE0 := math.Log(0.5) + logErfc((fi-z0)/sqrt2s)
		logE1 := math.Log(0.5) + logErfc((z0-j)/sqrt2s)
		logS0 := logT0 + (fi*fi-fi)/(2*s2) + logE0
		logS1 := logT1 + (j*j-j)/(2*s2) + logE1
		if positive {
			logA0 = logAdd(logA0, logS0)
			logA1 = logAdd(logA1, logS1)
		} else {
			logA0 = logSub(logA0, logS0)
			logA1 = logSub(logA1, logS1)
		}
		if math.Max(logS0, logS1) < cutoff {
			break
		}
		if math.IsNaN(logA0) || math.IsNaN(logA1) {
			return math.NaN()
		}
	}
	return logAdd(logA0, logA1)
}

// logAdd is log(exp(x) + exp(y)) (Opacus's _log_add, rdp.py lines 60–74).
func logAdd(x, y float64) float64 {
	a, b := math.Min(x, y), math.Max(x, y)
	if math.IsInf(a, -1) {
		return b
	}
	return math.Log1p(math.Exp(a-b)) + b
}

// logSub is log(exp(x) − exp(y)) (Opacus's _log_sub, rdp.py lines 77–102);
// NaN where the difference would be negative (Opacus raises ValueError).
func logSub(x, y float64) float64 {
	switch {
	case x < y:
		return math.NaN()
	case math.IsInf(y, -1):
		return x
	case x == y:
		return math.Inf(-1)
	}
	d := math.Expm1(x - y)
	if math.IsInf(d, 1) { // Python's OverflowError branch
		return x
	}
	return math.Log(d) + y
}

// logBinomInt is log C(n, k) for integers 0 ≤ k ≤ n, from log-gamma.
func logBinomInt(n, k float64) float64 {
	if k == 0 || k == n {
		return 0
	}
	ln, _ := math.Lgamma(n + 1)
	lk, _ := math.Lgamma(k + 1)
	lnk, _ := math.Lgamma(n - k + 1)
	return ln - lk - lnk
}

// logErfc is log(erfc(x)), accurate where erfc underflows (Opacus's
// _log_erfc, rdp.py lines 220–232, uses scipy's log_ndtr). Below x = 25
// erfc(x) > 1e-273 and math.Erfc has full relative precision; above, the
// asymptotic series erfc(x) = exp(−x²)/(x√π)·(1 − 1/(2x²) + 3/(4x⁴) − …),
// whose first omitted term is below 1e-14 there.
func logErfc(x float64) float64 {
	if x < 25 {
		return math.Log(math.Erfc(x))
	}
	t := 1 / (2 * x * x)
	// 1 − t + 3t² − 15t³ + 105t⁴ − 945t⁵ (t = 1/(2x²)).
	series := 1 - t*(1-t*(3-t*(15-t*(105-t*945))))
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(series)
}

// Epsilon converts RDP guarantees rdp[i] at orders[i] into the smallest ε of
// (ε, δ)-differential privacy by Balle et al. (2020), Theorem 21, as
// Opacus's get_privacy_spent (opacus/accountants/analysis/rdp.py lines
// 289–335):
//
//	ε = min_α  rdp_α − (log δ + log α)/(α − 1) + log((α − 1)/α),
//
// and returns it with the order that attains it (the first such, NaN
// orders skipped as numpy's nanargmin does). Two departures, both outside
// what training meets: a negative minimum is returned as 0 (an (ε<0, δ)
// guarantee implies (0, δ); TF Privacy's _compute_eps clamps likewise,
// Opacus returns the negative number), and where every order is +Inf or
// NaN (σ = 0) ε is +Inf and the order NaN (Opacus returns the first order).
// It panics if the slices' lengths differ.
func Epsilon(orders, rdp []float64, delta float64) (eps, order float64) {
	if len(orders) != len(rdp) {
		panic(fmt.Sprintf("privacy: %d orders but %d RDP values", len(orders), len(rdp)))
	}
	eps, order = math.Inf(1), math.NaN()
	logDelta := math.Log(delta)
	for i, a := range orders {
		e := rdp[i] - (logDelta+math.Log(a))/(a-1) + math.Log((a-1)/a)
		if e < eps { // false for NaN and for +Inf
			eps, order = e, a
		}
	}
	if eps < 0 {
		eps = 0
	}
	return eps, order
}

// Accountant composes sampled Gaussian mechanisms, one entry per run of
// steps that share a noise multiplier and a sampling rate, as Opacus's
// RDPAccountant keeps its history (opacus/accountants/rdp.py lines 27–68),
// and reports ε over DefaultOrders. The zero value is an empty accountant
// (ε = 0 with no steps, as Opacus returns). The RDP of each (σ, q) is
// computed once, so ε at every evaluation costs a pass over the orders.
type Accountant struct {
	orders  []float64
	entries []entry
}

type entry struct {
	sigma, q float64
	steps    int
	rdp      []float64 // one step's RDP at each order
}

// Compose records steps more steps with noise multiplier sigma and sampling
// rate q; zero steps record nothing. It returns an error wrapping ErrInput
// if sigma < 0 or +Inf, q is outside [0, 1] or steps < 0 (or any is NaN).
func (a *Accountant) Compose(sigma, q float64, steps int) error {
	if err := checkMechanism(sigma, q); err != nil {
		return err
	}
	if steps < 0 {
		return fmt.Errorf("%w: steps %d < 0", ErrInput, steps)
	}
	if steps == 0 { // Opacus's history only ever holds steps taken
		return nil
	}
	if a.orders == nil {
		a.orders = DefaultOrders()
	}
	if n := len(a.entries); n > 0 && a.entries[n-1].sigma == sigma && a.entries[n-1].q == q {
		a.entries[n-1].steps += steps
		return nil
	}
	for _, e := range a.entries { // reuse the RDP of an earlier run of the same mechanism
		if e.sigma == sigma && e.q == q {
			a.entries = append(a.entries, entry{sigma, q, steps, e.rdp})
			return nil
		}
	}
	rdp := make([]float64, len(a.orders))
	for i, alpha := range a.orders {
		rdp[i] = RDP(q, sigma, alpha)
	}
	a.entries = append(a.entries, entry{sigma, q, steps, rdp})
	return nil
}

// Spent returns ε of (ε, delta)-DP for every step composed so far and the
// order that attains it: compute_rdp's per-order RDP times the steps,
// summed over entries (opacus/accountants/rdp.py lines 54–67), then Epsilon.
// It returns an error wrapping ErrInput unless 0 < delta < 1.
func (a *Accountant) Spent(delta float64) (eps, order float64, err error) {
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("%w: delta %v outside (0, 1)", ErrInput, delta)
	}
	if len(a.entries) == 0 {
		return 0, 0, nil
	}
	total := make([]float64, len(a.orders))
	for _, e := range a.entries {
		for i, r := range e.rdp {
			total[i] += r * float64(e.steps)
		}
	}
	eps, order = Epsilon(a.orders, total, delta)
	return eps, order, nil
}

// Spend returns ε of (ε, delta)-DP after steps steps of the sampled Gaussian
// mechanism with noise multiplier sigma and sampling rate q, over
// DefaultOrders, and the order that attains it: Opacus's
// RDPAccountant.get_privacy_spent with history [(sigma, q, steps)]. σ = 0
// gives ε = +Inf. It returns an error wrapping ErrInput for sigma < 0, q
// outside [0, 1], steps < 0 or delta outside (0, 1).
func Spend(sigma, q float64, steps int, delta float64) (eps, order float64, err error) {
	var a Accountant
	if err := a.Compose(sigma, q, steps); err != nil {
		return 0, 0, err
	}
	return a.Spent(delta)
}

func checkMechanism(sigma, q float64) error {
	if !(sigma >= 0) || math.IsInf(sigma, 1) {
		return fmt.Errorf("%w: noise multiplier %v must be finite and ≥ 0", ErrInput, sigma)
	}
	if !(q >= 0 && q <= 1) {
		return fmt.Errorf("%w: sampling rate %v outside [0, 1]", ErrInput, q)
	}
	return nil
}
