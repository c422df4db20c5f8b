package store

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent online backup as a tar archive laid out like
// data_dir: helpdesk.db (a snapshot taken in one read transaction, so it
// is consistent while the daemon keeps writing) and every blob that
// snapshot references. Blobs are immutable and fsync'd before the record
// naming them commits, so each one exists. Restore by extracting the
// archive into an empty data_dir: tar -xf FILE -C data_dir.
func (db *DB) Backup(w io.Writer) (files int, err error) {
	tw := tar.NewWriter(w)
	var blobs []string
	err = db.bolt.View(func(btx *bolt.Tx) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: "helpdesk.db", Mode: 0o600, Size: btx.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := btx.WriteTo(tw); err != nil {
			return fmt.Errorf("writing database snapshot: %w", err)
		}
		tx := &Tx{tx: btx, db: db}
		return tx.ForEachMessage(func(m *Message) error {
			if m.Blob != "" {
				blobs = append(blobs, m.Blob)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	files = 1
	seen := map[string]bool{}
	for _, rel := range blobs {
		if seen[rel] {
			continue
		}
		seen[rel] = true
		if err := addFile(tw, filepath.Join(db.dir, rel), filepath.ToSlash(rel)); err != nil {
			return files, err
		}
		files++
	}
	return files, tw.Close()
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backing up %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
