package main

import (
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// pointLabels labels points of a panel without letting two labels
// overlap: at draw time, when the data area's size is known, each label
// in turn takes the first place beside its point (see labelSpots) that
// stays in the data area and covers neither a label placed before it nor
// a point; a label with no such place is left out, counted in Omitted
// (the figure's caption says so and names Table, which lists every
// setting).
type pointLabels struct {
	XYs    []plotter.XY
	Labels []string
	Styles []text.Style
	Table  string
	// Omitted is how many labels the last drawing left out; each drawing
	// of a figure (one per format, one size) leaves out the same.
	Omitted int
}

// seriesLabels adds to p and f labels for points xys, each in the colour
// of its series (which point a moved label belongs to); table lists every
// setting.
func (rep *paper) seriesLabels(f *figure, p *plot.Plot, xys []plotter.XY, labels []string, series []int, table string) {
	l := &pointLabels{XYs: xys, Labels: labels, Table: table}
	for _, si := range series {
		l.Styles = append(l.Styles, text.Style{Color: rep.style(si).Color, Font: font.From(plot.DefaultFont, vg.Points(6.5)), Handler: plot.DefaultTextHandler})
	}
	p.Add(l)
	f.labels = append(f.labels, l)
}

// caption is f's caption once drawn: with a note of the labels left out.
func (f *figure) caption() string {
	omitted, all := 0, 0
	var tables []string
	for _, l := range f.labels {
		if l.Omitted > 0 {
			omitted += l.Omitted
			if !slices.Contains(tables, l.Table) {
				tables = append(tables, l.Table)
			}
		}
		all += len(l.Labels)
	}
	if omitted == 0 {
		return f.Caption
	}
	return f.Caption + fmt.Sprintf(" Labels of crowded points are left out (%d of %d: a label is drawn only where it covers no other label and no point); every setting is in %s.", omitted, all, strings.Join(tables, ", "))
}

// pointRadius is the half-size of the box a point's marker keeps free of
// labels; labelGap is the space between a point and its label.
var pointRadius, labelGap = vg.Points(3.5), vg.Points(4)

// labelSpots are the places a label tries, in order: offsets from the
// place right of its point and centred on it in y, in its own height (y)
// and in its width and two gaps (x, so that -1 is left of the point and
// -0.5 centred on it): right, left, above, below, then further up and
// down on the right and on the left.
var labelSpots = func() []vg.Point {
	s := []vg.Point{{X: 0, Y: 0}, {X: -1, Y: 0}, {X: -0.5, Y: 1}, {X: -0.5, Y: -1}}
	for k := 1; k <= 4; k++ {
		for _, dy := range []float64{float64(k), -float64(k)} {
			s = append(s, vg.Point{X: 0, Y: vg.Length(dy)}, vg.Point{X: -1, Y: vg.Length(dy)})
		}
	}
	return s
}()

// Plot implements plot.Plotter.
func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	l.Omitted = 0
	for i, b := range l.boxes(c, p) {
		if b == (vg.Rectangle{}) {
			l.Omitted++
			continue
		}
		st := l.Styles[i]
		st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
		c.FillText(st, b.Min.Sub(st.Rectangle(l.Labels[i]).Min), l.Labels[i])
	}
}

// boxes are the places of the labels on c, the zero rectangle for a
// label left out.
func (l *pointLabels) boxes(c draw.Canvas, p *plot.Plot) []vg.Rectangle {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, len(l.XYs))
	sizes := make([]vg.Point, len(l.XYs))
	for i, xy := range l.XYs {
		pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		st := l.Styles[i]
		st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
		sizes[i] = st.Rectangle(l.Labels[i]).Size()
	}
	return placeLabels(pts, sizes, c.Rectangle)
}

// placeLabels places boxes of sizes beside points pts within area, each
// at the first of labelSpots where it overlaps no box placed before it
// and no point; the zero rectangle where none is free.
func placeLabels(pts, sizes []vg.Point, area vg.Rectangle) []vg.Rectangle {
	taken := make([]vg.Rectangle, 0, 2*len(pts))
	for _, pt := range pts {
		r := vg.Point{X: pointRadius, Y: pointRadius}
		taken = append(taken, vg.Rectangle{Min: pt.Sub(r), Max: pt.Add(r)})
	}
	out := make([]vg.Rectangle, len(pts))
	for i, pt := range pts {
		w, h := sizes[i].X, sizes[i].Y
		// The right place: the box's left edge labelGap right of the
		// point, centred on it in y.
		base := vg.Point{X: pt.X + labelGap, Y: pt.Y - h/2}
		for _, s := range labelSpots {
			min := vg.Point{X: base.X + s.X*(w+2*labelGap), Y: base.Y + s.Y*h}
			b := vg.Rectangle{Min: min, Max: min.Add(vg.Point{X: w, Y: h})}
			if !inside(b, area) || overlapsAny(b, taken) {
				continue
			}
			out[i] = b
			taken = append(taken, b)
			break
		}
	}
	return out
}

// inside reports whether a lies within b.
func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Min.Y >= b.Min.Y && a.Max.X <= b.Max.X && a.Max.Y <= b.Max.Y
}

// overlaps reports whether a and b share more than an edge.
func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func overlapsAny(a vg.Rectangle, bs []vg.Rectangle) bool {
	for _, b := range bs {
		if overlaps(a, b) {
			return true
		}
	}
	return false
}
