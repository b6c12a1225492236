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

var benchLine = regexp.MustCompile(`^bench arch=([\w-]+) batch=(\d+) threads=1 cliplab_steps_per_sec=([0-9.]+) torch_steps_per_sec=([0-9.]*) ratio=([0-9.]*) cliplab_median=([0-9.]+) torch_median=([0-9.]*) cliplab_procs=(\d+) torch_procs=(\d+)$`)

// TestBenchWithoutTorch: without PyTorch the bench still prints one line
// per architecture, the PyTorch columns empty, and says why on stderr.
func TestBenchWithoutTorch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "-archs", "mlp2,cnn", "-batch", "8", "-duration", "20ms", "-repeats", "1", "-python", "", "-self-procs", "0"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2:\n%s", len(lines), stdout.String())
	}
	for i, arch := range []string{"mlp2", "cnn"} {
		m := benchLine.FindStringSubmatch(lines[i])
		if m == nil || m[1] != arch || m[2] != "8" || m[4] != "" || m[5] != "" || m[3] != m[6] || m[8] != "1" || m[9] != "0" {
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
	err := run(context.Background(), []string{"bench", "-archs", "rnn", "-batch", "4", "-duration", "50ms", "-repeats", "1", "-self-procs", "0", "-procs", "3"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "PyTorch columns left empty") {
		t.Skipf("PyTorch comparison skipped: %s", stderr.String())
	}
	m := benchLine.FindStringSubmatch(strings.TrimSpace(stdout.String()))
	if m == nil || m[4] == "" || m[5] == "" || m[9] != "3" {
		t.Fatalf("stdout = %q, stderr:\n%s", stdout.String(), stderr.String())
	}
	// The best of three processes is at least their median, and stderr
	// lists all three.
	best, _ := strconv.ParseFloat(m[4], 64)
	med, _ := strconv.ParseFloat(m[7], 64)
	if med > best {
		t.Errorf("torch median %v above its best %v", med, best)
	}
	if per := regexp.MustCompile(`PyTorch( [0-9.]+){3}\n`); !per.MatchString(stderr.String()) {
		t.Errorf("stderr does not list three PyTorch processes:\n%s", stderr.String())
	}
	ours, _ := strconv.ParseFloat(m[3], 64)
	theirs, _ := strconv.ParseFloat(m[4], 64)
	ratio, _ := strconv.ParseFloat(m[5], 64)
	if theirs <= 0 || ratio <= 0 || math.Abs(ratio-ours/theirs) > 0.01*ratio+0.01 {
		t.Errorf("inconsistent line %q", stdout.String())
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"bench", "-archs", "resnet"}, {"bench", "-batch", "0"}, {"bench", "extra"}, {"bench", "-procs", "0"}, {"bench", "-self-procs", "-1"}} {
		err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if exitCode(err, &bytes.Buffer{}) != 2 {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}

// TestBenchProcesses: the built runner measures itself in -self-procs fresh
// processes (`runner bench -child`) and reports their best and median.
func TestBenchProcesses(t *testing.T) {
	res := runBin(t, runnerBin(t), "bench", "-archs", "mlp2", "-batch", "4", "-duration", "20ms", "-repeats", "1", "-python", "", "-self-procs", "3")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	m := benchLine.FindStringSubmatch(strings.TrimSpace(res.stdout))
	if m == nil || m[8] != "3" || m[9] != "0" {
		t.Fatalf("stdout = %q", res.stdout)
	}
	best, _ := strconv.ParseFloat(m[3], 64)
	med, _ := strconv.ParseFloat(m[6], 64)
	if !(best > 0) || med > best {
		t.Errorf("best %v, median %v", best, med)
	}
	if per := regexp.MustCompile(`cliplab( [0-9.]+){3};`); !per.MatchString(res.stderr) {
		t.Errorf("stderr does not list three cliplab processes:\n%s", res.stderr)
	}
}

// TestBenchGPTTiny: gpt-tiny (issue 12) trains on tokens at its own default
// batch of 32 unless -batch is given.
func TestBenchGPTTiny(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		batch string
	}{{nil, "32"}, {[]string{"-batch", "2"}, "2"}} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"bench", "-archs", "gpt-tiny", "-duration", "10ms", "-repeats", "1", "-python", "", "-self-procs", "0"}, tc.args...)
		if err := run(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stderr.String())
		}
		m := benchLine.FindStringSubmatch(strings.TrimSpace(stdout.String()))
		if m == nil || m[1] != "gpt-tiny" || m[2] != tc.batch {
			t.Errorf("%v: stdout = %q", args, stdout.String())
		}
	}
}
