// Drawing helpers: line styles readable in greyscale, figures made of
// aligned panels with the legend beside them, and deterministic output in
// PNG, SVG and PDF.

package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

func init() {
	// fpdf writes the current time as CreationDate and ModDate unless told
	// otherwise; a fixed date keeps the PDFs byte-identical from one run to
	// the next (the date is meaningless: the report is a function of the
	// database). Catalog sorting fixes the order of its font and image
	// objects, which come from maps.
	fixed := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	fpdf.SetDefaultCreationDate(fixed)
	fpdf.SetDefaultModificationDate(fixed)
	fpdf.SetDefaultCatalogSort(true)
}

// formats are the files written for every figure.
var formats = []string{"png", "svg", "pdf"}

// style is how one series is drawn: colour, dash pattern and marker all
// differ between methods, so that the figures read in greyscale too.
type style struct {
	Color  color.Color
	Dashes []vg.Length
	Glyph  draw.GlyphDrawer
}

// Okabe & Ito's colour-blind-safe palette (Okabe & Ito 2008, "Color
// Universal Design"), black first for the no-clipping baseline, with grey
// in place of its yellow, which vanishes on white.
var palette8 = []color.Color{
	color.RGBA{0x00, 0x00, 0x00, 0xff},
	color.RGBA{0xe6, 0x9f, 0x00, 0xff},
	color.RGBA{0x56, 0xb4, 0xe9, 0xff},
	color.RGBA{0x00, 0x9e, 0x73, 0xff},
	color.RGBA{0x00, 0x72, 0xb2, 0xff},
	color.RGBA{0xd5, 0x5e, 0x00, 0xff},
	color.RGBA{0xcc, 0x79, 0xa7, 0xff},
	color.RGBA{0x88, 0x88, 0x88, 0xff},
}

var dashes8 = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2)},
	{vg.Points(7), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	{vg.Points(12), vg.Points(3)},
	{vg.Points(3), vg.Points(3)},
	{vg.Points(7), vg.Points(2), vg.Points(1.5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	{vg.Points(12), vg.Points(2), vg.Points(3), vg.Points(2)},
}

var glyphs8 = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{}, draw.PlusGlyph{},
}

// styleFor returns the style of the variant-th series of the method at
// rank (its index in clipalgo.Methods()).
func styleFor(rank, variant int) style {
	c, d, g := styleIndex(rank, variant)
	return style{Color: palette8[c], Dashes: dashes8[d], Glyph: glyphs8[g]}
}

// styleIndex picks the colour, dash and marker of a series (indices into
// palette8, dashes8, glyphs8). The first eight methods get colour, dash and
// marker i. Method r ≥ 8 reuses colour r mod 8, with its dash shifted by 3
// and its marker by 5 for each round of eight (both odd, so coprime to 8):
// no two of up to 64 methods share a colour and a dash, or a colour and a
// marker, so that lines and markers alone tell every method apart. The
// variants of one method (other options) keep its colour and shift dash and
// marker by even steps (2, and the marker 2 more every fourth variant),
// which never meet the odd shifts of the method eight ranks on: for up to
// 16 methods with up to 4 variants each, every series has its own
// colour–dash and colour–marker pair (TestPaletteDistinct).
func styleIndex(rank, variant int) (c, d, g int) {
	round := rank / 8
	return rank % 8, (rank + 3*round + 2*variant) % 8, (rank + 5*round + 2*(variant+variant/4)) % 8
}

func (s style) line(width vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: s.Color, Width: width, Dashes: s.Dashes}
}

func (s style) glyph(radius vg.Length) draw.GlyphStyle {
	return draw.GlyphStyle{Color: s.Color, Radius: radius, Shape: s.Glyph}
}

// figure is one image of the report: panels aligned on a grid, the legend
// in a column on their right where it hides no data.
type figure struct {
	Name    string // file stem
	Title   string
	Caption string // one line: what it shows
	Runs    int    // runs behind it
	Width   vg.Length
	Height  vg.Length
	Panels  [][]*plot.Plot // rows × columns; nil leaves a tile empty
	Legend  *plot.Legend
	// ColorBar, if any, is drawn in the legend's column, below it.
	ColorBar *colorBar
	// yLabels are the y labels of log axes, drawn by render (see
	// logYLabel).
	yLabels map[*plot.Plot]string
	// labels are the point labels of its panels, which know once drawn
	// how many they left out (see caption).
	labels []*pointLabels
	Info   []panelInfo // what was drawn, for tests
}

// panelInfo records what a panel shows, so that tests can check content
// without decoding images.
type panelInfo struct {
	Title   string
	Series  map[string]int // legend name → number of points drawn
	Cells   int            // heat-map cells
	Hatched int            // heat-map cells hatched (seeds collapsed to chance)
	Labels  []string       // heat-map cell labels, row-major from the top
	Ties    []string       // profile: the groups of methods that tie, "a, b"
}

// newPlot returns a panel with the report's fonts and sizes.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Title.Padding = vg.Points(6) // keeps the title off the data (heat-map cells)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Marker = ticks{}
		a.Label.TextStyle.Font.Size = vg.Points(10)
		a.Tick.Label.Font.Size = vg.Points(9)
	}
	return p
}

// newLegend returns an empty legend for the legend column.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(9)
	l.ThumbnailWidth = vg.Points(24)
	l.Padding = vg.Points(2)
	return &l
}

// render draws f in format (png, svg or pdf).
func (f *figure) render(format string) ([]byte, error) {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(96))}
	case "svg":
		c = vgsvg.New(f.Width, f.Height)
	case "pdf":
		c = outlinedText{vgpdf.New(f.Width, f.Height)}
	default:
		return nil, fmt.Errorf("unknown figure format %q", format)
	}
	dc := draw.New(c)
	// A white background: PNGs are otherwise transparent, which reads
	// badly on dark pages.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	area := dc
	if f.Legend != nil || f.ColorBar != nil {
		var lw, lh vg.Length
		if f.Legend != nil {
			r := f.Legend.Rectangle(dc)
			lw, lh = r.Max.X-r.Min.X, r.Max.Y-r.Min.Y
		}
		if f.ColorBar != nil {
			lw = max(lw, f.ColorBar.width())
		}
		w := lw + vg.Points(18)
		area = draw.Crop(dc, 0, -w, 0, 0)
		strip := draw.Crop(dc, dc.Max.X-w+vg.Points(6), -vg.Points(4), 0, -vg.Points(24))
		if f.Legend != nil {
			f.Legend.Draw(strip)
		}
		if f.ColorBar != nil {
			top := strip.Max.Y
			if f.Legend != nil {
				top -= lh + vg.Points(12)
			}
			f.ColorBar.draw(strip, top)
		}
	}
	rows := len(f.Panels)
	cols := 0
	for _, row := range f.Panels {
		cols = max(cols, len(row))
	}
	if rows > 0 && cols > 0 {
		grid := make([][]*plot.Plot, rows)
		for i := range grid {
			grid[i] = make([]*plot.Plot, cols)
			copy(grid[i], f.Panels[i])
		}
		t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(10),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		tiles := plot.Align(grid, t, area)
		// Align lines up the data areas, which can leave titles at
		// different heights; so each title is drawn at the top of its row,
		// over the middle of its data area, and the plot's own title only
		// keeps its space (drawn transparent).
		for i := range grid {
			top := t.At(area, 0, i).Max.Y
			for j, p := range grid[i] {
				if p == nil {
					continue
				}
				st := p.Title.TextStyle
				dc := p.DataCanvas(tiles[i][j])
				p.Title.TextStyle.Color = color.Transparent
				p.Draw(tiles[i][j])
				p.Title.TextStyle = st
				if yl, ok := f.yLabels[p]; ok {
					// Where gonum draws a y label: rotated, against the
					// tile's left edge, centred on the data.
					ls := p.Y.Label.TextStyle
					ls.Rotation += math.Pi / 2
					x := tiles[i][j].Min.X + ls.Height(yl) - ls.FontExtents().Descent
					tiles[i][j].FillText(ls, vg.Point{X: x, Y: (dc.Min.Y + dc.Max.Y) / 2}, yl)
				}
				if p.Title.Text != "" {
					st.XAlign, st.YAlign = draw.XCenter, draw.YTop
					dc.FillText(st, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: top}, p.Title.Text)
				}
			}
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render %s.%s: %w", f.Name, format, err)
	}
	return buf.Bytes(), nil
}

// xy is a plotter.XYer over two slices.
type xy struct{ x, y []float64 }

func (p xy) Len() int                    { return len(p.x) }
func (p xy) XY(i int) (float64, float64) { return p.x[i], p.y[i] }

// xyErr adds symmetric y errors to xy; with clamp, the bars stop at 0 and
// 1 (accuracies).
type xyErr struct {
	xy
	e     []float64
	clamp bool
}

func (p xyErr) YError(i int) (float64, float64) {
	lo, hi := p.e[i], p.e[i]
	if p.clamp {
		lo, hi = math.Min(lo, p.y[i]), math.Min(hi, 1-p.y[i])
	}
	return lo, hi
}

// finite keeps the points whose coordinates are finite (and positive on a
// log axis).
func finite(x, y []float64, logX, logY bool) xy {
	var out xy
	for i := range x {
		if !isFinite(x[i]) || !isFinite(y[i]) || logX && x[i] <= 0 || logY && y[i] <= 0 {
			continue
		}
		out.x = append(out.x, x[i])
		out.y = append(out.y, y[i])
	}
	return out
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// margin widens a linear axis by frac of its range on both sides, so that
// points and lines do not sit on the frame.
func margin(a *plot.Axis, frac float64) {
	d := (a.Max - a.Min) * frac
	a.Min, a.Max = a.Min-d, a.Max+d
}

// ticks are gonum's default ticks labelled with enough digits to tell them
// apart (the default can print 0.02 twice on a narrow range).
type ticks struct{}

func (ticks) Ticks(min, max float64) []plot.Tick {
	if !isFinite(min) || !isFinite(max) || min >= max {
		return nil // gonum's labeller never returns on a NaN range
	}
	return labelTicks(plot.DefaultTicks{}.Ticks(min, max))
}

// labelTicks labels the major ticks of ts in one format for the whole
// axis: plain decimals ("0.01", "100000" never next to "1e+06"), or, when
// some value needs six digits or more (≥ 1e5, or below 1e-3 and not
// zero), every label in scientific form without "+" and leading zeros
// ("0", "5e4", "1e5", "1.5e5").
func labelTicks(ts []plot.Tick) []plot.Tick {
	sci := false
	for _, t := range ts {
		if a := math.Abs(t.Value); t.Label != "" && a != 0 && (a >= 1e5 || a < 1e-3) {
			sci = true
		}
	}
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		// Round away float noise (0.30000000000000004).
		v, _ := strconv.ParseFloat(strconv.FormatFloat(ts[i].Value, 'g', 10, 64), 64)
		ts[i].Label = tickText(v, sci)
	}
	return ts
}

// tickText is v's shortest form, in plain decimals or (sci) as "1.5e5",
// "1e-4".
func tickText(v float64, sci bool) string {
	if !sci || v == 0 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'e', -1, 64) // "1.5e+05"
	m, e, _ := strings.Cut(s, "e")
	neg := strings.HasPrefix(e, "-")
	e = strings.TrimLeft(strings.TrimLeft(e, "+-"), "0")
	if e == "" {
		return m
	}
	if neg {
		e = "-" + e
	}
	return m + "e" + e
}

// logTicks put a labelled tick at each power of ten in the range and
// unlabelled ones at its multiples 2–9, labelled as labelTicks does.
// (gonum's LogTicks starts at 10^int(log10(min)), which rounds towards zero
// and so drops the first decade of a range that starts below 1.)
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) || math.IsInf(max, 0) {
		return nil
	}
	var ts []plot.Tick
	lo, hi := math.Floor(math.Log10(min)+1e-9), math.Ceil(math.Log10(max)-1e-9)
	in := func(v float64) bool { return v >= min*(1-1e-9) && v <= max*(1+1e-9) }
	for e := lo; e <= hi; e++ {
		base := math.Pow(10, e)
		if in(base) {
			ts = append(ts, plot.Tick{Value: base, Label: "x"})
		}
		for k := 2; k <= 9; k++ {
			if v := float64(k) * base; in(v) {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return labelTicks(ts)
}

// logYLabel labels p's log y axis with text. gonum reserves the label's
// box around the axis's arithmetic middle, which on a log axis lies near
// the top and so shrinks the panel; p keeps a one-space label (its width,
// as the real one would) and render draws text centred on the data.
func (f *figure) logYLabel(p *plot.Plot, text string) {
	if f.yLabels == nil {
		f.yLabels = map[*plot.Plot]string{}
	}
	p.Y.Label.Text = " "
	f.yLabels[p] = text
}

// logAxis puts a on a log scale with powers-of-ten ticks.
func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = logTicks{}
}

// padRange widens an axis whose data range is a single value (or float
// noise around one), so that gonum does not draw a degenerate axis; a log
// axis is widened to whole decades, which also keeps gonum's log ticks, and
// so their labels, inside the range (a label beyond it shrinks the panel).
func padRange(a *plot.Axis, log bool) {
	if !isFinite(a.Min) || !isFinite(a.Max) || a.Min > a.Max {
		// Nothing drawn on the panel (nothing ended yet).
		a.Min, a.Max = 0, 1
		if log {
			a.Min, a.Max = 1, 10
		}
		return
	}
	if log {
		if a.Min > 0 && a.Max > 0 && isFinite(a.Min) && isFinite(a.Max) {
			a.Min = math.Pow(10, math.Floor(math.Log10(a.Min)+1e-9))
			a.Max = math.Pow(10, math.Ceil(math.Log10(a.Max)-1e-9))
			if a.Min >= a.Max {
				a.Min, a.Max = a.Min/10, a.Max*10
			}
		}
		return
	}
	if a.Max-a.Min > 1e-9*math.Max(math.Abs(a.Min), math.Abs(a.Max)) {
		return
	}
	mid := (a.Min + a.Max) / 2
	d := math.Max(math.Abs(mid)*0.05, 0.05)
	a.Min, a.Max = mid-d, mid+d
}

// addLine adds a line with markers every few points and records it.
func addLine(p *plot.Plot, info map[string]int, name string, st style, pts xy, every int) (*plotter.Line, *plotter.Scatter) {
	if pts.Len() == 0 {
		return nil, nil
	}
	l, _ := plotter.NewLine(pts)
	l.LineStyle = st.line(vg.Points(1.3))
	p.Add(l)
	var m xy
	for i := 0; i < pts.Len(); i += max(every, 1) {
		m.x = append(m.x, pts.x[i])
		m.y = append(m.y, pts.y[i])
	}
	sc, _ := plotter.NewScatter(m)
	sc.GlyphStyle = st.glyph(vg.Points(2.5))
	p.Add(sc)
	info[name] += pts.Len()
	return l, sc
}
