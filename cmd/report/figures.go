// The figures of the report, each built from the model into a figure that
// render draws.

package main

import (
	"fmt"
	"image/color"
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

var (
	grey       = color.RGBA{0x99, 0x99, 0x99, 0xff}
	lightGrey  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	frontStyle = draw.LineStyle{Color: color.RGBA{0xbb, 0xbb, 0xbb, 0xff}, Width: vg.Points(2)}
)

// figures returns every figure of the report, in the order index shows them.
func (rep *paper) figures() []*figure {
	var out []*figure
	out = append(out, rep.costFigure("flops"), rep.costFigure("wall"))
	out = append(out, rep.deployedFigures()...)
	for w := range rep.Workloads {
		sets := rep.CurveSets(w)
		for _, cs := range sets {
			out = append(out, rep.curveFigure(w, cs, len(report.LRsOf(rep.SettingsOf(w)))))
		}
	}
	for w := range rep.Workloads {
		out = append(out, rep.divergenceFigure(w))
	}
	for w := range rep.Workloads {
		if f := rep.thresholdFigure(w); f != nil {
			out = append(out, f)
		}
	}
	if f := rep.privacyFigure(); f != nil {
		out = append(out, f)
	}
	out = append(out, rep.profileFigure())
	for w := range rep.Workloads {
		out = append(out, rep.stabilityFigure(w))
	}
	for _, f := range out {
		if rep.Experiments != nil {
			f.Caption += " " + rep.compareNote()
		}
		f.Caption += " " + rep.metricNote()
	}
	return out
}

// panelGrid lays n panels out in rows of at most cols.
func panelGrid(ps []*plot.Plot, cols int) [][]*plot.Plot {
	cols = min(cols, len(ps))
	if cols == 0 {
		return nil
	}
	var out [][]*plot.Plot
	for i := 0; i < len(ps); i += cols {
		out = append(out, ps[i:min(i+cols, len(ps))])
	}
	return out
}

// seriesLegend adds one entry per series used (in series order) to l.
func (rep *paper) seriesLegend(l *plot.Legend, used map[int]bool, withLine bool, suffix func(i int) string) {
	for i, s := range rep.Series {
		if !used[i] {
			continue
		}
		sc, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
		st := rep.style(i)
		sc.GlyphStyle = st.glyph(vg.Points(3))
		name := s.Name
		if suffix != nil {
			name += suffix(i)
		}
		if withLine {
			ln, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
			ln.LineStyle = st.line(vg.Points(1.3))
			l.Add(name, ln, sc)
		} else {
			l.Add(name, sc)
		}
	}
}

// costFigure: final accuracy against the cost to reach the target accuracy
// (FLOPs or wall seconds), one panel per workload, one point per setting
// labelled with its learning rate; settings whose median seed never reached
// the target stand apart at the right, as failures.
func (rep *paper) costFigure(kind string) *figure {
	tgt := fmtNum(rep.Target)
	f := &figure{Name: "fig-acc-vs-flops", Title: "Accuracy versus FLOPs to target"}
	xlabel := "training FLOPs to test accuracy " + tgt + " (median over seeds)"
	ck := report.CostFLOPs
	if kind == "wall" {
		f.Name, f.Title = "fig-acc-vs-seconds", "Accuracy versus time to target"
		xlabel = "seconds to test accuracy " + tgt + " (median over seeds, one core per run)"
		ck = report.CostSeconds
	}
	used := map[int]bool{}
	missed := false
	var unlabelled []string
	var panels []*plot.Plot
	for _, pn := range rep.CostData(ck) {
		wl := rep.Workloads[pn.Workload]
		p := newPlot(wl.Name, xlabel, rep.accLabel(true))
		info := panelInfo{Title: wl.Name, Series: map[string]int{}}
		f.Runs += pn.Runs
		logX := costAxis(p, pn)
		// The strip of settings that never reached the target, right of a
		// dotted divider: half a decade (log) or a fifth of the range
		// beyond the data.
		dataMax := p.X.Max
		strip, div, width := dataMax, dataMax, 0.0
		if len(pn.Missed) > 0 {
			missed = true
			if logX {
				strip, div = dataMax*math.Pow(10, 0.6), dataMax*math.Pow(10, 0.1)
				p.X.Max = dataMax * math.Pow(10, 1.2)
			} else {
				width = 0.5 * (p.X.Max - p.X.Min)
				strip, div = dataMax+width, dataMax+width/6
				p.X.Max = dataMax + 2*width
			}
			p.X.Tick.Marker = stripTicks{inner: p.X.Tick.Marker, max: dataMax, at: strip}
			ln, _ := plotter.NewLine(xy{[]float64{div, div}, []float64{0, 1}})
			ln.LineStyle = draw.LineStyle{Color: grey, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
			p.Add(ln)
		}
		// Chance level, as a faint line under the data.
		if wl.ChanceKnown {
			addChance(p, wl.Chance, chanceStyle)
		}
		// The frontier: rings on the settings no other beats by more
		// than the seeds' spread.
		addFrontier(p, pn, info)
		// Where the missed settings sit in the strip: spread by series so
		// that methods at one accuracy do not cover each other.
		var missedSeries []int
		for _, pt := range pn.Missed {
			if !slices.Contains(missedSeries, pt.Setting.Series) {
				missedSeries = append(missedSeries, pt.Setting.Series)
			}
		}
		sort.Ints(missedSeries)
		stripX := func(si int) float64 {
			k := float64(slices.Index(missedSeries, si)) - float64(len(missedSeries)-1)/2
			if logX {
				return strip * math.Pow(10, 0.12*k)
			}
			return strip + 0.2*width*k
		}
		manyTh := map[int]bool{} // series with several thresholds in the panel
		ths := map[int]float64{}
		for _, pt := range append(slices.Clone(pn.Points), pn.Missed...) {
			s := pt.Setting
			if t, ok := ths[s.Series]; ok && !report.SameNum(t, s.Threshold) {
				manyTh[s.Series] = true
			}
			ths[s.Series] = s.Threshold
		}
		var labels plotter.XYLabels
		var labelSeries []int
		for si := range rep.Series {
			var e rangeErr
			for _, pt := range pn.Points {
				if pt.Setting.Series == si {
					e.add(pt.Cost, pt.Acc, pt.CostLo, pt.CostHi, pt.AccLo, pt.AccHi)
				}
			}
			nReached := e.Len()
			for _, pt := range pn.Missed {
				if pt.Setting.Series == si {
					x := stripX(si)
					e.add(x, pt.Acc, x, x, pt.AccLo, pt.AccHi)
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
			if nReached > 0 {
				xb, _ := plotter.NewXErrorBars(e)
				xb.LineStyle = eb.LineStyle
				xb.CapWidth = vg.Points(4)
				p.Add(xb)
			}
			sc, _ := plotter.NewScatter(e.xy)
			sc.GlyphStyle = st.glyph(vg.Points(3))
			p.Add(sc)
			if nReached > 0 {
				info.Series[rep.Series[si].Name] = nReached
			}
			if n := e.Len() - nReached; n > 0 {
				info.Series["not reached"] += n
			}
		}
		// Labels name each setting's learning rate; with more settings
		// than maxLabelled they would cover the data (and placing them is
		// quadratic), so the points stand alone and the caption says so.
		if n := len(pn.Points) + len(pn.Missed); n > maxLabelled {
			unlabelled = append(unlabelled, fmt.Sprintf("%s (%d settings)", wl.Name, n))
		} else {
			for _, pt := range pn.Points {
				labels.XYs = append(labels.XYs, plotter.XY{X: pt.Cost, Y: pt.Acc})
				labels.Labels = append(labels.Labels, costLabel([]report.CostPoint{pt}, manyTh[pt.Setting.Series]))
				labelSeries = append(labelSeries, pt.Setting.Series)
			}
			// In the strip, one label for a method's settings at about one
			// accuracy (at chance, mostly).
			var groups [][]report.CostPoint
			for _, pt := range pn.Missed {
				k := slices.IndexFunc(groups, func(g []report.CostPoint) bool {
					return g[0].Setting.Series == pt.Setting.Series && math.Abs(g[0].Acc-pt.Acc) < 0.02
				})
				if k < 0 {
					groups = append(groups, nil)
					k = len(groups) - 1
				}
				groups[k] = append(groups[k], pt)
			}
			for _, g := range groups {
				labels.XYs = append(labels.XYs, plotter.XY{X: stripX(g[0].Setting.Series), Y: g[0].Acc})
				labels.Labels = append(labels.Labels, costLabel(g, manyTh[g[0].Setting.Series]))
				labelSeries = append(labelSeries, g[0].Setting.Series)
			}
		}
		if len(labels.Labels) > 0 {
			rep.seriesLabels(f, p, labels.XYs, labels.Labels, labelSeries, "table-settings")
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
	ch, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
	ch.LineStyle = chanceStyle
	l.Add("chance", ch)
	f.Legend = l
	f.Panels = panelGrid(panels, 3)
	f.Width = vg.Points(float64(160 + 300*min(3, max(1, len(panels)))))
	f.Height = vg.Points(float64(40 + 260*len(f.Panels)))
	what := "training FLOPs (forward and backward, pro rata to the steps; clipping's own arithmetic is not counted, it is in the seconds)"
	if kind == "wall" {
		what = "wall-clock seconds (one core per run; on a shared machine they carry scheduling noise, which the seeds' range shows)"
	}
	f.Caption = fmt.Sprintf("Final test accuracy against the cost to first reach test accuracy %s in %s, one point per setting (method × threshold × lr), labelled with its learning rate (and threshold where a method has several). x: the median over seeds (a seed that never reaches %s counts as never); horizontal bar: the range of the seeds that reached it. y: the mean over seeds (a diverged seed counts as chance); vertical bar: the lowest to the highest seed, so it stays inside [0, 1]. Seeds that diverged or ended at chance are failures: a label says how many (\"2/3 failed\"), and a setting where at least half the seeds never reach %s is drawn right of the dotted line at \"not reached\", never as a cheap point. Grey rings: the frontier beyond noise, the settings above chance + 10%% that no other beats by more than the seeds' spread (a setting beats another on cost when its slowest seed is cheaper than the other's cheapest, on accuracy when its worst seed is above the other's best; it is beaten when the other beats it on one and it does not beat the other on the other); settings whose differences lie within that spread all stay on it. One panel per architecture.", tgt, what, tgt, tgt)
	if len(unlabelled) > 0 {
		f.Caption += fmt.Sprintf(" Panels with more than %d settings draw their points unlabelled (%s): table-settings gives each setting's learning rate and cost.", maxLabelled, strings.Join(unlabelled, ", "))
	}
	if !missed {
		f.Caption = strings.Replace(f.Caption, ", and a setting where at least half the seeds never reach "+tgt+" is drawn right of the dotted line at \"not reached\", never as a cheap point", "; every setting had at least half its seeds reach "+tgt, 1)
	}
	return f
}

// maxLabelled is how many settings a panel of the accuracy-versus-cost
// figure labels with their learning rates.
const maxLabelled = 60

// costLabel labels cost points of one series: their learning rates, their
// thresholds when the method has several, and their failed seeds.
func costLabel(pts []report.CostPoint, th bool) string {
	var lrs []string
	failed, ended := 0, 0
	for _, pt := range pts {
		s := pt.Setting
		l := fmtNum(s.LR)
		if th && !math.IsNaN(s.Threshold) {
			l += " (" + fmtNum(s.Threshold) + ")"
		}
		lrs = append(lrs, l)
		failed += pt.Failed
		ended += pt.Ended
	}
	out := "lr " + strings.Join(lrs, ", ")
	if failed > 0 {
		out += fmt.Sprintf(": %d/%d failed", failed, ended)
	}
	return out
}

// rangeErr are points with error bars from given lows to highs.
type rangeErr struct {
	xy
	xlo, xhi, ylo, yhi []float64
}

func (e *rangeErr) add(x, y, xlo, xhi, ylo, yhi float64) {
	e.x, e.y = append(e.x, x), append(e.y, y)
	e.xlo, e.xhi = append(e.xlo, xlo), append(e.xhi, xhi)
	e.ylo, e.yhi = append(e.ylo, ylo), append(e.yhi, yhi)
}

func (e rangeErr) XError(i int) (float64, float64) {
	return math.Max(0, e.x[i]-e.xlo[i]), math.Max(0, e.xhi[i]-e.x[i])
}

func (e rangeErr) YError(i int) (float64, float64) {
	return math.Max(0, e.y[i]-e.ylo[i]), math.Max(0, e.yhi[i]-e.y[i])
}

// stripTicks are inner's ticks up to max and one labelled "not reached" at
// at: the cost axis's strip of settings that never reached the target.
type stripTicks struct {
	inner plot.Ticker
	max   float64
	at    float64
}

func (t stripTicks) Ticks(min, max float64) []plot.Tick {
	ts := t.inner.Ticks(min, t.max)
	return append(ts, plot.Tick{Value: t.at, Label: "not reached"})
}

// curveFigure: training loss and pre-clip gradient norm against step at one
// workload and learning rate (or range of them, when the workload has nLRs
// > report.MaxLRs), for each method its best setting there.
func (rep *paper) curveFigure(w int, cs report.CurveSet, nLRs int) *figure {
	wl := rep.Workloads[w]
	lr := cs.Bin.Name()
	f := &figure{
		Name:  fmt.Sprintf("fig-curves-%s-lr%s", fileSafe(wl.Name), fileSafe(lr)),
		Title: fmt.Sprintf("Training curves: %s, lr = %s", wl.Name, lr),
	}
	loss := newPlot(fmt.Sprintf("%s, lr=%s: training loss", wl.Name, lr), "step", "")
	norm := newPlot(fmt.Sprintf("%s, lr=%s: gradient norm before clipping", wl.Name, lr), "step", "")
	f.logYLabel(loss, "training loss (log scale)")
	f.logYLabel(norm, "global L2 gradient norm (log scale)")
	logAxis(&loss.Y)
	logAxis(&norm.Y)
	li := panelInfo{Title: loss.Title.Text, Series: map[string]int{}}
	ni := panelInfo{Title: norm.Title.Text, Series: map[string]int{}}
	// A second row, train-sample and test accuracy at each evaluation,
	// when the runs were evaluated more than once (grokking is seen there:
	// test accuracy leaving chance long after train accuracy reached 1).
	var accs []*plot.Plot
	var accInfo []panelInfo
	if cs.Evaluated() {
		for _, sp := range []struct{ split, what string }{{"train", "train-sample accuracy"}, {"test", "test accuracy"}} {
			p := newPlot(fmt.Sprintf("%s, lr=%s: %s", wl.Name, lr, sp.what), "step", sp.what)
			p.Y.Min, p.Y.Max = 0, 1
			accs = append(accs, p)
			accInfo = append(accInfo, panelInfo{Title: p.Title.Text, Series: map[string]int{}})
		}
	}
	l := newLegend()
	anyDiverged, capped := false, false
	var spikeZ []float64 // spike_z of each setting with marks
	for si, s := range cs.Best {
		if s == nil {
			continue
		}
		st := rep.style(si)
		name := rep.SettingName(s)
		if !cs.Bin.Single() {
			name += " lr=" + strconv.FormatFloat(s.LR, 'g', 3, 64)
		}
		nruns := 0
		for _, r := range report.CurveSeeds(s) {
			if r.Ended() {
				nruns++
			}
		}
		capped = capped || len(s.Runs) > report.MaxCurveSeeds
		f.Runs += nruns
		for k, p := range []*plot.Plot{loss, norm} {
			info := []panelInfo{li, ni}[k]
			get := func(c report.CurvePoint) float64 { return c.Loss }
			if k == 1 {
				get = func(c report.CurvePoint) float64 { return c.GradNorm }
			}
			mean, lo, hi := report.SeedCurve(s, get)
			addSeedLines(p, info, name, st, mean, lo, hi, report.DivergedCurves(s, get))
			if k == 0 && addSpikeMarks(p, info.Series, name, st, s) > 0 {
				spikeZ = append(spikeZ, s.Config.Spike())
			}
			anyDiverged = anyDiverged || info.Series["diverged: "+name] > 0
		}
		for k, split := range []string{"train", "test"}[:len(accs)] {
			mean, lo, hi := report.SeedAccuracy(s, split)
			addSeedLines(accs[k], accInfo[k], name, st, mean, lo, hi, report.DivergedAccuracy(s, split))
		}
		ln, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
		ln.LineStyle = st.line(vg.Points(1.3))
		sc, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
		sc.GlyphStyle = st.glyph(vg.Points(2.5))
		l.Add(name, ln, sc)
	}
	if anyDiverged {
		sc, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5), Shape: draw.CrossGlyph{}}
		ln, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
		ln.LineStyle = draw.LineStyle{Color: color.Black, Width: vg.Points(0.7)}
		l.Add("diverged seed", ln, sc)
	}
	spikeText := spikeLegend(l, spikeZ)
	padRange(&loss.X, false)
	padRange(&norm.X, false)
	padRange(&loss.Y, true)
	padRange(&norm.Y, true)
	f.Panels = [][]*plot.Plot{{loss, norm}}
	f.Info = []panelInfo{li, ni}
	f.Legend = l
	f.Width, f.Height = vg.Points(900), vg.Points(320)
	f.Caption = fmt.Sprintf("Training loss and gradient norm before clipping against step (logged steps averaged into at most %d points a run) for each method at its best threshold by train-sample accuracy: mean over the seeds that finished with a band from the lowest to the highest; each diverged seed as a thin line ending in ×.", report.CurveBins) + spikeText
	if len(accs) > 0 {
		for _, p := range accs {
			p.X.Min, p.X.Max = loss.X.Min, loss.X.Max // steps line up with the row above
			if wl.ChanceKnown {
				addChance(p, wl.Chance, draw.LineStyle{Color: color.Gray{0x80}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}})
			}
		}
		f.Panels = append(f.Panels, accs)
		f.Info = append(f.Info, accInfo...)
		f.Height = vg.Points(620)
		f.Caption += " Below: train-sample accuracy (the fixed training sample) and test accuracy at each evaluation, the same seeds, mean and band"
		if wl.ChanceKnown {
			f.Caption += fmt.Sprintf("; dashed: chance (%s)", fmtNum(wl.Chance))
		}
		f.Caption += "."
	}
	if capped {
		f.Caption += fmt.Sprintf(" A setting with more than %d seeds is drawn from its first %[1]d (by seed); the tables use them all.", report.MaxCurveSeeds)
	}
	if !cs.Bin.Single() {
		f.Caption += fmt.Sprintf(" %s has %d learning rates, too many for a figure each: they are cut into %d ranges of equal width in log lr, and this figure draws the %d from %s to %s, each method at its best setting (threshold and learning rate, by train-sample accuracy) among them, its learning rate (3 significant digits) in the legend; table-settings lists every setting.",
			wl.Name, nLRs, report.MaxLRs, len(cs.Bin.Values), fmtNum(cs.Bin.Lo()), fmtNum(cs.Bin.Hi()))
	}
	return f
}

// addSeedLines draws a setting's seeds on p: their mean with a band from
// lo to hi, and each diverged seed its own thin line ending in a cross
// (counted in info as "diverged: name").
func addSeedLines(p *plot.Plot, info panelInfo, name string, st style, mean report.XY, lo, hi []float64, diverged []report.XY) {
	if band := bandPolygon(mean.X, lo, hi); band != nil {
		band.Color = withAlpha(st.Color, 0x30)
		band.LineStyle.Width = 0
		p.Add(band)
	}
	addLine(p, info.Series, name, st, xy{mean.X, mean.Y}, max(1, mean.Len()/10))
	var ends xy
	for _, c := range diverged {
		if c.Len() > 1 {
			ln, _ := plotter.NewLine(xy{c.X, c.Y})
			ln.LineStyle = st.line(vg.Points(0.7))
			p.Add(ln)
		}
		ends.x = append(ends.x, c.X[c.Len()-1])
		ends.y = append(ends.y, c.Y[c.Len()-1])
	}
	if ends.Len() > 0 {
		sc, _ := plotter.NewScatter(ends)
		sc.GlyphStyle = draw.GlyphStyle{Color: st.Color, Radius: vg.Points(5), Shape: draw.CrossGlyph{}}
		p.Add(sc)
		info.Series["diverged: "+name] = ends.Len()
	}
}

// costAxis sets p's x axis to the costs of panel pn (1 to 10 for a panel
// without points), logarithmic when they span more than a decade; it
// returns whether it is.
func costAxis(p *plot.Plot, pn report.CostPanel) bool {
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
	return logX
}

// addFrontier rings pn's frontier settings on p and counts them in info.
func addFrontier(p *plot.Plot, pn report.CostPanel, info panelInfo) {
	if len(pn.Frontier) == 0 {
		return
	}
	var ring xy
	for _, i := range pn.Frontier {
		ring.x, ring.y = append(ring.x, pn.Points[i].Cost), append(ring.y, pn.Points[i].Acc)
	}
	sc, _ := plotter.NewScatter(ring)
	sc.GlyphStyle = draw.GlyphStyle{Color: frontStyle.Color, Radius: vg.Points(6.5), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	info.Series["frontier"] = len(pn.Frontier)
}

// bandPolygon returns the polygon between lo and hi over x, nil for fewer
// than two points.
func bandPolygon(x, lo, hi []float64) *plotter.Polygon {
	if len(x) < 2 {
		return nil
	}
	var ring xy
	for i := range x {
		ring.x = append(ring.x, x[i])
		ring.y = append(ring.y, hi[i])
	}
	for i := len(x) - 1; i >= 0; i-- {
		ring.x = append(ring.x, x[i])
		ring.y = append(ring.y, lo[i])
	}
	p, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil
	}
	return p
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	// Premultiplied: scale the channels with the alpha.
	k := float64(a) / 0xff
	return color.RGBA{uint8(float64(r>>8) * k), uint8(float64(g>>8) * k), uint8(float64(b>>8) * k), a}
}

// divergenceFigure: method/threshold against learning rate, shaded by the
// fraction of seeds that diverged, with the mean final accuracy and the
// count of diverged seeds written in each cell.
func (rep *paper) divergenceFigure(w int) *figure {
	wl := rep.Workloads[w]
	ss := rep.SettingsOf(w)
	lrs := report.Bins(report.LRsOf(ss))
	rows, cells := rep.BinnedRowsOf(ss, lrs)
	nr := len(rows)
	z := make([][]float64, nr)
	hatched := make([][]float64, nr)
	labels := make([][]string, nr)
	names := make([]string, nr)
	f := &figure{Name: "fig-divergence-" + fileSafe(wl.Name), Title: "Divergence map: " + wl.Name}
	for i, k := range rows {
		r := nr - 1 - i // first row at the top
		names[r] = rep.RowName(k)
		z[r] = make([]float64, len(lrs))
		hatched[r] = make([]float64, len(lrs))
		labels[r] = make([]string, len(lrs))
		for j, s := range cells[k] {
			z[r][j] = math.NaN()
			labels[r][j] = ""
			if s == nil {
				continue
			}
			f.Runs += s.N
			if s.Ended == 0 {
				labels[r][j] = fmt.Sprintf("%d/%d pending", s.Missing, s.N)
				continue
			}
			z[r][j] = float64(s.Diverged) / float64(s.Ended)
			hatched[r][j] = float64(s.AtChance) / float64(s.Ended)
			acc := "-"
			if s.Done > 0 {
				acc = fmt.Sprintf("%.3f", s.DoneAccMean)
			}
			labels[r][j] = fmt.Sprintf("%s  %d/%d div", acc, s.Diverged, s.Ended)
			if s.AtChance > 0 {
				labels[r][j] += fmt.Sprintf(" %d chance", s.AtChance)
			}
		}
	}
	colNames := binNames(lrs)
	p, info := heatPanel(wl.Name+": seeds diverged (shade) and collapsed to chance (hatched)", "learning rate", "method, threshold", z, hatched, labels, names, colNames)
	f.Panels = [][]*plot.Plot{{p}}
	f.Info = []panelInfo{info}
	f.ColorBar = fractionBar([]string{"fraction of seeds", "diverged"}, "collapsed to chance")
	f.Width = vg.Points(float64(330 + 130*len(lrs)))
	f.Height = vg.Points(float64(max(90+22*nr, 260)))
	f.Caption = "Fraction of seeds that diverged (shade) for each method/threshold (rows) and learning rate (columns), and seeds that ended done but at chance, collapsed without a NaN (hatched, denser for a larger fraction): both are failures. Each cell gives the mean final test accuracy of the seeds that finished, diverged/ended, and the number at chance; grey: nothing ended yet." + binNote(lrs)
	return f
}

// thresholdFigure: per method with at least two thresholds, final test
// accuracy and generalisation gap against its threshold, in its own units
// (value c, norm c, λ, percentile, z), one line per learning rate with the
// no-clipping baseline at that learning rate; methods tried at one
// threshold are named in the caption instead of drawn as lone points. nil
// when no method has two thresholds.
func (rep *paper) thresholdFigure(w int) *figure {
	wl := rep.Workloads[w]
	td := rep.ThresholdData(w)
	if len(td.Panels) == 0 {
		return nil
	}
	f := &figure{Name: "fig-threshold-" + fileSafe(wl.Name), Title: "Threshold sensitivity: " + wl.Name}
	var lrs []float64
	lrName := map[float64]string{} // a line's learning rate, or range
	binned := false
	for _, pn := range td.Panels {
		for _, ln := range pn.Lines {
			if !slices.Contains(lrs, ln.LR) {
				lrs = append(lrs, ln.LR)
				lrName[ln.LR] = ln.Bin.Name()
				binned = binned || !ln.Bin.Single()
			}
		}
	}
	sort.Float64s(lrs)
	anyBase := false
	var rows [][]*plot.Plot
	for _, pn := range td.Panels {
		se := rep.Series[pn.Series]
		name := se.Name
		if pn.Extra != "" {
			name += " " + pn.Extra
		}
		lo, hi := pn.Thresholds[0], pn.Thresholds[len(pn.Thresholds)-1]
		logX := lo > 0 && hi >= 10*lo
		xlabel := thresholdUnit(se.Method)
		if logX {
			xlabel += " (log scale)"
		}
		acc := newPlot(name+": final test accuracy", xlabel, rep.accLabel(true))
		gap := newPlot(name+": generalisation gap", xlabel, "train-sample − test accuracy")
		ai := panelInfo{Title: acc.Title.Text, Series: map[string]int{}}
		gi := panelInfo{Title: gap.Title.Text, Series: map[string]int{}}
		f.Runs += pn.Runs
		for _, ln := range pn.Lines {
			st := lrStyle(slices.Index(lrs, ln.LR))
			label := "lr=" + lrName[ln.LR]
			var a, g xyErr
			for _, s := range ln.Settings {
				a.x, a.y, a.e, a.clamp = append(a.x, s.Threshold), append(a.y, s.AccMean), append(a.e, s.AccStd), true
				if isFinite(s.GapMean) {
					g.x, g.y, g.e = append(g.x, s.Threshold), append(g.y, s.GapMean), append(g.e, s.GapStd)
				}
			}
			for _, pe := range []struct {
				p    *plot.Plot
				d    xyErr
				info map[string]int
			}{{acc, a, ai.Series}, {gap, g, gi.Series}} {
				if len(pe.d.x) == 0 {
					continue
				}
				addLine(pe.p, pe.info, label, st, pe.d.xy, 1)
				eb, _ := plotter.NewYErrorBars(pe.d)
				eb.LineStyle = draw.LineStyle{Color: st.Color, Width: vg.Points(0.8)}
				eb.CapWidth = vg.Points(4)
				pe.p.Add(eb)
			}
			if ln.Base == nil {
				continue
			}
			for _, pb := range []struct {
				p    *plot.Plot
				y    float64
				info map[string]int
			}{{acc, ln.Base.AccMean, ai.Series}, {gap, ln.Base.GapMean, gi.Series}} {
				if !isFinite(pb.y) {
					continue
				}
				bl, _ := plotter.NewLine(xy{[]float64{lo, hi}, []float64{pb.y, pb.y}})
				bl.LineStyle = baseLine(st)
				pb.p.Add(bl)
				pb.info["no clipping, "+label]++
				anyBase = true
			}
		}
		for _, p := range []*plot.Plot{acc, gap} {
			if logX {
				logAxis(&p.X)
			}
			padRange(&p.X, logX)
			if !logX {
				margin(&p.X, 0.05)
			}
			padRange(&p.Y, false)
			margin(&p.Y, 0.08)
		}
		rows = append(rows, []*plot.Plot{acc, gap})
		f.Info = append(f.Info, ai, gi)
	}
	l := newLegend()
	for k, lr := range lrs {
		st := lrStyle(k)
		ln, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
		ln.LineStyle = st.line(vg.Points(1.3))
		sc, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
		sc.GlyphStyle = st.glyph(vg.Points(2.5))
		l.Add("lr="+lrName[lr], ln, sc)
	}
	if anyBase {
		bl, _ := plotter.NewLine(xy{[]float64{0, 1}, []float64{0, 0}})
		bl.LineStyle = baseLine(style{Color: color.Black})
		l.Add("no clipping, per lr", bl)
	}
	f.Legend = l
	f.Panels = rows
	f.Width = vg.Points(900)
	f.Height = vg.Points(float64(30 + 250*len(rows)))
	f.Caption = "Final test accuracy and generalisation gap (train-sample minus test accuracy) against each method's threshold, in its own units (value c, norm c, λ, percentile, z: they are not comparable across methods), mean ± std over seeds (a diverged seed counts as chance in the accuracy and is left out of the gap); one line per learning rate, with no clipping at that learning rate as a thin dotted line in its colour."
	if binned {
		f.Caption += fmt.Sprintf(" %s has more than %d learning rates: a line is a range of equal width in log lr, holding at each threshold the best setting in the range by train-sample accuracy (and no clipping at its best learning rate in the range).", wl.Name, report.MaxLRs)
	}
	if len(td.Single) > 0 {
		var one []string
		for _, s := range td.Single {
			n := rep.Series[s.Series].Name
			if s.Extra != "" {
				n += " " + s.Extra
			}
			unit := thresholdUnit(rep.Series[s.Series].Method)
			one = append(one, fmt.Sprintf("%s (%s = %s)", n, unit, fmtNum(s.Threshold)))
		}
		f.Caption += " Tried at one threshold only, so not drawn (see table-settings): " + strings.Join(one, ", ") + "."
	}
	return f
}

// lrStyle is the style of the k-th learning rate of a figure whose lines
// are learning rates: the methods' styles from the second on (black is
// the no-clipping baseline's).
// Its lines are solid (colour and marker tell learning rates apart), so
// that they never look like the dotted baseline.
func lrStyle(k int) style {
	st := styleFor(k%15+1, k/15)
	st.Dashes = nil
	return st
}

// baseLine is the no-clipping baseline drawn in st's colour: thin, dotted.
func baseLine(st style) draw.LineStyle {
	return draw.LineStyle{Color: st.Color, Width: vg.Points(0.9), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
}

// profileFigure: the performance profile of steps to the target over
// workloads, each method at its best setting by validation. Methods whose
// profiles are identical (the same ratio on every workload) tie: the
// legend and caption say so, and their lines are drawn a little apart
// (±profileOffset in ρ per method of the group) with a marker at every
// step, so that none hides another.
func (rep *paper) profileFigure() *figure {
	pr := rep.ProfileData()
	f := &figure{Name: "fig-profile", Title: "Performance profile (steps to target)"}
	p := newPlot(fmt.Sprintf("Performance profile: steps to test accuracy %.3g", rep.Target), "τ (ratio to the fastest method on the workload)", "ρ(τ): fraction of workloads")
	info := panelInfo{Title: p.Title.Text, Series: map[string]int{}}
	l := newLegend()
	// The ratios each method's ρ rises at, sorted: equal keys tie.
	keys := make([]string, len(pr.Series))
	rises := make([][]float64, len(pr.Series))
	group := map[string][]int{}
	for j := range pr.Series {
		for i := range pr.Workloads {
			if r := pr.Ratios[i][j]; r <= report.ProfileRMax {
				rises[j] = append(rises[j], r)
			}
		}
		sort.Float64s(rises[j])
		keys[j] = fmt.Sprint(rises[j])
		group[keys[j]] = append(group[keys[j]], j)
	}
	var ties []string
	for j, si := range pr.Series {
		st := rep.style(si)
		g := group[keys[j]]
		pos := slices.Index(g, j)
		off := profileOffset * (float64(pos) - float64(len(g)-1)/2)
		xoff := off * (report.ProfileRMax - 1) // the same distance on the page
		// ρ is a step function: rises at each workload's ratio.
		var pts xy
		y := 0.0
		pts.x, pts.y = append(pts.x, 1), append(pts.y, off)
		for _, r := range rises[j] {
			x := math.Max(1, r+xoff)
			pts.x, pts.y = append(pts.x, x), append(pts.y, y+off)
			y += 1 / float64(len(pr.Workloads))
			pts.x, pts.y = append(pts.x, x), append(pts.y, y+off)
		}
		pts.x, pts.y = append(pts.x, report.ProfileRMax), append(pts.y, y+off)
		name := fmt.Sprintf("%s (score %.2f)", rep.Series[si].Name, pr.Area[j])
		every := 2
		if len(g) > 1 {
			every = 1
			var others []string
			for _, k := range g {
				if k != j {
					others = append(others, rep.Series[pr.Series[k]].Name)
				}
			}
			name += ", ties " + strings.Join(others, ", ")
			if pos == 0 {
				var all []string
				for _, k := range g {
					all = append(all, rep.Series[pr.Series[k]].Name)
				}
				ties = append(ties, strings.Join(all, ", "))
			}
		}
		ln, sc := addLine(p, info.Series, name, st, pts, every)
		l.Add(name, ln, sc)
	}
	info.Ties = ties
	for _, b := range pr.Best {
		for _, s := range b {
			if s != nil {
				f.Runs += s.Ended
			}
		}
	}
	p.X.Min, p.X.Max = 1, report.ProfileRMax
	p.Y.Min, p.Y.Max = -0.04, 1.04
	f.Panels = [][]*plot.Plot{{p}}
	f.Info = []panelInfo{info}
	f.Legend = l
	f.Width, f.Height = vg.Points(760), vg.Points(340)
	f.Caption = fmt.Sprintf("Performance profile over %d workloads (architecture × dataset): for each method its best setting per workload by final train-sample accuracy (no separate validation split exists), and ρ(τ) the fraction of workloads on which its median steps to test accuracy %.3g are within τ times the fastest method's; score: area under ρ on [1, %g] / %g (AlgoPerf).", len(pr.Workloads), rep.Target, report.ProfileRMax, report.ProfileRMax-1)
	if len(ties) > 0 {
		f.Caption += fmt.Sprintf(" Methods with identical profiles tie (%s): their lines are drawn %.3g apart in ρ (and as far in τ), with a marker at every step, so that each stays visible.", strings.Join(ties, "; "), profileOffset)
	}
	return f
}

// profileOffset is how far apart in ρ the lines of tied methods are drawn.
const profileOffset = 0.012

// stabilityFigure: per method, learning rate × threshold shaded by the
// fraction of seeds that trained; the title gives the largest stable lr.
func (rep *paper) stabilityFigure(w int) *figure {
	wl := rep.Workloads[w]
	ss := rep.SettingsOf(w)
	lrs := report.Bins(report.LRsOf(ss))
	rows, cells := rep.BinnedRowsOf(ss, lrs)
	f := &figure{Name: "fig-stability-" + fileSafe(wl.Name), Title: "Stability range: " + wl.Name}
	colNames := binNames(lrs)
	var panels []*plot.Plot
	maxRows := 1
	for si, se := range rep.Series {
		var mine []report.RowKey
		for _, k := range rows {
			if k.Series == si {
				mine = append(mine, k)
			}
		}
		if len(mine) == 0 {
			continue
		}
		maxRows = max(maxRows, len(mine))
		nr := len(mine)
		z := make([][]float64, nr)
		hatched := make([][]float64, nr)
		labels := make([][]string, nr)
		names := make([]string, nr)
		largest, _ := rep.LargestStable(w, si)
		for i, k := range mine {
			r := nr - 1 - i
			names[r] = k.Th
			if k.Extra != "" {
				names[r] += " " + k.Extra
			}
			z[r] = make([]float64, len(lrs))
			hatched[r] = make([]float64, len(lrs))
			labels[r] = make([]string, len(lrs))
			for j, s := range cells[k] {
				z[r][j] = math.NaN()
				if s == nil {
					continue
				}
				f.Runs += s.N
				if s.Ended == 0 {
					labels[r][j] = "pending"
					continue
				}
				z[r][j] = 1 - float64(s.Trained)/float64(s.Ended)
				hatched[r][j] = float64(s.AtChance) / float64(s.Ended)
				labels[r][j] = fmt.Sprintf("%d/%d", s.Trained, s.Ended)
			}
		}
		title := se.Name + ": no stable lr"
		if !math.IsNaN(largest) {
			title = se.Name + ": stable up to lr " + fmtNum(largest)
		}
		ylabel := "threshold " + thresholdUnit(se.Method)
		if se.Method == "none" {
			ylabel = "no threshold"
			names = []string{""}
		}
		p, info := heatPanel(title, "learning rate", ylabel, z, hatched, labels, names, colNames)
		panels = append(panels, p)
		f.Info = append(f.Info, info)
	}
	cols := 3
	f.Panels = panelGrid(panels, cols)
	nc := min(cols, len(panels))
	f.ColorBar = fractionBar([]string{"fraction of seeds", "that did not train"}, "collapsed to chance")
	f.Width = vg.Points(float64(170 + nc*(130+60*len(lrs))))
	f.Height = vg.Points(float64(max(len(f.Panels)*(100+28*maxRows), 260)))
	f.Caption = "For each method, seeds that trained (finished above chance + 10% of the way to perfect accuracy) out of seeds that ended, per threshold (rows, in the method's units) and learning rate (columns); darker is worse, hatched where seeds collapsed to chance without a NaN (denser for more). A setting is stable when at least two thirds of its seeds train; each panel's title gives the largest stable learning rate." + binNote(lrs)
	return f
}

// binNames names heat-map columns: a learning rate, or a range of them.
func binNames(bins []report.Bin) []string {
	out := make([]string, len(bins))
	for j, b := range bins {
		out[j] = b.Name()
	}
	return out
}

// binNote says, when bins are ranges, that a column pools the settings of
// its range of learning rates; "" when each column is one learning rate.
func binNote(bins []report.Bin) string {
	n, single := 0, true
	for _, b := range bins {
		n += len(b.Values)
		single = single && b.Single()
	}
	if single {
		return ""
	}
	return fmt.Sprintf(" The %d learning rates are too many for a column each: a column is a range of equal width in log lr (%d ranges, empty ones left out) and a cell pools the seeds of the row's settings in that range; table-settings lists every setting.", n, report.MaxLRs)
}

// fileSafe maps a name to characters safe in a file name.
func fileSafe(s string) string { return mapName(s, ".-_", '_') }

// mapName keeps s's ASCII letters, digits and the characters of keep, and
// writes repl for any other.
func mapName(s, keep string, repl byte) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(keep, r):
			b.WriteRune(r)
		default:
			b.WriteByte(repl)
		}
	}
	return b.String()
}

// chanceStyle draws the chance level of the accuracy-against-cost figures
// (a faint line under the data) and its legend entry.
var chanceStyle = draw.LineStyle{Color: lightGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}

// addChance draws the chance level at y = chance across p's x range.
func addChance(p *plot.Plot, chance float64, style draw.LineStyle) {
	ln, _ := plotter.NewLine(xy{[]float64{p.X.Min, p.X.Max}, []float64{chance, chance}})
	ln.LineStyle = style
	p.Add(ln)
}
