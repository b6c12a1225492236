package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report"
	"cliplab/internal/report/reporttest"

	"gonum.org/v1/plot/cmpimg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// handRun is a run of the hand-computed database: test accuracy at steps 5
// and 10, train-sample accuracy at step 10; diverged runs stop at step 6
// with only the step-5 evaluation.
func handRun(method string, th float64, seed uint64, acc5, acc10, train10 float64, status record.Status) reporttest.Run {
	r := reporttest.Run{Arch: "mlp2", Dataset: "mnist", Method: method, Threshold: th, LR: 0.1, Seed: seed, Status: status, Wall: 1, FLOPs: 1e6}
	n := 10
	if status == record.Diverged {
		n = 6
	}
	for t := 1; t <= n; t++ {
		frac := 0.0
		if method != "none" && t%2 == 0 {
			frac = 1
		}
		s := record.Step{Step: t, Loss: 1, GradNorm: 1, ClippedNorm: 1, ClipFraction: frac, Threshold: th, LR: 0.1, ElapsedS: float64(t)}
		if t == 6 && status == record.Diverged {
			s.Loss = math.Inf(1)
		}
		r.Steps = append(r.Steps, s)
	}
	r.Evals = append(r.Evals, record.Eval{Step: 5, Split: "test", Acc: acc5, ElapsedS: 5.5}, record.Eval{Step: 5, Split: "train", Acc: acc5, ElapsedS: 5.5})
	if status == record.Done {
		r.Evals = append(r.Evals, record.Eval{Step: 10, Split: "test", Acc: acc10, ElapsedS: 10.5}, record.Eval{Step: 10, Split: "train", Acc: train10, ElapsedS: 10.5})
	}
	return r
}

// handDB: mlp2 on mnist at lr 0.1, seeds 1–3, method none (seed 3
// diverged) and norm with threshold 1, plus one pending norm run at lr 1.
func handDB(t *testing.T) string {
	runs := []reporttest.Run{
		handRun("none", 0, 1, 0.50, 0.80, 0.85, record.Done),
		handRun("none", 0, 2, 0.60, 0.82, 0.86, record.Done),
		handRun("none", 0, 3, 0.40, 0, 0, record.Diverged),
		handRun("norm", 1, 1, 0.70, 0.85, 0.88, record.Done),
		handRun("norm", 1, 2, 0.90, 0.86, 0.89, record.Done),
		handRun("norm", 1, 3, 0.75, 0.87, 0.90, record.Done),
		{Arch: "mlp2", Dataset: "mnist", Method: "norm", Threshold: 1, LR: 1, Seed: 1, Pending: true},
	}
	return reporttest.TempDB(t, "hand", runs)
}

func TestTablesHandComputed(t *testing.T) {
	path := handDB(t)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "hand", 0.85, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.settingsTable()
	// By hand (target 0.85):
	// none: scores 0.80, 0.82 and chance 0.1 for the diverged seed: mean
	//   0.5733, sample std 0.4100; no seed reaches 0.85: median ∞; clip
	//   fraction 0.
	// norm c=1: 0.85, 0.86, 0.87: mean 0.860, std 0.010; steps to 0.85:
	//   10, 5 (0.90 at step 5), 10 → median 10; clipped every other step:
	//   0.5; Δ paired by seed: 0.05, 0.04, 0.77 → +0.287.
	// norm at lr 1: one pending run.
	want := [][]string{
		{"mlp2", "none", "–", "0.1", "2/3", "0.573 ± 0.410", "1/3", "0", "∞", "0.000", "–"},
		{"mlp2", "norm", "1", "0.1", "3/3", "0.860 ± 0.010", "0/3", "0", "10", "0.500", "+0.287 ["},
		{"mlp2", "norm", "1", "1", "0/1", "–", "0/0", "0", "–", "–", "–"},
	}
	if len(st.Rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(st.Rows), len(want), st.markdown())
	}
	for i, w := range want {
		for j := range w {
			got := st.Rows[i][j]
			if j == len(w)-1 && strings.HasSuffix(w[j], "[") {
				if !strings.HasPrefix(got, w[j]) {
					t.Errorf("row %d col %s = %q, want prefix %q", i, st.Header[j], got, w[j])
				}
				continue
			}
			if got != w[j] {
				t.Errorf("row %d col %s = %q, want %q", i, st.Header[j], got, w[j])
			}
		}
	}
	// Bold: the higher accuracy, the fewer steps; not the counts (diverged,
	// at chance: no bold on counts), nor the only Δ (one candidate is
	// nobody's best).
	bold := func(i int, col string) bool { return st.Bold[i][slices.Index(st.Header, col)] }
	for _, c := range []struct {
		row  int
		col  string
		want bool
	}{
		{0, "test acc (tail mean)", false}, {1, "test acc (tail mean)", true}, {0, "diverged", false}, {1, "diverged", false},
		{0, "at chance", false}, {1, "at chance", false}, {1, "steps to 0.85", true}, {0, "steps to 0.85", false},
		{1, "Δ vs none [95% CI]", false}, {2, "test acc (tail mean)", false},
	} {
		if got := bold(c.row, c.col); got != c.want {
			t.Errorf("bold(row %d, %s) = %v, want %v", c.row, c.col, got, c.want)
		}
	}
	if md := string(st.markdown()); !strings.Contains(md, "| **0.860 ± 0.010** |") {
		t.Errorf("markdown lacks the bold accuracy:\n%s", md)
	}
	if tex := string(st.latex()); !strings.Contains(tex, `\textbf{0.860 $\pm$ 0.010}`) || !strings.Contains(tex, `\toprule`) || !strings.Contains(tex, `$\infty$`) {
		t.Errorf("LaTeX table:\n%s", tex)
	}
	// CSV: raw numbers.
	csv := string(st.csv())
	for _, w := range []string{
		"mlp2,mnist,none,,,,0.1,3,2,3,1,0,0,0,2,0.5733333333333334,0.41004064839151",
		"mlp2,mnist,norm,,,1,0.1,3,3,3,0,0,0,0,3,0.86,0.01000000000000",
		",inf,inf,0,1e+06,1,",
	} {
		if !strings.Contains(csv, w) {
			t.Errorf("CSV lacks %q:\n%s", w, csv)
		}
	}
	// The bootstrap interval lies within the paired differences' range.
	s := rep.Settings[1]
	if !(s.DeltaLo >= 0.04-1e-12 && s.DeltaHi <= 0.77+1e-12 && s.DeltaLo <= s.Delta && s.Delta <= s.DeltaHi) {
		t.Errorf("Δ = %v [%v, %v], want within [0.04, 0.77] around the mean", s.Delta, s.DeltaLo, s.DeltaHi)
	}

	// Methods table: one workload; norm reaches 0.85 in 10 steps, none
	// never: ratios 1 and ∞, profile scores 1 and 0. Both stable at 0.1
	// (none: 2 of 3 seeds train, exactly two thirds).
	mt := rep.methodsTable()
	wantM := [][]string{
		{"mlp2", "none", "–", "0.1", "0.573 ± 0.410", "∞", "∞", "∞", "0.1", "0.000"},
		{"mlp2", "norm", "1", "0.1", "0.860 ± 0.010", "10", "10.5", "1.00", "0.1 (c=1)", "1.000"},
	}
	if len(mt.Rows) != 2 {
		t.Fatalf("methods table:\n%s", mt.markdown())
	}
	for i, w := range wantM {
		if !slices.Equal(mt.Rows[i], w) {
			t.Errorf("methods row %d = %q, want %q", i, mt.Rows[i], w)
		}
	}
	if got := rep.statusLine(); got != "7 runs: 5 done (5 trained, 0 at chance), 1 diverged, 0 failed, 1 not ended (1 pending)" {
		t.Errorf("status line %q", got)
	}
}

// figureDB is the database of the figure tests: mlp2 and cnn at three
// learning rates, five clip settings, three seeds, 60 steps each; one run
// failed, one running, one pending.
func figureDB(t *testing.T, archs []string) string {
	return reporttest.TempDB(t, "demo", reporttest.Grid(archs, []float64{0.1, 1, 3}, 3, 60))
}

// loadFigureDB loads the figure database of archs at target 0.9.
func loadFigureDB(t *testing.T, archs []string) *paper {
	path := figureDB(t, archs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := load(context.Background(), d, "demo", 0.9, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestFigureContent(t *testing.T) {
	rep := loadFigureDB(t, []string{"cnn", "mlp2"})
	figs := rep.figures()
	var names []string
	byName := map[string]*figure{}
	for _, f := range figs {
		names = append(names, f.Name)
		byName[f.Name] = f
	}
	wantNames := []string{"fig-acc-vs-flops", "fig-acc-vs-seconds",
		"fig-curves-cnn-lr0.1", "fig-curves-cnn-lr1", "fig-curves-cnn-lr3", "fig-curves-mlp2-lr0.1", "fig-curves-mlp2-lr1", "fig-curves-mlp2-lr3",
		"fig-divergence-cnn", "fig-divergence-mlp2", "fig-threshold-cnn", "fig-threshold-mlp2", "fig-profile", "fig-stability-cnn", "fig-stability-mlp2"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("figures %q,\nwant %q", names, wantNames)
	}
	// Cost: one panel per architecture, every method present; each panel
	// has one point per setting with an ended seed: 5 clips × 3 lrs, of
	// which mlp2's last (agc at lr 3) has 1 running and 1 pending seed
	// but one that ended.
	cost := byName["fig-acc-vs-flops"]
	if len(cost.Info) != 2 || cost.Info[0].Title != "cnn" || cost.Info[1].Title != "mlp2" {
		t.Fatalf("cost panels %+v", cost.Info)
	}
	for _, in := range cost.Info {
		n := 0
		for _, m := range []string{"none", "value", "norm", "agc"} {
			n += in.Series[m]
		}
		// Settings whose median seed never reached the target are
		// drawn apart as "not reached", never as cheap points.
		if n+in.Series["not reached"] != 15 || in.Series["not reached"] == 0 {
			t.Errorf("%s: %d points reached and %d not, want 15 in all, some not", in.Title, n, in.Series["not reached"])
		}
		if in.Series["frontier"] < 1 {
			t.Errorf("%s: no frontier", in.Title)
		}
		// Every point is labelled with its learning rate.
		for _, l := range in.Labels {
			if !strings.HasPrefix(l, "lr ") {
				t.Errorf("%s: label %q", in.Title, l)
			}
		}
	}
	// The accuracy axis stays near [0, 1].
	for _, row := range cost.Panels {
		for _, p := range row {
			if p.Y.Min < -0.1 || p.Y.Max > 1.1 || p.Y.Min >= p.Y.Max {
				t.Errorf("accuracy axis [%v, %v]", p.Y.Min, p.Y.Max)
			}
		}
	}
	// Curves at lr 3, where runs diverge: loss and norm panels, a line per
	// method and crosses for the diverged seeds; at lr 0.1 none diverge.
	// Below them, train-sample and test accuracy at each evaluation.
	cur := byName["fig-curves-mlp2-lr3"]
	if len(cur.Info) != 4 || !strings.HasSuffix(cur.Info[2].Title, "train-sample accuracy") || !strings.HasSuffix(cur.Info[3].Title, "test accuracy") {
		t.Fatalf("curve panels %+v", cur.Info)
	}
	if n := cur.Info[3].Series["norm c=0.5"]; n != 5 {
		t.Errorf("test accuracy of norm c=0.5: %d points, want its 5 evaluations", n)
	}
	if p := cur.Panels[1][0]; p.X.Min != cur.Panels[0][0].X.Min || p.X.Max != cur.Panels[0][0].X.Max {
		t.Errorf("accuracy steps [%v, %v], loss steps [%v, %v]", p.X.Min, p.X.Max, cur.Panels[0][0].X.Min, cur.Panels[0][0].X.Max)
	}
	div := 0
	for name, n := range cur.Info[0].Series {
		if strings.HasPrefix(name, "diverged: ") {
			div += n
		}
	}
	wantDiv := 0
	for _, s := range rep.SettingsOf(1) {
		best := rep.BestAt(1, 3)[s.Series]
		if s.LR == 3 && s == best {
			wantDiv += s.Diverged
		}
	}
	if div == 0 || div != wantDiv {
		t.Errorf("diverged crosses at lr 3: %d, want %d (>0)", div, wantDiv)
	}
	for name := range byName["fig-curves-mlp2-lr0.1"].Info[0].Series {
		if strings.HasPrefix(name, "diverged") {
			t.Errorf("lr 0.1 shows %q", name)
		}
	}
	// Every method is there: as a mean line, or (every seed diverged) as
	// the lines of its diverged seeds.
	for _, in := range cur.Info {
		for _, m := range []string{"none", "value c=0.1", "norm c=0.5", "agc c=0.01"} {
			if in.Series[m] == 0 && in.Series["diverged: "+m] == 0 {
				t.Errorf("%s lacks %q: %v", in.Title, m, in.Series)
			}
		}
	}
	// Divergence map: 5 rows × 3 lrs, labels with counts.
	dm := byName["fig-divergence-mlp2"].Info[0]
	if dm.Cells != 15 {
		t.Errorf("divergence map: %d cells, want 15", dm.Cells)
	}
	for _, l := range dm.Labels {
		if !strings.Contains(l, " div") {
			t.Errorf("divergence label %q", l)
		}
	}
	// Collapse is encoded apart from divergence: a cell is hatched for
	// each setting with a seed done at chance, and its label says how many;
	// the stability panels hatch the same settings.
	collapsed, chanceLabels := 0, 0
	for _, s := range rep.SettingsOf(1) {
		if s.AtChance > 0 {
			collapsed++
		}
	}
	for _, l := range dm.Labels {
		if strings.Contains(l, " chance") {
			chanceLabels++
		}
	}
	stabHatched := 0
	for _, in := range byName["fig-stability-mlp2"].Info {
		stabHatched += in.Hatched
	}
	if collapsed == 0 || dm.Hatched != collapsed || chanceLabels != collapsed || stabHatched != collapsed {
		t.Errorf("mlp2: %d settings with seeds at chance; divergence map hatches %d and labels %d, stability hatches %d", collapsed, dm.Hatched, chanceLabels, stabHatched)
	}
	// Stability: a panel per method (4 methods), threshold rows.
	if n := len(byName["fig-stability-mlp2"].Info); n != 4 {
		t.Errorf("stability panels: %d, want 4", n)
	}
	// Threshold: only norm has two thresholds (0.5 and 5): one row of two
	// panels in its units, a line of two points per lr, each with its
	// baseline; value and agc, at one threshold each, are named in the
	// caption instead.
	thf := byName["fig-threshold-mlp2"]
	th := thf.Info
	if len(th) != 2 || th[0].Title != "norm: final test accuracy" || thf.Panels[0][0].X.Label.Text != "norm c (log scale)" {
		t.Fatalf("threshold panels %+v", th)
	}
	for _, lr := range []string{"0.1", "1", "3"} {
		if th[0].Series["lr="+lr] != 2 || th[0].Series["no clipping, lr="+lr] != 1 {
			t.Errorf("threshold panel at lr %s: %v", lr, th[0].Series)
		}
	}
	if !strings.Contains(thf.Caption, "Tried at one threshold only, so not drawn (see table-settings): value (value c = 0.1), agc (λ = 0.01).") {
		t.Errorf("threshold caption %q", thf.Caption)
	}
	// Profile: one line per method. value, norm and agc reach 0.9 in 36
	// steps on both workloads, none in 24: ratios 1.5, 1.5 and 1, so the
	// three tie, and the legend and caption say so.
	prof := byName["fig-profile"]
	if n := len(prof.Info[0].Series); n != 4 {
		t.Errorf("profile: %d series, want 4", n)
	}
	if !slices.Equal(prof.Info[0].Ties, []string{"value, norm, agc"}) || !strings.Contains(prof.Caption, "Methods with identical profiles tie (value, norm, agc)") ||
		prof.Info[0].Series["norm (score 0.83), ties value, agc"] == 0 || prof.Info[0].Series["none (score 1.00)"] == 0 {
		t.Errorf("profile ties %q, series %v, caption %q", prof.Info[0].Ties, prof.Info[0].Series, prof.Caption)
	}
}

// goldenFigures are compared with testdata/<name>.png; -update rewrites.
var goldenFigures = []string{"fig-acc-vs-flops", "fig-curves-mlp2-lr3", "fig-divergence-mlp2", "fig-threshold-mlp2", "fig-profile", "fig-stability-mlp2"}

func TestGolden(t *testing.T) {
	path := figureDB(t, []string{"mlp2"})
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	files := []string{"index.md", "table-settings.md", "table-methods.md", "table-stability.md"}
	for _, f := range goldenFigures {
		files = append(files, f+".png")
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", f)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if strings.HasSuffix(f, ".png") {
			ok, err := cmpimg.Equal("png", got, want)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				os.WriteFile(filepath.Join(t.TempDir(), f), got, 0o644)
				t.Errorf("%s differs from %s (go test -update rewrites it; look at both first)", f, golden)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", f, golden, got)
		}
	}
}

func TestByteIdenticalTwice(t *testing.T) {
	path := figureDB(t, []string{"mlp2"})
	var dirs [2]string
	for i := range dirs {
		dirs[i] = t.TempDir()
		var so, se bytes.Buffer
		if err := run(context.Background(), []string{"-db", path, "-out", dirs[i]}, &so, &se); err != nil {
			t.Fatalf("%v\n%s", err, se.String())
		}
	}
	a, _ := os.ReadDir(dirs[0])
	b, _ := os.ReadDir(dirs[1])
	if len(a) != len(b) || len(a) < 20 {
		t.Fatalf("%d and %d files", len(a), len(b))
	}
	exts := map[string]bool{}
	for _, e := range a {
		x, _ := os.ReadFile(filepath.Join(dirs[0], e.Name()))
		y, err := os.ReadFile(filepath.Join(dirs[1], e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two reports of the same database", e.Name())
		}
		exts[filepath.Ext(e.Name())] = true
	}
	for _, x := range []string{".png", ".svg", ".pdf", ".md", ".csv", ".tex", ".html"} {
		if !exts[x] {
			t.Errorf("no %s file written", x)
		}
	}
}

func TestStaleFilesRemoved(t *testing.T) {
	path := figureDB(t, []string{"mlp2"})
	out := t.TempDir()
	mine := filepath.Join(out, "notes.txt")
	stale := filepath.Join(out, "fig-curves-gone-lr1.png")
	os.WriteFile(mine, []byte("keep"), 0o644)
	os.WriteFile(stale, []byte("old"), 0o644)
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", out}, &so, &se); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file the report did not write was removed: %v", err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("a stale figure of an earlier report was kept")
	}
}

func TestIndexSaysWhatIsMissing(t *testing.T) {
	path := figureDB(t, []string{"mlp2"})
	out := t.TempDir()
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", out}, &so, &se); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "index.md"))
	page, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, w := range []string{"2 of 45 runs have not ended yet", "1 runs failed", "synthetic failure", "1 pending", "1 running", "![Accuracy versus FLOPs to target](fig-acc-vs-flops.png)"} {
		if !bytes.Contains(md, []byte(w)) {
			t.Errorf("index.md lacks %q", w)
		}
	}
	if !bytes.Contains(page, []byte(`src="data:image/png;base64,`)) || bytes.Contains(page, []byte(`src="fig-`)) {
		t.Errorf("index.html does not inline its images")
	}
	// 2 cost, 3 curves (one per lr), divergence, threshold, profile,
	// stability.
	if n := bytes.Count(page, []byte("<figure>")); n != 9 {
		t.Errorf("index.html has %d figures, want 9", n)
	}
	if !strings.Contains(so.String(), "45 runs: 34 done") && !strings.Contains(so.String(), "45 runs:") {
		t.Errorf("stdout %q", so.String())
	}
}

func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	d, err := db.Open(empty, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	two := filepath.Join(dir, "two.db")
	reporttest.WriteDB(t, two, "alpha", []reporttest.Run{{Arch: "mlp2", Dataset: "mnist", Method: "none", LR: 0.1, Seed: 1, Pending: true}})
	reporttest.WriteDB(t, two, "beta", []reporttest.Run{{Arch: "mlp2", Dataset: "mnist", Method: "none", LR: 0.1, Seed: 1, Pending: true}})
	notDB := filepath.Join(dir, "x.txt")
	os.WriteFile(notDB, []byte("hello, this is not a database"), 0o644)
	old := filepath.Join(dir, "old.db") // one schema version behind
	reporttest.WriteDB(t, old, "alpha", []reporttest.Run{{Arch: "mlp2", Dataset: "mnist", Method: "none", LR: 0.1, Seed: 1, Pending: true}})
	sq, err := sql.Open("sqlite3", old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sq.Exec(fmt.Sprintf("PRAGMA user_version = %d", db.SchemaVersion-1)); err != nil {
		t.Fatal(err)
	}
	sq.Close()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown experiment", []string{"-db", two, "-experiment", "gamma"}, 2, `report: no experiment "gamma" in ` + two + "; it holds: alpha, beta"},
		{"empty database", []string{"-db", empty}, 2, "holds no experiments"},
		{"missing file", []string{"-db", filepath.Join(dir, "nope.db")}, 2, "no such database"},
		{"not a database", []string{"-db", notDB}, 2, "not a SQLite database"},
		{"older schema", []string{"-db", old}, 2, "runner migrate -db " + old},
		{"bad flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"bad target", []string{"-db", two, "-target", "1.5"}, 2, "-target 1.5: must be in (0, 1]"},
		{"extra argument", []string{"-db", two, "more"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var so, se bytes.Buffer
			err := run(context.Background(), tt.args, &so, &se)
			code := exitCode(err, &se)
			if code != tt.code || !strings.Contains(se.String(), tt.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, se.String(), tt.code, tt.msg)
			}
		})
	}
	// Several experiments and no -experiment: each is reported into its
	// own folder, even with nothing ended (a report of what is there).
	out := t.TempDir()
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", two, "-out", out}, &so, &se); err != nil {
		t.Fatalf("%v %s", err, se.String())
	}
	for _, e := range []string{"alpha", "beta"} {
		md, err := os.ReadFile(filepath.Join(out, e, "index.md"))
		if err != nil || !bytes.Contains(md, []byte("1 of 1 runs have not ended yet")) {
			t.Errorf("%s: %v\n%s", e, err, md)
		}
	}
}

// TestMetricFlag: every caption and table note says which final accuracy
// it uses; -metric last reports the last evaluation, and on
// reporttest.Collapse (norm's seed 2 collapses at its last evaluation)
// index.html then warns that norm's seed spread is larger than a
// difference the settings table reports as significant; the default tail
// metric shows 0.943 for norm and no warning.
func TestMetricFlag(t *testing.T) {
	path := reporttest.TempDB(t, "collapse", reporttest.Collapse())
	for _, tt := range []struct {
		args              []string
		note, acc, header string
		warn              bool
	}{
		{nil, "Final accuracy: the tail metric, the mean of each run's evaluations in its last 20% of steps.", "0.943 ± 0.031", "test acc (tail mean)", false},
		{[]string{"-metric", "tail"}, "Final accuracy: the tail metric", "0.943 ± 0.031", "test acc (tail mean)", false},
		{[]string{"-metric", "last"}, "Final accuracy: the last evaluation of each run (-metric last; the default tail metric averages the last 20% of steps).", "| 0.693 ± 0.462 |", "test acc (last evaluation)", true},
	} {
		out := t.TempDir()
		var so, se bytes.Buffer
		if err := run(context.Background(), append([]string{"-db", path, "-out", out}, tt.args...), &so, &se); err != nil {
			t.Fatalf("%q: %v\n%s", tt.args, err, se.String())
		}
		md, _ := os.ReadFile(filepath.Join(out, "index.md"))
		page, _ := os.ReadFile(filepath.Join(out, "index.html"))
		// Every figure caption (the line after each image) and table note.
		lines := strings.Split(string(md), "\n")
		captions := 0
		for i, l := range lines {
			if strings.HasPrefix(l, "![") || strings.HasPrefix(l, "### ") && i+2 < len(lines) && strings.HasPrefix(lines[i-2], "## Tables") || strings.HasPrefix(l, "[CSV]") {
				continue
			}
			if strings.HasSuffix(l, "runs.") || strings.Contains(l, "runs.* [SVG]") {
				captions++
				if !strings.Contains(l, tt.note) {
					t.Errorf("%q: caption without %q:\n%s", tt.args, tt.note, l)
				}
			}
		}
		// 6 figures (no threshold figure: value and norm have one threshold
		// each) and 3 tables.
		if captions < 9 {
			t.Errorf("%q: %d captions found in index.md", tt.args, captions)
		}
		for _, name := range []string{"table-settings", "table-methods", "table-stability"} {
			tex, _ := os.ReadFile(filepath.Join(out, name+".tex"))
			if !bytes.Contains(tex, []byte("Final accuracy: the")) {
				t.Errorf("%q: %s.tex caption does not name the metric:\n%s", tt.args, name, tex)
			}
		}
		st, _ := os.ReadFile(filepath.Join(out, "table-settings.md"))
		if !bytes.Contains(st, []byte(tt.acc)) || !bytes.Contains(st, []byte(tt.header)) {
			t.Errorf("%q: settings table lacks %q or %q:\n%s", tt.args, tt.acc, tt.header, st)
		}
		warned := bytes.Contains(page, []byte(`<p class="warn"><strong>Warning:</strong> mlp2: the seed spread of 1 settings (norm c=1 lr=0.3: std 0.462 over 3 seeds) is larger than 0.047`))
		if warned != tt.warn || bytes.Contains(page, []byte("Warning:")) != tt.warn {
			t.Errorf("%q: warning %v, want %v", tt.args, warned, tt.warn)
		}
	}
	var so, se bytes.Buffer
	err := run(context.Background(), []string{"-db", path, "-metric", "median"}, &so, &se)
	if code := exitCode(err, &se); code != 2 || !strings.Contains(se.String(), `-metric "median": must be tail or last`) {
		t.Errorf("-metric median: exit %d, %q", code, se.String())
	}
}

// TestSample writes the figure database's report (cnn and mlp2) into
// $CLIPLAB_SAMPLE_OUT, and its comparison with a longer run of the same
// grid into $CLIPLAB_SAMPLE_OUT/compare, to look at; skipped without it.
func TestSample(t *testing.T) {
	out := os.Getenv("CLIPLAB_SAMPLE_OUT")
	if out == "" {
		t.Skip("CLIPLAB_SAMPLE_OUT not set")
	}
	path := figureDB(t, []string{"cnn", "mlp2"})
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", out}, &so, &se); err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
	// A comparison: the same grid at twice the steps, in out/compare.
	reporttest.WriteDB(t, path, "longer", reporttest.Grid([]string{"cnn", "mlp2"}, []float64{0.1, 1, 3}, 3, 120))
	if err := run(context.Background(), []string{"-db", path, "-experiment", "demo,longer", "-out", filepath.Join(out, "compare")}, &so, &se); err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
}
