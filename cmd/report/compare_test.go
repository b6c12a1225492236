package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"
)

// otherRuns are handDB's settings with other outcomes, all done: none
// ends at 0.70, 0.72, 0.74 and norm c=1 at 0.90, 0.91, 0.92 (test
// accuracy at step 10; 0.5 at step 5), the train sample 0.01 above.
func otherRuns() []reporttest.Run {
	var runs []reporttest.Run
	for i, acc := range []float64{0.70, 0.72, 0.74} {
		runs = append(runs, handRun("none", 0, uint64(i+1), 0.5, acc, acc+0.01, record.Done))
	}
	for i, acc := range []float64{0.90, 0.91, 0.92} {
		runs = append(runs, handRun("norm", 1, uint64(i+1), 0.5, acc, acc+0.01, record.Done))
	}
	return runs
}

// compareDBs writes a.db holding experiments "hand" (handDB's runs) and
// "other" (otherRuns), and b.db holding "hand" with otherRuns' outcomes.
func compareDBs(t *testing.T) (a, b string) {
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	hand := handDB(t)
	raw, err := os.ReadFile(hand)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	reporttest.WriteDB(t, a, "other", otherRuns())
	reporttest.WriteDB(t, b, "hand", otherRuns())
	return a, b
}

func runReport(t *testing.T, args ...string) (stdout string) {
	t.Helper()
	var so, se bytes.Buffer
	if err := run(context.Background(), args, &so, &se); err != nil {
		t.Fatalf("report %q: %v\n%s", args, err, se.String())
	}
	return so.String()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompareTables: -experiment hand,other reports both experiments in one
// folder, with a group of columns per experiment in each table; the
// numbers are each experiment's own (by hand, target 0.85: handDB's as in
// TestTablesHandComputed; other's none 0.72 ± 0.02, never at 0.85; norm
// 0.91 ± 0.01 at step 10, Δ vs its own none +0.190 paired).
func TestCompareTables(t *testing.T) {
	a, _ := compareDBs(t)
	out := t.TempDir()
	so := runReport(t, "-db", a, "-experiment", "hand,other", "-out", out, "-target", "0.85")
	if !strings.Contains(so, "report: hand vs other: ") || !strings.Contains(so, "hand ("+a+"): 7 runs: 5 done") || !strings.Contains(so, "other ("+a+"): 6 runs: 6 done") {
		t.Errorf("stdout %q", so)
	}
	if _, err := os.Stat(filepath.Join(out, "hand")); err == nil {
		t.Errorf("a comparison wrote a folder per experiment")
	}
	st := readFile(t, filepath.Join(out, "table-settings.md"))
	for _, w := range []string{
		"| arch | method | threshold | lr | hand: test acc (tail mean) | hand: diverged | hand: steps to 0.85 | hand: Δ vs none [95% CI] | other: test acc (tail mean) | other: diverged | other: steps to 0.85 | other: Δ vs none [95% CI] |",
		"| mlp2 | none | – | 0.1 | 0.573 ± 0.410 | 1/3 | ∞ | – | 0.720 ± 0.020 | 0/3 | ∞ | – |",
		// Bold: the best of each experiment's column (norm in both).
		"| mlp2 | norm | 1 | 0.1 | **0.860 ± 0.010** | 0/3 | **10** | +0.287 [+0.040, +0.770]† | **0.910 ± 0.010** | 0/3 | **10** | +0.190 [+0.180, +0.200]† |",
		// Only hand has lr 1, with no ended seed.
		"| mlp2 | norm | 1 | 1 | – | – | – | – | – | – | – | – |",
	} {
		if !strings.Contains(st, w) {
			t.Errorf("table-settings.md lacks %q:\n%s", w, st)
		}
	}
	csv := readFile(t, filepath.Join(out, "table-settings.csv"))
	if !strings.Contains(csv, "arch,dataset,method,extra,threshold,lr,hand:runs,hand:ended") ||
		!strings.Contains(csv, "mlp2,mnist,norm,,1,0.1,3,3,0,0,0.86,") || !strings.Contains(csv, ",3,3,0,0,0.91,") {
		t.Errorf("table-settings.csv:\n%s", csv)
	}
	mt := readFile(t, filepath.Join(out, "table-methods.md"))
	for _, w := range []string{
		// hand's none trains in 2 of 3 seeds: stable.
		"| mlp2 | none | lr 0.1 | 0.573 ± 0.410 | ∞ | 0.1 | lr 0.1 | 0.720 ± 0.020 | ∞ | 0.1 |",
		"| mlp2 | norm | c=1, lr 0.1 | **0.860 ± 0.010** | **10** | 0.1 (c=1) | c=1, lr 0.1 | **0.910 ± 0.010** | **10** | 0.1 (c=1) |",
	} {
		if !strings.Contains(mt, w) {
			t.Errorf("table-methods.md lacks %q:\n%s", w, mt)
		}
	}
	sb := readFile(t, filepath.Join(out, "table-stability.md"))
	if !strings.Contains(sb, "| mlp2 | none | – | 0.1 | 2/3 | 0.1 | 3/3 |") || !strings.Contains(sb, "| mlp2 | norm | 1 | 0.1 | 3/3 | 0.1 | 3/3 |") {
		t.Errorf("table-stability.md:\n%s", sb)
	}
	tex := readFile(t, filepath.Join(out, "table-settings.tex"))
	if !strings.Contains(tex, `\label{tab:hand-vs-other-settings}`) || !strings.Contains(tex, `\begin{table*}`) {
		t.Errorf("table-settings.tex:\n%s", tex)
	}
	md := readFile(t, filepath.Join(out, "index.md"))
	if !strings.Contains(md, "# Report: hand vs other") || !strings.Contains(md, "- other ("+a+"): 6 runs: 6 done (6 trained, 0 at chance)") ||
		!strings.Contains(md, "Experiments compared: hand, other.") {
		t.Errorf("index.md:\n%s", md)
	}
	compileTeX(t, out, []string{"table-settings", "table-methods", "table-stability"})
}

// TestCompareFigures: the figures overlay the experiments, each method's
// series once per experiment, and the threshold figure's baselines stay
// within their experiment.
func TestCompareFigures(t *testing.T) {
	a, _ := compareDBs(t)
	d, err := db.Open(a, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var reps []*report.Report
	for _, e := range []string{"hand", "other"} {
		p, err := load(context.Background(), d, e, 0.85, report.Tail)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, p.Report)
	}
	rep := &paper{Report: report.Merge("hand vs other", reps, []string{"hand", "other"})}
	var names []string
	for _, se := range rep.Series {
		names = append(names, se.Name)
	}
	if want := []string{"hand: none", "other: none", "hand: norm", "other: norm"}; !slices.Equal(names, want) {
		t.Fatalf("series %q, want %q", names, want)
	}
	// One colour per method, a dash and a marker per experiment.
	if a, b := rep.style(2), rep.style(3); a.Color != b.Color || slices.Equal(a.Dashes, b.Dashes) || a.Glyph == b.Glyph {
		t.Errorf("hand: norm and other: norm styles %+v, %+v", a, b)
	}
	byName := map[string]*figure{}
	for _, f := range rep.figures() {
		byName[f.Name] = f
		if !strings.Contains(f.Caption, "Experiments compared: hand, other.") {
			t.Errorf("%s: caption does not name the experiments", f.Name)
		}
	}
	// Curves at lr 0.1: each experiment's none and norm, 3 + 3 ended runs
	// each.
	cf := byName["fig-curves-mlp2-lr0.1"]
	if cf == nil {
		t.Fatalf("no curve figure at lr 0.1: %v", byName)
	}
	for _, n := range []string{"hand: none", "other: none", "hand: norm c=1", "other: norm c=1"} {
		if cf.Info[0].Series[n] == 0 {
			t.Errorf("curve figure lacks %q: %v", n, cf.Info[0].Series)
		}
	}
	if cf.Runs != 12 {
		t.Errorf("curve figure: %d runs, want 12", cf.Runs)
	}
	// Accuracy against cost: norm reached 0.85 in both; none in neither.
	cost := byName["fig-acc-vs-flops"].Info[0]
	if cost.Series["hand: norm"] != 1 || cost.Series["other: norm"] != 1 || cost.Series["not reached"] != 2 {
		t.Errorf("cost figure: %v", cost.Series)
	}
	// Divergence map: rows hand: none, other: none, hand: norm c=1,
	// other: norm c=1; columns lr 0.1 and 1.
	dv := byName["fig-divergence-mlp2"].Info[0]
	want := []string{"0.810  1/3 div", "", "0.720  0/3 div", "", "0.860  0/3 div", "1/1 pending", "0.910  0/3 div", ""}
	if !slices.Equal(dv.Labels, want) {
		t.Errorf("divergence labels %q, want %q", dv.Labels, want)
	}
	// The profile ranks the four series.
	if pf := byName["fig-profile"].Info[0]; len(pf.Series) != 4 {
		t.Errorf("profile series %v", pf.Series)
	}
}

// TestCompareThresholdBaseline: a method with two thresholds in two
// experiments gets a panel per experiment, each with the no-clipping
// baseline of its own experiment.
func TestCompareThresholdBaseline(t *testing.T) {
	mk := func(noneAcc float64) []reporttest.Run {
		var runs []reporttest.Run
		for s := uint64(1); s <= 2; s++ {
			runs = append(runs, handRun("none", 0, s, 0.5, noneAcc, noneAcc, record.Done),
				handRun("norm", 1, s, 0.5, 0.9, 0.9, record.Done), handRun("norm", 2, s, 0.5, 0.8, 0.8, record.Done))
		}
		return runs
	}
	path := filepath.Join(t.TempDir(), "runs.db")
	reporttest.WriteDB(t, path, "x", mk(0.3))
	reporttest.WriteDB(t, path, "y", mk(0.6))
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var reps []*report.Report
	for _, e := range []string{"x", "y"} {
		r, err := report.Load(context.Background(), d, e, 0.85, report.Tail)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	m := report.Merge("x vs y", reps, []string{"x", "y"})
	td := m.ThresholdData(0)
	if len(td.Panels) != 2 {
		t.Fatalf("%d panels, want 2", len(td.Panels))
	}
	for i, want := range []float64{0.3, 0.6} {
		pn := td.Panels[i]
		if got := m.Series[pn.Series].Name; got != []string{"x: norm", "y: norm"}[i] {
			t.Errorf("panel %d: %s", i, got)
		}
		if b := pn.Lines[0].Base; b == nil || b.AccMean != want {
			t.Errorf("panel %d: baseline %v, want none at %v", i, b, want)
		}
	}
}

// TestCompareDatabases: -db a.db -db b.db and -db a.db,b.db compare the
// experiment "hand" of both, labelled by the databases' names, into the
// same files; errors name what to fix and exit 2.
func TestCompareDatabases(t *testing.T) {
	a, b := compareDBs(t)
	var dirs []string
	for _, args := range [][]string{{"-db", a, "-db", b}, {"-db", a + "," + b}} {
		out := t.TempDir()
		so := runReport(t, append(args, "-experiment", "hand", "-out", out, "-target", "0.85")...)
		if !strings.Contains(so, "report: a:hand vs b:hand: ") {
			t.Errorf("%q: stdout %q", args, so)
		}
		dirs = append(dirs, out)
	}
	st := readFile(t, filepath.Join(dirs[0], "table-settings.md"))
	if !strings.Contains(st, "| a:hand: test acc (tail mean) |") || !strings.Contains(st, "| **0.860 ± 0.010** | 0/3 | **10** | +0.287 [") || !strings.Contains(st, "0.910 ± 0.010") {
		t.Errorf("table-settings.md:\n%s", st)
	}
	es, _ := os.ReadDir(dirs[0])
	for _, e := range es {
		if readFile(t, filepath.Join(dirs[0], e.Name())) != readFile(t, filepath.Join(dirs[1], e.Name())) {
			t.Errorf("%s differs between -db a -db b and -db a,b", e.Name())
		}
	}
	// Without -experiment: every experiment of both (a:hand, other, b:hand).
	out := t.TempDir()
	if so := runReport(t, "-db", a, "-db", b, "-out", out); !strings.Contains(so, "report: a:hand vs other vs b:hand: ") {
		t.Errorf("stdout %q", so)
	}
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-db", a, "-db", b, "-experiment", "gamma"}, `no experiment "gamma" in ` + a + ", " + b + " (" + a + " holds hand, other; " + b + " holds hand)"},
		{[]string{"-db", a, "-experiment", "hand,hand"}, `-experiment names "hand" twice`},
		{[]string{"-db", a + ","}, `invalid value "` + a + `," for flag -db: empty name`},
		{[]string{"-db", a, "-db", filepath.Join(t.TempDir(), "nope.db")}, "no such database"},
	} {
		var so, se bytes.Buffer
		err := run(context.Background(), append(tt.args, "-out", t.TempDir()), &so, &se)
		if code := exitCode(err, &se); code != 2 || !strings.Contains(se.String(), tt.msg) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, code, se.String(), tt.msg)
		}
	}
}

// compileTeX runs pdflatex on the tables inputs of dir inside a two-column
// article (skipped where pdflatex is missing) and fails t on an error, an
// overfull box, a float too large or a character LaTeX cannot set.
func compileTeX(t *testing.T, dir string, inputs []string) {
	t.Helper()
	pdflatex, err := exec.LookPath("pdflatex")
	if err != nil {
		t.Log("pdflatex not installed: the tables were not compiled")
		return
	}
	var doc strings.Builder
	doc.WriteString("\\documentclass[twocolumn]{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n")
	for _, in := range inputs {
		doc.WriteString("\\input{" + in + "}\n")
	}
	doc.WriteString("\\end{document}\n")
	if err := os.WriteFile(filepath.Join(dir, "paper.tex"), []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TEXMFVAR="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdflatex: %v\n%s", err, tail(b, 3000))
	}
	log := readFile(t, filepath.Join(dir, "paper.log"))
	for _, bad := range []string{"Overfull \\hbox", "Float too large", "Missing character", "Unicode character"} {
		if i := strings.Index(log, bad); i >= 0 {
			t.Errorf("pdflatex log: %s", log[i:min(len(log), i+300)])
		}
	}
}
