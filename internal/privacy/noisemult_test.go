package privacy

import (
	"errors"
	"math"
	"testing"
)

// TestNoiseMultiplierTolerance: the solved σ spends at most the target and
// at least 99% of it, for targets from 0.2 to 50, and a σ 1% smaller
// overspends (the bisection stopped near the boundary, not anywhere below
// it).
func TestNoiseMultiplierTolerance(t *testing.T) {
	for _, c := range []struct {
		q     float64
		steps int
	}{{256.0 / 60000, 234 * 3}, {0.01, 5000}, {1, 10}} {
		for _, target := range []float64{0.2, 1, 3, 8, 50} {
			sigma, spent, err := NoiseMultiplier(target, 1e-5, c.q, c.steps)
			if err != nil {
				t.Errorf("q=%v %d steps ε=%v: %v", c.q, c.steps, target, err)
				continue
			}
			check, _, _ := Spend(sigma, c.q, c.steps, 1e-5)
			if check != spent || spent > target || spent < 0.99*target {
				t.Errorf("q=%v %d steps ε=%v: σ=%v spends %v (reported %v), want in [%v, %v]", c.q, c.steps, target, sigma, check, spent, 0.99*target, target)
			}
			if over, _, _ := Spend(sigma*0.99, c.q, c.steps, 1e-5); over <= target*0.99 {
				t.Errorf("q=%v %d steps ε=%v: σ=%v·0.99 spends only %v", c.q, c.steps, target, sigma, over)
			}
		}
	}
}

// TestNoiseMultiplierErrors: bad inputs wrap ErrInput; a target below the
// floor that δ and the orders set wraps ErrUnreachable.
func TestNoiseMultiplierErrors(t *testing.T) {
	for _, c := range []struct {
		eps, delta, q float64
		steps         int
		want          error
	}{
		{0, 1e-5, 0.01, 100, ErrInput},
		{-1, 1e-5, 0.01, 100, ErrInput},
		{math.NaN(), 1e-5, 0.01, 100, ErrInput},
		{math.Inf(1), 1e-5, 0.01, 100, ErrInput},
		{1, 0, 0.01, 100, ErrInput},
		{1, 1, 0.01, 100, ErrInput},
		{1, 1e-5, 0, 100, ErrInput},
		{1, 1e-5, 1.5, 100, ErrInput},
		{1, 1e-5, 0.01, 0, ErrInput},
		{0.05, 1e-5, 0.01, 100, ErrUnreachable}, // ε ≥ 0.1029 at δ = 1e-5 (order 63) whatever σ
	} {
		if _, _, err := NoiseMultiplier(c.eps, c.delta, c.q, c.steps); !errors.Is(err, c.want) {
			t.Errorf("NoiseMultiplier(%v, %v, %v, %d) = %v, want %v", c.eps, c.delta, c.q, c.steps, err, c.want)
		}
	}
}

// TestAccountant: composing runs of steps is the sum of their RDP; equal
// consecutive mechanisms merge (Opacus's history); zero steps spend
// nothing; bad input is refused.
func TestAccountant(t *testing.T) {
	var a Accountant
	if eps, order, err := a.Spent(1e-5); eps != 0 || order != 0 || err != nil {
		t.Errorf("empty accountant: %v, %v, %v; want 0, 0, nil", eps, order, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Compose(1.1, 0.01, 0))
	if eps, _, _ := a.Spent(1e-5); eps != 0 {
		t.Errorf("zero steps spend %v", eps)
	}
	for range 300 {
		must(a.Compose(1.1, 0.01, 1))
	}
	must(a.Compose(2, 0.02, 50))
	must(a.Compose(1.1, 0.01, 100))
	if len(a.entries) != 3 || a.entries[0].steps != 300 {
		t.Errorf("history %d entries, first %d steps; want 3, 300", len(a.entries), a.entries[0].steps)
	}
	got, gotOrder, err := a.Spent(1e-5)
	must(err)
	orders := DefaultOrders()
	sum := make([]float64, len(orders))
	for i, alpha := range orders {
		sum[i] = 300*RDP(0.01, 1.1, alpha) + 50*RDP(0.02, 2, alpha) + 100*RDP(0.01, 1.1, alpha)
	}
	want, wantOrder := Epsilon(orders, sum, 1e-5)
	if math.Abs(got-want) > 1e-12*want || gotOrder != wantOrder {
		t.Errorf("composed ε %v at %v, want %v at %v", got, gotOrder, want, wantOrder)
	}
	if err := a.Compose(-1, 0.01, 1); !errors.Is(err, ErrInput) {
		t.Errorf("σ=-1: %v", err)
	}
	if err := a.Compose(1, 1.01, 1); !errors.Is(err, ErrInput) {
		t.Errorf("q=1.01: %v", err)
	}
	if err := a.Compose(1, 0.1, -1); !errors.Is(err, ErrInput) {
		t.Errorf("steps=-1: %v", err)
	}
	if _, _, err := a.Spent(1); !errors.Is(err, ErrInput) {
		t.Errorf("δ=1: %v", err)
	}
}

// BenchmarkSpend: ε over the default orders for one (σ, q), as at the end
// of a run (most of it is the series of the fractional orders).
func BenchmarkSpend(b *testing.B) {
	for b.Loop() {
		Spend(1.1, 256.0/60000, 2340, 1e-5)
	}
}

// BenchmarkNoiseMultiplier: σ for ε = 3 on MNIST at batch 256, 10 epochs.
func BenchmarkNoiseMultiplier(b *testing.B) {
	for b.Loop() {
		NoiseMultiplier(3, 1e-5, 256.0/60000, 2340)
	}
}
