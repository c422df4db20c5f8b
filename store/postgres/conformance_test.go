package postgres

import (
	"os"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/postgres/pgtest"
	"helpdesk/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The PostgreSQL engine passes the store's conformance suite, each case
// on a database of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) func() store.Store {
		dsn := pgtest.NewDB(t)
		return func() store.Store {
			db, err := Open(dsn, Options{Now: now, TmpDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}
