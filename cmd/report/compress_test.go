package main

import (
	"context"
	"os"
	"slices"
	"testing"

	"cliplab/internal/compress"
	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// TestDeployedFigures (issue 16): with pruned and quantised settings beside
// dense ones the report adds accuracy against non-zero parameters, bytes
// and effective FLOPs, one point per setting labelled by its pruning and
// quantisation where on the frontier or uncompressed; a report without them (TestFigureContent) has none.
func TestDeployedFigures(t *testing.T) {
	var runs []reporttest.Run
	add := func(arch string, sparsity float64, bits int, bytes int64, acc float64) {
		for seed := range 2 {
			r := reporttest.Run{Arch: arch, Method: "norm", Threshold: 1, LR: 0.1, Seed: uint64(seed + 1), Status: record.Done,
				NonzeroParams: bytes / 4, ModelBytes: bytes, EffectiveFLOPs: float64(bytes / 2)}
			r.Edit = func(c *config.Config) {
				if sparsity > 0 {
					c.Prune = &compress.Prune{Method: "magnitude", Scope: "global", Sparsity: sparsity, Schedule: "oneshot", Start: 0.5}
				}
				if bits > 0 {
					c.Quantize = &compress.Quantize{Bits: bits, Scheme: "symmetric", Granularity: "tensor"}
				}
			}
			for i := 1; i <= 4; i++ {
				r.Steps = append(r.Steps, record.Step{Step: i, Loss: 1, GradNorm: 1, Threshold: 1, LR: 0.1})
			}
			a := acc + 0.01*float64(seed)
			r.Evals = []record.Eval{{Step: 4, Split: "test", Acc: a}, {Step: 4, Split: "train", Acc: a}}
			runs = append(runs, r)
		}
	}
	for _, arch := range []string{"mlp2", "cnn"} {
		add(arch, 0, 0, 40000, 0.95)
		add(arch, 0.9, 0, 9000, 0.94)
		add(arch, 0.9, 8, 3000, 0.93)
		add(arch, 0, 8, 10000, 0.95)
	}
	path := reporttest.TempDB(t, "c", runs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "c", 0.9, report.Last)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*figure{}
	var names []string
	for _, f := range rep.figures() {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	for _, dc := range deployedCosts {
		f := byName[dc.name]
		if f == nil {
			t.Fatalf("no %s among %q", dc.name, names)
		}
		if len(f.Info) != 2 || f.Runs != 16 {
			t.Fatalf("%s: %d panels, %d runs", dc.name, len(f.Info), f.Runs)
		}
		for _, in := range f.Info {
			// Labelled: the frontier (the 3,000-byte setting: the others'
			// seeds overlap in accuracy with a cheaper one's) and the
			// uncompressed setting.
			if in.Series["norm"] != 4 || in.Series["frontier"] != 1 || len(in.Labels) != 2 {
				t.Errorf("%s %s: series %v labels %q", dc.name, in.Title, in.Series, in.Labels)
			}
			for _, want := range []string{"dense", "s0.9 int8"} {
				if !slices.Contains(in.Labels, want) {
					t.Errorf("%s %s: labels %q lack %q", dc.name, in.Title, in.Labels, want)
				}
			}
		}
		png, err := f.render("png")
		if err != nil || len(png) < 1000 {
			t.Fatalf("%s: render: %v (%d bytes)", dc.name, err, len(png))
		}
		if dir := os.Getenv("CLIPLAB_FIG_DIR"); dir != "" {
			os.WriteFile(dir+"/"+dc.name+".png", png, 0o644)
		}
	}
	// The table: one row per setting with its median costs.
	var tab *table
	for _, tb := range rep.tables() {
		if tb.Name == "table-compress" {
			tab = tb
		}
	}
	if tab == nil || len(tab.Rows) != 8 || tab.Runs != 16 {
		t.Fatalf("table-compress %+v", tab)
	}
	want := map[string][3]string{"dense": {"10000", "40000", "20000"}, "s0.9 int8": {"750", "3000", "1500"}}
	for _, row := range tab.Rows {
		if w, ok := want[row[4]]; ok && (row[7] != w[0] || row[8] != w[1] || row[9] != w[2]) {
			t.Errorf("row %q: costs %q, want %q", row[4], row[7:], w)
		}
	}
}
