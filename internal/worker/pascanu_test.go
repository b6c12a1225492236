package worker

import (
	"os"
	"strings"
	"testing"

	"cliplab/internal/report"
)

// cousinEdits shrink experiments/pascanu2013.yaml to its CI-sized cousin:
// the same task, generator, architecture, initialisation, optimizer and
// clipping, at the high learning rate only, T = 20, 100 updates, 4 seeds.
var cousinEdits = [][2]string{
	{"train_size: 10000000", "train_size: 2000"},
	{"test_size: 10000", "test_size: 200"},
	{"eval_every: 10000", "eval_every: 50"},
	{"log_every: 100", "log_every: 10"},
	{"seq_len: [20, 50]", "seq_len: [20]"},
	{"lr: [0.01, 0.1, 1]", "lr: [1]"},
	{"seed: [1, 2, 3, 4, 5]", "seed: [1, 2, 3, 4]"},
}

// TestPascanuCousin runs the CI-sized cousin of experiments/pascanu2013.yaml
// end to end (grid, workers, database, report model) and checks the claim
// it can show in seconds (Pascanu et al. 2013 §3.2, and the PyTorch run of
// issue 15: at lr 1 plain SGD diverged in 6 of 6 runs, norm clipping at 1
// in 0 of 6): plain SGD at lr 1 diverges in more seeds than SGD clipped at
// norm 1.
func TestPascanuCousin(t *testing.T) {
	b, err := os.ReadFile("../../experiments/pascanu2013.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, e := range cousinEdits {
		if !strings.Contains(src, e[0]) {
			t.Fatalf("experiments/pascanu2013.yaml has no %q: update cousinEdits with the file", e[0])
		}
		src = strings.Replace(src, e[0], e[1], 1)
	}
	d, exp, n := newDB(t, src)
	if n != 8 {
		t.Fatalf("the cousin has %d runs, want 8", n)
	}
	if err := Run(t.Context(), d, exp, Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	r, err := report.Load(t.Context(), d, exp, 0.99, report.Tail)
	if err != nil {
		t.Fatal(err)
	}
	diverged := map[string]int{}
	for _, s := range r.Settings {
		if s.Ended != s.N || s.N != 4 {
			t.Errorf("%s lr %v: %d of %d seeds ended, want 4 of 4", s.Method, s.LR, s.Ended, s.N)
		}
		diverged[s.Method] += s.Diverged
	}
	t.Logf("diverged at lr 1 (of 4 seeds): none %d, norm:1 %d", diverged["none"], diverged["norm"])
	if len(diverged) != 2 || diverged["none"] <= diverged["norm"] {
		t.Errorf("diverged seeds at lr 1: none %d, norm %d; want plain SGD to diverge more often than clipped SGD", diverged["none"], diverged["norm"])
	}
}
