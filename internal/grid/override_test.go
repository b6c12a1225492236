package grid

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"cliplab/internal/config"
)

// overrideBase is the file the override tests change.
const overrideBase = `# a comment that survives the overrides
name: t
dataset: mnist
data: {train_size: 1000, test_size: 500}
train:
  epochs: 1
  lr: 0.1
archs:
  a: {type: mlp, hidden: [16]}
grid:
  arch: a
  seed: [1, 2]
  clip:
    - none
    - {method: norm, threshold: 1}
`

func keysOf(cfgs []config.Config) []string {
	var out []string
	for _, c := range cfgs {
		out = append(out, c.Key())
	}
	return out
}

// loadSet parses and expands src with sets.
func loadSet(src string, sets ...string) (*Experiment, []config.Config, error) {
	e, err := ParseSet("t.yaml", []byte(src), sets)
	if err != nil {
		return nil, nil, err
	}
	cfgs, err := e.Expand()
	return e, cfgs, err
}

// TestOverrides: each -set gives the configurations of the file edited by
// hand, in the same order with the same keys (issue 13 section 4), and the
// stored source is a file that parses to them again.
func TestOverrides(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sets   []string
		edited string // overrideBase with the change made by hand
	}{
		{"a train field", []string{"train.epochs=2"}, strings.Replace(overrideBase, "epochs: 1", "epochs: 2", 1)},
		{"a comma makes an axis, moved out of train", []string{"grid.lr=0.1,0.3"},
			strings.Replace(strings.Replace(overrideBase, "  lr: 0.1\n", "", 1), "  seed: [1, 2]", "  seed: [1, 2]\n  lr: [0.1, 0.3]", 1)},
		{"two, in order", []string{"train.epochs=3", "grid.lr=0.1,0.3", "train.epochs=2"},
			strings.Replace(strings.Replace(strings.Replace(overrideBase, "epochs: 1", "epochs: 2", 1), "  lr: 0.1\n", "", 1), "  seed: [1, 2]", "  seed: [1, 2]\n  lr: [0.1, 0.3]", 1)},
		{"a list in YAML", []string{"grid.seed=[3]"}, strings.Replace(overrideBase, "seed: [1, 2]", "seed: [3]", 1)},
		{"an arch field", []string{"archs.a.hidden=[64, 64]"}, strings.Replace(overrideBase, "hidden: [16]", "hidden: [64, 64]", 1)},
		{"a list element", []string{"grid.clip[1].threshold=0.5"}, strings.Replace(overrideBase, "threshold: 1", "threshold: 0.5", 1)},
		{"a whole element", []string{"grid.clip[0]={method: value, threshold: 0.01}"},
			strings.Replace(overrideBase, "- none", "- {method: value, threshold: 0.01}", 1)},
		{"a section the file lacks", []string{"exclude=[{seed: 2, method: none}]"}, overrideBase + "exclude: [{seed: 2, method: none}]\n"},
		{"a field the file lacks", []string{"train.batch_size=32"}, strings.Replace(overrideBase, "  lr: 0.1\n", "  lr: 0.1\n  batch_size: 32\n", 1)},
		{"the name", []string{"name=t2"}, strings.Replace(overrideBase, "name: t", "name: t2", 1)},
		{"the same value", []string{"train.epochs=1"}, overrideBase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, got, err := loadSet(overrideBase, tc.sets...)
			if err != nil {
				t.Fatalf("-set %q: %v", tc.sets, err)
			}
			want := mustLoad(t, tc.edited)
			if !slices.Equal(keysOf(got), keysOf(want)) {
				t.Errorf("-set %q: %d configurations, keys differ from the file edited by hand (%d)", tc.sets, len(got), len(want))
			}
			if !slices.Equal(e.Sets, tc.sets) {
				t.Errorf("Sets = %q, want %q", e.Sets, tc.sets)
			}
			// The stored source names the overrides and reads back to
			// the same configurations.
			src := string(e.Source)
			for _, s := range tc.sets {
				if !strings.Contains(src, "#   -set "+s+"\n") {
					t.Errorf("Source does not name -set %s:\n%s", s, src)
				}
			}
			if !strings.Contains(src, "a comment that survives") {
				t.Errorf("Source lost the file's comments:\n%s", src)
			}
			back := mustLoad(t, src)
			if !slices.Equal(keysOf(back), keysOf(want)) {
				t.Errorf("Source parses to other configurations:\n%s", src)
			}
		})
	}
	// Without overrides, Source is the file as given.
	e, _, err := loadSet(overrideBase)
	if err != nil || string(e.Source) != overrideBase {
		t.Errorf("no overrides: Source changed (%v)", err)
	}
}

// TestOverrideErrors: an override that cannot apply, or whose value the
// checks refuse, is an error naming it; nothing else is reported for it.
func TestOverrideErrors(t *testing.T) {
	for _, tc := range []struct {
		set, want string
	}{
		{"train.epochs", "t.yaml -set train.epochs: want -set FIELD=VALUE"},
		{"=2", `t.yaml -set =2: field "": want dotted names`},
		{"train..epochs=2", `field "train..epochs": want dotted names`},
		{"grid.clip[x]=1", `field "grid.clip[x]": want dotted names`},
		{"grid.lr=[0.1", `t.yaml -set grid.lr=[0.1: value "[0.1" is not YAML`},
		{"grid.lr=abc", `t.yaml -set grid.lr=abc: grid.lr: expected a number, got string "abc"`},
		{"train.epochs=0", `t.yaml -set train.epochs=0: train.epochs:`},
		{"train.epoch=2", `t.yaml -set train.epoch=2: train.epoch: unknown field (allowed: epochs,`},
		{"train.epochs.x=1", `t.yaml -set train.epochs.x=1: train.epochs is number 1, not a section with fields`},
		{"grid.clip[5].threshold=1", `t.yaml -set grid.clip[5].threshold=1: grid.clip has 2 elements: no index 5`},
		{"grid.seed[0][0]=1", `grid.seed[0] is number 1, not a list`},
		{"grid.nothing[0]=1", `grid.nothing is not in the file: an index needs the list it picks from`},
		{"grid.clip[1].threshold=-1", `t.yaml -set grid.clip[1].threshold=-1: grid.clip[1].threshold:`},
		{"archs.a.hidden=[0]", `t.yaml -set archs.a.hidden=[0]: archs.a.hidden`},
	} {
		_, _, err := loadSet(overrideBase, tc.set)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("-set %s: error %v, want one line containing %q", tc.set, err, tc.want)
		}
	}
	// An error of the file itself keeps its position.
	_, _, err := loadSet(strings.Replace(overrideBase, "epochs: 1", "epochs: x", 1), "grid.seed=1,2,3")
	if err == nil || !strings.Contains(err.Error(), "t.yaml:6:11: train.epochs:") {
		t.Errorf("file error with an override: %v, want it at t.yaml:6:11", err)
	}
}

// TestOverrideWarning: a warning about what an override brought names it.
func TestOverrideWarning(t *testing.T) {
	e, _, err := loadSet(overrideBase, "data.seq_len=50")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Warnings) != 1 || !strings.HasPrefix(e.Warnings[0], "t.yaml -set data.seq_len=50: data.seq_len: dataset mnist does not use seq_len") {
		t.Errorf("warnings %q, want one naming the override", e.Warnings)
	}
}
