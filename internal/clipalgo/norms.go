// Norms accumulated in float64, shape checks and the finiteness check that
// every Clip call makes before it touches a gradient.

package clipalgo

import (
	"fmt"
	"math"
)

// sumSq returns Σ x², accumulated in float64 (float32 in kernels.c, float64
// here over four lanes).
func sumSq[F Float](x []F) float64 {
	if x32, ok := any(x).([]float32); ok {
		return sumSq32(x32)
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

// maxAbs returns max |x|, NaN if x holds a NaN, 0 for an empty x.
func maxAbs[F Float](x []F) float64 {
	if x32, ok := any(x).([]float32); ok {
		return maxAbs32(x32)
	}
	var m0, m1 float64
	nan := false
	i := 0
	for ; i+2 <= len(x); i += 2 {
		a, b := math.Abs(float64(x[i])), math.Abs(float64(x[i+1]))
		nan = nan || a != a || b != b
		if a > m0 {
			m0 = a
		}
		if b > m1 {
			m1 = b
		}
	}
	for ; i < len(x); i++ {
		a := math.Abs(float64(x[i]))
		nan = nan || a != a
		if a > m0 {
			m0 = a
		}
	}
	if nan {
		return math.NaN()
	}
	return max(m0, m1)
}

// norm2 returns the L2 norm of x: NaN when x holds a NaN, +Inf when it holds
// ±Inf, and finite (rescaled by the largest element) when only the squares
// overflow, which float64 gradients beyond 1e154 would do.
func norm2[F Float](x []F) float64 {
	s := sumSq(x)
	if !math.IsInf(s, 1) {
		return math.Sqrt(s)
	}
	m := maxAbs(x)
	if math.IsInf(m, 1) || math.IsNaN(m) {
		return m
	}
	var r float64
	for _, v := range x {
		q := float64(v) / m
		r += q * q
	}
	return m * math.Sqrt(r)
}

// combine returns sqrt(Σ at(i)²) over i < n, the norm of per-tensor norms
// that torch's clip_grad_norm_ computes, rescaling when the squares overflow.
func combine(n int, at func(int) float64) float64 {
	var s float64
	for i := range n {
		a := at(i)
		s += a * a
	}
	if !math.IsInf(s, 1) {
		return math.Sqrt(s)
	}
	m := 0.0
	for i := range n {
		m = math.Max(m, at(i))
	}
	if math.IsInf(m, 1) || math.IsNaN(m) {
		return m
	}
	var r float64
	for i := range n {
		q := at(i) / m
		r += q * q
	}
	return m * math.Sqrt(r)
}

func norms2(norms []float64) float64 {
	return combine(len(norms), func(i int) float64 { return norms[i] })
}

// size returns the number of elements shape holds.
func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// checkShape reports a tensor whose Grad (and Param, when withParam) does not
// match its Shape, or whose Role does not match the Shape's rank.
func checkShape[F Float](t *Tensor[F], withParam bool) error {
	n := size(t.Shape)
	if len(t.Grad) != n {
		return fmt.Errorf("tensor %q: %d gradient elements for shape %v: %w", t.Name, len(t.Grad), t.Shape, ErrShape)
	}
	if withParam && len(t.Param) != n {
		return fmt.Errorf("tensor %q: %d parameter elements for shape %v: %w", t.Name, len(t.Param), t.Shape, ErrShape)
	}
	if want := t.Role.Rank(); want != 0 && len(t.Shape) != want {
		return fmt.Errorf("tensor %q: role %v wants rank %d, shape is %v: %w", t.Name, t.Role, want, t.Shape, ErrShape)
	}
	return nil
}

// nonFinite returns the error for the first non-finite element of x, which
// the caller knows holds one.
func nonFinite[F Float](name, what string, x []F, sentinel error) error {
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("tensor %q: %s element %d is %v: %w", name, what, i, f, sentinel)
		}
	}
	return fmt.Errorf("tensor %q: non-finite %s: %w", name, what, sentinel)
}

// measure checks every tensor's shape, fills norms[i] with the L2 norm of
// ts[i].Grad and returns the global L2 norm (torch's norm of norms). It
// returns an error, before anything is modified, for the first tensor that
// does not match its shape or holds a non-finite gradient.
func measure[F Float](ts []Tensor[F], norms []float64, withParam bool) (float64, error) {
	for i := range ts {
		t := &ts[i]
		if err := checkShape(t, withParam); err != nil {
			return 0, err
		}
		n := norm2(t.Grad)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, nonFinite(t.Name, "gradient", t.Grad, ErrNonFinite)
		}
		norms[i] = n
	}
	return norms2(norms), nil
}

// scale multiplies x by s in float64 and returns Σ x² of the result.
func scale[F Float](x []F, s float64) float64 {
	if x32, ok := any(x).([]float32); ok {
		return scale32(x32, s)
	}
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		a, b := F(float64(x[i])*s), F(float64(x[i+1])*s)
		x[i], x[i+1] = a, b
		s0 += float64(a) * float64(a)
		s1 += float64(b) * float64(b)
	}
	for ; i < len(x); i++ {
		a := F(float64(x[i]) * s)
		x[i] = a
		s0 += float64(a) * float64(a)
	}
	return s0 + s1
}

// clamp clamps x to [-c, c] and returns how many elements were beyond it
// and Σ x² of the result. x must hold no NaN.
func clamp[F Float](x []F, c F) (int, float64) {
	if x32, ok := any(x).([]float32); ok {
		return clamp32(x32, float32(c))
	}
	k, ss := 0, 0.0
	for j, v := range x {
		// Branch-free: whether an element is clamped is a coin toss at
		// thresholds that matter.
		y := min(max(v, -c), c)
		x[j] = y
		k += b2i(v > c) + b2i(v < -c)
		ss += float64(y) * float64(y)
	}
	return k, ss
}

// grow returns buf resized to n, reusing its storage when it can.
func grow(buf []float64, n int) []float64 {
	if cap(buf) < n {
		return make([]float64, n)
	}
	return buf[:n]
}
