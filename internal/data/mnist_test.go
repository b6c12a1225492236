package data

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// realMNISTDir is the repository's data/mnist, seen from this package.
var realMNISTDir = filepath.Join("..", "..", DefaultMNISTDir)

func realMNIST(t testing.TB) *MNIST {
	t.Helper()
	if _, err := os.Stat(filepath.Join(realMNISTDir, trainImagesFile+".gz")); err != nil {
		if _, err := os.Stat(filepath.Join(realMNISTDir, trainImagesFile)); err != nil {
			t.Skipf("MNIST is not in %s: run \"make data\" at the repository root to test on it", realMNISTDir)
		}
	}
	m, err := LoadMNIST(realMNISTDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRealMNIST(t *testing.T) {
	m := realMNIST(t)
	// Sizes: LeCun et al., yann.lecun.com/exdb/mnist ("a training set of
	// 60,000 examples, and a test set of 10,000 examples").
	if m.NumTrain() != 60000 || m.NumTest() != 10000 {
		t.Fatalf("%d train, %d test; want 60000, 10000", m.NumTrain(), m.NumTest())
	}
	if len(m.TrainImages) != 60000*784 || len(m.TestImages) != 10000*784 {
		t.Fatalf("image bytes %d, %d", len(m.TrainImages), len(m.TestImages))
	}
	// The first training image is the well-known 5 and the first test
	// image a 7 (e.g. torchvision's MNIST(train=True)[0][1] == 5, shown in
	// countless tutorials). The first ten labels and the per-digit counts
	// were printed by numpy (np.frombuffer(..., offset=8), np.bincount) with
	// /usr/bin/python3 on the same files, an independent parser.
	if got := m.TrainLabels[:10]; !slices.Equal(got, []uint8{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}) {
		t.Errorf("first training labels %v, want 5 0 4 1 9 2 1 3 1 4", got)
	}
	if got := m.TestLabels[:10]; !slices.Equal(got, []uint8{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}) {
		t.Errorf("first test labels %v, want 7 2 1 0 4 1 4 9 5 9", got)
	}
	wantTrain := [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	wantTest := [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	var gotTrain, gotTest [10]int
	for _, l := range m.TrainLabels {
		gotTrain[l]++
	}
	for _, l := range m.TestLabels {
		gotTest[l]++
	}
	if gotTrain != wantTrain || gotTest != wantTest {
		t.Errorf("label counts train %v test %v, want %v and %v", gotTrain, gotTest, wantTrain, wantTest)
	}
	// Pixel sums of single images, from numpy on the same files.
	sum := func(px []uint8) (s int) {
		for _, v := range px {
			s += int(v)
		}
		return s
	}
	for _, c := range []struct {
		name string
		px   []uint8
		want int
	}{
		{"train[0]", m.TrainImages[:784], 27525},
		{"train[59999]", m.TrainImages[59999*784:], 20920},
		{"test[0]", m.TestImages[:784], 18454},
	} {
		if got := sum(c.px); got != c.want {
			t.Errorf("pixel sum of %s = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestRealMNISTBatches reads the whole training set through the Dataset:
// pixels in [0, 1], and the mean and standard deviation that PyTorch's MNIST
// example normalises with (0.1307, 0.3081; pytorch/examples mnist/main.py).
func TestRealMNISTBatches(t *testing.T) {
	realMNIST(t)
	ds, err := Load("mnist", Options{Dir: realMNISTDir, TrainSize: 60000, TestSize: 10000, TrainEvalSize: 1000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ds.Shape(), (Shape{C: 1, H: 28, W: 28, Outputs: 10, Task: Classify}); got != want {
		t.Fatalf("shape %+v, want %+v", got, want)
	}
	var b Batch
	var s, s2 float64
	var n, seen int
	const bs = 1000
	for i := range ds.NumTrainBatches(bs) {
		ds.TrainBatch(&b, 0, i, bs)
		for _, v := range b.X {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("pixel %v outside [0, 1]", v)
			}
			s += float64(v)
			s2 += float64(v) * float64(v)
		}
		n += len(b.X)
		seen += b.B
	}
	if seen != 60000 || n != 60000*784 {
		t.Fatalf("an epoch held %d examples, %d pixels", seen, n)
	}
	mean := s / float64(n)
	std := math.Sqrt(s2/float64(n) - mean*mean)
	if math.Abs(mean-0.1307) > 5e-5 || math.Abs(std-0.3081) > 5e-5 {
		t.Errorf("pixel mean %.5f std %.5f, want 0.1307 and 0.3081", mean, std)
	}
	// The test split in file order: its first label is the 7.
	ds.EvalBatch(&b, SplitTest, 0, 5)
	if b.Labels[0] != 7 || b.B != 5 {
		t.Errorf("first test batch: B=%d labels %v", b.B, b.Labels)
	}
	// Row 14 of the first training image (numpy: X[0,14]).
	ds.EvalBatch(&b, SplitTrain, 0, 1)
	row := []uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81, 240, 253, 253, 119, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for c, v := range row {
		if got, want := b.X[14*28+c], float32(v)/255; got != want {
			t.Fatalf("train[0] pixel (14,%d) = %v, want %v", c, got, want)
		}
	}
}

// fakeMNIST loads a small MNIST whose images encode their index.
func fakeMNIST(t testing.TB, nTrain, nTest int) *MNIST {
	t.Helper()
	m, err := LoadMNIST(writeFiles(t, fakeFiles(nTrain, nTest), true))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// index recovers the example index that fakeImages encoded in image k.
func index(b *Batch, k int) int {
	x := b.X[k*mnistPixels:]
	return int(math.Round(float64(x[0])*255)) + 256*int(math.Round(float64(x[1])*255))
}

// TestMNISTEpochCoverage checks that every epoch visits the first
// TrainSize examples exactly once, with the right labels and pixels, and
// that only the last batch is short.
func TestMNISTEpochCoverage(t *testing.T) {
	m := fakeMNIST(t, 300, 40)
	for _, c := range []struct{ trainSize, b int }{{300, 64}, {257, 64}, {100, 100}, {1, 7}, {50, 1}} {
		ds, err := newMNISTSet(m, Options{TrainSize: c.trainSize, TestSize: 40, TrainEvalSize: 1, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		nb := ds.NumTrainBatches(c.b)
		if want := (c.trainSize + c.b - 1) / c.b; nb != want {
			t.Fatalf("%+v: %d batches, want %d", c, nb, want)
		}
		var b Batch
		for epoch := range 3 {
			count := make([]int, c.trainSize)
			for i := range nb {
				ds.TrainBatch(&b, epoch, i, c.b)
				if b.B != c.b && i != nb-1 {
					t.Fatalf("%+v: batch %d of %d has %d examples", c, i, nb, b.B)
				}
				if len(b.X) != b.B*784 || len(b.Labels) != b.B || len(b.Targets) != 0 || b.Steps != 0 {
					t.Fatalf("%+v: batch sizes X %d labels %d targets %d steps %d", c, len(b.X), len(b.Labels), len(b.Targets), b.Steps)
				}
				for k := range b.B {
					j := index(&b, k)
					if j >= c.trainSize {
						t.Fatalf("%+v: example %d is beyond TrainSize", c, j)
					}
					count[j]++
					if b.Labels[k] != int(m.TrainLabels[j]) {
						t.Fatalf("%+v: example %d has label %d, want %d", c, j, b.Labels[k], m.TrainLabels[j])
					}
					if got, want := b.X[k*784+500], float32(byte(j+500))/255; got != want {
						t.Fatalf("%+v: example %d pixel 500 = %v, want %v", c, j, got, want)
					}
				}
			}
			for j, n := range count {
				if n != 1 {
					t.Fatalf("%+v epoch %d: example %d seen %d times", c, epoch, j, n)
				}
			}
		}
	}
}

// order returns the example indices of one epoch.
func order(ds Dataset, epoch, b int) []int {
	var out []int
	var batch Batch
	for i := range ds.NumTrainBatches(b) {
		ds.TrainBatch(&batch, epoch, i, b)
		for k := range batch.B {
			out = append(out, index(&batch, k))
		}
	}
	return out
}

func TestMNISTShuffleDeterminism(t *testing.T) {
	m := fakeMNIST(t, 200, 10)
	o := Options{TrainSize: 200, TestSize: 10, TrainEvalSize: 10, Seed: 42}
	a, _ := newMNISTSet(m, o)
	b, _ := newMNISTSet(m, o)
	o.Seed = 43
	c, _ := newMNISTSet(m, o)
	// Ask a for epochs out of order: the result must not depend on it.
	a0, a1 := order(a, 1, 32), order(a, 0, 32)
	a0, a1 = a1, a0
	if !slices.Equal(a0, order(b, 0, 32)) || !slices.Equal(a1, order(b, 1, 32)) {
		t.Error("same seed and epoch gave different orders")
	}
	if slices.Equal(a0, a1) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.Equal(a0, order(c, 0, 32)) {
		t.Error("seeds 42 and 43 give the same order")
	}
	if slices.IsSorted(a0) {
		t.Error("epoch 0 is not shuffled")
	}
	// The batch size cuts the order, it does not change it.
	if !slices.Equal(a0, order(b, 0, 7)) {
		t.Error("batch size changed the epoch's order")
	}
}

// TestMNISTShuffleUniform checks the shuffle against its law: over many
// epochs each example lands in each position about equally often. A
// Sattolo-style off-by-one (no fixed points) or a biased swap fails it.
func TestMNISTShuffleUniform(t *testing.T) {
	m := fakeMNIST(t, 8, 1)
	ds, _ := newMNISTSet(m, Options{TrainSize: 8, TestSize: 1, TrainEvalSize: 1, Seed: 5})
	const epochs = 8000
	var count [8][8]int // count[example][position]
	for e := range epochs {
		for pos, j := range order(ds, e, 8) {
			count[j][pos]++
		}
	}
	// Each cell is Binomial(8000, 1/8): mean 1000, sd 29.6; allow 5 sd.
	for j := range count {
		for pos, n := range count[j] {
			if n < 852 || n > 1148 {
				t.Errorf("example %d at position %d %d times in %d epochs, want about 1000", j, pos, n, epochs)
			}
		}
	}
}

func TestMNISTEvalSplits(t *testing.T) {
	m := fakeMNIST(t, 100, 30)
	ds, _ := newMNISTSet(m, Options{TrainSize: 80, TestSize: 25, TrainEvalSize: 13, Seed: 1})
	for _, c := range []struct {
		split  string
		n      int
		labels []uint8
	}{{SplitTest, 25, m.TestLabels}, {SplitTrain, 13, m.TrainLabels}} {
		var b Batch
		var got []int
		nb := ds.NumEvalBatches(c.split, 4)
		if nb != (c.n+3)/4 {
			t.Fatalf("%s: %d batches", c.split, nb)
		}
		for i := range nb {
			ds.EvalBatch(&b, c.split, i, 4)
			for k := range b.B {
				j := index(&b, k)
				if b.Labels[k] != int(c.labels[j]) {
					t.Fatalf("%s: example %d label %d, want %d", c.split, j, b.Labels[k], c.labels[j])
				}
				got = append(got, j)
			}
		}
		want := make([]int, c.n)
		for j := range want {
			want[j] = j
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: examples %v, want the first %d in order", c.split, got, c.n)
		}
	}
}

func TestMNISTOptions(t *testing.T) {
	m := fakeMNIST(t, 50, 20)
	ok := Options{TrainSize: 50, TestSize: 20, TrainEvalSize: 50}
	tests := []struct {
		name  string
		edit  func(*Options)
		field string // "" means valid
	}{
		{"all", func(o *Options) {}, ""},
		{"one each", func(o *Options) { o.TrainSize, o.TestSize, o.TrainEvalSize = 1, 1, 1 }, ""},
		{"train zero", func(o *Options) { o.TrainSize = 0 }, "TrainSize = 0, want 1 to 50"},
		{"train too many", func(o *Options) { o.TrainSize = 51 }, "TrainSize = 51, want 1 to 50"},
		{"test too many", func(o *Options) { o.TestSize = 21 }, "TestSize = 21, want 1 to 20"},
		{"test negative", func(o *Options) { o.TestSize = -1 }, "TestSize = -1"},
		{"train-eval over train", func(o *Options) { o.TrainSize = 30 }, "TrainEvalSize = 50, want 1 to 30 (at most TrainSize)"},
		{"train-eval zero", func(o *Options) { o.TrainEvalSize = 0 }, "TrainEvalSize = 0"},
	}
	for _, tt := range tests {
		o := ok
		tt.edit(&o)
		_, err := newMNISTSet(m, o)
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)):
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.field)
		}
	}
	// Load checks sizes before reading files, and names the directory after.
	if _, err := Load("mnist", Options{Dir: t.TempDir(), TrainSize: 0, TestSize: 1, TrainEvalSize: 1}); err == nil || !strings.Contains(err.Error(), "TrainSize") {
		t.Errorf("Load with TrainSize 0: %v", err)
	}
	dir := t.TempDir()
	if _, err := Load("mnist", Options{Dir: dir, TrainSize: 1, TestSize: 1, TrainEvalSize: 1}); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "make data") {
		t.Errorf("Load from an empty directory: %v", err)
	}
	if _, err := Load("cifar", ok); err == nil || !strings.Contains(err.Error(), "temporal-order") {
		t.Errorf("Load(cifar): %v", err)
	}
}

func TestMNISTPanics(t *testing.T) {
	m := fakeMNIST(t, 10, 5)
	ds, _ := newMNISTSet(m, Options{TrainSize: 10, TestSize: 5, TrainEvalSize: 5})
	var b Batch
	for name, f := range map[string]func(){
		"batch size 0":  func() { ds.NumTrainBatches(0) },
		"batch past":    func() { ds.TrainBatch(&b, 0, 2, 5) },
		"batch -1":      func() { ds.TrainBatch(&b, 0, -1, 5) },
		"epoch -1":      func() { ds.TrainBatch(&b, -1, 0, 5) },
		"unknown split": func() { ds.EvalBatch(&b, "valid", 0, 5) },
		"eval past":     func() { ds.EvalBatch(&b, SplitTest, 1, 5) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestMNISTNoAllocs checks that steady-state batches allocate nothing,
// epoch changes included.
func TestMNISTNoAllocs(t *testing.T) {
	m := fakeMNIST(t, 300, 50)
	ds, _ := newMNISTSet(m, Options{TrainSize: 300, TestSize: 50, TrainEvalSize: 50, Seed: 1})
	var b Batch
	ds.TrainBatch(&b, 0, 0, 64)
	r := rand.New(rand.NewPCG(1, 2))
	allocs := testing.AllocsPerRun(100, func() {
		ds.TrainBatch(&b, r.IntN(5), r.IntN(4), 64)
		ds.EvalBatch(&b, SplitTest, 0, 50)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

// TestMNISTConcurrentRuns gives each of several goroutines its own Dataset
// over one shared MNIST, as parallel workers do, and checks that each
// gets what it gets alone (run with -race to check the sharing).
func TestMNISTConcurrentRuns(t *testing.T) {
	dir := writeFiles(t, fakeFiles(500, 20), true)
	o := func(seed uint64) Options {
		return Options{Dir: dir, TrainSize: 500, TestSize: 20, TrainEvalSize: 20, Seed: seed}
	}
	const n = 4
	want := make([][]int, n)
	for i := range n {
		want[i] = order(mustLoad(t, "mnist", o(uint64(i))), 3, 64)
	}
	got := make([][]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ds, err := Load("mnist", o(uint64(i)))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = order(ds, 3, 64)
		})
	}
	wg.Wait()
	for i := range n {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("run %d: concurrent order differs from the serial one", i)
		}
	}
}

// TestTrainExamples: examples taken by index are the ones the shuffled
// batches call by those indices (batch 0 of epoch 0 is the first b of
// Shuffle's order), in the order given, and an empty index list gives an
// empty batch.
func TestTrainExamples(t *testing.T) {
	m := realMNIST(t)
	set, err := newMNISTSet(m, Options{TrainSize: 1000, TestSize: 10, TrainEvalSize: 10, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	var ex Examples = set
	var a, b Batch
	ex.TrainBatch(&a, 0, 0, 32)
	order := Shuffle(9, 1000, 0)[:32]
	idx := make([]int, len(order))
	for i, j := range order {
		idx[i] = int(j)
	}
	ex.TrainExamples(&b, idx)
	if b.B != 32 || !slices.Equal(a.X, b.X) || !slices.Equal(a.Labels, b.Labels) {
		t.Errorf("examples by index differ from the shuffled batch")
	}
	ex.TrainExamples(&b, nil)
	if b.B != 0 || len(b.X) != 0 || len(b.Labels) != 0 {
		t.Errorf("empty index list: batch of %d", b.B)
	}
}
