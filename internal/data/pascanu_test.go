package data

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// pascanuGolden is testdata/pascanu/golden.json, written by reference.py
// with numpy 1.24.2: raw MT19937 outputs of RandomState(seed), randint(n)
// and uniform() draws, and whole batches of Pascanu's two generators.
type pascanuGolden struct {
	Raw []struct {
		Seed        []uint32
		Array       bool
		First, Tail []uint32
	}
	Randint []struct {
		N     int
		Draws []int
	}
	Uniform []float64
	Batches []struct {
		Task                  string
		Seed                  uint64
		Stream                uint64
		Epoch, I, N, T, Steps int
		X, Y                  []float32
		Sym                   []int
		Class                 []int
	}
}

func readPascanuGolden(t *testing.T) pascanuGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/pascanu/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g pascanuGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Raw) == 0 || len(g.Randint) == 0 || len(g.Uniform) == 0 || len(g.Batches) == 0 {
		t.Fatal("golden.json: a section is empty")
	}
	return g
}

// TestMT19937Reference checks the generator against numpy's RandomState:
// its first outputs and outputs 1293–1300 (after two twists) for integer
// and array seeds, randint over masks of every width with rejections, and
// uniform. RandomState(5489)'s first output, 3499211612, is also the one
// Matsumoto & Nishimura's mt19937ar.c gives for init_genrand(5489).
func TestMT19937Reference(t *testing.T) {
	g := readPascanuGolden(t)
	var m mt19937
	for _, r := range g.Raw {
		if r.Array {
			m.seedArray(r.Seed)
		} else {
			m.seed(r.Seed[0])
		}
		got := make([]uint32, 1300)
		for i := range got {
			got[i] = m.uint32()
		}
		for i, w := range r.First {
			if got[i] != w {
				t.Fatalf("seed %v: output %d = %d, numpy %d", r.Seed, i, got[i], w)
			}
		}
		for i, w := range r.Tail {
			if j := 1300 - len(r.Tail) + i; got[j] != w {
				t.Fatalf("seed %v: output %d = %d, numpy %d", r.Seed, j, got[j], w)
			}
		}
	}
	m.seedArray([]uint32{9, 8, 7})
	for _, r := range g.Randint {
		for j, w := range r.Draws {
			if got := m.randint(r.N); got != w {
				t.Fatalf("randint(%d) draw %d = %d, numpy %d", r.N, j, got, w)
			}
		}
	}
	m.seedArray([]uint32{9, 8, 7, 6})
	for j, w := range g.Uniform {
		if got := m.uniform(); got != w {
			t.Fatalf("uniform draw %d = %v, numpy %v", j, got, w)
		}
	}
}

// TestPascanuReference checks whole batches of the pascanu generator,
// through the Dataset, against reference.py's numpy arrays converted to
// this package's layout (features value, marker; symbols SymA–SymY; the
// class 2·first + second).
func TestPascanuReference(t *testing.T) {
	g := readPascanuGolden(t)
	for _, c := range g.Batches {
		o := Options{TrainSize: 1000, TestSize: 1000, TrainEvalSize: 1000, SeqLen: c.T, Seed: c.Seed, Generator: "pascanu"}
		ds := mustLoad(t, c.Task, o)
		var b Batch
		i := c.I
		switch {
		case c.Stream == streamTest:
			ds.EvalBatch(&b, SplitTest, i, c.N)
		case c.Epoch == 0 && c.I%2 == 1:
			ds.EvalBatch(&b, SplitTrain, i, c.N) // the train split is epoch 0's batches
		default:
			ds.TrainBatch(&b, c.Epoch, i, c.N)
		}
		L, n := c.Steps, c.N
		if b.B != n || b.Steps != L {
			t.Fatalf("%s seed %d: B=%d L=%d, numpy %d, %d", c.Task, c.Seed, b.B, b.Steps, n, L)
		}
		switch c.Task {
		case "addition":
			for tt := range L {
				for k := range n {
					x := b.X[(k*L+tt)*2:]
					if w := c.X[(tt*n+k)*2+0]; x[AddMarker] != w {
						t.Fatalf("addition seed %d: marker of sequence %d at step %d = %v, numpy %v", c.Seed, k, tt, x[AddMarker], w)
					}
					if w := c.X[(tt*n+k)*2+1]; x[AddValue] != w {
						t.Fatalf("addition seed %d: value of sequence %d at step %d = %v, numpy %v", c.Seed, k, tt, x[AddValue], w)
					}
				}
			}
			for k, w := range c.Y {
				if b.Targets[k] != w {
					t.Fatalf("addition seed %d: target %d = %v, numpy %v", c.Seed, k, b.Targets[k], w)
				}
			}
		case "temporal-order":
			sym := [6]int{SymX, SymY, SymA, SymB, SymC, SymD} // tempOrder.py's symbol → ours
			for tt := range L {
				for k := range n {
					x := b.X[(k*L+tt)*6 : (k*L+tt+1)*6]
					for f := range 6 {
						want := float32(0)
						if f == sym[c.Sym[tt*n+k]] {
							want = 1
						}
						if x[f] != want {
							t.Fatalf("temporal-order seed %d: sequence %d step %d = %v, numpy symbol %d", c.Seed, k, tt, x, c.Sym[tt*n+k])
						}
					}
				}
			}
			for k, w := range c.Class {
				first, second := w%2, w/2 // tempOrder.py: first + 2·second
				if b.Labels[k] != 2*first+second {
					t.Fatalf("temporal-order seed %d: class %d = %d, numpy %d", c.Seed, k, b.Labels[k], w)
				}
			}
		}
	}
}

// TestPascanuRules checks addition.py's ranges on many batches of the
// pascanu generator: T ≤ L < T + ⌊0.1T⌋ (L = T when ⌊0.1T⌋ is 1), the first
// marker in [0, ⌊0.1L⌋), the second in [⌊0.1L⌋, ⌊0.1L⌋+⌊0.4L⌋), and every
// length and position drawn.
func TestPascanuRules(t *testing.T) {
	for _, T := range seqLens {
		ds := mustLoad(t, "addition", Options{TrainSize: 4000, TestSize: 10, TrainEvalSize: 10, SeqLen: T, Seed: 3, Generator: "pascanu"})
		lens, p0s, p1s := map[int]bool{}, map[int]bool{}, map[int]bool{}
		var b Batch
		for i := range ds.NumTrainBatches(16) {
			ds.TrainBatch(&b, 1, i, 16)
			L := b.Steps
			if L < T || L >= T+max(1, tenths(T, .1)) {
				t.Fatalf("T=%d: L=%d outside [T, T+⌊0.1T⌋)", T, L)
			}
			lens[L] = true
			lo, w := tenths(L, .1), tenths(L, .4)
			for k := range b.B {
				var marked []int
				for s := range L {
					if b.X[(k*L+s)*2+AddMarker] == 1 {
						marked = append(marked, s)
					}
				}
				if len(marked) != 2 || marked[0] >= lo || marked[1] < lo || marked[1] >= lo+w {
					t.Fatalf("T=%d L=%d: markers at %v, want one in [0, %d) and one in [%d, %d)", T, L, marked, lo, lo, lo+w)
				}
				p0s[marked[0]] = true
				p1s[marked[1]] = true
			}
		}
		if want := max(1, tenths(T, .1)); len(lens) != want {
			t.Errorf("T=%d: %d lengths drawn, want %d", T, len(lens), want)
		}
		if len(p0s) < tenths(T, .1) || len(p1s) < tenths(T, .4) {
			t.Errorf("T=%d: %d first and %d second positions drawn", T, len(p0s), len(p1s))
		}
	}
}

// TestPascanuDeterminism: a batch is a function of (Seed, epoch, index,
// size) whatever was drawn before; seeds, epochs and the test stream give
// other batches.
func TestPascanuDeterminism(t *testing.T) {
	for _, name := range []string{"addition", "temporal-order"} {
		o := Options{TrainSize: 100, TestSize: 50, TrainEvalSize: 40, SeqLen: 30, Seed: 7, Generator: "pascanu"}
		a, b := mustLoad(t, name, o), mustLoad(t, name, o)
		o.Seed = 7 + 1<<32 // differs only in the high word
		c := mustLoad(t, name, o)
		var scratch Batch
		a.TrainBatch(&scratch, 5, 2, 16)
		a.EvalBatch(&scratch, SplitTest, 1, 16)
		for _, split := range []string{"epoch", SplitTest, SplitTrain} {
			if !sameBatches(batches(a, split, 0, 16), batches(b, split, 0, 16)) {
				t.Errorf("%s %s: same seed, different batches", name, split)
			}
			if sameBatches(batches(a, split, 0, 16), batches(c, split, 0, 16)) {
				t.Errorf("%s %s: seeds 7 and 7+2³² give the same batches", name, split)
			}
		}
		e0 := batches(a, "epoch", 0, 16)
		if sameBatches(e0, batches(a, "epoch", 1, 16)) {
			t.Errorf("%s: epochs 0 and 1 are the same", name)
		}
		if slices.Equal(e0[0].X, batches(a, SplitTest, 0, 16)[0].X) {
			t.Errorf("%s: the test set repeats the training stream", name)
		}
		if !sameBatches(batches(a, SplitTrain, 0, 16)[:2], e0[:2]) {
			t.Errorf("%s: the train split's full batches are not epoch 0's", name)
		}
		if cl := mustLoad(t, name, Options{TrainSize: 100, TestSize: 50, TrainEvalSize: 40, SeqLen: 30, Seed: 7, Generator: "cliplab"}); sameBatches(e0, batches(cl, "epoch", 0, 16)) {
			t.Errorf("%s: the cliplab and pascanu generators give the same batches", name)
		}
	}
}

func TestPascanuOptions(t *testing.T) {
	o := Options{TrainSize: 10, TestSize: 10, TrainEvalSize: 10, SeqLen: 10, Generator: "numpy"}
	for _, name := range []string{"addition", "temporal-order"} {
		_, err := Load(name, o)
		if err == nil || !strings.Contains(err.Error(), `Generator = "numpy"`) || !strings.Contains(err.Error(), "pascanu") {
			t.Errorf("%s: Generator numpy: got %v, want an error naming it and the allowed values", name, err)
		}
	}
}
