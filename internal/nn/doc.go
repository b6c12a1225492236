// Package nn is cliplab's training engine: layers with forward and backward
// passes, the mlp, cnn, rnn and transformer architectures built from an
// ArchSpec, losses, optimizers and analytic FLOP counts, in float32 on one
// CPU thread per model. It computes what PyTorch computes for the same modules, and its
// tests check that against PyTorch itself.
//
// # Shapes
//
// B examples in a batch; D input features of a dense layer, O its outputs;
// C×H×W an image (channels, rows, columns), k a square kernel, Ho×Wo a
// conv's output (H−k+1)×(W−k+1), p a pool's size and stride; T time steps,
// D features per step and H hidden units of a recurrent layer, G its gates
// (1 for tanh, 4 for LSTM). A transformer reads B sequences of T token ids
// (float32 values of integers in [0, Vocab)) and works on N = B·T rows of
// D = d_model values, F = d_ff in its MLP. Every array is a flat row-major
// []float32: images B×C×H×W (NCHW), sequences B×T×D as Model.Forward takes
// them (recurrent layers reorder them to T×B×D inside), outputs B×O.
//
// # Parameters
//
// Params lists tensors in PyTorch's layout — dense (O, D), conv (O, C, k, k),
// recurrent weight_ih (G·H, D) and weight_hh (G·H, H) with the LSTM's gates
// in PyTorch's order i, f, g, o, biases (O) — under the names PyTorch gives
// them in the state_dict of the equivalent module, in state_dict order:
//
//	mlp: nn.Sequential(Linear, act, …, Linear) on x.reshape(B, −1):
//	     "0.weight", "0.bias", "2.weight", …
//	cnn: nn.Sequential(Conv2d(k), act, MaxPool2d(p), …, Flatten, Linear, act, …, Linear)
//	     (no MaxPool2d when p = 1): mnist's cnn is "0.*", "3.*", "7.*"
//	rnn: a module with rnn = nn.RNN(D, H, batch_first=True) or nn.LSTM(…)
//	     and fc = nn.Linear(H, O), output fc(rnn(x)[0][:, −1]):
//	     "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
//	     "rnn.bias_hh_l0", "fc.weight", "fc.bias"
//	transformer: nanoGPT's GPT (bias=True) with a classifier on the last
//	     position, logits ln_f(h)[:, −1]·lm_head.weightᵀ: "transformer.wte.weight",
//	     "transformer.wpe.weight", per block i "transformer.h.i.ln_1.*",
//	     ".attn.c_attn.*" (q, k, v stacked), ".attn.c_proj.*", ".ln_2.*",
//	     ".mlp.c_fc.*", ".mlp.c_proj.*", then "transformer.ln_f.*" and
//	     "lm_head.weight" (O, D), no bias; tied: no lm_head, the head is
//	     the first O rows of wte (class c is token c)
//
// cmd/runner/bench_torch.py builds exactly these modules. An image given to
// an rnn is read row by row: T = H steps of C·W features (channel-major
// within a row). The final dense layer's two tensors (the transformer's
// lm_head.weight; nothing when tied) have Param.Last set.
// Gradients of b_ih and b_hh are equal, as in PyTorch.
//
// # Initialisation
//
// PyTorch's defaults: nn.Linear and nn.Conv2d weights and biases from
// U(−1/√fan_in, 1/√fan_in) (kaiming_uniform_ with a = √5 reduces to this;
// fan_in = D, or C·k·k); nn.RNN and nn.LSTM weights and biases from
// U(−1/√H, 1/√H); nn.Embedding N(0, 1), nn.LayerNorm weight 1 and bias 0
// (transformer init torch, the default), or nanoGPT's N(0, 0.02) for every
// weight, the residual projections c_proj N(0, 0.02/√(2·layers)), biases 0
// (init gpt2). Draws come from the caller's *rand.Rand only, one
// rng.Float64() (uniform) or rng.NormFloat64() (normal) per value, tensor
// by tensor in Params order (for the rnn: weight_ih, weight_hh, bias_ih,
// bias_hh, then fc's weight and bias), each tensor in row-major order, as
// w = float32((2u − 1)·bound) or float32(n·std). PyTorch's own generator
// differs, so equal seeds do not give PyTorch's numbers; equal weights do.
//
// # Losses and optimizers
//
// SoftmaxCrossEntropy is nn.CrossEntropyLoss and MSE nn.MSELoss, both
// averaged as PyTorch does by default. SGD (with momentum, dampening,
// Nesterov, weight decay), Adam and AdamW follow PyTorch 1.13's
// single-tensor update rules step for step (see SGD and Adam); lr is passed
// to every Step, so schedules live with the caller.
//
// # FLOPs
//
// Model.FLOPs counts one forward and backward pass analytically: 2 per
// multiply-add of every matrix product (forward, the weight gradient, and
// the input gradient except for the first layer, which does not compute
// it), 1 per bias add, activation, activation derivative and pool
// comparison, 1 per add of col2im, about 10 (forward) and 20 (backward) per
// LSTM unit and step for its gate arithmetic, about 20 per layer-norm value,
// 25 per GELU and 9 per attention score. The optimizer step is not
// counted. At batch 64: mlp2 77.7 MFLOP, cnn 124.0, rnn 197.2, lstm 791.4.
//
// # Speed
//
// Matrix products go to OpenBLAS's sgemm through cgo (cblas directly, not
// gonum/netlib: the package needs cgo anyway for OpenBLAS's core and thread
// settings, and the wrapper's checks and float64 interface would only cost).
// Element-wise loops (bias and activation, their derivatives, im2col,
// pooling, LSTM gates, layer norm, causal softmax, GELU, embeddings,
// optimizer updates) are in kernels.c, compiled for
// AVX-512, AVX2 and baseline x86-64 with GCC's target_clones and without
// FMA contraction, so every clone gives the same bits. Convolutions run as
// im2col + GEMM one example at a time; attention runs q·kᵀ and p·v as one
// GEMM per sequence and head on strided views of the stacked q, k, v; a
// recurrent layer computes the input
// projection of all T steps in one GEMM and its weight gradients in one GEMM
// each, so only the B×H×G·H products run step by step. Buffers are kept and
// grown, so a training step at a fixed batch size allocates nothing after
// the first, and no goroutines are started.
//
// OpenBLAS picks its kernels when the process starts and takes some AVX-512
// CPUs for a Prescott; EnsureBLAS, called first in main and TestMain,
// restarts the process with OPENBLAS_CORETYPE set where that happens and
// pins OpenBLAS to one thread. BLASCore names the kernels in use.
//
// # Determinism
//
// Same seed, same spec, same data: bit-identical losses and weights, run
// after run and whatever other goroutines train meanwhile — no global
// state, no threads inside a model, OpenBLAS on one thread (its results
// depend only on the sizes and the core type), and fixed summation orders
// in every kernel. Results may differ between CPUs with different OpenBLAS
// kernels.
//
// References:
//   - PyTorch 1.13 documentation: torch.nn.Linear, Conv2d, MaxPool2d, RNN,
//     LSTM, ReLU, Tanh, Embedding, LayerNorm, GELU, MultiheadAttention,
//     CrossEntropyLoss, MSELoss; torch.optim.SGD, Adam,
//     AdamW (https://pytorch.org/docs/1.13/), and torch/optim/sgd.py,
//     adam.py, adamw.py (_single_tensor_* functions) for the exact order of
//     operations.
//   - Kingma & Ba (2015), Adam: A Method for Stochastic Optimization.
//   - Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization.
//   - Sutskever et al. (2013), On the importance of initialization and
//     momentum in deep learning (Nesterov momentum as PyTorch writes it).
//   - Hochreiter & Schmidhuber (1997), Long Short-Term Memory.
//   - Vaswani et al. (2017), Attention Is All You Need; Radford et al.
//     (2019), Language Models are Unsupervised Multitask Learners (GPT-2:
//     pre-LN blocks, the final layer norm, residual projections scaled by
//     1/√(2·layers)); Karpathy, nanoGPT model.py (module names, init), the
//     reference the tests compare against; Ba, Kiros & Hinton (2016), Layer
//     Normalization; Hendrycks & Gimpel (2016), Gaussian Error Linear Units.
//   - Chellapilla, Puri & Simard (2006), High Performance Convolutional
//     Neural Networks for Document Processing (convolution as im2col + GEMM).
//   - Eigen, Core/MathFunctionsImpl.h, generic_fast_tanh_float (the
//     rational tanh in kernels.c).
//   - OpenBLAS 0.3.21, driver/others/dynamic.c (OPENBLAS_CORETYPE).
package nn
