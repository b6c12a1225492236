// MT19937 and the few numpy.random.RandomState draws that Pascanu's
// generators make, bit for bit, so that a batch of the pascanu generator
// can be checked against their Python code.

package data

import "math/bits"

const mtN = 624

// mt19937 is Matsumoto & Nishimura's (1998) Mersenne Twister, 32-bit
// outputs, seeded as numpy.random.RandomState seeds it.
type mt19937 struct {
	key [mtN]uint32
	pos int
}

// seed is init_genrand: numpy's RandomState(s) for an integer s < 2³².
func (m *mt19937) seed(s uint32) {
	m.key[0] = s
	for i := 1; i < mtN; i++ {
		p := m.key[i-1]
		m.key[i] = 1812433253*(p^(p>>30)) + uint32(i)
	}
	m.pos = mtN
}

// seedArray is init_by_array: numpy's RandomState(k) for a 1-d array k of
// integers in [0, 2³²). It panics if k is empty.
func (m *mt19937) seedArray(k []uint32) {
	if len(k) == 0 {
		panic("data: mt19937 seeded by an empty array")
	}
	m.seed(19650218)
	i, j := 1, 0
	for n := max(mtN, len(k)); n > 0; n-- {
		p := m.key[i-1]
		m.key[i] = (m.key[i] ^ ((p ^ (p >> 30)) * 1664525)) + k[j] + uint32(j)
		i++
		j++
		if i >= mtN {
			m.key[0] = m.key[mtN-1]
			i = 1
		}
		if j >= len(k) {
			j = 0
		}
	}
	for n := mtN - 1; n > 0; n-- {
		p := m.key[i-1]
		m.key[i] = (m.key[i] ^ ((p ^ (p >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= mtN {
			m.key[0] = m.key[mtN-1]
			i = 1
		}
	}
	m.key[0] = 0x80000000
	m.pos = mtN
}

func (m *mt19937) twist() {
	const upper, lower, matrixA = 0x80000000, 0x7fffffff, 0x9908b0df
	for i := range mtN {
		y := m.key[i]&upper | m.key[(i+1)%mtN]&lower
		v := m.key[(i+397)%mtN] ^ y>>1
		if y&1 != 0 {
			v ^= matrixA
		}
		m.key[i] = v
	}
	m.pos = 0
}

// uint32 is genrand_int32, the generator's next output.
func (m *mt19937) uint32() uint32 {
	if m.pos >= mtN {
		m.twist()
	}
	y := m.key[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	return y ^ y>>18
}

// randint is RandomState.randint(n) for 1 ≤ n ≤ 2³²: numpy's legacy
// masked rejection on 32-bit outputs, which draws nothing when n is 1.
// It panics if n < 1, where numpy raises ValueError.
func (m *mt19937) randint(n int) int {
	if n < 1 || n > 1<<32 {
		panic("data: randint needs 1 ≤ n ≤ 2³²")
	}
	rng := uint32(n - 1)
	if rng == 0 {
		return 0
	}
	mask := uint32(1)<<(32-bits.LeadingZeros32(rng)) - 1
	for {
		if v := m.uint32() & mask; v <= rng {
			return int(v)
		}
	}
}

// uniform is RandomState.uniform() (random_sample): 53 bits from two
// outputs, (a·2²⁶ + b)/2⁵³ with a the top 27 bits and b the top 26.
func (m *mt19937) uniform() float64 {
	a, b := m.uint32()>>5, m.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
