// Heat maps: cells with borders, a second encoding by hatching, text in
// each cell, and the colour bar that reads the shade.

package main

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	cellBorder = draw.LineStyle{Color: color.RGBA{0x9a, 0x9a, 0x9a, 0xff}, Width: vg.Points(0.6)}
	hatchLine  = draw.LineStyle{Color: color.RGBA{0x1f, 0x4e, 0x9a, 0xff}, Width: vg.Points(1.1)}
)

// heatShade is the colour of z in [0, 1] on the report's white-to-dark-red
// scale (its luminance falls steadily, so a greyscale print keeps the
// order); grey for NaN (nothing ended).
func heatShade(z float64) color.Color {
	if math.IsNaN(z) {
		return lightGrey
	}
	t := math.Max(0, math.Min(1, z))
	return color.RGBA{uint8(255 - t*(255-0x67)), uint8(255 - t*255), uint8(255 - t*(255-0x0d)), 0xff}
}

// heatCells is a plot.Plotter: a grid of unit cells centred on integer
// coordinates, each filled by its shade, hatched where hatch > 0 (the
// spacing of the hatching shrinks as hatch grows to 1) and outlined, so
// that white cells keep their edges.
type heatCells struct {
	z, hatch [][]float64 // [row][col], rows from the bottom
	// labels (the cells' text, drawn by a plotter.Labels above) in style
	// st: a hatched cell keeps a patch of its own shade behind its text.
	labels [][]string
	st     draw.TextStyle
}

func (h heatCells) Plot(c draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&c)
	for r := range h.z {
		for col := range h.z[r] {
			x0, x1 := tx(float64(col)-0.5), tx(float64(col)+0.5)
			y0, y1 := ty(float64(r)-0.5), ty(float64(r)+0.5)
			rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}}
			c.SetColor(heatShade(h.z[r][col]))
			c.Fill(rectPath(rect))
			if h.hatch != nil && h.hatch[r][col] > 0 {
				hatch(c, rect, h.hatch[r][col])
				if t := h.labels[r][col]; t != "" {
					w, ht := h.st.Width(t)+vg.Points(4), h.st.Height(t)+vg.Points(2)
					mid := vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}
					c.SetColor(heatShade(h.z[r][col]))
					c.Fill(rectPath(vg.Rectangle{Min: vg.Point{X: mid.X - w/2, Y: mid.Y - ht/2}, Max: vg.Point{X: mid.X + w/2, Y: mid.Y + ht/2}}))
				}
			}
			c.StrokeLines(cellBorder, rectPoints(rect))
		}
	}
}

func (h heatCells) DataRange() (xmin, xmax, ymin, ymax float64) {
	cols := 0
	if len(h.z) > 0 {
		cols = len(h.z[0])
	}
	return -0.5, float64(cols) - 0.5, -0.5, float64(len(h.z)) - 0.5
}

func rectPath(r vg.Rectangle) vg.Path {
	var p vg.Path
	p.Move(r.Min)
	p.Line(vg.Point{X: r.Max.X, Y: r.Min.Y})
	p.Line(r.Max)
	p.Line(vg.Point{X: r.Min.X, Y: r.Max.Y})
	p.Close()
	return p
}

func rectPoints(r vg.Rectangle) []vg.Point {
	return []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min}
}

// hatch draws 45° lines across rect, clipped to it, their spacing 14pt at
// frac → 0 down to 3.5pt at frac 1: the denser, the larger the fraction.
func hatch(c draw.Canvas, rect vg.Rectangle, frac float64) {
	gap := vg.Points(3.5 / math.Max(0.25, math.Min(1, frac)))
	w, h := rect.Max.X-rect.Min.X, rect.Max.Y-rect.Min.Y
	// Lines y − y0 = (x − x0) − k for k from −h to w: each enters and leaves
	// the rectangle on its edges.
	for k := -h + gap/2; k < w; k += gap {
		// Start: x = x0 + max(k, 0), y = y0 + max(−k, 0).
		a := vg.Point{X: rect.Min.X + max(k, 0), Y: rect.Min.Y + max(-k, 0)}
		// End: the line leaves through the top or the right edge.
		d := min(w-max(k, 0), h-max(-k, 0))
		b := vg.Point{X: a.X + d, Y: a.Y + d}
		c.StrokeLine2(hatchLine, a.X, a.Y, b.X, b.Y)
	}
}

// hatchThumb is a legend thumbnail: a small hatched square.
type hatchThumb struct{}

func (hatchThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	side := min(r.Max.X-r.Min.X, r.Max.Y-r.Min.Y)
	sq := vg.Rectangle{Min: r.Min, Max: vg.Point{X: r.Min.X + side, Y: r.Min.Y + side}}
	c.SetColor(color.White)
	c.Fill(rectPath(sq))
	hatch(*c, sq, 1)
	c.StrokeLines(cellBorder, rectPoints(sq))
}

// heatPanel draws a labelled heat map: z in [0, 1] (NaN cells grey),
// hatch the fraction to hatch (nil: none), a text label per cell, row names
// bottom-up, column names left to right.
func heatPanel(title, xlabel, ylabel string, z, hatchFrac [][]float64, labels [][]string, rowNames, colNames []string) (*plot.Plot, panelInfo) {
	p := newPlot(title, xlabel, ylabel)
	info := panelInfo{Title: title}
	st := p.X.Tick.Label
	st.Font.Size = vg.Points(8)
	p.Add(heatCells{z: z, hatch: hatchFrac, labels: labels, st: st})
	var dark, light plotter.XYLabels
	for r := len(z) - 1; r >= 0; r-- {
		for c := range colNames {
			t := labels[r][c]
			info.Labels = append(info.Labels, t)
			info.Cells++
			if hatchFrac != nil && hatchFrac[r][c] > 0 {
				info.Hatched++
			}
			if z[r][c] > 0.55 {
				dark.XYs = append(dark.XYs, plotter.XY{X: float64(c), Y: float64(r)})
				dark.Labels = append(dark.Labels, t)
			} else {
				light.XYs = append(light.XYs, plotter.XY{X: float64(c), Y: float64(r)})
				light.Labels = append(light.Labels, t)
			}
		}
	}
	for k, ls := range []plotter.XYLabels{light, dark} {
		if len(ls.XYs) == 0 {
			continue
		}
		lb, _ := plotter.NewLabels(ls)
		for i := range lb.TextStyle {
			lb.TextStyle[i] = st
			lb.TextStyle[i].XAlign = draw.XCenter
			lb.TextStyle[i].YAlign = draw.YCenter
			if k == 1 {
				lb.TextStyle[i].Color = color.White
			}
		}
		p.Add(lb)
	}
	p.NominalX(colNames...)
	p.NominalY(rowNames...)
	p.X.Min, p.X.Max = -0.5, float64(len(colNames))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(z))-0.5
	// Ticks between the labels and the cells, none on the cells' edges.
	p.X.Tick.Length, p.Y.Tick.Length = 0, 0
	p.X.LineStyle.Width, p.Y.LineStyle.Width = 0, 0
	return p, info
}

// colorBar is the key to a figure's heat maps: the shade from 0 to 1 as a
// vertical bar with ticks, under a title, in the legend column; Hatch adds
// the key to the hatching.
type colorBar struct {
	Title []string // lines above the bar
	Ticks []float64
	Fmt   func(float64) string
	Hatch string // the hatching's meaning ("" for no hatching)
}

// width is the bar's column width.
func (b *colorBar) width() vg.Length {
	st := legendText()
	w := vg.Points(70)
	for _, l := range b.Title {
		w = max(w, st.Width(l)+vg.Points(4))
	}
	// The keys below the bar: a 12pt square, a gap, the text.
	for _, l := range []string{"nothing ended", b.Hatch} {
		w = max(w, st.Width(l)+vg.Points(22))
	}
	return w
}

func legendText() draw.TextStyle {
	l := newLegend()
	return l.TextStyle
}

// draw draws the bar into c's top-left corner (below top).
func (b *colorBar) draw(c draw.Canvas, top vg.Length) {
	st := legendText()
	st.XAlign, st.YAlign = draw.XLeft, draw.YTop
	x := c.Min.X + vg.Points(2)
	y := top
	lh := st.Height("Xg")
	for _, l := range b.Title {
		c.FillText(st, vg.Point{X: x, Y: y}, l)
		y -= lh
	}
	y -= vg.Points(4)
	barW, barH := vg.Points(14), vg.Points(110)
	bar := vg.Rectangle{Min: vg.Point{X: x, Y: y - barH}, Max: vg.Point{X: x + barW, Y: y}}
	const steps = 64
	for i := range steps {
		y0 := bar.Min.Y + barH*vg.Length(i)/steps
		y1 := bar.Min.Y + barH*vg.Length(i+1)/steps
		c.SetColor(heatShade((float64(i) + 0.5) / steps))
		c.Fill(rectPath(vg.Rectangle{Min: vg.Point{X: bar.Min.X, Y: y0}, Max: vg.Point{X: bar.Max.X, Y: y1 + vg.Points(0.2)}}))
	}
	c.StrokeLines(cellBorder, rectPoints(bar))
	tk := st
	tk.YAlign = draw.YCenter
	for _, v := range b.Ticks {
		ty := bar.Min.Y + barH*vg.Length(v)
		c.StrokeLine2(draw.LineStyle{Color: color.Black, Width: vg.Points(0.6)}, bar.Max.X, ty, bar.Max.X+vg.Points(3), ty)
		c.FillText(tk, vg.Point{X: bar.Max.X + vg.Points(5), Y: ty}, b.Fmt(v))
	}
	y = bar.Min.Y - vg.Points(10)
	sq := vg.Rectangle{Min: vg.Point{X: x, Y: y - vg.Points(12)}, Max: vg.Point{X: x + vg.Points(12), Y: y}}
	c.SetColor(lightGrey)
	c.Fill(rectPath(sq))
	c.StrokeLines(cellBorder, rectPoints(sq))
	tk.XAlign = draw.XLeft
	c.FillText(tk, vg.Point{X: sq.Max.X + vg.Points(5), Y: y - vg.Points(6)}, "nothing ended")
	if b.Hatch != "" {
		y -= vg.Points(18)
		sq = vg.Rectangle{Min: vg.Point{X: x, Y: y - vg.Points(12)}, Max: vg.Point{X: x + vg.Points(12), Y: y}}
		c.SetColor(color.White)
		c.Fill(rectPath(sq))
		hatch(c, sq, 1)
		c.StrokeLines(cellBorder, rectPoints(sq))
		c.FillText(tk, vg.Point{X: sq.Max.X + vg.Points(5), Y: y - vg.Points(6)}, b.Hatch)
	}
}

// fractionBar is the colour bar of a fraction of seeds.
func fractionBar(title []string, hatch string) *colorBar {
	return &colorBar{Title: title, Ticks: []float64{0, 0.25, 0.5, 0.75, 1}, Hatch: hatch,
		Fmt: func(v float64) string { return fmt.Sprintf("%g", v) }}
}
