package bolt

import (
	"errors"
	"fmt"
	"os"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/testhook"
)

// Compact rewrites the store file without free pages (bbolt.Compact into
// a new file, then an atomic rename over the old one), online: it runs
// on the writer goroutine, so no write commits meanwhile and writes
// requested meanwhile wait for it (mail gets its 250 once its write has
// committed to the new file). Readers keep reading the old file until
// the swap and finish on it. Freed pages keep the bytes of deleted
// records until bbolt reuses them: after an erase only a compaction
// takes them off the disk.
func (db *DB) Compact() (store.CompactResult, error) {
	var res store.CompactResult
	err := db.exclusive(func() error {
		var err error
		res, err = db.compact()
		return err
	})
	return res, err
}

// Side files of a compaction in progress; Open removes what a crash left.
const (
	compactSuffix = ".compact" // the new file being written
	oldSuffix     = ".old"     // a second name of the old file until the new one is open
)

func (db *DB) compact() (store.CompactResult, error) {
	t0 := time.Now()
	src := db.bdb()
	path := src.Path()
	var res store.CompactResult
	st, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("compacting: %w", err)
	}
	res.Before = st.Size()
	fs := src.Stats()
	res.FreeBefore = int64(fs.FreePageN+fs.PendingPageN) * int64(src.Info().PageSize)
	tmp := path + compactSuffix
	os.Remove(tmp)
	// The new file grows only as far as its data: no initial mapping
	// that would round its size up.
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: 2 * time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return res, fmt.Errorf("compacting: creating %s: %w", tmp, err)
	}
	if err := bbolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return res, fmt.Errorf("compacting: copying into %s: %w", tmp, err)
	}
	// bbolt grows a file in steps (up to 16 MiB beyond its data): the
	// compacted file is cut to its last page, or it could come out larger
	// than a store with little free space.
	var used int64
	dst.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil })
	if err := dst.Close(); err != nil { // every commit was fsync'd
		os.Remove(tmp)
		return res, fmt.Errorf("compacting: closing %s: %w", tmp, err)
	}
	if err := truncateSync(tmp, used); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("compacting: %w", err)
	}
	testhook.Hold("compact")
	// The old file keeps a second name until the new one opened, so a
	// failure to open it can put the old one back.
	old := path + oldSuffix
	os.Remove(old)
	if err := os.Link(path, old); err != nil {
		os.Remove(tmp)
		return res, fmt.Errorf("compacting: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		os.Remove(old)
		return res, fmt.Errorf("compacting: replacing the store file: %w", err)
	}
	bopt := boltOptions()
	bopt.Timeout = 2 * time.Second
	nb, err := bbolt.Open(path, 0o600, bopt)
	if err != nil {
		// The writer goes on with the old file, under its own name again.
		if rerr := os.Rename(old, path); rerr != nil {
			return res, fmt.Errorf("compacting: opening the compacted file: %w; putting the old one back: %w", err, rerr)
		}
		syncDir(db.dir)
		return res, fmt.Errorf("compacting: opening the compacted file (the old one stays): %w", err)
	}
	nb.AllocSize = allocSize
	os.Remove(old)
	if err := syncDir(db.dir); err != nil {
		nb.Close()
		return res, errors.Join(fmt.Errorf("compacting: the compacted file is in place, but the directory could not be synced"), err)
	}
	db.cur.Store(nb)
	// Readers still on the old file finish there; bbolt's Close waits
	// for them, and the writer does not.
	db.oldWG.Add(1)
	go func() {
		defer db.oldWG.Done()
		src.Close()
	}()
	if st, err := os.Stat(path); err == nil {
		res.After = st.Size()
	}
	res.Took = time.Since(t0)
	return res, nil
}

// removeCompactLeftovers removes the side files of a compaction a crash
// interrupted: a new file not yet renamed, or the old file's second
// name (the store file itself is complete either way).
func removeCompactLeftovers(path string) {
	os.Remove(path + compactSuffix)
	os.Remove(path + oldSuffix)
}

// truncateSync cuts the file at path to size bytes (if larger) and
// fsyncs it.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && size > 0 && st.Size() > size {
		if err := f.Truncate(size); err != nil {
			return err
		}
	}
	return f.Sync()
}
