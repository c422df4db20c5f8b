package daemon

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"helpdesk/config"
	"helpdesk/gateway/control"
	"helpdesk/store/bolt"
	"helpdesk/store/migrate"
	"helpdesk/store/postgres"
)

// MigrationSide names one store of `helpdesk migrate`: an engine with
// its place (data_dir for bbolt, a DSN for PostgreSQL).
type MigrationSide struct {
	Engine string // config.EngineBolt or config.EnginePostgres
	Dir    string
	DSN    string
}

// Where describes the store for messages.
func (s MigrationSide) Where() string {
	if s.Engine == config.EnginePostgres {
		return "the PostgreSQL database " + RedactDSN(s.DSN)
	}
	return "the bbolt store in " + s.Dir
}

// OpenMigrationSource opens the store to copy from, read-only. No daemon
// may use it: its records must not change while they are copied and
// compared (a running daemon is refused, naming the fix).
func OpenMigrationSource(s MigrationSide) (migrate.Engine, error) {
	if s.Engine == config.EnginePostgres {
		return openPostgresSide(s, postgres.Options{ReadOnly: true})
	}
	if _, err := control.Dial(s.Dir); err == nil {
		return nil, fmt.Errorf("a daemon is running on %s: stop it first (the source must not change while it is copied; `helpdesk migrate` opens it read-only)", s.Where())
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "helpdesk.db")); err != nil {
		return nil, fmt.Errorf("no store in %s (no helpdesk.db): name the source's data_dir with --data-dir or -config", s.Dir)
	}
	db, err := bolt.Open(s.Dir, bolt.Options{ReadOnly: true})
	if err != nil {
		return nil, err // names the lock when a daemon holds the file
	}
	return db, nil
}

// OpenMigrationTarget opens (creating) the store to copy into; it must be
// empty, which the load checks, and no daemon may use it.
func OpenMigrationTarget(s MigrationSide) (migrate.Engine, error) {
	if s.Engine == config.EnginePostgres {
		return openPostgresSide(s, postgres.Options{TmpDir: os.TempDir()})
	}
	if _, err := control.Dial(s.Dir); err == nil {
		return nil, fmt.Errorf("a daemon is running on %s: the target must be a new, empty data_dir", s.Where())
	}
	db, err := bolt.Open(s.Dir, bolt.Options{})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// openPostgresSide opens one side on PostgreSQL; no daemon may use it
// (one holds the leader lock).
func openPostgresSide(s MigrationSide, opts postgres.Options) (migrate.Engine, error) {
	db, err := postgres.Open(s.DSN, opts)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", s.Where(), err)
	}
	held, err := db.LeaderHeld()
	if err == nil && held {
		err = fmt.Errorf("a daemon is running on %s (it holds the leader lock): stop every daemon using it first", s.Where())
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// RedactDSN is a DSN without its password, for messages.
func RedactDSN(dsn string) string {
	if u, err := parseURL(dsn); err == nil {
		return u
	}
	return redactKV(dsn)
}

var errNotURL = errors.New("not a URL")

func parseURL(dsn string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return "", errNotURL
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	return u.Redacted(), nil
}

var kvPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

func redactKV(dsn string) string { return kvPassword.ReplaceAllString(dsn, "password=xxxxx") }
