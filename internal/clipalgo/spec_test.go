package clipalgo

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		in   Spec
		want string // canonical JSON of in.Normalize()
	}{
		{Spec{Method: "none", Threshold: 3}.With("variant", "optax"), `{"method":"none"}`},
		{Spec{Method: "norm", Threshold: 1}, `{"method":"norm","threshold":1,"norm_type":"2","variant":"torch"}`},
		{Spec{Method: "agc", Threshold: 0.01}.With("alpha", 0.5), `{"method":"agc","threshold":0.01,"eps":0.001}`},
		{Spec{Method: "autoclip", Threshold: 10}, `{"method":"autoclip","threshold":10,"variant":"torch"}`},
		// ZClip's defaults (zclip/zclip.py, line 17-19).
		{Spec{Method: "zclip", Threshold: 2.5},
			`{"method":"zclip","threshold":2.5,"variant":"torch","eps":0.000001,"alpha":0.97,"warmup_steps":25,"max_grad_norm":1,"mode":"zscore","clip_option":"adaptive_scaling","clip_factor":1}`},
		// A negative cap is the reference's None.
		{Spec{Method: "zclip", Threshold: 2}.With("max_grad_norm", -5.0).With("clip_option", "mean").With("clip_factor", 0.5),
			`{"method":"zclip","threshold":2,"variant":"torch","eps":0.000001,"alpha":0.97,"warmup_steps":25,"max_grad_norm":-1,"mode":"zscore","clip_option":"mean"}`},
		// percentile mode ignores clip_option and clip_factor, as the reference.
		{Spec{Method: "zclip", Threshold: 2}.With("mode", "percentile").With("clip_option", "mean").With("clip_factor", 0.5).With("skip_update_on_spike", true),
			`{"method":"zclip","threshold":2,"variant":"torch","eps":0.000001,"alpha":0.97,"warmup_steps":25,"max_grad_norm":1,"mode":"percentile","skip_update_on_spike":true}`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.in.Normalize())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("Normalize(%+v)\n got %s\nwant %s", tc.in, b, tc.want)
		}
		if err := tc.in.Normalize().Validate(); err != nil {
			t.Errorf("Validate(%s): %v", b, err)
		}
		if n := tc.in.Normalize(); !n.Equal(n.Normalize()) {
			t.Errorf("Normalize is not idempotent on %s", b)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		in    Spec
		field string // "" when valid
	}{
		{Spec{Method: "clipnorm", Threshold: 1}, "method:"},
		{Spec{Method: "value"}, "threshold:"},
		{Spec{Method: "norm", Threshold: 1}.With("norm_type", "1"), "norm_type:"},
		{Spec{Method: "norm", Threshold: 1}.With("variant", "keras"), "variant:"},
		{Spec{Method: "agc", Threshold: 0.01}.With("eps", -1.0), "eps:"},
		{Spec{Method: "autoclip", Threshold: 101}, "threshold:"},
		{Spec{Method: "autoclip", Threshold: 100}, ""},
		{Spec{Method: "zclip", Threshold: 2.5}.With("alpha", 1.0), "alpha:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("warmup_steps", -3), "warmup_steps:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("mode", "ema"), "mode:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("clip_option", "max"), "clip_option:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("clip_factor", -1.0), "clip_factor:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("eps", -1.0), "eps:"},
		{Spec{Method: "zclip", Threshold: 2.5}.With("max_grad_norm", -1.0), ""},
	}
	for _, tc := range cases {
		err := tc.in.Normalize().Validate()
		if _, nerr := New[float32](tc.in); (err == nil) != (nerr == nil) {
			t.Errorf("%+v: Validate %v but New %v", tc.in, err, nerr)
		}
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.in, err)
		case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)):
			t.Errorf("%+v: err = %v, want one about %s", tc.in, err, tc.field)
		}
	}
	for _, m := range MethodNames() {
		if _, ok := Lookup(m); !ok {
			t.Errorf("method %s has no declaration", m)
		}
	}
}

// TestDeclarations checks each method's declaration: a default of the
// option's kind that passes its own checks, unique names, one kind per option
// name across methods (exclude entries read an option by name), a
// constructor in both precisions, a unit for a method with a threshold.
func TestDeclarations(t *testing.T) {
	kinds := map[string]Kind{}
	seen := map[string]bool{}
	for _, m := range Methods() {
		if seen[m.Name] {
			t.Errorf("method %s declared twice", m.Name)
		}
		seen[m.Name] = true
		if m.Doc == "" || m.Reference == "" {
			t.Errorf("%s: no doc or reference", m.Name)
		}
		if m.Threshold.Takes && (m.Threshold.Unit == "" || m.Threshold.Doc == "") {
			t.Errorf("%s: threshold without unit or doc", m.Name)
		}
		if (m.Needs == BatchGradients) != (m.build.f32 != nil && m.build.f64 != nil) || (m.Needs == PerExampleGradients) != (m.build.example != nil) {
			t.Errorf("%s: no constructor for %s, or one for the other kind", m.Name, m.Needs)
		}
		names := map[string]bool{}
		for _, o := range m.Options {
			if names[o.Name] || o.Name == "method" || o.Name == "threshold" {
				t.Errorf("%s: option %s declared twice or reserved", m.Name, o.Name)
			}
			names[o.Name] = true
			if !kindOf(o.Default, o.Kind) {
				t.Errorf("%s.%s: default %v (%T) is not a %v", m.Name, o.Name, o.Default, o.Default, o.Kind)
			}
			if msg := o.check(o.Default); msg != "" {
				t.Errorf("%s.%s: default %v fails its own check: %s", m.Name, o.Name, o.Default, msg)
			}
			if o.Doc == "" {
				t.Errorf("%s.%s: no doc", m.Name, o.Name)
			}
			if k, ok := kinds[o.Name]; ok && k != o.Kind {
				t.Errorf("option %s is a %v in one method and a %v in %s", o.Name, k, o.Kind, m.Name)
			}
			kinds[o.Name] = o.Kind
		}
		s := Spec{Method: m.Name, Threshold: 1}.Normalize()
		_, err := New[float32](s)
		_, xerr := NewExample(s, DP{Sigma: 1, Expected: 256, Normal: func(uint64) float64 { return 0 }})
		if m.Needs == PerExampleGradients {
			err, xerr = xerr, err
		}
		if err != nil {
			t.Errorf("%s with its defaults: %v", m.Name, err)
		}
		if !errors.Is(xerr, ErrNeeds) {
			t.Errorf("%s: the constructor for %s gave %v, want ErrNeeds", m.Name, m.Needs, xerr)
		}
	}
}

// TestSpecJSON checks that a normalized Spec survives JSON both ways, and
// that UnmarshalJSON refuses what the method does not declare.
func TestSpecJSON(t *testing.T) {
	for _, s := range []Spec{
		{Method: "none"},
		Spec{Method: "agc", Threshold: 0.5}.With("exclude_last", true),
		Spec{Method: "zclip", Threshold: 2}.With("mode", "percentile").With("warmup_steps", 7),
		Spec{Method: "norm", Threshold: 1}.With("norm_type", "inf"),
	} {
		n := s.Normalize()
		js, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back Spec
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if !back.Equal(n) || !back.Normalize().Equal(n) {
			t.Errorf("%s read back as %+v", js, back)
		}
	}
	for _, bad := range []string{
		`{"method":"norm","threshold":1,"eps":1}`,
		`{"method":"lion"}`,
		`{"threshold":1}`,
		`{"method":"zclip","threshold":1,"warmup_steps":"x"}`,
		`{"method":"zclip","threshold":1,"warmup_steps":1.5}`,
	} {
		var s Spec
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s: accepted as %+v", bad, s)
		}
	}
}
