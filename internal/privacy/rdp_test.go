package privacy

import (
	"bufio"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// tfPrivacy is TF Privacy's rdp_accountant_test.py at commit
// 09270afed61a4e9ef6295217b53731f7515f0350
// (tensorflow_privacy/privacy/analysis/rdp_accountant_test.py).
const tfPrivacy = "TF Privacy 09270af rdp_accountant_test.py"

// TestRDPPublished checks the RDP values TF Privacy's tests publish, to
// their tolerance (assertAlmostEqual places=5, assertSequenceAlmostEqual
// delta=1e-5).
func TestRDPPublished(t *testing.T) {
	cases := []struct {
		q, sigma float64
		steps    int
		alpha    float64
		want     float64
		src      string
	}{
		{0.1, 2, 10, 5, 0.07737, tfPrivacy + " lines 101–103, test_compute_rdp_scalar"},
		// lines 112–117, test_compute_rdp_sequence:
		{0.01, 2.5, 50, 1.5, 0.00065, tfPrivacy + " line 116"},
		{0.01, 2.5, 50, 2.5, 0.001085, tfPrivacy + " line 116"},
		{0.01, 2.5, 50, 5, 0.00218075, tfPrivacy + " line 116"},
		{0.01, 2.5, 50, 50, 0.023846, tfPrivacy + " line 116"},
		{0.01, 2.5, 50, 100, 167.416307, tfPrivacy + " line 116"},
		{0.01, 2.5, 50, math.Inf(1), math.Inf(1), tfPrivacy + " line 116"},
		// lines 93–99: q = 0 is no privacy loss, q = 1 is α/(2σ²).
		{0, 10, 1, 20, 0, tfPrivacy + " line 95"},
		{1, 10, 1, 20, 0.1, tfPrivacy + " line 99"},
	}
	for _, c := range cases {
		got := float64(c.steps) * RDP(c.q, c.sigma, c.alpha)
		if !(math.Abs(got-c.want) <= 1e-5) && got != c.want {
			t.Errorf("RDP(q=%v, σ=%v, %d steps, α=%v) = %.9g, want %v (%s)", c.q, c.sigma, c.steps, c.alpha, got, c.want, c.src)
		}
	}
}

// TestRDPEdges: q = 1 is the Gaussian mechanism, steps·α/(2σ²) exactly;
// σ = 0 releases the sum (ε = +Inf).
func TestRDPEdges(t *testing.T) {
	for _, sigma := range []float64{0.3, 1, 4.5} {
		for _, alpha := range DefaultOrders() {
			if got, want := 1000*RDP(1, sigma, alpha), 1000*(alpha/(2*sigma*sigma)); got != want {
				t.Errorf("q=1 σ=%v α=%v: 1000 steps give %v, want %v", sigma, alpha, got, want)
			}
		}
	}
	eps, order, err := Spend(0, 0.01, 100, 1e-5)
	if err != nil || !math.IsInf(eps, 1) || !math.IsNaN(order) {
		t.Errorf("Spend(σ=0) = %v, %v, %v; want +Inf, NaN, nil", eps, order, err)
	}
	if got := RDP(0.01, 0, 2); !math.IsInf(got, 1) {
		t.Errorf("RDP(σ=0) = %v, want +Inf", got)
	}
	for _, bad := range [][3]float64{{-0.1, 1, 2}, {1.1, 1, 2}, {0.1, -1, 2}, {0.1, 1, 1}, {0.1, 1, 0.5}, {math.NaN(), 1, 2}} {
		if got := RDP(bad[0], bad[1], bad[2]); !math.IsNaN(got) {
			t.Errorf("RDP(q=%v, σ=%v, α=%v) = %v, want NaN", bad[0], bad[1], bad[2], got)
		}
	}
}

// TestEpsilonConversion checks the RDP → (ε, δ) conversion on TF Privacy's
// cases (test_get_privacy_spent_check_target_delta, lines 139–154; their
// improved bound is Balle et al.'s Theorem 21, the formula Opacus uses):
// constant RDP 1.1 at orders 2…32 gives ε = 1.32783806176 at order 32, and
// the Gaussian mechanism with σ = 4.530877117 is (1, 1e-6)-DP over a fine
// grid of orders (TF uses orders 1.000…99.999; orders ≤ 1.01 are skipped
// there, and here start at 1.011).
func TestEpsilonConversion(t *testing.T) {
	var orders, rdp []float64
	for a := 2; a <= 32; a++ {
		orders = append(orders, float64(a))
		rdp = append(rdp, 1.1)
	}
	eps, order := Epsilon(orders, rdp, 1e-5)
	if order != 32 || math.Abs(eps-1.32783806176) > 5e-8 {
		t.Errorf("constant RDP: ε=%v at order %v, want 1.32783806176 at 32 (%s line 147)", eps, order, tfPrivacy)
	}
	orders, rdp = nil, nil
	for i := 1011; i < 100000; i++ {
		a := 0.001 * float64(i)
		orders = append(orders, a)
		rdp = append(rdp, RDP(1, 4.530877117, a))
	}
	if eps, _ := Epsilon(orders, rdp, 1e-6); math.Abs(eps-1) > 5e-8 {
		t.Errorf("Gaussian σ=4.530877117: ε=%v at δ=1e-6, want 1 (%s line 154)", eps, tfPrivacy)
	}
	// A negative bound is clamped to 0, and NaN orders are skipped.
	if eps, order := Epsilon([]float64{2, 3}, []float64{math.NaN(), 0}, 0.99); eps != 0 || order != 3 {
		t.Errorf("Epsilon(NaN, 0; δ=0.99) = %v at %v, want 0 at 3", eps, order)
	}
}

// rdpByIntegration is an implementation of the sampled Gaussian
// mechanism's RDP independent of Opacus's series: it integrates the
// definition (Mironov, Talwar and Zhang 2019, §3.3)
//
//	A_α = E_{z∼N(0,σ²)} [ (1 − q + q·exp((2z − 1)/(2σ²)))^α ],  RDP_α = log(A_α)/(α − 1),
//
// by the trapezoidal rule on a uniform grid, which converges geometrically
// for an integrand analytic in a strip (here |Im z| < πσ², where
// 1 − q + q·e^w first vanishes) and decaying like a Gaussian: with step
// h = σ/16 the discretisation error is below exp(−2π²σ·16). When A_α is
// close to 1 (log A ≤ 1) it integrates A_α − 1 instead, term by term as
// φ(z)·expm1(α·log1p(q·expm1(w))), so that no digit is lost to the 1.
func rdpByIntegration(q, sigma, alpha float64) float64 {
	s2 := sigma * sigma
	lo, hi := -40*sigma-2, alpha+40*sigma+2 // the integrand peaks in (0, α)
	h := sigma / 16
	n := int(math.Ceil((hi - lo) / h))
	logPhi := func(z float64) float64 { return -z*z/(2*s2) - math.Log(sigma*math.Sqrt(2*math.Pi)) }
	g := func(z float64) float64 { return alpha * math.Log1p(q*math.Expm1((2*z-1)/(2*s2))) }

	// log A by the log-sum-exp of the grid.
	m := math.Inf(-1)
	for k := 0; k <= n; k++ {
		z := lo + float64(k)*h
		m = math.Max(m, logPhi(z)+g(z))
	}
	var sum neumaier
	for k := 0; k <= n; k++ {
		z := lo + float64(k)*h
		sum.add(math.Exp(logPhi(z) + g(z) - m))
	}
	logA := m + math.Log(sum.value()*h)
	if logA > 1 {
		return logA / (alpha - 1)
	}
	// A − 1 = ∫ φ(z)·(e^{g(z)} − 1) dz.
	sum = neumaier{}
	for k := 0; k <= n; k++ {
		z := lo + float64(k)*h
		gz := g(z)
		switch {
		case gz > 0:
			sum.add(math.Exp(logPhi(z) + gz + math.Log(-math.Expm1(-gz))))
		case gz < 0:
			sum.add(-math.Exp(logPhi(z) + math.Log(-math.Expm1(gz))))
		}
	}
	return math.Log1p(sum.value()*h) / (alpha - 1)
}

// neumaier is compensated summation (Neumaier 1974).
type neumaier struct{ s, c float64 }

func (n *neumaier) add(x float64) {
	t := n.s + x
	if math.Abs(n.s) >= math.Abs(x) {
		n.c += (n.s - t) + x
	} else {
		n.c += (x - t) + n.s
	}
	n.s = t
}

func (n *neumaier) value() float64 { return n.s + n.c }

// TestRDPAgainstIntegration compares RDP with rdpByIntegration at every
// default order, for sampling rates from 1e-4 to 0.99 and σ from 0.5 to 5,
// and ε after 1,000 steps.
//
// ε agrees to 1e-9 relative, at the same order. RDP agrees to 1e-9
// relative where log A_α is not tiny; below, the series is exact only to
// an absolute error in log A_α: Opacus stops it at the first term below
// exp(−30) ≈ 9.4e-14, each of its two series alternates beyond i = α + 1
// so that is its truncation error, and its thousands of log-space additions
// round to about 1e-14. So the bound is |Δ log A_α| ≤ 2e-13. (Summing to
// terms below exp(−40), logAFrac(q, σ, α, −40), leaves the rounding only,
// about 2e-14 in the worst case here.)
func TestRDPAgainstIntegration(t *testing.T) {
	settings := []struct{ q, sigma float64 }{
		{1e-4, 0.5}, {256.0 / 60000, 1.0}, {256.0 / 60000, 0.7}, {0.01, 2.5},
		{0.1, 2}, {0.5, 0.8}, {0.99, 5},
	}
	orders := DefaultOrders()
	var worstRel, worstAbs, worstEps float64
	for _, s := range settings {
		got := make([]float64, len(orders))
		ref := make([]float64, len(orders))
		for i, a := range orders {
			got[i], ref[i] = RDP(s.q, s.sigma, a), rdpByIntegration(s.q, s.sigma, a)
			rel, abs := math.Abs(got[i]-ref[i])/ref[i], math.Abs(got[i]-ref[i])*(a-1)
			if ref[i]*(a-1) >= 1e-3 {
				worstRel = math.Max(worstRel, rel)
			} else {
				worstAbs = math.Max(worstAbs, abs)
			}
			if !(rel <= 1e-9 || abs <= 2e-13) {
				t.Errorf("q=%v σ=%v α=%v: RDP %.15g, integral %.15g (relative %.2g, |Δ log A| %.2g)", s.q, s.sigma, a, got[i], ref[i], rel, abs)
			}
		}
		for i := range got {
			got[i] *= 1000
			ref[i] *= 1000
		}
		e1, o1 := Epsilon(orders, got, 1e-5)
		e2, o2 := Epsilon(orders, ref, 1e-5)
		worstEps = math.Max(worstEps, math.Abs(e1-e2)/e2)
		if !(math.Abs(e1-e2) <= 1e-9*e2) || o1 != o2 {
			t.Errorf("q=%v σ=%v 1000 steps: ε %.15g at %v, by integration %.15g at %v", s.q, s.sigma, e1, o1, e2, o2)
		}
	}
	t.Logf("RDP vs the integral: relative %.2g where log A ≥ 1e-3, |Δ log A| %.2g below; ε after 1000 steps: relative %.2g",
		worstRel, worstAbs, worstEps)
}

// TestOpacusReference compares Spend and NoiseMultiplier with Opacus's own
// code (testdata/opacus_reference.txt, made by opacus_reference.py from
// Opacus's rdp.py): ε to 1e-9 relative with the same best order, and the
// bisection's σ exactly.
func TestOpacusReference(t *testing.T) {
	f, err := os.Open("testdata/opacus_reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("opacus_reference.txt: %v", err)
		}
		return v
	}
	var nSpend, nNoise int
	var worst float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 0 || strings.HasPrefix(fl[0], "#") {
			continue
		}
		switch fl[0] {
		case "spend": // q sigma steps delta epsilon order
			q, sigma, steps, delta, want, wantOrder := num(fl[1]), num(fl[2]), int(num(fl[3])), num(fl[4]), num(fl[5]), num(fl[6])
			eps, order, err := Spend(sigma, q, steps, delta)
			worst = math.Max(worst, math.Abs(eps-want)/want)
			if err != nil || math.Abs(eps-want) > 1e-9*want || order != wantOrder {
				t.Errorf("Spend(σ=%v, q=%v, %d steps, δ=%v) = %.15g at %v (%v); Opacus %.15g at %v", sigma, q, steps, delta, eps, order, err, want, wantOrder)
			}
			nSpend++
		case "noise": // target delta q steps tol sigma epsilon | unreachable
			target, delta, q, steps := num(fl[1]), num(fl[2]), num(fl[3]), int(num(fl[4]))
			sigma, spent, err := NoiseMultiplier(target, delta, q, steps)
			if fl[6] == "unreachable" {
				if !errors.Is(err, ErrUnreachable) {
					t.Errorf("NoiseMultiplier(ε=%v, δ=%v, q=%v, %d steps) = %v, %v; Opacus: unreachable", target, delta, q, steps, sigma, err)
				}
			} else if want, wantEps := num(fl[6]), num(fl[7]); err != nil || sigma != want || math.Abs(spent-wantEps) > 1e-9*wantEps {
				t.Errorf("NoiseMultiplier(ε=%v, δ=%v, q=%v, %d steps) = σ %v (ε %.15g, %v); Opacus σ %v (ε %.15g)", target, delta, q, steps, sigma, spent, err, want, wantEps)
			}
			nNoise++
		default:
			t.Fatalf("opacus_reference.txt: unknown row %q", fl[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if nSpend < 200 || nNoise < 10 {
		t.Fatalf("opacus_reference.txt: only %d spend and %d noise rows", nSpend, nNoise)
	}
	t.Logf("%d ε and %d σ rows; largest relative difference of ε from Opacus's %.2g", nSpend, nNoise, worst)
}
