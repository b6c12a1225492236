package grid

import (
	"strings"
	"testing"

	"cliplab/internal/config"
)

// dpBase is a small valid DP-SGD file; the cases below change one thing each.
const dpBase = `name: t
dataset: mnist
data: {train_size: 1000, test_size: 500}
train: {batch_size: 50, noise_multiplier: 1.0, lr: 0.1}
archs:
  mlp2: {type: mlp, hidden: [16]}
  cnn: {type: cnn, channels: [2]}
  rnn: {type: rnn, hidden: 4}
grid:
  arch: [mlp2]
  seed: [1]
  clip: [{method: dp_flat, threshold: [0.5, 1]}]
`

func dpEdit(old, new string) string {
	if !strings.Contains(dpBase, old) {
		panic("no " + old)
	}
	return strings.Replace(dpBase, old, new, 1)
}

// TestDPExpand checks the DP fields' defaults, that a non-private method
// drops them (its key is the key it had before DP existed), and a target ε
// resolved to σ.
func TestDPExpand(t *testing.T) {
	cfgs := mustLoad(t, dpBase)
	if len(cfgs) != 2 {
		t.Fatalf("%d configurations, want 2", len(cfgs))
	}
	want := config.DPSpec{NoiseMultiplier: 1, Delta: 1e-5, Sampling: config.Shuffle}
	for _, c := range cfgs {
		if c.DP == nil || *c.DP != want {
			t.Errorf("%s: DP %+v, want %+v", c.Label(), c.DP, want)
		}
		if !strings.Contains(string(c.Canonical()), `"dp":{"noise_multiplier":1,"delta":0.00001,"sampling":"shuffle"}`) {
			t.Errorf("canonical JSON %s", c.Canonical())
		}
	}
	if cfgs[0].DP == cfgs[1].DP {
		t.Errorf("configurations share a DPSpec")
	}

	if rnn := mustLoad(t, dpEdit("arch: [mlp2]", "arch: [mlp2, rnn]")); len(rnn) != 4 {
		t.Errorf("dp_flat on mlp2 and rnn: %d configurations, want 4", len(rnn))
	}

	mixed := mustLoad(t, dpEdit("clip: [{method: dp_flat, threshold: [0.5, 1]}]", "clip: [none, {method: dp_flat, threshold: 1}]"))
	if len(mixed) != 2 || mixed[0].DP != nil || mixed[1].DP == nil {
		t.Fatalf("mixed grid: %+v", mixed)
	}
	none := mustLoad(t, strings.Replace(strings.Replace(dpBase, "noise_multiplier: 1.0, ", "", 1),
		"clip: [{method: dp_flat, threshold: [0.5, 1]}]", "clip: [none]", 1))
	if mixed[0].Key() != none[0].Key() {
		t.Errorf("method none with noise_multiplier given has key %s, without %s", mixed[0].Key(), none[0].Key())
	}

	eps := mustLoad(t, dpEdit("noise_multiplier: 1.0", "target_epsilon: 3, delta: 1.0e-6, sampling: poisson"))
	d := eps[0].DP
	if d.TargetEpsilon != 3 || d.NoiseMultiplier != 0 || d.Delta != 1e-6 || d.Sampling != config.Poisson {
		t.Errorf("target ε: DP %+v", d)
	}
	sigma, err := eps[0].NoiseMultiplier()
	if err != nil || sigma <= 0 {
		t.Errorf("σ for ε = 3: %v, %v", sigma, err)
	}
	if got := eps[0].AxisValue("target_epsilon") + " " + eps[0].AxisValue("noise_multiplier") + " " + eps[0].AxisValue("sampling"); got != "3  poisson" {
		t.Errorf("axis values %q", got)
	}

	// Every arch type has per-example gradients: a transformer (tied,
	// several output positions) takes DP methods.
	gpt := mustLoad(t, "name: t\ndataset: copy\ndata: {seq_len: 3, vocab: 4}\ntrain: {batch_size: 50, noise_multiplier: 1.0, lr: 0.1}\n"+
		"archs:\n  gpt: {type: transformer, layers: 1, d_model: 8, heads: 2, context: 8, tied: true, trim: true}\n"+
		"grid:\n  arch: [gpt]\n  seed: [1]\n  clip: [{method: dp_flat, threshold: 1}, {method: dp_per_layer, threshold: 1}]\n")
	if len(gpt) != 2 || gpt[0].DP == nil {
		t.Errorf("transformer with DP: %+v", gpt)
	}

	// σ = 0 is allowed (clipping alone).
	if c := mustLoad(t, dpEdit("noise_multiplier: 1.0", "noise_multiplier: 0")); c[0].DP.NoiseMultiplier != 0 {
		t.Errorf("σ = 0: %+v", c[0].DP)
	}
	// The DP fields as axes.
	if c := mustLoad(t, dpEdit("  seed: [1]\n", "  seed: [1]\n  delta: [1.0e-5, 1.0e-6]\n")); len(c) != 4 {
		t.Errorf("delta axis: %d configurations, want 4", len(c))
	}
}

// TestDPErrors checks that bad DP input is refused at its line and column.
func TestDPErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"negative sigma", dpEdit("noise_multiplier: 1.0", "noise_multiplier: "+mark+"-1"),
			"train.noise_multiplier: must be ≥ 0 (0: clipping without noise), got -1"},
		{"zero clip norm", dpEdit("threshold: [0.5, 1]", "threshold: [0.5, "+mark+"0]"),
			"grid.clip[0].threshold: "},
		{"delta above 1", dpEdit("noise_multiplier: 1.0", "noise_multiplier: 1.0, delta: "+mark+"1"),
			"train.delta: must be in (0, 1), got 1"},
		{"delta zero", dpEdit("noise_multiplier: 1.0", "noise_multiplier: 1.0, delta: "+mark+"0"),
			"train.delta: must be in (0, 1), got 0"},
		{"target epsilon zero", dpEdit("noise_multiplier: 1.0", "target_epsilon: "+mark+"0"),
			"train.target_epsilon: must be > 0, got 0"},
		{"target epsilon unreachable", dpEdit("noise_multiplier: 1.0", "target_epsilon: "+mark+"0.01"),
			"train.target_epsilon: cannot be reached in the 20 steps of batch_size 50 over train_size 1000 (q = 0.05): "},
		{"both sigma and epsilon", dpEdit("noise_multiplier: 1.0", "noise_multiplier: 1.0, "+mark+"target_epsilon: 3"),
			"train.target_epsilon: give noise_multiplier (σ) or target_epsilon (σ solved for it), not both"},
		{"unknown sampling", dpEdit("noise_multiplier: 1.0", "noise_multiplier: 1.0, sampling: "+mark+"uniform"),
			`train.sampling: "uniform" is not allowed (allowed: shuffle, poisson)`},
		{"no sigma", dpEdit("train: {batch_size: 50, noise_multiplier: 1.0, lr: 0.1}", "train: {batch_size: 50, lr: 0.1}"),
			""},
		{"quantile with too much sigma", strings.Replace(dpEdit("clip: [{method: dp_flat, threshold: [0.5, 1]}]", "clip: [{method: dp_quantile, threshold: 1, count_noise: 0.4}]"), "noise_multiplier: 1.0", "noise_multiplier: "+mark+"1.0", 1),
			"train.noise_multiplier: method dp_quantile: count_noise: dp_quantile needs noise_multiplier σ < 2·count_noise (Andrew et al. 2021, Thm 1), got σ = 1 and count_noise = 0.4"},
		{"none repeats over sigma", strings.Replace(strings.Replace(dpBase, "noise_multiplier: 1.0, ", "", 1), "  seed: [1]\n", "  seed: [1]\n  noise_multiplier: [1, "+mark+"2]\n", 1),
			""},
	}
	// Cases whose mark is computed here: the clip entry of a method without σ.
	cases[8].src = strings.Replace(cases[8].src, "threshold: [0.5", "threshold: ["+mark+"0.5", 1)
	cases[8].want = "grid.clip: method dp_flat needs train.noise_multiplier (σ, 0 for no noise) or train.target_epsilon (σ solved for it)"
	cases[10].src = strings.Replace(cases[10].src, "clip: [{method: dp_flat, threshold: [0.5, 1]}]", "clip: [none, {method: dp_flat, threshold: 1}]", 1)
	cases[10].want = "grid.noise_multiplier[1]: method none adds no noise, so its configurations repeat for each value of noise_multiplier; exclude them, e.g. exclude: [{method: none, noise_multiplier: 2}]"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc.src, tc.want)
		})
	}
}
