package main

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// dpRun is a hand run (handRun) of DP-SGD method at target ε target and
// learning rate lr that reports spending eps.
func dpRun(method string, target, lr float64, seed uint64, acc, train, eps float64, status record.Status) reporttest.Run {
	r := handRun(method, 1, seed, acc, acc, train, status)
	r.LR, r.Epsilon = lr, eps
	r.Edit = func(c *config.Config) {
		c.DP = &config.DPSpec{TargetEpsilon: target, Delta: 1e-5, Sampling: config.Shuffle}
	}
	return r
}

// privacyDB: mlp2, method none (no DP) and dp_flat and dp_automatic at
// target ε 1 and 8 and lr 0.1 and 0.5, two seeds each, accuracies chosen by
// hand; dp_automatic's seed 2 at ε 1, lr 0.5 diverges after spending 0.5.
func privacyDB(t *testing.T) *paper {
	runs := []reporttest.Run{
		handRun("none", 0, 1, 0.5, 0.90, 0.91, record.Done),
		handRun("none", 0, 2, 0.5, 0.92, 0.93, record.Done),
		dpRun("dp_flat", 1, 0.1, 1, 0.60, 0.61, 0.998, record.Done),
		dpRun("dp_flat", 1, 0.1, 2, 0.64, 0.65, 0.998, record.Done),
		dpRun("dp_flat", 1, 0.5, 1, 0.70, 0.71, 0.998, record.Done),
		dpRun("dp_flat", 1, 0.5, 2, 0.72, 0.73, 0.998, record.Done),
		dpRun("dp_flat", 8, 0.1, 1, 0.80, 0.81, 7.99, record.Done),
		dpRun("dp_flat", 8, 0.1, 2, 0.84, 0.85, 7.99, record.Done),
		dpRun("dp_flat", 8, 0.5, 1, 0.75, 0.76, 7.99, record.Done),
		dpRun("dp_flat", 8, 0.5, 2, 0.79, 0.80, 7.99, record.Done),
		dpRun("dp_automatic", 1, 0.1, 1, 0.66, 0.67, 0.998, record.Done),
		dpRun("dp_automatic", 1, 0.1, 2, 0.70, 0.71, 0.998, record.Done),
		dpRun("dp_automatic", 1, 0.5, 1, 0.50, 0.80, 0.998, record.Done),
		dpRun("dp_automatic", 1, 0.5, 2, 0, 0, 0.5, record.Diverged),
		dpRun("dp_automatic", 8, 0.1, 1, 0.85, 0.86, 7.99, record.Done),
		dpRun("dp_automatic", 8, 0.1, 2, 0.87, 0.88, 7.99, record.Done),
		dpRun("dp_automatic", 8, 0.5, 1, 0.83, 0.84, 7.99, record.Done),
		dpRun("dp_automatic", 8, 0.5, 2, 0.81, 0.82, 7.99, record.Done),
	}
	path := reporttest.TempDB(t, "dp", runs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "dp", 0.9, report.Last)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestPrivacyFigure: the privacy–utility figure draws, per strategy, its
// best setting at each ε by train-sample accuracy (not always the best
// test accuracy: dp_flat at ε 8 draws lr 0.1), with the seeds' ranges, ε
// and δ in the caption; the report without DP runs has none
// (TestFigureContent's list).
func TestPrivacyFigure(t *testing.T) {
	rep := privacyDB(t)
	var f *figure
	var names []string
	for _, g := range rep.figures() {
		names = append(names, g.Name)
		if g.Name == "fig-privacy-utility" {
			f = g
		}
	}
	if f == nil {
		t.Fatalf("no privacy figure among %q", names)
	}
	if len(f.Info) != 2 || f.Info[0].Title != "mlp2: final test accuracy" || f.Info[1].Title != "mlp2: examples clipped per step" {
		t.Fatalf("panels %+v", f.Info)
	}
	for _, in := range f.Info {
		if in.Series["dp_flat"] != 2 || in.Series["dp_automatic"] != 2 || len(in.Series) != 2 {
			t.Errorf("%s: series %v, want 2 points each of dp_flat and dp_automatic", in.Title, in.Series)
		}
	}
	if f.Runs != 16 {
		t.Errorf("figure from %d runs, want the 16 DP runs", f.Runs)
	}
	for _, want := range []string{"ε = 0.998, 7.99", "δ = 1e-05", "assumes Poisson sampling", "table-privacy", "Final accuracy: the last evaluation"} {
		if !strings.Contains(f.Caption, want) {
			t.Errorf("caption lacks %q: %s", want, f.Caption)
		}
	}
	// The points drawn: mean and the seeds' range of the best setting.
	ps := rep.PrivacyData()
	type pt struct {
		method     string
		eps, lr    float64
		acc, lo, h float64
	}
	var got []pt
	for _, ln := range ps[0].Lines {
		for _, p := range ln.Points {
			if p.Best {
				got = append(got, pt{rep.Series[ln.Series].Method, p.Epsilon, p.Setting.LR, p.Acc, p.Lo, p.Hi})
			}
		}
	}
	want := []pt{
		{"dp_flat", 0.998, 0.5, 0.71, 0.70, 0.72}, {"dp_flat", 7.99, 0.1, 0.82, 0.80, 0.84},
		{"dp_automatic", 0.998, 0.1, 0.68, 0.66, 0.70}, {"dp_automatic", 7.99, 0.1, 0.86, 0.85, 0.87},
	}
	slices.SortFunc(got, func(a, b pt) int { return strings.Compare(a.method, b.method) })
	slices.SortFunc(want, func(a, b pt) int { return strings.Compare(a.method, b.method) })
	if len(got) != len(want) {
		t.Fatalf("points %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.method != w.method || g.eps != w.eps || g.lr != w.lr || math.Abs(g.acc-w.acc) > 1e-9 || math.Abs(g.lo-w.lo) > 1e-9 || math.Abs(g.h-w.h) > 1e-9 {
			t.Errorf("point %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestPrivacyTable: every DP setting once, with ε (the largest any of its
// ended runs spent, so the diverged seed's 0.5 does not lower it), σ as
// the run stored it, the seeds' range with a diverged seed at chance, the
// fraction clipped, and bold for the best accuracy at one ε only.
func TestPrivacyTable(t *testing.T) {
	rep := privacyDB(t)
	var pt *table
	for _, tb := range rep.tables() {
		if tb.Name == "table-privacy" {
			pt = tb
		}
	}
	if pt == nil {
		t.Fatal("no table-privacy")
	}
	if len(pt.Rows) != 8 {
		t.Fatalf("%d rows, want 8:\n%q", len(pt.Rows), pt.Rows)
	}
	sigma := func(target float64) string {
		c := dpRun("dp_flat", target, 0.1, 1, 0, 0, 0, record.Done).Config()
		s, err := c.NoiseMultiplier()
		if err != nil {
			t.Fatal(err)
		}
		return num(s, 3)
	}
	// dp_automatic at ε 1, lr 0.5: seeds 0.50 and diverged (chance 0.1).
	var row []string
	var bold []bool
	for i, r := range pt.Rows {
		if r[1] == "dp_automatic" && r[4] == "0.5" && strings.HasPrefix(r[2], "0.998") {
			row, bold = r, pt.Bold[i]
		}
	}
	want := []string{"mlp2", "dp_automatic", "0.998", sigma(1), "0.5", "1", "0.300 ± 0.283", "0.100–0.500", "0.50", "2/2"}
	if !slices.Equal(row, want) {
		t.Errorf("row %q,\nwant %q", row, want)
	}
	if slices.Contains(bold, true) {
		t.Errorf("row %q bold: %v", row, bold)
	}
	// Bold: dp_flat lr 0.5 at ε 1 (0.71) and dp_automatic lr 0.1 at ε 8
	// (0.86), each the best of its ε; nothing else.
	var bolded []string
	for i, r := range pt.Rows {
		if pt.Bold[i][6] {
			bolded = append(bolded, r[1]+" "+r[2]+" lr "+r[4])
		}
	}
	if w := []string{"dp_flat 0.998 * lr 0.5", "dp_automatic 7.99 * lr 0.1"}; !slices.Equal(bolded, w) {
		t.Errorf("bold %q, want %q", bolded, w)
	}
	if !strings.Contains(pt.Caption, "δ = 1e-05") || !strings.Contains(pt.Caption, "noise multiplier σ") {
		t.Errorf("caption %q", pt.Caption)
	}
	for _, r := range pt.CSVRows {
		if r[4] != "0.998" && r[4] != "7.99" || r[5] != "1e-05" || r[7] != "shuffle" {
			t.Errorf("CSV row %q", r)
		}
	}
}

// TestPrivacyTableLaTeX: table-privacy.tex compiles with pdflatex in a
// two-column article, ε, δ and σ written as math (fails with "Unicode
// character" when texEscape leaves ε out).
func TestPrivacyTableLaTeX(t *testing.T) {
	pdflatex, err := exec.LookPath("pdflatex")
	if err != nil {
		t.Skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
	}
	out := t.TempDir()
	if _, _, err := privacyDB(t).write(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	doc := "\\documentclass[twocolumn]{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n\\input{table-privacy}\n\\end{document}\n"
	if err := os.WriteFile(filepath.Join(out, "paper.tex"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
	cmd.Dir = out
	cmd.Env = append(os.Environ(), "TEXMFVAR="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdflatex: %v\n%s", err, tail(b, 3000))
	}
	log, err := os.ReadFile(filepath.Join(out, "paper.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Overfull \\hbox", "Missing character", "Unicode character"} {
		if strings.Contains(string(log), bad) {
			t.Errorf("paper.log: %s", bad)
		}
	}
}
