// MNIST as a Dataset: per-epoch shuffles over a shared parsed copy.

package data

import (
	"fmt"
	"math/rand/v2"
)

// pixelScale maps a pixel byte to float32(v)/255, the value torchvision's
// ToTensor gives (a float32 division by 255).
var pixelScale = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

type mnistSet struct {
	m     *MNIST
	o     Options
	shape Shape

	permEpoch int     // the epoch perm holds, or -1
	perm      []int32 // a permutation of [0, TrainSize)
	pcg       rand.PCG
}

var _ Examples = (*mnistSet)(nil)

func loadMNIST(o Options) (*mnistSet, error) {
	if err := checkSizes("mnist", o, 0, 0); err != nil {
		return nil, err
	}
	m, err := LoadMNIST(o.Dir)
	if err != nil {
		return nil, err
	}
	return newMNISTSet(m, o)
}

// newMNISTSet wraps a parsed database with options o.
func newMNISTSet(m *MNIST, o Options) (*mnistSet, error) {
	if err := checkSizes("mnist", o, m.NumTrain(), m.NumTest()); err != nil {
		return nil, err
	}
	shape, _ := ShapeOf("mnist", 0)
	return &mnistSet{m: m, o: o, shape: shape, permEpoch: -1, perm: make([]int32, o.TrainSize)}, nil
}

func (s *mnistSet) Shape() Shape { return s.shape }

func (s *mnistSet) NumTrainBatches(b int) int { return numBatches(s.o.TrainSize, b) }

// shuffle makes s.perm the permutation of epoch e (see Shuffle).
func (s *mnistSet) shuffle(e int) {
	if e < 0 {
		panic(fmt.Sprintf("data: epoch %d, want at least 0", e))
	}
	if s.permEpoch == e {
		return
	}
	shuffle(s.perm, &s.pcg, s.o.Seed, e)
	s.permEpoch = e
}

// Shuffle returns the order in which MNIST's first n training examples are
// visited in epoch e of a run with this seed: batch i of b takes
// order[i·b : (i+1)·b]. Cross-checks use it to feed another framework the
// same order. It panics if e < 0.
func Shuffle(seed uint64, n, e int) []int32 {
	if e < 0 {
		panic(fmt.Sprintf("data: epoch %d, want at least 0", e))
	}
	perm := make([]int32, n)
	var pcg rand.PCG
	shuffle(perm, &pcg, seed, e)
	return perm
}

// shuffle sets perm to a Fisher–Yates shuffle of the identity driven by the
// PCG of (seed, epoch e). Each epoch starts from the identity, so it
// depends on nothing but (seed, e).
func shuffle(perm []int32, pcg *rand.PCG, seed uint64, e int) {
	for i := range perm {
		perm[i] = int32(i)
	}
	seedPCG(pcg, seed, streamShuffle, uint64(e), 0)
	for i := len(perm) - 1; i > 0; i-- {
		j := uintn(pcg, uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
}

func (s *mnistSet) TrainBatch(dst *Batch, epoch, i, b int) {
	lo, hi := span(s.o.TrainSize, i, b)
	s.shuffle(epoch)
	sizeImages(dst, hi-lo)
	for k, j := range s.perm[lo:hi] {
		copyImage(dst.X[k*mnistPixels:], s.m.TrainImages, int(j))
		dst.Labels[k] = int(s.m.TrainLabels[j])
	}
}

// TrainExamples takes training images by their index in the file; it
// panics for an index outside [0, TrainSize).
func (s *mnistSet) TrainExamples(dst *Batch, idx []int) {
	sizeImages(dst, len(idx))
	for k, j := range idx {
		if j < 0 || j >= s.o.TrainSize {
			panic(fmt.Sprintf("data: training example %d of %d", j, s.o.TrainSize))
		}
		copyImage(dst.X[k*mnistPixels:], s.m.TrainImages, j)
		dst.Labels[k] = int(s.m.TrainLabels[j])
	}
}

func (s *mnistSet) NumEvalBatches(split string, b int) int {
	return numBatches(s.o.evalSize(split), b)
}

// EvalBatch takes the split's examples in file order: the test split is
// the first TestSize test images, the train split the first TrainEvalSize
// training images.
func (s *mnistSet) EvalBatch(dst *Batch, split string, i, b int) {
	lo, hi := span(s.o.evalSize(split), i, b)
	images, labels := s.m.TrainImages, s.m.TrainLabels
	if split == SplitTest {
		images, labels = s.m.TestImages, s.m.TestLabels
	}
	sizeImages(dst, hi-lo)
	for k := range hi - lo {
		copyImage(dst.X[k*mnistPixels:], images, lo+k)
		dst.Labels[k] = int(labels[lo+k])
	}
}

const mnistPixels = MNISTRows * MNISTCols

// sizeImages makes dst a batch of n images.
func sizeImages(dst *Batch, n int) {
	dst.B, dst.Steps = n, 0
	dst.X = grow(dst.X, n*mnistPixels)
	dst.Labels = grow(dst.Labels, n)
	dst.Targets = dst.Targets[:0]
}

// copyImage writes image j of images, scaled to [0, 1], to dst.
func copyImage(dst []float32, images []uint8, j int) {
	src := images[j*mnistPixels : (j+1)*mnistPixels]
	dst = dst[:mnistPixels]
	for p, v := range src {
		dst[p] = pixelScale[v]
	}
}
