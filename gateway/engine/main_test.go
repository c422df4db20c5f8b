package engine

import (
	"os"
	"testing"

	"helpdesk/store/postgres/pgtest"
)

// TestMain stops the PostgreSQL cluster the benchmarks on the postgres
// engine start (nothing else here starts one).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
