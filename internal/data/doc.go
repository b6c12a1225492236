// Package data supplies the examples cliplab trains on: MNIST read from its
// IDX files, and the synthetic sequence tasks of Pascanu, Mikolov & Bengio
// (2013), cut into deterministic batches.
//
// Shape letters: B examples in a batch; C×H×W an image (MNIST 1×28×28);
// L the steps of a batch's sequences and F the features per step; T the
// nominal sequence length (Options.SeqLen). Every array is row-major,
// example first: an image batch is B×C×H×W, a sequence batch B×L×F.
//
// # MNIST
//
// The four files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) are
// fetched by `make data` into data/mnist; nothing is downloaded at run
// time. LoadMNIST parses them once per directory and process and hands out
// one immutable copy that any number of goroutines and runs share. Pixels
// stay bytes in memory and are scaled to [0, 1] as float32 v/255 when a
// batch is filled, as torchvision's ToTensor does. TrainSize and TestSize
// take the first N examples of each file; the train-eval sample ("train"
// split) is the first TrainEvalSize training examples, in file order.
// Training batches follow a permutation of the first TrainSize examples
// drawn afresh for every epoch from (Seed, epoch); the last batch of an
// epoch may be short, as PyTorch's DataLoader without drop_last.
//
// # Synthetic sequence tasks
//
// Both tasks follow Pascanu et al. (2013) §5 and their code
// (github.com/pascanur/trainingRNNs, addition.py and tempOrder.py), which
// go back to Hochreiter & Schmidhuber (1997) §5. Positions are 0-based;
// bounds such as 0.1L are rounded down, as int(l*.1) is in that code.
//
// Length. The RNN has no masking, so a batch is one rectangular B×L×F
// array: L is drawn once per batch as T + U{0, …, ⌊T/10⌋−1}, so that
// T ≤ L < 1.1T, and every sequence of the batch has it (addition.py draws
// it per batch the same way). Batch.Steps reports L; Shape().Steps is T.
//
// addition (Pascanu's variant): F = 2 features per step, feature 0 a value
// drawn from U[0, 1), feature 1 a marker, 0 or 1 (Pascanu's addition.py
// stores them the other way round). Exactly two steps are marked, one at a
// position in [0, ⌊L/10⌋), the other in [⌊L/10⌋, ⌊L/2⌋). The target, one
// output, is the mean of the two marked values; Hochreiter & Schmidhuber's
// original used values in [−1, 1] and the target 0.5 + (x1+x2)/4. A
// sequence counts as solved when its squared error is below SolvedSqErr
// (0.04), as in Pascanu's RNN.py; see Solved.
//
// temporal-order: F = 6 features, a one-hot symbol per step from
// {A, B, C, D, X, Y} in that feature order. A, B, C, D are distractors,
// drawn uniformly at every step but two; X or Y (each with probability
// 1/2) stands at one position in [⌊T/10⌋, 2⌊T/10⌋) and at one in
// [⌊T/2⌋, ⌊T/2⌋+⌊T/10⌋). As in Hochreiter & Schmidhuber's experiment 6a
// these ranges are relative to the nominal T (their t1 ∈ [10, 20],
// t2 ∈ [50, 60] for lengths 100–110). There are no start and end markers
// (their B and E): like Pascanu's tempOrder.py the task uses six symbols.
// The label is one of four classes in the order XX, XY, YX, YY, that is
// 2·first + second with X = 0 and Y = 1 (tempOrder.py numbers them
// first + 2·second; the choice only renames classes).
//
// Data streams. Every sequence is generated from the run's Seed; no
// sequence is stored. The training set is fresh every epoch, as in
// Pascanu's RNN.py, which draws a new batch at each step: batch i of epoch
// e is a pure function of (Seed, e, i, B), and an epoch holds TrainSize
// sequences. The "train" evaluation split is the first TrainEvalSize
// sequences of epoch 0 (exactly the ones trained on when the evaluation
// batch size equals the training batch size). The test set is TestSize
// sequences from a separate stream of the same Seed: batch i is a pure
// function of (Seed, i, B), so compare test sets across runs at one
// evaluation batch size.
//
// Generators. Options.Generator chooses how the two tasks are drawn:
// "cliplab" (the default) as above, or "pascanu", which draws each batch
// exactly as Pascanu's AddTask.generate(B, T) and TempOrderTask.generate(B,
// T) do on a numpy.random.RandomState seeded with the array [Seed mod 2³²,
// ⌊Seed/2³²⌋, stream, epoch, i] (MT19937 and numpy's legacy randint and
// uniform, bit for bit; mt19937.go, pascanu.go). Its ranges are theirs:
// addition's L = T + U{0, …, ⌊0.1T⌋−1} drawn per batch (T when ⌊0.1T⌋ = 1),
// its second marker in [⌊0.1L⌋, ⌊0.1L⌋+⌊0.4L⌋) (which for some L ends one
// step before ⌊L/2⌋), values rounded to float32 before the mean is taken;
// temporal-order's L = T. Features, symbols and classes are laid out as
// above. Streams are as for cliplab (the test split its own, the train split
// epoch 0's batches), but a batch is drawn as a whole, so the train split
// holds the sequences trained on only when the evaluation batch size is the
// training batch size. testdata/pascanu/reference.py writes the numpy
// batches TestPascanuReference compares against.
//
// modular (Power et al. 2022, "Grokking"): every equation "a op b =" for
// a, b in [0, p) (b ≥ 1 for /, which needs p prime) and op one of + − * /
// (a·b^(p−2) for /), answered by c = a op b mod p, one of p classes. An
// example is four tokens, a, op, b, =, given as float32 ids: the numbers are
// themselves, op is p and = is p+1 (Shape.Vocab p+2, Features 1). The
// equations, numbered a·nb + b − b0, are shuffled once by the Seed's split
// stream (Fisher–Yates); the first round(train_fraction·N) are the training
// set and the rest the test set, disjoint and together every equation
// (ModularSplit; Power et al.'s ArithmeticDataset rounds the same way). An
// epoch visits the training equations in the mnist shuffle of (Seed, epoch);
// the train evaluation split is the first TrainEvalSize training equations
// in split order, the test split every test equation.
//
// copy: reproduce a random token sequence after a delimiter. Example j of
// a split is n = SeqLen symbols drawn uniformly from [0, Vocab) by the PCG
// of (Seed, the split's stream, j), then the delimiter (token Vocab) and n
// blanks (token Vocab+1): 2n+1 float32 ids (Shape.Vocab Vocab+2, Features
// 1). The labels are the n symbols, one per blank (Shape.OutSteps n,
// Outputs Vocab; Batch.Labels B×n). The training set is examples 0 …
// TrainSize−1 of the train stream, visited in the mnist shuffle of (Seed,
// epoch); the train evaluation split its first TrainEvalSize in index
// order; the test split TestSize examples of the test stream, drawn
// independently of the training set (a test sequence equals a training one
// with probability about TrainSize/Vocab^n).
//
// # Determinism
//
// Every random draw comes from a math/rand/v2 PCG seeded from the run's
// Seed and the batch's coordinates (split, epoch, index) through SplitMix64,
// never from a global source, and integers and floats are derived from the
// PCG's 64-bit outputs by this package's own code. Hence a batch is
// bit-identical whatever else runs in the process and whatever order the
// batches are asked in. A Dataset keeps scratch state (the current epoch's
// permutation, a generator) and is for one goroutine; the MNIST arrays
// underneath are shared read-only.
//
// References:
//   - Y. LeCun, L. Bottou, Y. Bengio & P. Haffner (1998), Gradient-based
//     learning applied to document recognition, Proc. IEEE 86(11); the
//     MNIST database and its IDX format, http://yann.lecun.com/exdb/mnist/.
//   - R. Pascanu, T. Mikolov & Y. Bengio (2013), On the difficulty of
//     training recurrent neural networks, ICML, §5 (synthetic problems);
//     code: github.com/pascanur/trainingRNNs (addition.py, tempOrder.py,
//     RNN.py).
//   - S. Hochreiter & J. Schmidhuber (1997), Long short-term memory, Neural
//     Computation 9(8), §5.4 (experiment 4, adding problem) and §5.6
//     (experiment 6a, temporal order).
//   - D. Lemire (2019), Fast random integer generation in an interval, ACM
//     TOMACS 29(1) (bounded integers from 64-bit outputs).
//   - torchvision transforms.ToTensor (pixels as float32 v/255).
//   - A. Power, Y. Burda, H. Edwards, I. Babuschkin & V. Misra (2022),
//     Grokking: generalization beyond overfitting on small algorithmic
//     datasets, arXiv:2201.02177; code: github.com/openai/grok
//     (grok/data.py, ArithmeticDataset).
package data
