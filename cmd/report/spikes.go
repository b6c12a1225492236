package main

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"cliplab/internal/report"
)

// Loss spikes on the curve figures (issue 12): each logged step flagged as
// a loss spike (steps.spike = 1, README "Loss spikes") of a run the figure
// draws is marked at its loss by a filled downward triangle in the series'
// colour, a glyph no series uses.

// spikeGlyph is a filled triangle pointing down, centred on the point.
type spikeGlyph struct{}

// DrawGlyph implements draw.GlyphDrawer (draw.PyramidGlyph upside down).
func (spikeGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetColor(sty.Color)
	r := sty.Radius + (sty.Radius-sty.Radius*0.5)/2
	cos, sin := vg.Length(math.Sqrt(3)/2), vg.Length(0.5)
	p := make(vg.Path, 0, 4)
	p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r*cos, Y: pt.Y + r*sin})
	p.Line(vg.Point{X: pt.X + r*cos, Y: pt.Y + r*sin})
	p.Close()
	c.Fill(p)
}

// spikeMarks returns the loss spikes of the runs of s whose curves the
// figures draw (the done and the diverged seeds among CurveSeeds): x the
// step, y the loss, in seed then step order. Runs without spikes, or whose
// steps predate the spike flag (NULL), give none.
func spikeMarks(s *report.Setting) xy {
	var m xy
	for _, r := range report.CurveSeeds(s) {
		if r.Outcome < report.AtChance && r.Outcome != report.Diverged {
			continue
		}
		for _, c := range r.Curve {
			for _, sp := range c.Spikes {
				if sp.Loss > 0 && !math.IsInf(sp.Loss, 0) { // the loss axis is logarithmic
					m.x = append(m.x, float64(sp.Step))
					m.y = append(m.y, sp.Loss)
				}
			}
		}
	}
	return m
}

// addSpikeMarks marks the spikes of s on p in st's colour and counts them
// in series under "spikes: "+name; it returns how many it drew.
func addSpikeMarks(p *plot.Plot, series map[string]int, name string, st style, s *report.Setting) int {
	m := spikeMarks(s)
	if m.Len() == 0 {
		return 0
	}
	sc, _ := plotter.NewScatter(m)
	sc.GlyphStyle = draw.GlyphStyle{Color: st.Color, Radius: vg.Points(3), Shape: spikeGlyph{}}
	p.Add(sc)
	series["spikes: "+name] = m.Len()
	return m.Len()
}

// spikeLegend adds the spike mark to l, in black, with the spike_z values
// zs of the settings marked, and returns the caption's sentence; "" and no
// entry when zs is empty.
func spikeLegend(l *plot.Legend, zs []float64) string {
	if len(zs) == 0 {
		return ""
	}
	sort.Float64s(zs)
	var names []string
	for i, z := range zs {
		if i == 0 || z != zs[i-1] {
			names = append(names, fmtNum(z))
		}
	}
	z := strings.Join(names, ", ")
	sc, _ := plotter.NewScatter(xy{[]float64{0}, []float64{0}})
	sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(3), Shape: spikeGlyph{}}
	l.Add(fmt.Sprintf("loss spike (z = %s)", z), sc)
	return fmt.Sprintf(" A filled downward triangle marks each loss spike of a drawn seed at its step and loss: a logged loss above the running mean of the logged losses by more than z = %s running standard deviations (EMA with α = 0.97, README \"Loss spikes\").", z)
}
