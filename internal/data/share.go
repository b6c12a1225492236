// Sharing the parsed MNIST database with child processes (runner run's
// worker processes), so that each does not parse the files again.

package data

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// shareMagic opens a file written by Share.
var shareMagic = []byte("cliplab mnist 1\n")

// CachedMNIST returns the MNIST database of dir if LoadMNIST has parsed it
// in this process already; it never reads the files.
func CachedMNIST(dir string) (*MNIST, bool) {
	mnistCache.Lock()
	defer mnistCache.Unlock()
	m, ok := mnistCache.m[cacheKey(dir)]
	return m, ok
}

// Share returns a descriptor of an anonymous in-memory file (memfd)
// holding m for a child process (exec.Cmd.ExtraFiles), which maps it with
// AttachMNIST: parsing the gzipped files costs about 0.45 s and 55 MB in
// every process, mapping the file neither. The file is written once per m,
// on the first call (about 30 ms for MNIST's 55 MB), and kept while m is
// (LoadMNIST's m: as long as the process), so a process that shares holds
// MNIST twice, 110 MB. Each call returns a new descriptor of it (all share
// one offset, at the end: AttachMNIST maps, it does not read), which the
// caller closes once the children have started. A caller that will start
// children calls it early, in the background, so that they need not wait
// for the writing.
func (m *MNIST) Share() (*os.File, error) {
	m.share.once.Do(func() { m.share.f, m.share.err = m.writeShare() })
	if m.share.err != nil {
		return nil, m.share.err
	}
	fd, err := unix.FcntlInt(m.share.f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("share mnist: %w", err)
	}
	return os.NewFile(uintptr(fd), m.share.f.Name()), nil
}

// shareFile is the memfd Share writes m into, once.
type shareFile struct {
	once sync.Once
	f    *os.File
	err  error
}

// writeShare writes m into a new memfd: shareMagic, the four parts'
// lengths, then the parts.
func (m *MNIST) writeShare() (*os.File, error) {
	fd, err := unix.MemfdCreate("cliplab-mnist", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("share mnist: %w", err)
	}
	f := os.NewFile(uintptr(fd), "cliplab-mnist")
	var head bytes.Buffer
	head.Write(shareMagic)
	parts := [][]uint8{m.TrainImages, m.TrainLabels, m.TestImages, m.TestLabels}
	for _, p := range parts {
		binary.Write(&head, binary.LittleEndian, uint64(len(p)))
	}
	_, err = f.Write(head.Bytes())
	for _, p := range parts {
		if err == nil {
			_, err = f.Write(p)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("share mnist: %w", err)
	}
	return f, nil
}

// AttachMNIST maps f, written by Share, read-only into this process and
// makes it what LoadMNIST(dir) returns here from now on, without reading
// dir's files. The mapping lasts as long as the process; f may be closed.
func AttachMNIST(f *os.File, dir string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("attach mnist: %w", err)
	}
	head := len(shareMagic) + 4*8
	if st.Size() < int64(head) {
		return fmt.Errorf("attach mnist: %s holds %d bytes, not a shared MNIST", f.Name(), st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("attach mnist: %w", err)
	}
	if !bytes.Equal(b[:len(shareMagic)], shareMagic) {
		syscall.Munmap(b)
		return fmt.Errorf("attach mnist: %s is not a shared MNIST", f.Name())
	}
	m := &MNIST{Dir: dir}
	parts := []*[]uint8{&m.TrainImages, &m.TrainLabels, &m.TestImages, &m.TestLabels}
	off := head
	for i, p := range parts {
		n := binary.LittleEndian.Uint64(b[len(shareMagic)+8*i:])
		if n > uint64(len(b)-off) {
			syscall.Munmap(b)
			return fmt.Errorf("attach mnist: %s is truncated", f.Name())
		}
		*p = b[off : off+int(n) : off+int(n)]
		off += int(n)
	}
	if len(m.TrainImages) != m.NumTrain()*MNISTRows*MNISTCols || len(m.TestImages) != m.NumTest()*MNISTRows*MNISTCols {
		syscall.Munmap(b)
		return fmt.Errorf("attach mnist: %s: image and label counts disagree", f.Name())
	}
	mnistCache.Lock()
	defer mnistCache.Unlock()
	if mnistCache.m == nil {
		mnistCache.m = make(map[string]*MNIST)
	}
	mnistCache.m[cacheKey(dir)] = m
	return nil
}

// cacheKey is the key of dir in mnistCache: its absolute path.
func cacheKey(dir string) string {
	if dir == "" {
		dir = DefaultMNISTDir
	}
	key, err := filepath.Abs(dir)
	if err != nil {
		key = filepath.Clean(dir)
	}
	return key
}
