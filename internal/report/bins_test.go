package report

import (
	"math"
	"slices"
	"testing"

	"cliplab/internal/report/reporttest"
)

func TestLRBins(t *testing.T) {
	few := []float64{0.01, 0.1, 1}
	if bs := Bins(few); len(bs) != 3 || !bs[1].Single() || bs[1].Name() != "0.1" {
		t.Errorf("few: %+v", bs)
	}
	// 30 learning rates 10^(-3 + 4k/29): ten bins of equal width in log lr
	// (0.4 decades), three each; every lr in exactly one, in order.
	var lrs []float64
	for k := range 30 {
		lrs = append(lrs, math.Pow(10, -3+4*float64(k)/29))
	}
	bs := Bins(lrs)
	if len(bs) != MaxLRs {
		t.Fatalf("%d bins, want %d", len(bs), MaxLRs)
	}
	var all []float64
	for _, b := range bs {
		if len(b.Values) != 3 {
			t.Errorf("bin %s holds %d lrs, want 3", b.Name(), len(b.Values))
		}
		all = append(all, b.Values...)
	}
	if !slices.Equal(all, lrs) {
		t.Errorf("bins do not hold each lr once, in order")
	}
	if n := bs[0].Name(); n != "0.001–0.0019" {
		t.Errorf("first bin %q", n)
	}
	// Empty bins are left out: 11 lrs, ten at 1e-3…1e-2 (the first 2.5 of
	// ten bins over four decades), one at 10.
	lrs = lrs[:0]
	for k := range 10 {
		lrs = append(lrs, 0.001*(1+float64(k)))
	}
	lrs = append(lrs, 10)
	if bs := Bins(lrs); len(bs) != 4 || bs[0].Name() != "0.001–0.002" || bs[len(bs)-1].Name() != "10" {
		t.Errorf("sparse: %d bins %+v", len(bs), bs)
	}
}

// TestPoolAndCurveRuns: a heat-map cell pools the settings of its range of
// learning rates; the curves read are those of the settings drawn, at most
// MaxCurveSeeds seeds each.
func TestPoolAndCurveRuns(t *testing.T) {
	var runs []reporttest.Run
	for k := range 20 { // 20 learning rates, one seed: none and norm
		lr := math.Pow(10, -2+3*float64(k)/19)
		for _, m := range []string{"none", "norm"} {
			runs = append(runs, reporttest.Synth(reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: m, Threshold: 1, LR: lr, Seed: 1}, 30, ""))
		}
	}
	for s := uint64(2); s <= 12; s++ { // norm at the lowest lr: 12 seeds
		runs = append(runs, reporttest.Synth(reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: "norm", Threshold: 1, LR: 0.01, Seed: s}, 30, ""))
	}
	rep := load(t, runs)
	bins := Bins(LRsOf(rep.Settings))
	if len(bins) != MaxLRs {
		t.Fatalf("%d bins", len(bins))
	}
	rows, cells := rep.BinnedRowsOf(rep.Settings, bins)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	diverged, n := 0, 0
	for _, s := range rep.Settings {
		diverged += s.Diverged
		n += s.N
	}
	pd, pn := 0, 0
	for _, k := range rows {
		for j, c := range cells[k] {
			if c == nil {
				t.Fatalf("row %v bin %d empty", k, j)
			}
			pd += c.Diverged
			pn += c.N
			if len(bins[j].Values) > 1 && !math.IsNaN(c.LR) {
				t.Errorf("a pooled cell has lr %v", c.LR)
			}
		}
	}
	if pd != diverged || pn != n || n != 51 || diverged == 0 {
		t.Errorf("pooled cells: %d diverged of %d runs, want %d of %d (51)", pd, pn, diverged, n)
	}
	ids := rep.CurveRuns()
	// One figure per bin, none and norm each at its best lr in the bin:
	// 20 settings, 10 seeds of the 12-seed one.
	want := 0
	for _, cs := range rep.CurveSets(0) {
		for _, s := range cs.Best {
			if s != nil {
				want += min(len(s.Runs), MaxCurveSeeds)
			}
		}
	}
	if len(ids) != want || want > 2*MaxLRs+MaxCurveSeeds-1 {
		t.Errorf("%d curve runs, want %d (at most %d)", len(ids), want, 2*MaxLRs+MaxCurveSeeds-1)
	}
	var twelve *Setting
	for _, s := range rep.Settings {
		if len(s.Runs) == 12 {
			twelve = s
		}
	}
	if got := CurveSeeds(twelve); len(got) != MaxCurveSeeds || got[9].Seed != 10 {
		t.Errorf("CurveSeeds of 12 seeds: %d", len(got))
	}
	// Load read the curves of those runs only.
	drawn := map[int64]bool{}
	for _, id := range ids {
		drawn[id] = true
	}
	for _, r := range rep.Runs {
		if drawn[r.ID] != (len(r.Curve) > 0) {
			t.Errorf("run %d: drawn %v, %d curve points", r.ID, drawn[r.ID], len(r.Curve))
		}
	}
}
