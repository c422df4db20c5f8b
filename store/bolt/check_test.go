package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// CheckFile reads bbolt's meta pages as bbolt writes them: a store that
// bbolt made passes, and every cut of it past its last page is refused.
func TestCheckFileAgreesWithBbolt(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := CheckFile(dir); err != nil {
		t.Fatalf("a fresh store is refused: %v", err)
	}
	path := filepath.Join(dir, "helpdesk.db")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := parseBoltMeta(orig)
	if !ok || m.pageSize == 0 || m.pgid < 2 {
		t.Fatalf("meta page 0 not understood: %+v %v", m, ok)
	}
	used := int(m.pgid) * int(m.pageSize)
	for _, size := range []int{0, 100, int(m.pageSize), used - int(m.pageSize), used - 1} {
		if err := os.WriteFile(path, orig[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := CheckFile(dir); !errors.Is(err, ErrDamaged) {
			t.Errorf("a %d-byte cut (store uses %d): %v", size, used, err)
		}
		if _, err := Open(dir, Options{}); !errors.Is(err, ErrDamaged) {
			t.Errorf("Open of a %d-byte cut: %v", size, err)
		}
	}
	// Meta page 0 broken: meta page 1 still describes the store.
	bad := append([]byte(nil), orig...)
	bad[16] ^= 0xff
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(dir); err != nil {
		t.Errorf("a store with a good meta page 1 is refused: %v", err)
	}
}
