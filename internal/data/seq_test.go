package data

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t testing.TB, name string, o Options) Dataset {
	t.Helper()
	ds, err := Load(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// seqLens are the T values the rule tests cover: the minimum, odd values
// whose tenths and halves round down, and longer ones.
var seqLens = []int{10, 11, 19, 50, 100, 257}

// TestAdditionRules checks Pascanu et al.'s (2013 §5) addition rules on
// every sequence of many batches: T ≤ L < 1.1T, values in [0, 1), exactly
// two markers, one in [0, ⌊L/10⌋) and one in [⌊L/10⌋, ⌊L/2⌋), the target the
// mean of the two marked values; and that the draws fill their ranges.
func TestAdditionRules(t *testing.T) {
	for _, T := range seqLens {
		ds := mustLoad(t, "addition", Options{TrainSize: 4000, TestSize: 500, TrainEvalSize: 100, SeqLen: T, Seed: uint64(T)})
		if got, want := ds.Shape(), (Shape{Steps: T, Features: 2, Outputs: 1, Task: Regress}); got != want {
			t.Fatalf("T=%d: shape %+v, want %+v", T, got, want)
		}
		lens := map[int]bool{}
		p0s, p1s := map[int]bool{}, map[int]bool{} // relative to the range start
		var b Batch
		var sum float64
		var n int
		for i := range ds.NumTrainBatches(16) {
			ds.TrainBatch(&b, 0, i, 16)
			L := b.Steps
			if L < T || L >= T+T/10 || 10*L >= 11*T {
				t.Fatalf("T=%d: L=%d outside [T, 1.1T)", T, L)
			}
			lens[L] = true
			if len(b.X) != b.B*L*2 || len(b.Targets) != b.B || len(b.Labels) != 0 {
				t.Fatalf("T=%d: X %d, targets %d, labels %d for B=%d L=%d", T, len(b.X), len(b.Targets), len(b.Labels), b.B, L)
			}
			for k := range b.B {
				x := b.X[k*L*2 : (k+1)*L*2]
				var marked []int
				for s := range L {
					v, m := x[2*s+AddValue], x[2*s+AddMarker]
					if !(v >= 0 && v < 1) {
						t.Fatalf("T=%d: value %v outside [0, 1)", T, v)
					}
					sum += float64(v)
					n++
					switch m {
					case 1:
						marked = append(marked, s)
					case 0:
					default:
						t.Fatalf("T=%d: marker %v", T, m)
					}
				}
				if len(marked) != 2 {
					t.Fatalf("T=%d: %d markers at %v, want 2", T, len(marked), marked)
				}
				p0, p1 := marked[0], marked[1]
				if p0 >= L/10 || p1 < L/10 || p1 >= L/2 {
					t.Fatalf("T=%d L=%d: markers at %d and %d, want [0, %d) and [%d, %d)", T, L, p0, p1, L/10, L/10, L/2)
				}
				p0s[p0] = true
				p1s[p1-L/10] = true
				if want := float32((float64(x[2*p0]) + float64(x[2*p1])) / 2); b.Targets[k] != want {
					t.Fatalf("T=%d: target %v, want the mean %v", T, b.Targets[k], want)
				}
			}
		}
		// 4000 sequences take every length (⌊T/10⌋ of them), every
		// first-marker position (up to the longest L's ⌊L/10⌋), and at least
		// as many second-marker offsets as the shortest L allows.
		if len(lens) != T/10 {
			t.Errorf("T=%d: %d distinct lengths, want %d", T, len(lens), T/10)
		}
		if len(p0s) != (T+T/10-1)/10 {
			t.Errorf("T=%d: first marker at %d distinct positions, want %d", T, len(p0s), (T+T/10-1)/10)
		}
		if lo := T/2 - T/10; len(p1s) < lo {
			t.Errorf("T=%d: second marker at %d distinct offsets, want at least %d", T, len(p1s), lo)
		}
		if mean := sum / float64(n); mean < 0.49 || mean > 0.51 {
			t.Errorf("T=%d: mean value %.4f, want about 0.5", T, mean)
		}
	}
}

// TestTemporalOrderRules checks Hochreiter & Schmidhuber's (1997, exp. 6a)
// temporal order as Pascanu et al. (2013) use it: one-hot steps, exactly
// two informative symbols (X or Y) at [⌊T/10⌋, 2⌊T/10⌋) and
// [⌊T/2⌋, ⌊T/2⌋+⌊T/10⌋), the class naming them in order, and classes and
// distractors about equally frequent.
func TestTemporalOrderRules(t *testing.T) {
	for _, T := range seqLens {
		ds := mustLoad(t, "temporal-order", Options{TrainSize: 4000, TestSize: 500, TrainEvalSize: 100, SeqLen: T, Seed: uint64(T) + 100})
		if got, want := ds.Shape(), (Shape{Steps: T, Features: 6, Outputs: 4, Task: Classify}); got != want {
			t.Fatalf("T=%d: shape %+v, want %+v", T, got, want)
		}
		var classes [4]int
		var symbols [6]int
		p0s, p1s := map[int]bool{}, map[int]bool{}
		var b Batch
		for i := range ds.NumTrainBatches(16) {
			ds.TrainBatch(&b, 0, i, 16)
			L := b.Steps
			if L < T || L >= T+T/10 || 10*L >= 11*T {
				t.Fatalf("T=%d: L=%d outside [T, 1.1T)", T, L)
			}
			if len(b.X) != b.B*L*6 || len(b.Labels) != b.B || len(b.Targets) != 0 {
				t.Fatalf("T=%d: X %d, labels %d, targets %d for B=%d L=%d", T, len(b.X), len(b.Labels), len(b.Targets), b.B, L)
			}
			for k := range b.B {
				x := b.X[k*L*6 : (k+1)*L*6]
				var info []int // positions of X and Y
				var seq []int  // the informative symbols, 0 for X and 1 for Y
				for s := range L {
					sym := -1
					for f, v := range x[6*s : 6*s+6] {
						switch v {
						case 1:
							if sym >= 0 {
								t.Fatalf("T=%d: step %d is not one-hot: %v", T, s, x[6*s:6*s+6])
							}
							sym = f
						case 0:
						default:
							t.Fatalf("T=%d: step %d holds %v", T, s, v)
						}
					}
					if sym < 0 {
						t.Fatalf("T=%d: step %d holds no symbol", T, s)
					}
					symbols[sym]++
					if sym == SymX || sym == SymY {
						info = append(info, s)
						seq = append(seq, sym-SymX)
					}
				}
				w := T / 10
				if len(info) != 2 || info[0] < w || info[0] >= 2*w || info[1] < T/2 || info[1] >= T/2+w {
					t.Fatalf("T=%d: informative symbols at %v, want one in [%d, %d) and one in [%d, %d)", T, info, w, 2*w, T/2, T/2+w)
				}
				p0s[info[0]], p1s[info[1]] = true, true
				want := [2][2]int{{ClassXX, ClassXY}, {ClassYX, ClassYY}}[seq[0]][seq[1]]
				if b.Labels[k] != want {
					t.Fatalf("T=%d: symbols %v labelled %d, want %d", T, seq, b.Labels[k], want)
				}
				classes[want]++
			}
		}
		// 4000 sequences: each class Binomial(4000, 1/4), mean 1000, sd 27.4;
		// allow 5 sd.
		for c, n := range classes {
			if n < 863 || n > 1137 {
				t.Errorf("T=%d: class %d drawn %d times of 4000", T, c, n)
			}
		}
		// Distractors are uniform over A–D: each within 3% of their mean.
		d := symbols[SymA] + symbols[SymB] + symbols[SymC] + symbols[SymD]
		for s := SymA; s <= SymD; s++ {
			if f := float64(symbols[s]) / float64(d); f < 0.2425 || f > 0.2575 {
				t.Errorf("T=%d: distractor %d has frequency %.4f, want 0.25", T, s, f)
			}
		}
		if len(p0s) != T/10 || len(p1s) != T/10 {
			t.Errorf("T=%d: informative positions take %d and %d values, want %d each", T, len(p0s), len(p1s), T/10)
		}
	}
}

// batches returns copies of every training batch of an epoch (split
// "epoch") or of an evaluation split.
func batches(ds Dataset, split string, epoch, b int) []Batch {
	var out []Batch
	n := 0
	if split == "epoch" {
		n = ds.NumTrainBatches(b)
	} else {
		n = ds.NumEvalBatches(split, b)
	}
	var tmp Batch
	for i := range n {
		if split == "epoch" {
			ds.TrainBatch(&tmp, epoch, i, b)
		} else {
			ds.EvalBatch(&tmp, split, i, b)
		}
		out = append(out, Batch{X: slices.Clone(tmp.X), Labels: slices.Clone(tmp.Labels), Targets: slices.Clone(tmp.Targets), B: tmp.B, Steps: tmp.Steps})
	}
	return out
}

func sameBatches(a, b []Batch) bool {
	return slices.EqualFunc(a, b, func(x, y Batch) bool {
		return x.B == y.B && x.Steps == y.Steps && slices.Equal(x.X, y.X) && slices.Equal(x.Labels, y.Labels) && slices.Equal(x.Targets, y.Targets)
	})
}

func TestSeqDeterminism(t *testing.T) {
	for _, name := range []string{"addition", "temporal-order"} {
		o := Options{TrainSize: 100, TestSize: 50, TrainEvalSize: 40, SeqLen: 30, Seed: 7}
		a, b := mustLoad(t, name, o), mustLoad(t, name, o)
		o.Seed = 8
		c := mustLoad(t, name, o)
		// Interleave a's calls with other batches: nothing may leak between them.
		var scratch Batch
		a.TrainBatch(&scratch, 5, 2, 16)
		a.EvalBatch(&scratch, SplitTest, 1, 16)
		e0 := batches(a, "epoch", 0, 16)
		a.TrainBatch(&scratch, 3, 0, 16)
		for _, split := range []string{"epoch", SplitTest, SplitTrain} {
			if !sameBatches(batches(a, split, 0, 16), batches(b, split, 0, 16)) {
				t.Errorf("%s %s: same seed, different batches", name, split)
			}
			if sameBatches(batches(a, split, 0, 16), batches(c, split, 0, 16)) {
				t.Errorf("%s %s: seeds 7 and 8 give the same batches", name, split)
			}
		}
		if !sameBatches(e0, batches(b, "epoch", 0, 16)) {
			t.Errorf("%s: interleaved calls changed epoch 0", name)
		}
		if sameBatches(e0, batches(a, "epoch", 1, 16)) {
			t.Errorf("%s: epochs 0 and 1 are the same", name)
		}
		test := batches(a, SplitTest, 0, 16)
		if slices.Equal(e0[0].X, test[0].X) || slices.Equal(batches(a, "epoch", 1, 16)[0].X, test[0].X) {
			t.Errorf("%s: the test set repeats the training stream", name)
		}
		// The train split is the head of epoch 0 at the same batch size.
		tr := batches(a, SplitTrain, 0, 16)
		for i, x := range tr {
			y := e0[i]
			n := x.B
			F := len(x.X) / (x.B * x.Steps)
			if x.Steps != y.Steps || !slices.Equal(x.X, y.X[:n*x.Steps*F]) ||
				!slices.Equal(x.Labels, y.Labels[:min(n, len(y.Labels))]) || !slices.Equal(x.Targets, y.Targets[:min(n, len(y.Targets))]) {
				t.Errorf("%s: train split batch %d is not the head of epoch 0's batch %d", name, i, i)
			}
		}
		total := 0
		for _, x := range tr {
			total += x.B
		}
		if total != 40 {
			t.Errorf("%s: train split holds %d sequences, want 40", name, total)
		}
	}
}

// TestSeqEpochSize checks the batch count and sizes of an epoch and the
// test set: ⌈N/b⌉ batches, only the last short.
func TestSeqEpochSize(t *testing.T) {
	for _, c := range []struct{ train, test, b int }{{100, 30, 16}, {64, 64, 64}, {1, 1, 5}, {33, 7, 1}} {
		ds := mustLoad(t, "addition", Options{TrainSize: c.train, TestSize: c.test, TrainEvalSize: 1, SeqLen: 10})
		for _, s := range []struct {
			split string
			n     int
		}{{"epoch", c.train}, {SplitTest, c.test}} {
			bs := batches(ds, s.split, 2, c.b)
			if len(bs) != (s.n+c.b-1)/c.b {
				t.Errorf("%+v %s: %d batches", c, s.split, len(bs))
			}
			total := 0
			for i, x := range bs {
				if x.B != c.b && i != len(bs)-1 {
					t.Errorf("%+v %s: batch %d of %d has %d", c, s.split, i, len(bs), x.B)
				}
				total += x.B
			}
			if total != s.n {
				t.Errorf("%+v %s: %d sequences, want %d", c, s.split, total, s.n)
			}
		}
	}
}

func TestSeqOptions(t *testing.T) {
	ok := Options{TrainSize: 10, TestSize: 10, TrainEvalSize: 10, SeqLen: 10}
	tests := []struct {
		name string
		edit func(*Options)
		want string // "" means valid
	}{
		{"ok", func(o *Options) {}, ""},
		{"big", func(o *Options) { o.TrainSize, o.TestSize, o.SeqLen = 1e6, 1e6, 1000 }, ""},
		{"short", func(o *Options) { o.SeqLen = 9 }, "SeqLen = 9, want at least 10"},
		{"unset", func(o *Options) { o.SeqLen = 0 }, "SeqLen = 0"},
		{"no train", func(o *Options) { o.TrainSize = 0 }, "TrainSize = 0, want at least 1"},
		{"no test", func(o *Options) { o.TestSize = 0 }, "TestSize = 0, want at least 1"},
		{"eval over train", func(o *Options) { o.TrainEvalSize = 11 }, "TrainEvalSize = 11, want 1 to 10"},
	}
	for _, name := range []string{"addition", "temporal-order"} {
		for _, tt := range tests {
			o := ok
			tt.edit(&o)
			_, err := Load(name, o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%s %s: %v", name, tt.name, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), name)):
				t.Errorf("%s %s: got %v, want an error naming %s and saying %q", name, tt.name, err, name, tt.want)
			}
		}
	}
}

func TestSolved(t *testing.T) {
	// Pascanu's RNN.py counts an error when sum((t-y)**2) > .04; here
	// solved means below 0.04, so 0.2 away (0.04 up to rounding) is not.
	for _, c := range []struct {
		pred, target []float32
		want         bool
	}{
		{[]float32{0.5}, []float32{0.5}, true},
		{[]float32{0.69}, []float32{0.5}, true},
		{[]float32{0.71}, []float32{0.5}, false},
		{[]float32{0.29}, []float32{0.5}, false},
		{[]float32{0.1, 0.1}, []float32{0, 0}, true},
		{[]float32{0.15, 0.15}, []float32{0, 0}, false},
	} {
		if got := Solved(c.pred, c.target); got != c.want {
			t.Errorf("Solved(%v, %v) = %v, want %v", c.pred, c.target, got, c.want)
		}
	}
}

func TestSeqNoAllocs(t *testing.T) {
	for _, gen := range Generators {
		for _, name := range []string{"addition", "temporal-order"} {
			ds := mustLoad(t, name, Options{TrainSize: 1000, TestSize: 100, TrainEvalSize: 100, SeqLen: 100, Seed: 1, Generator: gen})
			// Room for the longest L (109): later batches only reslice.
			b := Batch{X: make([]float32, 0, 64*109*6), Labels: make([]int, 0, 64), Targets: make([]float32, 0, 64)}
			r := rand.New(rand.NewPCG(1, 2))
			allocs := testing.AllocsPerRun(100, func() {
				ds.TrainBatch(&b, r.IntN(10), r.IntN(15), 64)
				ds.EvalBatch(&b, SplitTest, r.IntN(2), 50)
			})
			if allocs != 0 {
				t.Errorf("%s %s: %v allocations per batch, want 0", gen, name, allocs)
			}
		}
	}
}
