package compress

// The k smallest of a slice as torch.topk(largest=False) picks them on the
// CPU, ties included. PyTorch 1.13 (aten/src/ATen/native/cpu/SortingKernel.cpp,
// topk_impl_loop) fills a vector of (value, index) pairs, compares the values
// only, and runs std::partial_sort when k·64 ≤ n, else std::nth_element; the
// k pairs it leaves in front are the answer. Which of several equal values
// come first is decided by how libstdc++'s algorithms move the pairs, so
// this file follows libstdc++ (bits/stl_algo.h, bits/stl_heap.h: __heap_select,
// __introselect, __unguarded_partition_pivot, __insertion_sort) move for move.

import "math/bits"

// item is one (value, index) pair of topk_impl_loop's queue.
type item struct {
	v float64
	i int
}

// less is topk_impl_loop's comparator for largest=False on values that
// hold no NaN (absolute weights): x.v < y.v.
func less(q []item, a, b int) bool { return q[a].v < q[b].v }

// Smallest returns the indices of the k smallest values of v as
// torch.topk(v, k, largest=False).indices holds them, in no particular
// order. It panics if k is outside [0, len(v)] or v holds a NaN.
func Smallest(v []float64, k int) []int {
	n := len(v)
	if k < 0 || k > n {
		panic("compress: Smallest with k outside [0, len(v)]")
	}
	q := make([]item, n)
	for i, x := range v {
		if x != x {
			panic("compress: Smallest of a NaN")
		}
		q[i] = item{x, i}
	}
	if k == 0 {
		return nil
	}
	if k*64 <= n {
		heapSelect(q, 0, k, n) // std::partial_sort; its sort_heap only orders the k
	} else {
		nthElement(q, 0, k-1, n)
	}
	out := make([]int, k)
	for j := range out {
		out[j] = q[j].i
	}
	return out
}

// heapSelect is std::__heap_select(first, middle, last).
func heapSelect(q []item, first, middle, last int) {
	makeHeap(q, first, middle)
	for i := middle; i < last; i++ {
		if less(q, i, first) {
			popHeap(q, first, middle, i)
		}
	}
}

// makeHeap is std::__make_heap(first, last).
func makeHeap(q []item, first, last int) {
	n := last - first
	if n < 2 {
		return
	}
	for parent := (n - 2) / 2; ; parent-- {
		adjustHeap(q, first, parent, n, q[first+parent])
		if parent == 0 {
			return
		}
	}
}

// popHeap is std::__pop_heap(first, last, result).
func popHeap(q []item, first, last, result int) {
	v := q[result]
	q[result] = q[first]
	adjustHeap(q, first, 0, last-first, v)
}

// adjustHeap is std::__adjust_heap(first, hole, len, value) with its
// __push_heap.
func adjustHeap(q []item, first, hole, n int, v item) {
	top := hole
	child := hole
	for child < (n-1)/2 {
		child = 2 * (child + 1)
		if q[first+child].v < q[first+child-1].v {
			child--
		}
		q[first+hole] = q[first+child]
		hole = child
	}
	if n&1 == 0 && child == (n-2)/2 {
		child = 2 * (child + 1)
		q[first+hole] = q[first+child-1]
		hole = child - 1
	}
	parent := (hole - 1) / 2
	for hole > top && q[first+parent].v < v.v {
		q[first+hole] = q[first+parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	q[first+hole] = v
}

// nthElement is std::nth_element(first, nth, last): __introselect with a
// depth limit of 2·⌊log₂(last − first)⌋.
func nthElement(q []item, first, nth, last int) {
	if first == last || nth == last {
		return
	}
	depth := 2 * (bits.Len(uint(last-first)) - 1)
	for last-first > 3 {
		if depth == 0 {
			heapSelect(q, first, nth+1, last)
			q[first], q[nth] = q[nth], q[first]
			return
		}
		depth--
		cut := partitionPivot(q, first, last)
		if cut <= nth {
			first = cut
		} else {
			last = cut
		}
	}
	insertionSort(q, first, last)
}

// partitionPivot is std::__unguarded_partition_pivot.
func partitionPivot(q []item, first, last int) int {
	mid := first + (last-first)/2
	moveMedianToFirst(q, first, first+1, mid, last-1)
	return unguardedPartition(q, first+1, last, first)
}

// moveMedianToFirst is std::__move_median_to_first(result, a, b, c).
func moveMedianToFirst(q []item, result, a, b, c int) {
	swap := func(x int) { q[result], q[x] = q[x], q[result] }
	switch {
	case less(q, a, b):
		switch {
		case less(q, b, c):
			swap(b)
		case less(q, a, c):
			swap(c)
		default:
			swap(a)
		}
	case less(q, a, c):
		swap(a)
	case less(q, b, c):
		swap(c)
	default:
		swap(b)
	}
}

// unguardedPartition is std::__unguarded_partition(first, last, pivot).
func unguardedPartition(q []item, first, last, pivot int) int {
	for {
		for less(q, first, pivot) {
			first++
		}
		last--
		for less(q, pivot, last) {
			last--
		}
		if first >= last {
			return first
		}
		q[first], q[last] = q[last], q[first]
		first++
	}
}

// insertionSort is std::__insertion_sort(first, last) with its
// __unguarded_linear_insert.
func insertionSort(q []item, first, last int) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		if q[i].v < q[first].v {
			v := q[i]
			copy(q[first+1:i+1], q[first:i])
			q[first] = v
			continue
		}
		v := q[i]
		j := i
		for v.v < q[j-1].v {
			q[j] = q[j-1]
			j--
		}
		q[j] = v
	}
}
