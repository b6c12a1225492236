// The privacy–utility figure and table of DP-SGD runs (issue 11): final
// test accuracy against ε, one line per clipping strategy, and the
// fraction of examples clipped per step.

package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/report"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// epsText formats ε for captions and cells: three significant digits
// (whole numbers from 1,000), "∞" without noise.
func epsText(eps float64) string {
	if math.IsInf(eps, 1) {
		return "∞"
	}
	if s := strconv.FormatFloat(eps, 'g', 3, 64); !strings.Contains(s, "e") {
		return s
	}
	return strconv.FormatFloat(eps, 'f', 0, 64)
}

// privacyNote says at which δ the ε are and what the accountant assumes:
// "ε at δ = 1e-05 (RDP accountant of the sampled Gaussian mechanism,
// ...)".
func privacyNote(ps []report.PrivacyPanel) string {
	var deltas []float64
	shuffled := false
	for _, pn := range ps {
		for _, ln := range pn.Lines {
			for _, p := range ln.Points {
				if !slices.Contains(deltas, p.Delta) {
					deltas = append(deltas, p.Delta)
				}
				shuffled = shuffled || p.Sampling == "shuffle"
			}
		}
	}
	sort.Float64s(deltas)
	ds := make([]string, len(deltas))
	for i, d := range deltas {
		ds[i] = fmtNum(d)
	}
	s := "ε at δ = " + strings.Join(ds, ", ") + ", from the RDP accountant of the sampled Gaussian mechanism (Opacus's orders, one composition per step, q = batch/train size)"
	if shuffled {
		s += "; it assumes Poisson sampling, and runs with shuffled fixed-size batches report the same ε, as most papers do"
	}
	return s + "."
}

// privacyFigure: per workload with DP-SGD runs, final test accuracy and
// the fraction of examples clipped per step against ε, one line per
// strategy through its best setting at each ε; nil without DP runs.
func (rep *paper) privacyFigure() *figure {
	ps := rep.PrivacyData()
	if len(ps) == 0 {
		return nil
	}
	f := &figure{Name: "fig-privacy-utility", Title: "Privacy–utility: final test accuracy against ε"}
	used := map[int]bool{}
	var rows [][]*plot.Plot
	var epsAll []float64
	for _, pn := range ps {
		wl := rep.Workloads[pn.Workload]
		acc := newPlot(wl.Name+": final test accuracy", "ε (log scale)", rep.accLabel(true))
		frac := newPlot(wl.Name+": examples clipped per step", "ε (log scale)", "fraction clipped")
		ai := panelInfo{Title: acc.Title.Text, Series: map[string]int{}}
		fi := panelInfo{Title: frac.Title.Text, Series: map[string]int{}}
		f.Runs += pn.Runs
		for _, ln := range pn.Lines {
			st := rep.style(ln.Series)
			name := rep.Series[ln.Series].Name
			var a rangeErr
			var c xy
			for _, p := range ln.Points {
				if !p.Best || !isFinite(p.Epsilon) || p.Epsilon <= 0 {
					continue
				}
				epsAll = append(epsAll, p.Epsilon)
				a.add(p.Epsilon, p.Acc, p.Epsilon, p.Epsilon, p.Lo, p.Hi)
				if isFinite(p.ClipFrac) {
					c.x, c.y = append(c.x, p.Epsilon), append(c.y, p.ClipFrac)
				}
			}
			if a.Len() == 0 {
				continue
			}
			used[ln.Series] = true
			addLine(acc, ai.Series, name, st, a.xy, 1)
			eb, _ := plotter.NewYErrorBars(a)
			eb.LineStyle = draw.LineStyle{Color: st.Color, Width: vg.Points(0.8)}
			eb.CapWidth = vg.Points(4)
			acc.Add(eb)
			addLine(frac, fi.Series, name, st, c, 1)
		}
		for _, p := range []*plot.Plot{acc, frac} {
			logAxis(&p.X)
			padRange(&p.X, true)
			padRange(&p.Y, false)
			margin(&p.Y, 0.08)
		}
		acc.Y.Min, acc.Y.Max = math.Max(acc.Y.Min, 0), math.Min(acc.Y.Max, 1)
		frac.Y.Min, frac.Y.Max = math.Max(frac.Y.Min, 0), math.Min(frac.Y.Max, 1)
		rows = append(rows, []*plot.Plot{acc, frac})
		f.Info = append(f.Info, ai, fi)
	}
	l := newLegend()
	rep.seriesLegend(l, used, true, nil)
	f.Legend = l
	f.Panels = rows
	f.Width = vg.Points(900)
	f.Height = vg.Points(float64(30 + 250*len(rows)))
	sort.Float64s(epsAll)
	epsAll = slices.Compact(epsAll)
	es := make([]string, len(epsAll))
	for i, e := range epsAll {
		es[i] = epsText(e)
	}
	f.Caption = "DP-SGD: final test accuracy (left; mean over seeds, bars from the lowest to the highest seed, a diverged seed at chance) and the fraction of examples clipped per step (right; mean over logged steps and seeds) against the privacy budget ε spent (ε = " +
		strings.Join(es, ", ") + "), one line per clipping strategy through its best setting at each ε (learning rate and threshold chosen by train-sample accuracy; every setting is in table-privacy). " +
		privacyNote(ps)
	return f
}

// privacyTable: every DP-SGD setting with its ε, σ and accuracy; nil
// without DP runs.
func (rep *paper) privacyTable() *table {
	ps := rep.PrivacyData()
	if len(ps) == 0 {
		return nil
	}
	t := &table{
		Name:  "table-privacy",
		Title: "DP-SGD: accuracy at each privacy budget",
		Caption: "Per architecture and clipping strategy, each DP-SGD setting: the ε it spent, the noise multiplier σ (given, or solved for a target ε), the learning rate and clip threshold, final test accuracy (mean ± std over seeds, a diverged seed at chance; lowest–highest seed) and the fraction of examples clipped per step; * marks the setting drawn in fig-privacy-utility at its ε, bold the best accuracy of an architecture at one ε. " +
			privacyNote(ps),
		Header:    []string{"arch", "method", "ε", "σ", "lr", "threshold", rep.accLabel(false), "seed range", "clipped", "seeds"},
		Right:     []bool{false, false, true, true, true, true, true, true, true, true},
		Best:      []int{0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		CSVHeader: []string{"arch", "dataset", "method", "options", "epsilon", "delta", "noise_multiplier", "sampling", "lr", "threshold", "acc_mean", "acc_std", "acc_min", "acc_max", "clip_fraction", "ended", "drawn"},
	}
	groups := map[string]int{} // bold competes among the settings of one workload at one ε
	for _, pn := range ps {
		wl := rep.Workloads[pn.Workload]
		for _, ln := range pn.Lines {
			se := rep.Series[ln.Series]
			for _, p := range ln.Points {
				s := p.Setting
				t.Runs += s.N
				eps := epsText(p.Epsilon)
				if p.Best {
					eps += " *"
				}
				t.Rows = append(t.Rows, []string{wl.Name, se.Name, eps, num(p.Sigma, 3), fmtNum(s.LR), fmtNum(s.Threshold),
					meanStd(p.Acc, s.AccStd, s.Ended), num(p.Lo, 3) + "–" + num(p.Hi, 3), num(p.ClipFrac, 2), fmt.Sprintf("%d/%d", s.Ended, s.N)})
				t.Value = append(t.Value, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), p.Acc, math.NaN(), math.NaN(), math.NaN()})
				g := fmt.Sprint(pn.Workload, " ", epsText(p.Epsilon))
				if _, ok := groups[g]; !ok {
					groups[g] = len(groups)
				}
				t.Group = append(t.Group, groups[g])
				t.CSVRows = append(t.CSVRows, []string{wl.Arch, wl.Dataset, se.Method, se.Options, raw(p.Epsilon), raw(p.Delta), raw(p.Sigma), p.Sampling,
					raw(s.LR), raw(s.Threshold), raw(p.Acc), raw(s.AccStd), raw(p.Lo), raw(p.Hi), raw(p.ClipFrac), fmt.Sprint(s.Ended), fmt.Sprint(p.Best)})
			}
		}
	}
	t.markBest()
	return t
}
