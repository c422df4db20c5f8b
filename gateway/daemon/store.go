package daemon

import (
	"io"
	"log/slog"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/bolt"
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

// OpenStore opens the storage engine the configuration names: the
// embedded bbolt engine in data_dir, today the only one. It is the one
// place that names an engine, and where that engine's tuning is set;
// the engine and every command above see only package store's
// interfaces.
func OpenStore(cfg *config.Config, o StoreOptions) (store.Store, error) {
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

// RestoreStore extracts a backup written by Store.Backup into the
// configured store, which must be empty, and returns the files written.
func RestoreStore(cfg *config.Config, r io.Reader) (int, error) {
	return bolt.Restore(r, cfg.DataDir)
}
