package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"cliplab/internal/record"
	"cliplab/internal/report/reporttest"
)

// oneSeedDB holds experiment "one-seed": mlp2 at lr 0.1, seed 1 only, for
// none (final test accuracy 0.5), zclip with max_grad_norm -1 (the
// reference's cap off; 0.4999, a difference from none that rounds to
// zero: printed 0.000, never −0.000) and norm c=1 (0.6).
func oneSeedDB(t *testing.T, path string) {
	zc := handRun("zclip", 2.5, 1, 0.3, 0.4999, 0.51, record.Done)
	zc.Options = map[string]any{"max_grad_norm": -1.0}
	runs := []reporttest.Run{
		handRun("none", 0, 1, 0.3, 0.5, 0.51, record.Done),
		zc,
		handRun("norm", 1, 1, 0.3, 0.6, 0.61, record.Done),
	}
	reporttest.WriteDB(t, path, "one-seed", runs)
}

// latexReport writes the figure database ("demo": cnn and mlp2, three
// seeds) and oneSeedDB into one database and reports both into out/demo
// and out/one-seed.
func latexReport(t *testing.T) string {
	dir := t.TempDir()
	path := filepath.Join(dir, "runs.db")
	reporttest.WriteDB(t, path, "demo", reporttest.Grid([]string{"cnn", "mlp2"}, []float64{0.1, 1, 3}, 3, 60))
	oneSeedDB(t, path)
	out := filepath.Join(dir, "out")
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", out, "-target", "0.85"}, &so, &se); err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
	return out
}

// TestLaTeXContent: labels carry the experiment; the eleven-column
// settings table spans both columns and is scaled only if still too wide;
// the text is ASCII (every symbol as a LaTeX command); no negative zero;
// one seed gets no ±; intervals from three seeds are marked †; the zclip
// option that differs from its default is in the series name and the
// caption; bold marks one cell per column and architecture at most.
func TestLaTeXContent(t *testing.T) {
	out := latexReport(t)
	read := func(exp, name string) string {
		b, err := os.ReadFile(filepath.Join(out, exp, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, exp := range []string{"demo", "one-seed"} {
		for _, name := range []string{"settings", "methods", "stability"} {
			tex := read(exp, "table-"+name+".tex")
			if !strings.Contains(tex, `\label{tab:`+exp+"-"+name+"}") {
				t.Errorf("%s table-%s.tex: no label tab:%s-%s:\n%s", exp, name, exp, name, tex)
			}
			for i, r := range tex {
				if r > 0x7e || r < 0x20 && r != '\n' {
					t.Errorf("%s table-%s.tex: non-ASCII %q at byte %d", exp, name, r, i)
					break
				}
			}
			if strings.Contains(tex, "-0.000") || strings.Contains(tex, "$-$0.000") {
				t.Errorf("%s table-%s.tex has a negative zero", exp, name)
			}
			if !strings.Contains(tex, `\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%`) {
				t.Errorf("%s table-%s.tex is not guarded by \\resizebox", exp, name)
			}
		}
	}
	st := read("demo", "table-settings.tex")
	if !strings.HasPrefix(strings.SplitN(st, "\n", 3)[1], `\begin{table*}`) || !strings.Contains(st, `\end{table*}`) {
		t.Errorf("the settings table is not a table*:\n%s", st[:min(len(st), 400)])
	}
	if !strings.Contains(st, `]$^\dagger$`) || !strings.Contains(st, "fewer than 5 seeds") {
		t.Errorf("intervals over 3 seeds are not marked with a dagger")
	}
	one := read("one-seed", "table-settings.md")
	if strings.Contains(one, "±") {
		t.Errorf("one seed shown with ±:\n%s", one)
	}
	for _, w := range []string{"| zclip (max_grad_norm=-1) | 2.5 | 0.1 | 1/1 | 0.500 |", "| 0.000 |", "| **0.600** |", "zclip max_grad_norm=-1 (default 1)"} {
		if !strings.Contains(one, w) && !strings.Contains(read("one-seed", "index.md"), w) {
			t.Errorf("one-seed report lacks %q:\n%s", w, one)
		}
	}
	if !strings.Contains(read("one-seed", "table-settings.tex"), "zclip max\\_grad\\_norm=-1 (default 1)") {
		t.Errorf("the LaTeX caption does not name zclip's non-default option")
	}
	// Bold: at most one cell per column and architecture block.
	md := read("demo", "table-settings.md")
	perCol := map[string]int{}
	for _, line := range strings.Split(md, "\n") {
		cells := strings.Split(line, " | ")
		for j, c := range cells {
			if strings.HasPrefix(c, "**") {
				perCol[cells[0]+"|"+string(rune('A'+j))]++
			}
		}
	}
	if len(perCol) == 0 {
		t.Errorf("no bold at all in:\n%s", md)
	}
	for k, n := range perCol {
		if n > 1 {
			t.Errorf("%d bold cells in column %s", n, k)
		}
	}
}

// TestLaTeXCompiles runs pdflatex (Debian's texlive-latex-base and
// texlive-latex-recommended; skipped where it is missing) on every .tex of
// two experiments' reports inside one two-column article: it must compile,
// with no overfull box (a table wider than its column or page), no float
// too large, no character LaTeX cannot set and no label defined twice.
func TestLaTeXCompiles(t *testing.T) {
	pdflatex, err := exec.LookPath("pdflatex")
	if err != nil {
		t.Skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
	}
	out := latexReport(t)
	var inputs []string
	for _, exp := range []string{"demo", "one-seed"} {
		es, err := os.ReadDir(filepath.Join(out, exp))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if filepath.Ext(e.Name()) == ".tex" {
				inputs = append(inputs, exp+"/"+strings.TrimSuffix(e.Name(), ".tex"))
			}
		}
	}
	sort.Strings(inputs)
	if len(inputs) != 6 {
		t.Fatalf("%d .tex files, want 3 per experiment: %q", len(inputs), inputs)
	}
	var doc strings.Builder
	doc.WriteString("\\documentclass[twocolumn]{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n")
	for _, in := range inputs {
		doc.WriteString("\\input{" + in + "}\n")
		doc.WriteString("Table~\\ref{tab:" + strings.Replace(in, "/table-", "-", 1) + "}.\n\n")
	}
	doc.WriteString("\\end{document}\n")
	if err := os.WriteFile(filepath.Join(out, "paper.tex"), []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for pass := 1; pass <= 2; pass++ { // the second pass resolves the references
		cmd := exec.Command(pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
		cmd.Dir = out
		cmd.Env = append(os.Environ(), "TEXMFVAR="+t.TempDir())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pdflatex pass %d: %v\n%s", pass, err, tail(b, 3000))
		}
	}
	log, err := os.ReadFile(filepath.Join(out, "paper.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"Overfull \\hbox", "Float too large", "Missing character", "multiply defined", "undefined references", "Unicode character"} {
		if i := bytes.Index(log, []byte(bad)); i >= 0 {
			t.Errorf("pdflatex log: %s", log[i:min(len(log), i+300)])
		}
	}
	// Every table was set, each in its own float.
	if n := len(regexp.MustCompile(`(?m)^\\begin\{table\*?\}`).FindAllString(readAll(t, out, inputs), -1)); n != 6 {
		t.Errorf("%d table floats, want 6", n)
	}
	pdf, err := os.ReadFile(filepath.Join(out, "paper.pdf"))
	if err != nil || len(pdf) == 0 {
		t.Errorf("no paper.pdf: %v", err)
	}
	// CLIPLAB_KEEP_PAPER=FILE keeps the PDF, to look at.
	if keep := os.Getenv("CLIPLAB_KEEP_PAPER"); keep != "" {
		if err := os.WriteFile(keep, pdf, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func readAll(t *testing.T, dir string, inputs []string) string {
	var b strings.Builder
	for _, in := range inputs {
		x, err := os.ReadFile(filepath.Join(dir, in+".tex"))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(x)
	}
	return b.String()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
