// The copy task: reproduce a random token sequence after a delimiter, as a
// Dataset generated example by example from the seed.

package data

import (
	"fmt"
	"math/rand/v2"
)

// Defaults and limits of the copy task (data: {seq_len, vocab, train_size,
// test_size}).
const (
	DefaultCopySeqLen = 10
	DefaultCopyVocab  = 10
	DefaultCopyTrain  = 10000
	DefaultCopyTest   = 1000
	MinCopySeqLen     = 1
	// MaxCopySeqLen bounds the 2·seq_len+1 positions of an example (and so
	// the context a transformer needs).
	MaxCopySeqLen = 4096
	MinCopyVocab  = 2
	// MaxCopyVocab keeps token ids exact as float32 values and the
	// embedding a size two cores hold.
	MaxCopyVocab = 1 << 16
	// MaxCopyExamples bounds train_size and test_size.
	MaxCopyExamples = 10_000_000
)

// CopySteps returns the positions of a copy example with sequences of n
// symbols: the n symbols, the delimiter, n blanks.
func CopySteps(n int) int { return 2*n + 1 }

// CopyCheck says what is wrong with a copy task's sequence length and
// vocabulary (nil when nothing is), naming the field.
func CopyCheck(seqLen, vocab int) error {
	if seqLen < MinCopySeqLen || seqLen > MaxCopySeqLen {
		return fmt.Errorf("seq_len: must be from %d to %d, got %d", MinCopySeqLen, MaxCopySeqLen, seqLen)
	}
	if vocab < MinCopyVocab || vocab > MaxCopyVocab {
		return fmt.Errorf("vocab: must be from %d to %d, got %d", MinCopyVocab, MaxCopyVocab, vocab)
	}
	return nil
}

// copySet is the copy task: example j of a split is seq_len symbols drawn
// uniformly from [0, vocab) by the PCG of (Seed, the split's stream, j),
// then the delimiter (token vocab) and seq_len blanks (token vocab+1); the
// labels are the symbols again, one per blank position.
type copySet struct {
	o        Options
	shape    Shape
	n, steps int
	order    epochOrder // this epoch's order of the training examples
	gen      rand.PCG   // the examples
}

var _ Dataset = (*copySet)(nil)

func newCopySet(o Options) (*copySet, error) {
	if err := CopyCheck(o.SeqLen, o.Vocab); err != nil {
		return nil, fmt.Errorf("data: copy: %w", err)
	}
	if err := checkSizes("copy", o, MaxCopyExamples, MaxCopyExamples); err != nil {
		return nil, err
	}
	s := &copySet{o: o, n: o.SeqLen, steps: CopySteps(o.SeqLen), order: newEpochOrder(o.TrainSize)}
	s.shape, _ = ShapeFor("copy", o)
	return s, nil
}

func (s *copySet) Shape() Shape { return s.shape }

func (s *copySet) NumTrainBatches(b int) int { return numBatches(s.o.TrainSize, b) }

// TrainBatch takes batch i of epoch epoch's shuffle of the training
// examples (the same Fisher–Yates shuffle of (seed, epoch) as mnist).
func (s *copySet) TrainBatch(dst *Batch, epoch, i, b int) {
	lo, hi := span(s.o.TrainSize, i, b)
	s.size(dst, hi-lo)
	for k, j := range s.order.batch(s.o.Seed, epoch, lo, hi) {
		s.write(dst, k, streamCopyTrain, int(j))
	}
}

func (s *copySet) NumEvalBatches(split string, b int) int {
	return numBatches(s.o.evalSize(split), b)
}

// EvalBatch takes the split's examples in index order: the test split is
// the TestSize test examples, the train split the first TrainEvalSize
// training examples.
func (s *copySet) EvalBatch(dst *Batch, split string, i, b int) {
	lo, hi := span(s.o.evalSize(split), i, b)
	stream := streamCopyTrain
	if split == SplitTest {
		stream = streamCopyTest
	}
	s.size(dst, hi-lo)
	for k := range hi - lo {
		s.write(dst, k, stream, lo+k)
	}
}

func (s *copySet) size(dst *Batch, n int) {
	dst.B, dst.Steps = n, s.steps
	dst.X = grow(dst.X, n*s.steps)
	dst.Labels = grow(dst.Labels, n*s.n)
	dst.Targets = dst.Targets[:0]
}

// write puts example j of stream as example k of dst.
func (s *copySet) write(dst *Batch, k int, stream uint64, j int) {
	x := dst.X[k*s.steps : (k+1)*s.steps]
	labels := dst.Labels[k*s.n : (k+1)*s.n]
	seedPCG(&s.gen, s.o.Seed, stream, uint64(j), 0)
	v := uint64(s.o.Vocab)
	for t := range s.n {
		c := int(uintn(&s.gen, v))
		x[t], labels[t] = float32(c), c
	}
	x[s.n] = float32(s.o.Vocab) // the delimiter
	for t := s.n + 1; t < s.steps; t++ {
		x[t] = float32(s.o.Vocab + 1) // a blank
	}
}
