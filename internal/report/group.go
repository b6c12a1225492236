// Grouping runs into settings, series and workloads, from the typed
// configurations.

package report

import (
	"fmt"
	"sort"
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

	// Workloads: architecture × dataset, sorted by name.
	wl := map[[2]string]int{}
	var wkeys [][2]string
	for _, s := range rep.Settings {
		k := [2]string{s.Arch, s.Dataset}
		if _, ok := wl[k]; !ok {
			wl[k] = 0
			wkeys = append(wkeys, k)
		}
	}
	sort.Slice(wkeys, func(i, j int) bool {
		if wkeys[i][0] != wkeys[j][0] {
			return wkeys[i][0] < wkeys[j][0]
		}
		return wkeys[i][1] < wkeys[j][1]
	})
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
	chances := map[[2]string]chance{}
	for _, s := range rep.Settings {
		k := [2]string{s.Arch, s.Dataset}
		p, ok := Chance(s.Dataset, s.Config.Data)
		if prev, seen := chances[k]; seen && (prev.p != p || !prev.known) {
			ok = false
		}
		chances[k] = chance{p, ok}
	}
	for i, k := range wkeys {
		wl[k] = i
		ch, ok := chances[k].p, chances[k].known
		name := k[0]
		if len(datasets) > 1 {
			name += " on " + k[1]
		}
		rep.Workloads = append(rep.Workloads, Workload{Arch: k[0], Dataset: k[1], Chance: ch, ChanceKnown: ok, Name: name})
	}
	for _, s := range rep.Settings {
		s.Series = seriesOf[[2]string{s.Method, optOf[s]}]
		s.Workload = wl[[2]string{s.Arch, s.Dataset}]
	}

	// Extra: settings that share every shown field (workload, series,
	// threshold, lr) are told apart by the other axes on which they differ.
	type shown struct {
		w, series int
		th, lr    string
	}
	collide := map[shown][]*Setting{}
	for _, s := range rep.Settings {
		k := shown{s.Workload, s.Series, FmtNum(s.Threshold), FmtNum(s.LR)}
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
