package spool

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"testing"
)

// A body up to the threshold stays in memory; a longer one goes to a
// file, whole, hashed from its first byte, and Finish removes the file
// unless it is kept.
func TestBufferSpillsPastTheThreshold(t *testing.T) {
	dir := t.TempDir()
	var small Buffer
	small.Init(dir, "s-*", 8)
	small.Write([]byte("12345678"))
	if small.Spooled() || string(small.Bytes()) != "12345678" || small.Size() != 8 {
		t.Fatalf("in memory: spooled %v, %q, size %d", small.Spooled(), small.Bytes(), small.Size())
	}
	small.Finish(false)

	for _, kept := range []bool{false, true} {
		var b Buffer
		b.Init(dir, "s-*", 8)
		b.Write([]byte("12345"))
		b.Write([]byte("6789"))
		if !b.Spooled() || b.Bytes() != nil || b.Size() != 9 {
			t.Fatalf("spooled %v, %q, size %d", b.Spooled(), b.Bytes(), b.Size())
		}
		r, _ := b.Reader()
		got, _ := io.ReadAll(r)
		want := sha256.Sum256([]byte("123456789"))
		if string(got) != "123456789" || !bytes.Equal(b.Sum(), want[:]) {
			t.Errorf("read %q, hash %x", got, b.Sum())
		}
		name := b.File().Name()
		if err := b.Finish(kept); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(name); (err == nil) != kept {
			t.Errorf("kept %v: the file after Finish: %v", kept, err)
		}
	}
}
