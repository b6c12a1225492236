package main

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var privacyLine = regexp.MustCompile(`^epsilon=(\S+) delta=(\S+) order=(\S+) noise_multiplier=(\S+)\n$`)

// TestPrivacy drives `runner privacy` with buffers. The reference numbers
// are Opacus's, from internal/privacy/testdata/opacus_reference.txt (rows
// quoted in the comments), which opacus_reference.py computed with
// Opacus's own rdp.py.
func TestPrivacy(t *testing.T) {
	cases := []struct {
		args                    []string
		eps, delta, order, sigm float64
		warn                    string
	}{
		// "spend 0.004266666666666667 1.0 2340 1e-05 1.3516162963711964 9.9"
		{[]string{"-sampling-rate", "0.004266666666666667", "-steps", "2340", "-noise", "1"}, 1.3516162963711964, 1e-5, 9.9, 1, ""},
		// "spend 0.01 0.5 20000 1e-08 87.52964314832565 1.5"
		{[]string{"-sampling-rate", "0.01", "-steps", "20000", "-noise", "0.5", "-delta", "1e-8"}, 87.52964314832565, 1e-8, 1.5, 0.5, ""},
		// "spend 1.0 0.8 100 1e-05 136.06337010237715 1.4"
		{[]string{"-sampling-rate", "1", "-steps", "100", "-noise", "0.8"}, 136.06337010237715, 1e-5, 1.4, 0.8, ""},
		// "noise 3.0 1e-05 0.01 1000 0.01 0.865478515625 2.991796642685446"
		{[]string{"-sampling-rate", "0.01", "-steps", "1000", "-epsilon", "3"}, 2.991796642685446, 1e-5, 5.7, 0.865478515625, ""},
		// "noise 0.5 1e-05 0.1 50 0.005 5.7421875 0.4967450391364381" (the order is ours)
		{[]string{"-epsilon", "0.5", "-sampling-rate", "0.1", "-steps", "50"}, 0.4967450391364381, 1e-5, 31, 5.7421875, ""},
		// "spend 0.0001 2.0 100 1e-05 0.10287621502457128 63.0": the largest order, with Opacus's warning
		{[]string{"-sampling-rate", "0.0001", "-steps", "100", "-noise", "2"}, 0.10287621502457128, 1e-5, 63, 2, "largest (63)"},
		// σ = 0: no privacy.
		{[]string{"-sampling-rate", "0.01", "-steps", "10", "-noise", "0"}, math.Inf(1), 1e-5, math.NaN(), 0, ""},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"privacy"}, c.args...), &stdout, &stderr); err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		m := privacyLine.FindStringSubmatch(stdout.String())
		if m == nil {
			t.Errorf("%v: stdout %q", c.args, stdout.String())
			continue
		}
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		eqNaN := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if !(eqNaN(v[0], c.eps) || math.Abs(v[0]-c.eps) <= 1e-9*c.eps) || v[1] != c.delta || !eqNaN(v[2], c.order) || v[3] != c.sigm {
			t.Errorf("%v: %q, want epsilon %v delta %v order %v noise_multiplier %v", c.args, stdout.String(), c.eps, c.delta, c.order, c.sigm)
		}
		if c.warn != "" && !strings.Contains(stderr.String(), c.warn) || c.warn == "" && stderr.Len() > 0 {
			t.Errorf("%v: stderr %q, want a warning with %q", c.args, stderr.String(), c.warn)
		}
	}
}

// TestPrivacyBadInput: every bad input exits 2 with a message that names
// the flag and what is allowed, and prints nothing on stdout.
func TestPrivacyBadInput(t *testing.T) {
	ok := []string{"-sampling-rate", "0.01", "-steps", "100"}
	cases := []struct {
		args []string
		msg  string
	}{
		{append(ok, "-noise", "-0.5"), "-noise -0.5 must be a finite number ≥ 0"},
		{append(ok, "-noise", "NaN"), "-noise NaN must be"},
		{append(ok, "-noise", "+Inf"), "-noise +Inf must be"},
		{append(ok, "-noise", "1", "-delta", "0"), "-delta 0 is outside (0, 1)"},
		{append(ok, "-noise", "1", "-delta", "1"), "-delta 1 is outside (0, 1)"},
		{append(ok, "-noise", "1", "-delta", "-1e-5"), "-delta -1e-05 is outside (0, 1)"},
		{[]string{"-sampling-rate", "0", "-steps", "100", "-noise", "1"}, "-sampling-rate 0 is outside (0, 1]"},
		{[]string{"-sampling-rate", "1.5", "-steps", "100", "-noise", "1"}, "-sampling-rate 1.5 is outside (0, 1]"},
		{[]string{"-sampling-rate", "0.01", "-steps", "0", "-noise", "1"}, "-steps 0 must be ≥ 1"},
		{[]string{"-sampling-rate", "0.01", "-steps", "-3", "-noise", "1"}, "-steps -3 must be ≥ 1"},
		{[]string{"-steps", "100", "-noise", "1"}, "-sampling-rate is required"},
		{[]string{"-sampling-rate", "0.01", "-noise", "1"}, "-steps is required"},
		{ok, "give exactly one of -noise"},
		{append(ok, "-noise", "1", "-epsilon", "3"), "give exactly one of -noise"},
		{append(ok, "-epsilon", "0"), "-epsilon 0 must be a finite number > 0"},
		{append(ok, "-epsilon", "-2"), "-epsilon -2 must be"},
		{append(ok, "-epsilon", "0.05"), "target epsilon unreachable: ε = 0.05 at δ = 1e-05"},
		{append(ok, "-noise", "1", "extra"), "privacy takes no arguments"},
		{append(ok, "-noise", "x"), `invalid value "x" for flag -noise`},
		{append(ok, "-steps", "1.5", "-noise", "1"), `invalid value "1.5" for flag -steps`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"privacy"}, c.args...), &stdout, &stderr)
		var msg bytes.Buffer
		code := exitCode(err, &msg)
		if code != 2 || !strings.Contains(msg.String(), c.msg) || stdout.Len() > 0 {
			t.Errorf("%v: exit %d, message %q, stdout %q; want exit 2 and %q", c.args, code, msg.String(), stdout.String(), c.msg)
		}
	}
}

// hasLinePrefix says whether a line of text starts with prefix: the runner
// may warn about OpenBLAS's kernels (OPENBLAS_CORETYPE set by hand) before
// its own message.
func hasLinePrefix(text, prefix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// TestPrivacyBinary: the built runner exits 2 on bad input and 0 with the
// line on stdout.
func TestPrivacyBinary(t *testing.T) {
	bin := runnerBin(t)
	if res := runBin(t, bin, "privacy", "-sampling-rate", "0.01", "-steps", "100", "-noise", "-1"); res.code != 2 || !hasLinePrefix(res.stderr, "runner: privacy: -noise -1") || res.stdout != "" {
		t.Errorf("σ = -1: %s", res)
	}
	if res := runBin(t, bin, "privacy", "-sampling-rate", "0.01", "-steps", "100", "-noise", "1"); res.code != 0 || privacyLine.FindString(res.stdout) == "" {
		t.Errorf("σ = 1: %s", res)
	}
}
