package data

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestShareAttach: a database shared by Share and mapped by AttachMNIST is
// the same, byte for byte, and is what LoadMNIST returns for its folder,
// which holds no files; a file that is not a share is refused.
func TestShareAttach(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n, max int) []uint8 {
		b := make([]uint8, n)
		for i := range b {
			b[i] = uint8(rng.IntN(max))
		}
		return b
	}
	px := MNISTRows * MNISTCols
	m := &MNIST{TrainImages: fill(3*px, 256), TrainLabels: fill(3, 10), TestImages: fill(2*px, 256), TestLabels: fill(2, 10)}
	f, err := m.Share()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir() // empty: parsing it would fail
	if _, ok := CachedMNIST(dir); ok {
		t.Fatal("an unparsed folder is cached")
	}
	if err := AttachMNIST(f, dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := CachedMNIST(dir); !ok || c != got {
		t.Errorf("CachedMNIST after AttachMNIST: %v %v", c, ok)
	}
	for i, pair := range [][2][]uint8{{got.TrainImages, m.TrainImages}, {got.TrainLabels, m.TrainLabels}, {got.TestImages, m.TestImages}, {got.TestLabels, m.TestLabels}} {
		if !bytes.Equal(pair[0], pair[1]) {
			t.Errorf("part %d differs after Share and AttachMNIST", i)
		}
	}
	if got.NumTrain() != 3 || got.NumTest() != 2 || got.Dir != dir {
		t.Errorf("attached: %d train, %d test, dir %q", got.NumTrain(), got.NumTest(), got.Dir)
	}

	// A second Share is a new descriptor of the same file, written once:
	// it outlives the first one's closing and attaches as well.
	f2, err := m.Share()
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	fd1 := f.Fd()
	st1, err1 := f.Stat()
	f.Close()
	st2, err2 := f2.Stat()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if f2.Fd() == fd1 || !os.SameFile(st1, st2) {
		t.Errorf("second Share: descriptor %d (first %d), same file %v: want a new descriptor of the same file", f2.Fd(), fd1, os.SameFile(st1, st2))
	}
	dir2 := t.TempDir()
	if err := AttachMNIST(f2, dir2); err != nil {
		t.Fatal(err)
	}
	if got2, err := LoadMNIST(dir2); err != nil || !bytes.Equal(got2.TrainImages, m.TrainImages) {
		t.Errorf("second Share attached: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, bytes.Repeat([]byte("x"), 100), 0o644)
	bf, err := os.Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	if err := AttachMNIST(bf, t.TempDir()); err == nil {
		t.Error("AttachMNIST accepted a file that Share did not write")
	}
}
