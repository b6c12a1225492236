package compress

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// TestPruneTorch checks the masks against torch.nn.utils.prune's
// (l1_unstructured per tensor, global_unstructured with L1Unstructured) on
// weights full of ties, round after round: testdata/prune_golden.json,
// written by testdata/torch_prune.py with PyTorch 1.13.
func TestPruneTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/prune_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Name, Scope string
			Rounds      []struct {
				Sparsity float64
				Weights  [][]float32
				Pruned   [][]int32
			}
		}
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 8 {
		t.Fatalf("%d cases in the golden file", len(g.Cases))
	}
	for _, c := range g.Cases {
		var sizes []int
		for _, w := range c.Rounds[0].Weights {
			sizes = append(sizes, len(w))
		}
		m := NewMasks(sizes)
		for r, rd := range c.Rounds {
			m.Prune(rd.Weights, rd.Sparsity, c.Scope == "global")
			for i, want := range rd.Pruned {
				if want == nil {
					want = []int32{}
				}
				got := m.Pruned[i]
				if got == nil {
					got = []int32{}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s, round %d (sparsity %v), tensor %d: pruned %d values, torch %d; first differences %v",
						c.Name, r, rd.Sparsity, i, len(got), len(want), firstDiff(got, want))
				}
			}
		}
	}
}

func firstDiff(a, b []int32) [2]int32 {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return [2]int32{a[i], b[i]}
		}
	}
	return [2]int32{-1, -1}
}

// TestSmallestTies checks Smallest against torch.topk(largest=False) on
// tensors of equal values (PyTorch 1.13 on this machine: ones(10), k 3 gives
// indices {6, 7, 8}; k 7 gives {1, 3, 5, 6, 7, 8, 9}; ones(200), k 3 gives
// {0, 1, 2}; ones(7), k 2 gives {4, 5}).
func TestSmallestTies(t *testing.T) {
	for _, c := range []struct {
		n, k int
		want []int
	}{
		{10, 3, []int{6, 7, 8}},
		{10, 7, []int{1, 3, 5, 6, 7, 8, 9}},
		{200, 3, []int{0, 1, 2}},
		{7, 2, []int{4, 5}},
	} {
		v := make([]float64, c.n)
		for i := range v {
			v[i] = 1
		}
		got := Smallest(v, c.k)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("ones(%d), k %d: %v, torch %v", c.n, c.k, got, c.want)
		}
	}
}

// TestZhuGupta checks the schedule's pruning steps and sparsities against
// the formula s_t = s_f + (0 − s_f)(1 − (t − t₀)/(n·Δt))³ worked by hand:
// N = 100, start 0.1, end 0.5, every 10: t₀ = 10, t₁ = 50, pruning after
// steps 20, 30, 40 at 0.9·(1 − (3/4)³) = 0.5203125, 0.9·(1 − (1/2)³) =
// 0.7875, 0.9·(1 − (1/4)³) = 0.8859375, and after 50 at 0.9.
func TestZhuGupta(t *testing.T) {
	p := Prune{Sparsity: 0.9, Schedule: "gradual", Start: 0.1, End: 0.5, Every: 10}.Normalize()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Event{{20, 0.5203125}, {30, 0.7875}, {40, 0.8859375}, {50, 0.9}}
	got := p.Events(100)
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Step != want[i].Step || math.Abs(got[i].Sparsity-want[i].Sparsity) > 1e-15 {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// every not dividing the span: the last step is still t₁.
	p.Every = 15
	got = p.Events(100)
	if n := len(got); n != 3 || got[0].Step != 25 || got[1].Step != 40 || got[2] != (Event{50, 0.9}) {
		t.Errorf("every 15: %v", got)
	}
	one := Prune{Sparsity: 0.8, Start: 0.29}.Normalize()
	if got := one.Events(100); len(got) != 1 || got[0] != (Event{29, 0.8}) {
		t.Errorf("oneshot at 0.29 of 100 steps: %v, want after step 29", got)
	}
	if m := (Prune{Sparsity: 0.5, Schedule: "gradual", Start: 0.5, End: 0.55}.Normalize()).Fits(10); m == "" {
		t.Error("a gradual schedule from step 5 to step 5 fits")
	}
}

// TestPruneSparsity: after the schedule's last step the measured sparsity
// is round(s·n)/n of the weights, and earlier pruned values stay pruned.
func TestPruneSparsity(t *testing.T) {
	sizes := []int{300, 1000, 77}
	ws := make([][]float32, len(sizes))
	for i, n := range sizes {
		ws[i] = make([]float32, n)
		for j := range ws[i] {
			ws[i][j] = float32(math.Sin(float64(7*j + i))) // distinct magnitudes, some ties
		}
	}
	for _, global := range []bool{true, false} {
		p := Prune{Sparsity: 0.9, Schedule: "gradual", Start: 0, End: 0.8, Every: 7}.Normalize()
		m := NewMasks(sizes)
		var prev [][]int32
		for _, e := range p.Events(200) {
			m.Prune(ws, e.Sparsity, global)
			for i := range prev {
				for _, j := range prev[i] {
					if !slices.Contains(m.Pruned[i], j) {
						t.Fatalf("global %v: value %d of tensor %d came back", global, j, i)
					}
				}
			}
			prev = make([][]int32, len(m.Pruned))
			for i := range m.Pruned {
				prev[i] = slices.Clone(m.Pruned[i])
			}
			m.Apply(ws)
			// training moves the kept weights
			for i := range ws {
				for j := range ws[i] {
					if ws[i][j] != 0 {
						ws[i][j] *= 1 + 0.01*float32(math.Cos(float64(j)))
					}
				}
			}
		}
		if global {
			if got, want := m.Zeros(), Count(0.9, m.Total()); got != want {
				t.Errorf("global: %d pruned, want %d", got, want)
			}
			continue
		}
		for i, n := range sizes {
			if got, want := len(m.Pruned[i]), Count(0.9, n); got != want {
				t.Errorf("layer: tensor %d: %d pruned, want %d", i, got, want)
			}
		}
	}
}

func TestPruneValidate(t *testing.T) {
	for _, c := range []struct {
		p    Prune
		want string
	}{
		{Prune{Sparsity: 1, Start: 0.5}, "sparsity: must be in [0, 1)"},
		{Prune{Sparsity: -0.1, Start: 0.5}, "sparsity"},
		{Prune{Sparsity: 0.5, Start: 1.5}, "start"},
		{Prune{Sparsity: 0.5, Schedule: "gradual", Start: 0.6, End: 0.4}, "end: the schedule ends (0.4) before it starts (0.6)"},
		{Prune{Sparsity: 0.5, Start: 0.5, End: 0.9}, "end: oneshot prunes once"},
		{Prune{Sparsity: 0.5, Start: 0.5, Scope: "row"}, "scope: unknown scope"},
		{Prune{Sparsity: 0.5, Start: 0.5, Method: "random"}, "method: unknown method"},
	} {
		err := c.p.Normalize().Validate()
		if err == nil || len(err.Error()) < len(c.want) || err.Error()[:len(c.want)] != c.want {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
}

// TestModelBytes works the storage rule by hand: 100 float32 values with 10
// non-zero are stored sparse, ⌈100/8⌉ + 10·4 = 53 bytes, not 400; 8 values
// all non-zero dense, 32 bytes; 100 values of 8 bits, 90 non-zero, dense
// (100 < 13 + 90) with one scale and zero point, 108; 10 values of 4 bits,
// 2 non-zero, per channel in 2 groups: min(5, 2 + 1) + 16 = 19.
func TestModelBytes(t *testing.T) {
	vals := func(n, nz int) []float32 {
		v := make([]float32, n)
		for i := range nz {
			v[i] = 0.5
		}
		return v
	}
	cases := []struct {
		s    Stored
		want int64
	}{
		{Stored{vals(100, 10), 32, 0}, 53},
		{Stored{vals(8, 8), 32, 0}, 32},
		{Stored{vals(100, 90), 8, 1}, 108},
		{Stored{vals(10, 2), 4, 2}, 19},
	}
	var all []Stored
	var sum int64
	for _, c := range cases {
		if got := c.s.Bytes(); got != c.want {
			t.Errorf("%d values, %d bits, %d groups: %d bytes, want %d", len(c.s.Values), c.s.Bits, c.s.Groups, got, c.want)
		}
		all, sum = append(all, c.s), sum+c.want
	}
	if got := ModelBytes(all); got != sum {
		t.Errorf("ModelBytes %d, want %d", got, sum)
	}
}
