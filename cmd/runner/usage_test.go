package main

import (
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestHelp: every command answers -h with its synopsis (naming FILE where it
// takes one) and its flags, exit 0, and nothing else (issue 13: plan, status
// and bench printed Go's bare "Usage of plan:").
func TestHelp(t *testing.T) {
	takesFile := map[string]bool{"plan": true, "run": true, "slurm": true}
	var names []string
	for name := range subcommands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		code, stdout, stderr := runCode(t, name, "-h")
		if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "usage: runner "+name) || strings.Contains(stderr, "Usage of") {
			t.Errorf("runner %s -h: exit %d, stdout %q, stderr %q; want exit 0 and the synopsis on stderr", name, code, stdout, stderr)
		}
		first, _, _ := strings.Cut(stderr, "\n")
		if takesFile[name] != strings.HasSuffix(first, " FILE") {
			t.Errorf("runner %s -h: synopsis %q; FILE named %v, want %v", name, first, !takesFile[name], takesFile[name])
		}
		if name != "version" && !strings.Contains(stderr, "\nflags:\n  -") {
			t.Errorf("runner %s -h: %q lists no flags", name, stderr)
		}
	}
	code, _, stderr := runCode(t, "-h")
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^  ` + name + `\b`).MatchString(stderr) {
			t.Errorf("runner -h (exit %d) does not list %s:\n%s", code, name, stderr)
		}
	}
}

// TestErrorOnce: a bad flag or argument is said once, as "runner: …"
// (issue 13: flag errors were printed by package flag and again by runner).
func TestErrorOnce(t *testing.T) {
	for _, args := range [][]string{{"plan", "-bogus", "x.yaml"}, {"status", "-bogus"}, {"bench", "-batch", "x"}, {"merge", "-db"}, {"version", "extra"}} {
		code, _, stderr := runCode(t, args...)
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "runner: ") {
			t.Errorf("runner %q: exit %d, printed %q; want exit 2 and one line", args, code, stderr)
		}
	}
}

// TestVersion: runner version prints the provenance runs record.
func TestVersion(t *testing.T) {
	code, stdout, stderr := runCode(t, "version")
	want := regexp.MustCompile(`^cliplab \d+\.\d+\.\d+ revision \S+ ` + regexp.QuoteMeta(runtime.Version()) + "\n$")
	if code != 0 || !want.MatchString(stdout) {
		t.Errorf("runner version: exit %d, %q %q; want %s", code, stdout, stderr, want)
	}
}
