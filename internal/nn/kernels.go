// Element-wise kernels: activations, their derivatives and bias sums.

package nn

// activation is applied element-wise after a dense or conv layer.
type activation uint8

const (
	actNone activation = iota
	actReLU
	actTanh
)

func parseActivation(s string) (activation, bool) {
	switch s {
	case "relu":
		return actReLU, true
	case "tanh":
		return actTanh, true
	case "", "none":
		return actNone, true
	}
	return actNone, false
}

func (a activation) String() string {
	switch a {
	case actReLU:
		return "relu"
	case actTanh:
		return "tanh"
	}
	return "none"
}

// tanh32 is tanh in float32 to within a few ulp: Eigen's 13/6-degree
// rational approximation (Eigen, Core/MathFunctionsImpl.h,
// generic_fast_tanh_float), clamped where float32 tanh is ±1 and the
// approximation would pass it.
func tanh32(x float32) float32 {
	const clamp = 7.90531110763549805
	if x > clamp {
		x = clamp
	} else if x < -clamp {
		x = -clamp
	}
	if x > -0.0004 && x < 0.0004 {
		return x // tanh(x) = x to float32 precision
	}
	const (
		a1  = 4.89352455891786e-03
		a3  = 6.37261928875436e-04
		a5  = 1.48572235717979e-05
		a7  = 5.12229709037114e-08
		a9  = -8.60467152213735e-11
		a11 = 2.00018790482477e-13
		a13 = -2.76076847742355e-16
		b0  = 4.89352518554385e-03
		b2  = 2.26843463243900e-03
		b4  = 1.18534705686654e-04
		b6  = 1.19825839466702e-06
	)
	x2 := x * x
	p := float32(a13)
	p = p*x2 + a11
	p = p*x2 + a9
	p = p*x2 + a7
	p = p*x2 + a5
	p = p*x2 + a3
	p = p*x2 + a1
	p *= x
	q := float32(b6)
	q = q*x2 + b4
	q = q*x2 + b2
	q = q*x2 + b0
	return p / q
}

// sigmoid32 is the logistic function through tanh32: σ(x) = ½ + ½·tanh(x/2).
func sigmoid32(x float32) float32 {
	return 0.5 + 0.5*tanh32(0.5*x)
}

// biasAct sets y[i,j] = act(y[i,j] + bias[j]) for the rows·len(bias) values of y.
func biasAct(y, bias []float32, act activation) {
	n := len(bias)
	for off := 0; off+n <= len(y); off += n {
		row := y[off : off+n : off+n]
		switch act {
		case actReLU:
			for j, v := range row {
				v += bias[j]
				if v < 0 {
					v = 0
				}
				row[j] = v
			}
		case actTanh:
			for j, v := range row {
				row[j] = tanh32(v + bias[j])
			}
		default:
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
}

// actBackward sets dz = dy ⊙ act'(·), with the derivative written through
// the activation's output y: relu' = [y > 0], tanh' = 1 − y².
func actBackward(dz, dy, y []float32, act activation) {
	dz, y = dz[:len(dy)], y[:len(dy)]
	switch act {
	case actReLU:
		for i, g := range dy {
			if y[i] > 0 {
				dz[i] = g
			} else {
				dz[i] = 0
			}
		}
	case actTanh:
		for i, g := range dy {
			dz[i] = g * (1 - y[i]*y[i])
		}
	default:
		copy(dz, dy)
	}
}

// colSum sets db[j] = Σ_i dz[i, j] over the rows of dz (row length len(db)),
// summing rows in order.
func colSum(db, dz []float32) {
	n := len(db)
	clear(db)
	for off := 0; off+n <= len(dz); off += n {
		row := dz[off : off+n : off+n]
		for j, v := range row {
			db[j] += v
		}
	}
}
