package grid

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
)

func mustLoad(t testing.TB, src string) []config.Config {
	t.Helper()
	cfgs, err := loadSource("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\nin\n%s", err, src)
	}
	return cfgs
}

// checkConfigs checks what must hold of every expanded grid: each config
// validates, keys are distinct, and the canonical JSON reads back to itself.
func checkConfigs(t testing.TB, cfgs []config.Config) {
	t.Helper()
	seen := map[string]int{}
	for i, c := range cfgs {
		if err := c.Validate(); err != nil {
			t.Fatalf("config %d (%s) does not validate: %v", i, c.Label(), err)
		}
		k := c.Key()
		if j, dup := seen[k]; dup {
			t.Fatalf("configs %d and %d share key %s", j, i, k)
		}
		seen[k] = i
		back, err := config.DecodeConfig(c.Canonical())
		if err != nil {
			t.Fatalf("config %d: DecodeConfig of its canonical JSON: %v", i, err)
		}
		if !reflect.DeepEqual(back, c) || string(back.Canonical()) != string(c.Canonical()) {
			t.Fatalf("config %d does not round-trip:\n%s\n%s", i, c.Canonical(), back.Canonical())
		}
	}
}

// TestIssueExample expands the experiment file of issue 4, as given there.
func TestIssueExample(t *testing.T) {
	e, cfgs, err := Load("testdata/issue4.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// By hand: 3 archs × 3 lrs × 3 seeds × (1 + 2 + 2 + 2) clips = 189;
	// the exclude drops cnn at lr 3.0: 1 × 1 × 3 seeds × 7 clips = 21; 168.
	if len(cfgs) != 168 {
		t.Fatalf("got %d configurations, want 168", len(cfgs))
	}
	checkConfigs(t, cfgs)
	perArch := map[string]int{}
	for _, c := range cfgs {
		perArch[c.ArchName]++
		if c.ArchName == "cnn" && c.LR == 3.0 {
			t.Errorf("excluded configuration present: %s", c.Label())
		}
	}
	// mlp2 and rnn: 3 × 3 × 7 = 63 each; cnn: 2 lrs × 3 × 7 = 42.
	if want := map[string]int{"mlp2": 63, "cnn": 42, "rnn": 63}; !reflect.DeepEqual(perArch, want) {
		t.Errorf("per arch %v, want %v", perArch, want)
	}
	// The example gives seq_len with mnist: accepted, with a warning.
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "testdata/issue4.yaml:3:54: data.seq_len: dataset mnist does not use seq_len; ignored") {
		t.Errorf("warnings %q", e.Warnings)
	}
	if e.Name != "mnist-clipping" || e.Dataset != "mnist" || !slices.Equal(e.ArchNames, []string{"mlp2", "cnn", "rnn"}) {
		t.Errorf("experiment %q %q %v", e.Name, e.Dataset, e.ArchNames)
	}
	src, _ := os.ReadFile("testdata/issue4.yaml")
	if string(e.Source) != string(src) || e.Path != "testdata/issue4.yaml" {
		t.Errorf("Source or Path not the file as given")
	}
}

// TestExperimentFiles loads every file in experiments/.
func TestExperimentFiles(t *testing.T) {
	want := map[string]struct {
		n       int
		varying []string
	}{
		// 2 archs × 4 lrs × 3 seeds × 5 clips
		"demo.yaml": {120, []string{"arch", "lr", "clip", "seed"}},
		// as issue 4: 189 − 21
		"mnist-clipping.yaml": {168, []string{"arch", "lr", "clip", "seed"}},
		// 3 lengths × 2 lrs × 2 seeds × 3 clips
		"synthetic.yaml": {36, []string{"seq_len", "lr", "clip", "seed"}},
		// 4 clips each (issue 12)
		"grokking.yaml":    {4, []string{"clip"}},
		"grokking-ci.yaml": {4, []string{"clip"}},
	}
	files, _ := filepath.Glob("../../experiments/*.yaml")
	if len(files) < len(want) {
		t.Fatalf("found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e, cfgs, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			checkConfigs(t, cfgs)
			if len(e.Warnings) > 0 {
				t.Errorf("warnings: %q", e.Warnings)
			}
			w, ok := want[filepath.Base(f)]
			if !ok {
				return
			}
			if len(cfgs) != w.n {
				t.Errorf("%d configurations, want %d", len(cfgs), w.n)
			}
			if got := config.VaryingAxes(cfgs); !slices.Equal(got, w.varying) {
				t.Errorf("varying axes %v, want %v", got, w.varying)
			}
		})
	}
}

// TestCanonicalGolden pins the canonical JSON of one configuration: the
// first of the issue's example, as Canonical printed it, checked by hand
// against the config.Config struct's field order and the defaults in doc.go. A
// change here changes every key in every database.
func TestCanonicalGolden(t *testing.T) {
	_, cfgs, err := Load("testdata/issue4.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const golden = `{"dataset":"mnist","data":{"train_size":60000,"test_size":10000,"train_eval_size":10000},` +
		`"arch":"mlp2","arch_spec":{"type":"mlp","hidden":[256,256],"activation":"relu"},"optimizer":{"name":"sgd"},` +
		`"lr":0.03,"batch_size":64,"epochs":1,"eval_every":0,"log_every":1,"divergence_loss":10000,` +
		`"clip":{"method":"none"},"seed":1}`
	if got := string(cfgs[0].Canonical()); got != golden {
		t.Errorf("canonical JSON\n got %s\nwant %s", got, golden)
	}
	// The key is the SHA-256 of that text, from coreutils:
	// printf '%s' "$golden" | sha256sum
	const key = "3853f7d3a849699ef1bd5b6fe447efcc1b167125f7517780b7e694036c60eece"
	if cfgs[0].Key() != key {
		t.Errorf("key %s, want %s", cfgs[0].Key(), key)
	}
}

// small is a template for equivalence tests: %s is the variable part.
func small(grid string) string {
	return "name: t\ndataset: mnist\ndata: {train_size: 1000, test_size: 500}\n" +
		"archs:\n  a: {type: mlp, hidden: [16]}\n  c: {type: cnn, channels: [4]}\n  r: {type: rnn, hidden: 8}\n" + grid
}

// TestEquivalentSpellings checks that two spellings of the same grid give
// the same configurations, in the same order, with the same keys.
func TestEquivalentSpellings(t *testing.T) {
	cases := []struct{ name, a, b string }{
		{"optimizer name or mapping",
			small("train: {optimizer: sgd}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {optimizer: {name: sgd}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"optimizer default or explicit",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {optimizer: {name: sgd, weight_decay: 0}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"momentum default or explicit",
			small("train: {optimizer: momentum}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {optimizer: {name: momentum, momentum: 0.9, nesterov: false, dampening: 0}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"threshold scalar or list",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 0.5}]}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: [0.5]}]}\n")},
		{"clip options default or explicit",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1}, {method: agc, threshold: 0.01}]}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1, norm_type: 2, variant: torch}, {method: agc, threshold: 0.01, eps: 1.0e-3, exclude_last: false}]}\n")},
		{"norm_type as number or string",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1, norm_type: 2}]}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1, norm_type: '2'}]}\n")},
		{"bare method name",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [none]}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: none}]}\n")},
		{"axis of one or scalar",
			small("grid: {arch: [a], lr: [0.1], seed: [1], clip: [none]}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr in train or a grid axis of one",
			small("train: {lr: 0.1}\ngrid: {arch: a, seed: 1, clip: none}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"train defaults or explicit",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {epochs: 1, batch_size: 64, eval_every: 0, log_every: 1, divergence_loss: 1.0e4}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"drop_last and tail_fraction default or explicit (keys from before issue 17 stay)",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {drop_last: false, tail_fraction: 0.05}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"spike_z default or explicit (keys from before issue 12's spikes stay)",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {spike_z: 2.5}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"numbers spelled differently",
			small("grid: {arch: a, lr: [0.1, 1], seed: 1, clip: none}\n"),
			small("grid: {arch: a, lr: [1.0e-1, 1.0], seed: 0x1, clip: none}\n")},
		{"arch defaults or explicit",
			small("grid: {arch: [a, c, r], lr: 0.1, seed: 1, clip: none}\n"),
			strings.NewReplacer("{type: mlp, hidden: [16]}", "{type: mlp, hidden: [16], activation: relu}",
				"{type: cnn, channels: [4]}", "{type: cnn, channels: [4], kernel: 5, pool: 2, activation: relu}",
				"{type: rnn, hidden: 8}", "{type: rnn, hidden: [8], cell: tanh}").Replace(small("grid: {arch: [a, c, r], lr: 0.1, seed: 1, clip: none}\n"))},
		{"data default train_eval_size or explicit",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			strings.Replace(small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"), "test_size: 500}", "test_size: 500, train_eval_size: 500}", 1)},
		{"flow or block style",
			small("grid: {arch: a, lr: [0.1, 1], seed: 1, clip: [none, {method: value, threshold: [0.1, 1]}]}\n"),
			small("grid:\n  arch: a\n  lr:\n    - 0.1\n    - 1\n  seed: 1\n  clip:\n    - method: none\n    - method: value\n      threshold:\n        - 0.1\n        - 1\n")},
		{"anchors and merge keys",
			small("grid: {arch: a, lr: [0.1, 1], seed: 1, clip: [{method: zclip, threshold: 2, alpha: 0.9}, {method: zclip, threshold: 3, alpha: 0.9}]}\n"),
			small("grid:\n  arch: a\n  lr: &lrs [0.1, 1]\n  seed: 1\n  clip:\n    - &z {method: zclip, threshold: 2, alpha: 0.9}\n    - {<<: *z, threshold: 3}\n")},
		{"lr_schedule constant, {} or decay none",
			small("train: {lr_schedule: constant}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {lr_schedule: {warmup: 0, decay: none}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr_schedule absent or constant",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none, lr_schedule: [{}]}\n")},
		{"no_decay one name or a list",
			small("train: {optimizer: {name: adamw, no_decay: bias}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			small("train: {optimizer: {name: adamw, weight_decay: 0.01, no_decay: [bias]}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"mnist ignores seq_len in data",
			small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"),
			strings.Replace(small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n"), "test_size: 500}", "test_size: 500, seq_len: 50}", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := mustLoad(t, tc.a), mustLoad(t, tc.b)
			if len(a) != len(b) {
				t.Fatalf("%d vs %d configurations", len(a), len(b))
			}
			for i := range a {
				if a[i].Key() != b[i].Key() {
					t.Errorf("config %d differs:\n%s\n%s", i, a[i].Canonical(), b[i].Canonical())
				}
			}
			if config.GridHash(a) != config.GridHash(b) {
				t.Errorf("grid hashes differ")
			}
		})
	}
}

// TestDifferentConfigsDifferentKeys checks that a change in any field of a
// configuration changes its key.
func TestDifferentConfigsDifferentKeys(t *testing.T) {
	one := small("grid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")
	base := mustLoad(t, one)[0]
	cases := []struct{ name, src string }{
		{"lr", small("grid: {arch: a, lr: 0.2, seed: 1, clip: none}\n")},
		{"seed", small("grid: {arch: a, lr: 0.1, seed: 2, clip: none}\n")},
		{"arch", small("grid: {arch: r, lr: 0.1, seed: 1, clip: none}\n")},
		{"arch name only", strings.Replace(small("grid: {arch: b, lr: 0.1, seed: 1, clip: none}\n"), "  a: {type: mlp", "  b: {type: mlp", 1)},
		{"hidden size", strings.Replace(one, "hidden: [16]", "hidden: [17]", 1)},
		{"clip", small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1}]}\n")},
		{"clip option", small("grid: {arch: a, lr: 0.1, seed: 1, clip: [{method: norm, threshold: 1, variant: optax}]}\n")},
		{"optimizer", small("train: {optimizer: adam}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"optimizer option", small("train: {optimizer: {name: sgd, weight_decay: 1.0e-4}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"batch_size", small("train: {batch_size: 32}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"no_decay", small("train: {optimizer: {name: sgd, weight_decay: 1.0e-4, no_decay: [norm]}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr_schedule warmup", small("train: {lr_schedule: {warmup: 2}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr_schedule warmup fraction", small("train: {lr_schedule: {warmup: 0.125}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr_schedule decay", small("train: {lr_schedule: {decay: linear}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"lr_schedule min_lr", small("train: {lr_schedule: {decay: linear, min_lr: 0.01}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"epochs", small("train: {epochs: 2}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"eval_every", small("train: {eval_every: 10}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"log_every", small("train: {log_every: 10}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"divergence_loss", small("train: {divergence_loss: 100}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"drop_last", small("train: {drop_last: true}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"tail_fraction", small("train: {tail_fraction: 0.1}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"spike_z", small("train: {spike_z: 3}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")},
		{"train_size", strings.Replace(one, "train_size: 1000", "train_size: 999", 1)},
		{"test_size", strings.Replace(one, "test_size: 500", "test_size: 499", 1)},
		{"train_eval_size", strings.Replace(one, "test_size: 500", "test_size: 500, train_eval_size: 1", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.src)[0]
			if c.Key() == base.Key() {
				t.Errorf("same key as the base:\n%s\n%s", c.Canonical(), base.Canonical())
			}
		})
	}
}

// TestExcludes checks the count left by each exclude entry against a count
// by hand, and that nothing left matches the entry.
func TestExcludes(t *testing.T) {
	// 2 archs × 2 lrs × 2 seeds × 4 clips (none, norm:1, norm:10, agc) = 32.
	grid := "grid:\n  arch: [a, r]\n  lr: [0.1, 1]\n  seed: [1, 2]\n  clip: [none, {method: norm, threshold: [1, 10]}, {method: agc, threshold: 0.01, exclude_last: true}]\n"
	cases := []struct {
		exclude string
		want    int
		gone    func(config.Config) bool
	}{
		{"[]", 32, func(config.Config) bool { return false }},
		// 1 arch × 1 lr × 2 seeds × 4 clips = 8 gone.
		{"[{arch: a, lr: 1}]", 24, func(c config.Config) bool { return c.ArchName == "a" && c.LR == 1 }},
		// lists match any value: 2 archs × 2 lrs × 2 seeds × 2 norm clips = 16 gone.
		{"[{lr: [0.1, 1.0], method: norm}]", 16, func(c config.Config) bool { return c.Clip.Method == "norm" }},
		// one threshold: 2 × 2 × 2 × 1 = 8 gone.
		{"[{threshold: 10}]", 24, func(c config.Config) bool { return c.Clip.Threshold == 10 }},
		// 2 × 2 × 1 seed × 1 clip = 4 gone.
		{"[{method: none, seed: 2}]", 28, func(c config.Config) bool { return c.Clip.Method == "none" && c.Seed == 2 }},
		// a clip option: only agc has exclude_last: 8 gone.
		{"[{exclude_last: true}]", 24, func(c config.Config) bool { return c.Clip.Method == "agc" }},
		// the variant of norm is torch by default: 16 gone.
		{"[{variant: torch}]", 16, func(c config.Config) bool { return c.Clip.Method == "norm" }},
		// an optimizer by name: every run of arch r, 16 gone.
		{"[{optimizer: sgd, arch: r}]", 16, func(c config.Config) bool { return c.ArchName == "r" }},
		// a field that is not an axis matches where its value agrees.
		{"[{batch_size: 64, arch: r}]", 16, func(c config.Config) bool { return c.ArchName == "r" }},
		// overlapping entries: 16 + 16 − 8 = 24 gone.
		{"[{arch: a}, {lr: 1}]", 8, func(c config.Config) bool { return c.ArchName == "a" || c.LR == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.exclude, func(t *testing.T) {
			cfgs := mustLoad(t, small(grid+"exclude: "+tc.exclude+"\n"))
			if len(cfgs) != tc.want {
				t.Errorf("%d configurations, want %d", len(cfgs), tc.want)
			}
			for _, c := range cfgs {
				if tc.gone(c) {
					t.Errorf("excluded configuration present: %s", c.Label())
				}
			}
		})
	}
}

// TestExpandOrder checks the documented order against nested loops: seed
// outermost, then arch, lr, and clip fastest, values in file order.
func TestExpandOrder(t *testing.T) {
	cfgs := mustLoad(t, small("grid:\n  clip: [none, {method: norm, threshold: [5, 1]}]\n  seed: [2, 1]\n  lr: [1, 0.1]\n  arch: [r, a]\n"))
	var want []string
	for _, seed := range []string{"2", "1"} {
		for _, arch := range []string{"r", "a"} {
			for _, lr := range []string{"1", "0.1"} {
				for _, clip := range []string{"none", "norm:5", "norm:1"} {
					want = append(want, fmt.Sprintf("%s %s lr=%s seed=%s", arch, clip, lr, seed))
				}
			}
		}
	}
	var got []string
	for _, c := range cfgs {
		got = append(got, c.Label())
	}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %q\nwant %q", got, want)
	}
}

// TestRandomGrids expands seeded random grids and checks the count against
// the product of the axes minus the excluded combinations, counted apart.
func TestRandomGrids(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(from []string) []string {
		out := slices.Clone(from)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:1+rng.IntN(len(out))]
	}
	for trial := range 200 {
		lrs := pick([]string{"0.001", "0.01", "0.1", "1", "3"})
		seeds := pick([]string{"1", "2", "3", "4"})
		batches := pick([]string{"16", "32", "64"})
		archs := pick([]string{"a", "c", "r"})
		thresholds := pick([]string{"0.5", "1", "5"})
		exLR := lrs[rng.IntN(len(lrs))]
		exArch := archs[rng.IntN(len(archs))]
		useExclude := rng.IntN(2) == 0 && (len(lrs) > 1 || len(archs) > 1)
		src := small(fmt.Sprintf("grid:\n  arch: [%s]\n  lr: [%s]\n  seed: [%s]\n  batch_size: [%s]\n  clip: [none, {method: norm, threshold: [%s]}]\n",
			strings.Join(archs, ", "), strings.Join(lrs, ", "), strings.Join(seeds, ", "), strings.Join(batches, ", "), strings.Join(thresholds, ", ")))
		clips := 1 + len(thresholds)
		want := len(archs) * len(lrs) * len(seeds) * len(batches) * clips
		if useExclude {
			src += fmt.Sprintf("exclude: [{arch: %s, lr: %s}]\n", exArch, exLR)
			want -= len(seeds) * len(batches) * clips
		}
		cfgs := mustLoad(t, src)
		if len(cfgs) != want {
			t.Fatalf("trial %d: %d configurations, want %d\n%s", trial, len(cfgs), want, src)
		}
		checkConfigs(t, cfgs)
	}
}

// TestDefaults checks the defaults doc.go promises.
func TestDefaults(t *testing.T) {
	c := mustLoad(t, "name: t\ndataset: mnist\narchs: {a: {type: mlp}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none}\n")[0]
	want := config.Config{
		Dataset: "mnist", Data: config.DataSpec{TrainSize: 60000, TestSize: 10000, TrainEvalSize: 10000},
		ArchName: "a", Arch: nn.ArchSpec{Type: "mlp", Activation: "relu"},
		Optimizer: nn.OptimSpec{Name: "sgd"}, LR: 0.1, BatchSize: 64, Epochs: 1, EvalEvery: 0, LogEvery: 1,
		DivergenceLoss: 1e4, Clip: clipalgo.Spec{Method: "none"}, Seed: 1,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("mnist defaults\n got %+v\nwant %+v", c, want)
	}
	for _, ds := range []string{"addition", "temporal-order"} {
		c := mustLoad(t, "name: t\ndataset: "+ds+"\ndata: {seq_len: 30}\narchs: {r: {type: rnn, hidden: 8}}\ngrid: {arch: r, lr: 0.1, seed: 1, clip: none}\n")[0]
		if c.Data != (config.DataSpec{TrainSize: 10000, TestSize: 1000, TrainEvalSize: 1000, SeqLen: 30}) {
			t.Errorf("%s data defaults %+v", ds, c.Data)
		}
	}
	// train_eval_size follows train_size when that is an axis.
	cfgs := mustLoad(t, "name: t\ndataset: mnist\narchs: {a: {type: mlp}}\ngrid: {arch: a, lr: 0.1, seed: 1, clip: none, train_size: [500, 20000]}\n")
	if cfgs[0].Data.TrainEvalSize != 500 || cfgs[1].Data.TrainEvalSize != 10000 {
		t.Errorf("train_eval_size %d, %d; want 500, 10000", cfgs[0].Data.TrainEvalSize, cfgs[1].Data.TrainEvalSize)
	}
}

// TestDataAxes checks data: fields as grid axes, seq_len above all.
func TestDataAxes(t *testing.T) {
	cfgs := mustLoad(t, "name: t\ndataset: addition\ndata: {train_size: 2000}\narchs: {r: {type: rnn, hidden: 8}}\n"+
		"grid: {arch: r, lr: 0.1, seed: 1, clip: none, seq_len: [20, 50, 100], test_size: [100, 200]}\n")
	if len(cfgs) != 6 {
		t.Fatalf("%d configurations, want 3 × 2", len(cfgs))
	}
	// train_eval_size defaults to min(test_size, train_size), so it varies too.
	if got := config.VaryingAxes(cfgs); !slices.Equal(got, []string{"seq_len", "test_size", "train_eval_size"}) {
		t.Errorf("varying %v", got)
	}
	if cfgs[5].Data != (config.DataSpec{TrainSize: 2000, TestSize: 200, TrainEvalSize: 200, SeqLen: 100}) {
		t.Errorf("last config's data %+v", cfgs[5].Data)
	}
	if got := cfgs[5].LabelAxes(config.VaryingAxes(cfgs)); got != "r none lr=0.1 seed=1 seq_len=100 test_size=200 train_eval_size=200" {
		t.Errorf("label %q", got)
	}
}

// TestLabels checks Label, AxisValue and VaryingAxes on options off their
// defaults.
func TestLabels(t *testing.T) {
	cfgs := mustLoad(t, small("grid:\n  arch: a\n  seed: 7\n  lr: 0.5\n  optimizer: [sgd, {name: momentum, momentum: 0.95, nesterov: true}]\n"+
		"  clip: [none, {method: agc, threshold: 0.01, exclude_last: true}, {method: norm, threshold: 2, norm_type: inf}]\n"))
	var got []string
	for _, c := range cfgs {
		got = append(got, c.AxisValue("optimizer")+" | "+c.Label())
	}
	want := []string{
		"sgd | a none lr=0.5 seed=7",
		"sgd | a agc:0.01,exclude_last lr=0.5 seed=7",
		"sgd | a norm:2,norm_type=inf lr=0.5 seed=7",
		"momentum,momentum=0.95,nesterov | a none lr=0.5 seed=7",
		"momentum,momentum=0.95,nesterov | a agc:0.01,exclude_last lr=0.5 seed=7",
		"momentum,momentum=0.95,nesterov | a norm:2,norm_type=inf lr=0.5 seed=7",
	}
	if !slices.Equal(got, want) {
		t.Errorf("labels\n got %q\nwant %q", got, want)
	}
	if v := config.VaryingAxes(cfgs); !slices.Equal(v, []string{"optimizer", "clip"}) {
		t.Errorf("varying %v", v)
	}
	if config.VaryingAxes(nil) != nil || config.VaryingAxes(cfgs[:1]) != nil {
		t.Errorf("one or no configuration varies on nothing")
	}
	if cfgs[0].AxisValue("nope") != "" {
		t.Errorf("unknown axis has a value")
	}
	for _, a := range config.Axes {
		if cfgs[0].DP == nil && slices.Contains(dpAxes, a) {
			continue // a configuration without DP has no DP fields
		}
		if cfgs[0].AxisValue(a) == "" {
			t.Errorf("axis %s has no value", a)
		}
	}
}

// TestExpandCopies checks that configurations share no slices.
func TestExpandCopies(t *testing.T) {
	cfgs := mustLoad(t, small("grid: {arch: a, lr: [0.1, 1], seed: 1, clip: none}\n"))
	cfgs[0].Arch.Hidden[0] = 99
	if cfgs[1].Arch.Hidden[0] != 16 {
		t.Errorf("configurations share their arch's slices")
	}
}

func TestDecodeConfig(t *testing.T) {
	good := mustLoad(t, small("grid: {arch: c, lr: 0.1, seed: 1, clip: [{method: zclip, threshold: 2.5}]}\n"))[0]
	js := string(good.Canonical())
	cases := []struct{ name, js, want string }{
		{"unknown field", strings.Replace(js, `"seed":1`, `"seed":1,"colour":"red"`, 1), `unknown field "colour"`},
		{"invalid lr", strings.Replace(js, `"lr":0.1`, `"lr":-0.1`, 1), "lr: must be a finite number > 0, got -0.1"},
		{"not normalized", strings.Replace(js, `"kernel":5,`, ``, 1), "arch_spec: not normalized"},
		{"bad clip", strings.Replace(js, `"threshold":2.5`, `"threshold":0`, 1), "clip: threshold: method zclip needs a threshold > 0, got 0"},
		{"clip not normalized", strings.Replace(js, `"variant":"torch",`, ``, 1), "clip: not normalized"},
		{"unknown dataset", strings.Replace(js, `"mnist"`, `"cifar"`, 1), `dataset: unknown dataset "cifar"`},
		{"seq_len on mnist", strings.Replace(js, `"train_eval_size":500`, `"train_eval_size":500,"seq_len":5`, 1), "data.seq_len: dataset mnist takes no seq_len"},
		{"trailing data", js + "{}", "trailing data"},
		{"not JSON", "{", "decode config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.js == js {
				t.Fatalf("case did not change the JSON")
			}
			_, err := config.DecodeConfig([]byte(tc.js))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	back, err := config.DecodeConfig([]byte(js))
	if err != nil || back.Key() != good.Key() {
		t.Errorf("round trip: %v", err)
	}
}

func TestGridHash(t *testing.T) {
	_, cfgs, err := Load("../../experiments/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := config.GridHash(cfgs)
	rng := rand.New(rand.NewPCG(1, 2))
	shuffled := slices.Clone(cfgs)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if config.GridHash(shuffled) != h {
		t.Errorf("hash depends on order")
	}
	if config.GridHash(cfgs[1:]) == h {
		t.Errorf("hash does not see a missing configuration")
	}
	// sha256 of the empty string (FIPS 180-4 test vector).
	if config.GridHash(nil) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty grid hash %s", config.GridHash(nil))
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, _, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v: want fs.ErrNotExist and ErrInvalid", err)
	}
	if want := path + ": cannot read the experiment file: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestSyntaxError checks that a YAML syntax error names the file and a line
// (the YAML library gives no column).
func TestSyntaxError(t *testing.T) {
	for _, src := range []string{"name: t\ndataset: [mnist\n", "name: t\n  bad: indent\n", "a: b: c\n"} {
		_, err := Parse("x.yaml", []byte(src))
		var e *Error
		if !errors.As(err, &e) || e.Line < 1 || e.Col != 0 || !strings.HasPrefix(err.Error(), fmt.Sprintf("x.yaml:%d: invalid YAML: ", e.Line)) {
			t.Errorf("%q: error %v", src, err)
		}
	}
}

// TestTabIndent: a tab in a line's indentation is reported at that line and
// column, naming the tab (issue 13: yaml.v3 put a tab indenting line 9 at
// line 8, and elsewhere said only "cannot start any token"). A tab after
// the indentation is YAML's business: "name:\tt" is valid.
func TestTabIndent(t *testing.T) {
	base := small("grid: {arch: a, seed: 1, clip: none, lr: 1}\n")
	lines := strings.Split(base, "\n")
	if len(lines) < 4 {
		t.Fatalf("small() gives %d lines", len(lines))
	}
	for _, tc := range []struct {
		src       string
		line, col int
	}{
		{"\tname: t\n", 1, 1},
		{"name: t\ndataset: addition\ntrain:\n  epochs: 1\n\tbatch_size: 16\n", 5, 1},
		{"name: t\ndataset: addition\ntrain:\n  epochs: 1\n \tbatch_size: 16\n", 5, 2},
		{"name: t\ngrid:\n  arch: a\n  clip:\n  \t- none\n", 5, 3},
	} {
		_, err := Parse("x.yaml", []byte(tc.src))
		var e *Error
		want := fmt.Sprintf("x.yaml:%d:%d: invalid YAML: a tab in the indentation; YAML indents with spaces only", tc.line, tc.col)
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, want)
		}
	}
	if _, err := Parse("x.yaml", []byte(strings.Replace(base, "name: ", "name:\t", 1))); err != nil {
		t.Errorf("a tab after name: refused: %v", err)
	}
}

// TestManyErrors checks that all problems are reported, sorted, and cut.
func TestManyErrors(t *testing.T) {
	src := small("grid: {arch: a, lr: [-1, -2], seed: [-1], clip: [{method: norm, threshold: -1}]}\n")
	_, err := Parse("x.yaml", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 {
		t.Errorf("want 4 problems, got\n%v", err)
	}
	if !slices.IsSorted(lines) { // same line: sorted by column, and columns here have two digits
		t.Errorf("not sorted by position:\n%v", err)
	}
	var b strings.Builder
	b.WriteString(small("grid: {arch: a, seed: 1, clip: none, lr: ["))
	for i := range 30 {
		fmt.Fprintf(&b, "-%d, ", i+1)
	}
	b.WriteString("1]}\n")
	_, err = Parse("x.yaml", []byte(b.String()))
	if n := strings.Count(err.Error(), "\n") + 1; n != maxErrors+1 || !strings.HasSuffix(err.Error(), "x.yaml: and 10 more problems") {
		t.Errorf("%d lines:\n%v", n, err)
	}
}

func TestMaxConfigs(t *testing.T) {
	defer func(n int) { MaxConfigs = n }(MaxConfigs)
	MaxConfigs = 7
	_, err := loadSource("x.yaml", []byte(small("grid: {arch: a, lr: [1, 2], seed: [1, 2], clip: [none, {method: norm, threshold: 1}]}\n")))
	if err == nil || !strings.Contains(err.Error(), "x.yaml:8:7: grid: more than 7 combinations (grid.MaxConfigs)") {
		t.Errorf("error %v", err)
	}
	MaxConfigs = 8
	if _, err := loadSource("x.yaml", []byte(small("grid: {arch: a, lr: [1, 2], seed: [1, 2], clip: [none, {method: norm, threshold: 1}]}\n"))); err != nil {
		t.Errorf("8 combinations with MaxConfigs 8: %v", err)
	}
}

func TestExpandNeedsParse(t *testing.T) {
	var e *Experiment
	if _, err := e.Expand(); err == nil {
		t.Error("nil Experiment expanded")
	}
	if _, err := (&Experiment{}).Expand(); err == nil {
		t.Error("zero Experiment expanded")
	}
}

// yamlFields lists the yaml names of a struct's fields.
func yamlFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		out = append(out, strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return out
}

// TestTablesCoverSpecs fails when a field is added to the spec types that
// this package does not know how to read. (Clip options are read from their
// declarations: clipalgo's TestDeclarations.)
func TestTablesCoverSpecs(t *testing.T) {
	for _, f := range yamlFields(nn.OptimSpec{}) {
		if _, ok := config.OptimFields[f]; !ok && f != "name" {
			t.Errorf("nn.OptimSpec field %q has no entry in config.OptimFields", f)
		}
	}
	if !slices.Equal(sortedKeys(config.OptimAllowed), slices.Sorted(slices.Values(nn.Optimizers))) {
		t.Errorf("config.OptimAllowed %v, nn.Optimizers %v", sortedKeys(config.OptimAllowed), nn.Optimizers)
	}
	for _, f := range yamlFields(nn.ArchSpec{}) {
		if _, ok := config.ArchFields[f]; !ok && f != "type" {
			t.Errorf("nn.ArchSpec field %q has no entry in config.ArchFields", f)
		}
	}
}

// TestDocExample checks that the example file in doc.go is accepted.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "# The experiment file\n//\n")
	if !ok {
		t.Fatal("doc.go has no example")
	}
	var b strings.Builder
	for _, line := range strings.Split(after, "\n") {
		text, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			break
		}
		b.WriteString(text + "\n")
	}
	// 3 archs × 3 lrs × 3 seeds × (1 + 2 + 2) clips = 135, minus cnn at lr
	// 1.0 and 3.0: 2 × 3 × 5 = 30; 105.
	cfgs := mustLoad(t, b.String())
	if len(cfgs) != 105 {
		t.Errorf("%d configurations, want 105", len(cfgs))
	}
}

// TestMethodDocs checks that the clip method lists in doc.go and in the
// README are the ones the declarations in internal/clipalgo write; -update
// rewrites them (issue 10: the docs derive from the declarations).
func TestMethodDocs(t *testing.T) {
	list := strings.ReplaceAll(clipalgo.DocList(), "\n", "\n//")
	list = "//" + strings.TrimSuffix(list, "//")
	list = strings.ReplaceAll(list, "//  ", "//   ")
	files := []struct {
		path, begin, end, want string
	}{
		{"doc.go", "// ./internal/grid -run TestMethodDocs -update rewrites this list):\n//\n", "//\n// # exclude:", list},
		{filepath.Join("..", "..", "README.md"), "rewrites it -->\n", "<!-- end methods -->", clipalgo.MarkdownTable()},
	}
	for _, f := range files {
		src, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		before, rest, ok1 := strings.Cut(string(src), f.begin)
		old, after, ok2 := strings.Cut(rest, f.end)
		if !ok1 || !ok2 {
			t.Fatalf("%s: no method list between %q and %q", f.path, f.begin, f.end)
		}
		if old == f.want {
			continue
		}
		if *updateDocs {
			if err := os.WriteFile(f.path, []byte(before+f.begin+f.want+f.end+after), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: the method list differs from the declarations (go test -run TestMethodDocs -update rewrites it)\n got:\n%s\nwant:\n%s", f.path, old, f.want)
	}
}

var updateDocs = flag.Bool("update", false, "rewrite the method lists in doc.go and README.md")

// TestModularGrid checks a modular grid's resolved configurations: the
// split's sizes from modulus and train_fraction, batch_size full as the
// train_size (the same key as the number), the defaults 97, + and 0.3, a
// transformer's normalized spec, and excludes on the new fields.
func TestModularGrid(t *testing.T) {
	cfgs := mustLoad(t, modBase)
	checkConfigs(t, cfgs)
	c := cfgs[0]
	if c.Data.TrainSize != 61 || c.Data.TestSize != 60 || c.Data.TrainEvalSize != 60 || c.BatchSize != 61 {
		t.Errorf("sizes: train %d test %d train_eval %d batch %d, want 61 60 60 61", c.Data.TrainSize, c.Data.TestSize, c.Data.TrainEvalSize, c.BatchSize)
	}
	wantArch := nn.ArchSpec{Type: "transformer", Layers: 1, DModel: 8, Heads: 2, DFF: 32, Context: 4, Init: "torch", Approximate: "none"}
	if !reflect.DeepEqual(c.Arch, wantArch) {
		t.Errorf("arch %+v, want %+v", c.Arch, wantArch)
	}
	js := string(c.Canonical())
	for _, want := range []string{`"data":{"train_size":61,"test_size":60,"train_eval_size":60,"modulus":11,"operation":"+","train_fraction":0.5}`,
		`"arch_spec":{"type":"transformer","layers":1,"d_model":8,"heads":2,"d_ff":32,"context":4,"init":"torch","approximate":"none"}`, `"batch_size":61`} {
		if !strings.Contains(js, want) {
			t.Errorf("canonical JSON %s lacks %s", js, want)
		}
	}
	same := mustLoad(t, strings.Replace(modBase, "batch_size: full", "batch_size: 61", 1))
	if same[0].Key() != c.Key() {
		t.Errorf("batch_size full and 61 give different keys")
	}

	defaults := mustLoad(t, strings.Replace(modBase, `data: {modulus: 11, operation: "+", train_fraction: 0.5}`, "", 1))[0]
	if d := defaults.Data; d.Modulus != 97 || d.Operation != "+" || d.TrainFraction != 0.3 || d.TrainSize != 2823 || d.TestSize != 6586 {
		t.Errorf("defaults: %+v, want modulus 97, +, 0.3: 2823 and 6586 equations", d)
	}

	grid := strings.Replace(modBase, `data: {modulus: 11, operation: "+", train_fraction: 0.5}`, "data: {modulus: 11}", 1) +
		"  operation: [\"+\", \"/\"]\n  train_fraction: [0.3, 0.5]\n  batch_size: [full, 8]\n"
	grid = strings.Replace(grid, "train: {batch_size: full, optimizer: adamw}", "train: {optimizer: adamw}", 1)
	all := mustLoad(t, grid)
	checkConfigs(t, all)
	if len(all) != 8 {
		t.Fatalf("%d configurations, want 8", len(all))
	}
	kept := mustLoad(t, grid+"exclude:\n  - {operation: \"/\", batch_size: full}\n  - {train_fraction: 0.3, batch_size: 8}\n")
	if len(kept) != 4 {
		t.Fatalf("%d configurations after the excludes, want 4", len(kept))
	}
	for _, c := range kept {
		full := c.BatchSize == c.Data.TrainSize
		if c.Data.Operation == "/" && full || c.Data.TrainFraction == 0.3 && !full {
			t.Errorf("excluded configuration kept: %s %s %v batch %d", c.Label(), c.Data.Operation, c.Data.TrainFraction, c.BatchSize)
		}
	}
	if v := config.VaryingAxes(all); !slices.Equal(v, []string{"operation", "train_fraction", "train_size", "test_size", "train_eval_size", "batch_size"}) {
		t.Errorf("varying axes %v", v)
	}
	// A combination without a split (/ mod 12) that an exclude removes is
	// no error.
	div := strings.Replace(modBase, `data: {modulus: 11, operation: "+", train_fraction: 0.5}`, `data: {operation: "/"}`, 1) +
		"  modulus: [12, 13]\nexclude:\n  - {modulus: 12}\n"
	if got := mustLoad(t, div); len(got) != 1 || got[0].Data.Modulus != 13 || got[0].Data.TrainSize != 47 {
		t.Errorf("excluding modulus 12 of a division grid: %d configurations", len(got))
	}
}
