// Package clipalgo clips a model's gradients between backward and the
// optimizer step, by every method the clipping literature compares, each
// matched to the implementation that papers cite, epsilons and edge cases
// included.
//
// A model is a []Tensor: each holds a parameter and its gradient, laid out
// as PyTorch lays them out (a dense weight (out, in), a conv weight
// (out, in, kh, kw), a bias (out,)). Each method is declared once (Method:
// its name, threshold, options with kinds, defaults and checks, what it
// Needs from the engine, its constructor; registry.go lists them in report
// order), and a Spec names a method with its threshold and options. New
// turns a Spec into a Clipper; one
// Clip call per step modifies the gradients in place and returns Stats.
// Clippers are generic over float32 (training) and float64 (the golden
// tests); every norm is accumulated in float64. N below is the global L2
// norm, computed as torch.nn.utils.clip_grad_norm_ does: the norm of the
// per-tensor norms. c is Spec.Threshold.
//
// Methods (Spec.Method):
//
//   - none: gradients unchanged; Stats still recorded.
//   - value: every element clamped to [-c, c] (clip_grad_value_, optax.clip).
//     Fraction: of elements strictly beyond ±c.
//   - norm: all gradients scaled together when the global norm (L2, or L∞
//     with norm_type "inf") exceeds c. Variant "torch" (default,
//     clip_grad_norm_): multiply by min(1, c/(N+1e-6)), so a norm at or just
//     below c is still nudged by the 1e-6. Variant "optax"
//     (clip_by_global_norm): unchanged when N < c, else ·c/N.
//   - layer_norm: each tensor on its own, g·c/max(‖g‖, c) (tf.clip_by_norm,
//     Keras clipnorm). Fraction: of tensors.
//   - block_rms: each tensor divided by max(1, rms(g)/c)
//     (optax.clip_by_block_rms). Fraction: of tensors.
//   - agc: adaptive gradient clipping, unit-wise (optax.adaptive_grad_clip).
//     Per output unit u (a row of a dense or recurrent weight, a filter of a
//     conv weight, a whole bias), max_u = c·max(‖W_u‖, eps) with eps 1e-3;
//     unless ‖G_u‖ < max_u, G_u ← G_u·max_u/max(‖G_u‖, 1e-6). As optax
//     (which sees the transposed layout and squeezes it), a tensor with at
//     most one dimension longer than 1, an (out, 1) weight included, is one
//     unit. exclude_last leaves the tensors marked Last unclipped (Brock et
//     al. 2021, §4.1). Fraction: of the units it may clip.
//   - autoclip: AutoClip. N is appended to the history of every norm so far
//     (kept sorted); the threshold is its c-th percentile with numpy's
//     default linear interpolation, bit for bit; then clipped as norm (L2,
//     torch by default). Note that the first step's threshold is N itself.
//   - zclip: ZClip, as the reference code does it (defaults in its declaration). The
//     first warmup_steps norms are collected; the step that completes them
//     sets the EMA mean μ and variance σ² to their mean and population
//     variance. Warm-up steps are clipped to max_grad_norm with
//     clip_grad_norm_. After warm-up, z = (N−μ)/(σ+eps); when z > c the clip
//     value is (μ + c²σ/z)·clip_factor ("adaptive_scaling", the paper's
//     μ + z_thres·σ/(z/z_thres)), or μ ("mean"); in "percentile" mode it is
//     μ + cσ whenever N exceeds that. The gradients are clipped to
//     min(clip value or N, max_grad_norm), scaled by ·t/(N+1e-6) only when
//     N > t. Then μ ← αμ + (1−α)x and σ² ← ασ² + (1−α)(x−μ)² with the new
//     μ, where x is the clip value before the cap on a spike (skipped with
//     skip_update_on_spike) and N otherwise. Stats.Threshold is the norm
//     above which the step is clipped: min(μ + c(σ+eps), max_grad_norm).
//
// DP-SGD's methods need per-example gradients (ExampleClipper: factors from
// each example's squared norm per tensor; C = c, the noise's sensitivity):
//
//   - dp_flat: min(1, C/(‖g_i‖+1e-6)) per example (Opacus flat clipping).
//   - dp_per_layer: min(1, C_k/(‖g_ik‖+1e-6)) per example and tensor,
//     C_k = C/√K (Opacus's DPPerLayerOptimizer, equal split).
//   - dp_automatic: C/(‖g_i‖+γ) (Bu et al. 2022; γ = 0: Das et al. 2021).
//   - dp_quantile: dp_flat at C_t, then C_{t+1} = C_t·exp(−η(b̄ − γ)), b̄
//     the noised fraction unclipped (TF Privacy's QuantileEstimatorQuery);
//     Sigmas splits σ between the sum and the count (Andrew et al. 2021,
//     Thm 1).
//
// A gradient holding NaN or ±Inf is an error wrapping ErrNonFinite that
// names the tensor and element; nothing is modified and adaptive state does
// not move. Clip allocates nothing after its first call, except autoclip's
// history.
//
// References:
//
//   - Pascanu, Mikolov, Bengio. On the difficulty of training recurrent
//     neural networks. ICML 2013. https://arxiv.org/abs/1211.5063
//   - PyTorch, torch/nn/utils/clip_grad.py (clip_grad_norm_,
//     clip_grad_value_). https://github.com/pytorch/pytorch
//   - Optax, optax/transforms/_clipping.py (clip, clip_by_global_norm,
//     clip_by_block_rms, adaptive_grad_clip, unitwise_norm, unitwise_clip).
//     https://github.com/google-deepmind/optax
//   - TensorFlow, tf.clip_by_norm (Keras's clipnorm).
//     https://www.tensorflow.org/api_docs/python/tf/clip_by_norm
//   - Brock, De, Smith, Simonyan. High-Performance Large-Scale Image
//     Recognition Without Normalization. ICML 2021 (AGC).
//     https://arxiv.org/abs/2102.06171
//   - Seetharaman, Wichern, Pardo, Le Roux. AutoClip: Adaptive Gradient
//     Clipping for Source Separation Networks. MLSP 2020.
//     https://arxiv.org/abs/2007.14469; reference code autoclip.py,
//     https://github.com/pseeth/autoclip (commit dfb622c).
//   - NumPy, numpy.percentile, method "linear" (Hyndman and Fan's type 7),
//     numpy/lib/function_base.py.
//   - Kumar, Owen, Roy Chowdhury, Güra. ZClip: Adaptive Spike Mitigation for LLM
//     Pre-Training. 2025. https://arxiv.org/abs/2504.02507; reference code
//     zclip/zclip.py, https://github.com/bluorion-com/ZClip (commit 584ce4f).
package clipalgo
