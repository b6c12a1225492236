package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// TestManyLRs: a random search over 70 learning rates (none and norm c=1,
// one seed each: 140 settings) gets ten curve figures, one per range of
// learning rate, heat maps with ten columns that pool the range's seeds,
// and a cost figure whose 140 points go unlabelled; every caption says so.
func TestManyLRs(t *testing.T) {
	var runs []reporttest.Run
	for k := range 70 {
		lr := math.Pow(10, -3+4*float64(k)/69)
		for _, m := range []string{"none", "norm"} {
			runs = append(runs, reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: m, Threshold: 1, LR: lr, Seed: 1})
		}
	}
	rep := searchReport(t, runs)
	figs := rep.figures()
	byName := map[string]*figure{}
	curves := 0
	for _, f := range figs {
		byName[f.Name] = f
		if strings.HasPrefix(f.Name, "fig-curves-") {
			curves++
			if !strings.Contains(f.Caption, "mlp2 has 70 learning rates, too many for a figure each") {
				t.Errorf("%s caption: %s", f.Name, f.Caption)
			}
			for name := range f.Info[0].Series {
				if !strings.Contains(name, " lr=") {
					t.Errorf("%s: legend %q does not give the learning rate", f.Name, name)
				}
			}
		}
	}
	// 2 cost, 10 curves, divergence, profile, stability (one threshold
	// each: no threshold figure).
	if curves != report.MaxLRs || len(figs) != 15 {
		t.Errorf("%d figures, %d curve figures; want 15 and %d", len(figs), curves, report.MaxLRs)
	}
	if byName["fig-curves-mlp2-lr0.001_0.0022"] == nil {
		t.Errorf("no curve figure for the lowest range")
	}
	dv := byName["fig-divergence-mlp2"]
	if dv.Info[0].Cells != 2*report.MaxLRs || !strings.Contains(dv.Caption, "The 70 learning rates are too many for a column each") {
		t.Errorf("divergence map: %d cells; caption %s", dv.Info[0].Cells, dv.Caption)
	}
	// A pooled cell counts the seeds of its seven learning rates.
	if l := dv.Info[0].Labels[0]; !strings.Contains(l, "/7 div") {
		t.Errorf("first cell %q: want 7 ended seeds", l)
	}
	st := byName["fig-stability-mlp2"]
	lr, _ := rep.LargestStable(0, 1)
	if want := "norm: stable up to lr " + fmtNum(lr); st.Info[1].Title != want {
		t.Errorf("stability title %q, want %q", st.Info[1].Title, want)
	}
	cost := byName["fig-acc-vs-flops"]
	if len(cost.Info[0].Labels) != 0 || !strings.Contains(cost.Caption, fmt.Sprintf("Panels with more than %d settings draw their points unlabelled (mlp2 (140 settings))", maxLabelled)) {
		t.Errorf("cost figure: %d labels; caption %s", len(cost.Info[0].Labels), cost.Caption)
	}
	// Curves were read for the runs drawn only: two a range at most.
	read := 0
	for _, r := range rep.Runs {
		if len(r.Curve) > 0 {
			read++
		}
	}
	if read == 0 || read > 2*report.MaxLRs {
		t.Errorf("curves of %d runs read, want 1 to %d", read, 2*report.MaxLRs)
	}
}

// TestManyThresholds: a random search over learning rate and threshold
// (norm, 60 runs, each its own lr in [1e-3, 10] and threshold in [0.01,
// 100], with none at each lr) keeps its heat maps to ten rows per method
// and its threshold figure to ten lines, each a range of learning rates.
func TestManyThresholds(t *testing.T) {
	var runs []reporttest.Run
	for k := range 60 {
		lr := math.Pow(10, -3+4*float64(k)/59)
		th := math.Pow(10, -2+4*float64((k*37)%60)/59)
		runs = append(runs, reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: "norm", Threshold: th, LR: lr, Seed: 1},
			reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: "none", LR: lr, Seed: 1})
	}
	rep := searchReport(t, runs)
	byName := map[string]*figure{}
	for _, f := range rep.figures() {
		byName[f.Name] = f
	}
	// Divergence map: none's row and ten of norm's, ten columns; the
	// cells hold every run once.
	dv := byName["fig-divergence-mlp2"].Info[0]
	if dv.Cells != (1+report.MaxLRs)*report.MaxLRs {
		t.Errorf("divergence map: %d cells, want %d", dv.Cells, (1+report.MaxLRs)*report.MaxLRs)
	}
	ended := 0
	for _, l := range dv.Labels {
		var acc string
		var div, n int
		if _, err := fmt.Sscanf(l, "%s %d/%d div", &acc, &div, &n); err == nil {
			ended += n
		}
	}
	if ended != 120 {
		t.Errorf("divergence cells hold %d ended runs, want 120", ended)
	}
	th := byName["fig-threshold-mlp2"]
	if th == nil {
		t.Fatal("no threshold figure")
	}
	if lines := len(th.Info[0].Series); lines == 0 || lines > 2*report.MaxLRs {
		t.Errorf("threshold panel: %d entries (lines and baselines), want 1 to %d: %v", lines, 2*report.MaxLRs, th.Info[0].Series)
	}
	if !strings.Contains(th.Caption, "a line is a range of equal width in log lr") {
		t.Errorf("threshold caption: %s", th.Caption)
	}
	for name := range th.Info[0].Series {
		if strings.HasPrefix(name, "lr=") && !strings.Contains(name, "–") {
			t.Errorf("line %q is not a range", name)
		}
	}
	st := byName["fig-stability-mlp2"]
	if c := st.Info[1].Cells; c > report.MaxLRs*report.MaxLRs {
		t.Errorf("norm's stability panel: %d cells", c)
	}
}

// searchReport writes runs as experiment "search", 20 steps each (Synth),
// and loads its report at target 0.9.
func searchReport(t *testing.T, runs []reporttest.Run) *paper {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runs.db")
	reporttest.WriteSynth(t, path, "search", runs, 20)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "search", 0.9, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
