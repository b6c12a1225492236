package grid

import (
	"strings"
	"testing"

	"cliplab/internal/compress"
	"cliplab/internal/config"
)

// TestPruneErrors: each bad train.prune is refused at the value to change
// (issue 16: sparsity outside [0, 1), a schedule that ends before it
// starts, unknown fields and values).
func TestPruneErrors(t *testing.T) {
	prune := func(v string) string { return base + "  prune: [" + v + "]\n" }
	for _, tc := range []struct{ name, src, want string }{
		{"sparsity 1", prune("{sparsity: " + mark + "1}"), "grid.prune[0].sparsity: must be in [0, 1), got 1"},
		{"sparsity negative", prune("{sparsity: " + mark + "-0.5}"), "grid.prune[0].sparsity: must be in [0, 1), got -0.5"},
		{"sparsity missing", prune(mark + "{scope: layer}"), "grid.prune[0].sparsity: missing"},
		{"sparsity a string", prune("{sparsity: " + mark + "most}"), "grid.prune[0].sparsity: expected a number"},
		{"ends before it starts", prune("{sparsity: 0.5, schedule: gradual, start: 0.6, end: " + mark + "0.4}"),
			"grid.prune[0].end: the schedule ends (0.4) before it starts (0.6)"},
		{"end with oneshot", prune("{sparsity: 0.5, end: " + mark + "0.9}"), "grid.prune[0].end: oneshot prunes once, at start; end is for schedule gradual"},
		{"unknown scope", prune("{sparsity: 0.5, scope: " + mark + "row}"), `grid.prune[0].scope: unknown scope "row" (allowed: global, layer)`},
		{"unknown method", prune("{sparsity: 0.5, method: " + mark + "random}"), `grid.prune[0].method: unknown method "random" (allowed: magnitude)`},
		{"unknown field", prune("{sparsity: 0.5, " + mark + "amount: 3}"), `grid.prune[0].amount: unknown field "amount" (allowed: method, scope, sparsity, schedule, start, end, every)`},
		{"every 0", prune("{sparsity: 0.5, schedule: gradual, every: " + mark + "0}"), "grid.prune[0].every: 0 means unset here and would become the default 50"},
		{"not a mapping", prune(mark + "half"), "grid.prune[0]: expected none or a mapping"},
		{"none twice", prune("none, " + mark + "{sparsity: 0}"), "grid.prune[1]: duplicate value"},
		{"start outside", edit("train: {", "train: {") + "  prune: [{sparsity: 0.5, start: " + mark + "2}]\n", "grid.prune[0].start: must be a fraction of the training in [0, 1], got 2"},
		{"no pruning step", strings.Replace(base, "grid:", "train: {prune: "+mark+"{sparsity: 0.5, schedule: gradual, start: 0.5, end: 0.51}, batch_size: 100}\ngrid:", 1),
			"train.prune: the gradual schedule from step 5 to step 5 of 10 has no pruning step"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkError(t, tc.src, tc.want) })
	}
}

// TestPruneAxis: prune is an axis; none and sparsity 0 are the unpruned
// configuration, whose key is the one it had before prune existed; the
// defaults are filled in.
func TestPruneAxis(t *testing.T) {
	plain, err := loadSource("x.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := loadSource("x.yaml", []byte(base+"  prune: [none, {sparsity: 0.9}, {sparsity: 0.5, scope: layer, schedule: gradual}, {sparsity: 0.8, start: 0}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 4 {
		t.Fatalf("%d configurations, want 4", len(cfgs))
	}
	if cfgs[0].Prune != nil || cfgs[0].Key() != plain[0].Key() || strings.Contains(string(cfgs[0].Canonical()), "prune") {
		t.Errorf("prune none: %s, want the unpruned key %s", cfgs[0].Canonical(), plain[0].Key())
	}
	want := []compress.Prune{
		{Method: "magnitude", Scope: "global", Sparsity: 0.9, Schedule: "oneshot", Start: 0.5},
		{Method: "magnitude", Scope: "layer", Sparsity: 0.5, Schedule: "gradual", Start: 0.1, End: 0.6, Every: 50},
		{Method: "magnitude", Scope: "global", Sparsity: 0.8, Schedule: "oneshot", Start: 0},
	}
	for i, w := range want {
		if p := cfgs[i+1].Prune; p == nil || *p != w {
			t.Errorf("config %d: prune %+v, want %+v", i+1, p, w)
		}
	}
	if got := config.VaryingAxes(cfgs); len(got) != 1 || got[0] != "prune" {
		t.Errorf("varying axes %v", got)
	}
	if s := string(cfgs[1].Canonical()); !strings.Contains(s, `"prune":{"method":"magnitude","scope":"global","sparsity":0.9,"schedule":"oneshot","start":0.5},"seed":1`) {
		t.Errorf("canonical JSON %s", s)
	}
	for _, c := range cfgs {
		js := c.Canonical()
		back, err := config.DecodeConfig(js)
		if err != nil || back.Key() != c.Key() {
			t.Errorf("%s: decoded %v, key %s", js, err, back.Key())
		}
	}
}

// TestQuantizeErrors: each bad train.quantize is refused at the value to
// change (issue 16: bits outside 2–16).
func TestQuantizeErrors(t *testing.T) {
	quant := func(v string) string { return base + "  quantize: [" + v + "]\n" }
	for _, tc := range []struct{ name, src, want string }{
		{"bits 1", quant(mark + "1"), "grid.quantize[0].bits: must be a whole number from 2 to 16, got 1"},
		{"bits 17 in a mapping", quant("{bits: " + mark + "17}"), "grid.quantize[0].bits: must be a whole number from 2 to 16, got 17"},
		{"bits missing", quant(mark + "{scheme: affine}"), "grid.quantize[0].bits: missing"},
		{"bits a fraction", quant("{bits: " + mark + "8.5}"), "grid.quantize[0].bits: expected a whole number"},
		{"unknown scheme", quant("{bits: 8, scheme: " + mark + "log}"), `grid.quantize[0].scheme: unknown scheme "log" (allowed: symmetric, affine)`},
		{"unknown granularity", quant("{bits: 8, granularity: " + mark + "row}"), `grid.quantize[0].granularity: unknown granularity "row" (allowed: tensor, channel)`},
		{"unknown field", quant("{bits: 8, " + mark + "dtype: int8}"), `grid.quantize[0].dtype: unknown field "dtype" (allowed: bits, scheme, granularity, qat)`},
		{"a word", quant(mark + "int8"), "grid.quantize[0]: expected none, a number of bits or a mapping"},
		{"8 twice", quant("8, " + mark + "{bits: 8}"), "grid.quantize[1]: duplicate value"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkError(t, tc.src, tc.want) })
	}
}

// TestQuantizeAxis: none keeps the unquantised key; 8 is {bits: 8} with the
// defaults filled in.
func TestQuantizeAxis(t *testing.T) {
	plain, err := loadSource("x.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	cfgs, err := loadSource("x.yaml", []byte(base+"  quantize: [none, 8, {bits: 4, scheme: affine, granularity: channel, qat: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 || cfgs[0].Quantize != nil || cfgs[0].Key() != plain[0].Key() {
		t.Fatalf("%d configurations; the first %s", len(cfgs), cfgs[0].Canonical())
	}
	want := []compress.Quantize{{Bits: 8, Scheme: "symmetric", Granularity: "tensor"}, {Bits: 4, Scheme: "affine", Granularity: "channel", QAT: true}}
	for i, w := range want {
		if q := cfgs[i+1].Quantize; q == nil || *q != w {
			t.Errorf("config %d: quantize %+v, want %+v", i+1, q, w)
		}
	}
	if s := string(cfgs[1].Canonical()); !strings.Contains(s, `"quantize":{"bits":8,"scheme":"symmetric","granularity":"tensor"},"seed":1`) {
		t.Errorf("canonical JSON %s", s)
	}
	if got := cfgs[2].AxisValue("quantize"); got != "int4,affine,channel,qat" {
		t.Errorf("axis value %q", got)
	}
	for _, c := range cfgs {
		if back, err := config.DecodeConfig(c.Canonical()); err != nil || back.Key() != c.Key() {
			t.Errorf("%s: %v", c.Canonical(), err)
		}
	}
}
