package db

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
)

// runAxesView is the run_axes view: one row per run (run_id, experiment,
// setting_key) and one column per field of the resolved configuration that
// run_summary has no column for (issue 13 section 3), read from config_json
// with json_extract, so that GROUP BY over run_summary JOIN run_axes never
// pools settings that differ only there. It is generated from
// config.Config's JSON tags and clipalgo's registry (axisColumns); like
// run_summary it is rebuilt only when a migration runs, so a new
// configuration field or clip option gets its column with an appended
// migration. Its columns are a contract (README, "The database").
var runAxesView = buildRunAxesView()

// summaryAxes are the configuration fields run_summary has as columns.
var summaryAxes = []string{"dataset", "arch", "lr", "batch_size", "epochs", "seed",
	"clip.method", "clip.threshold", "optimizer.name",
	"dp.noise_multiplier", "dp.delta", "dp.sampling"}

// axis is one column of run_axes: its name and the JSON path in config_json.
type axis struct{ col, path string }

// axisColumns lists run_axes's configuration columns in config.Config's
// field order. A column is named by the field's JSON path with dots as
// underscores (optimizer_momentum, lr_schedule_warmup, dp_target_epsilon),
// except that data's and arch_spec's fields go by their own names
// (train_size, seq_len, d_model, heads; arch_spec.type is arch_type), and a
// clip option is clip_<option> (clip_norm_type, clip_beta: one column for
// an option name that several methods declare).
func axisColumns() []axis {
	var out []axis
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			path := prefix + name
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft == reflect.TypeOf(clipalgo.Spec{}):
				var seen []string
				for _, m := range clipalgo.Methods() {
					for _, o := range m.Options {
						if !slices.Contains(seen, o.Name) {
							seen = append(seen, o.Name)
							out = append(out, axis{"clip_" + o.Name, path + "." + o.Name})
						}
					}
				}
			case ft.Kind() == reflect.Struct:
				walk(path+".", ft)
			case slices.Contains(summaryAxes, path):
			default:
				col := strings.ReplaceAll(path, ".", "_")
				switch {
				case path == "arch_spec.type":
					col = "arch_type"
				case strings.HasPrefix(path, "data."), strings.HasPrefix(path, "arch_spec."):
					col = name
				}
				out = append(out, axis{col, path})
			}
		}
	}
	walk("", reflect.TypeOf(config.Config{}))
	return out
}

func buildRunAxesView() string {
	var b strings.Builder
	b.WriteString("\n-- run_axes: one row per run, the configuration fields run_summary has no column for.\n")
	b.WriteString("CREATE VIEW run_axes AS\nSELECT\n\tr.id AS run_id, r.experiment, r.setting_key")
	for _, a := range axisColumns() {
		expr := fmt.Sprintf("json_extract(r.config_json, '$.%s')", a.path)
		if a.path == "tail_fraction" {
			// 0 (left out of the JSON) stands for the default: the fraction in force
			expr = fmt.Sprintf("coalesce(nullif(%s, 0), %v)", expr, config.DefaultTailFraction)
		}
		fmt.Fprintf(&b, ",\n\t%s AS %s", expr, a.col)
	}
	b.WriteString("\nFROM runs r;\n")
	return b.String()
}
