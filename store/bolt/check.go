package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
)

// ErrDamaged marks a store file that is refused before bbolt maps it.
var ErrDamaged = errors.New("store file damaged")

// The layout of a bbolt meta page (go.etcd.io/bbolt internal/common,
// file format version 2), in the byte order of the machine that wrote
// it: a 16-byte page header (id u64, flags u16, count u16, overflow u32),
// then the meta: magic u32, version u32, pageSize u32, flags u32, root
// bucket (root pgid u64, sequence u64), freelist pgid u64, pgid u64 (the
// high-water mark: pages 0..pgid-1 are in use), txid u64, and checksum
// u64, the FNV-64a of the meta bytes before it. Pages 0 and 1 are the two
// meta pages; bbolt uses the valid one with the higher txid.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	boltMetaOffset  = 16
	boltMetaSumFrom = boltMetaOffset
	boltMetaSumTo   = boltMetaOffset + 56
	boltMetaLen     = boltMetaSumTo + 8
)

type boltMeta struct {
	pageSize uint32
	freelist uint64
	root     uint64
	pgid     uint64
	txid     uint64
}

// parseBoltMeta decodes and validates the meta at the start of page; ok is
// false when its magic, version or checksum is wrong.
func parseBoltMeta(page []byte) (m boltMeta, ok bool) {
	if len(page) < boltMetaLen {
		return m, false
	}
	le := binary.NativeEndian
	if le.Uint32(page[16:]) != boltMagic || le.Uint32(page[20:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(page[boltMetaSumFrom:boltMetaSumTo])
	if h.Sum64() != le.Uint64(page[boltMetaSumTo:]) {
		return m, false
	}
	m = boltMeta{pageSize: le.Uint32(page[24:]), root: le.Uint64(page[32:]), freelist: le.Uint64(page[48:]),
		pgid: le.Uint64(page[56:]), txid: le.Uint64(page[64:])}
	return m, true
}

// CheckFile inspects the store file in dir before bbolt maps it: bbolt
// maps the size its meta page promises, so a file cut shorter (a full
// disk, a partial copy) crashes the process with SIGBUS on the first read
// past its end, and bbolt turns an empty file into a new store. A missing
// file is fine (a new store); anything else that is not a whole store
// file is an error naming the file and how to restore it.
func CheckFile(dir string) error {
	path := filepath.Join(dir, "helpdesk.db")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the store file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checking the store file %s: %w", path, err)
	}
	size := st.Size()
	damaged := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s %s; nothing was changed. To recover: stop helpdesk, move the damaged file aside (mv %s %s.damaged) and restore your newest backup with `helpdesk restore BACKUP.tar` (a backup made by `helpdesk backup`)",
			ErrDamaged, path, fmt.Sprintf(format, a...), path, path)
	}
	if size == 0 {
		return damaged("is empty (0 bytes), where a store holds at least its two meta pages (a new installation never has an empty file: if this one never stored mail, delete the file to start afresh)")
	}
	// Meta page 0 tells the page size; when it is unreadable, bbolt looks
	// for meta page 1 at every power of two from 1 KiB, and so do we.
	var metas []boltMeta
	buf := make([]byte, boltMetaLen)
	if n, _ := f.ReadAt(buf, 0); n == len(buf) {
		if m, ok := parseBoltMeta(buf); ok {
			metas = append(metas, m)
		}
	}
	pageSize, meta0 := int64(0), len(metas) > 0
	if meta0 {
		pageSize = int64(metas[0].pageSize)
	} else {
		for i := 0; i <= 14; i++ {
			pos := int64(1024) << i
			if pos+boltMetaLen > size {
				break
			}
			if n, err := f.ReadAt(buf, pos); n == len(buf) && (err == nil || err == io.EOF) {
				if m, ok := parseBoltMeta(buf); ok && int64(m.pageSize) == pos {
					pageSize = pos
					metas = append(metas, m)
					break
				}
			}
		}
	}
	if pageSize == 0 {
		return damaged("is not a store file: neither meta page has bbolt's magic number, version and checksum (%d bytes)", size)
	}
	if pageSize < 1024 || pageSize&(pageSize-1) != 0 {
		return damaged("records a page size of %d bytes, which bbolt never writes", pageSize)
	}
	if size < 2*pageSize {
		return damaged("is %d bytes, shorter than its two %d-byte meta pages", size, pageSize)
	}
	if size%pageSize != 0 {
		return damaged("is %d bytes, not a whole number of its %d-byte pages (bbolt always grows it by whole pages): it was cut short", size, pageSize)
	}
	if meta0 {
		// Meta page 0 gave the page size; meta page 1 follows it.
		if n, _ := f.ReadAt(buf, pageSize); n == len(buf) {
			if m, ok := parseBoltMeta(buf); ok {
				metas = append(metas, m)
			}
		}
	}
	use := metas[0]
	for _, m := range metas[1:] {
		if m.txid > use.txid {
			use = m
		}
	}
	if need := int64(use.pgid) * pageSize; need > size || use.pgid < 2 {
		return damaged("is %d bytes, but its last commit (transaction %d) uses %d pages of %d bytes (%d bytes): it was cut short", size, use.txid, use.pgid, pageSize, need)
	}
	return nil
}
