package bolt

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store/model"
)

// Backup writes a consistent online backup as a tar archive laid out like
// data_dir: helpdesk.db (a snapshot taken in one read transaction, so it
// is consistent while the daemon keeps writing) and every blob that
// snapshot references. Blobs are immutable and fsync'd before the record
// naming them commits, so each one exists. Restore with Restore (helpdesk
// restore), or by extracting the
// archive into an empty data_dir: tar -xf FILE -C data_dir.
func (db *DB) Backup(w io.Writer) (files int, err error) {
	tw := tar.NewWriter(w)
	var blobs []string
	err = db.view(func(btx *bbolt.Tx) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: "helpdesk.db", Mode: 0o600, Size: btx.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := btx.WriteTo(tw); err != nil {
			return fmt.Errorf("writing database snapshot: %w", err)
		}
		tx := &Tx{tx: btx, db: db}
		return tx.ForEachMessage(func(m *model.Message) error {
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

// Restore extracts a backup written by Backup into dir, which must not
// hold a store yet. Names that would leave dir are refused.
func Restore(r io.Reader, dir string) (files int, err error) {
	if _, err := os.Stat(filepath.Join(dir, "helpdesk.db")); err == nil {
		return 0, fmt.Errorf("%s already holds a store: restore into an empty directory", dir)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files, fmt.Errorf("reading backup: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if h.Typeflag != tar.TypeReg || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return files, fmt.Errorf("backup entry %q is not a file inside the data directory", h.Name)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return files, err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return files, err
		}
		_, err = io.Copy(f, tr)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return files, fmt.Errorf("restoring %s: %w", h.Name, err)
		}
		files++
	}
	if files == 0 {
		return 0, fmt.Errorf("the backup holds no files")
	}
	return files, syncDir(dir)
}
