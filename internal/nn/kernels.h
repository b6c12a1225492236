// Element-wise and data-movement kernels of package nn, in C so that the
// compiler vectorises them (Go does not); see kernels.go for the contracts.
#ifndef CLIPLAB_NN_KERNELS_H
#define CLIPLAB_NN_KERNELS_H

enum { NN_ACT_NONE = 0, NN_ACT_RELU = 1, NN_ACT_TANH = 2 };

void nn_tanh(float *x, long n);
void nn_bias_act_cols(float *y, const float *bias, long rows, long n, int act);
void nn_bias_act_rows(float *y, const float *bias, long rows, long n, int act);
void nn_act_backward(float *dz, const float *dy, const float *y, long n, int act);
void nn_col_sum(float *db, const float *dz, long rows, long n);
void nn_row_sum_add(float *db, const float *dz, long rows, long n);
void nn_row_sumsq(double *out, const float *x, long rows, long n);
void nn_im2col(float *cols, const float *x, long c, long h, long w, long k);
void nn_col2im(float *dx, const float *dcols, long c, long h, long w, long k);
void nn_col2im_path(float *dx, const float *dcols, long c, long h, long w, long k, int path);
void nn_maxpool(float *y, int *idx, const float *x, long planes, long h, long w, long p);
void nn_maxpool_backward(float *dx, const int *idx, const float *dy, long nout, long nin);
void nn_maxpool_backward_relu(float *dx, const int *idx, const float *dy, const float *y, long nout, long nin);
void nn_conv_forward(float *y, float *cols, const float *x, const float *wt, const float *bias, long b, long c,
	long h, long w, long o, long k, int act);
void nn_conv_backward_w(float *dw, float *db, float *cols, const float *x, const float *dz, long b, long c, long h,
	long w, long o, long k);
void nn_conv_backward_dx(float *dx, float *dcols, const float *wt, const float *dz, long b, long c, long h, long w,
	long o, long k);
void nn_lstm_cell(float *gates, const float *cprev, float *c, float *tc, float *h, long rows, long hid);
void nn_lstm_cell_backward(float *da, const float *gates, const float *cprev, const float *tc,
	const float *dh, float *dc, long rows, long hid);
void nn_sgd(float *w, const float *g, long n, float nlr, float wd);
void nn_sgd_momentum(float *w, const float *g, float *buf, long n, float nlr, float wd,
	float mu, float damp, int nesterov, int first);
void nn_adam(float *w, const float *g, float *m, float *v, long n, float nstep, float bc2s,
	float b1, float b2, float c1, float c2, float eps, float wd, float decay, int decoupled);

void nn_add(float *y, const float *a, const float *b, long n);
void nn_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
	long rows, long n, float eps);
void nn_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
	const float *w, const float *mean, const float *rstd, long rows, long n);
void nn_causal_softmax(float *p, long mats, long T);
void nn_causal_softmax_backward(float *ds, const float *p, const float *dp, long mats, long T);
void nn_gelu(float *y, const float *x, long n, int approx);
void nn_gelu_backward(float *dx, const float *dy, const float *x, long n, int approx);
void nn_embed(float *y, const int *tok, const float *wte, const float *wpe, long B, long T, long d);
void nn_embed_backward(float *dwte, float *dwpe, const float *dy, const int *tok, long B, long T, long d,
	long vocab, long npos);

#endif
