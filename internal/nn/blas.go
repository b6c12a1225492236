// OpenBLAS through cgo: the one GEMM every layer uses, and the library's
// core and thread settings.

package nn

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>

#if defined(__x86_64__) && defined(__GNUC__)
static int cpu_has_avx512(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx512cd");
}
static int cpu_has_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int cpu_has_avx(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx");
}
#else
// Elsewhere OpenBLAS's own choice stands.
static int cpu_has_avx512(void) { return 0; }
static int cpu_has_avx2(void) { return 0; }
static int cpu_has_avx(void) { return 0; }
#endif
*/
import "C"

import "unsafe"

// sgemm computes c = alpha·op(a)·op(b) + beta·c for row-major matrices, with
// op(a) m×k and op(b) k×n; ta, tb transpose a and b. lda, ldb, ldc are the
// row strides of a, b, c as stored.
func sgemm(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// cblas would scale c by beta; keep that meaning without the call.
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	transA, transB := C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans), C.enum_CBLAS_TRANSPOSE(C.CblasNoTrans)
	if ta {
		transA = C.CblasTrans
	}
	if tb {
		transB = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, transA, transB, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

// BLASCore returns the name of the kernel set OpenBLAS chose at start-up,
// e.g. "SkylakeX" or "Haswell". "Prescott" on a modern CPU means the slow
// fallback: see EnsureBLAS.
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// BLASConfig returns OpenBLAS's build description (version, DYNAMIC_ARCH, …).
func BLASConfig() string { return C.GoString(C.openblas_get_config()) }

func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// cpuCore returns the OPENBLAS_CORETYPE this CPU should run, or "" when the
// CPU has no AVX (OpenBLAS's own choice is then as good as ours).
func cpuCore() string {
	switch {
	case C.cpu_has_avx512() != 0:
		return "SkylakeX"
	case C.cpu_has_avx2() != 0:
		return "Haswell"
	case C.cpu_has_avx() != 0:
		return "Sandybridge"
	}
	return ""
}
