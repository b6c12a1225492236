package report

import (
	"math"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 2, 3}, 2.5},
		{[]float64{10, inf, inf}, inf},
		{[]float64{10, 20, inf}, 20},
		{[]float64{10, inf}, inf}, // half never reach: not a finite median
		{nil, math.NaN()},
	}
	for _, tt := range tests {
		got := Median(tt.xs)
		if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("Median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestPareto(t *testing.T) {
	// Points (cost, acc): (1, .5) (2, .4) (2, .7) (3, .7) (4, .9) (NaN, 1).
	// (2, .4) is beaten by (1, .5); (3, .7) ties (2, .7) on accuracy at a
	// higher cost; the NaN point is ignored.
	cost := []float64{1, 2, 2, 3, 4, math.NaN()}
	acc := []float64{.5, .4, .7, .7, .9, 1}
	if got, want := Pareto(cost, acc), []int{0, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("pareto = %v, want %v", got, want)
	}
}

func TestProfile(t *testing.T) {
	inf := math.Inf(1)
	// Three workloads, three methods (steps to target). Ratios to the row
	// minimum: w1: 1, 2, ∞; w2: 1.5, 1, 3; w3: ∞, ∞, ∞ (nobody).
	costs := [][]float64{{10, 20, inf}, {30, 20, 60}, {inf, inf, math.NaN()}}
	rho := Profile(costs, []float64{1, 1.5, 2, 3, 4})
	want := [][]float64{
		{1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3},
		{1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3},
		{0, 0, 0, 1.0 / 3, 1.0 / 3},
	}
	for j := range want {
		for k := range want[j] {
			if math.Abs(rho[j][k]-want[j][k]) > 1e-12 {
				t.Errorf("rho[%d] = %v, want %v", j, rho[j], want[j])
				break
			}
		}
	}
	// Areas on [1, 4] / 3: method 0: (4−1)/3 + (4−1.5)/3 over 3 workloads
	// = (3 + 2.5)/9; method 1: (4−2 + 4−1)/9 = 5/9; method 2: (4−3)/9.
	area := ProfileArea(costs, 4)
	for j, w := range []float64{5.5 / 9, 5.0 / 9, 1.0 / 9} {
		if math.Abs(area[j]-w) > 1e-12 {
			t.Errorf("area[%d] = %v, want %v", j, area[j], w)
		}
	}
}

func TestBootstrapDiff(t *testing.T) {
	a := []float64{.85, .86, .87}
	b := []float64{.80, .82, .10}
	d1, lo1, hi1 := BootstrapDiff(a, b, true, 7)
	d2, lo2, hi2 := BootstrapDiff(a, b, true, 7)
	if d1 != d2 || lo1 != lo2 || hi1 != hi2 {
		t.Errorf("same seed, different intervals: %v %v %v vs %v %v %v", d1, lo1, hi1, d2, lo2, hi2)
	}
	// Paired differences 0.05, 0.04, 0.77: the mean of a resample lies in
	// [0.04, 0.77].
	if math.Abs(d1-0.86/3) > 1e-9 || lo1 < 0.04-1e-12 || hi1 > 0.77+1e-12 || lo1 > d1 || hi1 < d1 {
		t.Errorf("paired: %v [%v, %v]", d1, lo1, hi1)
	}
	// Identical groups: the interval is the point.
	if d, lo, hi := BootstrapDiff([]float64{1, 1}, []float64{1, 1}, false, 1); d != 0 || lo != 0 || hi != 0 {
		t.Errorf("constant: %v [%v, %v]", d, lo, hi)
	}
	// One value: no interval.
	if _, lo, hi := BootstrapDiff([]float64{1}, []float64{1, 2}, false, 1); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("single value: [%v, %v], want NaN", lo, hi)
	}
}
