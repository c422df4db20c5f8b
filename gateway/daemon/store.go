package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/postgres"
)

// StoreOptions say how a command opens the store.
type StoreOptions struct {
	// ReadOnly opens for inspection (no writer).
	ReadOnly bool
	// LockTimeout bounds the wait for another process holding the store
	// (0: the engine's default).
	LockTimeout time.Duration
	// Now is the store clock (nil: time.Now).
	Now func() time.Time
	// Coming says how many deliveries are on their way to a write
	// (engine.Engine.Coming): an engine that groups commits waits
	// briefly for them. Nil: none are announced.
	Coming func() int
}

// OpenStore opens the storage engine the configuration names ([store]
// engine): the embedded bbolt engine in data_dir, or a PostgreSQL
// database. It is the one place that names an engine, and where that
// engine's tuning is set; the engine and every command above see only
// package store's interfaces.
func OpenStore(cfg *config.Config, o StoreOptions) (store.Store, error) {
	if cfg.Store.Engine == config.EnginePostgres {
		tmp := filepath.Join(cfg.DataDir, "tmp")
		if err := os.MkdirAll(tmp, 0o750); err != nil {
			return nil, fmt.Errorf("creating %s for bodies being received: %w", tmp, err)
		}
		db, err := postgres.Open(cfg.Store.DSN, postgres.Options{
			ReadOnly: o.ReadOnly, Now: o.Now, Coming: o.Coming, TmpDir: tmp,
		})
		if err != nil {
			return nil, fmt.Errorf("store.dsn: %w", err)
		}
		return db, nil
	}
	db, err := bolt.Open(cfg.DataDir, bolt.Options{
		ReadOnly: o.ReadOnly, LockTimeout: o.LockTimeout, Now: o.Now, Coming: o.Coming,
	})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	if !o.ReadOnly {
		// A store written before the report index existed gets it
		// once, before any mail changes a ticket (issue 16).
		if _, err := report.Backfill(db, slog.Default(), 0); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// StoreExists reports whether the configured store holds anything a
// reading command could show (a read must not create a store).
func StoreExists(cfg *config.Config) bool {
	if cfg.Store.Engine == config.EnginePostgres {
		return true // the database is there or the open says why not
	}
	_, err := os.Stat(filepath.Join(cfg.DataDir, "helpdesk.db"))
	return err == nil
}

// MigrateSchema creates or upgrades the configured PostgreSQL database's
// schema and returns the versions before and after.
func MigrateSchema(cfg *config.Config) (from, to int, err error) {
	if cfg.Store.Engine != config.EnginePostgres {
		return 0, 0, errors.New(`store.engine is "bbolt": its file is migrated when the daemon opens it; migrate-schema is for engine = "postgres"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return postgres.MigrateDSN(ctx, cfg.Store.DSN)
}

// NodeName is this daemon's name among those sharing a store: [store]
// node, else the host name.
func NodeName(cfg *config.Config) string {
	if cfg.Store.Node != "" {
		return cfg.Store.Node
	}
	if h, _ := os.Hostname(); h != "" {
		return h
	}
	return "helpdesk"
}

// RestoreStore extracts a backup written by Store.Backup into the
// configured store, which must be empty, and returns the files written.
func RestoreStore(cfg *config.Config, r io.Reader) (int, error) {
	if cfg.Store.Engine == config.EnginePostgres {
		return 0, errors.New("the postgres engine is restored with PostgreSQL's tools: pg_restore -d DSN helpdesk.dump")
	}
	return bolt.Restore(r, cfg.DataDir)
}
