// cgo bridges to kernels.c: the float32 sweeps (sum of squares, rescale,
// clamp, max) that every Clip call makes over all of a model's gradients. In Go
// they ran at about one element per cycle, a third to a whole training
// step of mlp2; vectorised they cost a few percent (BenchmarkClip).

package clipalgo

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "kernels.h"
*/
import "C"

import "unsafe"

// sumSq32 returns Σ x² in float64.
func sumSq32(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return float64(C.cl_sumsq((*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(len(x))))
}

// scale32 sets x to float32(x·s) (the product in float64) and returns Σ x²
// of the result.
func scale32(x []float32, s float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return float64(C.cl_scale((*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(len(x)), C.double(s)))
}

// clamp32 clamps x to [-c, c] and returns how many elements were beyond it
// and Σ x² of the result. x must hold no NaN.
func clamp32(x []float32, c float32) (int, float64) {
	if len(x) == 0 {
		return 0, 0
	}
	r := C.cl_clamp((*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(len(x)), C.float(c))
	return int(r.clamped), float64(r.sumsq)
}

// maxAbs32 returns max |x|, NaN if x holds a NaN, 0 for an empty x.
func maxAbs32(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return float64(C.cl_maxabs((*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(len(x))))
}

// rowNorms32 sets out[r] to the L2 norm of row r of x, rows of cols each.
func rowNorms32(out []float64, x []float32, rows, cols int) {
	if rows == 0 || cols == 0 {
		clear(out[:rows])
		return
	}
	C.cl_rownorms((*C.double)(unsafe.Pointer(&out[0])), (*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(rows), C.ptrdiff_t(cols))
}

// rowScale32 multiplies row r of x by s[r] and returns Σ x² of the result.
func rowScale32(x []float32, rows, cols int, s []float64) float64 {
	if rows == 0 || cols == 0 {
		return 0
	}
	return float64(C.cl_rowscale((*C.float)(unsafe.Pointer(&x[0])), C.ptrdiff_t(rows), C.ptrdiff_t(cols), (*C.double)(unsafe.Pointer(&s[0]))))
}
