package main

import (
	"context"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// textBoxes records where a canvas draws each string and the box it
// takes, from the face's width and extents.
type textBoxes struct {
	vg.CanvasWriterTo
	text  []string
	boxes []vg.Rectangle
}

func (r *textBoxes) FillString(f font.Face, pt vg.Point, s string) {
	e := f.Extents()
	r.text = append(r.text, s)
	r.boxes = append(r.boxes, vg.Rectangle{Min: vg.Point{X: pt.X, Y: pt.Y - e.Descent}, Max: vg.Point{X: pt.X + f.Width(s), Y: pt.Y + e.Ascent}})
}

// TestLabelsDoNotOverlap: settings that reach the target at the same
// evaluation with the same accuracy sit at one point of
// fig-acc-vs-flops; drawn, no two of their labels overlap, and every
// label is either drawn or counted as left out, which the caption then
// says.
func TestLabelsDoNotOverlap(t *testing.T) {
	var runs []reporttest.Run
	for _, method := range []string{"none", "norm"} {
		for _, lr := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1} {
			for seed := range 2 {
				r := reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: method, Threshold: 1, LR: lr, Seed: uint64(seed + 1), Status: record.Done, Wall: 1, FLOPs: 1e6}
				if method == "none" {
					r.Threshold = 0
				}
				for i := 1; i <= 4; i++ {
					r.Steps = append(r.Steps, record.Step{Step: i, Loss: 1, GradNorm: 1, Threshold: r.Threshold, LR: lr, ElapsedS: float64(i)})
				}
				r.Evals = []record.Eval{{Step: 4, Split: "test", Acc: 0.95, ElapsedS: 4}, {Step: 4, Split: "train", Acc: 0.95, ElapsedS: 4}}
				runs = append(runs, r)
			}
		}
	}
	d, err := db.Open(reporttest.TempDB(t, "same", runs), db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "same", 0.9, report.Last)
	if err != nil {
		t.Fatal(err)
	}
	var f *figure
	for _, g := range rep.figures() {
		if g.Name == "fig-acc-vs-flops" {
			f = g
		}
	}
	if f == nil || len(f.Panels) != 1 || len(f.Info) != 1 || len(f.Info[0].Labels) != 14 {
		t.Fatalf("fig-acc-vs-flops: %+v", f)
	}
	// Two panel sizes: the figure's tile and a cramped one.
	for _, size := range []vg.Point{{X: 300, Y: 260}, {X: 200, Y: 140}} {
		rec := &textBoxes{CanvasWriterTo: vgimg.PngCanvas{Canvas: vgimg.New(size.X, size.Y)}}
		f.Panels[0][0].Draw(draw.New(rec))
		var drawn []vg.Rectangle
		var names []string
		for i, s := range rec.text {
			if strings.HasPrefix(s, "lr ") {
				drawn = append(drawn, rec.boxes[i])
				names = append(names, s)
			}
		}
		for i := range drawn {
			for j := range i {
				if overlaps(drawn[i], drawn[j]) {
					t.Errorf("%v: labels %q at %v and %q at %v overlap", size, names[i], drawn[i], names[j], drawn[j])
				}
			}
		}
		omitted := 0
		for _, l := range f.labels {
			omitted += l.Omitted
		}
		t.Logf("%v: %d labels drawn, %d left out", size, len(drawn), omitted)
		if len(drawn) == 0 || len(drawn)+omitted != 14 {
			t.Errorf("%v: %d labels drawn, %d left out, want 14 in all and some drawn", size, len(drawn), omitted)
		}
		if note := "Labels of crowded points are left out"; strings.Contains(f.caption(), note) != (omitted > 0) {
			t.Errorf("%v: %d left out, caption %q", size, omitted, f.caption())
		}
	}
}
