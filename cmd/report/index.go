// Writing the report: figures rendered in parallel, tables, index.md and a
// self-contained index.html.

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"cliplab/internal/record"
	"cliplab/internal/report"
)

// statusLine says how many runs stand where: "189 runs: 150 done (140
// trained, 10 at chance), 20 diverged, 3 failed, 16 not ended (3 pending, 13
// running)".
func (rep *paper) statusLine() string {
	n := len(rep.Runs)
	o := rep.Outcomes
	s := fmt.Sprintf("%d runs: %d done (%d trained, %d at chance), %d diverged, %d failed",
		n, o[report.Trained]+o[report.AtChance], o[report.Trained], o[report.AtChance], o[report.Diverged], o[report.Failed])
	if o[report.Missing] > 0 {
		var parts []string
		for _, st := range []record.Status{record.Running, record.Interrupted, record.Pending} {
			if k := rep.ByStatus[st]; k > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", k, st))
			}
		}
		s += fmt.Sprintf(", %d not ended (%s)", o[report.Missing], strings.Join(parts, ", "))
	}
	return s
}

// generated reports whether a file name is one report writes, so that a
// new report can remove the files of an older one (a figure of an
// architecture no longer in the grid) and the folder holds only the new.
func generated(name string) bool {
	if name == "index.md" || name == "index.html" {
		return true
	}
	if !strings.HasPrefix(name, "fig-") && !strings.HasPrefix(name, "table-") {
		return false
	}
	switch filepath.Ext(name) {
	case ".png", ".svg", ".pdf", ".md", ".csv", ".tex":
		return true
	}
	return false
}

// write writes the report into dir and returns how many files it holds
// and how many of them it changed. A file whose contents are already
// there is left alone (report -watch rewrites nothing that did not
// change); the others are written to a temporary file and renamed into
// place, so that a browser reloading index.html never reads half a page.
func (rep *paper) write(ctx context.Context, dir string) (files, changed int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("output folder: %w", err)
	}
	contents, err := rep.render(ctx)
	if err != nil {
		return 0, 0, err
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("output folder: %w", err)
	}
	for _, e := range old {
		if _, ok := contents[e.Name()]; !ok && generated(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return 0, changed, fmt.Errorf("remove old report file: %w", err)
			}
			changed++
		}
	}
	names := make([]string, 0, len(contents))
	for n := range contents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := filepath.Join(dir, n)
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, contents[n]) {
			continue
		}
		if err := writeFile(path, contents[n]); err != nil {
			return 0, changed, fmt.Errorf("write report: %w", err)
		}
		changed++
	}
	return len(contents), changed, nil
}

// writeFile writes b to path through a temporary file in the same folder,
// renamed into place.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// render builds every file of the report in memory: name → contents.
func (rep *paper) render(ctx context.Context) (map[string][]byte, error) {
	figs := rep.figures()
	tabs := rep.tables()
	files := map[string][]byte{}
	var mu sync.Mutex
	var firstErr error
	work := make(chan *figure)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				for _, format := range formats {
					b, err := f.render(format)
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					files[f.Name+"."+format] = b
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range figs {
		if ctx.Err() != nil {
			break
		}
		work <- f
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	for _, t := range tabs {
		files[t.Name+".md"] = t.markdown()
		files[t.Name+".csv"] = t.csv()
		files[t.Name+".tex"] = t.latex()
	}
	md, page := rep.index(figs, tabs, files)
	files["index.md"] = md
	files["index.html"] = page
	return files, nil
}

// index writes index.md and index.html: what is there and what is
// missing, how to read it, every figure with its caption and the runs
// behind it, every table.
func (rep *paper) index(figs []*figure, tabs []*table, files map[string][]byte) (md, page []byte) {
	var m, h bytes.Buffer
	esc := html.EscapeString
	title := "Report: " + rep.Experiment
	fmt.Fprintf(&m, "# %s\n\n", title)
	fmt.Fprintf(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n", esc(title))
	live := rep.live > 0 && rep.Outcomes[report.Missing] > 0
	if live {
		// Only while runs have not ended: the report of a complete grid
		// is the same with and without -watch.
		fmt.Fprintf(&h, "<meta http-equiv=\"refresh\" content=\"%d\">\n", rep.liveSeconds())
	}
	h.WriteString("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}" +
		"img{max-width:100%;border:1px solid #ddd}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}" +
		"td,th{border-bottom:1px solid #ddd;padding:2px 8px}td.r,th.r{text-align:right}figure{margin:2em 0}" +
		"figcaption{font-size:0.9em;color:#333}p.warn{border-left:4px solid #d55e00;background:#fdf1e8;padding:0.5em 1em}</style>\n</head>\n<body>\n")
	fmt.Fprintf(&h, "<h1>%s</h1>\n", esc(title))

	para := func(s string) {
		fmt.Fprintf(&m, "%s\n\n", s)
		fmt.Fprintf(&h, "<p>%s</p>\n", esc(s))
	}
	list := func(items []string) {
		if len(items) == 0 {
			return
		}
		h.WriteString("<ul>\n")
		for _, it := range items {
			fmt.Fprintf(&m, "- %s\n", it)
			fmt.Fprintf(&h, "<li>%s</li>\n", esc(it))
		}
		m.WriteString("\n")
		h.WriteString("</ul>\n")
	}
	warn := func(s string) {
		fmt.Fprintf(&m, "**Warning:** %s\n\n", s)
		fmt.Fprintf(&h, "<p class=\"warn\"><strong>Warning:</strong> %s</p>\n", esc(s))
	}
	heading := func(level int, s string) {
		fmt.Fprintf(&m, "%s %s\n\n", strings.Repeat("#", level), s)
		fmt.Fprintf(&h, "<h%d>%s</h%d>\n", level, esc(s), level)
	}

	heading(2, "What is there")
	para(rep.statusLine() + ".")
	if live {
		fmt.Fprintf(&h, "<p class=\"live\">Live: report -watch regenerates this report when the database changes, and this page reloads every %d s until every run has ended.</p>\n", rep.liveSeconds())
	}
	if len(rep.parts) > 0 {
		para(rep.compareNote())
		list(rep.parts)
	}
	var notes []string
	o := rep.Outcomes
	if o[report.Missing] > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d runs have not ended yet: this report shows what is there; run it again when the grid is done.", o[report.Missing], len(rep.Runs)))
	}
	if o[report.Diverged] > 0 {
		notes = append(notes, fmt.Sprintf("%d runs diverged (non-finite or exploding loss); they count as chance accuracy.", o[report.Diverged]))
	}
	if o[report.AtChance] > 0 {
		notes = append(notes, fmt.Sprintf("%d runs finished without a NaN but at chance accuracy (collapsed): they count as failures in the stability range.", o[report.AtChance]))
	}
	if o[report.Failed] > 0 {
		notes = append(notes, fmt.Sprintf("%d runs failed with an error and are left out of every statistic; `runner run -retry-failed` may retry them.", o[report.Failed]))
	}
	for _, u := range rep.Unknown {
		notes = append(notes, fmt.Sprintf("Dataset %q has no known chance level: 0 is used.", u))
	}
	if n := rep.LastFallbacks; n > 0 {
		notes = append(notes, fmt.Sprintf("%d done runs have no evaluation in their tail window (recorded before the tail metrics existed, or evaluated too rarely): their final accuracy is their last evaluation.", n))
	}
	list(notes)
	for _, w := range rep.spreadWarnings() {
		warn(w)
	}
	var fails []string
	for _, r := range rep.Runs {
		if r.Outcome == report.Failed && len(fails) < 10 {
			msg := r.Error
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
			fails = append(fails, fmt.Sprintf("run %d (%s %s c=%s lr=%s seed %d): %s", r.ID, r.Arch, r.Method, fmtNum(r.Threshold), fmtNum(r.LR), r.Seed, msg))
		}
	}
	if len(fails) > 0 {
		heading(3, "Failed runs")
		list(fails)
		if o[report.Failed] > len(fails) {
			para(fmt.Sprintf("… and %d more.", o[report.Failed]-len(fails)))
		}
	}

	heading(2, "How to read it")
	list([]string{
		"A setting is a configuration without its seed: architecture × method (with its options) × threshold × learning rate × any other field of the grid. Statistics are over its seeds.",
		rep.metricNote() + " One step at a high learning rate can swing a run's last evaluation by several points (issue 17); the tail mean is what every table and figure shows unless the report is made with -metric last.",
		"Chance level: mnist 0.1, temporal-order 0.25, addition 0.64 (predicting 0.5 always solves 64% of sequences), modular 1/modulus, copy vocab^−seq_len (a whole sequence guessed). A done run trains when its final test accuracy is above chance + 10% of the way to 1; otherwise it collapsed to chance.",
		"Accuracy statistics are over the seeds that ended (done or diverged); a diverged seed counts as chance accuracy. Failed and unfinished runs are left out and counted above.",
		fmt.Sprintf("Steps to target: the first test evaluation at or above %.3g (as AlgoPerf counts it); a setting's value is the median over its seeds, ∞ when at least half never reach it.", rep.Target),
		"Best setting of a method: the highest mean final accuracy on the fixed training sample, the stand-in for validation accuracy (the datasets have no separate validation split), so that the test accuracy reported is not the one it was chosen on.",
		"Stable: at least two thirds of the seeds that ended train.",
		fmt.Sprintf("Δ vs none: the difference in mean accuracy from method none at the same architecture, learning rate and other fields, with a 95%% percentile bootstrap interval (%d resamples, paired by seed, seeded so that it is the same every time).", report.BootstrapResamples),
	})

	heading(2, "Figures")
	for _, f := range figs {
		heading(3, f.Title)
		png := f.Name + ".png"
		fmt.Fprintf(&m, "![%s](%s)\n\n%s *%d runs.* [SVG](%s.svg) · [PDF](%s.pdf)\n\n", f.Title, png, f.caption(), f.Runs, f.Name, f.Name)
		fmt.Fprintf(&h, "<figure>\n<img alt=\"%s\" src=\"data:image/png;base64,%s\">\n<figcaption>%s <em>%d runs.</em> <a href=\"%s.svg\">SVG</a> · <a href=\"%s.pdf\">PDF</a></figcaption>\n</figure>\n",
			esc(f.Title), base64.StdEncoding.EncodeToString(files[png]), esc(f.caption()), f.Runs, esc(f.Name), esc(f.Name))
	}

	heading(2, "Tables")
	for _, t := range tabs {
		heading(3, t.Title)
		para(fmt.Sprintf("%s %d runs.", t.Caption, t.Runs))
		m.Write(t.markdown())
		fmt.Fprintf(&m, "\n[CSV](%s.csv) · [LaTeX](%s.tex)\n\n", t.Name, t.Name)
		h.WriteString("<table>\n<tr>")
		for i, c := range t.Header {
			fmt.Fprintf(&h, "<th%s>%s</th>", cls(t.Right[i]), esc(c))
		}
		h.WriteString("</tr>\n")
		for i, row := range t.Rows {
			h.WriteString("<tr>")
			for j, c := range row {
				c = esc(c)
				if t.Bold[i][j] && c != "" {
					c = "<b>" + c + "</b>"
				}
				fmt.Fprintf(&h, "<td%s>%s</td>", cls(t.Right[j]), c)
			}
			h.WriteString("</tr>\n")
		}
		fmt.Fprintf(&h, "</table>\n<p><a href=\"%s.csv\">CSV</a> · <a href=\"%s.tex\">LaTeX</a></p>\n", esc(t.Name), esc(t.Name))
	}
	h.WriteString("</body>\n</html>\n")
	return m.Bytes(), h.Bytes()
}

// liveSeconds is how often index.html reloads under -watch: rep.live in
// whole seconds, at least 1.
func (rep *paper) liveSeconds() int {
	return max(1, int(math.Ceil(rep.live.Seconds())))
}

// spreadWarnings says, per workload, when the seed spread of settings is
// larger than the smallest difference the settings table reports as
// significant (a Δ interval that excludes 0).
func (rep *paper) spreadWarnings() []string {
	var out []string
	for _, sw := range rep.SpreadWarnings() {
		sm := sw.Smallest
		var worst []string
		for _, s := range sw.Noisy[:min(3, len(sw.Noisy))] {
			worst = append(worst, fmt.Sprintf("%s lr=%s: std %s over %d seeds", rep.SettingName(s), fmtNum(s.LR), num(s.AccStd, 3), s.Ended))
		}
		more := ""
		if len(sw.Noisy) > 3 {
			more = fmt.Sprintf(", and %d more", len(sw.Noisy)-3)
		}
		out = append(out, fmt.Sprintf("%s: the seed spread of %d settings (%s%s) is larger than %s, the smallest difference from no clipping that the settings table reports as significant (%s lr=%s: %s [%s, %s] over %d seeds). One seed more or less can move a mean by that much, and a bootstrap interval over few seeds is too narrow: read such differences as tentative and add seeds before drawing conclusions.",
			rep.Workloads[sw.Workload].Name, len(sw.Noisy), strings.Join(worst, "; "), more, num(math.Abs(sm.Delta), 3),
			rep.SettingName(sm), fmtNum(sm.LR), signed(sm.Delta, 3), signed(sm.DeltaLo, 3), signed(sm.DeltaHi, 3), sm.Ended))
	}
	return out
}

func cls(right bool) string {
	if right {
		return ` class="r"`
	}
	return ""
}
