// Package spool is the part of a store.Spool both storage engines share:
// a message body up to a threshold in memory (buffers reused from one
// message to the next), the rest in a temporary file, hashed from the
// moment it goes there (the hash names the engine's blob). Each engine
// adds its own Commit.
package spool

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// Buffer receives one body. Close it when the message is handled: what
// Bytes returned must not be used after that.
type Buffer struct {
	dir, pattern string
	threshold    int64
	buf          bytes.Buffer
	f            *os.File
	n            int64
	h            hash.Hash
}

// start is the memory a buffer starts with: most mail fits, so it is not
// regrown while the body arrives.
const start = 8 << 10

// keep is the largest in-memory buffer Close hands to the next message:
// mail arrives all the time, and a new buffer per message is most of
// what a delivery allocates.
const keep = 64 << 10

var bufs sync.Pool // of *[]byte, capacity start to keep

// Init starts b for one body: up to threshold bytes in memory, then a
// file os.CreateTemp(dir, pattern) makes.
func (b *Buffer) Init(dir, pattern string, threshold int64) {
	*b = Buffer{dir: dir, pattern: pattern, threshold: threshold}
	if bp, _ := bufs.Get().(*[]byte); bp != nil {
		b.buf = *bytes.NewBuffer((*bp)[:0])
	} else {
		b.buf.Grow(int(min(threshold, start)))
	}
}

// release hands the memory buffer back for the next body.
func (b *Buffer) release() {
	m := b.buf.Bytes()
	b.buf = bytes.Buffer{}
	if c := cap(m); c >= start && c <= keep {
		m = m[:0]
		bufs.Put(&m)
	}
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if b.f == nil && int64(b.buf.Len()+len(p)) <= b.threshold {
		return b.buf.Write(p)
	}
	if b.f == nil {
		f, err := os.CreateTemp(b.dir, b.pattern)
		if err != nil {
			return 0, fmt.Errorf("creating spool file: %w", err)
		}
		b.f = f
		// Only a spooled body needs its hash (it names the blob): the
		// hashing starts here, with what was held in memory.
		b.h = sha256.New()
		b.h.Write(b.buf.Bytes())
		if _, err := f.Write(b.buf.Bytes()); err != nil {
			return 0, fmt.Errorf("writing spool file: %w", err)
		}
		b.release()
	}
	b.h.Write(p)
	if _, err := b.f.Write(p); err != nil {
		return 0, fmt.Errorf("writing spool file: %w", err)
	}
	return len(p), nil
}

// Size is the number of bytes written.
func (b *Buffer) Size() int64 { return b.n }

// Spooled reports whether the body went to a file.
func (b *Buffer) Spooled() bool { return b.f != nil }

// Bytes returns the in-memory body (nil when spooled).
func (b *Buffer) Bytes() []byte {
	if b.f != nil {
		return nil
	}
	return b.buf.Bytes()
}

// Reader reads the whole body from the start.
func (b *Buffer) Reader() (io.Reader, error) {
	if b.f == nil {
		return bytes.NewReader(b.buf.Bytes()), nil
	}
	return io.NewSectionReader(b.f, 0, b.n), nil
}

// File is the spool file (nil when the body is in memory).
func (b *Buffer) File() *os.File { return b.f }

// Sum is the SHA-256 of a spooled body written so far.
func (b *Buffer) Sum() []byte { return b.h.Sum(nil) }

// Finish releases the buffer and closes its file, removing it unless
// kept (an engine that moved it into place keeps it).
func (b *Buffer) Finish(kept bool) error {
	if b.f == nil {
		b.release()
		return nil
	}
	name := b.f.Name()
	err := b.f.Close()
	if !kept {
		os.Remove(name)
	}
	b.f = nil
	return err
}
