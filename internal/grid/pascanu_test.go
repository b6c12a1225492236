package grid

import (
	"strings"
	"testing"

	"cliplab/internal/config"
)

// addBase is a small valid addition file for the pascanu fields (issue 15):
// data.generator and the rnn's init and radius.
const addBase = `name: add
dataset: addition
data: {seq_len: 20, train_size: 200, test_size: 100}
train: {lr: 0.1, batch_size: 20}
archs:
  rnn: {type: rnn, hidden: 8}
grid:
  arch: [rnn]
  seed: [1]
  clip: [none]
`

// TestPascanuErrors: each bad value of the new fields is refused at the
// value to change.
func TestPascanuErrors(t *testing.T) {
	add := func(old, new string) string { return strings.Replace(addBase, old, new, 1) }
	if _, err := loadSource("x.yaml", []byte(addBase)); err != nil {
		t.Fatalf("the base file: %v", err)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"unknown generator", add("test_size: 100}", "test_size: 100, generator: "+mark+"numpy}"),
			`data.generator: "numpy" is not allowed (allowed: cliplab, pascanu)`},
		{"unknown generator on an axis", addBase + "  generator: [pascanu, " + mark + "mt]\n",
			`grid.generator[1]: "mt" is not allowed (allowed: cliplab, pascanu)`},
		{"generator twice", add("test_size: 100}", "test_size: 100, generator: pascanu}") + "  " + mark + "generator: [cliplab]\n",
			"grid.generator: also given in data: (line 3); give it in one place"},
		{"generator with mnist", edit("test_size: 500}", "test_size: 500, generator: "+mark+"pascanu}"),
			"data.generator: dataset mnist takes no generator (only the sequence datasets addition and temporal-order do)"},
		{"generator not a string", add("test_size: 100}", "test_size: 100, generator: "+mark+"[a]}"),
			"data.generator: expected one value, got a list"},
		{"unknown init", add("hidden: 8}", "hidden: 8, init: "+mark+"smart}"),
			`archs.rnn.init: "smart" is not allowed for an rnn (allowed: basic_tanh, smart_tanh; leave it out for PyTorch's)`},
		{"init on an lstm", add("hidden: 8}", "hidden: 8, cell: lstm, init: "+mark+"basic_tanh}"),
			"archs.rnn.init: basic_tanh is for cell tanh (Pascanu et al. 2013); leave it out for an lstm"},
		{"radius without smart_tanh", add("hidden: 8}", "hidden: 8, init: basic_tanh, radius: "+mark+"1.1}"),
			"archs.rnn.radius: does not apply with the other settings of this entry and would be dropped; leave it out"},
		{"radius 0", add("hidden: 8}", "hidden: 8, init: smart_tanh, radius: "+mark+"0}"),
			"archs.rnn.radius: 0 means unset here and would become the default 0.95; leave it out, or give another value"},
		{"radius negative", add("hidden: 8}", "hidden: 8, init: smart_tanh, radius: "+mark+"-1}"),
			"archs.rnn.radius: must be a finite number > 0, got -1"},
		{"radius a string", add("hidden: 8}", "hidden: 8, init: smart_tanh, radius: "+mark+"big}"),
			"archs.rnn.radius: expected a number"},
		{"init on an mlp", edit("hidden: [16]}", "hidden: [16], "+mark+"init: basic_tanh}"),
			"archs.mlp2.init: unknown field (allowed: type, hidden, activation)"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkError(t, tc.src, tc.want) })
	}
}

// TestPascanuFields: the defaults leave the keys as they were (cliplab is
// stored as "", an rnn without init has no init and no radius), and the
// other values reach the configuration.
func TestPascanuFields(t *testing.T) {
	load := func(src string) []config.Config {
		t.Helper()
		cfgs, err := loadSource("x.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return cfgs
	}
	base := load(addBase)[0]
	same := load(strings.Replace(addBase, "test_size: 100}", "test_size: 100, generator: cliplab}", 1))[0]
	if same.Key() != base.Key() || same.Data.Generator != "" {
		t.Errorf("generator: cliplab changed the key or was stored as %q", same.Data.Generator)
	}
	if strings.Contains(string(base.Canonical()), "generator") || strings.Contains(string(base.Canonical()), "init") ||
		strings.Contains(string(base.Canonical()), "radius") {
		t.Errorf("the default's canonical JSON names a new field: %s", base.Canonical())
	}
	cfgs := load(strings.Replace(strings.Replace(addBase, "  rnn: {type: rnn, hidden: 8}\n",
		"  rnn: {type: rnn, hidden: 8}\n  smart: {type: rnn, hidden: 8, init: smart_tanh}\n  basic: {type: rnn, hidden: 8, init: basic_tanh}\n  r12: {type: rnn, hidden: 8, init: smart_tanh, radius: 1.2}\n", 1),
		"arch: [rnn]", "arch: [rnn, smart, basic, r12]", 1) + "  generator: [cliplab, pascanu]\n")
	if len(cfgs) != 8 {
		t.Fatalf("%d configurations, want 8", len(cfgs))
	}
	type want struct {
		init   string
		radius float64
		gen    string
	}
	var got []want
	keys := map[string]bool{}
	for _, c := range cfgs {
		got = append(got, want{c.Arch.Init, c.Arch.Radius, c.Data.Generator})
		keys[c.Key()] = true
	}
	exp := []want{{"", 0, ""}, {"", 0, "pascanu"}, {"smart_tanh", 0.95, ""}, {"smart_tanh", 0.95, "pascanu"},
		{"basic_tanh", 0, ""}, {"basic_tanh", 0, "pascanu"}, {"smart_tanh", 1.2, ""}, {"smart_tanh", 1.2, "pascanu"}}
	for i := range exp {
		if got[i] != exp[i] {
			t.Errorf("configuration %d: %+v, want %+v", i, got[i], exp[i])
		}
	}
	if len(keys) != 8 {
		t.Errorf("%d distinct keys for 8 configurations", len(keys))
	}
	if v := cfgs[1].AxisValue("generator"); v != "pascanu" {
		t.Errorf("AxisValue(generator) = %q", v)
	}
	if v := cfgs[0].AxisValue("generator"); v != "cliplab" {
		t.Errorf("AxisValue(generator) = %q for the default", v)
	}
	if _, err := config.DecodeConfig(cfgs[7].Canonical()); err != nil {
		t.Errorf("DecodeConfig of its own canonical JSON: %v", err)
	}
	bad := cfgs[1]
	bad.Data.Generator = "cliplab"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "data.generator: not normalized") {
		t.Errorf("Validate with generator cliplab: %v", err)
	}
}
