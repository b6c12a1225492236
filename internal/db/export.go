// runner export's table: one row per run, its run_summary columns, its
// provenance and its whole configuration flattened into columns.

package db

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
)

// Table is a flat table. A value is nil (SQL NULL, or a field the run's
// configuration does not have), int64, float64 (NaN and ±Inf included),
// string, bool, or a slice of those (a list in the configuration, e.g.
// arch_spec.hidden).
type Table struct {
	Columns []string
	Rows    [][]any
}

// exportRunColumns are the runs columns Export adds after run_summary's.
var exportRunColumns = []string{"attempt", "created_at", "started_at", "finished_at",
	"cliplab_version", "vcs_revision", "go_version", "host", "blas_core", "cpu_model"}

// Export returns one row per run of experiment (every experiment if empty),
// by run id: every run_summary column (its final and tail metrics
// included, and whatever columns the view gains), then exportRunColumns,
// then each field of the run's resolved configuration as a column named by
// its JSON path (data.train_size, arch_spec.hidden, optimizer.momentum,
// clip.method, clip.norm_type, tail_fraction …; see flattenConfig). A
// configuration field that duplicates a run_summary column (arch, lr, seed
// …) is left out. A run whose config_json does not decode has NULL there.
func (d *DB) Export(ctx context.Context, experiment string) (*Table, error) {
	q := "SELECT s.*, r." + strings.Join(exportRunColumns, ", r.") + `, r.config_json
		FROM run_summary s JOIN runs r ON r.id = s.run_id
		WHERE ? = '' OR s.experiment = ? ORDER BY s.run_id`
	rows, err := d.r.QueryContext(ctx, q, experiment, experiment)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	cols = cols[:len(cols)-1] // config_json: flattened below
	var (
		fixed   [][]any
		configs []map[string]any
		names   []string // configuration columns, in first-seen order
		known   = map[string]bool{}
	)
	for _, c := range cols {
		known[c] = true
	}
	for rows.Next() {
		vals := make([]any, len(cols)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		m := map[string]any{}
		if js, ok := vals[len(cols)].(string); ok {
			if c, err := config.DecodeConfig([]byte(js)); err == nil {
				for _, f := range flattenConfig(c) {
					if known[f.name] {
						continue
					}
					m[f.name] = f.value
					if !f.omitted && !slices.Contains(names, f.name) {
						names = append(names, f.name)
					}
				}
			}
		}
		fixed = append(fixed, vals[:len(cols)])
		configs = append(configs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	t := &Table{Columns: append(slices.Clip(cols), names...)}
	for i, row := range fixed {
		for _, n := range names {
			row = append(row, configs[i][n])
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// field is one column of a flattened configuration.
type field struct {
	name  string
	value any
	// omitted: the canonical JSON leaves the field out (omitempty, zero),
	// as it does for what an architecture or optimizer does not use
	// (kernel of an mlp, momentum of sgd). Export drops a column that no
	// row has otherwise; where some row has it, the others show their zero.
	omitted bool
}

// flattenConfig lists every field of c as a column named by its JSON path
// in the canonical configuration, zero values included and marked omitted
// where the canonical JSON leaves them out (a table needs drop_last false
// beside drop_last true), with three resolutions: tail_fraction is the fraction in force
// (config.Config.Tail: 0 stands for the default), spike_z likewise
// (config.Config.Spike), and clip is clip.method,
// clip.threshold (nil for a method that takes none) and every option the
// method declares as clip.<option>, its default where not given.
func flattenConfig(c config.Config) []field {
	var out []field
	// absent: v is the zero value standing for a nil pointer's struct,
	// whose fields the run does not have (nil), rather than zero.
	var walk func(prefix string, v reflect.Value, absent bool)
	walk = func(prefix string, v reflect.Value, absent bool) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			name = prefix + name
			fv, absent := v.Field(i), absent
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					absent = true
					fv = reflect.Zero(fv.Type().Elem())
				} else {
					fv = fv.Elem()
				}
			}
			switch {
			case fv.Type() == reflect.TypeOf(clipalgo.Spec{}):
				out = append(out, clipFields(name, fv.Interface().(clipalgo.Spec))...)
			case fv.Kind() == reflect.Struct:
				walk(name+".", fv, absent)
			case absent:
				out = append(out, field{name, nil, true})
			case name == "tail_fraction":
				f, _ := c.Tail()
				out = append(out, field{name, f, false})
			case name == "spike_z":
				out = append(out, field{name, c.Spike(), false})
			default:
				omitted := slices.Contains(strings.Split(opts, ","), "omitempty") && (fv.IsZero() || fv.Kind() == reflect.Slice && fv.Len() == 0)
				out = append(out, field{name, plain(fv), omitted})
			}
		}
	}
	walk("", reflect.ValueOf(c), false)
	return out
}

// clipFields are the columns of a clip spec under prefix.
func clipFields(prefix string, s clipalgo.Spec) []field {
	out := []field{{prefix + ".method", s.Method, false}}
	m, ok := clipalgo.Lookup(s.Method)
	var th any
	if ok && m.Threshold.Takes {
		th = s.Threshold
	}
	out = append(out, field{prefix + ".threshold", th, false})
	if ok {
		for _, o := range m.Options {
			v, _ := s.Option(o.Name)
			out = append(out, field{prefix + "." + o.Name, v, false})
		}
	}
	return out
}

// plain converts a configuration value to the kinds Table holds.
func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint())
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	}
	return fmt.Sprint(v.Interface())
}
