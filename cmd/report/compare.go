// The tables of a comparison (report -experiment a,b or several -db): one
// row per setting, method or threshold, and a group of columns per
// experiment.

package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/report"
)

// compareNote says which experiments a comparison overlays and how to tell
// them apart.
func (rep *paper) compareNote() string {
	return fmt.Sprintf("Experiments compared: %s. Every series is named \"EXPERIMENT: method\"; a method keeps its colour in every experiment, whose series differ in dash and marker; tables give a group of columns per experiment. Statistics, baselines (Δ vs none) and best settings stay within their experiment.",
		strings.Join(rep.Experiments, ", "))
}

// pivotKey is a row of a comparison table: what the experiments share.
type pivotKey struct {
	w     int
	base  string
	extra string
	th    string
	lr    string
}

// pivot groups items by key, in report order (workload, series of the
// first experiment that has it, extra, threshold, lr), each row holding an
// item per experiment (nil where the experiment has none).
type pivot[T any] struct {
	keys  []pivotKey
	cells map[pivotKey][]T
	order map[pivotKey][3]float64 // base rank, threshold, lr
}

func newPivot[T any]() *pivot[T] {
	return &pivot[T]{cells: map[pivotKey][]T{}, order: map[pivotKey][3]float64{}}
}

// add puts v at key for experiment e of n; rank orders bases (the lowest
// series index), th and lr order rows within a base.
func (p *pivot[T]) add(k pivotKey, e, n int, v T, rank int, th, lr float64) {
	if _, ok := p.cells[k]; !ok {
		p.keys = append(p.keys, k)
		p.cells[k] = make([]T, n)
		p.order[k] = [3]float64{float64(rank), th, lr}
	}
	if o := p.order[k]; float64(rank) < o[0] {
		o[0] = float64(rank)
		p.order[k] = o
	}
	p.cells[k][e] = v
}

func (p *pivot[T]) sort() {
	sort.SliceStable(p.keys, func(i, j int) bool {
		a, b := p.keys[i], p.keys[j]
		oa, ob := p.order[a], p.order[b]
		switch {
		case a.w != b.w:
			return a.w < b.w
		case oa[0] != ob[0]:
			return oa[0] < ob[0]
		case a.base != b.base:
			return a.base < b.base
		case a.extra != b.extra:
			return a.extra < b.extra
		case !sameNum(oa[1], ob[1]):
			return math.IsNaN(oa[1]) || oa[1] < ob[1]
		}
		return oa[2] < ob[2]
	})
}

// compareColumns appends, for each experiment, cols headed "EXPERIMENT:
// col" to t's header.
func (rep *paper) compareColumns(t *table, cols []string, best []int, csvCols []string) {
	for _, e := range rep.Experiments {
		for i, c := range cols {
			t.Header = append(t.Header, e+": "+c)
			t.Right = append(t.Right, true)
			t.Best = append(t.Best, best[i])
		}
		for _, c := range csvCols {
			t.CSVHeader = append(t.CSVHeader, e+":"+c)
		}
	}
}

// compareSettingsTable: one row per setting shared by name (architecture,
// method, threshold, learning rate), a group of columns per experiment.
func (rep *paper) compareSettingsTable() *table {
	t := &table{
		Name:  "table-settings",
		Title: "Every setting, per experiment",
		Caption: fmt.Sprintf("Per architecture, method, threshold and learning rate, for each experiment: final test accuracy, mean ± std over the seeds that ended (a diverged seed counts as chance; the mean alone for one seed); seeds diverged of those that ended; median steps to test accuracy %.3g (∞: at least half never reach it); difference in accuracy from no clipping in the same experiment with its 95%% bootstrap interval (†: from fewer than %d seeds). –: the experiment has no such setting or no ended seed. Bold: the one best value per column and architecture (none where several tie).",
			rep.Target, report.FewSeeds),
		Header:    []string{"arch", "method", "threshold", "lr"},
		Right:     []bool{false, false, true, true},
		Best:      []int{0, 0, 0, 0},
		CSVHeader: []string{"arch", "dataset", "method", "extra", "threshold", "lr"},
	}
	extra := false
	pv := newPivot[*report.Setting]()
	for _, s := range rep.Settings {
		se := rep.Series[s.Series]
		extra = extra || s.Extra != ""
		pv.add(pivotKey{s.Workload, se.Base, s.Extra, fmtNum(s.Threshold), fmtNum(s.LR)}, se.Experiment, len(rep.Experiments), s, s.Series, s.Threshold, s.LR)
	}
	pv.sort()
	if extra {
		t.Header = append(t.Header[:2], append([]string{"other"}, t.Header[2:]...)...)
		t.Right = append(t.Right[:2], append([]bool{false}, t.Right[2:]...)...)
		t.Best = append(t.Best[:2], append([]int{0}, t.Best[2:]...)...)
	}
	rep.compareColumns(t, []string{rep.accLabel(false), "diverged", fmt.Sprintf("steps to %.3g", rep.Target), "Δ vs none [95% CI]"}, []int{1, 0, -1, 1},
		[]string{"runs", "ended", "diverged", "at_chance", "acc_mean", "acc_std", "steps_to_target", "delta_vs_none", "delta_lo", "delta_hi"})
	for _, k := range pv.keys {
		wl := rep.Workloads[k.w]
		row := []string{wl.Name, k.base, k.th, k.lr}
		vals := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
		if extra {
			row = append(row[:2], append([]string{k.extra}, row[2:]...)...)
			vals = append(vals, math.NaN())
		}
		var th, lr float64
		var dataset string
		var csvCells []string
		for _, s := range pv.cells[k] {
			if s == nil {
				row = append(row, "–", "–", "–", "–")
				vals = append(vals, math.NaN(), math.NaN(), math.NaN(), math.NaN())
				csvCells = append(csvCells, "", "", "", "", "", "", "", "", "", "")
				continue
			}
			t.Runs += s.N
			th, lr, dataset = s.Threshold, s.LR, s.Dataset
			acc, div, st := "–", "–", "–"
			av, sv := math.NaN(), math.NaN()
			if s.Ended > 0 {
				acc, div, st = meanStd(s.AccMean, s.AccStd, s.Ended), fmt.Sprintf("%d/%d", s.Diverged, s.Ended), steps(s.StepsTarget)
				av, sv = round(s.AccMean, 3), s.StepsTarget
			}
			row = append(row, acc, div, st, deltaText(s))
			vals = append(vals, av, math.NaN(), sv, round(s.Delta, 3))
			csvCells = append(csvCells, strconv.Itoa(s.N), strconv.Itoa(s.Ended), strconv.Itoa(s.Diverged), strconv.Itoa(s.AtChance),
				raw(s.AccMean), raw(s.AccStd), raw(s.StepsTarget), raw(s.Delta), raw(s.DeltaLo), raw(s.DeltaHi))
		}
		t.add(row, vals, k.w, append([]string{wl.Arch, dataset, k.base, k.extra, raw(th), raw(lr)}, csvCells...))
	}
	t.markBest()
	return t
}

// add appends a row: its cells, the values bold compares, its group and
// its CSV row.
func (t *table) add(row []string, vals []float64, group int, csvRow []string) {
	t.Rows = append(t.Rows, row)
	t.Value = append(t.Value, vals)
	t.Group = append(t.Group, group)
	t.CSVRows = append(t.CSVRows, csvRow)
}

// deltaText is a setting's Δ vs none with its interval: "+0.287 [+0.040,
// +0.770]", † from fewer than report.FewSeeds seeds; "–" without baseline.
func deltaText(s *report.Setting) string {
	if math.IsNaN(s.Delta) {
		return "–"
	}
	d := signed(s.Delta, 3)
	if !math.IsNaN(s.DeltaLo) {
		d += " [" + signed(s.DeltaLo, 3) + ", " + signed(s.DeltaHi, 3) + "]"
		if s.DeltaSeeds < report.FewSeeds {
			d += "†"
		}
	}
	return d
}

// compareMethodsTable: per architecture and method, for each experiment
// its best setting by validation, its accuracy, steps to target and the
// largest stable learning rate.
func (rep *paper) compareMethodsTable() *table {
	pd := rep.ProfileData()
	t := &table{
		Name:  "table-methods",
		Title: "Time to target and stability range per method and experiment",
		Caption: fmt.Sprintf("Per architecture and method, for each experiment: the best setting by final train-sample accuracy (the stand-in for validation accuracy), its test accuracy (mean ± std), its median steps to test accuracy %.3g (∞: never) and the largest learning rate at which at least two thirds of the seeds train (over all thresholds). –: the experiment does not have the method.",
			rep.Target),
		Header:    []string{"arch", "method"},
		Right:     []bool{false, false},
		Best:      []int{0, 0},
		CSVHeader: []string{"arch", "dataset", "method"},
	}
	rep.compareColumns(t, []string{"best", rep.accLabel(false), fmt.Sprintf("steps to %.3g", rep.Target), "largest stable lr"}, []int{0, 1, -1, 1},
		[]string{"best_threshold", "best_lr", "acc_mean", "acc_std", "steps_to_target", "largest_stable_lr"})
	type cell struct {
		s      *report.Setting
		lr, th float64
	}
	pv := newPivot[*cell]()
	for i, w := range pd.Workloads {
		for j, si := range pd.Series {
			s := pd.Best[i][j]
			if s == nil {
				continue
			}
			se := rep.Series[si]
			lr, th := rep.LargestStable(w, si)
			pv.add(pivotKey{w: w, base: se.Base}, se.Experiment, len(rep.Experiments), &cell{s, lr, th}, si, 0, 0)
		}
	}
	pv.sort()
	for _, k := range pv.keys {
		wl := rep.Workloads[k.w]
		row := []string{wl.Name, k.base}
		vals := []float64{math.NaN(), math.NaN()}
		csvRow := []string{wl.Arch, wl.Dataset, k.base}
		for _, c := range pv.cells[k] {
			if c == nil {
				row = append(row, "–", "–", "–", "–")
				vals = append(vals, math.NaN(), math.NaN(), math.NaN(), math.NaN())
				csvRow = append(csvRow, "", "", "", "", "", "")
				continue
			}
			s := c.s
			t.Runs += s.N
			best := "lr " + fmtNum(s.LR)
			if !math.IsNaN(s.Threshold) {
				best = "c=" + fmtNum(s.Threshold) + ", " + best
			}
			row = append(row, best, meanStd(s.AccMean, s.AccStd, s.Ended), steps(s.StepsTarget), stableText(c.lr, c.th))
			vals = append(vals, math.NaN(), round(s.AccMean, 3), s.StepsTarget, c.lr)
			csvRow = append(csvRow, raw(s.Threshold), raw(s.LR), raw(s.AccMean), raw(s.AccStd), raw(s.StepsTarget), raw(c.lr))
		}
		t.add(row, vals, k.w, csvRow)
	}
	t.markBest()
	return t
}

// compareStabilityTable: per architecture, method and threshold, the
// largest stable learning rate in each experiment.
func (rep *paper) compareStabilityTable() *table {
	t := &table{
		Name:      "table-stability",
		Title:     "Largest stable learning rate per method, threshold and experiment",
		Caption:   "Per architecture, method and threshold, for each experiment: the largest learning rate at which at least two thirds of the seeds that ended train (finish above chance + 10% of the way to perfect accuracy; diverged and collapsed seeds do not), with the seeds that trained there. –: the experiment does not have the setting.",
		Header:    []string{"arch", "method", "threshold"},
		Right:     []bool{false, false, true},
		Best:      []int{0, 0, 0},
		CSVHeader: []string{"arch", "dataset", "method", "extra", "threshold"},
	}
	rep.compareColumns(t, []string{"largest stable lr", "trained there"}, []int{1, 0}, []string{"largest_stable_lr", "trained", "ended"})
	type cell struct{ best *report.Setting }
	pv := newPivot[*cell]()
	for w := range rep.Workloads {
		ss := rep.SettingsOf(w)
		rows, cells := rep.RowsOf(ss, report.LRsOf(ss))
		for _, k := range rows {
			c := &cell{}
			th := math.NaN()
			for _, s := range cells[k] {
				if s == nil {
					continue
				}
				t.Runs += s.N
				th = s.Threshold
				if report.Stable(s) {
					c.best = s
				}
			}
			se := rep.Series[k.Series]
			pv.add(pivotKey{w: w, base: se.Base, extra: k.Extra, th: k.Th}, se.Experiment, len(rep.Experiments), c, k.Series, th, 0)
		}
	}
	pv.sort()
	for _, k := range pv.keys {
		wl := rep.Workloads[k.w]
		name := k.base
		if k.extra != "" {
			name += " " + k.extra
		}
		row := []string{wl.Name, name, k.th}
		vals := []float64{math.NaN(), math.NaN(), math.NaN()}
		csvRow := []string{wl.Arch, wl.Dataset, k.base, k.extra, raw(pv.order[k][1])}
		for _, c := range pv.cells[k] {
			if c == nil {
				row = append(row, "–", "–")
				vals = append(vals, math.NaN(), math.NaN())
				csvRow = append(csvRow, "", "", "")
				continue
			}
			lr, there, csvT, csvE := math.NaN(), "–", "", ""
			if c.best != nil {
				lr = c.best.LR
				there = fmt.Sprintf("%d/%d", c.best.Trained, c.best.Ended)
				csvT, csvE = strconv.Itoa(c.best.Trained), strconv.Itoa(c.best.Ended)
			}
			row = append(row, stableText(lr, math.NaN()), there)
			vals = append(vals, lr, math.NaN())
			csvRow = append(csvRow, raw(lr), csvT, csvE)
		}
		t.add(row, vals, k.w, csvRow)
	}
	t.markBest()
	return t
}
