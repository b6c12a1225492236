package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updatePlan = flag.Bool("update", false, "rewrite testdata/plan_*.golden from the current output of runner plan")

// TestPlanGolden compares runner plan's output (stdout, then the warnings
// on stderr) on every file in ../../experiments with
// testdata/plan_NAME.golden; go test -run TestPlanGolden -update rewrites
// them (issue 4).
func TestPlanGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "experiments", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("found %d experiment files in ../../experiments, want demo, mnist-clipping and synthetic at least", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// The path as a user in the repository root gives it.
			if err := run(t.Context(), []string{"plan", filepath.ToSlash(file)}, &stdout, &stderr); err != nil {
				t.Fatalf("runner plan %s: %v\n%s", file, err, stderr.String())
			}
			got := stdout.String()
			if stderr.Len() > 0 {
				got += "--- stderr\n" + stderr.String()
			}
			golden := filepath.Join("testdata", "plan_"+name+".golden")
			if *updatePlan {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestPlanGolden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("runner plan %s differs from %s (go test -run TestPlanGolden -update rewrites it):\n%s",
					file, golden, firstDiff(got, string(want)))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\ngot  " + gl + "\nwant " + wl
		}
	}
	return "(same lines)"
}
