package main

// The accuracy-versus-cost figures of the model as deployed (issue 16):
// non-zero parameters, storage and effective FLOPs on x, drawn when pruned
// or quantised settings stand beside others.

import (
	"fmt"
	"math"
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
		lo, hi := pn.Lo, pn.Hi
		if len(pn.Points) == 0 {
			lo, hi = 1, 10
		}
		logX := hi > 10*lo
		if logX {
			logAxis(&p.X)
		}
		p.X.Min, p.X.Max = lo, hi
		padRange(&p.X, logX)
		if !logX {
			margin(&p.X, 0.05)
		}
		if wl.ChanceKnown {
			ln, _ := plotter.NewLine(xy{[]float64{p.X.Min, p.X.Max}, []float64{wl.Chance, wl.Chance}})
			ln.LineStyle = draw.LineStyle{Color: lightGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
			p.Add(ln)
		}
		if front := pn.Frontier; len(front) > 0 {
			var ring xy
			for _, i := range front {
				ring.x, ring.y = append(ring.x, pn.Points[i].Cost), append(ring.y, pn.Points[i].Acc)
			}
			sc, _ := plotter.NewScatter(ring)
			sc.GlyphStyle = draw.GlyphStyle{Color: frontStyle.Color, Radius: vg.Points(6.5), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			info.Series["frontier"] = len(front)
		}
		var labels plotter.XYLabels
		var labelSeries []int
		for si := range rep.Series {
			var e rangeErr
			for _, pt := range pn.Points {
				if pt.Setting.Series == si {
					e.add(pt.Cost, pt.Acc, pt.CostLo, pt.CostHi, pt.AccLo, pt.AccHi)
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
		unclutter(labels.XYs, logX, p.X.Min, p.X.Max)
		if len(labels.Labels) > 0 {
			lb, _ := plotter.NewLabels(labels)
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(6.5)
				lb.TextStyle[i].Color = rep.style(labelSeries[i]).Color
			}
			lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
			p.Add(lb)
			info.Labels = labels.Labels
		}
		p.Y.Min, p.Y.Max = 0, 1
		if wl.ChanceKnown {
			p.Y.Min = math.Max(0, wl.Chance-0.05)
		}
		margin(&p.Y, 0.03)
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
	f.Caption = fmt.Sprintf("Final test accuracy of the model as deployed (pruned, and quantised where the setting says so: its last evaluations measure the quantised weights) against %s, one point per setting, labelled by what sets it apart from the others of its panel (prune, quantize, lr …). x: the median over seeds; horizontal extent: their range (seeds of one setting mostly share it). y: the mean over seeds (a diverged seed counts as chance); vertical bar: the lowest to the highest seed. Grey rings: the frontier beyond noise, as in the accuracy-versus-FLOPs figure (settings above chance + 10%% that no other beats by more than the seeds' spread). One panel per architecture.", dc.what)
	return f
}

// deployedLabel names a point by its setting's extra axes ("prune=…
// quantize=…"; "dense" when it has none) and its failed seeds.
func deployedLabel(pt report.CostPoint) string {
	s := pt.Setting.Extra
	if s == "" {
		s = "dense"
	}
	s = strings.NewReplacer("prune=none", "unpruned", "quantize=none", "float32", "prune=", "", "quantize=", "").Replace(s)
	if pt.Failed > 0 {
		s += fmt.Sprintf(": %d/%d failed", pt.Failed, pt.Ended)
	}
	return s
}
