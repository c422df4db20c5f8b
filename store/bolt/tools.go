package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// What other packages need of the bbolt file itself (a consistency
// check, a damaged record for a test, the bench's yardstick), here so
// that nothing outside the store packages imports bbolt.

// Verify runs bbolt's consistency check on the store in dir, opened
// read-only (no daemon may hold it), and returns what it found.
func Verify(dir string) ([]error, error) {
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening the store for its check: %w", err)
	}
	defer bdb.Close()
	var found []error
	err = bdb.View(func(tx *bbolt.Tx) error {
		for e := range tx.Check() {
			found = append(found, e)
		}
		return nil
	})
	return found, err
}

// DamageComment overwrites the stored record of a comment with bytes
// that do not decode, in the closed store in dir: tests of what fails
// closed when a record cannot be read use it.
func DamageComment(dir string, ticket uint64, id uint32) error {
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bComments)
		k := ckey(ticket, id)
		if b == nil || b.Get(k) == nil {
			return fmt.Errorf("comment %d of ticket %d: %w", id, ticket, errors.New("not stored under its key"))
		}
		return b.Put(k, []byte("{not json"))
	})
}

// SchemaOf reads the schema version recorded in the closed store in dir
// (0: none), without migrating or refusing anything: tests of upgrades.
func SchemaOf(dir string) (int, error) {
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, &bbolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return 0, err
	}
	defer bdb.Close()
	v := 0
	err = bdb.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bMeta); b != nil {
			if raw := b.Get([]byte("schema_version")); len(raw) == 8 {
				v = int(binary.BigEndian.Uint64(raw))
			}
		}
		return nil
	})
	return v, err
}

// SetSchemaVersion records v as the schema version of the closed store
// in dir, as a binary of that version would have: tests of refusals.
func SetSchemaVersion(dir string, v int) error {
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		return b.Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, uint64(v)))
	})
}

// RawLog is the bench's reference storage: raw messages appended to a
// bbolt file with the store's options and commit strategy (one
// transaction, one fsync per group) and nothing else.
type RawLog struct{ bdb *bbolt.DB }

var rawLogBucket = []byte("raw")

// OpenRawLog opens (creating) dir/name.
func OpenRawLog(dir, name string) (*RawLog, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	bopt := boltOptions()
	bopt.Timeout = 2 * time.Second
	bdb, err := bbolt.Open(filepath.Join(dir, name), 0o600, bopt)
	if err != nil {
		return nil, err
	}
	bdb.AllocSize = allocSize
	if err := bdb.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(rawLogBucket)
		return err
	}); err != nil {
		bdb.Close()
		return nil, err
	}
	return &RawLog{bdb: bdb}, nil
}

// Append stores a group of messages in one transaction (one commit).
func (l *RawLog) Append(raws [][]byte) error {
	return l.bdb.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(rawLogBucket)
		for _, raw := range raws {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq)
			if err := b.Put(k[:], raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count is the number of stored messages.
func (l *RawLog) Count() int {
	n := 0
	l.bdb.View(func(tx *bbolt.Tx) error { n = tx.Bucket(rawLogBucket).Stats().KeyN; return nil })
	return n
}

// Close closes the file.
func (l *RawLog) Close() error { return l.bdb.Close() }
