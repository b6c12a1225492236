package config

import (
	"strings"
	"testing"

	"cliplab/internal/clipalgo"
	"cliplab/internal/nn"
)

func testConfig() Config {
	return Config{
		Dataset: "mnist", Data: DataSpec{TrainSize: 100, TestSize: 50, TrainEvalSize: 50},
		ArchName: "m", Arch: nn.ArchSpec{Type: "mlp", Hidden: []int{4}}.Normalize(),
		Optimizer: nn.OptimSpec{Name: "sgd"}.Normalize(), LR: 0.1, BatchSize: 10, Epochs: 1, LogEvery: 1,
		DivergenceLoss: 1e4, Clip: clipalgo.Spec{Method: "norm", Threshold: 1}.Normalize(), Seed: 12,
	}
}

// TestSettingKey checks that the setting key ignores the seed and nothing
// else, and that it is the key of the canonical JSON without its seed.
func TestSettingKey(t *testing.T) {
	a := testConfig()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	b := a
	b.Seed = 1 << 40
	if a.SettingKey() != b.SettingKey() || a.Key() == b.Key() {
		t.Errorf("seeds 12 and 2^40: setting keys %s %s, keys %s %s", a.SettingKey(), b.SettingKey(), a.Key(), b.Key())
	}
	if a.SettingKey() == a.Key() {
		t.Error("the setting key equals the key")
	}
	for _, change := range []func(*Config){
		func(c *Config) { c.LR = 0.2 },
		func(c *Config) { c.Clip = c.Clip.With("variant", "optax").Normalize() },
		func(c *Config) { c.Data.TrainSize = 200 },
		func(c *Config) { c.Seed, c.Epochs = 0, 2 },
	} {
		c := a
		change(&c)
		if c.SettingKey() == a.SettingKey() {
			t.Errorf("%s and %s share a setting key", c.Canonical(), a.Canonical())
		}
	}
	// The JSON the setting key hashes is the canonical JSON less the seed.
	js := string(a.Canonical())
	if !strings.HasSuffix(js, `,"seed":12}`) {
		t.Fatalf("canonical JSON %s does not end with the seed", js)
	}
	c := a
	c.Seed = 0
	if c.SettingKey() != a.SettingKey() {
		t.Error("seed 0 changes the setting key")
	}
}

// TestDecodeConfig reads canonical JSON back, and refuses JSON that is not
// canonical for its configuration.
func TestDecodeConfig(t *testing.T) {
	a := testConfig()
	back, err := DecodeConfig(a.Canonical())
	if err != nil {
		t.Fatal(err)
	}
	if back.Key() != a.Key() {
		t.Errorf("decoded %s, want %s", back.Canonical(), a.Canonical())
	}
	js := strings.Replace(string(a.Canonical()), `"variant":"torch"`, `"variant":"torch","eps":1`, 1)
	if _, err := DecodeConfig([]byte(js)); err == nil {
		t.Errorf("%s: accepted an option norm does not take", js)
	}
	js = strings.Replace(string(a.Canonical()), `,"variant":"torch"`, ``, 1)
	if _, err := DecodeConfig([]byte(js)); err == nil || !strings.Contains(err.Error(), "not normalized") {
		t.Errorf("%s: %v, want not normalized", js, err)
	}
}
