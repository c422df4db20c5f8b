package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Spool (store.Spool) receives a message body: the first threshold bytes in memory, the
// rest in a file under data_dir/tmp. Commit makes a spooled file durable as
// a content-addressed blob (file and directory fsync'd) before the message
// record that names it is committed, so a 250 never points at nothing.
type Spool struct {
	dir       string
	threshold int64
	buf       bytes.Buffer
	f         *os.File
	n         int64
	hash      []byte
	h         hashWriter
	committed bool
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// spoolStart is the memory a spool starts with: most mail fits, so the
// buffer is not regrown while the body arrives.
const spoolStart = 8 << 10

// spoolKeep is the largest in-memory buffer Close hands to the next
// spool: mail arrives all the time, and a new buffer per message is
// most of what a delivery allocates.
const spoolKeep = 64 << 10

var spoolBufs sync.Pool // of *[]byte, capacity spoolStart to spoolKeep

// NewSpool starts a spool for one message. Close it when the message is
// handled: what Bytes returned must not be used after that.
func (db *DB) NewSpool(threshold int64) store.Spool { return db.newSpool(threshold) }

func (db *DB) newSpool(threshold int64) *Spool {
	s := &Spool{dir: db.dir, threshold: threshold}
	if bp, _ := spoolBufs.Get().(*[]byte); bp != nil {
		s.buf = *bytes.NewBuffer((*bp)[:0])
	} else {
		s.buf.Grow(int(min(threshold, spoolStart)))
	}
	return s
}

// release hands the memory buffer back for the next spool.
func (s *Spool) release() {
	b := s.buf.Bytes()
	s.buf = bytes.Buffer{}
	if c := cap(b); c >= spoolStart && c <= spoolKeep {
		b = b[:0]
		spoolBufs.Put(&b)
	}
}

// Write implements io.Writer.
func (s *Spool) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.f == nil && int64(s.buf.Len()+len(p)) <= s.threshold {
		return s.buf.Write(p)
	}
	if s.f == nil {
		f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "spool-*")
		if err != nil {
			return 0, fmt.Errorf("creating spool file: %w", err)
		}
		s.f = f
		// Only a spooled body needs its hash (it names the blob): the
		// hashing starts here, with what was held in memory.
		s.h = sha256.New()
		s.h.Write(s.buf.Bytes())
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, fmt.Errorf("writing spool file: %w", err)
		}
		s.release()
	}
	s.h.Write(p)
	if _, err := s.f.Write(p); err != nil {
		return 0, fmt.Errorf("writing spool file: %w", err)
	}
	return len(p), nil
}

// Size is the number of bytes written.
func (s *Spool) Size() int64 { return s.n }

// Spooled reports whether the body went to a file.
func (s *Spool) Spooled() bool { return s.f != nil }

// Bytes returns the in-memory body (nil when spooled).
func (s *Spool) Bytes() []byte {
	if s.f != nil {
		return nil
	}
	return s.buf.Bytes()
}

// Reader reads the whole message from the start.
func (s *Spool) Reader() (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.buf.Bytes()), nil
	}
	return io.NewSectionReader(s.f, 0, s.n), nil
}

// Commit fsyncs a spooled body and moves it to its blob path, returning
// the path relative to data_dir ("" when the body stays in memory, to be
// stored inside the database).
func (s *Spool) Commit() (string, error) {
	if s.f == nil {
		return "", nil
	}
	if s.hash == nil {
		s.hash = s.h.Sum(nil)
	}
	sum := hex.EncodeToString(s.hash)
	rel := filepath.Join("blobs", sum[:2], sum+".eml")
	abs := filepath.Join(s.dir, rel)
	if err := s.f.Sync(); err != nil {
		return "", fmt.Errorf("fsync spool: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return "", fmt.Errorf("creating blob dir: %w", err)
	}
	if err := os.Rename(s.f.Name(), abs); err != nil {
		return "", fmt.Errorf("moving spool to blob: %w", err)
	}
	s.committed = true
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Join(s.dir, "blobs")); err != nil {
		return "", err
	}
	return rel, nil
}

// Close releases the spool; an uncommitted spool file is removed.
func (s *Spool) Close() error {
	if s.f == nil {
		s.release()
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	if !s.committed {
		os.Remove(name)
	}
	s.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// OpenRaw opens the raw bytes of a stored message.
func (db *DB) OpenRaw(m *model.Message) (io.ReadCloser, error) {
	if m.Blob != "" {
		f, err := os.Open(filepath.Join(db.dir, filepath.Clean(m.Blob)))
		if err != nil {
			return nil, fmt.Errorf("opening blob of message %d: %w", m.ID, err)
		}
		return f, nil
	}
	var raw []byte
	err := db.view(func(btx *bbolt.Tx) error {
		raw = (&Tx{tx: btx, db: db}).RawInline(m.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("raw bytes of message %d: %w", m.ID, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}
