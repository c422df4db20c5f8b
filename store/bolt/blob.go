package bolt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/internal/spool"
	"helpdesk/store/model"
)

// Spool (store.Spool) receives a message body: the first threshold bytes in memory, the
// rest in a file under data_dir/tmp (spool.Buffer). Commit makes a spooled file durable as
// a content-addressed blob (file and directory fsync'd) before the message
// record that names it is committed, so a 250 never points at nothing.
type Spool struct {
	spool.Buffer
	dir       string
	committed bool
}

// NewSpool starts a spool for one message. Close it when the message is
// handled: what Bytes returned must not be used after that.
func (db *DB) NewSpool(threshold int64) store.Spool { return db.newSpool(threshold) }

func (db *DB) newSpool(threshold int64) *Spool {
	s := &Spool{dir: db.dir}
	s.Init(filepath.Join(db.dir, "tmp"), "spool-*", threshold)
	return s
}

// Commit fsyncs a spooled body and moves it to its blob path, returning
// the path relative to data_dir ("" when the body stays in memory, to be
// stored inside the database).
func (s *Spool) Commit() (string, error) {
	f := s.File()
	if f == nil {
		return "", nil
	}
	sum := hex.EncodeToString(s.Sum())
	rel := filepath.Join("blobs", sum[:2], sum+".eml")
	abs := filepath.Join(s.dir, rel)
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("fsync spool: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return "", fmt.Errorf("creating blob dir: %w", err)
	}
	if err := os.Rename(f.Name(), abs); err != nil {
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
func (s *Spool) Close() error { return s.Finish(s.committed) }

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
