// The float32 sweeps of package clipalgo; see kernels.go.
//
// Every function is compiled for AVX-512, AVX2 and baseline x86-64 and the
// loader picks one for the CPU (GCC target_clones). Sums run in double over
// LANES fixed lanes, element i into lane i mod LANES, and the lanes are
// added in a fixed tree at the end; contraction into fused multiply-adds is
// off. So every clone computes the same IEEE operations in the same order,
// and the result does not depend on which clone runs.

#pragma GCC optimize("O3", "fp-contract=off")

#include <math.h>
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

#define LANES 16

static double fold(const double *a) {
	double b[8];
	for (int j = 0; j < 8; j++) b[j] = a[j] + a[j + 8];
	for (int j = 0; j < 4; j++) b[j] = b[j] + b[j + 4];
	return (b[0] + b[2]) + (b[1] + b[3]);
}

// cl_sumsq returns Σ x², accumulated in double.
CLONES double cl_sumsq(const float *x, ptrdiff_t n) {
	double acc[LANES] = {0};
	ptrdiff_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++) {
			double v = x[i + j];
			acc[j] += v * v;
		}
	for (int j = 0; i + j < n; j++) {
		double v = x[i + j];
		acc[j] += v * v;
	}
	return fold(acc);
}

// cl_scale sets x to (float)(x·s), the product taken in double, and returns
// Σ x² of the result.
CLONES double cl_scale(float *x, ptrdiff_t n, double s) {
	double acc[LANES] = {0};
	ptrdiff_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++) {
			float y = (float)((double)x[i + j] * s);
			x[i + j] = y;
			acc[j] += (double)y * (double)y;
		}
	for (int j = 0; i + j < n; j++) {
		float y = (float)((double)x[i + j] * s);
		x[i + j] = y;
		acc[j] += (double)y * (double)y;
	}
	return fold(acc);
}

// cl_clamp clamps x to [-c, c] and returns how many elements were beyond it
// and Σ x² of the result. x holds no NaN (the caller checked).
CLONES cl_clamped cl_clamp(float *x, ptrdiff_t n, float c) {
	double acc[LANES] = {0};
	int cnt[LANES] = {0};
	ptrdiff_t i = 0, k = 0;
	for (; i + LANES <= n; i += LANES) {
		for (int j = 0; j < LANES; j++) {
			float v = x[i + j];
			cnt[j] += (v > c) + (v < -c);
			float y = v > c ? c : v;
			y = y < -c ? -c : y;
			x[i + j] = y;
			acc[j] += (double)y * (double)y;
		}
		// Fold the counts before an int lane could overflow.
		if ((i / LANES) % (1 << 20) == (1 << 20) - 1) {
			for (int j = 0; j < LANES; j++) {
				k += cnt[j];
				cnt[j] = 0;
			}
		}
	}
	for (int j = 0; i + j < n; j++) {
		float v = x[i + j];
		cnt[j] += (v > c) + (v < -c);
		float y = v > c ? c : v;
		y = y < -c ? -c : y;
		x[i + j] = y;
		acc[j] += (double)y * (double)y;
	}
	for (int j = 0; j < LANES; j++) k += cnt[j];
	cl_clamped r = {fold(acc), k};
	return r;
}

// cl_maxabs returns max |x|, NaN if x holds a NaN, 0 for an empty x.
CLONES float cl_maxabs(const float *x, ptrdiff_t n) {
	float m[LANES] = {0};
	int nan[LANES] = {0};
	ptrdiff_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++) {
			float a = __builtin_fabsf(x[i + j]);
			nan[j] |= a != a;
			m[j] = a > m[j] ? a : m[j];
		}
	for (int j = 0; i + j < n; j++) {
		float a = __builtin_fabsf(x[i + j]);
		nan[j] |= a != a;
		m[j] = a > m[j] ? a : m[j];
	}
	float r = 0;
	int anynan = 0;
	for (int j = 0; j < LANES; j++) {
		anynan |= nan[j];
		r = m[j] > r ? m[j] : r;
	}
	return anynan ? (0.0f / 0.0f) : r;
}

// cl_rownorms sets out[r] to the L2 norm of row r of the rows×cols matrix x
// (a float32 sum of squares cannot overflow a double).
void cl_rownorms(double *out, const float *x, ptrdiff_t rows, ptrdiff_t cols) {
	for (ptrdiff_t r = 0; r < rows; r++) out[r] = sqrt(cl_sumsq(x + r * cols, cols));
}

// cl_rowscale multiplies row r of the rows×cols matrix x by s[r] (rows with
// s[r] = 1 are left alone) and returns Σ x² of the result.
double cl_rowscale(float *x, ptrdiff_t rows, ptrdiff_t cols, const double *s) {
	double t = 0;
	for (ptrdiff_t r = 0; r < rows; r++)
		t += s[r] == 1 ? cl_sumsq(x + r * cols, cols) : cl_scale(x + r * cols, cols, s[r]);
	return t;
}
