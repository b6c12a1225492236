// What each figure and table shows: the settings, points and cells it is
// drawn from, chosen here and styled in cmd/report.

package report

import (
	"math"
	"slices"
	"sort"

	"cliplab/internal/db"
)

// CurvePoint is one bucket of a run's training curve.
type CurvePoint = db.CurvePoint

// XY is a line or a set of points.
type XY struct{ X, Y []float64 }

// Len is the number of points.
func (p XY) Len() int { return len(p.X) }

// SettingsOf returns the settings of workload w, in report order.
func (rep *Report) SettingsOf(w int) []*Setting {
	var out []*Setting
	for _, s := range rep.Settings {
		if s.Workload == w {
			out = append(out, s)
		}
	}
	return out
}

// LRsOf returns the distinct learning rates of settings, ascending.
func LRsOf(ss []*Setting) []float64 {
	var lrs []float64
	for _, s := range ss {
		if !slices.Contains(lrs, s.LR) {
			lrs = append(lrs, s.LR)
		}
	}
	sort.Float64s(lrs)
	return lrs
}

// Better reports whether s beats b at selection: more ended seeds with a
// validation score first, then the higher mean validation score.
func Better(s, b *Setting) bool {
	if (s.Ended > 0) != (b.Ended > 0) {
		return s.Ended > 0
	}
	if math.IsNaN(b.ValMean) {
		return !math.IsNaN(s.ValMean)
	}
	return s.ValMean > b.ValMean
}

// BestAt returns, for each series, the setting of workload w at learning
// rate lr with the highest validation score (train-sample accuracy), nil
// where the series has none there.
func (rep *Report) BestAt(w int, lr float64) []*Setting {
	best := make([]*Setting, len(rep.Series))
	for _, s := range rep.SettingsOf(w) {
		if s.LR != lr {
			continue
		}
		b := best[s.Series]
		if b == nil || Better(s, b) {
			best[s.Series] = s
		}
	}
	return best
}

// SettingName names a setting's clip part: "norm c=0.5".
func (rep *Report) SettingName(s *Setting) string {
	name := rep.Series[s.Series].Name
	if !math.IsNaN(s.Threshold) {
		name += " c=" + FmtNum(s.Threshold)
	}
	if s.Extra != "" {
		name += " " + s.Extra
	}
	return name
}

// CostPoint is one setting of the accuracy-versus-cost figure.
type CostPoint struct {
	Setting        *Setting
	Cost, Acc, Std float64
}

// CostPanel is one workload's panel of the accuracy-versus-cost figure.
type CostPanel struct {
	Workload int
	// Points are the settings with an ended seed, a finite positive cost
	// and a finite mean accuracy, in report order.
	Points []CostPoint
	// Lo and Hi bound the costs of Points (+Inf and −Inf when none).
	Lo, Hi float64
	// Frontier indexes Points on the Pareto frontier, by cost: the
	// settings no other beats on both cost and accuracy, among those above
	// the train bar (a diverged setting is cheap because it stopped early).
	Frontier []int
	Runs     int // ended runs behind the points
}

// CostData returns the panels of the accuracy-versus-cost figure: the cost
// is the mean training FLOPs over ended seeds, or the mean wall seconds
// with wall.
func (rep *Report) CostData(wall bool) []CostPanel {
	var out []CostPanel
	for w, wl := range rep.Workloads {
		pn := CostPanel{Workload: w, Lo: math.Inf(1), Hi: math.Inf(-1)}
		for _, s := range rep.SettingsOf(w) {
			c := s.FLOPs
			if wall {
				c = s.Wall
			}
			if s.Ended == 0 || !isFinite(c) || c <= 0 || !isFinite(s.AccMean) {
				continue
			}
			pn.Points = append(pn.Points, CostPoint{Setting: s, Cost: c, Acc: s.AccMean, Std: s.AccStd})
			pn.Runs += s.Ended
		}
		cost := make([]float64, len(pn.Points))
		acc := make([]float64, len(pn.Points))
		for i, p := range pn.Points {
			pn.Lo, pn.Hi = math.Min(pn.Lo, p.Cost), math.Max(pn.Hi, p.Cost)
			cost[i], acc[i] = p.Cost, p.Acc
			if !(p.Acc > TrainBar(wl.Chance)) {
				cost[i] = math.NaN()
			}
		}
		pn.Frontier = Pareto(cost, acc)
		out = append(out, pn)
	}
	return out
}

// SeedCurve averages a setting's done seeds (diverged ones are drawn on
// their own) bucket by bucket: the mean of get over the seeds that have a
// finite positive value there, the lowest and the highest; x is the largest
// step of the bucket among the seeds.
func SeedCurve(s *Setting, get func(CurvePoint) float64) (mean XY, lo, hi []float64) {
	type acc struct {
		sum, lo, hi float64
		n, step     int
	}
	var buckets []acc
	for _, r := range s.Runs {
		if r.Outcome < AtChance {
			continue
		}
		for _, c := range r.Curve {
			v := get(c)
			if !isFinite(v) || v <= 0 {
				continue
			}
			for len(buckets) <= c.Bucket {
				buckets = append(buckets, acc{lo: math.Inf(1), hi: math.Inf(-1)})
			}
			b := &buckets[c.Bucket]
			b.sum += v
			b.n++
			b.lo, b.hi = math.Min(b.lo, v), math.Max(b.hi, v)
			b.step = max(b.step, c.Step)
		}
	}
	for _, b := range buckets {
		if b.n == 0 {
			continue
		}
		mean.X = append(mean.X, float64(b.step))
		mean.Y = append(mean.Y, b.sum/float64(b.n))
		lo = append(lo, b.lo)
		hi = append(hi, b.hi)
	}
	return mean, lo, hi
}

// DivergedCurves returns the curve of each diverged seed of s (its finite
// positive values of get), in seed order; seeds with no such value are left
// out.
func DivergedCurves(s *Setting, get func(CurvePoint) float64) []XY {
	var out []XY
	for _, r := range s.Runs {
		if r.Outcome != Diverged {
			continue
		}
		var c XY
		for _, pt := range r.Curve {
			if v := get(pt); isFinite(v) && v > 0 {
				c.X = append(c.X, float64(pt.Step))
				c.Y = append(c.Y, v)
			}
		}
		if c.Len() > 0 {
			out = append(out, c)
		}
	}
	return out
}

// RowKey is a heat-map row: a series at one threshold (and extra axes).
type RowKey struct {
	Series int
	Th     string // FmtNum of the threshold
	Extra  string
}

// RowsOf returns the heat-map rows of settings in report order, and the
// settings by row and learning rate (nil where none).
func (rep *Report) RowsOf(ss []*Setting, lrs []float64) ([]RowKey, map[RowKey][]*Setting) {
	var rows []RowKey
	cells := map[RowKey][]*Setting{}
	for _, s := range ss {
		k := RowKey{s.Series, FmtNum(s.Threshold), s.Extra}
		if _, ok := cells[k]; !ok {
			rows = append(rows, k)
			cells[k] = make([]*Setting, len(lrs))
		}
		for j, lr := range lrs {
			if lr == s.LR {
				cells[k][j] = s
			}
		}
	}
	return rows, cells
}

// RowName names a heat-map row: "norm c=1".
func (rep *Report) RowName(k RowKey) string {
	n := rep.Series[k.Series].Name
	if k.Th != "–" {
		n += " c=" + k.Th
	}
	if k.Extra != "" {
		n += " " + k.Extra
	}
	return n
}

// ThresholdLine is one line of a threshold-sensitivity panel: a method
// (series and extra axes) at one learning rate, its settings in threshold
// order, with method none at that learning rate as its baseline.
type ThresholdLine struct {
	LR       float64
	Settings []*Setting
	Base     *Setting // method none at this lr (the first with an ended seed), or nil
}

// ThresholdPanel is one method's row of the threshold-sensitivity figure:
// a line per learning rate over the method's thresholds.
type ThresholdPanel struct {
	Series     int
	Extra      string
	Thresholds []float64 // distinct, ascending
	Lines      []ThresholdLine
	Runs       int
}

// ThresholdSingle is a method tried at one threshold only: there is no
// sensitivity to draw, so the figure lists it in a note.
type ThresholdSingle struct {
	Series    int
	Extra     string
	Threshold float64
}

// ThresholdData is workload w's threshold-sensitivity figure: a panel per
// method with at least two thresholds (with an ended seed), in series
// order, and the methods with one.
type ThresholdData struct {
	Panels []ThresholdPanel
	Single []ThresholdSingle
}

// ThresholdData returns the threshold-sensitivity data of workload w.
func (rep *Report) ThresholdData(w int) ThresholdData {
	ss := rep.SettingsOf(w)
	base := map[float64]*Setting{}
	type key struct {
		series int
		extra  string
	}
	var keys []key
	byKey := map[key][]*Setting{}
	for _, s := range ss {
		if s.Ended == 0 {
			continue
		}
		if s.Method == "none" {
			if base[s.LR] == nil {
				base[s.LR] = s
			}
			continue
		}
		if !isFinite(s.Threshold) {
			continue
		}
		k := key{s.Series, s.Extra}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], s)
	}
	var out ThresholdData
	for _, k := range keys {
		group := byKey[k]
		var ths []float64
		for _, s := range group {
			if !slices.Contains(ths, s.Threshold) {
				ths = append(ths, s.Threshold)
			}
		}
		sort.Float64s(ths)
		if len(ths) == 1 {
			out.Single = append(out.Single, ThresholdSingle{Series: k.series, Extra: k.extra, Threshold: ths[0]})
			continue
		}
		pn := ThresholdPanel{Series: k.series, Extra: k.extra, Thresholds: ths}
		for _, lr := range LRsOf(group) {
			ln := ThresholdLine{LR: lr, Base: base[lr]}
			for _, s := range group {
				if s.LR == lr {
					ln.Settings = append(ln.Settings, s)
					pn.Runs += s.Ended
				}
			}
			sort.SliceStable(ln.Settings, func(i, j int) bool { return ln.Settings[i].Threshold < ln.Settings[j].Threshold })
			if ln.Base != nil {
				pn.Runs += ln.Base.Ended
			}
			pn.Lines = append(pn.Lines, ln)
		}
		out.Panels = append(out.Panels, pn)
	}
	return out
}

// ProfileData is the performance profile's input and result.
type ProfileData struct {
	Workloads []int
	Series    []int        // series present in the profile
	Best      [][]*Setting // [workload][series column]
	Cost      [][]float64  // median steps to target; +Inf never
	Ratios    [][]float64  // [workload][series column]
	Area      []float64    // per series column
}

// ProfileData returns the performance profile of steps to the target over
// workloads, each series at its best setting by validation.
func (rep *Report) ProfileData() ProfileData {
	var pd ProfileData
	present := map[int]bool{}
	for _, s := range rep.Settings {
		if s.Ended > 0 {
			present[s.Series] = true
		}
	}
	for si := range rep.Series {
		if present[si] {
			pd.Series = append(pd.Series, si)
		}
	}
	for w := range rep.Workloads {
		best := make([]*Setting, len(rep.Series))
		for _, s := range rep.SettingsOf(w) {
			if s.Ended == 0 {
				continue
			}
			if b := best[s.Series]; b == nil || Better(s, b) {
				best[s.Series] = s
			}
		}
		row := make([]*Setting, len(pd.Series))
		cost := make([]float64, len(pd.Series))
		has := false
		for j, si := range pd.Series {
			row[j] = best[si]
			cost[j] = math.Inf(1)
			if best[si] != nil {
				cost[j] = best[si].StepsTarget
				has = true
			}
		}
		if !has {
			continue
		}
		pd.Workloads = append(pd.Workloads, w)
		pd.Best = append(pd.Best, row)
		pd.Cost = append(pd.Cost, cost)
	}
	pd.Ratios = RatiosOf(pd.Cost)
	pd.Area = ProfileArea(pd.Cost, ProfileRMax)
	if pd.Area == nil {
		pd.Area = make([]float64, len(pd.Series))
	}
	return pd
}

// StableFraction is the share of ended seeds that must train for a setting
// to count as stable: two thirds.
const StableFraction = 2.0 / 3

// Stable reports whether at least two thirds of the ended seeds of s
// trained.
func Stable(s *Setting) bool {
	return s != nil && s.Ended > 0 && float64(s.Trained) >= StableFraction*float64(s.Ended)-1e-9
}

// LargestStable returns the largest learning rate at which a setting of
// series si on workload w is stable, and its threshold (the first in
// report order among ties); NaN when none is.
func (rep *Report) LargestStable(w, si int) (lr, th float64) {
	lr, th = math.NaN(), math.NaN()
	for _, s := range rep.SettingsOf(w) {
		if s.Series == si && Stable(s) && !(lr >= s.LR) {
			lr, th = s.LR, s.Threshold
		}
	}
	return lr, th
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
