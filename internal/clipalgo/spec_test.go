package clipalgo

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct {
		in   Spec
		want string // canonical JSON of in.Normalize()
	}{
		{Spec{Method: "none", Threshold: 3, Variant: "optax"}, `{"method":"none"}`},
		{Spec{Method: "norm", Threshold: 1}, `{"method":"norm","threshold":1,"norm_type":"2","variant":"torch"}`},
		{Spec{Method: "agc", Threshold: 0.01, Alpha: 0.5}, `{"method":"agc","threshold":0.01,"eps":0.001}`},
		{Spec{Method: "autoclip", Threshold: 10}, `{"method":"autoclip","threshold":10,"variant":"torch"}`},
		// ZClip's defaults (zclip/zclip.py, line 17-19).
		{Spec{Method: "zclip", Threshold: 2.5},
			`{"method":"zclip","threshold":2.5,"variant":"torch","eps":0.000001,"alpha":0.97,"warmup_steps":25,"max_grad_norm":1,"mode":"zscore","clip_option":"adaptive_scaling","clip_factor":1}`},
		// A negative cap is the reference's None.
		{Spec{Method: "zclip", Threshold: 2, MaxGradNorm: -5, ClipOption: "mean", ClipFactor: 0.5},
			`{"method":"zclip","threshold":2,"variant":"torch","eps":0.000001,"alpha":0.97,"warmup_steps":25,"max_grad_norm":-1,"mode":"zscore","clip_option":"mean"}`},
		// percentile mode ignores clip_option and clip_factor, as the reference.
		{Spec{Method: "zclip", Threshold: 2, Mode: "percentile", ClipOption: "mean", ClipFactor: 0.5, SkipUpdateOnSpike: true},
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
		if n := tc.in.Normalize(); n != n.Normalize() {
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
		{Spec{Method: "norm", Threshold: 1, NormType: "1"}, "norm_type:"},
		{Spec{Method: "norm", Threshold: 1, Variant: "keras"}, "variant:"},
		{Spec{Method: "agc", Threshold: 0.01, Eps: -1}, "eps:"},
		{Spec{Method: "autoclip", Threshold: 101}, "threshold:"},
		{Spec{Method: "autoclip", Threshold: 100}, ""},
		{Spec{Method: "zclip", Threshold: 2.5, Alpha: 1}, "alpha:"},
		{Spec{Method: "zclip", Threshold: 2.5, WarmupSteps: -3}, "warmup_steps:"},
		{Spec{Method: "zclip", Threshold: 2.5, Mode: "ema"}, "mode:"},
		{Spec{Method: "zclip", Threshold: 2.5, ClipOption: "max"}, "clip_option:"},
		{Spec{Method: "zclip", Threshold: 2.5, ClipFactor: -1}, "clip_factor:"},
		{Spec{Method: "zclip", Threshold: 2.5, Eps: -1}, "eps:"},
		{Spec{Method: "zclip", Threshold: 2.5, MaxGradNorm: -1}, ""},
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
	for _, m := range Methods {
		if _, ok := Options(m); !ok {
			t.Errorf("method %s has no options entry", m)
		}
	}
}
