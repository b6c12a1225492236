// Package record holds what a run records as it trains: its status, its
// logged steps and evaluations, and how it ended. train makes these and db
// stores them; both use the one definition here. It imports nothing.
package record

// Status is a run's state, as the runs.status column stores it.
type Status string

const (
	Pending     Status = "pending"     // inserted, not yet claimed
	Running     Status = "running"     // claimed by a worker, which heartbeats
	Done        Status = "done"        // trained to the end
	Diverged    Status = "diverged"    // stopped by a non-finite or too-large loss or gradient
	Failed      Status = "failed"      // an error, in runs.error
	Interrupted Status = "interrupted" // stopped by Ctrl-C (or SIGTERM) before the end
)

// Statuses lists every status in the order status tables show them.
var Statuses = []Status{Done, Diverged, Failed, Running, Interrupted, Pending}

// Step is one logged training step (a row of the steps table).
type Step struct {
	Step         int     // optimizer steps taken so far (1-based)
	Epoch        int     // 0-based
	Loss         float64 // mean loss of this step's batch
	GradNorm     float64 // global L2 norm before clipping
	ClippedNorm  float64 // global L2 norm after clipping
	ClipFraction float64
	Threshold    float64 // in force; NaN (stored as NULL) for method none
	LR           float64 // in force
	ElapsedS     float64 // training seconds so far (evaluations excluded)
	// Spike: the loss exceeds its running mean by more than spike_z running
	// standard deviations (train's spike rule, README "Loss spikes").
	Spike bool
	// Norms are the L2 norms of the gradient before clipping, per group of
	// parameters (the step_norms table); nil when not measured (a diverging
	// step, a DP-SGD run).
	Norms []GroupNorm
}

// GroupNorm is the gradient norm of one group of parameters at a step.
type GroupNorm struct {
	Group string
	Norm  float64
}

// Eval is one evaluation of a split (a row of the evals table): "test", or
// "train", the fixed training sample. Acc is accuracy for classification,
// the fraction of sequences solved for regression.
type Eval struct {
	Step     int
	Epoch    int
	Split    string
	Loss     float64
	Acc      float64
	ElapsedS float64 // training seconds so far (evaluations excluded)
	// Epsilon is the ε of (ε, δ)-DP spent by the steps so far, for a
	// DP-SGD run (+Inf without noise); 0 for the others, which the
	// database stores as NULL (it knows which runs have DP).
	Epsilon float64
}

// Result is how a run ended.
type Result struct {
	Status      Status // Done, Diverged, Failed or Interrupted
	Error       string // why it diverged, failed or was interrupted
	Steps       int    // optimizer steps taken
	TrainFLOPs  float64
	WallSeconds float64 // the whole run, evaluations included
	TrainSecs   float64 // training only
	// Epsilon is the ε spent by the steps taken, for a DP-SGD run (+Inf
	// without noise); 0 for the others (stored as NULL).
	Epsilon float64
	// The costs of the model as deployed (pruned, quantised), README
	// "Compression costs": its non-zero parameter values, its storage in
	// bytes and its inference FLOPs per example counting non-zero weights
	// only. Zero when unknown (a run that failed), stored as NULL.
	NonzeroParams  int64
	ModelBytes     int64
	EffectiveFLOPs float64
}
