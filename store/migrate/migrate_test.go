package migrate_test

import (
	"os"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/postgres"
	"helpdesk/store/postgres/pgtest"
	"helpdesk/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func boltEngine(t *testing.T, now func() time.Time) func() store.Store {
	dir := t.TempDir()
	return func() store.Store {
		db, err := bolt.Open(dir, bolt.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
}

func pgEngine(t *testing.T, now func() time.Time) func() store.Store {
	dsn := pgtest.NewDB(t)
	return func() store.Store {
		db, err := postgres.Open(dsn, postgres.Options{Now: now, TmpDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
}

// Both engines pass the migration conformance test both ways: bbolt to
// PostgreSQL and back, PostgreSQL to bbolt and back, and each to itself.
func TestMigration(t *testing.T) {
	t.Run("bbolt to postgres and back", func(t *testing.T) { storetest.Migration(t, boltEngine, pgEngine) })
	t.Run("postgres to bbolt and back", func(t *testing.T) { storetest.Migration(t, pgEngine, boltEngine) })
	t.Run("bbolt to bbolt", func(t *testing.T) { storetest.Migration(t, boltEngine, boltEngine) })
	t.Run("postgres to postgres", func(t *testing.T) { storetest.Migration(t, pgEngine, pgEngine) })
}
