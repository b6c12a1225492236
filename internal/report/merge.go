// Comparing experiments (issue 14): several reports merged into one whose
// series are each experiment's, so that every figure overlays them.

package report

import (
	"fmt"
	"slices"
	"sort"

	"cliplab/internal/record"
)

// Merge returns one report that overlays reps, the reports of the
// experiments labelled labels (in that order), under the name name. Each
// series of each report becomes a series of the merge named "LABEL: NAME"
// (Base keeps NAME, Experiment the report's index): a method keeps its
// colour across experiments and the experiments differ in its variant
// (dash and marker). Workloads are the union of the reports' by
// architecture and dataset. Settings keep their statistics and baselines,
// which stay within their experiment. Merge takes reps over: their
// settings are re-indexed in place.
//
// Merge panics if reps and labels differ in length or reps is empty, or
// if the reports differ in target or metric.
func Merge(name string, reps []*Report, labels []string) *Report {
	if len(reps) == 0 || len(reps) != len(labels) {
		panic(fmt.Sprintf("report: Merge of %d reports with %d labels", len(reps), len(labels)))
	}
	out := &Report{Experiment: name, Experiments: slices.Clone(labels), Target: reps[0].Target, Metric: reps[0].Metric, ByStatus: map[record.Status]int{}}
	for _, r := range reps[1:] {
		if r.Target != out.Target || r.Metric != out.Metric {
			panic("report: Merge of reports with different targets or metrics")
		}
	}

	// Series: by method, options, then experiment.
	type from struct{ e, i int }
	var keys []from
	for e, r := range reps {
		for i := range r.Series {
			keys = append(keys, from{e, i})
		}
	}
	sort.SliceStable(keys, func(a, b int) bool {
		x, y := reps[keys[a].e].Series[keys[a].i], reps[keys[b].e].Series[keys[b].i]
		switch {
		case x.Rank != y.Rank:
			return x.Rank < y.Rank
		case x.Method != y.Method:
			return x.Method < y.Method
		case x.Options != y.Options:
			return x.Options < y.Options
		}
		return keys[a].e < keys[b].e
	})
	seriesOf := map[from]int{}
	variant := map[string]int{}
	for k, f := range keys {
		se := reps[f.e].Series[f.i]
		se.Experiment, se.Base = f.e, se.Name
		se.Name = labels[f.e] + ": " + se.Name
		se.Variant = variant[se.Method]
		variant[se.Method]++
		out.Series = append(out.Series, se)
		seriesOf[f] = k
	}

	// Workloads: the union, sorted by architecture then dataset; a chance
	// level that the experiments do not agree on is unknown.
	type wkey struct{ arch, dataset, extra string }
	wls := map[wkey]Workload{}
	var wkeys []wkey
	datasets := map[string]bool{}
	for _, r := range reps {
		for _, w := range r.Workloads {
			k := wkey{w.Arch, w.Dataset, w.Extra}
			datasets[w.Dataset] = true
			prev, seen := wls[k]
			if !seen {
				wkeys = append(wkeys, k)
				wls[k] = w
				continue
			}
			if prev.Chance != w.Chance || !w.ChanceKnown {
				prev.ChanceKnown = false
				wls[k] = prev
			}
		}
	}
	sort.Slice(wkeys, func(i, j int) bool {
		return lessWorkload([3]string{wkeys[i].arch, wkeys[i].dataset, wkeys[i].extra}, [3]string{wkeys[j].arch, wkeys[j].dataset, wkeys[j].extra})
	})
	wlOf := map[wkey]int{}
	for i, k := range wkeys {
		w := wls[k]
		w.Name = workloadName(k.arch, k.dataset, k.extra, len(datasets) > 1)
		out.Workloads = append(out.Workloads, w)
		wlOf[k] = i
	}

	unknown := map[string]bool{}
	for e, r := range reps {
		for _, s := range r.Settings {
			w := r.Workloads[s.Workload]
			s.Series = seriesOf[from{e, s.Series}]
			s.Workload = wlOf[wkey{w.Arch, w.Dataset, w.Extra}]
			out.Settings = append(out.Settings, s)
		}
		out.Runs = append(out.Runs, r.Runs...)
		for st, n := range r.ByStatus {
			out.ByStatus[st] += n
		}
		for i, n := range r.Outcomes {
			out.Outcomes[i] += n
		}
		out.LastFallbacks += r.LastFallbacks
		for _, u := range r.Unknown {
			unknown[u] = true
		}
		for _, f := range r.TailFractions {
			if !slices.Contains(out.TailFractions, f) {
				out.TailFractions = append(out.TailFractions, f)
			}
		}
	}
	for u := range unknown {
		out.Unknown = append(out.Unknown, u)
	}
	sort.Strings(out.Unknown)
	sort.Float64s(out.TailFractions)
	out.sortSettings()
	return out
}
