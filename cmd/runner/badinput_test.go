// Bad input to the built runner and report (issue 6): each case exits 2
// (input) or 1 (runtime), says what is wrong and where (file, line and
// column, field, path) and what is allowed, and leaves the database file as
// it was, or absent.

package main

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cdb "cliplab/internal/db"
)

// badBase is the valid experiment file the cases spoil, one edit each.
const badBase = `name: bad
dataset: addition
data: {train_size: 64, test_size: 16, seq_len: 10}
train:
  epochs: 1
  batch_size: 16
  optimizer: sgd
archs:
  rnn: {type: rnn, cell: tanh, hidden: 4}
grid:
  arch: rnn
  lr: [0.1]
  seed: [1, 2]
  clip:
    - none
    - {method: norm, threshold: 1}
`

// badMNIST is badBase on mnist, for the cases of missing MNIST files.
var badMNIST = strings.NewReplacer("dataset: addition", "dataset: mnist",
	"data: {train_size: 64, test_size: 16, seq_len: 10}", "data: {train_size: 64, test_size: 16}",
	"rnn: {type: rnn, cell: tanh, hidden: 4}", "rnn: {type: mlp, hidden: [4]}").Replace(badBase)

// spoil writes src to dir/name with each old → new edit made, failing the
// test if an old is not in src (a case that edits nothing cannot fail).
func spoil(t *testing.T, dir, name, src string, edits ...string) string {
	t.Helper()
	for i := 0; i < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("%s: %q is not in the file to edit", name, edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// goodDB trains badBase into path.
func goodDB(t *testing.T, dir, path string) {
	t.Helper()
	file := spoil(t, dir, "good.yaml", badBase)
	if res := runBin(t, runnerBin(t), "run", "-db", path, "-workers", "1", "-progress", "none", file); res.code != 0 {
		t.Fatalf("runner run on the base file: %s", res)
	}
}

// truncatedMNIST writes a train-images file whose header announces 60,000
// images and whose data stops after 1,000 bytes.
func truncatedMNIST(t *testing.T, dir string) {
	t.Helper()
	var raw bytes.Buffer
	binary.Write(&raw, binary.BigEndian, []uint32{0x00000803, 60000, 28, 28}) // IDX header: LeCun's MNIST page
	raw.Write(make([]byte, 1000))
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(raw.Bytes())
	w.Close()
	if err := os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openSQLWrite opens (creating) the SQLite database at path for writing.
func openSQLWrite(t *testing.T, path string) *sql.DB {
	t.Helper()
	s, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readOnlyDir returns a folder where no file can be created even by root
// (/proc, /sys), or skips the test.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/proc", "/sys"} {
		probe := filepath.Join(d, "cliplab-write-probe")
		f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return d
		}
		f.Close()
		os.Remove(probe)
	}
	t.Skip("no read-only folder on this machine: /proc and /sys accept new files here")
	return ""
}

// sqliteFile makes a SQLite database at path with the given statements.
func sqliteFile(t *testing.T, path string, stmts ...string) {
	t.Helper()
	s := openSQLWrite(t, path)
	defer s.Close()
	for _, q := range stmts {
		if _, err := s.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	run := func(file string, extra ...string) func(dir, db string) []string {
		return func(dir, db string) []string {
			return append(append([]string{"run", "-db", db, "-progress", "none"}, extra...), file)
		}
	}
	yaml := func(name string, edits ...string) func(t *testing.T, dir, db string) []string {
		return func(t *testing.T, dir, db string) []string {
			return run(spoil(t, dir, name, badBase, edits...))(dir, db)
		}
	}
	cases := []struct {
		name   string
		report bool // report, not runner
		args   func(t *testing.T, dir, db string) []string
		code   int
		want   []string // in stderr
	}{
		// The experiment file.
		{"missing file", false, func(t *testing.T, dir, db string) []string {
			return run(filepath.Join(dir, "missing.yaml"))(dir, db)
		}, 2, []string{"missing.yaml: cannot read the experiment file: no such file"}},
		{"YAML syntax", false, yaml("syntax.yaml", "  arch: rnn\n", "  arch: [rnn\n"),
			2, []string{"syntax.yaml:11: invalid YAML: did not find expected ',' or ']'"}},
		{"YAML indentation", false, yaml("indent.yaml", "  epochs: 1\n", "  epochs: 1\n    batch: 2\n"),
			2, []string{"indent.yaml:6: invalid YAML: mapping values are not allowed in this context"}},
		{"unknown top-level field", false, yaml("top.yaml", "grid:", "colour: red\ngrid:"),
			2, []string{"top.yaml:10:1: colour: unknown field", "allowed: name, description, dataset, data, train, archs, grid, exclude"}},
		{"unknown train field", false, yaml("train.yaml", "  optimizer: sgd\n", "  optimizer: sgd\n  momentum: 0.9\n"),
			2, []string{"train.yaml:8:3: train.momentum: unknown field", "allowed: epochs, batch_size, optimizer"}},
		{"unknown method", false, yaml("method.yaml", "method: norm", "method: nrom"),
			2, []string{"method.yaml:16:16: grid.clip[1].method: unknown clip method \"nrom\"", "allowed: none, value, norm, layer_norm"}},
		{"unknown arch", false, yaml("arch.yaml", "  arch: rnn\n", "  arch: lstm\n"),
			2, []string{"arch.yaml:11:9: grid.arch: unknown arch \"lstm\"", "defined under archs: rnn"}},
		{"unknown arch type", false, yaml("type.yaml", "type: rnn", "type: resnet"),
			2, []string{"type.yaml:9:15: archs.rnn.type: unknown arch type \"resnet\"", "allowed: mlp, cnn, rnn, transformer"}},
		{"unknown dataset", false, yaml("dataset.yaml", "dataset: addition", "dataset: cifar"),
			2, []string{"dataset.yaml:2:10: dataset: unknown dataset \"cifar\"", "allowed: mnist, addition, temporal-order"}},
		{"unknown optimizer", false, yaml("opt.yaml", "optimizer: sgd", "optimizer: lion"),
			2, []string{"opt.yaml:7:14: train.optimizer: unknown optimizer \"lion\"", "allowed: sgd, momentum, adam, adamw"}},
		{"threshold 0", false, yaml("th0.yaml", "threshold: 1}", "threshold: 0}"),
			2, []string{"th0.yaml:16:33: grid.clip[1].threshold: method norm needs a threshold > 0, got 0"}},
		{"threshold < 0", false, yaml("thneg.yaml", "threshold: 1}", "threshold: -1}"),
			2, []string{"thneg.yaml:16:33: grid.clip[1].threshold: method norm needs a threshold > 0, got -1"}},
		{"method without its threshold", false, yaml("thmissing.yaml", "{method: norm, threshold: 1}", "{method: norm}"),
			2, []string{"thmissing.yaml:16:", "grid.clip[1]", "threshold"}},
		{"lr 0", false, yaml("lr0.yaml", "lr: [0.1]", "lr: [0.1, 0]"),
			2, []string{"lr0.yaml:12:13: grid.lr[1]: must be a finite number > 0, got 0"}},
		{"lr < 0", false, yaml("lrneg.yaml", "lr: [0.1]", "lr: [-0.1]"),
			2, []string{"lrneg.yaml:12:8: grid.lr[0]: must be a finite number > 0, got -0.1"}},
		{"lr not a number", false, yaml("lrstr.yaml", "lr: [0.1]", "lr: fast"),
			2, []string{"lrstr.yaml:12:7: grid.lr: expected a number, got string \"fast\""}},
		{"empty axis", false, yaml("empty.yaml", "seed: [1, 2]", "seed: []"),
			2, []string{"empty.yaml:13:9: grid.seed: empty: give at least one value"}},
		{"excludes remove everything", false, yaml("exclude.yaml", "grid:", "exclude:\n  - {arch: rnn}\ngrid:"),
			2, []string{"exclude.yaml:", "exclude: the exclude entries remove all 4 configurations"}},
		{"duplicate arch name", false, yaml("dupname.yaml", "archs:\n", "archs:\n  rnn: {type: mlp}\n"),
			2, []string{"dupname.yaml:10:3: archs.rnn: duplicate key (first given at line 9)"}},
		{"duplicate axis value", false, yaml("dupseed.yaml", "seed: [1, 2]", "seed: [1, 1]"),
			2, []string{"dupseed.yaml:13:13: grid.seed[1]: duplicate value (also at line 13, column 10)"}},

		// The database.
		{"another grid under the name", false, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			return yaml("changed.yaml", "seed: [1, 2]", "seed: [1, 2, 3]")(t, dir, db)
		}, 2, []string{`experiment "bad" in`, "was run with another grid", "rename the experiment (name:) or pass -extend"}},
		{"database in a missing folder", false, func(t *testing.T, dir, db string) []string {
			return yaml("ok.yaml")(t, dir, filepath.Join(dir, "nowhere", "runs.db"))
		}, 2, []string{"nowhere/runs.db: folder", "nowhere does not exist"}},
		{"database in a read-only folder", false, func(t *testing.T, dir, db string) []string {
			ro := readOnlyDir(t)
			return yaml("ok.yaml")(t, dir, filepath.Join(ro, "cliplab-test.db"))
		}, 2, []string{"cliplab-test.db: cannot create a file in folder", "give a path in a writable folder"}},
		{"not a SQLite file", false, func(t *testing.T, dir, db string) []string {
			os.WriteFile(db, []byte("name,acc\nx,0.9\n"), 0o644)
			return yaml("ok.yaml")(t, dir, db)
		}, 2, []string{"not a SQLite database: " + "DB"}},
		{"another program's SQLite file", false, func(t *testing.T, dir, db string) []string {
			sqliteFile(t, db, "CREATE TABLE notes (x TEXT)", "INSERT INTO notes VALUES ('mine')")
			return yaml("ok.yaml")(t, dir, db)
		}, 2, []string{"not a cliplab database: DB holds other tables", "give runner a new file with -db"}},
		{"newer schema", false, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			sqliteFile(t, db, "PRAGMA user_version = 99")
			return yaml("ok.yaml")(t, dir, db)
		}, 2, []string{"DB has schema version 99, this cliplab knows up to", "use a newer cliplab"}},

		// MNIST.
		{"MNIST missing", false, func(t *testing.T, dir, db string) []string {
			file := spoil(t, dir, "mnist.yaml", badMNIST)
			return run(file, "-data", filepath.Join(dir, "no-mnist"))(dir, db)
		}, 2, []string{"no-mnist/train-images-idx3-ubyte.gz not found", `run "make data"`,
			"looked for the MNIST files in folder @TMP/no-mnist (from -data)", "-data DIR or $CLIPLAB_DATA"}},
		{"MNIST truncated", false, func(t *testing.T, dir, db string) []string {
			file := spoil(t, dir, "mnist.yaml", badMNIST)
			mnist := filepath.Join(dir, "mnist")
			os.Mkdir(mnist, 0o755)
			truncatedMNIST(t, mnist)
			return run(file, "-data", mnist)(dir, db)
		}, 2, []string{"mnist/train-images-idx3-ubyte.gz: truncated: 1000 of the 47040000 data bytes the header announces", `run "make data"`}},

		// The command line.
		{"no file", false, func(t *testing.T, dir, db string) []string { return []string{"run", "-db", db} },
			2, []string{"run takes one experiment file, got 0 arguments"}},
		{"-workers 0", false, func(t *testing.T, dir, db string) []string {
			return []string{"run", "-db", db, "-workers", "0", spoil(t, dir, "ok.yaml", badBase)}
		}, 2, []string{"-workers must be at least 1, got 0"}},
		{"-stale negative", false, func(t *testing.T, dir, db string) []string {
			return []string{"run", "-db", db, "-stale", "-1s", spoil(t, dir, "ok.yaml", badBase)}
		}, 2, []string{"-stale must be at least 10s", "got -1s"}},
		{"-stale too small", false, func(t *testing.T, dir, db string) []string {
			return []string{"run", "-db", db, spoil(t, dir, "ok.yaml", badBase), "-stale", "1s"}
		}, 2, []string{"-stale must be at least 10s", "got 1s"}},
		{"unknown flag", false, func(t *testing.T, dir, db string) []string {
			return []string{"run", "-db", db, "-wrokers", "2", spoil(t, dir, "ok.yaml", badBase)}
		}, 2, []string{"flag provided but not defined: -wrokers"}},
		{"unknown command", false, func(t *testing.T, dir, db string) []string { return []string{"train", "x.yaml"} },
			2, []string{`unknown command "train"`}},
		{"status of a missing database", false, func(t *testing.T, dir, db string) []string {
			return []string{"status", "-db", db}
		}, 2, []string{"no such database: DB"}},
		{"status of an unknown experiment", false, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			return []string{"status", "-db", db, "-experiment", "nope"}
		}, 2, []string{`no experiment "nope" in DB (experiments: bad)`}},

		// report.
		{"report on a missing database", true, func(t *testing.T, dir, db string) []string {
			return []string{"-db", db, "-out", filepath.Join(dir, "out")}
		}, 2, []string{"no such database: DB"}},
		{"report on an empty file", true, func(t *testing.T, dir, db string) []string {
			os.WriteFile(db, nil, 0o644)
			return []string{"-db", db, "-out", filepath.Join(dir, "out")}
		}, 2, []string{"DB is empty, not yet a cliplab database"}},
		{"report on a database with no runs", true, func(t *testing.T, dir, db string) []string {
			d, err := cdb.Open(db, cdb.Options{}) // a cliplab database, schema and all, that no grid was added to
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			return []string{"-db", db, "-out", filepath.Join(dir, "out")}
		}, 2, []string{"DB holds no experiments; run one with: runner run -db DB"}},
		{"report -out an existing file", true, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			f := filepath.Join(dir, "notes.txt")
			os.WriteFile(f, []byte("mine"), 0o644)
			return []string{"-db", db, "-out", f}
		}, 2, []string{"-out @TMP/notes.txt is a file; give a folder"}},
		{"report with an argument between flags", true, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			return []string{"-db", db, "stray", "-out", filepath.Join(dir, "out")}
		}, 2, []string{`unexpected arguments ["stray"]: report takes flags only`}},
		{"report on an unknown experiment", true, func(t *testing.T, dir, db string) []string {
			goodDB(t, dir, db)
			return []string{"-db", db, "-experiment", "nope", "-out", filepath.Join(dir, "out")}
		}, 2, []string{`no experiment "nope" in DB`, "it holds: bad"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tc.args(t, dir, filepath.Join(dir, "runs.db"))
			db := filepath.Join(dir, "runs.db")
			if i := slices.Index(args, "-db"); i >= 0 {
				db = args[i+1]
			}
			before := fileState(t, db)
			bin, prefix := runnerBin(t), "runner: "
			if tc.report {
				bin, prefix = reportBin(t), "report: "
			}
			res := runBin(t, bin, args...)
			if res.code != tc.code {
				t.Errorf("exit %d, want %d\n%s", res.code, tc.code, res)
			}
			if !strings.Contains(res.stderr, prefix) {
				t.Errorf("stderr lacks %q\n%s", prefix, res)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(strings.ReplaceAll(w, "DB", db), "@TMP", dir)
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, res)
				}
			}
			if after := fileState(t, db); after != before {
				t.Errorf("the database %s changed", db)
			}
			if entries, _ := filepath.Glob(filepath.Join(dir, "out")); len(entries) > 0 {
				t.Errorf("report wrote %s", entries[0])
			}
		})
	}
}

// TestExtend: a grid changed under an experiment's name is refused (see
// TestBadInput), and with -extend its new configurations are added and
// trained, the runs already there untouched.
func TestExtend(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runs.db")
	goodDB(t, dir, path)
	before := finishedRows(t, path)
	if len(before) != 4 {
		t.Fatalf("%d runs finished, want the base grid's 4", len(before))
	}
	file := spoil(t, dir, "more.yaml", badBase, "seed: [1, 2]", "seed: [1, 2, 3]")
	res := runBin(t, runnerBin(t), "run", "-db", path, "-extend", "-progress", "none", file)
	if res.code != 0 || !strings.Contains(res.stderr, "experiment bad: 6 configurations, 2 new") {
		t.Fatalf("runner run -extend: %s\nwant 2 new configurations", res)
	}
	checkOnce(t, path, "bad", 6)
	checkUnchanged(t, path, before)
	if n := queryInt(t, path, "SELECT count(*) FROM experiments WHERE name = 'bad'"); n != 2 {
		t.Errorf("%d grids recorded under bad, want the first and the extension", n)
	}
}

// TestDBFolder: a folder given as -db is named as a folder, exit 2, by
// runner run, runner status and report, and nothing is written into it
// (issue 13: "not a SQLite database: adir").
func TestDBFolder(t *testing.T) {
	dir := t.TempDir()
	adir := filepath.Join(dir, "adir")
	if err := os.Mkdir(adir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := spoil(t, dir, "ok.yaml", badBase)
	for _, tc := range []struct {
		bin, prefix string
		args        []string
	}{
		{runnerBin(t), "runner: ", []string{"run", "-db", adir, "-progress", "none", file}},
		{runnerBin(t), "runner: ", []string{"status", "-db", adir}},
		{reportBin(t), "report: ", []string{"-db", adir, "-out", filepath.Join(dir, "out")}},
	} {
		res := runBin(t, tc.bin, tc.args...)
		want := tc.prefix + "database " + adir + " is a folder, not a file"
		if res.code != 2 || !strings.Contains(res.stderr, want) {
			t.Errorf("%q: %s\nwant exit 2 and %q", tc.args, res, want)
		}
	}
	if entries, _ := os.ReadDir(adir); len(entries) > 0 {
		t.Errorf("something was written into the folder given as -db: %s", entries[0].Name())
	}
}

// TestFlagsAnywhere: flags after the experiment file are read as flags,
// and a bad flag's error is printed once, not twice (issue 13).
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	file := spoil(t, dir, "ok.yaml", badBase)
	path := filepath.Join(dir, "runs.db")
	code, stdout, stderr := runCode(t, "run", file, "-db", path, "-workers", "1", "-progress", "none")
	if code != 0 || !strings.Contains(stdout, "bad: 4 runs: 4 done") {
		t.Fatalf("runner run FILE -db … : exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCode(t, "status", "-experiment", "bad", "-db", path)
	if code != 0 || !strings.Contains(stdout, "bad") {
		t.Errorf("runner status: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCode(t, "plan", file, "-json")
	if code != 0 || strings.Count(stdout, `{"key":`) != 4 {
		t.Errorf("runner plan FILE -json: exit %d\n%s\nwant 4 JSON lines", code, stdout)
	}
	res := runBin(t, runnerBin(t), "run", file, "-wrokers", "2")
	if res.code != 2 || strings.Count(res.stderr, "flag provided but not defined: -wrokers") != 1 {
		t.Errorf("runner run FILE -wrokers 2: %s\nwant exit 2 and the error once", res)
	}
	res = runBin(t, reportBin(t), "-out", filepath.Join(dir, "r"), "-db", path, "-experiment", "bad", "-target", "0.5")
	if res.code != 0 {
		t.Errorf("report with its flags: %s", res)
	}
}
