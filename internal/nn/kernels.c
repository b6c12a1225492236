// Element-wise and data-movement kernels of package nn; see kernels.go.
//
// Every function is compiled for AVX-512, AVX2 and baseline x86-64 and the
// loader picks one for the CPU (GCC target_clones). Contraction into fused
// multiply-adds and errno-setting math are off, so every clone computes
// exactly the same IEEE operations in the same order as the scalar code
// reads: the result does not depend on which clone runs.

#pragma GCC optimize("O3", "fp-contract=off", "no-math-errno")

#include <math.h>
#include <string.h>
#include <cblas.h>
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

// tanh_rat is tanh to within a few ulp in float32: Eigen's 13/6-degree
// rational approximation (Eigen, Core/MathFunctionsImpl.h,
// generic_fast_tanh_float), clamped at ±7.90531110763549805 where float32
// tanh is ±1 and the rational would pass it; tanh(x) = x below 0.0004.
// NaN stays NaN.
static inline float tanh_rat(float x0) {
	const float clamp = 7.90531110763549805f;
	float x = x0 > clamp ? clamp : x0;
	x = x < -clamp ? -clamp : x;
	float x2 = x * x;
	float p = -2.76076847742355e-16f;
	p = p * x2 + 2.00018790482477e-13f;
	p = p * x2 + -8.60467152213735e-11f;
	p = p * x2 + 5.12229709037114e-08f;
	p = p * x2 + 1.48572235717979e-05f;
	p = p * x2 + 6.37261928875436e-04f;
	p = p * x2 + 4.89352455891786e-03f;
	p = p * x;
	float q = 1.19825839466702e-06f;
	q = q * x2 + 1.18534705686654e-04f;
	q = q * x2 + 2.26843463243900e-03f;
	q = q * x2 + 4.89352518554385e-03f;
	float r = p / q;
	return fabsf(x0) < 0.0004f ? x0 : r;
}

// sigmoid_rat is σ(x) = ½ + ½·tanh(x/2).
static inline float sigmoid_rat(float x) { return 0.5f + 0.5f * tanh_rat(0.5f * x); }

// act applies an activation; relu keeps NaN (x ≤ 0 is false for NaN), as
// torch.relu does.
static inline float act1(float v, int act) {
	if (act == NN_ACT_RELU) return v <= 0.0f ? 0.0f : v;
	if (act == NN_ACT_TANH) return tanh_rat(v);
	return v;
}

CLONES void nn_tanh(float *x, long n) {
	for (long i = 0; i < n; i++) x[i] = tanh_rat(x[i]);
}

CLONES void nn_bias_act_cols(float *y, const float *bias, long rows, long n, int act) {
	for (long r = 0; r < rows; r++) {
		float *row = y + r * n;
		if (act == NN_ACT_RELU) {
			for (long j = 0; j < n; j++) { float v = row[j] + bias[j]; row[j] = v <= 0.0f ? 0.0f : v; }
		} else if (act == NN_ACT_TANH) {
			for (long j = 0; j < n; j++) row[j] = tanh_rat(row[j] + bias[j]);
		} else {
			for (long j = 0; j < n; j++) row[j] += bias[j];
		}
	}
}

CLONES void nn_bias_act_rows(float *y, const float *bias, long rows, long n, int act) {
	for (long r = 0; r < rows; r++) {
		float *row = y + r * n;
		const float b = bias[r];
		if (act == NN_ACT_RELU) {
			for (long j = 0; j < n; j++) { float v = row[j] + b; row[j] = v <= 0.0f ? 0.0f : v; }
		} else if (act == NN_ACT_TANH) {
			for (long j = 0; j < n; j++) row[j] = tanh_rat(row[j] + b);
		} else {
			for (long j = 0; j < n; j++) row[j] += b;
		}
	}
}

// nn_act_backward: relu' as torch's threshold_backward (0 where y ≤ 0),
// tanh' = 1 − y².
CLONES void nn_act_backward(float *dz, const float *dy, const float *y, long n, int act) {
	if (act == NN_ACT_RELU) {
		for (long i = 0; i < n; i++) dz[i] = y[i] <= 0.0f ? 0.0f : dy[i];
	} else if (act == NN_ACT_TANH) {
		for (long i = 0; i < n; i++) dz[i] = dy[i] * (1.0f - y[i] * y[i]);
	} else {
		memmove(dz, dy, (size_t)n * sizeof(float));
	}
}

// nn_col_sum: db[j] = Σ_r dz[r, j], rows added in order.
CLONES void nn_col_sum(float *db, const float *dz, long rows, long n) {
	for (long j = 0; j < n; j++) db[j] = 0.0f;
	for (long r = 0; r < rows; r++) {
		const float *row = dz + r * n;
		for (long j = 0; j < n; j++) db[j] += row[j];
	}
}

// nn_row_sumsq: out[r] = Σ_j x[r, j]², each square and sum in double, in 8
// interleaved partial sums combined in a fixed order (so that it vectorises
// and every clone gives the same result).
CLONES void nn_row_sumsq(double *out, const float *x, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		const float *row = x + r * n;
		double acc[8] = {0};
		long j = 0;
		for (; j + 8 <= n; j += 8)
			for (int k = 0; k < 8; k++) acc[k] += (double)row[j + k] * (double)row[j + k];
		double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
		for (; j < n; j++) s += (double)row[j] * (double)row[j];
		out[r] = s;
	}
}

// nn_row_sum_add: db[r] += Σ_j dz[r, j], summed in 16 interleaved partial
// sums combined in a fixed order (so that it vectorises and every clone
// gives the same result).
CLONES void nn_row_sum_add(float *db, const float *dz, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		const float *row = dz + r * n;
		float acc[16] = {0};
		long j = 0;
		for (; j + 16 <= n; j += 16)
			for (int k = 0; k < 16; k++) acc[k] += row[j + k];
		for (int k = 0; j < n; j++, k++) acc[k] += row[j];
		float s = 0.0f;
		for (int k = 0; k < 16; k++) s += acc[k];
		db[r] += s;
	}
}

// copy_row and add_row move n floats in fixed chunks of 8, which GCC turns
// into single vector moves: conv rows are short (8 to 24 floats for the
// cnn), too short for its generic vector loops to pay.
static inline void copy_row(float *restrict d, const float *restrict s, long n) {
	long q = 0;
	for (; q + 8 <= n; q += 8)
		for (int r = 0; r < 8; r++) d[q + r] = s[q + r];
	for (; q < n; q++) d[q] = s[q];
}

static inline void add_row(float *restrict d, const float *restrict s, long n) {
	long q = 0;
	for (; q + 8 <= n; q += 8)
		for (int r = 0; r < 8; r++) d[q + r] += s[q + r];
	for (; q < n; q++) d[q] += s[q];
}

// v16f and v8f are GCC vectors of 16 and 8 floats with float alignment:
// a copy through them is one load and one store on AVX-512 (two or four on
// narrower paths), where GCC would otherwise call memmove for each short row.
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));

static inline __attribute__((always_inline)) void copy_short(float *restrict d, const float *restrict s, long n) {
	long q = 0;
	for (; q + 16 <= n; q += 16) *(v16f *)(d + q) = *(const v16f *)(s + q);
	if (q + 8 <= n) {
		*(v8f *)(d + q) = *(const v8f *)(s + q);
		q += 8;
	}
	for (; q < n; q++) d[q] = s[q];
}

// im2col_body is nn_im2col with its sizes as arguments, inlined where they
// are constants so that GCC unrolls each row's copy into whole vector moves
// (the cnn's rows are 24 and 8 floats).
static inline __attribute__((always_inline)) void im2col_body(float *restrict cols, const float *restrict x,
	long c, long h, long w, long k, long ho, long wo) {
	for (long ci = 0; ci < c; ci++)
		for (long ki = 0; ki < k; ki++)
			for (long kj = 0; kj < k; kj++) {
				float *restrict dst = cols + ((ci * k + ki) * k + kj) * ho * wo;
				const float *restrict src = x + (ci * h + ki) * w + kj;
				for (long oy = 0; oy < ho; oy++) copy_short(dst + oy * wo, src + oy * w, wo);
			}
}

// nn_im2col: for one example x (C, H, W), cols (C·k·k, Ho·Wo) with row
// (c, ki, kj) holding x[c, oy+ki, ox+kj]; stride 1, no padding.
CLONES void nn_im2col(float *cols, const float *x, long c, long h, long w, long k) {
	const long ho = h - k + 1, wo = w - k + 1;
	if (k == 5 && h == 28 && w == 28) im2col_body(cols, x, c, 28, 28, 5, 24, 24);
	else if (k == 5 && h == 12 && w == 12) im2col_body(cols, x, c, 12, 12, 5, 8, 8);
	else im2col_body(cols, x, c, h, w, k, ho, wo);
}

// col2im_scalar is nn_col2im as the adjoint reads: dx zeroed, then every
// column entry added to its input pixel, rows (c, ki, kj) in order, so each
// pixel sums its entries in (ki, kj) order from +0.
static void col2im_scalar(float *dx, const float *dcols, long c, long h, long w, long k) {
	const long ho = h - k + 1, wo = w - k + 1;
	memset(dx, 0, (size_t)(c * h * w) * sizeof(float));
	for (long ci = 0; ci < c; ci++)
		for (long ki = 0; ki < k; ki++)
			for (long kj = 0; kj < k; kj++) {
				const float *src = dcols + ((ci * k + ki) * k + kj) * ho * wo;
				float *dst = dx + (ci * h + ki) * w + kj;
				for (long oy = 0; oy < ho; oy++) add_row(dst + oy * w, src + oy * wo, wo);
			}
}

// The vector paths of nn_col2im build each input row in registers: pixel
// (y, x) gathers its entries (ki, kj) in the same order, as masked loads of
// the column rows shifted by kj. A masked-off lane adds +0, which leaves a
// sum started from +0 unchanged (such a sum is never −0), so every path gives
// col2im_scalar's bits. Unlike col2im_scalar's shifted read-modify-writes of
// dx, which overlap the stores just before them and stall the store
// forwarding, these load only the columns and store each row of dx once.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

// col2im_avx512 needs w ≤ 16 (one register per row of dx).
__attribute__((target("avx512f"))) static void col2im_avx512(float *dx, const float *dcols, long c, long h,
	long w, long k) {
	const long ho = h - k + 1, wo = w - k + 1;
	const __mmask16 row = (__mmask16)((1u << wo) - 1), out = (__mmask16)((1u << w) - 1);
	for (long ci = 0; ci < c; ci++)
		for (long y = 0; y < h; y++) {
			__m512 acc = _mm512_setzero_ps();
			const long k0 = y - ho + 1 > 0 ? y - ho + 1 : 0, k1 = y < k - 1 ? y : k - 1;
			for (long ki = k0; ki <= k1; ki++) {
				const float *src = dcols + (ci * k + ki) * k * ho * wo + (y - ki) * wo;
				for (long kj = 0; kj < k; kj++, src += ho * wo)
					acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps((__mmask16)(row << kj), src - kj));
			}
			_mm512_mask_storeu_ps(dx + (ci * h + y) * w, out, acc);
		}
}

// col2im_avx2 needs w ≤ 16 (two registers per row of dx).
__attribute__((target("avx2"))) static void col2im_avx2(float *dx, const float *dcols, long c, long h, long w,
	long k) {
	const long ho = h - k + 1, wo = w - k + 1;
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm256_set1_epi32(8);
	const __m256i wv = _mm256_set1_epi32((int)w);
	for (long ci = 0; ci < c; ci++)
		for (long y = 0; y < h; y++) {
			__m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
			const long k0 = y - ho + 1 > 0 ? y - ho + 1 : 0, k1 = y < k - 1 ? y : k - 1;
			for (long ki = k0; ki <= k1; ki++) {
				const float *src = dcols + (ci * k + ki) * k * ho * wo + (y - ki) * wo;
				for (long kj = 0; kj < k; kj++, src += ho * wo) {
					// lane x takes src[x − kj] when 0 ≤ x − kj < wo.
					const __m256i a = _mm256_set1_epi32((int)kj), b = _mm256_set1_epi32((int)(kj + wo));
					__m256i m0 = _mm256_andnot_si256(_mm256_cmpgt_epi32(a, lane), _mm256_cmpgt_epi32(b, lane));
					__m256i l8 = _mm256_add_epi32(lane, eight);
					__m256i m1 = _mm256_andnot_si256(_mm256_cmpgt_epi32(a, l8), _mm256_cmpgt_epi32(b, l8));
					lo = _mm256_add_ps(lo, _mm256_maskload_ps(src - kj, m0));
					hi = _mm256_add_ps(hi, _mm256_maskload_ps(src - kj + 8, m1));
				}
			}
			float *d = dx + (ci * h + y) * w;
			_mm256_maskstore_ps(d, _mm256_cmpgt_epi32(wv, lane), lo);
			_mm256_maskstore_ps(d + 8, _mm256_cmpgt_epi32(wv, _mm256_add_epi32(lane, eight)), hi);
		}
}
#endif

// nn_col2im: the adjoint of nn_im2col; dx is overwritten. path picks the
// code (tests): 0 the best this CPU runs, 1 AVX-512, 2 AVX2, 3 scalar.
void nn_col2im_path(float *dx, const float *dcols, long c, long h, long w, long k, int path) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
	__builtin_cpu_init();
	if (w <= 16) {
		if ((path == 0 || path == 1) && __builtin_cpu_supports("avx512f")) {
			col2im_avx512(dx, dcols, c, h, w, k);
			return;
		}
		if ((path == 0 || path == 2) && __builtin_cpu_supports("avx2")) {
			col2im_avx2(dx, dcols, c, h, w, k);
			return;
		}
	}
#endif
	col2im_scalar(dx, dcols, c, h, w, k);
}

void nn_col2im(float *dx, const float *dcols, long c, long h, long w, long k) {
	nn_col2im_path(dx, dcols, c, h, w, k, 0);
}

// The conv layer's loops over a batch, one example at a time, in C so that
// a batch costs one cgo call rather than two to four per example; each
// cblas_sgemm call is the one conv.go made per example before, argument for
// argument, so the products are the same bits.

// nn_conv_forward: y_i = act(W·im2col(x_i) + b) for the b examples of x
// (C, H, W) each; cols is one example's scratch (C·k·k, Ho·Wo).
void nn_conv_forward(float *y, float *cols, const float *x, const float *wt, const float *bias, long b, long c,
	long h, long w, long o, long k, int act) {
	const long ckk = c * k * k, hw = (h - k + 1) * (w - k + 1), in = c * h * w, out = o * hw;
	for (long i = 0; i < b; i++) {
		nn_im2col(cols, x + i * in, c, h, w, k);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)o, (blasint)hw, (blasint)ckk, 1.0f, wt,
			(blasint)ckk, cols, (blasint)hw, 0.0f, y + i * out, (blasint)hw);
		nn_bias_act_rows(y + i * out, bias, o, hw, act);
	}
}

// nn_conv_backward_w: dW = Σ_i dz_i·im2col(x_i)ᵀ, accumulated example after
// example (the first overwrites), and db = Σ_i rowsum(dz_i) from 0.
void nn_conv_backward_w(float *dw, float *db, float *cols, const float *x, const float *dz, long b, long c, long h,
	long w, long o, long k) {
	const long ckk = c * k * k, hw = (h - k + 1) * (w - k + 1), in = c * h * w, out = o * hw;
	memset(db, 0, (size_t)o * sizeof(float));
	for (long i = 0; i < b; i++) {
		nn_im2col(cols, x + i * in, c, h, w, k);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)o, (blasint)ckk, (blasint)hw, 1.0f,
			dz + i * out, (blasint)hw, cols, (blasint)hw, i == 0 ? 0.0f : 1.0f, dw, (blasint)ckk);
		nn_row_sum_add(db, dz + i * out, o, hw);
	}
}

// nn_conv_backward_dx: dx_i = col2im(Wᵀ·dz_i); dcols is one example's
// scratch.
void nn_conv_backward_dx(float *dx, float *dcols, const float *wt, const float *dz, long b, long c, long h, long w,
	long o, long k) {
	const long ckk = c * k * k, hw = (h - k + 1) * (w - k + 1), in = c * h * w, out = o * hw;
	for (long i = 0; i < b; i++) {
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)ckk, (blasint)hw, (blasint)o, 1.0f, wt,
			(blasint)ckk, dz + i * out, (blasint)hw, 0.0f, dcols, (blasint)hw);
		nn_col2im(dx + i * in, dcols, c, h, w, k);
	}
}

// pool2_pick writes the larger of the column maxima v[0] (left) and v[1]
// (right), NaN winning, and its index. The choice is a bit mask rather than
// a conditional so that GCC vectorises the loops around it.
static inline void pool2_pick(float *y, int *idx, const float *v, const int *vi, const int *vb, int base) {
	float l = v[0], r = v[1];
	int t = (r > l) | (r != r) | ((r == l) & vb[0] & (vb[1] ^ 1));
	int m = -t;
	union { float f; int i; } ul = {l}, ur = {r}, out;
	out.i = (ur.i & m) | (ul.i & ~m);
	*y = out.f;
	*idx = base + ((vi[1] & m) | (vi[0] & ~m));
}

// pool2_plane is nn_maxpool for p = 2 on one plane, in two vectorisable
// passes through scratch of h/2·w floats and 2·(h/2·w) ints: the maximum of
// each column pair of rows (top first), then of each pair of those. Which
// of two equal maxima wins is settled as the row-major scan would: the
// right one only when it is in the top row and the left one in the bottom.
static inline void pool2_plane(float *restrict y, int *restrict idx, const float *restrict xp, long h, long w,
	int base, float *restrict V, int *restrict VI, int *restrict VB) {
	const long ho = h / 2, wo = w / 2;
	for (long oy = 0; oy < ho; oy++) {
		const float *r0 = xp + 2 * oy * w, *r1 = r0 + w;
		float *v = V + oy * w;
		int *vi = VI + oy * w, *vb = VB + oy * w;
		const int top = (int)(2 * oy * w);
		for (long j = 0; j < w; j++) {
			float a = r0[j], c = r1[j];
			int t = (c > a) | ((c != c) & (a == a));
			v[j] = t ? c : a;
			vi[j] = top + (int)j + (t ? (int)w : 0);
			vb[j] = t;
		}
	}
	if (w % 2 == 0) { // the pairs of all rows in one run: V[2o], V[2o+1]
		for (long o = 0; o < ho * wo; o++)
			pool2_pick(y + o, idx + o, V + 2 * o, VI + 2 * o, VB + 2 * o, base);
		return;
	}
	for (long oy = 0; oy < ho; oy++)
		for (long ox = 0; ox < wo; ox++) {
			long at = oy * w + 2 * ox;
			pool2_pick(y + oy * wo + ox, idx + oy * wo + ox, V + at, VI + at, VB + at, base);
		}
}

// POOL2_SCRATCH bounds the plane size the two-pass p = 2 path takes (its
// scratch lives on the stack).
#define POOL2_SCRATCH 2048

// nn_maxpool: p×p windows with stride p over planes of h×w (floor mode);
// y[o] is the window's first maximum in row-major order and idx[o] its
// index in x counted from x, as PyTorch's CPU kernel picks it. A window
// holding a NaN gives NaN (PyTorch: `(val > maxval) || isnan(val)`), with
// idx at one of its NaNs.
CLONES void nn_maxpool(float *y, int *idx, const float *x, long planes, long h, long w, long p) {
	const long ho = h / p, wo = w / p;
	if (p == 2 && ho * w <= POOL2_SCRATCH) {
		float V[POOL2_SCRATCH];
		int VI[POOL2_SCRATCH], VB[POOL2_SCRATCH];
		for (long pl = 0; pl < planes; pl++)
			pool2_plane(y + pl * ho * wo, idx + pl * ho * wo, x + pl * h * w, h, w, (int)(pl * h * w), V, VI, VB);
		return;
	}
	for (long pl = 0; pl < planes; pl++) {
		const float *xp = x + pl * h * w;
		float *yp = y + pl * ho * wo;
		int *ip = idx + pl * ho * wo;
		const int base = (int)(pl * h * w);
		for (long oy = 0; oy < ho; oy++)
			for (long ox = 0; ox < wo; ox++) {
				long start = oy * p * w + ox * p, bi = start;
				float m = xp[start];
				for (long dy = 0; dy < p; dy++)
					for (long dx = 0; dx < p; dx++) {
						long at = start + dy * w + dx;
						float v = xp[at];
						if (v > m || (v != v && m == m)) { m = v; bi = at; }
					}
				yp[oy * wo + ox] = m;
				ip[oy * wo + ox] = base + (int)bi;
			}
	}
}

// nn_maxpool_backward: dx (nin values) is zero but at each window's
// maximum, which gets its output's gradient (windows do not overlap).
CLONES void nn_maxpool_backward(float *dx, const int *idx, const float *dy, long nout, long nin) {
	memset(dx, 0, (size_t)nin * sizeof(float));
	for (long o = 0; o < nout; o++) dx[idx[o]] = dy[o];
}

// nn_maxpool_backward_relu is nn_maxpool_backward followed by ReLU's
// backward through the pool's input x = relu(·) (nn_act_backward): a
// maximum where x ≤ 0 gets 0, as does every other input. y is the pool's
// output, y[o] = x[idx[o]], read in order rather than x at random.
CLONES void nn_maxpool_backward_relu(float *dx, const int *idx, const float *dy, const float *y, long nout,
	long nin) {
	memset(dx, 0, (size_t)nin * sizeof(float));
	for (long o = 0; o < nout; o++) dx[idx[o]] = y[o] <= 0.0f ? 0.0f : dy[o];
}

// nn_lstm_cell: one step of torch.nn.LSTM for rows examples. gates holds
// the pre-activations (rows, 4H) in PyTorch's order i, f, g, o and is
// overwritten by the activations; c = f⊙cprev + i⊙g (cprev NULL: zero),
// tc = tanh(c), h = o⊙tc.
CLONES void nn_lstm_cell(float *gates, const float *cprev, float *c, float *tc, float *h, long rows, long hid) {
	for (long r = 0; r < rows; r++) {
		float *restrict ig = gates + r * 4 * hid, *restrict fg = ig + hid;
		float *restrict gg = fg + hid, *restrict og = gg + hid;
		float *restrict cr = c + r * hid, *restrict tr = tc + r * hid, *restrict hr = h + r * hid;
		for (long j = 0; j < hid; j++) {
			ig[j] = sigmoid_rat(ig[j]);
			fg[j] = sigmoid_rat(fg[j]);
			gg[j] = tanh_rat(gg[j]);
			og[j] = sigmoid_rat(og[j]);
		}
		if (cprev) {
			const float *restrict cp = cprev + r * hid;
			for (long j = 0; j < hid; j++) cr[j] = fg[j] * cp[j] + ig[j] * gg[j];
		} else {
			for (long j = 0; j < hid; j++) cr[j] = ig[j] * gg[j];
		}
		for (long j = 0; j < hid; j++) {
			float t = tanh_rat(cr[j]);
			tr[j] = t;
			hr[j] = og[j] * t;
		}
	}
}

// nn_lstm_cell_backward: given dh = dL/dh_t and dc = dL/dc_t from the
// step after (overwritten by dL/dc_{t−1}), writes da = dL/d(pre-activation
// gates) (rows, 4H).
CLONES void nn_lstm_cell_backward(float *da, const float *gates, const float *cprev, const float *tc,
	const float *dh, float *dc, long rows, long hid) {
	for (long r = 0; r < rows; r++) {
		const float *restrict ig = gates + r * 4 * hid, *restrict fg = ig + hid;
		const float *restrict gg = fg + hid, *restrict og = gg + hid;
		float *restrict di = da + r * 4 * hid, *restrict df = di + hid;
		float *restrict dg = df + hid, *restrict dO = dg + hid;
		const float *restrict tr = tc + r * hid, *restrict dhr = dh + r * hid;
		float *restrict dcr = dc + r * hid;
		for (long j = 0; j < hid; j++) {
			float i = ig[j], g = gg[j], o = og[j], t = tr[j];
			float d = dcr[j] + dhr[j] * o * (1.0f - t * t);
			di[j] = d * g * i * (1.0f - i);
			dg[j] = d * i * (1.0f - g * g);
			dO[j] = dhr[j] * t * o * (1.0f - o);
			dcr[j] = d; // dL/dc_t for the forget gate below
		}
		if (cprev) {
			const float *restrict cp = cprev + r * hid;
			for (long j = 0; j < hid; j++) df[j] = dcr[j] * cp[j] * fg[j] * (1.0f - fg[j]);
		} else {
			for (long j = 0; j < hid; j++) df[j] = 0.0f;
		}
		for (long j = 0; j < hid; j++) dcr[j] = dcr[j] * fg[j];
	}
}

// nn_sgd: w ← w + nlr·(g + wd·w), nlr = −lr.
CLONES void nn_sgd(float *w, const float *g, long n, float nlr, float wd) {
	if (wd == 0.0f) {
		for (long i = 0; i < n; i++) w[i] = w[i] + nlr * g[i];
	} else {
		for (long i = 0; i < n; i++) w[i] = w[i] + nlr * (g[i] + wd * w[i]);
	}
}

// nn_sgd_momentum: torch.optim.SGD with momentum; see SGD in optim.go.
CLONES void nn_sgd_momentum(float *w, const float *g, float *buf, long n, float nlr, float wd,
	float mu, float damp, int nesterov, int first) {
	for (long i = 0; i < n; i++) {
		float d = g[i];
		if (wd != 0.0f) d = d + wd * w[i];
		float b = first ? d : mu * buf[i] + damp * d;
		buf[i] = b;
		d = nesterov ? d + mu * b : b;
		w[i] = w[i] + nlr * d;
	}
}

// adam_scalar is the update of nn_adam on w[i0:n], one value at a time.
static void adam_scalar(float *w, const float *g, float *m, float *v, long i0, long n, float nstep, float bc2s,
	float b1, float b2, float c1, float c2, float eps, float wd, float decay, int decoupled) {
	for (long i = i0; i < n; i++) {
		float gi = g[i], wi = w[i];
		if (decoupled) wi = wi * decay;
		else if (wd != 0.0f) gi = gi + wd * wi;
		float mi = b1 * m[i] + c1 * gi;
		float vi = b2 * v[i] + c2 * (gi * gi);
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) / bc2s + eps;
		w[i] = wi + nstep * (mi / denom);
	}
}

// ADAM_VEC is adam_scalar's body on vectors of T, with the same operations
// in the same order, so that every path gives the same bits. It is spelled
// with intrinsics because GCC will not vectorise sqrtf without
// -fno-math-errno, which cgo does not accept and GCC ignores per function.
#define ADAM_VEC(T, N, load, store, set1, add, mul, div, sqrt)                                   \
	long i = 0;                                                                                \
	const T vb1 = set1(b1), vb2 = set1(b2), vc1 = set1(c1), vc2 = set1(c2), veps = set1(eps); \
	const T vwd = set1(wd), vdecay = set1(decay), vns = set1(nstep), vbc = set1(bc2s);       \
	for (; i + N <= n; i += N) {                                                               \
		T gi = load(g + i), wi = load(w + i);                                                  \
		if (decoupled) wi = mul(wi, vdecay);                                                   \
		else if (wd != 0.0f) gi = add(gi, mul(vwd, wi));                                       \
		T mi = add(mul(vb1, load(m + i)), mul(vc1, gi));                                       \
		T vi = add(mul(vb2, load(v + i)), mul(vc2, mul(gi, gi)));                              \
		store(m + i, mi);                                                                      \
		store(v + i, vi);                                                                      \
		T denom = add(div(sqrt(vi), vbc), veps);                                               \
		store(w + i, add(wi, mul(vns, div(mi, denom))));                                       \
	}                                                                                          \
	adam_scalar(w, g, m, v, i, n, nstep, bc2s, b1, b2, c1, c2, eps, wd, decay, decoupled);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void adam_avx512(float *w, const float *g, float *m, float *v, long n,
	float nstep, float bc2s, float b1, float b2, float c1, float c2, float eps, float wd, float decay, int decoupled) {
	ADAM_VEC(__m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_mul_ps,
		_mm512_div_ps, _mm512_sqrt_ps)
}

__attribute__((target("avx"))) static void adam_avx(float *w, const float *g, float *m, float *v, long n,
	float nstep, float bc2s, float b1, float b2, float c1, float c2, float eps, float wd, float decay, int decoupled) {
	ADAM_VEC(__m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_mul_ps,
		_mm256_div_ps, _mm256_sqrt_ps)
}
#endif

// nn_adam: torch.optim.Adam / AdamW; see Adam in optim.go.
void nn_adam(float *w, const float *g, float *m, float *v, long n, float nstep, float bc2s,
	float b1, float b2, float c1, float c2, float eps, float wd, float decay, int decoupled) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		adam_avx512(w, g, m, v, n, nstep, bc2s, b1, b2, c1, c2, eps, wd, decay, decoupled);
		return;
	}
	if (__builtin_cpu_supports("avx")) {
		adam_avx(w, g, m, v, n, nstep, bc2s, b1, b2, c1, c2, eps, wd, decay, decoupled);
		return;
	}
#endif
	adam_scalar(w, g, m, v, 0, n, nstep, bc2s, b1, b2, c1, c2, eps, wd, decay, decoupled);
}

// nn_add: y = a + b element-wise (y may alias a or b).
CLONES void nn_add(float *y, const float *a, const float *b, long n) {
	for (long i = 0; i < n; i++) y[i] = a[i] + b[i];
}

// nn_layernorm: torch.nn.LayerNorm over rows of n values,
// y = (x − μ)·rstd·w + b with μ the row's mean and rstd = 1/√(σ² + eps),
// σ² the biased variance; μ and σ² are summed in double. mean and rstd
// receive each row's μ and rstd for the backward pass.
CLONES void nn_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
	long rows, long n, float eps) {
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		float *yr = y + r * n;
		double s = 0.0;
		for (long j = 0; j < n; j++) s += xr[j];
		const double mu = s / (double)n;
		double v = 0.0;
		for (long j = 0; j < n; j++) {
			double d = xr[j] - mu;
			v += d * d;
		}
		const float m = (float)mu, rs = (float)(1.0 / sqrt(v / (double)n + (double)eps));
		mean[r] = m;
		rstd[r] = rs;
		for (long j = 0; j < n; j++) yr[j] = (xr[j] - m) * rs * w[j] + b[j];
	}
}

// nn_layernorm_backward: with x̂ = (x − μ)·rstd and g = dy ⊙ w,
// dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)) per row (the means summed in
// double); dw = Σ_rows dy ⊙ x̂ and db = Σ_rows dy, rows added in order. dx,
// dw and db are overwritten.
CLONES void nn_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
	const float *w, const float *mean, const float *rstd, long rows, long n) {
	for (long j = 0; j < n; j++) dw[j] = db[j] = 0.0f;
	for (long r = 0; r < rows; r++) {
		const float *xr = x + r * n, *dyr = dy + r * n;
		float *dxr = dx + r * n;
		const float m = mean[r], rs = rstd[r];
		double sg = 0.0, sgx = 0.0;
		for (long j = 0; j < n; j++) {
			float xh = (xr[j] - m) * rs, g = dyr[j] * w[j];
			sg += g;
			sgx += (double)g * xh;
			dw[j] += dyr[j] * xh;
			db[j] += dyr[j];
		}
		const float a = (float)(sg / (double)n), c = (float)(sgx / (double)n);
		for (long j = 0; j < n; j++) {
			float xh = (xr[j] - m) * rs;
			dxr[j] = (dyr[j] * w[j] - a - xh * c) * rs;
		}
	}
}

// nn_causal_softmax: for mats T×T matrices in place, row i becomes the
// softmax of its first i+1 entries (max subtracted, expf, sum in double)
// and zeros after them: the causal mask of a decoder.
CLONES void nn_causal_softmax(float *p, long mats, long T) {
	for (long r = 0; r < mats * T; r++) {
		const long i = r % T;
		float *row = p + r * T;
		float mx = row[0];
		for (long j = 1; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
		double s = 0.0;
		for (long j = 0; j <= i; j++) {
			row[j] = expf(row[j] - mx);
			s += row[j];
		}
		const float inv = (float)(1.0 / s);
		for (long j = 0; j <= i; j++) row[j] *= inv;
		for (long j = i + 1; j < T; j++) row[j] = 0.0f;
	}
}

// nn_causal_softmax_backward: ds = p ⊙ (dp − Σ_j p ⊙ dp) row by row over
// the unmasked entries, 0 for the masked ones; ds may alias dp.
CLONES void nn_causal_softmax_backward(float *ds, const float *p, const float *dp, long mats, long T) {
	for (long r = 0; r < mats * T; r++) {
		const long i = r % T;
		const float *pr = p + r * T, *dpr = dp + r * T;
		float *dsr = ds + r * T;
		double s = 0.0;
		for (long j = 0; j <= i; j++) s += (double)pr[j] * dpr[j];
		const float sf = (float)s;
		for (long j = 0; j <= i; j++) dsr[j] = pr[j] * (dpr[j] - sf);
		for (long j = i + 1; j < T; j++) dsr[j] = 0.0f;
	}
}

// GELU as torch.nn.GELU: exact, x·Φ(x) = ½x(1 + erf(x/√2)); or
// approximate='tanh', ½x(1 + tanh(√(2/π)(x + 0.044715x³))) with tanh_rat.
#define GELU_K0 0.7978845608028654f /* √(2/π) */
#define GELU_K1 0.044715f

CLONES void nn_gelu(float *y, const float *x, long n, int approx) {
	if (approx) {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			y[i] = 0.5f * v * (1.0f + tanh_rat(GELU_K0 * (v + GELU_K1 * v * v * v)));
		}
	} else {
		for (long i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
	}
}

// nn_gelu_backward: dx = dy · gelu'(x), from the input x.
CLONES void nn_gelu_backward(float *dx, const float *dy, const float *x, long n, int approx) {
	if (approx) {
		for (long i = 0; i < n; i++) {
			float v = x[i], v2 = v * v;
			float t = tanh_rat(GELU_K0 * (v + GELU_K1 * v2 * v));
			float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K0 * (1.0f + 3.0f * GELU_K1 * v2);
			dx[i] = dy[i] * d;
		}
	} else {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
			float pdf = expf(-0.5f * v * v) * 0.3989422804014327f; /* 1/√(2π) */
			dx[i] = dy[i] * (cdf + v * pdf);
		}
	}
}

// nn_embed: y[b, t] = wte[tok[b, t]] + wpe[t] for rows of d values.
CLONES void nn_embed(float *y, const int *tok, const float *wte, const float *wpe, long B, long T, long d) {
	for (long b = 0; b < B; b++)
		for (long t = 0; t < T; t++) {
			const float *e = wte + (long)tok[b * T + t] * d, *p = wpe + t * d;
			float *yr = y + (b * T + t) * d;
			for (long j = 0; j < d; j++) yr[j] = e[j] + p[j];
		}
}

// nn_embed_backward overwrites dwte (vocab rows) and dwpe (npos rows):
// every row of dy is added to its token's row of dwte and its position's row
// of dwpe, in row order.
CLONES void nn_embed_backward(float *dwte, float *dwpe, const float *dy, const int *tok, long B, long T, long d,
	long vocab, long npos) {
	memset(dwte, 0, (size_t)(vocab * d) * sizeof(float));
	memset(dwpe, 0, (size_t)(npos * d) * sizeof(float));
	for (long b = 0; b < B; b++)
		for (long t = 0; t < T; t++) {
			const float *g = dy + (b * T + t) * d;
			add_row(dwte + (long)tok[b * T + t] * d, g, d);
			add_row(dwpe + t * d, g, d);
		}
}
