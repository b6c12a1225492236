package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"cliplab/internal/db"
)

func init() { subcommands["export"] = cmdExport }

const exportUsage = `usage: runner export [-db runs.db] [-experiment NAME] [-format csv|jsonl]

Writes one row per run to stdout, ready for pandas or R: every run_summary
column (final and tail metrics, status, error …), the run's provenance, and
every field of its resolved configuration as a column named by its path
(data.seq_len, optimizer.momentum, clip.method, clip.norm_type …). csv: a
header line, empty cells for NULL, inf/-inf for infinite numbers,
lists as JSON ([256,256]); jsonl: one JSON object per line, null for NULL
and for non-finite numbers.

  runner export -db demo.db -experiment demo > demo.csv
  python3 -c 'import pandas; print(pandas.read_csv("demo.csv").groupby(["method", "lr"]).test_acc_tail.mean())'
`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", exportUsage, stderr)
	path := fs.String("db", "runs.db", "SQLite `file` of results")
	exp := fs.String("experiment", "", "export only this `experiment` (default: every one)")
	format := fs.String("format", "csv", "csv or jsonl")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("export takes no arguments, got %q (the database is -db FILE)", fs.Args())
	}
	var write func(io.Writer, *db.Table) error
	switch *format {
	case "csv":
		write = writeCSV
	case "jsonl":
		write = writeJSONL
	default:
		return usagef("-format %q: allowed: csv, jsonl", *format)
	}
	d, err := db.Open(*path, db.Options{ReadOnly: true})
	if err != nil {
		return usageError{err}
	}
	defer d.Close()
	t, err := d.Export(ctx, *exp)
	if err != nil {
		return err
	}
	if len(t.Rows) == 0 && *exp != "" {
		names, err := d.Experiments(ctx)
		if err != nil {
			return err
		}
		return usagef("no experiment %q in %s (experiments: %s)", *exp, *path, listOrNone(names))
	}
	return write(stdout, t)
}

// writeCSV writes t as CSV with a header line (RFC 4180, as encoding/csv
// writes it).
func writeCSV(w io.Writer, t *db.Table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			rec[i] = csvCell(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell formats one value: NULL and NaN empty, ±Inf as "inf" and "-inf"
// (as report's CSV tables write them), lists as JSON.
func csvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return ""
		case math.IsInf(x, 0):
			return map[bool]string{true: "inf", false: "-inf"}[x > 0]
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	js, err := json.Marshal(jsonValue(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(js)
}

// jsonValue is v with non-finite numbers (which JSON cannot hold) as nil.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// writeJSONL writes each row of t as one JSON object, its members in the
// order of t's columns.
func writeJSONL(w io.Writer, t *db.Table) error {
	bw := bufio.NewWriter(w)
	keys := make([][]byte, len(t.Columns))
	for i, c := range t.Columns {
		k, err := json.Marshal(c)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	for _, row := range t.Rows {
		bw.WriteByte('{')
		for i, v := range row {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.Write(keys[i])
			bw.WriteByte(':')
			js, err := json.Marshal(jsonValue(v))
			if err != nil {
				return fmt.Errorf("export: column %s: %w", t.Columns[i], err)
			}
			bw.Write(js)
		}
		bw.WriteString("}\n")
	}
	return bw.Flush()
}
