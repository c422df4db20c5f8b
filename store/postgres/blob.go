package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
)

// blobPrefix starts the name of a body kept in table blobs (Message.Blob):
// a bbolt store's names are paths under data_dir, so a migrated store
// tells the two apart.
const blobPrefix = "pg:"

// Spool receives one body: up to threshold bytes in memory, the rest in a
// temporary file, committed into table blobs (content-addressed) before
// the record naming it.
type Spool struct {
	db        *DB
	threshold int64
	buf       bytes.Buffer
	f         *os.File
	n         int64
	h         hash.Hash
}

var _ store.Spool = (*Spool)(nil)

// NewSpool starts a spool for one message.
func (db *DB) NewSpool(threshold int64) store.Spool { return &Spool{db: db, threshold: threshold} }

// Write implements io.Writer.
func (s *Spool) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.f == nil && int64(s.buf.Len()+len(p)) <= s.threshold {
		return s.buf.Write(p)
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.db.tmpDir, "helpdesk-spool-*")
		if err != nil {
			return 0, fmt.Errorf("creating spool file: %w", err)
		}
		s.f = f
		s.h = sha256.New()
		s.h.Write(s.buf.Bytes())
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, fmt.Errorf("writing spool file: %w", err)
		}
		s.buf = bytes.Buffer{}
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

// Reader reads the whole body from the start.
func (s *Spool) Reader() (io.Reader, error) {
	if s.f == nil {
		return bytes.NewReader(s.buf.Bytes()), nil
	}
	return io.NewSectionReader(s.f, 0, s.n), nil
}

// Commit stores a spooled body in table blobs (committed before it
// returns) and returns its name; "" for a body in memory.
func (s *Spool) Commit() (string, error) {
	if s.f == nil {
		return "", nil
	}
	name := blobPrefix + hex.EncodeToString(s.h.Sum(nil))
	raw := make([]byte, s.n)
	if _, err := s.f.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading spool file: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, "INSERT INTO blobs (name, size, raw) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING", name, s.n, raw); err != nil {
		return "", fmt.Errorf("storing a large body in PostgreSQL: %w", err)
	}
	return name, nil
}

// Close releases the spool and its temporary file.
func (s *Spool) Close() error {
	if s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	os.Remove(name)
	s.f = nil
	return err
}

// OpenRaw opens the raw bytes of a stored message.
func (db *DB) OpenRaw(m *model.Message) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	var raw []byte
	var err error
	if m.Blob != "" {
		if !strings.HasPrefix(m.Blob, blobPrefix) {
			return nil, fmt.Errorf("message %d names the blob %q, not one of this store's", m.ID, m.Blob)
		}
		err = db.pool.QueryRow(ctx, "SELECT raw FROM blobs WHERE name = $1", m.Blob).Scan(&raw)
	} else {
		err = db.pool.QueryRow(ctx, "SELECT raw FROM message_raw WHERE id = $1", int64(m.ID)).Scan(&raw)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("raw bytes of message %d: %w", m.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the raw bytes of message %d: %w", m.ID, err)
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}
