// Package pgtest gives tests a PostgreSQL database: one throwaway
// cluster per test binary (package pgcluster, fsync off: tests kill
// processes, not the machine), started on first use, a fresh database
// per test, stopped when the binary ends (Main) or, if it is killed, by
// the cluster's watchdog.
//
// A test that needs PostgreSQL calls NewDB; it skips with a clear message
// when no PostgreSQL server binaries are installed (apt-get install
// postgresql), and fails instead when HELPDESK_TEST_PG=require (CI sets
// it, so a broken installation cannot pass as skipped tests).
package pgtest

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"helpdesk/store/postgres/pgcluster"
)

var (
	sharedOnce sync.Once
	shared     *pgcluster.Cluster
	sharedErr  error
	dbSeq      atomic.Int64
)

// Main runs the tests and stops the shared cluster: call it from TestMain
// as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Shared is the test binary's cluster, started on first use; the test
// skips (or fails, under HELPDESK_TEST_PG=require) when PostgreSQL cannot
// be found or started.
func Shared(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = pgcluster.Start(pgcluster.Options{}) })
	if sharedErr != nil {
		if os.Getenv("HELPDESK_TEST_PG") == "require" {
			t.Fatalf("PostgreSQL is required (HELPDESK_TEST_PG=require): %v", sharedErr)
		}
		t.Skipf("skipped: no PostgreSQL to test against (%v); install it with apt-get install -y postgresql", sharedErr)
	}
	return shared
}

// NewDB creates an empty database on the shared cluster and returns its
// DSN.
func NewDB(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	dsn, err := c.CreateDB(fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
