// The read queries of the report: the run_summary rows, one configuration
// per setting, the evaluations, and training curves downsampled in SQL.

package db

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/record"
)

// RunSummary is one row of the run_summary view: a run with its final
// values. Values a run does not have (a pending run's accuracy, the
// threshold of method none) are NaN.
type RunSummary struct {
	ID         int64
	Experiment string
	ConfigHash string
	// SettingKey is config.SettingKey of the run's configuration: the runs
	// of one setting differ only by seed. "" for a run whose config_json
	// does not decode.
	SettingKey string
	Arch       string
	Dataset    string
	Optimizer  string
	Method     string
	Threshold  float64 // NaN for method none
	LR         float64
	BatchSize  int
	Epochs     int
	Seed       int64
	Status     record.Status
	Error      string

	WallSeconds float64 // NaN until the run ends
	TrainFLOPs  float64 // total FLOPs trained; NaN until the run ends
	Steps       int     // steps done; 0 until the run ends

	TestAcc   float64 // last test evaluation
	TestLoss  float64
	TrainAcc  float64 // last evaluation of the fixed training sample
	TrainLoss float64

	ClipFraction float64 // mean over the logged steps
	MaxGradNorm  float64 // largest pre-clip norm logged

	// The tail metrics (issue 17): means over the evaluations in the run's
	// tail window (config.Config.Tail), which one step cannot swing.
	// TailEvals is how many test evaluations fall in it; with none the
	// four means are NaN.
	TestAccTail, TestLossTail, TrainAccTail, TrainLossTail float64
	TailEvals                                              int

	// DP-SGD (issue 11): the ε spent by the steps trained (+Inf without
	// noise) at Delta, the noise multiplier σ and the sampling; NaN, NaN,
	// NaN and "" for a run without DP, and Epsilon NaN until it ends.
	Epsilon, NoiseMultiplier, Delta float64
	Sampling                        string

	// The costs of the model as deployed (issue 16): non-zero parameter
	// values, storage in bytes, inference FLOPs per example counting
	// non-zero weights only; NaN when unknown.
	NonzeroParams, ModelBytes, EffectiveFLOPs float64
}

// summaryColumns are the run_summary columns RunSummary holds, in its order.
const summaryColumns = `s.run_id, s.experiment, s.config_hash, coalesce(s.setting_key, ''), s.arch, s.dataset, s.optimizer,
	s.method, s.threshold, s.lr, s.batch_size, s.epochs, s.seed, s.status, coalesce(s.error, ''),
	s.wall_seconds, s.train_flops, coalesce(s.steps, 0), s.test_acc, s.test_loss, s.train_acc, s.train_loss,
	s.clip_fraction, s.max_grad_norm,
	s.test_acc_tail, s.test_loss_tail, s.train_acc_tail, s.train_loss_tail, coalesce(s.tail_evals, 0),
	s.epsilon, s.noise_multiplier, s.delta, coalesce(s.sampling, ''),
	s.nonzero_params, s.model_bytes, s.effective_flops`

// scanSummary scans summaryColumns, then more.
func scanSummary(rows *sql.Rows, r *RunSummary, more ...any) error {
	var th, wall, flops, tacc, tloss, racc, rloss, frac, maxn, taccT, tlossT, raccT, rlossT, eps, sigma, delta, nz, bytes, eflops sql.NullFloat64
	dst := []any{&r.ID, &r.Experiment, &r.ConfigHash, &r.SettingKey, &r.Arch, &r.Dataset, &r.Optimizer,
		&r.Method, &th, &r.LR, &r.BatchSize, &r.Epochs, &r.Seed, &r.Status, &r.Error,
		&wall, &flops, &r.Steps, &tacc, &tloss, &racc, &rloss, &frac, &maxn,
		&taccT, &tlossT, &raccT, &rlossT, &r.TailEvals, &eps, &sigma, &delta, &r.Sampling, &nz, &bytes, &eflops}
	if err := rows.Scan(append(dst, more...)...); err != nil {
		return err
	}
	r.Threshold, r.WallSeconds, r.TrainFLOPs = orNaN(th), orNaN(wall), orNaN(flops)
	r.TestAcc, r.TestLoss, r.TrainAcc, r.TrainLoss = orNaN(tacc), orNaN(tloss), orNaN(racc), orNaN(rloss)
	r.ClipFraction, r.MaxGradNorm = orNaN(frac), orNaN(maxn)
	r.TestAccTail, r.TestLossTail, r.TrainAccTail, r.TrainLossTail = orNaN(taccT), orNaN(tlossT), orNaN(raccT), orNaN(rlossT)
	r.Epsilon, r.NoiseMultiplier, r.Delta = orNaN(eps), orNaN(sigma), orNaN(delta)
	r.NonzeroParams, r.ModelBytes, r.EffectiveFLOPs = orNaN(nz), orNaN(bytes), orNaN(eflops)
	return nil
}

// RunSummaries returns the run_summary rows of experiment, ordered by run
// id.
func (d *DB) RunSummaries(ctx context.Context, experiment string) ([]RunSummary, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT "+summaryColumns+" FROM run_summary s WHERE s.experiment = ? ORDER BY s.run_id", experiment)
	if err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	defer rows.Close()
	var out []RunSummary
	for rows.Next() {
		var r RunSummary
		if err := scanSummary(rows, &r); err != nil {
			return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	return out, nil
}

// ReportSummaries returns what RunSummaries does, reading the logged steps
// once: run_summary's clip_fraction and max_grad_norm are each a pass over
// a run's steps, which for 20 M logged steps is seconds each; here the
// view gives the other columns and one grouped pass over the steps both.
func (d *DB) ReportSummaries(ctx context.Context, experiment string) ([]RunSummary, error) {
	cols := strings.Replace(summaryColumns, "s.clip_fraction, s.max_grad_norm", "NULL, NULL", 1)
	rows, err := d.r.QueryContext(ctx, "SELECT "+cols+" FROM run_summary s WHERE s.experiment = ? ORDER BY s.run_id", experiment)
	if err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	var out []RunSummary
	byID := map[int64]int{}
	for rows.Next() {
		var r RunSummary
		if err := scanSummary(rows, &r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
		}
		byID[r.ID] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	// Steps in primary-key order, so that the grouping streams (a join
	// from runs would sort 20 M rows in a temporary b-tree first).
	rows, err = d.r.QueryContext(ctx, `SELECT run_id, avg(clip_fraction), max(grad_norm)
		FROM steps WHERE run_id IN (SELECT id FROM runs WHERE experiment = ?) GROUP BY run_id`, experiment)
	if err != nil {
		return nil, fmt.Errorf("read steps of %s: %w", experiment, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var frac, maxn sql.NullFloat64
		if err := rows.Scan(&id, &frac, &maxn); err != nil {
			return nil, fmt.Errorf("read steps of %s: %w", experiment, err)
		}
		if i, ok := byID[id]; ok {
			out[i].ClipFraction, out[i].MaxGradNorm = orNaN(frac), orNaN(maxn)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read steps of %s: %w", experiment, err)
	}
	return out, nil
}

// SettingConfig is the configuration of one setting of an experiment: the
// config_json of its first run (the runs of a setting differ only by seed).
type SettingConfig struct {
	SettingKey string
	ConfigJSON []byte
}

// SettingConfigs returns one configuration per setting key of experiment,
// ordered by setting key. Runs without a setting key are left out (their
// config_json does not decode).
func (d *DB) SettingConfigs(ctx context.Context, experiment string) ([]SettingConfig, error) {
	// A bare column with min() comes from the row holding the minimum.
	rows, err := d.r.QueryContext(ctx, `SELECT setting_key, config_json, min(id) FROM runs
		WHERE experiment = ? AND setting_key IS NOT NULL GROUP BY setting_key ORDER BY setting_key`, experiment)
	if err != nil {
		return nil, fmt.Errorf("read settings of %s: %w", experiment, err)
	}
	defer rows.Close()
	var out []SettingConfig
	for rows.Next() {
		var c SettingConfig
		var js string
		var id int64
		if err := rows.Scan(&c.SettingKey, &js, &id); err != nil {
			return nil, fmt.Errorf("read settings of %s: %w", experiment, err)
		}
		c.ConfigJSON = []byte(js)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read settings of %s: %w", experiment, err)
	}
	return out, nil
}

// ReportRun is a run_summary row with the run's config_json and last
// logged step.
//
// Deprecated: the report reads RunSummaries and SettingConfigs. ReportRuns
// stays for cmd/runner's Slurm end-to-end test, which compares databases
// with it, until that test moves to RunSummaries.
type ReportRun struct {
	RunSummary
	ConfigJSON string // canonical resolved config, seed included
	LastStep   int    // last logged step (0 when none)
}

// ReportRuns returns every run of experiment from run_summary, ordered by
// id, with its config_json and last logged step.
//
// Deprecated: use RunSummaries.
func (d *DB) ReportRuns(ctx context.Context, experiment string) ([]ReportRun, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT "+summaryColumns+`, r.config_json,
		coalesce((SELECT max(step) FROM steps WHERE run_id = s.run_id), 0)
		FROM run_summary s JOIN runs r ON r.id = s.run_id WHERE s.experiment = ? ORDER BY s.run_id`, experiment)
	if err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	defer rows.Close()
	var out []ReportRun
	for rows.Next() {
		var r ReportRun
		if err := scanSummary(rows, &r.RunSummary, &r.ConfigJSON, &r.LastStep); err != nil {
			return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs of %s: %w", experiment, err)
	}
	return out, nil
}

// EvalPoint is one evaluation of a run.
type EvalPoint struct {
	RunID    int64
	Step     int
	Split    string // test | train
	Acc      float64
	Loss     float64
	ElapsedS float64 // seconds since the run started; NaN when not recorded
}

// ReportEvals returns every evaluation of the runs of experiment, ordered by
// run, split and step.
func (d *DB) ReportEvals(ctx context.Context, experiment string) ([]EvalPoint, error) {
	const q = `SELECT e.run_id, e.step, e.split, e.acc, e.loss, e.elapsed_s
FROM evals e JOIN runs r ON r.id = e.run_id
WHERE r.experiment = ?
ORDER BY e.run_id, e.split, e.step`
	rows, err := d.r.QueryContext(ctx, q, experiment)
	if err != nil {
		return nil, fmt.Errorf("read evaluations of %s: %w", experiment, err)
	}
	defer rows.Close()
	var out []EvalPoint
	for rows.Next() {
		var e EvalPoint
		var acc, loss, el sql.NullFloat64
		if err := rows.Scan(&e.RunID, &e.Step, &e.Split, &acc, &loss, &el); err != nil {
			return nil, fmt.Errorf("read evaluations of %s: %w", experiment, err)
		}
		e.Acc, e.Loss, e.ElapsedS = orNaN(acc), orNaN(loss), orNaN(el)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read evaluations of %s: %w", experiment, err)
	}
	return out, nil
}

// CurvePoint is one bucket of consecutive logged steps of a run: the means of
// its finite values (NaN when it has none) and the last step in it.
type CurvePoint struct {
	RunID        int64
	Bucket       int // 0-based; buckets of the seeds of one configuration line up
	Step         int // last logged step in the bucket
	Loss         float64
	GradNorm     float64 // pre-clip global L2 norm
	ClipFraction float64
	// NonFinite is how many logged values of loss or grad norm in the bucket
	// were NULL (NaN) or infinite: a diverging run's last bucket has some.
	NonFinite int
	// Spikes are the bucket's logged steps flagged as loss spikes
	// (steps.spike = 1), by step; nil when none (or not recorded: NULL).
	Spikes []Spike
}

// Spike is one logged step flagged as a loss spike and its loss.
type Spike struct {
	Step int
	Loss float64
}

// ReportCurves returns the training curves of the runs of experiment, cut
// into at most bins buckets of equal numbers of steps, ordered by run and
// step. The bucket width is ceil(S/bins) for S the longest logged run among
// the runs of the same configuration but for the seed, so that a seed that
// diverged early has the same buckets as the seeds that went on. The
// averaging happens in SQL so that a grid of millions of logged steps comes
// back as a few hundred points a run. It panics if bins < 1.
func (d *DB) ReportCurves(ctx context.Context, experiment string, bins int) ([]CurvePoint, error) {
	return d.reportCurves(ctx, experiment, "", bins)
}

// ReportCurvesOf is ReportCurves for the runs ids of experiment only (in any
// order; ids of other experiments are left out): a report of 10,000 runs
// reads the curves it draws, not 20 M logged steps. The bucket width of a
// run is computed over the runs of its configuration among ids, so give
// every seed of a setting to get ReportCurves's buckets. Nil or empty ids
// return nothing.
func (d *DB) ReportCurvesOf(ctx context.Context, experiment string, ids []int64, bins int) ([]CurvePoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString(" AND id IN (")
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteString(")")
	return d.reportCurves(ctx, experiment, b.String(), bins)
}

// reportCurves is ReportCurves over the runs of experiment that also match
// the SQL condition where ("" or " AND …", built from integers only).
func (d *DB) reportCurves(ctx context.Context, experiment, where string, bins int) ([]CurvePoint, error) {
	if bins < 1 {
		panic("db: ReportCurves with bins < 1")
	}
	// max(step) per run is one index seek on the steps primary key. SQLite
	// stores ±Inf as ±9e999, which avg would spread over the bucket, so
	// non-finite values are left out of the means and counted instead.
	q := `
WITH last AS (
	SELECT id, coalesce(setting_key, 'run ' || id) AS setting,
		(SELECT max(step) FROM steps WHERE run_id = runs.id) AS last_step
	FROM runs WHERE experiment = ?1` + where + `
), w AS (
	SELECT id, max(1, (max(last_step) OVER (PARTITION BY setting) + ?2 - 1) / ?2) AS width FROM last
)
SELECT s.run_id, (s.step - 1) / w.width AS bucket, max(s.step),
	avg(CASE WHEN abs(s.loss) < 1e308 THEN s.loss END),
	avg(CASE WHEN abs(s.grad_norm) < 1e308 THEN s.grad_norm END),
	avg(s.clip_fraction),
	sum(CASE WHEN abs(s.loss) < 1e308 AND abs(s.grad_norm) < 1e308 THEN 0 ELSE 1 END),
	group_concat(CASE WHEN s.spike = 1 AND abs(s.loss) < 1e308 THEN printf('%d %!.17g', s.step, s.loss) END, ',')
FROM steps s JOIN w ON s.run_id = w.id
GROUP BY s.run_id, bucket
ORDER BY s.run_id, bucket`
	rows, err := d.r.QueryContext(ctx, q, experiment, bins)
	if err != nil {
		return nil, fmt.Errorf("read curves of %s: %w", experiment, err)
	}
	defer rows.Close()
	var out []CurvePoint
	for rows.Next() {
		var p CurvePoint
		var loss, norm, frac sql.NullFloat64
		var spikes sql.NullString
		if err := rows.Scan(&p.RunID, &p.Bucket, &p.Step, &loss, &norm, &frac, &p.NonFinite, &spikes); err != nil {
			return nil, fmt.Errorf("read curves of %s: %w", experiment, err)
		}
		p.Loss, p.GradNorm, p.ClipFraction = orNaN(loss), orNaN(norm), orNaN(frac)
		if p.Spikes, err = parseSpikes(spikes.String); err != nil {
			return nil, fmt.Errorf("read curves of %s: run %d: %w", experiment, p.RunID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read curves of %s: %w", experiment, err)
	}
	return out, nil
}

// parseSpikes reads reportCurves's "step loss,step loss" list (group_concat
// has no defined order), sorted by step; "" gives nil.
func parseSpikes(list string) ([]Spike, error) {
	if list == "" {
		return nil, nil
	}
	var out []Spike
	for _, f := range strings.Split(list, ",") {
		st, ls, ok := strings.Cut(f, " ")
		step, err1 := strconv.Atoi(st)
		loss, err2 := strconv.ParseFloat(ls, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("spike step %q: want step and loss", f)
		}
		out = append(out, Spike{Step: step, Loss: loss})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

func orNaN(x sql.NullFloat64) float64 {
	if !x.Valid {
		return math.NaN()
	}
	return x.Float64
}
