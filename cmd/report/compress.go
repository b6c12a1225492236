package main

// The accuracy-versus-cost figures of the model as deployed (issue 16):
// non-zero parameters, storage and effective FLOPs on x, drawn when pruned
// or quantised settings stand beside others.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"cliplab/internal/report"
)

// deployedCost is one x axis of the deployed-model figures.
type deployedCost struct {
	kind               report.CostKind
	name, title, xaxis string
	what               string // the caption's account of x
}

var deployedCosts = []deployedCost{
	{report.CostParams, "fig-acc-vs-params", "Accuracy versus non-zero parameters", "non-zero parameters of the deployed model",
		"the parameter values that are not zero in the model as deployed (pruned weights are zero; quantisation may round more to zero)"},
	{report.CostBytes, "fig-acc-vs-bytes", "Accuracy versus model size", "bytes of the deployed model",
		"bytes to store the model as deployed: per tensor the smaller of dense storage and a bitmap of the non-zero positions plus the non-zero values, at 32 bits or the quantised bits, plus 8 bytes per quantisation scale (README \"Pruning and quantisation\")"},
	{report.CostEffectiveFLOPs, "fig-acc-vs-effective-flops", "Accuracy versus effective FLOPs", "inference FLOPs per example, non-zero weights only",
		"inference FLOPs of one example counting only non-zero weights: 2 per multiply-add of a non-zero weight each time it is applied, 1 per non-zero bias value"},
}

// deployedFigures returns the figures of accuracy against each cost of the
// deployed model, or none when no workload's settings differ in it.
func (rep *paper) deployedFigures() []*figure {
	if !rep.DeployedCostsVary() {
		return nil
	}
	var out []*figure
	for _, dc := range deployedCosts {
		out = append(out, rep.deployedFigure(dc))
	}
	return out
}

// deployedFigure: final accuracy against one cost of the deployed model,
// one panel per workload, one point per setting labelled by what sets it
// apart (pruning, quantisation, lr), with the frontier beyond noise.
func (rep *paper) deployedFigure(dc deployedCost) *figure {
	f := &figure{Name: dc.name, Title: dc.title}
	used := map[int]bool{}
	var panels []*plot.Plot
	for _, pn := range rep.CostData(dc.kind) {
		wl := rep.Workloads[pn.Workload]
		p := newPlot(wl.Name, dc.xaxis, rep.accLabel(true))
		info := panelInfo{Title: wl.Name, Series: map[string]int{}}
		f.Runs += pn.Runs
		costAxis(p, pn)
		addFrontier(p, pn, info)
		var labels plotter.XYLabels
		var labelSeries []int
		for si := range rep.Series {
			var e rangeErr
			for i, pt := range pn.Points {
				if pt.Setting.Series != si {
					continue
				}
				e.add(pt.Cost, pt.Acc, pt.CostLo, pt.CostHi, pt.AccLo, pt.AccHi)
				// Labels on the frontier and on the uncompressed settings
				// only: a label per point would bury the points.
				if slices.Contains(pn.Frontier, i) || pt.Setting.Config.Prune == nil && pt.Setting.Config.Quantize == nil {
					labels.XYs = append(labels.XYs, plotter.XY{X: pt.Cost, Y: pt.Acc})
					labels.Labels = append(labels.Labels, deployedLabel(pt))
					labelSeries = append(labelSeries, si)
				}
			}
			if e.Len() == 0 {
				continue
			}
			used[si] = true
			st := rep.style(si)
			eb, _ := plotter.NewYErrorBars(e)
			eb.LineStyle = draw.LineStyle{Color: st.Color, Width: vg.Points(0.8)}
			eb.CapWidth = vg.Points(4)
			p.Add(eb)
			sc, _ := plotter.NewScatter(e.xy)
			sc.GlyphStyle = st.glyph(vg.Points(3))
			p.Add(sc)
			info.Series[rep.Series[si].Name] = e.Len()
		}
		if len(labels.Labels) > 0 {
			rep.seriesLabels(f, p, labels.XYs, labels.Labels, labelSeries, "table-compress")
			info.Labels = labels.Labels
		}
		// y: the accuracies drawn, not [chance, 1]: compression moves
		// accuracy by points, which a full axis would flatten.
		p.Y.Min, p.Y.Max = deployedYRange(pn.Points)
		panels = append(panels, p)
		f.Info = append(f.Info, info)
	}
	l := newLegend()
	rep.seriesLegend(l, used, false, nil)
	ring, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
	ring.GlyphStyle = draw.GlyphStyle{Color: frontStyle.Color, Radius: vg.Points(5), Shape: draw.CircleGlyph{}}
	l.Add("frontier (beyond noise)", ring)
	f.Legend = l
	f.Panels = panelGrid(panels, 3)
	f.Width = vg.Points(float64(160 + 300*min(3, max(1, len(panels)))))
	f.Height = vg.Points(float64(40 + 260*len(f.Panels)))
	f.Caption = fmt.Sprintf("Final test accuracy of the model as deployed (pruned, and quantised where the setting says so: its last evaluations measure the quantised weights) against %s, one point per setting; the settings on the frontier and the uncompressed ones are labelled by their sparsity (s0.9; dense: not pruned), its quantisation (int8; nothing for float32) and any other axis that sets it apart. x: the median over seeds; horizontal extent: their range (seeds of one setting mostly share it). y, zoomed to the accuracies drawn: the mean over seeds (a diverged seed counts as chance); vertical bar: the lowest to the highest seed. Grey rings: the frontier beyond noise, as in the accuracy-versus-FLOPs figure (settings above chance + 10%% that no other beats by more than the seeds' spread). One panel per architecture.", dc.what)
	return f
}

// deployedYRange is the y axis of a deployed-cost panel: the accuracies
// drawn and 0.02 either side, within [0, 1], and room below for labels
// placed under their points; [0, 1] without points.
func deployedYRange(pts []report.CostPoint) (lo, hi float64) {
	if len(pts) == 0 {
		return 0, 1
	}
	lo, hi = 1, 0
	for _, pt := range pts {
		lo, hi = math.Min(lo, pt.AccLo), math.Max(hi, pt.AccHi)
	}
	lo, hi = math.Max(0, lo-0.02), math.Min(1, hi+0.02)
	return math.Max(0, lo-0.15*(hi-lo)), hi
}

// deployedLabel names a point by its sparsity ("s0.9"; "dense"), its
// quantisation ("int8"; nothing for float32) and any other axis that sets
// its setting apart (lr aside), and its failed seeds.
func deployedLabel(pt report.CostPoint) string {
	c := pt.Setting.Config
	parts := []string{"dense"}
	if c.Prune != nil {
		parts[0] = "s" + fmtNum(c.Prune.Sparsity)
	}
	if c.Quantize != nil {
		parts = append(parts, c.Quantize.String())
	}
	for _, kv := range strings.Fields(pt.Setting.Extra) {
		if !strings.HasPrefix(kv, "prune=") && !strings.HasPrefix(kv, "quantize=") {
			parts = append(parts, kv)
		}
	}
	s := strings.Join(parts, " ")
	if pt.Failed > 0 {
		s += fmt.Sprintf(": %d/%d failed", pt.Failed, pt.Ended)
	}
	return s
}

// deployedTables returns the table of the deployed models' costs, or none
// when no workload's settings differ in them (as deployedFigures).
func (rep *paper) deployedTables() []*table {
	if !rep.DeployedCostsVary() {
		return nil
	}
	t := &table{
		Name:  "table-compress",
		Title: "Accuracy and the deployed model's cost",
		Caption: "Per setting: seeds done of all; final test accuracy of the model as deployed, mean ± std over the seeds that ended (a diverged seed counts as chance); " +
			"the median over those seeds of its non-zero parameters, its bytes and its inference FLOPs per example counting non-zero weights only (README, Pruning and quantisation). Bold: the one best accuracy per architecture.",
		Header:    []string{"arch", "method", "threshold", "lr", "other", "done", rep.accLabel(false), "non-zero params", "bytes", "effective FLOPs"},
		Right:     []bool{false, false, true, true, false, true, true, true, true, true},
		Best:      []int{0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		CSVHeader: []string{"arch", "dataset", "method", "options", "extra", "threshold", "lr", "done", "ended", "acc_mean", "acc_std", "nonzero_params", "model_bytes", "effective_flops"},
	}
	for _, s := range rep.Settings {
		se := rep.Series[s.Series]
		t.Runs += s.N
		var nz, bytes, fl []float64
		for _, r := range s.Runs {
			if r.Ended() {
				nz, bytes, fl = append(nz, r.NonzeroParams), append(bytes, r.ModelBytes), append(fl, r.EffectiveFLOPs)
			}
		}
		med := func(x []float64) float64 {
			if len(x) == 0 {
				return math.NaN()
			}
			return report.Median(x)
		}
		cost := []float64{med(nz), med(bytes), med(fl)}
		acc, accV := "–", math.NaN()
		if s.Ended > 0 {
			acc, accV = meanStd(s.AccMean, s.AccStd, s.Ended), round(s.AccMean, 3)
		}
		t.Rows = append(t.Rows, []string{rep.Workloads[s.Workload].Name, se.Name, fmtNum(s.Threshold), fmtNum(s.LR), deployedLabel(report.CostPoint{Setting: s}),
			fmt.Sprintf("%d/%d", s.Done, s.N), acc, num(cost[0], 0), num(cost[1], 0), num(cost[2], 0)})
		t.Value = append(t.Value, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), accV, math.NaN(), math.NaN(), math.NaN()})
		t.Group = append(t.Group, s.Workload)
		t.CSVRows = append(t.CSVRows, []string{s.Arch, s.Dataset, se.Method, se.Options, s.Extra, raw(s.Threshold), raw(s.LR),
			strconv.Itoa(s.Done), strconv.Itoa(s.Ended), raw(s.AccMean), raw(s.AccStd), raw(cost[0]), raw(cost[1]), raw(cost[2])})
	}
	t.markBest()
	return []*table{t}
}
