package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dpBenchLine is issue 11's line, with the plain bench's medians and
// process counts and the CPU-time ratios appended.
var dpBenchLine = regexp.MustCompile(`^bench arch=([\w-]+) batch=(\d+) method=dp_flat threads=1 cliplab_steps_per_sec=([0-9.]+) nonprivate_steps_per_sec=([0-9.]+) torch_steps_per_sec=([0-9.]*) ratio=([0-9.]*) overhead=([0-9.]+) cliplab_median=([0-9.]+) nonprivate_median=([0-9.]+) torch_median=([0-9.]*) cliplab_procs=(\d+) torch_procs=(\d+) overhead_cpu=([0-9.]+) ratio_cpu=([0-9.]*)$`)

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return x
}

// TestBenchDP: -dp measures mlp2 and the cnn at batch 256 by default (here
// -batch 8), one line each with overhead = nonprivate/dp_flat; without
// PyTorch its columns are empty.
func TestBenchDP(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-dp", "-batch", "8", "-duration", "20ms", "-repeats", "1", "-python", "", "-self-procs", "0"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2:\n%s", len(lines), stdout.String())
	}
	for i, arch := range []string{"mlp2", "cnn"} {
		m := dpBenchLine.FindStringSubmatch(lines[i])
		if m == nil || m[1] != arch || m[2] != "8" || m[5] != "" || m[6] != "" || m[10] != "" || m[14] != "" || m[11] != "1" || m[12] != "0" {
			t.Errorf("line %d = %q", i, lines[i])
			continue
		}
		dp, plain, overhead := parseFloat(t, m[3]), parseFloat(t, m[4]), parseFloat(t, m[7])
		if !(dp > 0 && plain > 0) || math.Abs(overhead-plain/dp) > 0.01*overhead+0.01 {
			t.Errorf("%s: dp_flat %v, plain %v, overhead %v", arch, dp, plain, overhead)
		}
		if m[3] != m[8] || m[4] != m[9] {
			t.Errorf("%s: one process, but best and median differ: %q", arch, lines[i])
		}
	}
	if !strings.Contains(stderr.String(), "steps per CPU second per process: cliplab dp_flat") {
		t.Errorf("stderr does not list the CPU-time rates:\n%s", stderr.String())
	}
}

// TestBenchDPDefaultBatch: without -batch, -dp runs at batch 256 (issue
// 11's line), not the plain bench's 64.
func TestBenchDPDefaultBatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-dp", "-archs", "mlp2", "-duration", "10ms", "-repeats", "1", "-python", "", "-self-procs", "0"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if m := dpBenchLine.FindStringSubmatch(strings.TrimSpace(stdout.String())); m == nil || m[2] != "256" {
		t.Errorf("stdout = %q", stdout.String())
	}
}

// TestBenchDPUsage: bench -dp refuses an unknown architecture with exit 2,
// and every bench architecture has per-example gradients (since the rnn,
// the LSTM and the transformer got them, the -dp refusal of one without
// has none to refuse; PyTorch's column is "-" where bench_torch.py has no
// fast DP step).
func TestBenchDPUsage(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-dp", "-archs", "nosuch"}, &bytes.Buffer{}, &stderr)
	if code := exitCode(err, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown architecture "nosuch"`) {
		t.Errorf("-archs nosuch: exit %d, stderr %q", code, stderr.String())
	}
	for a, spec := range benchArchs {
		if err := spec.Normalize().PerExampleSupport(); err != nil {
			t.Errorf("bench architecture %s: %v", a, err)
		}
	}
}

// TestBenchDPProcesses: the built runner measures both of its steps in
// -self-procs fresh processes (`runner bench -child -dp`) and PyTorch's
// fast DP step in -procs, and the line's ratios agree with its columns.
func TestBenchDPProcesses(t *testing.T) {
	args := []string{"bench", "-dp", "-archs", "mlp2", "-batch", "4", "-duration", "20ms", "-repeats", "1", "-self-procs", "2", "-procs", "2"}
	torch := true
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		args, torch = append(args, "-python", ""), false
	}
	res := runBin(t, runnerBin(t), args...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "PyTorch columns left empty") {
		t.Logf("PyTorch part skipped: %s", res.stderr)
		torch = false
	}
	m := dpBenchLine.FindStringSubmatch(strings.TrimSpace(res.stdout))
	if m == nil || m[11] != "2" {
		t.Fatalf("stdout = %q, stderr:\n%s", res.stdout, res.stderr)
	}
	if parseFloat(t, m[8]) > parseFloat(t, m[3]) || parseFloat(t, m[9]) > parseFloat(t, m[4]) {
		t.Errorf("a median above its best: %q", res.stdout)
	}
	if per := regexp.MustCompile(`cliplab dp_flat( [0-9.]+){2}; cliplab plain( [0-9.]+){2};`); !per.MatchString(res.stderr) {
		t.Errorf("stderr does not list two cliplab processes:\n%s", res.stderr)
	}
	if !torch {
		return
	}
	if m[12] != "2" || m[5] == "" || m[14] == "" {
		t.Fatalf("PyTorch columns missing: %q\n%s", res.stdout, res.stderr)
	}
	ours, theirs, ratio := parseFloat(t, m[3]), parseFloat(t, m[5]), parseFloat(t, m[6])
	if theirs <= 0 || math.Abs(ratio-ours/theirs) > 0.01*ratio+0.01 || parseFloat(t, m[10]) > theirs {
		t.Errorf("inconsistent line %q", res.stdout)
	}
}
