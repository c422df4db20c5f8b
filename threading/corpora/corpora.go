// Package corpora locates the shared real-mail corpora (../shared/corpora
// relative to the repository root) for tests. Tests read them in place and
// skip with a message when the folder is absent.
package corpora

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpora directory, or skips the test when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Find()
	if !ok {
		t.Skip("shared corpora not found: expected ../shared/corpora next to the repository (see ../shared/corpora/README.md)")
	}
	return d
}

// Find walks up from the working directory to the module root (go.mod) and
// returns root/../shared/corpora if it exists.
func Find() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpora")
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c, true
			}
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
