package postgres

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/internal/spool"
	"helpdesk/store/model"
)

// blobPrefix starts the name of a body kept in table blobs (Message.Blob):
// a bbolt store's names are paths under data_dir, so a migrated store
// tells the two apart.
const blobPrefix = "pg:"

// Spool receives one body: up to threshold bytes in memory, the rest in
// a temporary file (spool.Buffer), committed into table blobs
// (content-addressed) before the record naming it.
type Spool struct {
	spool.Buffer
	db *DB
}

var _ store.Spool = (*Spool)(nil)

// NewSpool starts a spool for one message. Close it when the message is
// handled: what Bytes returned must not be used after that.
func (db *DB) NewSpool(threshold int64) store.Spool {
	s := &Spool{db: db}
	s.Init(db.tmpDir, "helpdesk-spool-*", threshold)
	return s
}

// Commit stores a spooled body in table blobs (committed before it
// returns) and returns its name; "" for a body in memory.
func (s *Spool) Commit() (string, error) {
	f := s.File()
	if f == nil {
		return "", nil
	}
	name := blobPrefix + hex.EncodeToString(s.Sum())
	raw := make([]byte, s.Size())
	if _, err := f.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading spool file: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, "INSERT INTO blobs (name, size, raw) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING", name, s.Size(), raw); err != nil {
		return "", fmt.Errorf("storing a large body in PostgreSQL: %w", err)
	}
	return name, nil
}

// Close releases the spool and removes its temporary file.
func (s *Spool) Close() error { return s.Finish(false) }

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
		err = db.pool.QueryRow(ctx, "SELECT raw FROM messages WHERE id = $1 AND raw IS NOT NULL", int64(m.ID)).Scan(&raw)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("raw bytes of message %d: %w", m.ID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the raw bytes of message %d: %w", m.ID, err)
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}
