package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/nn"
)

// exportDB trains testdata/e2e.yaml (8 runs of the addition task, 4 of
// them diverge) in this process and adds the untrained grid of
// slurm_short.yaml (12 runs) as a second experiment. It returns the
// database and what runner run printed on stderr.
func exportDB(t *testing.T) (path, runStderr string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "runs.db")
	code, stdout, stderr := runCode(t, "run", "-db", path, "-workers", "1", "-progress", "none", filepath.Join("testdata", "e2e.yaml"))
	if code != 0 {
		t.Fatalf("runner run: exit %d\n%s%s", code, stdout, stderr)
	}
	exp, cfgs, err := grid.Load(filepath.Join("testdata", "slurm_short.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.AddGrid(t.Context(), gridOf(exp, cfgs), false); err != nil {
		t.Fatal(err)
	}
	return path, stderr
}

// TestExport: runner export writes one row per run with every run_summary
// column, the provenance (BLAS core, CPU model) and the configuration
// flattened, in CSV and in JSON lines that agree with run_summary (issue 13
// section 3).
func TestExport(t *testing.T) {
	path, runStderr := exportDB(t)

	// This test binary carries no VCS revision (go test does not stamp
	// one), so runner run must have warned that its runs record "unknown".
	if db.CurrentProvenance().Revision == db.UnknownRevision && !strings.Contains(runStderr, `record vcs_revision "unknown"`) {
		t.Errorf("runner run with an unknown revision printed\n%s\nwant a warning naming vcs_revision", runStderr)
	}

	code, out, stderr := runCode(t, "export", "-db", path, "-experiment", "e2e")
	if code != 0 {
		t.Fatalf("runner export: exit %d\n%s", code, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("runner export output is not CSV: %v\n%s", err, out)
	}
	if len(recs) != 1+8 {
		t.Fatalf("runner export -experiment e2e: %d lines, want a header and 8 runs\n%s", len(recs), out)
	}
	header := recs[0]
	col := map[string]int{}
	for i, c := range header {
		if _, dup := col[c]; dup {
			t.Errorf("column %s appears twice", c)
		}
		col[c] = i
	}
	for _, c := range []string{
		// run_summary, tail metrics included
		"run_id", "experiment", "config_hash", "setting_key", "arch", "dataset", "optimizer", "method", "threshold",
		"lr", "batch_size", "epochs", "seed", "status", "test_acc", "test_loss", "train_acc", "train_loss", "steps",
		"wall_seconds", "train_flops", "clip_fraction", "max_grad_norm", "error",
		"test_acc_tail", "test_loss_tail", "train_acc_tail", "train_loss_tail", "tail_evals",
		// provenance
		"vcs_revision", "host", "blas_core", "cpu_model",
		// the configuration's fields (internal/db's TestExportColumns
		// checks the zero values the canonical JSON leaves out)
		"data.seq_len", "data.train_size", "data.test_size", "arch_spec.type", "arch_spec.hidden", "arch_spec.cell",
		"optimizer.name", "eval_every", "log_every", "divergence_loss", "tail_fraction",
		"clip.method", "clip.threshold", "clip.norm_type",
	} {
		if _, ok := col[c]; !ok {
			t.Errorf("no column %s in %q", c, header)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sums, err := d.RunSummaries(t.Context(), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]db.RunSummary{}
	for _, s := range sums {
		byID[strconv.FormatInt(s.ID, 10)] = s
	}
	num := func(s string) float64 {
		if s == "" {
			return math.NaN()
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Errorf("cell %q is not a number", s)
		}
		return x
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	statuses := map[string]int{}
	for _, r := range recs[1:] {
		get := func(c string) string { return r[col[c]] }
		s, ok := byID[get("run_id")]
		if !ok {
			t.Errorf("row of run %s: not in run_summary", get("run_id"))
			continue
		}
		statuses[get("status")]++
		for c, want := range map[string]float64{"test_acc": s.TestAcc, "test_loss": s.TestLoss, "test_acc_tail": s.TestAccTail,
			"train_loss_tail": s.TrainLossTail, "max_grad_norm": s.MaxGradNorm, "lr": s.LR, "threshold": s.Threshold} {
			if got := num(get(c)); !same(got, want) {
				t.Errorf("run %d: %s = %q, run_summary has %v", s.ID, c, get(c), want)
			}
		}
		for c, want := range map[string]string{
			"status": string(s.Status), "experiment": "e2e", "setting_key": s.SettingKey, "config_hash": s.ConfigHash,
			"blas_core": nn.BLASCore(), "cpu_model": db.CurrentProvenance().CPUModel,
			"data.seq_len": "10", "data.train_size": "256", "arch_spec.type": "rnn", "arch_spec.hidden": "[8]",
			"optimizer.name": "sgd", "tail_fraction": "0.05",
			"eval_every": "4", "divergence_loss": "100", "clip.method": s.Method,
		} {
			if got := get(c); got != want {
				t.Errorf("run %d: %s = %q, want %q", s.ID, c, got, want)
			}
		}
		// clip.threshold: empty for none, which takes no threshold
		if want := map[string]string{"none": "", "norm": "0.01"}[s.Method]; get("clip.threshold") != want {
			t.Errorf("run %d (%s): clip.threshold = %q, want %q", s.ID, s.Method, get("clip.threshold"), want)
		}
	}
	if statuses["done"] == 0 || statuses["diverged"] == 0 {
		t.Errorf("statuses %v: the grid should hold done and diverged runs", statuses)
	}

	// JSON lines: the same rows, members in the header's order, numbers as
	// numbers, lists as lists.
	code, out, stderr = runCode(t, "export", "-db", path, "-experiment", "e2e", "-format", "jsonl")
	if code != 0 {
		t.Fatalf("runner export -format jsonl: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("runner export -format jsonl: %d lines, want 8\n%s", len(lines), out)
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		var keys []string
		dec := json.NewDecoder(strings.NewReader(line))
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		if !slices.Equal(keys, header) {
			t.Errorf("line %d: members %q, want the CSV header %q", i+1, keys, header)
		}
		row := recs[1+i]
		if id, ok := m["run_id"].(float64); !ok || strconv.FormatFloat(id, 'g', -1, 64) != row[col["run_id"]] {
			t.Errorf("line %d: run_id %v, CSV row has %s", i+1, m["run_id"], row[col["run_id"]])
		}
		if h, ok := m["arch_spec.hidden"].([]any); !ok || len(h) != 1 || h[0] != 8.0 {
			t.Errorf("line %d: arch_spec.hidden = %#v, want [8]", i+1, m["arch_spec.hidden"])
		}
		if ta := row[col["test_acc"]]; ta == "" && m["test_acc"] != nil || ta != "" && m["test_acc"] != num(ta) {
			t.Errorf("line %d: test_acc %v, CSV has %q", i+1, m["test_acc"], ta)
		}
	}

	// Without -experiment: every experiment's runs, the untrained ones too.
	code, out, stderr = runCode(t, "export", "-db", path)
	if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); code != 0 || err != nil || len(recs) != 1+8+12 {
		t.Errorf("runner export (every experiment): exit %d, %d lines, %v\n%s; want a header and 20 runs", code, len(recs), err, stderr)
	}
}

// TestExportBadInput: what runner export cannot use is refused with exit 2,
// one message naming the problem, and no file created.
func TestExportBadInput(t *testing.T) {
	path, _ := exportDB(t)
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-db", path, "-format", "xlsx"}, `-format "xlsx": allowed: csv, jsonl`},
		{[]string{"-db", path, "extra"}, `export takes no arguments`},
		{[]string{"-db", path, "-experiment", "nope"}, `no experiment "nope"`},
		{[]string{"-db", missing}, `no such database`},
		{[]string{"-db", dir}, `is a folder`},
		{[]string{"-db", notDB}, `not a SQLite database`},
		{[]string{"-db", path, "-bogus"}, `-bogus`},
	} {
		code, stdout, stderr := runCode(t, append([]string{"export"}, tc.args...)...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("runner export %q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout and one line with %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("runner export -db %s created the file (%v)", missing, err)
	}
}

// TestRevisionWarning: runner run warns when its runs would record an
// unknown vcs_revision, and only then.
func TestRevisionWarning(t *testing.T) {
	if w := revisionWarning(db.Provenance{Revision: db.UnknownRevision}); !strings.Contains(w, "vcs_revision") || !strings.Contains(w, "make build") {
		t.Errorf("unknown revision: warning %q, want one naming vcs_revision and how to build", w)
	}
	if w := revisionWarning(db.Provenance{Revision: "0123abcd+dirty"}); w != "" {
		t.Errorf("known revision: warning %q, want none", w)
	}
}

// TestCSVCell: the CSV cells of each kind of value.
func TestCSVCell(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, ""}, {"a,b", "a,b"}, {int64(-3), "-3"}, {0.1, "0.1"}, {1e21, "1e+21"}, {math.NaN(), ""},
		{math.Inf(1), "inf"}, {math.Inf(-1), "-inf"}, {true, "true"}, {[]any{int64(256), int64(256)}, "[256,256]"},
		{[]any{}, "[]"},
	} {
		if got := csvCell(tc.v); got != tc.want {
			t.Errorf("csvCell(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
