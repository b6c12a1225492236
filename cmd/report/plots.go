// Drawing helpers: line styles readable in greyscale, figures made of
// aligned panels with the legend beside them, and deterministic output in
// PNG, SVG and PDF.

package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
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
// rank (its index in clipalgo.Methods): the method fixes the colour, and
// variants of one method (other options) get other dashes and markers.
func styleFor(rank, variant int) style {
	return style{
		Color:  palette8[rank%len(palette8)],
		Dashes: dashes8[(rank+3*variant)%len(dashes8)],
		Glyph:  glyphs8[(rank+5*variant)%len(glyphs8)],
	}
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
	Info    []panelInfo // what was drawn, for tests
}

// panelInfo records what a panel shows, so that tests can check content
// without decoding images.
type panelInfo struct {
	Title  string
	Series map[string]int // legend name → number of points drawn
	Cells  int            // heat-map cells
	Labels []string       // heat-map cell labels, row-major from the top
}

// newPlot returns a panel with the report's fonts and sizes.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
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
		c = vgpdf.New(f.Width, f.Height)
	default:
		return nil, fmt.Errorf("unknown figure format %q", format)
	}
	dc := draw.New(c)
	// A white background: PNGs are otherwise transparent, which reads
	// badly on dark pages.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	area := dc
	if f.Legend != nil {
		r := f.Legend.Rectangle(dc)
		w := r.Max.X - r.Min.X + vg.Points(12)
		area = draw.Crop(dc, 0, -w, 0, 0)
		strip := draw.Crop(dc, dc.Max.X-w+vg.Points(6), -vg.Points(4), 0, -vg.Points(24))
		f.Legend.Draw(strip)
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
		for i := range grid {
			for j, p := range grid[i] {
				if p != nil {
					p.Draw(tiles[i][j])
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

// xyErr adds symmetric y errors to xy.
type xyErr struct {
	xy
	e []float64
}

func (p xyErr) YError(i int) (float64, float64) { return p.e[i], p.e[i] }

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

// logAxis puts a on a log scale with powers-of-ten ticks.
func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = plot.LogTicks{Prec: -1}
}

// padRange widens an axis whose data range is a single value, so that gonum
// does not draw a degenerate axis.
func padRange(a *plot.Axis, log bool) {
	if a.Min < a.Max {
		return
	}
	if log {
		a.Min, a.Max = a.Min/2, a.Max*2
		return
	}
	d := math.Max(math.Abs(a.Min)*0.05, 0.05)
	a.Min, a.Max = a.Min-d, a.Max+d
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
