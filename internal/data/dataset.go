// The Dataset interface, its options, and the seeded generators under it.

package data

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
)

// Batch is one batch of examples. Its slices are reused from call to call:
// copy what must outlive the next call that fills it.
type Batch struct {
	X       []float32 // B×C×H×W (images) or B×Steps×Features (sequences), row-major
	Labels  []int     // classification: B labels in [0, Outputs) (B×OutSteps with Shape.OutSteps > 1); empty for regression
	Targets []float32 // regression: B×Outputs; empty for classification
	B       int       // examples in this batch
	Steps   int       // this batch's sequence length L; 0 for images
}

// Options choose a dataset's sizes and seed. Load checks them per dataset.
type Options struct {
	Dir           string // where the MNIST files are (default DefaultMNISTDir)
	TrainSize     int    // training examples per epoch (mnist: the first N of 60,000; synthetic: N sequences)
	TestSize      int    // test examples (mnist: the first N of 10,000; synthetic: N generated sequences)
	TrainEvalSize int    // the fixed training sample evaluated for train accuracy, at most TrainSize
	SeqLen        int    // T for the synthetic tasks, at least MinSeqLen; ignored by mnist
	Seed          uint64 // the run's seed: synthetic data, shuffling
	// Generator draws the synthetic tasks' sequences: one of Generators
	// ("" is cliplab); the other datasets ignore it.
	Generator string
	// The modular task: the modulus p, the operation (one of Operations)
	// and the fraction of the equations used for training. TrainSize and
	// TestSize must be the sizes ModularSplit returns.
	Modulus       int
	Operation     string
	TrainFraction float64
	// Vocab is the copy task's number of symbols (SeqLen is its sequence
	// length); the other datasets ignore it.
	Vocab int
}

// The evaluation splits, as the database's evals.split column names them.
const (
	SplitTest  = "test"  // the test set
	SplitTrain = "train" // the fixed sample of the training set
)

// MinSeqLen is the shortest T the synthetic tasks accept: below 10 the
// ranges ⌊T/10⌋ they draw positions and extra length from are empty.
const MinSeqLen = 10

// SolvedSqErr is the squared error below which an addition sequence counts
// as solved (Pascanu et al. 2013 §5; RNN.py: error = sum((t-y)**2) > .04).
const SolvedSqErr = 0.04

// Solved reports whether a regression prediction solves its example: the
// squared error summed over the outputs is below SolvedSqErr. It panics if
// the lengths differ.
func Solved(pred, target []float32) bool {
	if len(pred) != len(target) {
		panic(fmt.Sprintf("data: Solved: %d predictions for %d targets", len(pred), len(target)))
	}
	var s float64
	for i, p := range pred {
		d := float64(p) - float64(target[i])
		s += d * d
	}
	return s < SolvedSqErr
}

// Dataset hands out deterministic batches. Batch sizes b must be at least
// 1; epochs count from 0; batch indices from 0 to the number of batches
// minus one; a split is SplitTest or SplitTrain. Any other argument is a
// programmer error and panics. A Dataset is for one goroutine (it keeps
// scratch state); the data underneath is shared.
type Dataset interface {
	// Shape returns what a model sees of one example (Steps is the nominal T).
	Shape() Shape
	// NumTrainBatches returns ⌈TrainSize/b⌉, the batches of one epoch.
	NumTrainBatches(b int) int
	// TrainBatch fills dst with batch i of epoch epoch, reusing dst's
	// slices. An epoch's batches hold every training example exactly once;
	// only the last may be short.
	TrainBatch(dst *Batch, epoch, i, b int)
	// NumEvalBatches returns the batches of split at batch size b.
	NumEvalBatches(split string, b int) int
	// EvalBatch fills dst with batch i of split, reusing dst's slices.
	EvalBatch(dst *Batch, split string, i, b int)
}

// Examples is a Dataset whose training examples can be taken by index, as
// DP-SGD's Poisson sampling takes them (mnist is one; the synthetic
// datasets, generated batch by batch, are not).
type Examples interface {
	Dataset
	// TrainExamples fills dst with the training examples idx, each in
	// [0, TrainSize), in that order, reusing dst's slices; len(idx) may be
	// 0. Example j is the one the shuffled batches call j.
	TrainExamples(dst *Batch, idx []int)
}

// Load returns dataset name (one of Names) with options o, after checking
// them. For mnist it reads the files through LoadMNIST, so many runs in
// one process share one parsed copy.
func Load(name string, o Options) (Dataset, error) {
	switch name {
	case "mnist":
		return loadMNIST(o)
	case "addition", "temporal-order":
		return newSeqSet(name, o)
	case "modular":
		return newModSet(o)
	case "copy":
		return newCopySet(o)
	}
	return nil, fmt.Errorf("data: unknown dataset %q (allowed: %s)", name, strings.Join(Names, ", "))
}

// evalSize returns the number of examples of split; it panics for an
// unknown split.
func (o Options) evalSize(split string) int {
	switch split {
	case SplitTest:
		return o.TestSize
	case SplitTrain:
		return o.TrainEvalSize
	}
	panic(fmt.Sprintf("data: unknown split %q (want %q or %q)", split, SplitTest, SplitTrain))
}

// checkSizes checks the sizes common to every dataset: each at least 1,
// TrainEvalSize at most TrainSize, and none above the limits given
// (non-positive: no limit).
func checkSizes(name string, o Options, maxTrain, maxTest int) error {
	check := func(field string, v, hi int, what string) error {
		if v < 1 || (hi > 0 && v > hi) {
			if hi > 0 {
				return fmt.Errorf("data: %s: %s = %d, want 1 to %d (%s)", name, field, v, hi, what)
			}
			return fmt.Errorf("data: %s: %s = %d, want at least 1", name, field, v)
		}
		return nil
	}
	if err := check("TrainSize", o.TrainSize, maxTrain, "the training examples available"); err != nil {
		return err
	}
	if err := check("TestSize", o.TestSize, maxTest, "the test examples available"); err != nil {
		return err
	}
	return check("TrainEvalSize", o.TrainEvalSize, o.TrainSize, "at most TrainSize")
}

// epochOrder is the order of a fixed training set in the current epoch:
// the mnist shuffle of (seed, epoch), drawn when the epoch changes.
type epochOrder struct {
	perm  []int32
	epoch int // the epoch perm is for; -1 before the first
	pcg   rand.PCG
}

func newEpochOrder(n int) epochOrder { return epochOrder{perm: make([]int32, n), epoch: -1} }

// batch returns the examples [lo, hi) of epoch's order; it panics for a
// negative epoch.
func (o *epochOrder) batch(seed uint64, epoch, lo, hi int) []int32 {
	if epoch < 0 {
		panic(fmt.Sprintf("data: epoch %d, want at least 0", epoch))
	}
	if o.epoch != epoch {
		shuffle(o.perm, &o.pcg, seed, epoch)
		o.epoch = epoch
	}
	return o.perm[lo:hi]
}

// numBatches returns ⌈n/b⌉; it panics if b < 1.
func numBatches(n, b int) int {
	if b < 1 {
		panic(fmt.Sprintf("data: batch size %d, want at least 1", b))
	}
	return (n + b - 1) / b
}

// span returns the examples [lo, hi) of batch i at size b over n examples;
// it panics if i is out of range.
func span(n, i, b int) (lo, hi int) {
	nb := numBatches(n, b)
	if i < 0 || i >= nb {
		panic(fmt.Sprintf("data: batch %d out of range [0, %d)", i, nb))
	}
	lo = i * b
	return lo, min(lo+b, n)
}

// grow returns s resliced to length n, reallocating only when its capacity
// is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Streams keep the random draws of different purposes apart.
const (
	streamShuffle uint64 = iota + 1
	streamTrain
	streamTest
	streamSplit     // the modular task's train/test split
	streamCopyTrain // the copy task's training examples
	streamCopyTest  // the copy task's test examples
)

// splitmix64 is the finaliser of Steele, Lea & Flood's SplitMix64 (2014),
// a bijection that scatters nearby inputs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// seedPCG reseeds p for (seed, stream, a, b) so that different coordinates
// start far apart in the generator's state space.
func seedPCG(p *rand.PCG, seed, stream, a, b uint64) {
	hi := splitmix64(seed ^ splitmix64(stream))
	lo := splitmix64(splitmix64(a^(stream<<56)) ^ b)
	p.Seed(hi, lo)
}

// uintn returns a uniform integer in [0, n) from p by Lemire's (2019)
// multiply-and-reject method; n must be at least 1. Written here, not
// taken from rand.Rand, so that the sequence is this package's to keep.
func uintn(p *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(p.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(p.Uint64(), n)
		}
	}
	return hi
}

// unitFloat32 returns a uniform float32 in [0, 1) on the grid k·2⁻²⁴.
func unitFloat32(u uint64) float32 {
	return float32(u>>40) * (1.0 / (1 << 24))
}
