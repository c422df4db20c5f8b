package postgres

import (
	"context"
	"log/slog"
	"time"
)

// Lead runs lead while this process holds the database's leader lock (a
// session-level advisory lock, LockLeader), until ctx ends: of the
// daemons sharing a database exactly one runs the work that must not run
// twice (time-based sweeps, timers, webhook deliveries). The lock lives
// as long as the connection holding it: when the leader dies (kill -9,
// power loss, a cut connection) PostgreSQL releases it and another
// daemon's next try, every interval, takes over. A leader whose
// connection fails stops leading (lead's context is cancelled) before
// it tries again.
func (db *DB) Lead(ctx context.Context, interval time.Duration, node string, log *slog.Logger, lead func(context.Context)) {
	for ctx.Err() == nil {
		db.leadOnce(ctx, interval, node, log, lead)
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// leadOnce takes a connection, tries the lock until it has it, and runs
// lead while the connection answers.
func (db *DB) leadOnce(ctx context.Context, interval time.Duration, node string, log *slog.Logger, lead func(context.Context)) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return
	}
	// The connection is the lock: it is never handed back to the pool
	// while it may hold it.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	for {
		var got bool
		qctx, cancel := context.WithTimeout(ctx, interval+5*time.Second)
		err := pc.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", LockLeader).Scan(&got)
		cancel()
		if err != nil {
			return
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
	log.Info("this node leads: it runs the sweeps, timers, webhook deliveries and erasures", "node", node)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lead(lctx) }()
	defer func() {
		stop()
		<-done
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-time.After(interval):
		}
		qctx, cancel := context.WithTimeout(ctx, interval+5*time.Second)
		_, err := pc.Exec(qctx, "SELECT 1")
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("lost the connection holding the leader lock: this node stops leading", "node", node, "err", err)
			return
		}
	}
}
