package nn

import (
	"encoding/json"
	"math"
	"testing"
)

// torchSchedule is a schedule request of bench_torch.py: the warm-up in
// steps, as WarmupSteps resolves it.
type torchSchedule struct {
	LR     float64 `json:"lr,omitempty"`
	Warmup int     `json:"warmup"`
	Decay  string  `json:"decay"`
	MinLR  float64 `json:"min_lr"`
	N      int     `json:"n"`
}

func scheduleReq(s Schedule, lr float64, n int) torchSchedule {
	return torchSchedule{LR: lr, Warmup: s.WarmupSteps(n), Decay: s.Decay, MinLR: s.MinLR, N: n}
}

// TestScheduleAgainstPyTorch: the lr of every step equals what
// torch.optim.lr_scheduler's LinearLR, CosineAnnealingLR and SequentialLR
// give for the same settings (bench_torch.py schedule).
func TestScheduleAgainstPyTorch(t *testing.T) {
	cases := []struct {
		s  Schedule
		lr float64
		n  int
	}{
		{Schedule{}, 0.1, 5},
		{Schedule{Warmup: 3}, 0.1, 8},
		{Schedule{Warmup: 1, Decay: "cosine"}, 1e-3, 6},
		{Schedule{Warmup: 10, Decay: "cosine", MinLR: 1e-4}, 1e-3, 100},
		{Schedule{Warmup: 0.1, Decay: "linear", MinLR: 0.01}, 0.5, 47},
		{Schedule{Decay: "cosine"}, 0.3, 20},
		{Schedule{Decay: "linear"}, 0.3, 7},
		{Schedule{Warmup: 0.25, Decay: "cosine", MinLR: 0.05}, 0.2, 13},
		{Schedule{Warmup: 9, Decay: "linear"}, 0.2, 10}, // one decay step
	}
	reqs := make([]torchSchedule, len(cases))
	for i, tc := range cases {
		if err := tc.s.Validate(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		reqs[i] = scheduleReq(tc.s, tc.lr, tc.n)
	}
	var resps [][]float64
	runTorch(t, "schedule", reqs, &resps)
	for i, tc := range cases {
		want := resps[i]
		if len(want) != tc.n {
			t.Fatalf("%v: PyTorch gave %d rates for %d steps", tc.s, len(want), tc.n)
		}
		for step := 1; step <= tc.n; step++ {
			got, w := tc.s.LR(tc.lr, step, tc.n), want[step-1]
			if math.Abs(got-w) > 1e-12*tc.lr {
				t.Errorf("%v lr %g, step %d of %d: lr %.15g, PyTorch %.15g", tc.s, tc.lr, step, tc.n, got, w)
			}
		}
	}
}

// TestScheduleShape: properties that hold whatever PyTorch says: the
// warm-up rises to the base rate, decay ends above min_lr and never rises.
func TestScheduleShape(t *testing.T) {
	s := Schedule{Warmup: 4, Decay: "cosine", MinLR: 0.01}
	const lr, n = 0.1, 20
	prev := 0.0
	for step := 1; step <= 5; step++ {
		x := s.LR(lr, step, n)
		if !(x > prev) {
			t.Errorf("warm-up step %d: lr %g not above %g", step, x, prev)
		}
		prev = x
	}
	if got := s.LR(lr, 5, n); got != lr {
		t.Errorf("first step after warm-up: lr %g, want the base rate %g", got, lr)
	}
	for step := 6; step <= n; step++ {
		x := s.LR(lr, step, n)
		if x > prev || x <= s.MinLR {
			t.Errorf("decay step %d: lr %g after %g (min_lr %g)", step, x, prev, s.MinLR)
		}
		prev = x
	}
	if got := (Schedule{}).LR(lr, 7, n); got != lr {
		t.Errorf("constant: lr %g, want %g", got, lr)
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{Warmup: -1}, "warmup: "},
		{Schedule{Warmup: 2.5}, "warmup: "},
		{Schedule{Warmup: math.NaN()}, "warmup: "},
		{Schedule{Decay: "exp"}, "decay: "},
		{Schedule{Decay: "cosine", MinLR: -1}, "min_lr: "},
	} {
		err := tc.s.Normalize().Validate()
		if err == nil || err.Error()[:len(tc.want)] != tc.want {
			t.Errorf("%+v: error %v, want one starting %q", tc.s, err, tc.want)
		}
	}
	for _, s := range []Schedule{{}, {Warmup: 0.5}, {Warmup: 1}, {Warmup: 100, Decay: "linear", MinLR: 1e-5}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if got := (Schedule{Decay: "none", MinLR: 1}).Normalize(); !got.Constant() {
		t.Errorf("decay none normalizes to %+v, want the constant schedule", got)
	}
}

func TestGroupsJSON(t *testing.T) {
	o := OptimSpec{Name: "adamw", WeightDecay: 0.1, NoDecay: GroupBias | GroupEmbedding}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"adamw","weight_decay":0.1,"no_decay":["bias","embedding"]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back OptimSpec
	if err := json.Unmarshal(b, &back); err != nil || back != o {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(OptimSpec{Name: "sgd"}); string(b) != `{"name":"sgd"}` {
		t.Errorf("no groups: JSON %s, want no no_decay member (keys of existing runs)", b)
	}
	if err := json.Unmarshal([]byte(`{"name":"sgd","no_decay":["bias","weights"]}`), &back); err == nil {
		t.Error("unknown group accepted")
	}
	if got := (OptimSpec{Name: "adam", NoDecay: GroupNorm}).Normalize().NoDecay; got != 0 {
		t.Errorf("no_decay without weight decay normalizes to %v, want none", got)
	}
}
