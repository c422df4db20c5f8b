package postgres

import (
	"testing"
	"time"

	"helpdesk/store"
)

// openTest opens a writer on the test database dsn (pgtest.NewDB), as a
// daemon does, closed when the test ends; called twice it gives two
// processes sharing one database.
func openTest(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(dsn, Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustUpdate runs fn in a write of db and fails the test on its error.
func mustUpdate(t *testing.T, db *DB, fn func(tx store.Tx) error) {
	t.Helper()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}
