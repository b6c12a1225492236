// MNIST's IDX files: parsing, and the per-process cache of parsed copies.

package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// DefaultMNISTDir is where `make data` puts the MNIST files, relative to
// the repository root.
const DefaultMNISTDir = "data/mnist"

// ErrMNIST is wrapped by every error about a missing, unreadable or
// malformed MNIST file.
var ErrMNIST = errors.New("data: mnist")

// IDX magic numbers: two zero bytes, the element type (0x08, unsigned byte)
// and the number of dimensions (LeCun et al., "FILE FORMATS FOR THE MNIST
// DATABASE", yann.lecun.com/exdb/mnist/).
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// MNISTRows and MNISTCols are the size of an MNIST image in pixels.
const (
	MNISTRows = 28
	MNISTCols = 28
)

// maxIDXCount bounds the example count an IDX header may claim (MNIST has
// 60,000 and 10,000), so that a corrupt header cannot ask for gigabytes.
const maxIDXCount = 1 << 20

// MNIST is the parsed MNIST database. It is immutable once returned: share
// it between goroutines and runs, never write to it.
type MNIST struct {
	Dir         string  // the directory it was read from
	TrainImages []uint8 // NumTrain×28×28 pixels, row-major, 0 (white) to 255
	TrainLabels []uint8 // NumTrain digits 0–9
	TestImages  []uint8 // NumTest×28×28
	TestLabels  []uint8 // NumTest digits 0–9

	share shareFile // Share's memfd, written on its first call
}

// NumTrain returns the number of training examples (60,000 for MNIST).
func (m *MNIST) NumTrain() int { return len(m.TrainLabels) }

// NumTest returns the number of test examples (10,000 for MNIST).
func (m *MNIST) NumTest() int { return len(m.TestLabels) }

// The four files under their names without ".gz".
const (
	trainImagesFile = "train-images-idx3-ubyte"
	trainLabelsFile = "train-labels-idx1-ubyte"
	testImagesFile  = "t10k-images-idx3-ubyte"
	testLabelsFile  = "t10k-labels-idx1-ubyte"
)

var mnistCache struct {
	sync.Mutex
	m map[string]*MNIST
}

// LoadMNIST returns the MNIST database in dir ("" means DefaultMNISTDir),
// parsing its files the first time a directory is asked for and returning
// the same shared, read-only value afterwards. Failures are not cached, so
// a later call after `make data` succeeds. It is safe for concurrent use.
func LoadMNIST(dir string) (*MNIST, error) {
	if dir == "" {
		dir = DefaultMNISTDir
	}
	key := cacheKey(dir)
	mnistCache.Lock()
	defer mnistCache.Unlock()
	if m, ok := mnistCache.m[key]; ok {
		return m, nil
	}
	m, err := ReadMNIST(dir)
	if err != nil {
		return nil, err
	}
	if mnistCache.m == nil {
		mnistCache.m = make(map[string]*MNIST)
	}
	mnistCache.m[key] = m
	return m, nil
}

// ReadMNIST parses the four MNIST files in dir, each either gzipped
// (NAME.gz, as `make data` stores them) or not (NAME), without caching.
// The error for a missing, truncated or malformed file wraps ErrMNIST,
// names the file and says to run "make data".
func ReadMNIST(dir string) (*MNIST, error) {
	if dir == "" {
		dir = DefaultMNISTDir
	}
	m := &MNIST{Dir: dir}
	var err error
	var trainImgPath, testImgPath, trainLblPath, testLblPath string
	if m.TrainImages, trainImgPath, err = readIDXFile(dir, trainImagesFile, idxImagesMagic); err != nil {
		return nil, err
	}
	if m.TrainLabels, trainLblPath, err = readIDXFile(dir, trainLabelsFile, idxLabelsMagic); err != nil {
		return nil, err
	}
	if m.TestImages, testImgPath, err = readIDXFile(dir, testImagesFile, idxImagesMagic); err != nil {
		return nil, err
	}
	if m.TestLabels, testLblPath, err = readIDXFile(dir, testLabelsFile, idxLabelsMagic); err != nil {
		return nil, err
	}
	const px = MNISTRows * MNISTCols
	if n, k := len(m.TrainImages)/px, len(m.TrainLabels); n != k {
		return nil, fmt.Errorf("%w: %s holds %d images but %s holds %d labels; run \"make data\" to fetch them again",
			ErrMNIST, trainImgPath, n, trainLblPath, k)
	}
	if n, k := len(m.TestImages)/px, len(m.TestLabels); n != k {
		return nil, fmt.Errorf("%w: %s holds %d images but %s holds %d labels; run \"make data\" to fetch them again",
			ErrMNIST, testImgPath, n, testLblPath, k)
	}
	return m, nil
}

// readIDXFile opens dir/name.gz, or else dir/name, and parses it as an IDX
// file with the given magic number. It returns the payload and the path
// it read.
func readIDXFile(dir, name string, magic uint32) ([]byte, string, error) {
	gz := filepath.Join(dir, name+".gz")
	raw := filepath.Join(dir, name)
	path := gz
	f, err := os.Open(gz)
	if errors.Is(err, os.ErrNotExist) {
		path = raw
		f, err = os.Open(raw)
		if errors.Is(err, os.ErrNotExist) {
			return nil, gz, fmt.Errorf("%w: %s not found (nor %s); run \"make data\" to fetch it", ErrMNIST, gz, raw)
		}
	}
	if err != nil {
		return nil, path, fmt.Errorf("%w: %v; run \"make data\" to fetch it", ErrMNIST, err)
	}
	defer f.Close()
	payload, err := parseIDXFile(f, magic)
	if err != nil {
		return nil, path, fmt.Errorf("%w: %s: %v; run \"make data\" to fetch it again", ErrMNIST, path, err)
	}
	return payload, path, nil
}

// parseIDXFile reads an IDX file from f, decompressing it when it starts
// with gzip's magic bytes whatever its name.
func parseIDXFile(f *os.File, magic uint32) ([]byte, error) {
	br := bufio.NewReaderSize(f, 1<<16)
	head, err := br.Peek(2)
	if err != nil && len(head) < 2 {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty or truncated file")
		}
		return nil, err
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		hint := gzipSizeHint(f)
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		defer zr.Close()
		return parseIDX(zr, magic, hint)
	}
	hint := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		hint = st.Size()
	}
	return parseIDX(br, magic, hint)
}

// gzipSizeHint returns the uncompressed size a gzip file's trailer records
// (ISIZE, RFC 1952 §2.3.1), or -1. It only sizes the first allocation;
// nothing trusts it.
func gzipSizeHint(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < 18 {
		return -1
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], st.Size()-4); err != nil {
		return -1
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}

// parseIDX parses the decompressed IDX stream r: a big-endian magic number,
// then the count (and for images rows and columns), then the bytes. It
// returns the bytes: the images (count×28×28) or the labels (each checked
// to be 0–9). Exactly the bytes the header announces must follow. size is
// the stream's total length if known (else -1); it lets a well-formed file
// be read into one allocation of the right size.
func parseIDX(r io.Reader, magic uint32, size int64) ([]byte, error) {
	hdrLen := 8
	if magic == idxImagesMagic {
		hdrLen = 16
	}
	var hdr [16]byte
	if n, err := io.ReadFull(r, hdr[:hdrLen]); err != nil {
		return nil, fmt.Errorf("truncated header: %d of %d bytes", n, hdrLen)
	}
	if got := binary.BigEndian.Uint32(hdr[0:4]); got != magic {
		return nil, fmt.Errorf("bad magic number 0x%08x, want 0x%08x", got, magic)
	}
	count := binary.BigEndian.Uint32(hdr[4:8])
	if count > maxIDXCount {
		return nil, fmt.Errorf("header claims %d examples, more than the %d allowed", count, maxIDXCount)
	}
	need := int64(count)
	if magic == idxImagesMagic {
		rows, cols := binary.BigEndian.Uint32(hdr[8:12]), binary.BigEndian.Uint32(hdr[12:16])
		if rows != MNISTRows || cols != MNISTCols {
			return nil, fmt.Errorf("images are %d×%d, want %d×%d", rows, cols, MNISTRows, MNISTCols)
		}
		need *= MNISTRows * MNISTCols
	}
	buf, err := readPayload(r, need, size-int64(hdrLen))
	if err != nil {
		return nil, err
	}
	if magic == idxLabelsMagic {
		for i, l := range buf {
			if l > 9 {
				return nil, fmt.Errorf("label %d of example %d is not a digit 0–9", l, i)
			}
		}
	}
	return buf, nil
}

// readPayload reads exactly need bytes from r and checks that nothing
// follows (which, for gzip, also verifies the checksum). hint is the
// payload length the container suggests, or negative.
func readPayload(r io.Reader, need, hint int64) ([]byte, error) {
	// Allocate everything at once only when the container agrees;
	// otherwise grow as bytes arrive, so a lying header costs nothing.
	c := min(need, 1<<16)
	if hint == need {
		c = need
	}
	buf := make([]byte, 0, c)
	for int64(len(buf)) < need {
		if len(buf) == cap(buf) {
			nc := min(need, 2*int64(cap(buf)))
			nb := make([]byte, len(buf), nc)
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("truncated: %d of the %d data bytes the header announces", len(buf), need)
		}
		if err != nil {
			return nil, err
		}
	}
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return nil, fmt.Errorf("data continues past the %d bytes the header announces", need)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, errors.New("truncated: the compressed stream stops before its trailer")
	}
	if !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf, nil
}
