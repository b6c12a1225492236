// Package grid reads an experiment file (YAML), checks it, and expands its
// grid into configurations, each resolved to canonical JSON whose SHA-256
// is the run's key.
//
// # The experiment file
//
//	name: mnist-clipping          # required; unique per database
//	description: free text        # optional
//	dataset: mnist                # required: mnist | addition | temporal-order | modular | copy
//	data: {train_size: 60000, test_size: 10000}
//	train:
//	  epochs: 1
//	  batch_size: 64
//	  optimizer: sgd
//	  eval_every: 0
//	  log_every: 1
//	  divergence_loss: 1.0e4
//	archs:                        # required: name → spec
//	  mlp2: {type: mlp, hidden: [256, 256], activation: relu}
//	  cnn:  {type: cnn, channels: [8, 16], kernel: 5, pool: 2}
//	  rnn:  {type: rnn, cell: tanh, hidden: 128}
//	grid:                         # required: the product of every axis
//	  arch: [mlp2, cnn, rnn]
//	  lr: [0.1, 1.0, 3.0]         # or one value as train.lr
//	  seed: [1, 2, 3]
//	  clip:
//	    - method: none
//	    - {method: norm, threshold: [0.5, 5]}
//	    - {method: agc, threshold: [0.01, 0.1], exclude_last: true}
//	exclude:                      # optional
//	  - {arch: cnn, lr: [1.0, 3.0]}
//
// The top-level keys are exactly name, description, dataset, data, train,
// archs, grid and exclude; any other key is an error. Names (the
// experiment's and each arch's) are 1 to 64 letters, digits, '.', '_' or
// '-', starting with a letter or digit: they become file names in reports.
//
// # data:
//
// How much of the dataset each run uses. Optional; every field may instead
// be an axis under grid:.
//
//   - train_size: training examples per epoch. mnist: 1 to 60000, default
//     60000 (the first train_size images of the training set). addition,
//     temporal-order: 1 to 10,000,000, default 10000 generated sequences.
//     copy: 1 to 10,000,000, default 10000.
//   - test_size: examples in each test evaluation. mnist: 1 to 10000,
//     default 10000. Synthetic and copy: default 1000.
//   - train_eval_size: the fixed sample of the training set measured at
//     each evaluation (train accuracy, for the generalisation gap), 1 to
//     train_size. Default: min(test_size, train_size).
//   - seq_len: the nominal sequence length T of addition and
//     temporal-order, 10 to 100000 (Pascanu's generators need T ≥ 10; each
//     batch's length is drawn from [T, 1.1T), so an mlp does not fit).
//     Required for those datasets: there is no length to assume. mnist does
//     not use it: under data: it is ignored with a warning (the example of
//     issue 4 gives it), as a grid axis it is an error. copy: the symbols
//     to reproduce, 1 to 4096, default 10.
//   - vocab: the copy task only: the number of symbols, 2 to 65536,
//     default 10. An example is seq_len symbols drawn uniformly from
//     [0, vocab), the delimiter (token vocab) and seq_len blanks (token
//     vocab+1), 2·seq_len+1 tokens; the model predicts the symbols at the
//     blanks, the loss is the mean cross-entropy over those positions and
//     the accuracy the fraction of sequences copied exactly (chance
//     vocab^−seq_len). The training set is train_size fixed sequences of
//     the seed, visited in a fresh shuffle each epoch; the test set
//     test_size others, drawn independently (so with a small vocab^seq_len
//     some may equal training sequences). Only a transformer fits it, with
//     context ≥ 2·seq_len+1.
//   - generator: how addition and temporal-order draw their sequences:
//     cliplab (default) or pascanu, which draws every batch bit for bit as
//     Pascanu et al.'s (2013) addition.py and tempOrder.py do on numpy's
//     MT19937 (internal/data's package doc). Other datasets take none.
//   - modulus, operation, train_fraction: the modular task only (Power et
//     al. 2022): equations "a op b =" for a, b in [0, modulus), answered by
//     a op b mod modulus. modulus 2 to 2000, default 97; operation "+",
//     "-", "*" or "/" (default "+"; "/" needs a prime modulus and takes
//     b ≥ 1); train_fraction in (0, 1), default 0.3: round(fraction·N) of
//     the N equations train, the rest test (each set at least one). The
//     sizes follow from these, so modular takes no train_size or
//     test_size; train_eval_size defaults as for the others.
//
// # train:
//
// Optional. Every field may instead be an axis under grid: (a field given in
// both places is an error; under train: it takes one value, not a list).
//
//   - epochs: passes over the training set, 1 to 1,000,000; default 1.
//   - batch_size: ≥ 1 and at most train_size, or full (the whole training
//     set: the same configuration, and key, as writing train_size); default
//     64.
//   - optimizer: a name (sgd, momentum, adam, adamw) or a mapping with the
//     name and the options of nn.OptimSpec that the optimizer takes:
//     sgd: weight_decay; momentum: momentum (default 0.9), nesterov,
//     dampening, weight_decay; adam, adamw: beta1 (0.9), beta2 (0.999), eps
//     (1e-8), weight_decay (adamw: 0.01). Default sgd. `sgd` and
//     `{name: sgd}` are the same configuration. Every optimizer also takes
//     no_decay, a list of parameter groups exempt from weight decay: bias
//     (every bias), norm (a layer norm's weight and bias), embedding (token
//     and position embeddings); minGPT's configure_optimizers. It needs a
//     weight decay > 0.
//   - eval_every: steps between evaluations, ≥ 0; 0 (default) evaluates
//     at the end of each epoch.
//   - log_every: steps between logged training steps, ≥ 1; default 1.
//   - divergence_loss: a training loss above this (or a non-finite one)
//     ends the run as diverged; > 0, default 1e4.
//   - lr: the learning rate, > 0. Required, here or as an axis.
//   - lr_schedule: constant (default) or {warmup, decay, min_lr}: warmup a
//     whole number of steps or a fraction in (0, 1) of the run's steps
//     (rounded), during which step e (0-based) has lr·(e+1)/(warmup+1);
//     then decay none (default), cosine or linear from lr to min_lr
//     (default 0; only with a decay, and at most lr) over the remaining
//     steps: nn.Schedule, equal to PyTorch's SequentialLR of LinearLR and
//     CosineAnnealingLR or LinearLR. The lr in force is logged per step
//     (steps.lr). A warm-up longer than the run is an error.
//   - drop_last: drop each epoch's partial last batch (true), or train on
//     it (false, the default, as PyTorch's DataLoader). 60,000 MNIST images
//     at batch 64 end each epoch with 32; at a high learning rate that one
//     step can move the final accuracy by points (issue 17).
//   - tail_fraction: the last fraction of the steps, in (0, 1], whose
//     evaluations the tail metrics average (run_summary's test_acc_tail …);
//     default 0.05, and at least one step. With eval_every 0 the tail
//     window gets 5 evaluations of its own, spread evenly and ending at the
//     last step; with eval_every > 0 it averages the evaluations that fall
//     in it (at least the last).
//   - spike_z: a logged step whose loss exceeds the running mean of the
//     logged losses by more than spike_z running standard deviations is a
//     loss spike (steps.spike, run_summary.spikes; README "Loss spikes");
//     positive, default 2.5 (ZClip's z threshold).
//   - prune: magnitude pruning of the weight matrices (compress.Prune;
//     README "Pruning and quantisation"): none (the default), or a mapping
//     {sparsity, method, scope, schedule, start, end, every}. sparsity in
//     [0, 1) is required, 0 meaning none; method magnitude; scope global
//     (the default: all weights ranked together) or layer; schedule
//     oneshot (the default: prune once after step ⌊start·N⌋, start 0.5 by
//     default, 0 for before the first step) or gradual (Zhu & Gupta from
//     ⌊start·N⌋, default 0.1, to ⌊end·N⌋, default 0.6, every `every` steps,
//     default 50). A schedule that ends before it starts, and a gradual
//     schedule with no pruning step in the run, are errors.
//   - quantize: the weight matrices stored in fewer bits (compress.Quantize):
//     none (the default), a number of bits from 2 to 16, or a mapping {bits,
//     scheme: symmetric | affine, granularity: tensor | channel, qat: false
//     | true}; post-training unless qat.
//
// DP-SGD (the dp_ clip methods; every other method ignores these fields,
// and a grid in which that makes two configurations equal is an error):
//
//   - noise_multiplier: σ ≥ 0; the sum of the clipped per-example
//     gradients gets N(0, σ²C²) on each coordinate, C the clip norm, and is
//     then divided by batch_size (the expected batch size, as Opacus). 0 is
//     clipping without noise (ε = +Inf). dp_quantile spends σ on the sum
//     and on its count of unclipped examples together (Andrew et al. 2021,
//     Thm 1): the run is accounted at σ, the sum gets the larger σ_Δ =
//     (σ⁻² − (2·count_noise)⁻²)^(−1/2), and σ ≥ 2·count_noise is an error.
//   - target_epsilon: ε > 0 instead of σ: σ is solved so that the run's
//     steps spend ε at delta (privacy.NoiseMultiplier, Opacus's
//     make_private_with_epsilon), stored in runs.noise_multiplier. A target
//     that no σ reaches is an error. Give noise_multiplier or
//     target_epsilon, not both; a dp_ method needs one of them.
//   - delta: δ of (ε, δ)-DP, in (0, 1); default 1e-5.
//   - sampling: shuffle (default; the fixed-size batches of a seeded
//     permutation, as without DP) or poisson (each training example in a
//     step's batch with probability q = batch_size/train_size, as the
//     accountant assumes). ε is the accountant's at q = batch_size /
//     train_size with one composition per step either way.
//
// A dp_ method needs per-example gradients, which the mlp and the cnn have
// (the rnn not yet): another arch with a dp_ method is an error at the arch.
//
// # archs:
//
// Named architectures, nn.ArchSpec's fields; each type takes only its own:
//
//   - mlp: hidden (list of layer sizes, may be empty), activation (relu,
//     tanh; default relu).
//   - cnn: channels (conv layers' output channels, at least one), kernel
//     (default 5), pool (default 2; 1 = none), hidden (dense layers before
//     the classifier), activation.
//   - rnn: hidden (one size: `hidden: 128` or `hidden: [128]`), cell
//     (tanh, lstm; default tanh), init (unset: PyTorch's; for cell tanh
//     also Pascanu et al.'s basic_tanh, every weight N(0, 0.1²), or
//     smart_tanh, N(0, 0.01²) with 15 outgoing recurrent weights per unit
//     and the recurrent matrix scaled to spectral radius radius, default
//     0.95; biases zero). On mnist it reads the image row by row.
//   - transformer: a GPT-2 decoder as nanoGPT builds it, classifying the
//     last position: layers, d_model, heads (dividing d_model), context
//     (positions, at least the task's tokens: 4 for modular, 2·seq_len+1
//     for copy), all required;
//     d_ff (default 4·d_model), tied (the head is the token embedding's
//     first rows; default false), init (torch, gpt2; default torch: gpt2 is
//     N(0, 0.02) with the residual projections scaled by 1/√(2·layers)),
//     approximate (GELU: none, the exact erf form, default; tanh), trim
//     (true: the last block computes c_proj, ln_2 and the MLP only at the
//     positions the head reads, the same model in fewer FLOPs, rounding
//     differently; default false). It reads
//     token datasets only (modular, copy: context at least 2·seq_len+1,
//     logits at each of the last seq_len positions).
//
// Every arch the grid uses must fit the dataset (nn.ArchSpec.Fits): a cnn
// needs images, its convolutions and pools must leave a pixel, an mlp needs
// fixed-size inputs, a transformer token sequences no longer than its
// context. Archs defined but not used are checked, not run.
//
// # grid:
//
// The axes whose product is the set of configurations. arch, seed and clip
// are required; lr is required unless train: gives it; any train: or data:
// field may be an axis too. An axis is a list of values, or one value (an
// axis of one). Values on an axis must differ: `lr: [0.1, 0.1]` is an
// error, and so are two clip entries that resolve to the same setting.
//
//   - arch: names defined under archs:.
//   - seed: whole numbers, 0 ≤ seed < 2⁶³; a seed fixes the initial
//     weights, the data order and the synthetic data.
//   - clip: a list of entries (or one entry). An entry is a mapping with
//     method (one of the clip methods below), threshold (one number or a
//     list, each giving its own configuration; required for every method
//     but none, refused by none) and the options its method declares, e.g.
//     {method: norm, threshold: 1, norm_type: inf, variant: optax}. A bare
//     method name (`- none`) is an entry too. `threshold: 0.5` and
//     `threshold: [0.5]` are the same.
//
// # Clip methods
//
// Written from the method declarations in internal/clipalgo (go test
// ./internal/grid -run TestMethodDocs -update rewrites this list):
//
//   - none: gradients unchanged; the statistics are still recorded (the baseline). No threshold.
//   - value: every element clamped to [-c, c]; fraction: of elements beyond ±c (torch.nn.utils.clip_grad_value_, optax.clip). threshold: the clip value c.
//   - norm: all gradients scaled together when their global norm exceeds c (torch.nn.utils.clip_grad_norm_, optax.clip_by_global_norm). threshold: the max norm c. Options: norm_type (string, default 2): the global norm: L2 (2) or the largest absolute element (inf); variant (string, default torch): torch: ·min(1, c/(N+1e-6)) always; optax: ·c/N only when N ≥ c.
//   - layer_norm: each tensor on its own scaled to norm at most c: g·c/max(‖g‖, c); fraction: of tensors (tf.clip_by_norm (Keras clipnorm)). threshold: the max norm c of each tensor.
//   - block_rms: each tensor divided by max(1, rms(g)/c); fraction: of tensors (optax.clip_by_block_rms). threshold: the RMS threshold c.
//   - agc: adaptive gradient clipping, unit-wise: G_u scaled to at most c·max(‖W_u‖, eps); fraction: of the units it may clip (optax.adaptive_grad_clip (Brock et al. 2021)). threshold: λ, the clip ratio of gradient to parameter norm. Options: exclude_last (bool, default false): leave the final classifier layer unclipped (Brock et al. 2021, §4.1); eps (number, default 0.001): the floor on a unit's parameter norm (optax's default).
//   - autoclip: AutoClip: the global norm clipped to the c-th percentile of every norm seen so far (pseeth/autoclip autoclip.py (Seetharaman et al. 2020)). threshold: the percentile p in (0, 100]. Options: variant (string, default torch): the final rescale, as norm's.
//   - zclip: ZClip: clips when the global norm's z-score against its EMA mean and variance exceeds c (bluorion-com/ZClip zclip/zclip.py (Kumar et al. 2025)). threshold: the z threshold z_thresh (the reference's default is 2.5). Options: variant (string, default torch): the rescale: torch (the reference) or optax; eps (number, default 1e-06): added to the standard deviation in the z-score; alpha (number, default 0.97): the EMA factor; warmup_steps (integer, default 25): steps whose norms initialise the mean and variance; max_grad_norm (number, default 1): a cap on the clip threshold at every step, warm-up included; negative (stored as -1): no cap (the reference's None); mode (string, default zscore): zscore clips when z > c; percentile clips to μ + c·σ whenever the norm exceeds it; clip_option (string, default adaptive_scaling): mode zscore: clip to μ + c²σ/z (adaptive_scaling) or to μ (mean); clip_factor (number, default 1): adaptive_scaling: multiplies the whole adaptive threshold; skip_update_on_spike (bool, default false): leave the mean and variance as they are on a step that clipped.
//   - adagc: AdaGC: each tensor clipped to c times the EMA of its own clipped norms, after warmup_steps of global-norm clipping; fraction: of tensors; threshold logged: the norm of the per-tensor thresholds (lishuai-97/AdaGC megatron-gpt2.patch, class AdaGC (Wang et al. 2025)). threshold: λ_rel, the relative threshold: a tensor is clipped when its norm exceeds λ_rel times its EMA (the reference's default is 1.04). Options: beta (number, default 0.99): the EMA factor β of each tensor's clipped norm, in [0, 1); warmup_steps (integer, default 100): the first steps, clipped by global norm, whose smallest clipped norm per tensor starts its EMA; 0: none; warmup_max_norm (number, default 1): the max global norm during warm-up (Megatron's --clip-grad); eps (number, default 1e-06): added to the norm in the denominator of every clip factor.
//   - dp_flat: DP-SGD: each example's whole gradient scaled by min(1, C/(‖g_i‖+1e-6)) before the sum, then N(0, σ²C²) noise; fraction: of examples (Abadi et al. 2016; Opacus flat clipping (DPOptimizer.clip_and_accumulate)). threshold: the per-example clip norm C. Needs per-example gradients.
//   - dp_per_layer: DP-SGD per-layer clipping: each example's gradient of parameter tensor k scaled by min(1, C_k/(‖g_ik‖+1e-6)), C_k = C/√K over the K tensors (Σ C_k² = C²), then N(0, σ²C²) noise; fraction: of examples with a tensor clipped (McMahan et al. 2018; Opacus per-layer clipping (DPPerLayerOptimizer, equal split)). threshold: the per-example clip norm C, split equally: C_k = C/√K. Needs per-example gradients.
//   - dp_automatic: DP-SGD automatic clipping: each example's gradient scaled by C/(‖g_i‖+γ) (every example, up or down), then N(0, σ²C²) noise; γ = 0 is normalisation; fraction: of examples scaled down (Bu et al. 2022 (AUTO-S, scaled by C); Das et al. 2021 (γ = 0)). threshold: the norm C every example's gradient is scaled to (up to γ). Needs per-example gradients. Options: gamma (number, default 0.01): the stability constant γ ≥ 0 of C/(‖g_i‖+γ); 0: normalisation C·g_i/‖g_i‖.
//   - dp_quantile: DP-SGD adaptive clipping: flat clipping at C_t, then C_{t+1} = C_t·exp(−η(b̄ − γ)), b̄ the noised fraction of examples with ‖g_i‖ ≤ C_t; σ is shared between the sum and the count (Andrew et al. Thm 1); fraction: of examples (Andrew et al. 2021; TF Privacy QuantileAdaptiveClipSumQuery / QuantileEstimatorQuery (geometric update)). threshold: the initial clip norm C_0. Needs per-example gradients. Options: target_quantile (number, default 0.5): γ in (0, 1): the fraction of examples C tracks to leave unclipped; clip_lr (number, default 0.2): η > 0 of the geometric update C·exp(−η(b̄ − γ)); count_noise (number, default 0): σ_b, the standard deviation of the noise on the count of unclipped examples; 0: the expected batch size/20 (the paper's choice); σ must be < 2σ_b.
//
// # exclude:
//
// A list of entries; an entry drops every combination that matches all of
// its fields. A field's value may be a list, which matches any of its
// values: `{arch: cnn, lr: [1.0, 3.0]}`. The fields are the axes (arch,
// seq_len, vocab, generator, modulus, operation, train_fraction, train_size, test_size,
// train_eval_size, optimizer, batch_size, epochs, eval_every, log_every,
// divergence_loss, drop_last, tail_fraction, spike_z, prune, quantize, lr, lr_schedule, seed), method, threshold (never matches method
// none), and the clip options (norm_type, variant, eps, …; an option
// matches only configurations whose method takes it). optimizer matches by
// name when given a name, or the whole resolved optimizer when given a
// mapping; batch_size full matches a batch size equal to the train_size. An entry naming another field, an empty
// entry, an entry that matches no combination (a typo, most likely) and a
// set of entries that removes everything are errors.
//
// # Zero values
//
// The optimizer and arch specs read a zero option as "unset" and fill in
// the default, so an explicit zero that would be replaced (`momentum: 0`,
// `kernel: 0`, adamw's `weight_decay: 0`) is an error rather than a silent
// change. Clip options are read as given (`eps: 0` is checked as 0, and
// refused). An option that does not apply with the entry's other settings
// (zclip's clip_option in mode percentile) is an error, and so is a value
// that would be stored as another (a negative max_grad_norm is stored as
// -1: write -1).
//
// # Errors
//
// Every problem is an *Error "path:line:col: field: message", e.g.
//
//	experiments/x.yaml:21:18: grid.clip[1].threshold: method value needs a threshold > 0, got -1
//	experiments/x.yaml:7:7: train.lr: expected a number, got string "fast"
//	experiments/x.yaml:3:10: dataset: unknown dataset "cifar" (allowed: mnist, addition, temporal-order, modular)
//
// Parse and Expand report all they find (up to 20) joined with
// errors.Join, sorted by position; every one matches ErrInvalid. YAML
// syntax errors carry a line only (the YAML library gives no column);
// duplicate mapping keys are reported with the line of the first. Aliases
// (*name) and merge keys (<<: *name) work as YAML specifies; errors inside
// them point at the anchored text.
//
// # Overrides
//
// ParseSet and LoadSet apply the command line's overrides (runner -set
// FIELD=VALUE, Hydra's habit) to the YAML document before it is read, so
// every check above applies to them; an error in what an override brought
// is reported as "path -set FIELD=VALUE: field: message". FIELD is a dotted
// path with optional [i] list indexes; VALUE is YAML, and a comma makes a
// list unless VALUE is a list, mapping or quoted string. Setting a field of
// grid:, train: or data: removes it from the other two. The experiment's
// Source is then the document with the overrides, headed by a comment
// listing them (override.go).
//
// # Configurations and keys
//
// Expand resolves each combination to a config.Config: every field explicit,
// defaults filled in, arch, optimizer and clip specs normalized. Its order
// is an odometer over seed, arch, seq_len, vocab, generator, modulus, operation,
// train_fraction, train_size, test_size, train_eval_size, optimizer,
// batch_size, epochs, eval_every, log_every, divergence_loss, drop_last,
// tail_fraction, spike_z, prune, quantize, lr, lr_schedule, clip (seed slowest, so a grid stopped halfway has every configuration of the
// first seeds; clip fastest), each axis's values in file order. config.Config.Canonical is its JSON (encoding/json: struct
// order, shortest round-trip numbers; not the experiment's name), Key the
// hex SHA-256 of that, GridHash the SHA-256 of the sorted keys. Two
// spellings of one configuration have one key; two configurations of one
// grid never share one.
//
// References:
//
//   - YAML 1.2 and gopkg.in/yaml.v3 (positions from yaml.Node).
//   - R. Pascanu, T. Mikolov, Y. Bengio, On the difficulty of training
//     recurrent neural networks, ICML 2013; pascanur/trainingRNNs
//     (addition.py, tempOrder.py) for the sequence lengths.
package grid
