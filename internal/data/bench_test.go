package data

import "testing"

// BenchmarkTrainBatch fills batches of 64, the size the training
// benchmarks use, walking through epochs so that MNIST's per-epoch
// shuffle is counted too.
func BenchmarkTrainBatch(b *testing.B) {
	const bs = 64
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"mnist", Options{Dir: realMNISTDir, TrainSize: 60000, TestSize: 10000, TrainEvalSize: 1000, Seed: 1}},
		{"addition-T100", Options{TrainSize: 10000, TestSize: 1000, TrainEvalSize: 1000, SeqLen: 100, Seed: 1}},
		{"temporal-order-T100", Options{TrainSize: 10000, TestSize: 1000, TrainEvalSize: 1000, SeqLen: 100, Seed: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			name := c.name
			if name != "mnist" {
				name = name[:len(name)-len("-T100")]
			} else {
				realMNIST(b)
			}
			ds := mustLoad(b, name, c.o)
			nb := ds.NumTrainBatches(bs)
			var batch Batch
			ds.TrainBatch(&batch, 0, 0, bs)
			batch.X = make([]float32, 0, bs*max(784, 110*6))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ds.TrainBatch(&batch, i/nb, i%nb, bs)
				i++
			}
		})
	}
}

// BenchmarkReadMNIST parses the four real files, without the cache.
func BenchmarkReadMNIST(b *testing.B) {
	realMNIST(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadMNIST(realMNISTDir); err != nil {
			b.Fatal(err)
		}
	}
}
