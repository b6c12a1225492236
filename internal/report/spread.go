// Seed spread against the differences the settings table reports as
// significant (issue 17): with few seeds a percentile bootstrap interval
// is narrow, and a difference smaller than one setting's seed-to-seed
// spread may be noise however its interval looks.

package report

import (
	"math"
	"sort"
)

// Significant reports whether the 95% bootstrap interval of s's difference
// from no clipping excludes zero: what the settings table's Δ column reads
// as a significant difference.
func (s *Setting) Significant() bool {
	return !math.IsNaN(s.DeltaLo) && !math.IsNaN(s.DeltaHi) && (s.DeltaLo > 0 || s.DeltaHi < 0)
}

// SpreadWarning is one workload where the seed spread of some settings is
// larger than the smallest difference reported as significant there.
type SpreadWarning struct {
	Workload int
	// Smallest is the significant setting with the smallest |Delta|.
	Smallest *Setting
	// Noisy are the settings of the workload with at least two ended seeds
	// whose AccStd exceeds |Smallest.Delta|, largest spread first.
	Noisy []*Setting
}

// SpreadWarnings returns, per workload in order, the settings whose seed
// spread (the sample standard deviation of Score over ended seeds) is
// larger than the smallest |Δ vs none| that is Significant on that
// workload; workloads with no significant difference, or none smaller than
// every spread, are left out.
func (rep *Report) SpreadWarnings() []SpreadWarning {
	var out []SpreadWarning
	for w := range rep.Workloads {
		ss := rep.SettingsOf(w)
		var smallest *Setting
		for _, s := range ss {
			if s.Significant() && (smallest == nil || math.Abs(s.Delta) < math.Abs(smallest.Delta)) {
				smallest = s
			}
		}
		if smallest == nil {
			continue
		}
		d := math.Abs(smallest.Delta)
		var noisy []*Setting
		for _, s := range ss {
			if s.Ended >= 2 && s.AccStd > d {
				noisy = append(noisy, s)
			}
		}
		if len(noisy) == 0 {
			continue
		}
		sort.SliceStable(noisy, func(i, j int) bool { return noisy[i].AccStd > noisy[j].AccStd })
		out = append(out, SpreadWarning{Workload: w, Smallest: smallest, Noisy: noisy})
	}
	return out
}
