// The report's view of an experiment: runs with their outcome, grouped into
// settings (a configuration without its seed), series (a clip method with
// its options) and workloads (an architecture on a dataset).

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/db"
	"cliplab/internal/record"
)

// curveBins is how many points a run's training curve is cut into (in SQL).
const curveBins = 200

// outcome is how a run stands, for the report.
type outcome int

const (
	missing  outcome = iota // pending, running or interrupted: not ended yet
	failed                  // ended with an error: excluded from every statistic
	diverged                // ended with a non-finite or exploding loss
	atChance                // done, but its final test accuracy is at chance (see trainBar)
	trained                 // done, and clearly above chance
)

// chance returns the accuracy of a model that learned nothing on dataset,
// and whether the dataset is known.
//
//   - mnist: 10 balanced classes → 0.1.
//   - temporal-order: 4 classes (Pascanu et al. 2013, §5.1) → 0.25.
//   - addition: acc is the fraction of sequences with squared error < 0.04,
//     that is |prediction − target| < 0.2. The best constant prediction is
//     0.5; the target is m = (u1+u2)/2 with u1, u2 ~ U[0,1], whose density is
//     4m on [0, ½] and 4(1−m) on [½, 1], so P(m < a) = 2a² for a ≤ ½ and
//     P(|m − ½| < 0.2) = 1 − 2·P(m < 0.3) = 1 − 2·2·0.09 = 0.64.
func chance(dataset string) (float64, bool) {
	switch dataset {
	case "mnist":
		return 0.1, true
	case "temporal-order":
		return 0.25, true
	case "addition":
		return 0.64, true
	}
	return 0, false
}

// trainBar is the final test accuracy above which a done run counts as
// trained: chance + 10% of the distance from chance to perfect (mnist 0.19,
// temporal-order 0.325, addition 0.676). A run at or below it collapsed to
// chance without a NaN: a failure as real as a divergence.
func trainBar(chance float64) float64 { return chance + 0.1*(1-chance) }

// runRec is one run with what the report derives from it.
type runRec struct {
	db.ReportRun
	Outcome outcome
	// Score is the final test accuracy of a done run and the chance level of
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
}

// ended reports whether the run counts in statistics (done or diverged).
func (r *runRec) ended() bool { return r.Outcome >= diverged }

// series is one line style of the figures: a clip method with the options
// that vary in the experiment (norm with norm_type=inf is its own series).
type series struct {
	Method  string
	Options string // e.g. "norm_type=inf"; "" when none vary
	Name    string // legend text
	Style   style
}

// workload is an architecture on a dataset: one panel of the cost figures,
// one problem of the performance profile.
type workload struct {
	Arch, Dataset string
	Chance        float64
	ChanceKnown   bool
	Name          string
}

// setting is a configuration without its seed: the runs of the grid that
// differ only by seed.
type setting struct {
	Key                              string // canonical config JSON without the seed
	Arch, Dataset, Optimizer, Method string
	Threshold                        float64 // NaN for none
	LR                               float64
	// Extra names the config fields besides arch, method, threshold, clip
	// options and lr in which this setting differs from another that
	// shares all of those ("batch_size=128"); "" mostly.
	Extra    string
	Series   int // index in report.Series
	Workload int // index in report.Workloads
	Runs     []*runRec

	N, Ended, Done, Diverged, Failed, Missing, AtChance, Trained int

	AccMean, AccStd float64 // of Score over ended runs
	ValMean         float64 // of ValScore over ended runs
	GapMean, GapStd float64 // train-sample − test accuracy of done runs
	FLOPs, Wall     float64 // mean over ended runs
	ClipFrac        float64 // mean over ended runs
	StepsTarget     float64 // median over ended runs (+Inf when most never reach it)
	SecsTarget      float64
	// Delta is AccMean minus that of method none at the same everything
	// else, with a 95% bootstrap interval over seeds; NaN without baseline.
	Delta, DeltaLo, DeltaHi float64
	Baseline                *setting
}

// report is everything the figures and tables are drawn from.
type report struct {
	Experiment string
	Target     float64
	Runs       []*runRec
	Settings   []*setting
	Series     []series
	Workloads  []workload
	ByStatus   map[record.Status]int
	Outcomes   [5]int
	// Unknown lists datasets whose chance level is not known (treated as 0).
	Unknown []string
}

// load reads experiment from d and builds the report model.
func load(ctx context.Context, d *db.DB, experiment string, target float64) (*report, error) {
	rs, err := d.ReportRuns(ctx, experiment)
	if err != nil {
		return nil, err
	}
	evals, err := d.ReportEvals(ctx, experiment)
	if err != nil {
		return nil, err
	}
	curves, err := d.ReportCurves(ctx, experiment, curveBins)
	if err != nil {
		return nil, err
	}
	return build(experiment, target, rs, evals, curves)
}

// build is load without the database: rs ordered by id, evals and curves
// ordered by run id then step.
func build(experiment string, target float64, rs []db.ReportRun, evals []db.EvalPoint, curves []db.CurvePoint) (*report, error) {
	rep := &report{Experiment: experiment, Target: target, ByStatus: map[record.Status]int{}}
	byID := map[int64]*runRec{}
	for i := range rs {
		r := &runRec{ReportRun: rs[i], Score: math.NaN(), ValScore: math.NaN(), StepsToTarget: math.NaN(), SecondsToTarget: math.NaN()}
		rep.Runs = append(rep.Runs, r)
		byID[r.ID] = r
		rep.ByStatus[r.Status]++
	}
	for i := 0; i < len(curves); {
		j := i
		for j < len(curves) && curves[j].RunID == curves[i].RunID {
			j++
		}
		if r := byID[curves[i].RunID]; r != nil {
			r.Curve = curves[i:j:j]
		}
		i = j
	}
	firstAt := map[int64][2]float64{} // run → step, seconds of the first test eval ≥ target
	for _, e := range evals {
		if e.Split != "test" || !(e.Acc >= target) {
			continue
		}
		if _, ok := firstAt[e.RunID]; ok {
			continue
		}
		secs := e.ElapsedS
		if r := byID[e.RunID]; math.IsNaN(secs) && r != nil && r.Steps > 0 {
			secs = r.WallSeconds * float64(e.Step) / float64(r.Steps) // no time recorded: pro rata
		}
		firstAt[e.RunID] = [2]float64{float64(e.Step), secs}
	}
	unknown := map[string]bool{}
	for _, r := range rep.Runs {
		ch, ok := chance(r.Dataset)
		if !ok {
			unknown[r.Dataset] = true
		}
		switch r.Status {
		case record.Done:
			r.Outcome = trained
			if !(r.TestAcc > trainBar(ch)) {
				r.Outcome = atChance
			}
			r.Score, r.ValScore = r.TestAcc, r.TrainAcc
			if math.IsNaN(r.Score) { // done without a test evaluation: learned nothing we can see
				r.Score = ch
			}
			if math.IsNaN(r.ValScore) {
				r.ValScore = r.Score
			}
		case record.Diverged:
			r.Outcome = diverged
			r.Score, r.ValScore = ch, ch
		case record.Failed:
			r.Outcome = failed
		default:
			r.Outcome = missing
		}
		rep.Outcomes[r.Outcome]++
		if r.ended() {
			r.StepsToTarget, r.SecondsToTarget = math.Inf(1), math.Inf(1)
			if f, ok := firstAt[r.ID]; ok {
				r.StepsToTarget, r.SecondsToTarget = f[0], f[1]
			}
		}
	}
	for k := range unknown {
		rep.Unknown = append(rep.Unknown, k)
	}
	sort.Strings(rep.Unknown)
	if err := rep.group(); err != nil {
		return nil, err
	}
	rep.aggregate()
	return rep, nil
}

// group sorts the runs into settings, series and workloads.
func (rep *report) group() error {
	type parsed struct {
		key  string
		clip map[string]any
		flat map[string]string
	}
	bySetting := map[string]*setting{}
	info := map[*setting]parsed{}
	for _, r := range rep.Runs {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(r.ConfigJSON), &cfg); err != nil {
			return fmt.Errorf("run %d: config_json: %w", r.ID, err)
		}
		delete(cfg, "seed")
		b, _ := json.Marshal(cfg) // map keys sorted: canonical
		key := string(b)
		s := bySetting[key]
		if s == nil {
			s = &setting{Key: key, Arch: r.Arch, Dataset: r.Dataset, Optimizer: r.Optimizer, Method: r.Method, Threshold: r.Threshold, LR: r.LR}
			bySetting[key] = s
			rep.Settings = append(rep.Settings, s)
			clip, _ := cfg["clip"].(map[string]any)
			flat := map[string]string{}
			flatten("", cfg, flat)
			info[s] = parsed{key, clip, flat}
		}
		s.Runs = append(s.Runs, r)
	}
	for _, s := range rep.Settings {
		sort.SliceStable(s.Runs, func(i, j int) bool { return s.Runs[i].Seed < s.Runs[j].Seed })
	}

	// Clip options that vary among the settings of one method.
	optValues := map[string]map[string]map[string]bool{} // method → option → values
	for _, s := range rep.Settings {
		for k, v := range info[s].clip {
			if k == "method" || k == "threshold" {
				continue
			}
			if optValues[s.Method] == nil {
				optValues[s.Method] = map[string]map[string]bool{}
			}
			if optValues[s.Method][k] == nil {
				optValues[s.Method][k] = map[string]bool{}
			}
			b, _ := json.Marshal(v)
			optValues[s.Method][k][string(b)] = true
		}
	}
	optionsOf := func(s *setting) string {
		var parts []string
		for k, v := range info[s].clip {
			if k == "method" || k == "threshold" {
				continue
			}
			all := optValues[s.Method][k]
			// An option counts as varying when its values differ, or when
			// some settings of the method lack it.
			n := 0
			for _, t := range rep.Settings {
				if t.Method == s.Method {
					if _, ok := info[t].clip[k]; ok {
						n++
					}
				}
			}
			total := 0
			for _, t := range rep.Settings {
				if t.Method == s.Method {
					total++
				}
			}
			if len(all) > 1 || n < total {
				parts = append(parts, k+"="+strings.Trim(jsonText(v), `"`))
			}
		}
		sort.Strings(parts)
		return strings.Join(parts, " ")
	}

	// Series: methods in clipalgo.Methods() order, then options.
	seriesOf := map[[2]string]int{}
	var keys [][2]string
	optOf := map[*setting]string{}
	for _, s := range rep.Settings {
		o := optionsOf(s)
		optOf[s] = o
		k := [2]string{s.Method, o}
		if _, ok := seriesOf[k]; !ok {
			seriesOf[k] = 0
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := methodRank(keys[i][0]), methodRank(keys[j][0])
		if a != b {
			return a < b
		}
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	variant := map[string]int{}
	for i, k := range keys {
		seriesOf[k] = i
		name := k[0]
		if k[1] != "" {
			name += " (" + k[1] + ")"
		}
		rep.Series = append(rep.Series, series{Method: k[0], Options: k[1], Name: name, Style: styleFor(methodRank(k[0]), variant[k[0]])})
		variant[k[0]]++
	}

	// Workloads: architecture × dataset, sorted by name.
	wl := map[[2]string]int{}
	var wkeys [][2]string
	for _, s := range rep.Settings {
		k := [2]string{s.Arch, s.Dataset}
		if _, ok := wl[k]; !ok {
			wl[k] = 0
			wkeys = append(wkeys, k)
		}
	}
	sort.Slice(wkeys, func(i, j int) bool {
		if wkeys[i][0] != wkeys[j][0] {
			return wkeys[i][0] < wkeys[j][0]
		}
		return wkeys[i][1] < wkeys[j][1]
	})
	datasets := map[string]bool{}
	for _, k := range wkeys {
		datasets[k[1]] = true
	}
	for i, k := range wkeys {
		wl[k] = i
		ch, ok := chance(k[1])
		name := k[0]
		if len(datasets) > 1 {
			name += " on " + k[1]
		}
		rep.Workloads = append(rep.Workloads, workload{Arch: k[0], Dataset: k[1], Chance: ch, ChanceKnown: ok, Name: name})
	}
	for _, s := range rep.Settings {
		s.Series = seriesOf[[2]string{s.Method, optOf[s]}]
		s.Workload = wl[[2]string{s.Arch, s.Dataset}]
	}

	// Extra: settings that share every shown field are told apart by the
	// config fields in which they differ.
	type shown struct {
		w, series int
		th, lr    string
	}
	collide := map[shown][]*setting{}
	for _, s := range rep.Settings {
		k := shown{s.Workload, s.Series, fmtNum(s.Threshold), fmtNum(s.LR)}
		collide[k] = append(collide[k], s)
	}
	for _, group := range collide {
		if len(group) < 2 {
			continue
		}
		paths := map[string]bool{}
		for _, s := range group {
			for p, v := range info[s].flat {
				for _, t := range group {
					if info[t].flat[p] != v {
						paths[p] = true
					}
				}
			}
		}
		for _, s := range group {
			var parts []string
			for p := range paths {
				if strings.HasPrefix(p, "clip.") {
					continue
				}
				v, ok := info[s].flat[p]
				if !ok {
					v = "-"
				}
				parts = append(parts, p+"="+strings.Trim(v, `"`))
			}
			sort.Strings(parts)
			s.Extra = strings.Join(parts, " ")
		}
	}

	sort.SliceStable(rep.Settings, func(i, j int) bool {
		a, b := rep.Settings[i], rep.Settings[j]
		switch {
		case a.Workload != b.Workload:
			return a.Workload < b.Workload
		case a.Series != b.Series:
			return a.Series < b.Series
		case a.Extra != b.Extra:
			return a.Extra < b.Extra
		case !sameNum(a.Threshold, b.Threshold):
			return lessNaNFirst(a.Threshold, b.Threshold)
		case a.LR != b.LR:
			return a.LR < b.LR
		}
		return a.Key < b.Key
	})

	// Baselines: the same config with clip {"method": "none"}.
	byKey := map[string]*setting{}
	for _, s := range rep.Settings {
		byKey[s.Key] = s
	}
	for _, s := range rep.Settings {
		if s.Method == "none" {
			continue
		}
		var cfg map[string]any
		json.Unmarshal([]byte(s.Key), &cfg)
		cfg["clip"] = map[string]any{"method": "none"}
		b, _ := json.Marshal(cfg)
		s.Baseline = byKey[string(b)]
	}
	return nil
}

// aggregate computes every setting's statistics.
func (rep *report) aggregate() {
	for _, s := range rep.Settings {
		var scores, vals, gaps, flops, wall, frac, steps, secs []float64
		for _, r := range s.Runs {
			s.N++
			switch r.Outcome {
			case missing:
				s.Missing++
			case failed:
				s.Failed++
			case diverged:
				s.Diverged++
			case atChance:
				s.AtChance++
			case trained:
				s.Trained++
			}
			if r.Status == record.Done {
				s.Done++
				if !math.IsNaN(r.TrainAcc) && !math.IsNaN(r.TestAcc) {
					gaps = append(gaps, r.TrainAcc-r.TestAcc)
				}
			}
			if !r.ended() {
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
		s.AccMean, s.AccStd = meanStd(scores)
		s.ValMean, _ = meanStd(vals)
		s.GapMean, s.GapStd = meanStd(gaps)
		s.FLOPs, _ = meanStd(flops)
		s.Wall, _ = meanStd(wall)
		s.ClipFrac, _ = meanStd(frac)
		s.StepsTarget = median(steps)
		s.SecsTarget = median(secs)
		s.Delta, s.DeltaLo, s.DeltaHi = math.NaN(), math.NaN(), math.NaN()
		if s.Baseline != nil {
			a, b, paired := seedScores(s, s.Baseline)
			h := fnv.New64a()
			h.Write([]byte(s.Key))
			s.Delta, s.DeltaLo, s.DeltaHi = bootstrapDiff(a, b, paired, h.Sum64())
		}
	}
}

// seedScores returns the scores of s and base to compare: paired by seed
// when at least two seeds ended in both, else all ended seeds of each.
func seedScores(s, base *setting) (a, b []float64, paired bool) {
	bySeed := map[int64]float64{}
	for _, r := range base.Runs {
		if r.ended() {
			bySeed[r.Seed] = r.Score
		}
	}
	for _, r := range s.Runs {
		if v, ok := bySeed[r.Seed]; ok && r.ended() {
			a = append(a, r.Score)
			b = append(b, v)
		}
	}
	if len(a) >= 2 {
		return a, b, true
	}
	a, b = a[:0], b[:0]
	for _, r := range s.Runs {
		if r.ended() {
			a = append(a, r.Score)
		}
	}
	for _, r := range base.Runs {
		if r.ended() {
			b = append(b, r.Score)
		}
	}
	return a, b, false
}

// settingsOf returns the settings of workload w, in report order.
func (rep *report) settingsOf(w int) []*setting {
	var out []*setting
	for _, s := range rep.Settings {
		if s.Workload == w {
			out = append(out, s)
		}
	}
	return out
}

// lrsOf returns the distinct learning rates of settings, ascending.
func lrsOf(ss []*setting) []float64 {
	var lrs []float64
	for _, s := range ss {
		if !slices.Contains(lrs, s.LR) {
			lrs = append(lrs, s.LR)
		}
	}
	sort.Float64s(lrs)
	return lrs
}

// runsOf counts the runs of settings.
func runsOf(ss []*setting) int {
	n := 0
	for _, s := range ss {
		n += len(s.Runs)
	}
	return n
}

// methodRank is a method's position in clipalgo.Methods(); unknown methods
// come after, by name.
func methodRank(m string) int { return clipalgo.Rank(m) }

// flatten writes the leaves of a decoded JSON value as path → JSON text.
func flatten(prefix string, v any, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
	case []any:
		if len(v) == 0 {
			out[prefix] = "[]"
		}
		for i, x := range v {
			flatten(prefix+"["+strconv.Itoa(i)+"]", x, out)
		}
	default:
		out[prefix] = jsonText(v)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// fmtNum formats a threshold or learning rate: shortest form, "–" for NaN.
func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func sameNum(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func lessNaNFirst(a, b float64) bool {
	if math.IsNaN(a) {
		return !math.IsNaN(b)
	}
	return !math.IsNaN(b) && a < b
}
