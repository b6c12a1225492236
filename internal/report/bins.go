// Figures of grids with many learning rates (issue 14, point 7): a random
// search over 1,000 learning rates gets curve figures and heat-map columns
// for a few ranges of learning rate, not one each, so that a report of
// 10,000 runs stays a few dozen figures in bounded memory.

package report

import (
	"math"
	"slices"
	"sort"
	"strconv"
)

// MaxLRs is how many values of an axis a figure draws one by one (a curve
// figure per learning rate, a heat-map column per learning rate, a row per
// threshold, a line per learning rate); an axis with more gets MaxLRs
// ranges of values instead (see Bins).
const MaxLRs = 10

// Bin is a range of values of an axis (learning rates, thresholds) drawn as
// one.
type Bin struct {
	Values []float64 // its distinct values, ascending
}

// Lo and Hi are its lowest and highest value.
func (b Bin) Lo() float64 { return b.Values[0] }
func (b Bin) Hi() float64 { return b.Values[len(b.Values)-1] }

// Single reports whether it holds one value.
func (b Bin) Single() bool { return len(b.Values) == 1 }

// Name is the value as FmtNum writes it ("0.1"), or the range
// "0.0012–0.0025" (two significant digits).
func (b Bin) Name() string {
	if b.Single() {
		return FmtNum(b.Values[0])
	}
	return strconv.FormatFloat(b.Lo(), 'g', 2, 64) + "–" + strconv.FormatFloat(b.Hi(), 'g', 2, 64)
}

// Has reports whether x is one of its values.
func (b Bin) Has(x float64) bool {
	_, ok := slices.BinarySearch(b.Values, x)
	return ok
}

// Bins groups vals (distinct, ascending, no NaN): each alone when there
// are at most MaxLRs; otherwise MaxLRs bins of equal width in log value
// from the lowest to the highest (in value when one is not positive),
// empty bins left out.
func Bins(vals []float64) []Bin {
	if len(vals) <= MaxLRs {
		out := make([]Bin, len(vals))
		for i, v := range vals {
			out[i] = Bin{Values: []float64{v}}
		}
		return out
	}
	lo, hi := vals[0], vals[len(vals)-1]
	pos := func(x float64) float64 { return (x - lo) / (hi - lo) }
	if lo > 0 {
		pos = func(x float64) float64 { return math.Log(x/lo) / math.Log(hi/lo) }
	}
	bins := make([]Bin, MaxLRs)
	for _, v := range vals {
		k := min(MaxLRs-1, max(0, int(pos(v)*MaxLRs)))
		bins[k].Values = append(bins[k].Values, v)
	}
	return slices.DeleteFunc(bins, func(b Bin) bool { return len(b.Values) == 0 })
}

// CurveSet is one curve figure: for each series its best setting (by
// validation) at the learning rates of Bin, nil where it has none.
type CurveSet struct {
	Bin  Bin
	Best []*Setting
}

// CurveSets returns the curve figures of workload w, by learning rate.
func (rep *Report) CurveSets(w int) []CurveSet {
	ss := rep.SettingsOf(w)
	var out []CurveSet
	for _, b := range Bins(LRsOf(ss)) {
		best := make([]*Setting, len(rep.Series))
		for _, s := range ss {
			if !b.Has(s.LR) {
				continue
			}
			if cur := best[s.Series]; cur == nil || Better(s, cur) {
				best[s.Series] = s
			}
		}
		out = append(out, CurveSet{Bin: b, Best: best})
	}
	return out
}

// MaxCurveSeeds is how many seeds of a setting its training curves draw:
// reading the curves is a pass over every logged step of the runs drawn,
// and a band over more seeds says little more.
const MaxCurveSeeds = 10

// CurveSeeds returns the runs of s whose curves the figures draw: its
// first MaxCurveSeeds runs by seed.
func CurveSeeds(s *Setting) []*Run { return s.Runs[:min(len(s.Runs), MaxCurveSeeds)] }

// CurveRuns returns the ids of the runs the curve figures draw (CurveSeeds
// of each setting drawn), ascending: the runs whose curves Load reads.
func (rep *Report) CurveRuns() []int64 {
	var ids []int64
	for w := range rep.Workloads {
		for _, cs := range rep.CurveSets(w) {
			for _, s := range cs.Best {
				if s == nil {
					continue
				}
				for _, r := range CurveSeeds(s) {
					ids = append(ids, r.ID)
				}
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return slices.Compact(ids)
}

// BinnedRowsOf is RowsOf with a column per bin of learning rates and, for
// a method (and extra axes) with more than MaxLRs thresholds, a row per bin
// of thresholds (its RowKey.Th the bin's name): a cell holds the setting of
// its row and column or, where there are several, their pool (see Pool).
// With a bin per learning rate and no method over MaxLRs thresholds it is
// RowsOf.
func (rep *Report) BinnedRowsOf(ss []*Setting, bins []Bin) ([]RowKey, map[RowKey][]*Setting) {
	th := thresholdRows(ss)
	lrs := make([]float64, 0, len(bins))
	for _, b := range bins {
		if !b.Single() {
			lrs = nil
			break
		}
		lrs = append(lrs, b.Lo())
	}
	if lrs != nil && th == nil {
		return rep.RowsOf(ss, lrs)
	}
	var rows []RowKey
	groups := map[RowKey][][]*Setting{}
	for _, s := range ss {
		k := RowKey{s.Series, FmtNum(s.Threshold), s.Extra}
		if name, ok := th[s]; ok {
			k.Th = name
		}
		if _, ok := groups[k]; !ok {
			rows = append(rows, k)
			groups[k] = make([][]*Setting, len(bins))
		}
		for j, b := range bins {
			if b.Has(s.LR) {
				groups[k][j] = append(groups[k][j], s)
			}
		}
	}
	cells := make(map[RowKey][]*Setting, len(rows))
	for _, k := range rows {
		cells[k] = make([]*Setting, len(bins))
		for j, g := range groups[k] {
			cells[k][j] = Pool(g)
		}
	}
	return rows, cells
}

// thresholdRows names the threshold bin of each setting of ss whose method
// (series and extra axes) has more than MaxLRs thresholds; nil when none
// has.
func thresholdRows(ss []*Setting) map[*Setting]string {
	type key struct {
		series int
		extra  string
	}
	ths := map[key][]float64{}
	seen := map[key]map[float64]bool{}
	for _, s := range ss {
		k := key{s.Series, s.Extra}
		if math.IsNaN(s.Threshold) || seen[k][s.Threshold] {
			continue
		}
		if seen[k] == nil {
			seen[k] = map[float64]bool{}
		}
		seen[k][s.Threshold] = true
		ths[k] = append(ths[k], s.Threshold)
	}
	var out map[*Setting]string
	for k, vals := range ths {
		if len(vals) <= MaxLRs {
			continue
		}
		sort.Float64s(vals)
		bins := Bins(vals)
		if out == nil {
			out = map[*Setting]string{}
		}
		for _, s := range ss {
			if (key{s.Series, s.Extra}) != k || math.IsNaN(s.Threshold) {
				continue
			}
			for _, b := range bins {
				if b.Has(s.Threshold) {
					out[s] = b.Name()
				}
			}
		}
	}
	return out
}

// Pool returns the settings ss as one: their runs and the counts of their
// outcomes, DoneAccMean and AccMean over all their runs, the first's
// configuration, series, threshold and extra axes, LR NaN; ss[0] itself
// for one setting, nil for none.
func Pool(ss []*Setting) *Setting {
	switch len(ss) {
	case 0:
		return nil
	case 1:
		return ss[0]
	}
	f := ss[0]
	p := &Setting{Config: f.Config, Arch: f.Arch, Dataset: f.Dataset, Optimizer: f.Optimizer, Method: f.Method,
		Threshold: f.Threshold, LR: math.NaN(), Extra: f.Extra, Series: f.Series, Workload: f.Workload}
	var done, scores []float64
	for _, s := range ss {
		p.Runs = append(p.Runs, s.Runs...)
		p.N += s.N
		p.Ended += s.Ended
		p.Done += s.Done
		p.Diverged += s.Diverged
		p.Failed += s.Failed
		p.Missing += s.Missing
		p.AtChance += s.AtChance
		p.Trained += s.Trained
		for _, r := range s.Runs {
			if r.Outcome >= AtChance {
				done = append(done, r.Acc)
			}
			if r.Ended() {
				scores = append(scores, r.Score)
			}
		}
	}
	p.DoneAccMean, _ = MeanStd(done)
	p.AccMean, p.AccStd = MeanStd(scores)
	return p
}
