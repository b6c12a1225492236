// The privacy–utility view of DP-SGD runs (issue 11): final test accuracy
// against the ε each setting spent.

package report

import (
	"math"
	"slices"
	"sort"
	"strconv"
)

// PrivacyPoint is one DP-SGD setting at the ε it spent.
type PrivacyPoint struct {
	Setting *Setting
	// Epsilon is the ε of (ε, Delta)-DP the setting's runs spent: the
	// largest over its ended runs (a diverged run stops early and spends
	// less; runs that end all spend the same), +Inf without noise.
	Epsilon, Delta float64
	// Sigma is the noise multiplier σ the runs trained with (given, or
	// solved for a target ε).
	Sigma    float64
	Sampling string // shuffle or poisson
	// Acc is Setting.AccMean, the mean final test accuracy over ended seeds
	// (a diverged seed at chance); Lo and Hi the lowest and highest seed.
	Acc, Lo, Hi float64
	// ClipFrac is the fraction of examples clipped per step, averaged over
	// logged steps, then over ended seeds.
	ClipFrac float64
	// Best marks the setting drawn at its ε: of the settings of its series
	// and workload at that ε (learning rates, thresholds), the best by the
	// report's validation rule (Better).
	Best bool
}

// PrivacyLine is one series (a DP clipping strategy) of one workload: its
// settings, ascending in ε, and the best one at each ε (Points[i].Best).
type PrivacyLine struct {
	Series int
	Points []PrivacyPoint
}

// PrivacyPanel is one workload's privacy–utility panel.
type PrivacyPanel struct {
	Workload int
	Lines    []PrivacyLine // in series order
	Runs     int
}

// epsKey groups settings at the same ε: three significant digits (a
// target ε is met to 1%, so 2.99 and 3.0 are one budget).
func epsKey(eps float64) string { return strconv.FormatFloat(eps, 'g', 3, 64) }

// PrivacyData returns a panel per workload that has DP-SGD runs (a run
// with a noise multiplier), in workload order; nil when the experiment has
// none. Settings with no ended run are left out.
func (rep *Report) PrivacyData() []PrivacyPanel {
	var out []PrivacyPanel
	for w := range rep.Workloads {
		bySeries := map[int][]PrivacyPoint{}
		runs := 0
		for _, s := range rep.SettingsOf(w) {
			p, ok := privacyPoint(s)
			if !ok {
				continue
			}
			bySeries[s.Series] = append(bySeries[s.Series], p)
			runs += s.Ended
		}
		if len(bySeries) == 0 {
			continue
		}
		pn := PrivacyPanel{Workload: w, Runs: runs}
		for si := range rep.Series {
			pts := bySeries[si]
			if len(pts) == 0 {
				continue
			}
			sort.SliceStable(pts, func(i, j int) bool { return pts[i].Epsilon < pts[j].Epsilon })
			best := map[string]int{} // ε key → index of the best point there
			for i, p := range pts {
				k := epsKey(p.Epsilon)
				if b, ok := best[k]; !ok || Better(p.Setting, pts[b].Setting) {
					best[k] = i
				}
			}
			for _, i := range best {
				pts[i].Best = true
			}
			pn.Lines = append(pn.Lines, PrivacyLine{Series: si, Points: pts})
		}
		out = append(out, pn)
	}
	return out
}

// privacyPoint is s's point, and false when s is not a DP-SGD setting or
// none of its runs ended.
func privacyPoint(s *Setting) (PrivacyPoint, bool) {
	p := PrivacyPoint{Setting: s, Epsilon: math.NaN(), Sigma: math.NaN(), Delta: math.NaN(),
		Acc: s.AccMean, Lo: math.NaN(), Hi: math.NaN(), ClipFrac: s.ClipFrac}
	var scores []float64
	for _, r := range s.Runs {
		if math.IsNaN(r.NoiseMultiplier) || !r.Ended() {
			continue
		}
		p.Sigma, p.Delta, p.Sampling = r.NoiseMultiplier, r.Delta, r.Sampling
		if !(r.Epsilon <= p.Epsilon) { // NaN-safe max
			p.Epsilon = r.Epsilon
		}
		scores = append(scores, r.Score)
	}
	if len(scores) == 0 || math.IsNaN(p.Epsilon) {
		return p, false
	}
	p.Lo, p.Hi = slices.Min(scores), slices.Max(scores)
	return p, true
}
