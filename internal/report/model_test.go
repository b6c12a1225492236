package report

import (
	"context"
	"math"
	"slices"
	"testing"

	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/report/reporttest"
)

// load writes runs into a temporary database and loads them with the
// default metric.
func load(t *testing.T, runs []reporttest.Run) *Report {
	t.Helper()
	return loadMetric(t, runs, Tail)
}

// loadMetric is load with the final accuracy by metric.
func loadMetric(t *testing.T, runs []reporttest.Run, metric Metric) *Report {
	t.Helper()
	path := reporttest.TempDB(t, "e", runs)
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rep, err := Load(context.Background(), d, "e", 0.9, metric)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// done is a done run with final test and train-sample accuracy acc.
func done(r reporttest.Run, acc float64) reporttest.Run {
	r.Status = record.Done
	r.Steps = []record.Step{{Step: 1, Loss: 1, GradNorm: 1, Threshold: r.Threshold, LR: r.LR}}
	r.Evals = []record.Eval{{Step: 1, Split: "test", Acc: acc}, {Step: 1, Split: "train", Acc: acc}}
	r.Wall, r.FLOPs = 1, 1e6
	return r
}

func TestChanceAndCollapse(t *testing.T) {
	// A done run at chance is a failure of the stability range even without
	// a NaN; the bar is chance + 0.1·(1 − chance).
	// modular: chance 1/p, so the bar is 1/97 + 0.1·96/97 ≈ 0.1093 for
	// p = 97 and 1/11 + 0.1·10/11 ≈ 0.1818 for p = 11.
	tests := []struct {
		dataset string
		modulus int
		acc     float64
		want    Outcome
	}{
		{"mnist", 0, 0.19, AtChance}, {"mnist", 0, 0.191, Trained},
		{"temporal-order", 0, 0.32, AtChance}, {"temporal-order", 0, 0.33, Trained},
		{"addition", 0, 0.67, AtChance}, {"addition", 0, 0.68, Trained},
		{"modular", 97, 0.109, AtChance}, {"modular", 97, 0.11, Trained},
		{"modular", 11, 0.18, AtChance}, {"modular", 11, 0.19, Trained},
	}
	for _, tt := range tests {
		c := reporttest.Run{Arch: "a", Dataset: tt.dataset, Method: "none", LR: 0.1, Seed: 1,
			Edit: func(c *config.Config) { c.Data.Modulus = tt.modulus }}.Config()
		rs := []db.RunSummary{{ID: 1, SettingKey: c.SettingKey(), Dataset: tt.dataset, Method: "none", Status: record.Done, TestAcc: tt.acc, TrainAcc: tt.acc, Threshold: math.NaN()}}
		rep, err := Build("e", 0.9, Tail, rs, map[string]config.Config{c.SettingKey(): c}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Runs[0].Outcome; got != tt.want {
			t.Errorf("%s acc %v: outcome %v, want %v", tt.dataset, tt.acc, got, tt.want)
		}
		want, _ := Chance(tt.dataset, c.Data)
		if wl := rep.Workloads[0]; !wl.ChanceKnown || wl.Chance != want {
			t.Errorf("%s: workload chance %v (known %v), want %v", tt.dataset, wl.Chance, wl.ChanceKnown, want)
		}
		if len(rep.Unknown) != 0 {
			t.Errorf("%s: datasets of unknown chance %v", tt.dataset, rep.Unknown)
		}
	}
	if ch, ok := Chance("modular", config.DataSpec{Modulus: 97}); !ok || ch != 1.0/97 {
		t.Errorf("modular p=97: chance %v, %v; want 1/97", ch, ok)
	}
	if _, ok := Chance("modular", config.DataSpec{}); ok {
		t.Error("modular without a modulus: chance known")
	}
}

// TestBuildNeedsSettings: a run without a setting key, or whose setting has
// no configuration, is an error naming the run, not a silent regrouping.
func TestBuildNeedsSettings(t *testing.T) {
	c := reporttest.Run{Arch: "a", Method: "none", LR: 0.1, Seed: 1}.Config()
	for _, tt := range []struct {
		name string
		rs   db.RunSummary
		cfgs map[string]config.Config
	}{
		{"no key", db.RunSummary{ID: 7}, nil},
		{"no config", db.RunSummary{ID: 7, SettingKey: c.SettingKey()}, nil},
	} {
		if _, err := Build("e", 0.9, Tail, []db.RunSummary{tt.rs}, tt.cfgs, nil, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestGroupTyped checks the grouping on typed configurations: settings are
// the configurations without their seed; a clip option that varies makes
// its own series and one that is constant does not; settings that share
// arch, series, threshold and lr are told apart by the axis in which they
// differ; each clipped setting finds the none setting of the same
// everything else as its baseline.
func TestGroupTyped(t *testing.T) {
	bs := func(n int) func(*config.Config) { return func(c *config.Config) { c.BatchSize = n } }
	var runs []reporttest.Run
	for _, seed := range []uint64{1, 2} {
		for _, b := range []int{32, 64} {
			runs = append(runs,
				done(reporttest.Run{Arch: "m", Method: "none", LR: 0.1, Seed: seed, Edit: bs(b)}, 0.5),
				done(reporttest.Run{Arch: "m", Method: "norm", Threshold: 1, LR: 0.1, Seed: seed, Edit: bs(b)}, 0.6),
				done(reporttest.Run{Arch: "m", Method: "norm", Threshold: 1, LR: 0.1, Seed: seed, Edit: bs(b), Options: map[string]any{"norm_type": "inf"}}, 0.7),
				done(reporttest.Run{Arch: "m", Method: "zclip", Threshold: 2.5, LR: 0.1, Seed: seed, Edit: bs(b), Options: map[string]any{"max_grad_norm": -1.0}}, 0.8),
			)
		}
	}
	rep := load(t, runs)
	if len(rep.Settings) != 8 {
		t.Fatalf("%d settings, want 4 clips × 2 batch sizes", len(rep.Settings))
	}
	var names []string
	for _, se := range rep.Series {
		names = append(names, se.Name)
	}
	// norm_type varies (2, inf): two series of norm, variants 0 and 1;
	// zclip's max_grad_norm is constant but not its default (1): in its
	// name, so that nobody reads it as the reference ZClip; its constant
	// options at their defaults are not.
	want := []string{"none", "norm (norm_type=2)", "norm (norm_type=inf)", "zclip (max_grad_norm=-1)"}
	if len(names) != len(want) {
		t.Fatalf("series %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("series %q, want %q", names, want)
			break
		}
	}
	if rep.Series[2].Variant != 1 || rep.Series[1].Variant != 0 || rep.Series[3].Rank <= rep.Series[2].Rank {
		t.Errorf("series ranks and variants %+v", rep.Series)
	}
	for _, s := range rep.Settings {
		if len(s.Runs) != 2 || s.Runs[0].Seed != 1 || s.Runs[1].Seed != 2 {
			t.Errorf("%s: %d runs", s.Key[:12], len(s.Runs))
		}
		wantExtra := "batch_size=" + map[int]string{32: "32", 64: "64"}[s.Config.BatchSize]
		if s.Extra != wantExtra {
			t.Errorf("%s: extra %q, want %q", rep.SettingName(s), s.Extra, wantExtra)
		}
		if s.Config.Seed != 0 || s.Key != s.Config.SettingKey() {
			t.Errorf("%s: config seed %d, key %s", rep.SettingName(s), s.Config.Seed, s.Key)
		}
		if s.Method == "none" {
			if s.Baseline != nil || !math.IsNaN(s.Delta) {
				t.Errorf("none has a baseline")
			}
			continue
		}
		if s.Baseline == nil || s.Baseline.Method != "none" || s.Baseline.Config.BatchSize != s.Config.BatchSize {
			t.Errorf("%s: baseline %+v", rep.SettingName(s), s.Baseline)
			continue
		}
		// Every seed of s is 0.1 to 0.3 above none's.
		if want := s.AccMean - 0.5; math.Abs(s.Delta-want) > 1e-12 {
			t.Errorf("%s: Δ %v, want %v", rep.SettingName(s), s.Delta, want)
		}
	}
}

// TestTailMetric: on reporttest.Collapse, whose norm seed 2 collapses at
// its last evaluation, the last metric scores that seed 0.16 (at chance),
// the tail metric 0.91 (trained); the setting means follow by hand.
func TestTailMetric(t *testing.T) {
	for _, tt := range []struct {
		metric   Metric
		seed2    float64 // norm seed 2's score
		outcome  Outcome
		normMean float64
	}{
		{Tail, 0.91, Trained, (0.95 + 0.91 + 0.97) / 3},
		{Last, 0.16, AtChance, (0.95 + 0.16 + 0.97) / 3},
	} {
		rep := loadMetric(t, reporttest.Collapse(), tt.metric)
		if rep.Metric != tt.metric || rep.LastFallbacks != 0 || len(rep.TailFractions) != 1 || rep.TailFractions[0] != reporttest.CollapseTailFraction {
			t.Errorf("%v: metric %v, %d fallbacks, tail fractions %v", tt.metric, rep.Metric, rep.LastFallbacks, rep.TailFractions)
		}
		if len(rep.Settings) != 3 {
			t.Fatalf("%d settings", len(rep.Settings))
		}
		norm := rep.Settings[2]
		if norm.Method != "norm" {
			t.Fatalf("settings in order %s, %s, %s", rep.Settings[0].Method, rep.Settings[1].Method, rep.Settings[2].Method)
		}
		r := norm.Runs[1]
		if math.Abs(r.Score-tt.seed2) > 1e-12 || r.Outcome != tt.outcome || math.Abs(r.ValScore-(tt.seed2+0.01)) > 1e-12 || r.LastFallback {
			t.Errorf("%v: seed 2 score %v (val %v), outcome %v; want %v, %v", tt.metric, r.Score, r.ValScore, r.Outcome, tt.seed2, tt.outcome)
		}
		if math.Abs(norm.AccMean-tt.normMean) > 1e-12 {
			t.Errorf("%v: norm mean %v, want %v", tt.metric, norm.AccMean, tt.normMean)
		}
		// The gap is train-sample minus test accuracy by the same metric.
		if math.Abs(norm.GapMean-0.01) > 1e-12 {
			t.Errorf("%v: gap %v, want 0.01", tt.metric, norm.GapMean)
		}
	}
	// A done run with no evaluation in its tail window (done() evaluates
	// step 1 only) falls back on its last evaluation, and is counted.
	rep := load(t, []reporttest.Run{done(reporttest.Run{Arch: "m", Method: "none", LR: 0.1, Seed: 1}, 0.5)})
	if r := rep.Runs[0]; rep.LastFallbacks != 1 || !r.LastFallback || r.Score != 0.5 {
		t.Errorf("fallback: %d fallbacks, run %+v", rep.LastFallbacks, r)
	}
}

// TestSpreadWarnings: on reporttest.Collapse the smallest significant
// difference from no clipping is value's (0.03, 0.08, 0.03 paired: +0.047,
// its interval [0.03, 0.08]); by the tail metric no setting's seed spread
// exceeds it (none and norm 0.031, value 0.010), by the last metric norm's
// does (0.95, 0.16, 0.97: 0.462), and norm's own Δ is no longer
// significant.
func TestSpreadWarnings(t *testing.T) {
	rep := loadMetric(t, reporttest.Collapse(), Tail)
	if w := rep.SpreadWarnings(); len(w) != 0 {
		t.Errorf("tail: warnings %+v", w)
	}
	value, norm := rep.Settings[1], rep.Settings[2]
	if !value.Significant() || !norm.Significant() || rep.Settings[0].Significant() {
		t.Errorf("tail: significant none %v, value %v [%v, %v], norm %v [%v, %v]", rep.Settings[0].Significant(),
			value.Significant(), value.DeltaLo, value.DeltaHi, norm.Significant(), norm.DeltaLo, norm.DeltaHi)
	}
	rep = loadMetric(t, reporttest.Collapse(), Last)
	w := rep.SpreadWarnings()
	if len(w) != 1 || w[0].Smallest != rep.Settings[1] || len(w[0].Noisy) != 1 || w[0].Noisy[0] != rep.Settings[2] {
		t.Fatalf("last: warnings %+v", w)
	}
	if rep.Settings[2].Significant() || math.Abs(w[0].Noisy[0].AccStd-0.4620) > 1e-4 {
		t.Errorf("last: norm significant %v, std %v", rep.Settings[2].Significant(), w[0].Noisy[0].AccStd)
	}
}

// reach is a run of total steps (1e6 FLOPs and 0.01 s a step) whose test
// accuracy, evaluated every second step, is 0.5 before step at and final
// from then on; at 0: final throughout. Diverged runs stop at total.
func reach(r reporttest.Run, status record.Status, at, total int, final float64) reporttest.Run {
	r.Status = status
	for i := 1; i <= total; i++ {
		r.Steps = append(r.Steps, record.Step{Step: i, Loss: 1, GradNorm: 1, Threshold: r.Threshold, LR: r.LR})
		if i%2 == 0 && status == record.Done {
			acc := 0.5
			if at == 0 || i >= at {
				acc = final
			}
			r.Evals = append(r.Evals, record.Eval{Step: i, Split: "test", Acc: acc, ElapsedS: 0.01 * float64(i)},
				record.Eval{Step: i, Split: "train", Acc: acc, ElapsedS: 0.01 * float64(i)})
		}
	}
	r.Wall, r.FLOPs = 0.01*float64(total), 1e6*float64(total)
	return r
}

// TestCostData: settings of one architecture (the same FLOPs a step) that
// reach the target at different steps get different costs; settings whose
// seeds diverge or collapse are failures apart from the points, not cheap
// points; accuracy bars stay inside [0, 1]; the frontier keeps settings
// whose differences lie within the seeds' spread and drops one beaten by
// more than it.
func TestCostData(t *testing.T) {
	var runs []reporttest.Run
	add := func(method string, th, lr float64, seeds ...func(reporttest.Run) reporttest.Run) {
		for i, f := range seeds {
			runs = append(runs, f(reporttest.Run{Arch: "mlp2", Method: method, Threshold: th, LR: lr, Seed: uint64(i + 1)}))
		}
	}
	at := func(step int, acc float64) func(reporttest.Run) reporttest.Run {
		return func(r reporttest.Run) reporttest.Run { return reach(r, record.Done, step, 40, acc) }
	}
	div := func(r reporttest.Run) reporttest.Run { return reach(r, record.Diverged, 0, 3, 0) }
	chance := func(r reporttest.Run) reporttest.Run { return reach(r, record.Done, 0, 40, 0.1) }
	add("none", 0, 0.1, at(10, 0.95), at(12, 0.96), at(14, 0.95))
	add("value", 0.1, 0.1, at(20, 0.95), at(22, 0.95), at(24, 0.96)) // slower beyond noise, no better
	add("agc", 0.02, 0.1, at(12, 0.94), at(16, 0.95), at(30, 0.96))  // slower and less accurate on the mean (the plain Pareto frontier drops it), within none's range
	add("norm", 1, 1, div, div, chance)                              // never reaches: a failure
	add("zclip", 2.5, 1, at(8, 0.97), chance, chance)                // median never reaches
	add("value", 0.1, 1, at(6, 0.92), at(6, 0.93), div)              // reaches fast, one seed failed
	rep := loadMetric(t, runs, Last)
	for _, kind := range []CostKind{CostFLOPs, CostSeconds} {
		pns := rep.CostData(kind)
		if len(pns) != 1 {
			t.Fatalf("%d panels", len(pns))
		}
		pn := pns[0]
		name := func(p CostPoint) string { return p.Setting.Method + " " + FmtNum(p.Setting.LR) }
		unit := 1e6
		if kind == CostSeconds {
			unit = 0.01
		}
		want := map[string]float64{"value 1": 6, "none 0.1": 12, "agc 0.1": 16, "value 0.1": 22}
		var got []string
		for _, p := range pn.Points {
			got = append(got, name(p))
			if w, ok := want[name(p)]; !ok || math.Abs(p.Cost-w*unit) > 1e-9*unit {
				t.Errorf("kind %d: %s costs %v, want %v steps' worth", kind, name(p), p.Cost, w)
			}
			if !(p.AccLo >= 0 && p.AccHi <= 1 && p.AccLo <= p.Acc && p.Acc <= p.AccHi) {
				t.Errorf("%s: accuracy bar [%v, %v] around %v", name(p), p.AccLo, p.AccHi, p.Acc)
			}
		}
		if want := []string{"value 1", "none 0.1", "agc 0.1", "value 0.1"}; !slices.Equal(got, want) {
			t.Errorf("kind %d: points %q, want %q (by cost)", kind, got, want)
		}
		if p := pn.Points[0]; p.Failed != 1 || p.Reached != 2 || p.AccLo != 0.1 {
			t.Errorf("value at lr 1: %d failed, %d reached, lowest seed %v; want 1, 2, 0.1 (the diverged seed at chance)", p.Failed, p.Reached, p.AccLo)
		}
		var missed []string
		for _, p := range pn.Missed {
			missed = append(missed, name(p))
			if p.Failed != map[string]int{"norm 1": 3, "zclip 1": 2}[name(p)] {
				t.Errorf("%s: %d failed", name(p), p.Failed)
			}
		}
		if want := []string{"norm 1", "zclip 1"}; !slices.Equal(missed, want) {
			t.Errorf("missed %q, want %q", missed, want)
		}
		// value at lr 1 is cheapest beyond noise but its failed seed puts
		// its worst below everyone's best; value at 0.1 is beaten by none
		// on cost (22 > 14) and not better beyond noise; agc overlaps none.
		var front []string
		for _, i := range pn.Frontier {
			front = append(front, name(pn.Points[i]))
		}
		if want := []string{"value 1", "none 0.1", "agc 0.1"}; !slices.Equal(front, want) {
			t.Errorf("kind %d: frontier %q, want %q", kind, front, want)
		}
	}
}

// TestNoisyPareto: without spread (one seed each) it is the plain Pareto
// frontier; with spread, a difference inside it beats nothing.
func TestNoisyPareto(t *testing.T) {
	pt := func(c, a float64) CostPoint {
		return CostPoint{Cost: c, CostLo: c, CostHi: c, Acc: a, AccLo: a, AccHi: a}
	}
	ps := []CostPoint{pt(1, 0.5), pt(2, 0.4), pt(3, 0.7), pt(3, 0.6), pt(5, 0.9)}
	all := []int{0, 1, 2, 3, 4}
	if got, want := NoisyPareto(ps, all), []int{0, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("no spread: %v, want %v", got, want)
	}
	ps[1].CostLo, ps[1].AccHi = 0.5, 0.6 // its range now reaches below 1 in cost and above 0.5 in accuracy
	if got, want := NoisyPareto(ps, all), []int{0, 1, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("with spread: %v, want %v", got, want)
	}
}
