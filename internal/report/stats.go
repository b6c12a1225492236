// Statistics over seeds: means, medians with infinities, bootstrap
// intervals, the Pareto frontier and performance profiles.

package report

import (
	"math"
	"math/rand/v2"
	"sort"
)

// MeanStd returns the mean and the sample standard deviation (n−1) of xs;
// NaN for an empty xs, std 0 for one value.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) == 1 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}

// Median returns the median of xs, which may hold +Inf (never reached): the
// median is +Inf when at least half are. NaN for an empty xs.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	a, b := s[n/2-1], s[n/2]
	if math.IsInf(b, 1) {
		return b
	}
	return (a + b) / 2
}

// BootstrapResamples is the number of bootstrap resamples (Efron &
// Tibshirani 1993 recommend ≥ 1000 for percentile intervals).
const BootstrapResamples = 2000

// FewSeeds is the number of seeds below which the report marks a bootstrap
// interval (†): resampling 2 to 4 seeds gives a handful of distinct means,
// and a percentile interval from them is too narrow to trust.
const FewSeeds = 5

// BootstrapDiff returns mean(a) − mean(b) and its 95% percentile bootstrap
// interval. Paired (len(a) == len(b), a[i] and b[i] from the same seed): the
// seeds are resampled; otherwise each group is resampled on its own. The
// resampling is seeded with seed, so the interval is the same every time.
// The interval is NaN when a group has fewer than two values.
func BootstrapDiff(a, b []float64, paired bool, seed uint64) (diff, lo, hi float64) {
	ma, _ := MeanStd(a)
	mb, _ := MeanStd(b)
	diff = ma - mb
	if len(a) < 2 || len(b) < 2 {
		return diff, math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	ds := make([]float64, BootstrapResamples)
	for k := range ds {
		var sa, sb float64
		if paired {
			for range a {
				i := rng.IntN(len(a))
				sa += a[i]
				sb += b[i]
			}
			ds[k] = (sa - sb) / float64(len(a))
			continue
		}
		for range a {
			sa += a[rng.IntN(len(a))]
		}
		for range b {
			sb += b[rng.IntN(len(b))]
		}
		ds[k] = sa/float64(len(a)) - sb/float64(len(b))
	}
	sort.Float64s(ds)
	return diff, ds[int(0.025*BootstrapResamples)], ds[int(math.Ceil(0.975*BootstrapResamples))-1]
}

// Pareto returns the indices of the points that no other point beats on both
// cost (lower is better) and acc (higher is better), ordered by cost. Points
// with a NaN coordinate are ignored.
func Pareto(cost, acc []float64) []int {
	idx := make([]int, 0, len(cost))
	for i := range cost {
		if !math.IsNaN(cost[i]) && !math.IsNaN(acc[i]) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool {
		i, j := idx[x], idx[y]
		if cost[i] != cost[j] {
			return cost[i] < cost[j]
		}
		return acc[i] > acc[j]
	})
	var out []int
	best := math.Inf(-1)
	for _, i := range idx {
		if acc[i] > best {
			out = append(out, i)
			best = acc[i]
		}
	}
	return out
}

// ProfileRMax is the largest performance ratio of the profile and its area
// score (AlgoPerf, Dahl et al. 2023, §4.5: r_max = 4).
const ProfileRMax = 4.0

// Profile returns, for each method (column of t), the performance profile
// ρ(τ) of Dolan & Moré (2002) at the given τ: the fraction of problems (rows
// of t) on which the method's cost is within a factor τ of the best
// method's. t holds costs (lower is better); +Inf or NaN means the method
// never solved the problem. Problems no method solved count against every
// method.
func Profile(t [][]float64, taus []float64) [][]float64 {
	if len(t) == 0 {
		return nil
	}
	m := len(t[0])
	rho := make([][]float64, m)
	ratios := RatiosOf(t)
	for j := 0; j < m; j++ {
		rho[j] = make([]float64, len(taus))
		for k, tau := range taus {
			n := 0
			for i := range t {
				if ratios[i][j] <= tau {
					n++
				}
			}
			rho[j][k] = float64(n) / float64(len(t))
		}
	}
	return rho
}

// RatiosOf returns the performance ratios r = t / min over the row (+Inf
// where t is +Inf or NaN, or no method solved the problem).
func RatiosOf(t [][]float64) [][]float64 {
	out := make([][]float64, len(t))
	for i, row := range t {
		best := math.Inf(1)
		for _, x := range row {
			if x < best {
				best = x
			}
		}
		out[i] = make([]float64, len(row))
		for j, x := range row {
			out[i][j] = math.Inf(1)
			if !math.IsInf(best, 1) && !math.IsNaN(x) && !math.IsInf(x, 1) {
				if best <= 0 {
					// A zero-step cost cannot happen with 1-based steps;
					// treat ties at zero as ratio 1.
					if x == best {
						out[i][j] = 1
					}
					continue
				}
				out[i][j] = x / best
			}
		}
	}
	return out
}

// ProfileArea returns the area score of each method: the integral of ρ(τ)
// over τ ∈ [1, r_max] divided by r_max − 1 (AlgoPerf's benchmark score,
// Dahl et al. 2023, §4.5), in [0, 1]. ρ is a step function that changes only
// at the ratios, so the integral is exact.
func ProfileArea(t [][]float64, rmax float64) []float64 {
	if len(t) == 0 {
		return nil
	}
	ratios := RatiosOf(t)
	m := len(t[0])
	out := make([]float64, m)
	for j := 0; j < m; j++ {
		var area float64
		for i := range t {
			r := ratios[i][j]
			if r <= rmax {
				// This problem adds 1/len(t) to ρ on [max(1, r), rmax].
				area += (rmax - math.Max(1, r)) / float64(len(t))
			}
		}
		out[j] = area / (rmax - 1)
	}
	return out
}
