// Package compress is the network-compression half of "clipping": weights
// pruned by magnitude on a schedule and stored in fewer bits, and what the
// result costs to store. It works on plain []float32 tensors and imports
// nothing of cliplab; train applies it to a model's parameters.
//
// Prune is train.prune (magnitude pruning, global or per tensor, one-shot
// or on Zhu & Gupta's gradual schedule); Masks holds which values are
// pruned, chosen exactly as torch.nn.utils.prune chooses them, ties
// included (Smallest ports torch.topk's CPU selection, which is libstdc++'s
// partial_sort and nth_element). Stored and ModelBytes are README's storage
// rule. Quantize is train.quantize: PyTorch's min-max quantisation
// parameters and fake quantisation, bit for bit.
//
// References:
//   - Zhu & Gupta (2017), To prune, or not to prune: exploring the efficacy
//     of pruning for model compression (the gradual schedule).
//   - PyTorch 1.13: torch/nn/utils/prune.py (L1Unstructured,
//     global_unstructured, PruningContainer, _compute_nparams_toprune);
//     aten/src/ATen/native/cpu/SortingKernel.cpp (topk); libstdc++
//     bits/stl_algo.h and bits/stl_heap.h; torch/ao/quantization/observer.py
//     (MinMaxObserver, PerChannelMinMaxObserver: _calculate_qparams);
//     aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp
//     (fake_quantize_tensor_cachemask_kernel and its per-channel twin).
//   - Jacob et al. (2018), Quantization and Training of Neural Networks for
//     Efficient Integer-Arithmetic-Only Inference (affine quantisation,
//     quantisation-aware training); Bengio, Léonard & Courville (2013)
//     (the straight-through estimator).
package compress
