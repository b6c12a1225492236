package main

import (
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// TestTickFormat: one format per axis: plain decimals, or every label in
// scientific form without "+" or leading zeros once a value needs it.
func TestTickFormat(t *testing.T) {
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tt := range []struct {
		name string
		ts   []plot.Tick
		want []string
	}{
		{"linear to 1.2e6", ticks{}.Ticks(0, 1.2e6), []string{"0", "5e5", "1e6"}},
		{"linear to 1", ticks{}.Ticks(0, 1), []string{"0", "0.5", "1"}},
		{"log 1e3 to 1e6", logTicks{}.Ticks(1e3, 1e6), []string{"1e3", "1e4", "1e5", "1e6"}},
		{"log 1 to 1000", logTicks{}.Ticks(1, 1000), []string{"1", "10", "100", "1000"}},
		{"log 1e-3 to 1", logTicks{}.Ticks(1e-3, 1), []string{"0.001", "0.01", "0.1", "1"}},
		{"log 1e-5 to 0.1", logTicks{}.Ticks(1e-5, 0.1), []string{"1e-5", "1e-4", "1e-3", "1e-2", "1e-1"}},
		// gonum's LogTicks start at 10^int(log10(0.1)) = 1 and miss 0.1.
		{"log 0.1 to 10", logTicks{}.Ticks(0.1, 10), []string{"0.1", "1", "10"}},
	} {
		got := labels(tt.ts)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: labels %q, want %q", tt.name, got, tt.want)
		}
		for _, l := range got {
			if strings.Contains(l, "+") || strings.Contains(l, "e0") || strings.Contains(l, "e-0") {
				t.Errorf("%s: label %q", tt.name, l)
			}
		}
	}
}

// recorder records the text and the fills a canvas receives.
type recorder struct {
	vg.CanvasWriterTo
	text  []string
	fills int
}

func (r *recorder) FillString(_ font.Face, _ vg.Point, s string) { r.text = append(r.text, s) }
func (r *recorder) Fill(vg.Path)                                 { r.fills++ }

// TestOutlinedText: in the PDF, ASCII stays text and every other
// character (which gonum's PDF backend would write as garbage) becomes one
// filled outline.
func TestOutlinedText(t *testing.T) {
	rec := &recorder{CanvasWriterTo: vgsvg.New(100, 100)}
	c := outlinedText{rec}
	fnt := newPlot("", "", "").Title.TextStyle.Font
	c.FillString(font.DefaultCache.Lookup(fnt, fnt.Size), vg.Point{}, "ρ(τ) of λ − 1")
	if got := strings.Join(rec.text, "|"); got != "(|) of | | 1" {
		t.Errorf("text runs %q, want %q", got, "(|) of | | 1")
	}
	if rec.fills != 4 {
		t.Errorf("%d outlines, want 4 (ρ, τ, λ, −)", rec.fills)
	}
}

// TestEveryAxisLabelled: every panel of every figure names both axes, and
// the heat maps carry a colour bar.
func TestEveryAxisLabelled(t *testing.T) {
	rep := loadFigureDB(t, []string{"cnn", "mlp2"})
	for _, f := range rep.figures() {
		for _, row := range f.Panels {
			for _, p := range row {
				if p == nil {
					continue
				}
				y := p.Y.Label.Text
				if yl, ok := f.yLabels[p]; ok {
					y = yl
				}
				if strings.TrimSpace(p.X.Label.Text) == "" || strings.TrimSpace(y) == "" {
					t.Errorf("%s: panel %q: x label %q, y label %q", f.Name, p.Title.Text, p.X.Label.Text, y)
				}
			}
		}
		heat := strings.HasPrefix(f.Name, "fig-divergence-") || strings.HasPrefix(f.Name, "fig-stability-")
		if heat != (f.ColorBar != nil) {
			t.Errorf("%s: colour bar %v", f.Name, f.ColorBar != nil)
		}
	}
}
