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

var benchLine = regexp.MustCompile(`^bench arch=(\w+) batch=(\d+) threads=1 cliplab_steps_per_sec=([0-9.]+) torch_steps_per_sec=([0-9.]*) ratio=([0-9.]*)$`)

// TestBenchWithoutTorch: without PyTorch the bench still prints one line
// per architecture, the PyTorch columns empty, and says why on stderr.
func TestBenchWithoutTorch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-archs", "mlp2,cnn", "-batch", "8", "-duration", "20ms", "-repeats", "1", "-python", ""}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2:\n%s", len(lines), stdout.String())
	}
	for i, arch := range []string{"mlp2", "cnn"} {
		m := benchLine.FindStringSubmatch(lines[i])
		if m == nil || m[1] != arch || m[2] != "8" || m[4] != "" || m[5] != "" {
			t.Errorf("line %d = %q", i, lines[i])
			continue
		}
		if r, _ := strconv.ParseFloat(m[3], 64); r <= 0 {
			t.Errorf("%s: %v steps/s", arch, r)
		}
	}
	if !strings.Contains(stderr.String(), "PyTorch columns left empty") || !strings.Contains(stderr.String(), "OpenBLAS core") {
		t.Errorf("stderr does not explain:\n%s", stderr.String())
	}
}

func TestBenchWithTorch(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("PyTorch comparison skipped: /usr/bin/python3 not found (Debian: apt-get install python3-torch)")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-archs", "rnn", "-batch", "4", "-duration", "50ms", "-repeats", "1"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "PyTorch columns left empty") {
		t.Skipf("PyTorch comparison skipped: %s", stderr.String())
	}
	m := benchLine.FindStringSubmatch(strings.TrimSpace(stdout.String()))
	if m == nil || m[4] == "" || m[5] == "" {
		t.Fatalf("stdout = %q, stderr:\n%s", stdout.String(), stderr.String())
	}
	ours, _ := strconv.ParseFloat(m[3], 64)
	theirs, _ := strconv.ParseFloat(m[4], 64)
	ratio, _ := strconv.ParseFloat(m[5], 64)
	if theirs <= 0 || ratio <= 0 || math.Abs(ratio-ours/theirs) > 0.01*ratio+0.01 {
		t.Errorf("inconsistent line %q", stdout.String())
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"bench", "-archs", "resnet"}, {"bench", "-batch", "0"}, {"bench", "extra"}} {
		err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if exitCode(err, &bytes.Buffer{}) != 2 {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}
