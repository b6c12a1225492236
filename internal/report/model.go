// The report's view of an experiment: runs with their outcome, grouped into
// settings (a configuration without its seed), series (a clip method with
// its options) and workloads (an architecture on a dataset).

package report

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/record"
)

// CurveBins is how many points a run's training curve is cut into (in SQL).
const CurveBins = 200

// Outcome is how a run stands, for the report.
type Outcome int

const (
	Missing  Outcome = iota // pending, running or interrupted: not ended yet
	Failed                  // ended with an error: excluded from every statistic
	Diverged                // ended with a non-finite or exploding loss
	AtChance                // done, but its final test accuracy is at chance (see TrainBar)
	Trained                 // done, and clearly above chance
)

// Chance returns the accuracy of a model that learned nothing on dataset,
// and whether the dataset is known.
//
//   - mnist: 10 balanced classes → 0.1.
//   - temporal-order: 4 classes (Pascanu et al. 2013, §5.1) → 0.25.
//   - addition: acc is the fraction of sequences with squared error < 0.04,
//     that is |prediction − target| < 0.2. The best constant prediction is
//     0.5; the target is m = (u1+u2)/2 with u1, u2 ~ U[0,1], whose density is
//     4m on [0, ½] and 4(1−m) on [½, 1], so P(m < a) = 2a² for a ≤ ½ and
//     P(|m − ½| < 0.2) = 1 − 2·P(m < 0.3) = 1 − 2·2·0.09 = 0.64.
//   - modular: the answer is one of the d.Modulus residues → 1/p (Power
//     et al. 2022); unknown without a modulus.
//   - copy: every one of seq_len symbols must be right, each one of vocab
//     → vocab^−seq_len; unknown without a vocabulary.
func Chance(dataset string, d config.DataSpec) (float64, bool) {
	switch dataset {
	case "copy":
		if d.Vocab > 0 {
			return math.Pow(float64(d.Vocab), -float64(d.SeqLen)), true
		}
	case "modular":
		if d.Modulus > 0 {
			return 1 / float64(d.Modulus), true
		}
	case "mnist":
		return 0.1, true
	case "temporal-order":
		return 0.25, true
	case "addition":
		return 0.64, true
	}
	return 0, false
}

// TrainBar is the final test accuracy above which a done run counts as
// trained: chance + 10% of the distance from chance to perfect (mnist 0.19,
// temporal-order 0.325, addition 0.676). A run at or below it collapsed to
// chance without a NaN: a failure as real as a divergence.
func TrainBar(chance float64) float64 { return chance + 0.1*(1-chance) }

// Metric is which evaluations give a run's final accuracy (issue 17).
type Metric int

const (
	// Tail is the mean of the evaluations in the run's tail window, the
	// last train.tail_fraction of its steps (run_summary's test_acc_tail
	// and train_acc_tail): one step at a high learning rate cannot swing it.
	Tail Metric = iota
	// Last is the run's last evaluation (run_summary's test_acc and
	// train_acc).
	Last
)

// Metrics are the metrics by name, the default first.
var Metrics = []Metric{Tail, Last}

func (m Metric) String() string {
	if m == Last {
		return "last"
	}
	return "tail"
}

// ParseMetric returns the metric named s ("tail" or "last").
func ParseMetric(s string) (Metric, error) {
	for _, m := range Metrics {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("report: metric %q: want tail or last", s)
}

// Run is one run with what the report derives from it.
type Run struct {
	db.RunSummary
	Outcome Outcome
	// Acc and TrainSampleAcc are the run's final test and train-sample
	// accuracy by the report's metric: the tail means, or the last
	// evaluation for Last and for a run with no evaluation in its tail
	// window (recorded before the tail metrics, or ended before it); NaN
	// when there is none.
	Acc, TrainSampleAcc float64
	// LastFallback is set when the metric is Tail but Acc is the last
	// evaluation, the tail window holding none.
	LastFallback bool
	// Score is the final test accuracy (Acc) of a done run and the chance level of
	// a diverged one (a diverged seed counts as a model that learned
	// nothing, never as a missing value); NaN for runs not ended or failed.
	Score float64
	// ValScore is the same with the fixed training sample's accuracy: the
	// stand-in for validation accuracy when a best setting is chosen (the
	// datasets have no separate validation split).
	ValScore float64
	// StepsToTarget and SecondsToTarget: the first test evaluation at or
	// above the target (as AlgoPerf counts time to target, even if the run
	// diverges later); +Inf when never reached, NaN when not ended.
	StepsToTarget   float64
	SecondsToTarget float64
	Curve           []db.CurvePoint
	// Evals are the run's evaluations, ordered by split (test, then train)
	// and step.
	Evals []db.EvalPoint
}

// firstTestAt returns the step and the seconds of r's first test
// evaluation at or above target (seconds pro rata to the steps where none
// were recorded).
func (r *Run) firstTestAt(target float64) (step, secs float64, ok bool) {
	for _, e := range r.Evals {
		if e.Split != "test" || !(e.Acc >= target) {
			continue
		}
		secs = e.ElapsedS
		if math.IsNaN(secs) && r.Steps > 0 {
			secs = r.WallSeconds * float64(e.Step) / float64(r.Steps)
		}
		return float64(e.Step), secs, true
	}
	return 0, 0, false
}

// Ended reports whether the run counts in statistics (done or diverged).
func (r *Run) Ended() bool { return r.Outcome >= Diverged }

// Series is one line style of the figures: a clip method with the options
// that vary in the experiment (norm with norm_type=inf is its own series).
type Series struct {
	Method string
	// Options are the options that vary among the method's settings or
	// differ from its default, e.g. "norm_type=inf" or "max_grad_norm=-1";
	// "" when none do.
	Options string
	Name    string // legend text
	// Rank is the method's place in clipalgo.Methods() (len(Methods()) for
	// a method not declared), Variant the series' place among the series
	// of its method: together they pick its style.
	Rank, Variant int
	// Experiment indexes Report.Experiments: the experiment the series
	// comes from in a comparison (see Merge); 0 otherwise. Base is Name
	// without the experiment ("norm"), equal to Name outside a comparison.
	Experiment int
	Base       string
}

// Workload is an architecture on a dataset: one panel of the cost figures,
// one problem of the performance profile.
type Workload struct {
	Arch, Dataset string
	// Extra is the values of the workload axes ("seq_len=50"; see
	// WorkloadAxes), "" mostly.
	Extra       string
	Chance      float64
	ChanceKnown bool
	Name        string
}

// Setting is a configuration without its seed: the runs of the grid that
// differ only by seed.
type Setting struct {
	Key    string        // config.SettingKey
	Config config.Config // the configuration, seed 0
	// Arch, Dataset, Optimizer (its name), Method, Threshold (NaN for a
	// method that takes none) and LR are Config's, for short.
	Arch, Dataset, Optimizer, Method string
	Threshold                        float64
	LR                               float64
	// Extra names the axes besides arch, clip and lr in which this setting
	// differs from another that shares all of those ("batch_size=128");
	// "" mostly.
	Extra    string
	Series   int // index in Report.Series
	Workload int // index in Report.Workloads
	Runs     []*Run

	N, Ended, Done, Diverged, Failed, Missing, AtChance, Trained int

	AccMean, AccStd float64 // of Score over ended runs
	ValMean         float64 // of ValScore over ended runs
	DoneAccMean     float64 // of the final test accuracy of done runs
	GapMean, GapStd float64 // train-sample − test accuracy of done runs
	FLOPs, Wall     float64 // mean over ended runs
	ClipFrac        float64 // mean over ended runs
	StepsTarget     float64 // median over ended runs (+Inf when most never reach it)
	SecsTarget      float64
	// Delta is AccMean minus that of method none at the same everything
	// else, with a 95% bootstrap interval over seeds; NaN without baseline.
	Delta, DeltaLo, DeltaHi float64
	// DeltaSeeds is how many seeds the interval resamples: pairs when
	// paired, else the fewer of the two settings' ended seeds.
	DeltaSeeds int
	Baseline   *Setting
}

// Report is everything the figures and tables are drawn from.
type Report struct {
	Experiment string
	// Experiments are the experiments a comparison overlays (see Merge),
	// as their series names show them; nil for one experiment.
	Experiments []string
	Target      float64
	Metric      Metric
	// TailFractions are the distinct tail fractions in force
	// (config.Config.Tail) among the settings, ascending.
	TailFractions []float64
	// LastFallbacks counts the done runs whose final accuracy is their
	// last evaluation although Metric is Tail (see Run.LastFallback).
	LastFallbacks int
	Runs          []*Run
	Settings      []*Setting
	Series        []Series
	Workloads     []Workload
	ByStatus      map[record.Status]int
	Outcomes      [5]int
	// Unknown lists datasets whose chance level is not known (treated as 0).
	Unknown []string
}

// Load reads experiment from d and builds the report model, the final
// accuracy of each run by metric, with the training curves of the runs
// the curve figures draw (CurveRuns) only.
func Load(ctx context.Context, d *db.DB, experiment string, target float64, metric Metric) (*Report, error) {
	rs, err := d.ReportSummaries(ctx, experiment)
	if err != nil {
		return nil, err
	}
	scs, err := d.SettingConfigs(ctx, experiment)
	if err != nil {
		return nil, err
	}
	cfgs := make(map[string]config.Config, len(scs))
	for _, sc := range scs {
		c, err := config.DecodeConfig(sc.ConfigJSON)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: setting %.12s: %w", experiment, sc.SettingKey, err)
		}
		cfgs[sc.SettingKey] = c
	}
	evals, err := d.ReportEvals(ctx, experiment)
	if err != nil {
		return nil, err
	}
	rep, err := Build(experiment, target, metric, rs, cfgs, evals, nil)
	if err != nil {
		return nil, err
	}
	// Only the curves the figures draw: a few settings per learning rate
	// (or range of them), not every logged step of the grid.
	curves, err := d.ReportCurvesOf(ctx, experiment, rep.CurveRuns(), CurveBins)
	if err != nil {
		return nil, err
	}
	rep.attachCurves(curves)
	return rep, nil
}

// Build is Load without the database: rs ordered by id, cfgs the
// configuration of each setting key of rs (any seed), evals and curves
// ordered by run id then step.
func Build(experiment string, target float64, metric Metric, rs []db.RunSummary, cfgs map[string]config.Config, evals []db.EvalPoint, curves []db.CurvePoint) (*Report, error) {
	rep := &Report{Experiment: experiment, Target: target, Metric: metric, ByStatus: map[record.Status]int{}}
	byID := map[int64]*Run{}
	for i := range rs {
		r := &Run{RunSummary: rs[i], Score: math.NaN(), ValScore: math.NaN(), StepsToTarget: math.NaN(), SecondsToTarget: math.NaN()}
		r.Acc, r.TrainSampleAcc = r.TestAcc, r.TrainAcc
		if metric == Tail {
			if r.TailEvals > 0 {
				r.Acc, r.TrainSampleAcc = r.TestAccTail, r.TrainAccTail
			} else if r.Status == record.Done {
				r.LastFallback = true
				rep.LastFallbacks++
			}
		}
		rep.Runs = append(rep.Runs, r)
		byID[r.ID] = r
		rep.ByStatus[r.Status]++
	}
	byRun(evals, func(e db.EvalPoint) int64 { return e.RunID }, func(id int64, es []db.EvalPoint) {
		if r := byID[id]; r != nil {
			r.Evals = es
		}
	})
	unknown := map[string]bool{}
	for _, r := range rep.Runs {
		ch, ok := Chance(r.Dataset, cfgs[r.SettingKey].Data)
		if !ok {
			unknown[r.Dataset] = true
		}
		switch r.Status {
		case record.Done:
			r.Outcome = Trained
			if !(r.Acc > TrainBar(ch)) {
				r.Outcome = AtChance
			}
			r.Score, r.ValScore = r.Acc, r.TrainSampleAcc
			if math.IsNaN(r.Score) { // done without a test evaluation: learned nothing we can see
				r.Score = ch
			}
			if math.IsNaN(r.ValScore) {
				r.ValScore = r.Score
			}
		case record.Diverged:
			r.Outcome = Diverged
			r.Score, r.ValScore = ch, ch
		case record.Failed:
			r.Outcome = Failed
		default:
			r.Outcome = Missing
		}
		rep.Outcomes[r.Outcome]++
		if r.Ended() {
			r.StepsToTarget, r.SecondsToTarget = math.Inf(1), math.Inf(1)
			if step, secs, ok := r.firstTestAt(target); ok {
				r.StepsToTarget, r.SecondsToTarget = step, secs
			}
		}
	}
	for k := range unknown {
		rep.Unknown = append(rep.Unknown, k)
	}
	sort.Strings(rep.Unknown)
	if err := rep.group(cfgs); err != nil {
		return nil, err
	}
	for _, s := range rep.Settings {
		if f, _ := s.Config.Tail(); !slices.Contains(rep.TailFractions, f) {
			rep.TailFractions = append(rep.TailFractions, f)
		}
	}
	sort.Float64s(rep.TailFractions)
	rep.aggregate()
	rep.attachCurves(curves)
	return rep, nil
}

// attachCurves gives each run its points of curves (ordered by run id then
// bucket).
func (rep *Report) attachCurves(curves []CurvePoint) {
	byID := make(map[int64]*Run, len(rep.Runs))
	for _, r := range rep.Runs {
		byID[r.ID] = r
	}
	byRun(curves, func(c CurvePoint) int64 { return c.RunID }, func(id int64, cs []CurvePoint) {
		if r := byID[id]; r != nil {
			r.Curve = cs
		}
	})
}

// byRun calls f with each run's points of ps (ordered by run), a slice of
// ps with no room to grow.
func byRun[P any](ps []P, run func(P) int64, f func(id int64, points []P)) {
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && run(ps[j]) == run(ps[i]) {
			j++
		}
		f(run(ps[i]), ps[i:j:j])
		i = j
	}
}

// aggregate computes every setting's statistics.
func (rep *Report) aggregate() {
	for _, s := range rep.Settings {
		var scores, vals, doneAcc, gaps, flops, wall, frac, steps, secs []float64
		for _, r := range s.Runs {
			s.N++
			switch r.Outcome {
			case Missing:
				s.Missing++
			case Failed:
				s.Failed++
			case Diverged:
				s.Diverged++
			case AtChance:
				s.AtChance++
			case Trained:
				s.Trained++
			}
			if r.Outcome >= AtChance {
				doneAcc = append(doneAcc, r.Acc)
			}
			if r.Status == record.Done {
				s.Done++
				if !math.IsNaN(r.TrainSampleAcc) && !math.IsNaN(r.Acc) {
					gaps = append(gaps, r.TrainSampleAcc-r.Acc)
				}
			}
			if !r.Ended() {
				continue
			}
			s.Ended++
			scores = append(scores, r.Score)
			vals = append(vals, r.ValScore)
			flops = append(flops, r.TrainFLOPs)
			wall = append(wall, r.WallSeconds)
			frac = append(frac, r.ClipFraction)
			steps = append(steps, r.StepsToTarget)
			secs = append(secs, r.SecondsToTarget)
		}
		s.AccMean, s.AccStd = MeanStd(scores)
		s.ValMean, _ = MeanStd(vals)
		s.DoneAccMean, _ = MeanStd(doneAcc)
		s.GapMean, s.GapStd = MeanStd(gaps)
		s.FLOPs, _ = MeanStd(flops)
		s.Wall, _ = MeanStd(wall)
		s.ClipFrac, _ = MeanStd(frac)
		s.StepsTarget = Median(steps)
		s.SecsTarget = Median(secs)
		s.Delta, s.DeltaLo, s.DeltaHi = math.NaN(), math.NaN(), math.NaN()
		if s.Baseline != nil {
			a, b, paired := SeedScores(s, s.Baseline)
			s.Delta, s.DeltaLo, s.DeltaHi = BootstrapDiff(a, b, paired, bootstrapSeed(s))
			s.DeltaSeeds = min(len(a), len(b))
		}
	}
}

// SeedScores returns the scores of s and base to compare: paired by seed
// when at least two seeds ended in both, else all ended seeds of each.
func SeedScores(s, base *Setting) (a, b []float64, paired bool) {
	bySeed := map[int64]float64{}
	for _, r := range base.Runs {
		if r.Ended() {
			bySeed[r.Seed] = r.Score
		}
	}
	for _, r := range s.Runs {
		if v, ok := bySeed[r.Seed]; ok && r.Ended() {
			a = append(a, r.Score)
			b = append(b, v)
		}
	}
	if len(a) >= 2 {
		return a, b, true
	}
	a, b = a[:0], b[:0]
	for _, r := range s.Runs {
		if r.Ended() {
			a = append(a, r.Score)
		}
	}
	for _, r := range base.Runs {
		if r.Ended() {
			b = append(b, r.Score)
		}
	}
	return a, b, false
}

// FmtNum formats a threshold or learning rate: shortest form, "–" for NaN.
func FmtNum(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// SameNum reports whether a and b are equal or both NaN.
func SameNum(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func lessNaNFirst(a, b float64) bool {
	if math.IsNaN(a) {
		return !math.IsNaN(b)
	}
	return !math.IsNaN(b) && a < b
}

// bootstrapSeed seeds the bootstrap of s: the FNV-1a hash of the string
// earlier reports grouped settings by (the configuration's JSON without its
// seed, keys sorted), so that their intervals stay as they were.
func bootstrapSeed(s *Setting) uint64 {
	var m map[string]any
	if err := json.Unmarshal(s.Config.Canonical(), &m); err != nil {
		panic("report: canonical JSON does not decode: " + err.Error())
	}
	delete(m, "seed")
	b, _ := json.Marshal(m)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// thresholdOf is c's clip threshold, NaN for a method that takes none.
func thresholdOf(c clipalgo.Spec) float64 {
	if m, ok := clipalgo.Lookup(c.Method); ok && !m.Threshold.Takes {
		return math.NaN()
	}
	return c.Threshold
}
