package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"

	"cliplab/internal/privacy"
)

func init() { subcommands["privacy"] = cmdPrivacy }

const privacyUsage = `usage: runner privacy -sampling-rate Q -steps T [-delta D] (-noise S | -epsilon E)

The privacy DP-SGD spends, by the RDP accountant of the sampled Gaussian
mechanism: with -noise σ, ε after T steps at sampling rate Q (batch/N); with
-epsilon E, the σ that spends at most E. One line:
  epsilon=… delta=… order=… noise_multiplier=…
`

// cmdPrivacy prints the privacy DP-SGD spends, by the accountant the
// runner uses (internal/privacy): with -noise S, ε of (ε, δ)-DP after the
// steps; with -epsilon E, the noise multiplier σ that spends at most E
// (within 1%), and the ε it spends. One line:
//
//	epsilon=… delta=… order=… noise_multiplier=…
//
// Numbers are printed exactly (Go's shortest representation that reads
// back to the same float64); σ = 0 prints epsilon=+Inf order=NaN. When the
// best order is the smallest or largest of the orders it warns on stderr,
// as Opacus does.
func cmdPrivacy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("privacy", privacyUsage, stderr)
	q := fs.Float64("sampling-rate", 0, "sampling `rate` q in (0, 1]: the batch size over the training-set size (required)")
	steps := fs.Int("steps", 0, "optimizer `steps`, ≥ 1 (required)")
	delta := fs.Float64("delta", 1e-5, "`δ` of (ε, δ)-DP, in (0, 1)")
	noise := fs.Float64("noise", 0, "noise multiplier `σ` ≥ 0 (give -noise or -epsilon)")
	target := fs.Float64("epsilon", 0, "target `ε` > 0: solve for σ (give -noise or -epsilon)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("privacy takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case !set["sampling-rate"]:
		return usagef("privacy: -sampling-rate is required (q = batch size / training-set size, in (0, 1])")
	case !set["steps"]:
		return usagef("privacy: -steps is required (the number of optimizer steps, ≥ 1)")
	case set["noise"] == set["epsilon"]:
		return usagef("privacy: give exactly one of -noise (σ, to get ε) and -epsilon (target ε, to get σ)")
	case !(*q > 0 && *q <= 1):
		return usagef("privacy: -sampling-rate %v is outside (0, 1]", *q)
	case *steps < 1:
		return usagef("privacy: -steps %d must be ≥ 1", *steps)
	case !(*delta > 0 && *delta < 1):
		return usagef("privacy: -delta %v is outside (0, 1)", *delta)
	case set["noise"] && (!(*noise >= 0) || math.IsInf(*noise, 1)):
		return usagef("privacy: -noise %v must be a finite number ≥ 0", *noise)
	case set["epsilon"] && (!(*target > 0) || math.IsInf(*target, 1)):
		return usagef("privacy: -epsilon %v must be a finite number > 0", *target)
	}

	var sigma, eps, order float64
	var err error
	if set["noise"] {
		sigma = *noise
		eps, order, err = privacy.Spend(sigma, *q, *steps, *delta)
	} else {
		sigma, _, err = privacy.NoiseMultiplier(*target, *delta, *q, *steps)
		if err == nil {
			eps, order, err = privacy.Spend(sigma, *q, *steps, *delta)
		}
	}
	if errors.Is(err, privacy.ErrInput) || errors.Is(err, privacy.ErrUnreachable) {
		return usageError{err} // the message starts "privacy: "
	}
	if err != nil {
		return err
	}
	orders := privacy.DefaultOrders()
	if order == orders[0] || order == orders[len(orders)-1] {
		fmt.Fprintf(stderr, "runner privacy: WARNING: the best RDP order is the %s (%v); orders beyond it might give a smaller ε\n",
			map[bool]string{true: "smallest", false: "largest"}[order == orders[0]], order)
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	_, err = fmt.Fprintf(stdout, "epsilon=%s delta=%s order=%s noise_multiplier=%s\n", g(eps), g(*delta), g(order), g(sigma))
	return err
}
