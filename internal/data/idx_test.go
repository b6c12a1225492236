package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// idxBytes returns an IDX file: magic, the dimensions, then payload.
func idxBytes(magic uint32, dims []uint32, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(payload)
	return b.Bytes()
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeImages returns n images whose first two pixels encode their index
// (j%256, j/256) and whose other pixels are (j+p)%256.
func fakeImages(n int) []byte {
	px := make([]byte, n*mnistPixels)
	for j := range n {
		img := px[j*mnistPixels : (j+1)*mnistPixels]
		for p := range img {
			img[p] = byte(j + p)
		}
		img[0], img[1] = byte(j%256), byte(j/256)
	}
	return px
}

func fakeLabels(n int) []byte {
	l := make([]byte, n)
	for j := range l {
		l[j] = byte((j * 7) % 10)
	}
	return l
}

// fakeFiles are the four files of a small MNIST with nTrain and nTest
// examples, keyed by name without ".gz".
func fakeFiles(nTrain, nTest int) map[string][]byte {
	return map[string][]byte{
		trainImagesFile: idxBytes(idxImagesMagic, []uint32{uint32(nTrain), 28, 28}, fakeImages(nTrain)),
		trainLabelsFile: idxBytes(idxLabelsMagic, []uint32{uint32(nTrain)}, fakeLabels(nTrain)),
		testImagesFile:  idxBytes(idxImagesMagic, []uint32{uint32(nTest), 28, 28}, fakeImages(nTest)),
		testLabelsFile:  idxBytes(idxLabelsMagic, []uint32{uint32(nTest)}, fakeLabels(nTest)),
	}
}

// writeFiles writes files into a fresh directory, gzipped if gz, and
// returns the directory.
func writeFiles(t testing.TB, files map[string][]byte, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	for name, raw := range files {
		if raw == nil {
			continue
		}
		if gz {
			name, raw = name+".gz", gzipBytes(t, raw)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadMNISTSmall(t *testing.T) {
	for _, gz := range []bool{true, false} {
		dir := writeFiles(t, fakeFiles(37, 11), gz)
		m, err := ReadMNIST(dir)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if m.NumTrain() != 37 || m.NumTest() != 11 {
			t.Fatalf("gz=%v: %d train, %d test; want 37, 11", gz, m.NumTrain(), m.NumTest())
		}
		if !bytes.Equal(m.TrainImages, fakeImages(37)) || !bytes.Equal(m.TestLabels, fakeLabels(11)) {
			t.Errorf("gz=%v: payload differs from what was written", gz)
		}
	}
}

// TestReadMNISTErrors checks that every broken file gives an error that
// wraps ErrMNIST, names the file, and says how to fetch it.
func TestReadMNISTErrors(t *testing.T) {
	good := fakeFiles(20, 5)
	trainImg := good[trainImagesFile]
	tests := []struct {
		name   string
		file   string // the file that is broken and must be named
		data   []byte // its contents; nil: absent
		gz     bool
		reason string // a phrase the error must contain
	}{
		{"missing", trainImagesFile, nil, true, "not found"},
		{"missing raw", testLabelsFile, nil, false, "not found"},
		{"empty", trainLabelsFile, []byte{}, false, "empty"},
		{"short header", trainImagesFile, trainImg[:10], false, "truncated header"},
		{"truncated", trainImagesFile, trainImg[:len(trainImg)-100], false, "truncated"},
		{"truncated gz", trainImagesFile, trainImg[:len(trainImg)-100], true, "truncated"},
		{"trailing", testImagesFile, append(append([]byte{}, good[testImagesFile]...), 0), false, "continues past"},
		{"labels magic on images", trainImagesFile, idxBytes(idxLabelsMagic, []uint32{20, 28, 28}, fakeImages(20)), false, "bad magic"},
		{"images magic on labels", trainLabelsFile, idxBytes(idxImagesMagic, []uint32{20}, fakeLabels(20)), true, "bad magic"},
		{"wrong size", testImagesFile, idxBytes(idxImagesMagic, []uint32{5, 32, 32}, make([]byte, 5*32*32)), false, "32×32"},
		{"huge count", trainImagesFile, idxBytes(idxImagesMagic, []uint32{1 << 30, 28, 28}, nil), false, "more than"},
		{"label not a digit", testLabelsFile, idxBytes(idxLabelsMagic, []uint32{5}, []byte{1, 2, 10, 3, 4}), false, "not a digit"},
		{"count mismatch", trainLabelsFile, idxBytes(idxLabelsMagic, []uint32{19}, fakeLabels(19)), true, "holds 19 labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range good {
				files[k] = v
			}
			files[tt.file] = tt.data
			dir := writeFiles(t, files, tt.gz)
			_, err := ReadMNIST(dir)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !errors.Is(err, ErrMNIST) {
				t.Errorf("error does not wrap ErrMNIST: %v", err)
			}
			if !strings.Contains(msg, filepath.Join(dir, tt.file)) {
				t.Errorf("error does not name %s: %v", tt.file, err)
			}
			if !strings.Contains(msg, `run "make data"`) {
				t.Errorf("error does not say to run make data: %v", err)
			}
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error does not say %q: %v", tt.reason, err)
			}
		})
	}
}

// TestReadMNISTDamagedGzip damages the compressed file itself: cut short
// (a download that stopped), or with a flipped byte in the trailer's CRC-32.
func TestReadMNISTDamagedGzip(t *testing.T) {
	tests := []struct {
		name   string
		damage func([]byte) []byte
		reason string
	}{
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"cut before trailer", func(b []byte) []byte { return b[:len(b)-8] }, "truncated"},
		{"crc flipped", func(b []byte) []byte { b[len(b)-6] ^= 0xff; return b }, "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, fakeFiles(20, 5), true)
			path := filepath.Join(dir, trainImagesFile+".gz")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = ReadMNIST(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range []string{path, `run "make data"`, tt.reason} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q: %v", want, err)
				}
			}
		})
	}
}

func TestLoadMNISTShared(t *testing.T) {
	dir := writeFiles(t, fakeFiles(10, 3), true)
	const n = 8
	got := make([]*MNIST, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := LoadMNIST(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		})
	}
	wg.Wait()
	for i := range n {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("call %d got a different copy (%p, %p)", i, got[i], got[0])
		}
	}
	// A failure is not cached: the directory works once filled.
	empty := t.TempDir()
	if _, err := LoadMNIST(empty); err == nil {
		t.Fatal("empty directory: no error")
	}
	for name, raw := range fakeFiles(4, 2) {
		if err := os.WriteFile(filepath.Join(empty, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := LoadMNIST(empty); err != nil || m.NumTrain() != 4 {
		t.Fatalf("after filling: %v", err)
	}
}

// FuzzParseIDX checks that no input makes the parser panic, and that what
// it accepts is exactly what the header announces.
func FuzzParseIDX(f *testing.F) {
	f.Add(idxBytes(idxImagesMagic, []uint32{2, 28, 28}, fakeImages(2)))
	f.Add(idxBytes(idxLabelsMagic, []uint32{3}, []byte{0, 9, 4}))
	f.Add(idxBytes(idxLabelsMagic, []uint32{3}, []byte{0, 9}))
	f.Add(idxBytes(idxImagesMagic, []uint32{1 << 19, 28, 28}, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, magic := range []uint32{idxImagesMagic, idxLabelsMagic} {
			for _, hint := range []int64{int64(len(b)), -1} {
				p, err := parseIDX(bytes.NewReader(b), magic, hint)
				if err != nil {
					continue
				}
				hdr := 8
				if magic == idxImagesMagic {
					hdr = 16
				}
				if len(p) != len(b)-hdr {
					t.Fatalf("accepted %d payload bytes from a %d-byte file", len(p), len(b))
				}
				n := int(binary.BigEndian.Uint32(b[4:8]))
				if magic == idxImagesMagic {
					n *= mnistPixels
				}
				if len(p) != n {
					t.Fatalf("header announces %d bytes, got %d", n, len(p))
				}
			}
		}
	})
}
