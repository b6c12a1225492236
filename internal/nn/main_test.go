package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if err := EnsureBLAS(); err != nil {
		fmt.Fprintf(os.Stderr, "nn test: WARNING: %v\n", err)
	}
	os.Exit(m.Run())
}

// randu returns a new slice of n values in U(-scale, scale).
func randu(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * scale)
	}
	return v
}

// dot is Σ a·b in float64, the scalar every gradient check differentiates.
func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// The gradient check's tolerance: |analytic − numeric| must be at most
// fdAbs + fdRel·|numeric|. Float32 forward passes differenced at a step of
// 1e-2 (rounding ~1e-7 relative, truncation ~h²) agree to about 1e-4 on
// these small nets; a wrong index moves an entry by the size of a gradient
// (TestGradCheckCatchesWrongIndex checks that it is caught).
const (
	fdStep = 1e-2
	fdAbs  = 2e-3
	fdRel  = 2e-2
	// fdKinkShare is the share of entries that may be skipped because the
	// loss is not smooth there at the step's scale (ReLU kinks, max-pool
	// switches): the differences at no two successive steps of h, h/2,
	// h/4, h/8 agree. Skipping looks only at the numeric side, so it cannot
	// hide a wrong analytic gradient beyond this share.
	fdKinkShare = 0.03
)

// gradMismatch compares grad, the analytic gradient of f at v, with central
// differences, perturbing v in place (and restoring it). It returns a
// description of every mismatch and how many entries were skipped as kinks.
func gradMismatch(v, grad []float32, f func() float64) (bad []string, kinks int) {
	g := append([]float32(nil), grad...)
	diff := func(i int, h float32) float64 {
		old := v[i]
		v[i] = old + h
		up := f()
		v[i] = old - h
		down := f()
		v[i] = old
		return (up - down) / (float64(old+h) - float64(old-h))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= fdAbs+fdRel*math.Abs(a) }
	for i := range v {
		// A kink within the step shows as differences at h and h/2 that
		// disagree; a pair of smaller steps may still see smooth ground.
		num, prev := math.NaN(), diff(i, fdStep)
		for _, h := range []float32{fdStep / 2, fdStep / 4, fdStep / 8} {
			n := diff(i, h)
			if close(prev, n) {
				num = prev
				break
			}
			prev = n
		}
		if math.IsNaN(num) {
			kinks++
			continue
		}
		if a := float64(g[i]); !close(num, a) {
			bad = append(bad, fmt.Sprintf("[%d] analytic %.6g numeric %.6g", i, a, num))
		}
	}
	return bad, kinks
}

// checkGrad fails t when grad is not the gradient of f at v.
func checkGrad(t *testing.T, name string, v, grad []float32, f func() float64) {
	t.Helper()
	bad, kinks := gradMismatch(v, grad, f)
	if len(bad) > 0 {
		n := min(len(bad), 5)
		t.Errorf("%s: %d of %d entries disagree with central differences, e.g. %v", name, len(bad), len(v), bad[:n])
	}
	if float64(kinks) > fdKinkShare*float64(len(v))+1 {
		t.Errorf("%s: %d of %d entries not smooth at step %g: too many to trust the check", name, kinks, len(v), fdStep)
	}
}
