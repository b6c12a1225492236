// Grouping runs into settings, series and workloads, from the typed
// configurations.

package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
)

// group sorts the runs into settings (by config.SettingKey), series and
// workloads, and finds each setting's baseline.
func (rep *Report) group(cfgs map[string]config.Config) error {
	byKey := map[string]*Setting{}
	for _, r := range rep.Runs {
		if r.SettingKey == "" {
			return fmt.Errorf("experiment %s: run %d: no setting key (its config_json does not decode)", rep.Experiment, r.ID)
		}
		s := byKey[r.SettingKey]
		if s == nil {
			c, ok := cfgs[r.SettingKey]
			if !ok {
				return fmt.Errorf("experiment %s: run %d: no configuration for setting %.12s", rep.Experiment, r.ID, r.SettingKey)
			}
			c.Seed = 0
			s = &Setting{Key: r.SettingKey, Config: c, Arch: c.ArchName, Dataset: c.Dataset, Optimizer: c.Optimizer.Name,
				Method: c.Clip.Method, Threshold: thresholdOf(c.Clip), LR: c.LR}
			byKey[r.SettingKey] = s
			rep.Settings = append(rep.Settings, s)
		}
		s.Runs = append(s.Runs, r)
	}
	for _, s := range rep.Settings {
		sort.SliceStable(s.Runs, func(i, j int) bool { return s.Runs[i].Seed < s.Runs[j].Seed })
	}

	// Series: methods in clipalgo.Methods() order, then options.
	optOf := varyingOptions(rep.Settings)
	seriesOf := map[[2]string]int{}
	var keys [][2]string
	for _, s := range rep.Settings {
		k := [2]string{s.Method, optOf[s]}
		if _, ok := seriesOf[k]; !ok {
			seriesOf[k] = 0
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := clipalgo.Rank(keys[i][0]), clipalgo.Rank(keys[j][0])
		if a != b {
			return a < b
		}
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	variant := map[string]int{}
	for i, k := range keys {
		seriesOf[k] = i
		name := k[0]
		if k[1] != "" {
			name += " (" + k[1] + ")"
		}
		rep.Series = append(rep.Series, Series{Method: k[0], Options: k[1], Name: name, Base: name, Rank: clipalgo.Rank(k[0]), Variant: variant[k[0]]})
		variant[k[0]]++
	}

	// Workloads: architecture × dataset × the values of the workload axes
	// (WorkloadAxes: seq_len 20 and 50 are two problems, as two
	// architectures are), sorted by architecture, dataset, then those values.
	waxes := WorkloadAxes(rep.Settings)
	wkeyOf := func(s *Setting) [3]string {
		parts := make([]string, len(waxes))
		for i, a := range waxes {
			parts[i] = a + "=" + s.Config.AxisValue(a)
		}
		return [3]string{s.Arch, s.Dataset, strings.Join(parts, " ")}
	}
	wl := map[[3]string]int{}
	var wkeys [][3]string
	for _, s := range rep.Settings {
		k := wkeyOf(s)
		if _, ok := wl[k]; !ok {
			wl[k] = 0
			wkeys = append(wkeys, k)
		}
	}
	sort.Slice(wkeys, func(i, j int) bool { return lessWorkload(wkeys[i], wkeys[j]) })
	datasets := map[string]bool{}
	for _, k := range wkeys {
		datasets[k[1]] = true
	}
	// A workload's chance is its settings' when they agree (modular runs
	// of different moduli do not).
	type chance struct {
		p     float64
		known bool
	}
	chances := map[[3]string]chance{}
	for _, s := range rep.Settings {
		k := wkeyOf(s)
		p, ok := Chance(s.Dataset, s.Config.Data)
		if prev, seen := chances[k]; seen && (prev.p != p || !prev.known) {
			ok = false
		}
		chances[k] = chance{p, ok}
	}
	for i, k := range wkeys {
		wl[k] = i
		ch, ok := chances[k].p, chances[k].known
		rep.Workloads = append(rep.Workloads, Workload{Arch: k[0], Dataset: k[1], Extra: k[2], Chance: ch, ChanceKnown: ok,
			Name: workloadName(k[0], k[1], k[2], len(datasets) > 1)})
	}
	for _, s := range rep.Settings {
		s.Series = seriesOf[[2]string{s.Method, optOf[s]}]
		s.Workload = wl[wkeyOf(s)]
	}

	// Extra: settings that share every shown field (workload, series,
	// threshold, lr) are told apart by the other axes on which they differ.
	// The workload axes count here too, so that the tables, which name a
	// setting by its architecture, still tell seq_len 20 from 50.
	type shown struct {
		arch, dataset string
		series        int
		th, lr        string
	}
	collide := map[shown][]*Setting{}
	for _, s := range rep.Settings {
		k := shown{s.Arch, s.Dataset, s.Series, FmtNum(s.Threshold), FmtNum(s.LR)}
		collide[k] = append(collide[k], s)
	}
	for _, group := range collide {
		if len(group) < 2 {
			continue
		}
		var axes []string
		for _, a := range config.Axes {
			switch a {
			case "arch", "lr", "clip", "seed":
				continue
			}
			for _, t := range group[1:] {
				if t.Config.AxisValue(a) != group[0].Config.AxisValue(a) {
					axes = append(axes, a)
					break
				}
			}
		}
		sort.Strings(axes)
		for _, s := range group {
			parts := make([]string, len(axes))
			for i, a := range axes {
				parts[i] = a + "=" + s.Config.AxisValue(a)
			}
			s.Extra = strings.Join(parts, " ")
		}
	}

	rep.sortSettings()

	// Baselines: the same configuration with method none.
	none := clipalgo.Spec{Method: "none"}.Normalize()
	for _, s := range rep.Settings {
		if s.Method == "none" {
			continue
		}
		c := s.Config
		c.Clip = none
		s.Baseline = byKey[c.SettingKey()]
	}
	return nil
}

// workloadAxesSkip are the axes that never split workloads: those a setting
// is named by (arch, lr, clip, seed), and those that figures of their own
// draw as a dimension (the privacy figure's ε and σ, the deployed-cost
// figures' pruning and quantisation), which a workload per value would
// leave one point a panel.
var workloadAxesSkip = map[string]bool{
	"arch": true, "lr": true, "clip": true, "seed": true,
	"noise_multiplier": true, "target_epsilon": true, "delta": true, "sampling": true,
	"prune": true, "quantize": true,
}

// WorkloadAxes returns the axes (in the order of config.Axes) on which the
// settings differ besides those of workloadAxesSkip: each value of them is
// a workload of its own, as each architecture is, so that a best setting
// per method is chosen per value and never folds one value into another
// (Pascanu et al.'s seq_len 20 and 50).
func WorkloadAxes(ss []*Setting) []string {
	if len(ss) == 0 {
		return nil
	}
	var out []string
	for _, a := range config.Axes {
		if workloadAxesSkip[a] {
			continue
		}
		v := ss[0].Config.AxisValue(a)
		for _, s := range ss[1:] {
			if s.Config.AxisValue(a) != v {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// lessWorkload orders workload keys (arch, dataset, extra axes) by
// architecture, dataset, then the values of the extra axes, numbers as
// numbers (seq_len=20 before seq_len=100).
func lessWorkload(a, b [3]string) bool {
	if a[0] != b[0] {
		return a[0] < b[0]
	}
	if a[1] != b[1] {
		return a[1] < b[1]
	}
	pa, pb := strings.Fields(a[2]), strings.Fields(b[2])
	for i := range min(len(pa), len(pb)) {
		if pa[i] == pb[i] {
			continue
		}
		_, va, _ := strings.Cut(pa[i], "=")
		_, vb, _ := strings.Cut(pb[i], "=")
		x, errx := strconv.ParseFloat(va, 64)
		y, erry := strconv.ParseFloat(vb, 64)
		if errx == nil && erry == nil && x != y {
			return x < y
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

// workloadName is "rnn", "rnn on copy" where the report has several
// datasets, with the workload axes after it: "rnn seq_len=50".
func workloadName(arch, dataset, extra string, datasets bool) string {
	name := arch
	if datasets {
		name += " on " + dataset
	}
	if extra != "" {
		name += " " + extra
	}
	return name
}

// sortSettings puts the settings in report order: workload, series, extra
// axes, threshold, learning rate.
func (rep *Report) sortSettings() {
	sort.SliceStable(rep.Settings, func(i, j int) bool {
		a, b := rep.Settings[i], rep.Settings[j]
		switch {
		case a.Workload != b.Workload:
			return a.Workload < b.Workload
		case a.Series != b.Series:
			return a.Series < b.Series
		case a.Extra != b.Extra:
			return a.Extra < b.Extra
		case !SameNum(a.Threshold, b.Threshold):
			return lessNaNFirst(a.Threshold, b.Threshold)
		case a.LR != b.LR:
			return a.LR < b.LR
		}
		return a.Key < b.Key
	})
}

// varyingOptions returns, for each setting, the clip options its name
// shows, as "name=value" sorted and joined by spaces ("norm_type=inf"): those
// that vary among the settings of its method, and those that are constant
// but differ from the method's default (zclip's max_grad_norm=-1 in the
// demo), so that a reader does not assume the reference configuration. An
// option varies when its values differ, or when it applies to some settings
// of the method and not to others.
func varyingOptions(ss []*Setting) map[*Setting]string {
	type optKey struct{ method, option string }
	values := map[optKey]map[string]bool{} // values seen, "" for not applying
	total := map[string]int{}
	has := map[optKey]int{}
	text := func(s *Setting, name string) (string, bool) {
		if !s.Config.Clip.Given(name) {
			return "", false
		}
		v, _ := s.Config.Clip.Option(name)
		return clipalgo.FormatValue(v), true
	}
	names := func(method string) []string {
		if m, ok := clipalgo.Lookup(method); ok {
			return m.OptionNames()
		}
		return nil
	}
	for _, s := range ss {
		total[s.Method]++
		for _, n := range names(s.Method) {
			v, ok := text(s, n)
			if !ok {
				continue
			}
			k := optKey{s.Method, n}
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
			has[k]++
		}
	}
	out := make(map[*Setting]string, len(ss))
	for _, s := range ss {
		var parts []string
		for _, n := range names(s.Method) {
			v, ok := text(s, n)
			k := optKey{s.Method, n}
			if ok && (len(values[k]) > 1 || has[k] < total[s.Method] || v != DefaultText(s.Method, n)) {
				parts = append(parts, n+"="+v)
			}
		}
		sort.Strings(parts)
		out[s] = strings.Join(parts, " ")
	}
	return out
}

// DefaultText is the default of method's option name as a normalized
// configuration holds it, formatted as clipalgo.FormatValue does; "" for an
// unknown method or option.
func DefaultText(method, name string) string {
	m, ok := clipalgo.Lookup(method)
	if !ok {
		return ""
	}
	o := m.Option(name)
	if o == nil {
		return ""
	}
	v := o.Default
	if o.Normalize != nil {
		v = o.Normalize(v)
	}
	return clipalgo.FormatValue(v)
}
