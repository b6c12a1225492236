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

// CostKind is what the accuracy-versus-cost figures count as cost.
type CostKind int

const (
	// CostFLOPs is the training FLOPs a run spent until its first test
	// evaluation at or above the target: its FLOPs pro rata to its steps
	// (forward and backward; clipping's own arithmetic is not counted).
	CostFLOPs CostKind = iota
	// CostSeconds is the wall seconds until that evaluation.
	CostSeconds
	// CostParams, CostBytes and CostEffectiveFLOPs are costs of the model
	// as deployed (pruned, quantised; README "Pruning and quantisation"),
	// not of reaching the target: its non-zero parameter values, its
	// storage in bytes and its inference FLOPs per example counting only
	// non-zero weights. A run that ended has them, whatever its accuracy.
	CostParams
	CostBytes
	CostEffectiveFLOPs
)

// Deployed reports whether kind is a cost of the model as deployed.
func (kind CostKind) Deployed() bool { return kind >= CostParams }

// DeployedCostsVary reports whether the settings of some workload differ in
// the storage of their deployed models (pruned or quantised settings
// beside dense ones): when they do not, the deployed costs separate
// nothing and the report leaves their figures out.
func (rep *Report) DeployedCostsVary() bool {
	for w := range rep.Workloads {
		seen := math.NaN()
		for _, s := range rep.SettingsOf(w) {
			for _, r := range s.Runs {
				if !r.Ended() || math.IsNaN(r.ModelBytes) {
					continue
				}
				if !math.IsNaN(seen) && r.ModelBytes != seen {
					return true
				}
				seen = r.ModelBytes
			}
		}
	}
	return false
}

// CostPoint is one setting of the accuracy-versus-cost figure.
type CostPoint struct {
	Setting *Setting
	// Cost is the median over the setting's ended seeds of their cost to
	// reach the target (a seed that never reaches it, diverged and
	// collapsed seeds among them, counts as +Inf), so +Inf when at least
	// half never reach it. CostLo and CostHi are the lowest and highest
	// cost among the seeds that reached it (+Inf when none did).
	Cost, CostLo, CostHi float64
	// Acc is the mean final accuracy over ended seeds (a diverged seed
	// counts as chance); AccLo and AccHi the lowest and highest seed's, so
	// the bar never leaves [0, 1].
	Acc, AccLo, AccHi float64
	// Reached counts the ended seeds that reached the target, Failed those
	// that diverged or ended at chance, Ended all ended seeds.
	Reached, Failed, Ended int
}

// CostPanel is one workload's panel of the accuracy-versus-cost figure.
type CostPanel struct {
	Workload int
	// Points are the settings whose median seed reached the target, by
	// cost; Missed the settings with ended seeds whose median seed did not
	// (drawn apart, as failures, never as cheap points), in report order.
	Points, Missed []CostPoint
	// Lo and Hi bound the costs of Points, their seed ranges included
	// (+Inf and −Inf when none).
	Lo, Hi float64
	// Frontier indexes Points: the settings above the train bar that no
	// other such setting beats by more than the noise (see NoisyPareto),
	// by cost.
	Frontier []int
	Runs     int // ended runs behind the points
}

// runCost is r's cost to reach the target: +Inf when it never did, NaN when
// it has not ended or its cost is unknown.
func runCost(r *Run, kind CostKind) float64 {
	if !r.Ended() {
		return math.NaN()
	}
	switch kind {
	case CostSeconds:
		return r.SecondsToTarget
	case CostParams:
		return r.NonzeroParams
	case CostBytes:
		return r.ModelBytes
	case CostEffectiveFLOPs:
		return r.EffectiveFLOPs
	}
	if math.IsInf(r.StepsToTarget, 1) {
		return r.StepsToTarget
	}
	if r.Steps <= 0 || !isFinite(r.TrainFLOPs) {
		return math.NaN()
	}
	return r.TrainFLOPs * r.StepsToTarget / float64(r.Steps)
}

// CostData returns the panels of the accuracy-versus-cost figure: for each
// setting, what its seeds spent to reach the target accuracy, in kind.
func (rep *Report) CostData(kind CostKind) []CostPanel {
	var out []CostPanel
	for w, wl := range rep.Workloads {
		pn := CostPanel{Workload: w, Lo: math.Inf(1), Hi: math.Inf(-1)}
		for _, s := range rep.SettingsOf(w) {
			pt := CostPoint{Setting: s, CostLo: math.Inf(1), CostHi: math.Inf(1), AccLo: math.Inf(1), AccHi: math.Inf(-1)}
			var costs []float64
			known := true
			for _, r := range s.Runs {
				if !r.Ended() {
					continue
				}
				c := runCost(r, kind)
				if math.IsNaN(c) || math.IsNaN(r.Score) {
					known = false
					break
				}
				pt.Ended++
				costs = append(costs, c)
				if r.Outcome == Diverged || r.Outcome == AtChance {
					pt.Failed++
				}
				if !math.IsInf(c, 1) {
					pt.Reached++
					if pt.Reached == 1 {
						pt.CostLo, pt.CostHi = c, c
					}
					pt.CostLo, pt.CostHi = math.Min(pt.CostLo, c), math.Max(pt.CostHi, c)
				}
				pt.AccLo, pt.AccHi = math.Min(pt.AccLo, r.Score), math.Max(pt.AccHi, r.Score)
			}
			if !known || pt.Ended == 0 {
				continue
			}
			pt.Cost = Median(costs)
			pt.Acc = s.AccMean
			pn.Runs += pt.Ended
			if math.IsInf(pt.Cost, 1) {
				pn.Missed = append(pn.Missed, pt)
				continue
			}
			pn.Points = append(pn.Points, pt)
			pn.Lo, pn.Hi = math.Min(pn.Lo, pt.CostLo), math.Max(pn.Hi, pt.CostHi)
		}
		sort.SliceStable(pn.Points, func(i, j int) bool { return pn.Points[i].Cost < pn.Points[j].Cost })
		var cand []int
		for i, p := range pn.Points {
			if p.Acc > TrainBar(wl.Chance) {
				cand = append(cand, i)
			}
		}
		pn.Frontier = NoisyPareto(pn.Points, cand)
		out = append(out, pn)
	}
	return out
}

// NoisyPareto returns those of cand (indices into ps) that no other of cand
// beats by more than the noise, in order. The noise of a setting is the
// range of its seeds: a beats b on cost when a's most expensive seed cost
// less than b's cheapest (their ranges do not overlap), and on accuracy
// when a's worst seed ended above b's best. a dominates b when it beats b
// on one of the two and b does not beat a on the other. Settings whose
// differences lie within the seeds' spread all stay on the frontier (a
// setting of one seed has no range: against it only the other's range
// counts, and between two of them this is the plain Pareto frontier).
func NoisyPareto(ps []CostPoint, cand []int) []int {
	beatsCost := func(a, b CostPoint) bool { return a.CostHi < b.CostLo }
	beatsAcc := func(a, b CostPoint) bool { return a.AccLo > b.AccHi }
	var out []int
	for _, i := range cand {
		b := ps[i]
		dominated := false
		for _, j := range cand {
			if j == i {
				continue
			}
			a := ps[j]
			if beatsCost(a, b) && !beatsAcc(b, a) || beatsAcc(a, b) && !beatsCost(b, a) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, i)
		}
	}
	return out
}

// SeedCurve averages a setting's done seeds among CurveSeeds (diverged ones
// are drawn on their own) bucket by bucket: the mean of get over the seeds that have a
// finite positive value there, the lowest and the highest; x is the largest
// step of the bucket among the seeds.
func SeedCurve(s *Setting, get func(CurvePoint) float64) (mean XY, lo, hi []float64) {
	type bucket struct {
		spread
		step int
	}
	var buckets []bucket
	for _, r := range CurveSeeds(s) {
		if r.Outcome < AtChance {
			continue
		}
		for _, c := range r.Curve {
			v := get(c)
			if !isFinite(v) || v <= 0 {
				continue
			}
			for len(buckets) <= c.Bucket {
				buckets = append(buckets, bucket{spread: newSpread()})
			}
			b := &buckets[c.Bucket]
			b.add(v)
			b.step = max(b.step, c.Step)
		}
	}
	for _, b := range buckets {
		if b.n > 0 {
			mean, lo, hi = b.appendTo(float64(b.step), mean, lo, hi)
		}
	}
	return mean, lo, hi
}

// spread accumulates values: their sum and count, the lowest and the
// highest (SeedCurve, SeedAccuracy).
type spread struct {
	sum, lo, hi float64
	n           int
}

func newSpread() spread { return spread{lo: math.Inf(1), hi: math.Inf(-1)} }

func (a *spread) add(v float64) {
	a.sum += v
	a.n++
	a.lo, a.hi = math.Min(a.lo, v), math.Max(a.hi, v)
}

// appendTo appends the point (x, mean) and the band's ends.
func (a *spread) appendTo(x float64, mean XY, lo, hi []float64) (XY, []float64, []float64) {
	mean.X = append(mean.X, x)
	mean.Y = append(mean.Y, a.sum/float64(a.n))
	return mean, append(lo, a.lo), append(hi, a.hi)
}

// DivergedCurves returns the curve of each diverged seed of s among
// CurveSeeds (its finite
// positive values of get), in seed order; seeds with no such value are left
// out.
func DivergedCurves(s *Setting, get func(CurvePoint) float64) []XY {
	return divergedSeeds(s, func(r *Run) XY {
		var c XY
		for _, pt := range r.Curve {
			if v := get(pt); isFinite(v) && v > 0 {
				c.X = append(c.X, float64(pt.Step))
				c.Y = append(c.Y, v)
			}
		}
		return c
	})
}

// divergedSeeds returns points(r) of each diverged seed r of s among
// CurveSeeds, in seed order, leaving out those with none.
func divergedSeeds(s *Setting, points func(*Run) XY) []XY {
	var out []XY
	for _, r := range CurveSeeds(s) {
		if r.Outcome != Diverged {
			continue
		}
		if c := points(r); c.Len() > 0 {
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
	LR float64 // the learning rate, the lowest of Bin
	// Bin is the line's learning rates: one, or a range when the workload
	// has more than MaxLRs; then the line holds at each threshold the best
	// setting in the range (by validation), and Base the best of none.
	Bin      Bin
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
	type baseKey struct {
		experiment int
		lr         float64
	}
	base := map[baseKey]*Setting{} // method none of the same experiment
	bins := Bins(LRsOf(ss))
	binOf := func(lr float64) Bin {
		i := sort.Search(len(bins), func(i int) bool { return bins[i].Hi() >= lr })
		return bins[i]
	}
	single := len(bins) == 0 || bins[len(bins)-1].Single()
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
			k := baseKey{rep.Series[s.Series].Experiment, binOf(s.LR).Lo()}
			if b := base[k]; b == nil || !single && Better(s, b) {
				base[k] = s
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
		for _, b := range bins {
			ln := ThresholdLine{LR: b.Lo(), Bin: b, Base: base[baseKey{rep.Series[k.series].Experiment, b.Lo()}]}
			best := map[float64]*Setting{} // by threshold, for a range of lrs
			for _, s := range group {
				if !b.Has(s.LR) {
					continue
				}
				if b.Single() {
					ln.Settings = append(ln.Settings, s)
					pn.Runs += s.Ended
				} else if cur := best[s.Threshold]; cur == nil || Better(s, cur) {
					best[s.Threshold] = s
				}
			}
			for _, s := range best {
				ln.Settings = append(ln.Settings, s)
				pn.Runs += s.Ended
			}
			if len(ln.Settings) == 0 {
				continue
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

// SeedAccuracy is SeedCurve for the accuracy of split (test, or train for
// the fixed training sample) at each evaluation step: the mean, lowest
// and highest over the seeds of s among CurveSeeds that finished (done,
// trained or at chance), at each step where any of them was evaluated.
// Evaluations are few (one every eval_every steps), so they are drawn as
// they are, without buckets.
func SeedAccuracy(s *Setting, split string) (mean XY, lo, hi []float64) {
	at := map[int]*spread{}
	var steps []int
	for _, r := range CurveSeeds(s) {
		if r.Outcome < AtChance {
			continue
		}
		c := evalAccuracy(r, split)
		for j, x := range c.X {
			st := int(x)
			a := at[st]
			if a == nil {
				sp := newSpread()
				a = &sp
				at[st] = a
				steps = append(steps, st)
			}
			a.add(c.Y[j])
		}
	}
	slices.Sort(steps)
	for _, st := range steps {
		mean, lo, hi = at[st].appendTo(float64(st), mean, lo, hi)
	}
	return mean, lo, hi
}

// DivergedAccuracy returns the accuracy of split at each evaluation of each
// diverged seed of s among CurveSeeds, in seed order; seeds with none are
// left out.
func DivergedAccuracy(s *Setting, split string) []XY {
	return divergedSeeds(s, func(r *Run) XY { return evalAccuracy(r, split) })
}

// evalAccuracy is r's finite accuracy of split at each evaluation, by step.
func evalAccuracy(r *Run, split string) XY {
	var c XY
	for _, e := range r.Evals {
		if e.Split == split && isFinite(e.Acc) {
			c.X, c.Y = append(c.X, float64(e.Step)), append(c.Y, e.Acc)
		}
	}
	return c
}

// Evaluated reports whether some run of cs's settings was evaluated at
// more than one step (train.eval_every > 0 and shorter than the run), so
// that accuracy has a curve to draw.
func (cs CurveSet) Evaluated() bool {
	for _, s := range cs.Best {
		if s == nil {
			continue
		}
		for _, r := range CurveSeeds(s) {
			if evalAccuracy(r, "test").Len() > 1 {
				return true
			}
		}
	}
	return false
}
