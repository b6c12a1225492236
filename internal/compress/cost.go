package compress

// The size of a model as it would be stored: README "Compression costs".

// Stored is one parameter tensor as it is stored: its values (zeros
// pruned, or rounded to zero by quantisation), the bits of each stored
// value (32 for float32, or the quantised bits) and the number of
// quantisation groups (0 unquantised; 1 per tensor; one per channel), each
// of which stores a float32 scale and an int32 zero point.
type Stored struct {
	Values []float32
	Bits   int
	Groups int
}

// Bytes is the tensor's storage: the smaller of dense storage, ⌈n·b/8⌉
// bytes for n values of b bits, and sparse storage, a bitmap of the
// non-zero positions (⌈n/8⌉ bytes) and the z non-zero values (⌈z·b/8⌉),
// plus 8 bytes per quantisation group.
func (s Stored) Bytes() int64 {
	n, z, b := int64(len(s.Values)), int64(NonZero(s.Values)), int64(s.Bits)
	dense := ceilDiv(n*b, 8)
	sparse := ceilDiv(n, 8) + ceilDiv(z*b, 8)
	return min(dense, sparse) + 8*int64(s.Groups)
}

// ModelBytes is the sum of the tensors' Bytes.
func ModelBytes(ts []Stored) int64 {
	var sum int64
	for _, t := range ts {
		sum += t.Bytes()
	}
	return sum
}

// NonZero counts the values of w that are not zero.
func NonZero(w []float32) int {
	n := 0
	for _, x := range w {
		if x != 0 {
			n++
		}
	}
	return n
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
