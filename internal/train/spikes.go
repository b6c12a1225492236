package train

import "math"

// The loss-spike rule (README "Loss spikes"), over the logged steps: the
// first spikeWarmup finite losses give the running mean and (population)
// variance; after them a logged step is a spike when its loss exceeds the
// running mean by more than spike_z running standard deviations (both as
// they were before this step). Each later loss then updates the EMA with
// ZClip's α, mean first and the variance about the new mean, as ZClip's
// _update_ema; a spike enters it as the threshold it crossed, mean +
// spike_z·std, as ZClip feeds its clip value, so that one spike does not
// hide the next. Non-finite losses are neither spikes nor counted.
const (
	spikeAlpha  = 0.97 // ZClip's alpha
	spikeWarmup = 25   // ZClip's warmup_steps, here logged steps
)

// spikes applies the rule to one run's logged losses.
type spikes struct {
	z          float64
	warm       []float64
	mean, vari float64
	ready      bool
}

func newSpikes(z float64) *spikes { return &spikes{z: z, warm: make([]float64, 0, spikeWarmup)} }

// observe takes the loss of the next logged step and reports whether it is a
// spike.
func (s *spikes) observe(loss float64) bool {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return false
	}
	if !s.ready {
		s.warm = append(s.warm, loss)
		if len(s.warm) == spikeWarmup {
			for _, x := range s.warm {
				s.mean += x
			}
			s.mean /= spikeWarmup
			for _, x := range s.warm {
				s.vari += (x - s.mean) * (x - s.mean)
			}
			s.vari /= spikeWarmup
			s.ready = true
		}
		return false
	}
	limit := s.mean + s.z*math.Sqrt(s.vari)
	spike := loss > limit
	x := loss
	if spike {
		x = limit
	}
	s.mean = spikeAlpha*s.mean + (1-spikeAlpha)*x
	d := x - s.mean
	s.vari = spikeAlpha*s.vari + (1-spikeAlpha)*d*d
	return spike
}
