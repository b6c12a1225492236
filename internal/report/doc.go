// Package report is what a cliplab report shows, without drawing it: the
// runs of an experiment read from the database (the run_summary view, one
// configuration per setting, evaluations, training curves downsampled in
// SQL), grouped into typed settings (a config.Config without its seed,
// keyed by config.SettingKey), series (a clip method with its options) and
// workloads (an architecture on a dataset); the statistics over seeds; and,
// for each figure and table, the data it shows. cmd/report styles and
// renders them.
//
// It imports db, config, clipalgo and record (config's TestImportLayers).
//
// The rules behind every number (chance levels, when a run counts as
// trained or collapsed, how diverged seeds count, how a best setting is
// chosen, steps to target, the stability range, the bootstrap) are stated
// next to the code that applies them and in the index the report writes.
//
// References:
//   - Dolan & Moré (2002), Benchmarking optimization software with
//     performance profiles, Math. Program. 91:201–213 (ρ(τ)).
//   - Dahl et al. (2023), Benchmarking Neural Network Training Algorithms
//     (AlgoPerf), §4: time to target, best setting by validation, profile
//     area score with r_max = 4.
//   - Schneider, Balles & Hennig (2019), DeepOBS: a deep learning optimizer
//     benchmark suite (final performance, speed, tuning sensitivity).
//   - Efron & Tibshirani (1993), An Introduction to the Bootstrap
//     (percentile intervals).
package report
