#include <stddef.h>
typedef struct {
	double sumsq;
	ptrdiff_t clamped;
} cl_clamped;
double cl_sumsq(const float *x, ptrdiff_t n);
double cl_scale(float *x, ptrdiff_t n, double s);
cl_clamped cl_clamp(float *x, ptrdiff_t n, float c);
float cl_maxabs(const float *x, ptrdiff_t n);
void cl_rownorms(double *out, const float *x, ptrdiff_t rows, ptrdiff_t cols);
double cl_rowscale(float *x, ptrdiff_t rows, ptrdiff_t cols, const double *s);
