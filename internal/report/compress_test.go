package report

import (
	"math"
	"testing"

	"cliplab/internal/compress"
	"cliplab/internal/config"
	"cliplab/internal/record"
	"cliplab/internal/report/reporttest"
)

// TestDeployedCosts (issue 16): the deployed-model costs are read from
// run_summary per run, CostData puts each setting at the median over its
// seeds whatever its accuracy, and the frontier now separates settings:
// a pruned setting as accurate as the dense one at a third of the bytes
// pushes the dense one off; one that lost accuracy stays on it (cheaper).
func TestDeployedCosts(t *testing.T) {
	var runs []reporttest.Run
	add := func(sparsity float64, bytes int64, accs ...float64) {
		for i, acc := range accs {
			r := reporttest.Run{Arch: "mlp2", Method: "norm", Threshold: 1, LR: 0.1, Seed: uint64(i + 1),
				NonzeroParams: bytes / 4, ModelBytes: bytes + int64(i), EffectiveFLOPs: float64(bytes / 2)}
			if sparsity > 0 {
				r.Edit = func(c *config.Config) {
					c.Prune = &compress.Prune{Method: "magnitude", Scope: "global", Sparsity: sparsity, Schedule: "oneshot", Start: 0.5}
				}
			}
			runs = append(runs, reach(r, record.Done, 10, 40, acc))
		}
	}
	add(0, 3000, 0.95, 0.96, 0.95)
	add(0.5, 1000, 0.96, 0.95, 0.96)
	add(0.9, 300, 0.80, 0.81, 0.80)
	rep := loadMetric(t, runs, Last)
	if !rep.DeployedCostsVary() {
		t.Fatal("DeployedCostsVary is false for settings of 3000, 1000 and 300 bytes")
	}
	pns := rep.CostData(CostBytes)
	if len(pns) != 1 || len(pns[0].Points) != 3 || len(pns[0].Missed) != 0 {
		t.Fatalf("panels %+v", pns)
	}
	pn := pns[0]
	want := []float64{301, 1001, 3001} // the median seed's bytes, by cost
	for i, p := range pn.Points {
		if p.Cost != want[i] || p.CostLo != want[i]-1 || p.CostHi != want[i]+1 || p.Ended != 3 {
			t.Errorf("point %d (%s): cost %v [%v, %v], %d ended; want %v", i, p.Setting.Extra, p.Cost, p.CostLo, p.CostHi, p.Ended, want[i])
		}
	}
	if len(pn.Frontier) != 2 || pn.Frontier[0] != 0 || pn.Frontier[1] != 1 {
		t.Errorf("frontier %v, want the 300- and 1000-byte settings", pn.Frontier)
	}
	for _, k := range []CostKind{CostParams, CostEffectiveFLOPs} {
		if p := rep.CostData(k)[0].Points[0]; math.IsNaN(p.Cost) || p.Cost != map[CostKind]float64{CostParams: 75, CostEffectiveFLOPs: 150}[k] {
			t.Errorf("kind %d: cheapest %v", k, p.Cost)
		}
	}
	if !CostBytes.Deployed() || CostSeconds.Deployed() {
		t.Error("Deployed")
	}
}
