package grid

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/config"

	"gopkg.in/yaml.v3"
)

// fuzzMaxConfigs keeps each fuzz input fast; the limit itself is tested in
// TestMaxConfigs.
const fuzzMaxConfigs = 2000

// seedFiles are the experiment files the fuzz targets start from, in name
// order.
func seedFiles(f *testing.F) [][]byte {
	var names []string
	for _, pat := range []string{"../../experiments/*.yaml", "testdata/*.yaml"} {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		names = append(names, files...)
	}
	slices.Sort(names)
	if len(names) < 4 {
		f.Fatalf("only %d seed files", len(names))
	}
	var out [][]byte
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// fuzzLimit lowers MaxConfigs for the fuzz target f.
func fuzzLimit(f *testing.F) {
	old := MaxConfigs
	MaxConfigs = fuzzMaxConfigs
	f.Cleanup(func() { MaxConfigs = old })
}

// checkRefusal checks an error from Parse or Expand: an input error (never
// the bug sentinel), made of *Errors naming the file at a line in it.
func checkRefusal(t *testing.T, err error, src []byte) {
	t.Helper()
	if errors.Is(err, errBug) {
		t.Fatalf("configuration escaped the file's checks: %v\n%s", err, src)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error does not match ErrInvalid: %v", err)
	}
	// YAML's line breaks; the YAML library may name the line after the last.
	text := strings.ReplaceAll(string(src), "\r\n", "\n")
	lines := 2
	for _, r := range text {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			lines++
		}
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var ge *Error
		if !errors.As(e, &ge) {
			t.Fatalf("not a *grid.Error: %v", e)
		}
		if ge.Path != "f.yaml" || ge.Line < 0 || ge.Line > lines || ge.Msg == "" {
			t.Fatalf("error with a bad position or no message: %q (file has %d lines)", ge.Error(), lines)
		}
	}
}

// checkAccepted checks what an accepted file must give.
func checkAccepted(t *testing.T, e *Experiment, src []byte) {
	t.Helper()
	cfgs, err := e.Expand()
	if err != nil {
		checkRefusal(t, err, src)
		return
	}
	product := 1
	for _, a := range e.axes {
		product *= len(a.vals)
	}
	if len(cfgs) == 0 || len(cfgs) > product {
		t.Fatalf("%d configurations from a product of %d", len(cfgs), product)
	}
	checkConfigs(t, cfgs)
	again, err := e.Expand()
	if err != nil || config.GridHash(again) != config.GridHash(cfgs) {
		t.Fatalf("a second Expand differs: %v", err)
	}
}

// FuzzParse feeds arbitrary bytes to Parse: it must not panic, a refusal
// must be positioned, and an accepted file must expand to configurations
// that validate, with distinct keys.
func FuzzParse(f *testing.F) {
	fuzzLimit(f)
	for _, src := range seedFiles(f) {
		f.Add(src)
	}
	f.Add([]byte(base))
	f.Add([]byte("name: t\ndataset: mnist\narchs: {a: &a {type: mlp}, b: {<<: *a, hidden: [3]}}\ngrid: {arch: [a, b], lr: 1, seed: 1, clip: none}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := Parse("f.yaml", src)
		if err != nil {
			checkRefusal(t, err, src)
			return
		}
		checkAccepted(t, e, src)
	})
}

// flow returns section key of a YAML file as one line of JSON (a YAML flow
// node), or "" if the file lacks it.
func flow(src []byte, key string) string {
	var m map[string]any
	if yaml.Unmarshal(src, &m) != nil || m[key] == nil {
		return ""
	}
	b, err := json.Marshal(m[key])
	if err != nil {
		return ""
	}
	return string(b)
}

// FuzzExpand fuzzes the sections of a well-formed file separately, so that
// most inputs get past YAML and reach the checks and the expansion.
func FuzzExpand(f *testing.F) {
	fuzzLimit(f)
	type sections struct{ dataset, data, train, archs, grid, exclude string }
	var seeds []sections
	for _, src := range seedFiles(f) {
		var head struct{ Dataset string }
		_ = yaml.Unmarshal(src, &head)
		seeds = append(seeds, sections{head.Dataset, flow(src, "data"), flow(src, "train"), flow(src, "archs"), flow(src, "grid"), flow(src, "exclude")})
	}
	seeds = append(seeds, sections{"addition", `{"seq_len": 20}`, `{"optimizer": {"name": "adamw", "beta2": 0.99}}`, `{"r": {"type": "rnn", "hidden": 8, "cell": "lstm"}}`,
		`{"arch": "r", "lr": [0.1, 1], "seed": 1, "clip": [{"method": "zclip", "threshold": [2, 3], "mode": "percentile"}], "batch_size": [8, 16]}`,
		`[{"lr": 1, "batch_size": 8}]`})
	for _, s := range seeds {
		// A seed that is refused would start the fuzzer in the shallows.
		if _, err := loadSource("f.yaml", assemble(s.dataset, s.data, s.train, s.archs, s.grid, s.exclude)); err != nil {
			f.Fatalf("seed refused: %v", err)
		}
		f.Add(s.dataset, s.data, s.train, s.archs, s.grid, s.exclude)
	}
	f.Fuzz(func(t *testing.T, dataset, data, train, archs, grid, exclude string) {
		src := assemble(dataset, data, train, archs, grid, exclude)
		e, err := Parse("f.yaml", src)
		if err != nil {
			checkRefusal(t, err, src)
			return
		}
		checkAccepted(t, e, src)
	})
}

// assemble writes an experiment file from its sections, one line each.
func assemble(dataset, data, train, archs, grid, exclude string) []byte {
	var b strings.Builder
	b.WriteString("name: fz\n")
	for _, kv := range [][2]string{{"dataset", dataset}, {"data", data}, {"train", train}, {"archs", archs}, {"grid", grid}, {"exclude", exclude}} {
		if kv[1] != "" {
			b.WriteString(kv[0] + ": " + kv[1] + "\n")
		}
	}
	return []byte(b.String())
}
