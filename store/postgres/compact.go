package postgres

import (
	"context"
	"fmt"
	"time"

	"helpdesk/store"
	"helpdesk/store/testhook"
)

// Compact rewrites the database's tables without dead rows (VACUUM FULL:
// deleted and overwritten records' bytes leave the disk), online: it
// holds the write lock meanwhile, so writes of every daemon wait and then
// commit as usual, and reads go on. Sizes are the database's
// (pg_database_size); PostgreSQL's autovacuum reuses dead rows' space in
// between, so this is for taking erased bytes off the disk.
func (db *DB) Compact() (store.CompactResult, error) {
	var res store.CompactResult
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("compacting: %w", err)
	}
	defer conn.Release()
	size := func() (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
		return n, err
	}
	if res.Before, err = size(); err != nil {
		return res, fmt.Errorf("compacting: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockWrite); err != nil {
		return res, fmt.Errorf("compacting: taking the write lock: %w", err)
	}
	testhook.Hold("compact")
	_, err = conn.Exec(ctx, "VACUUM (FULL, ANALYZE)")
	if _, uerr := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockWrite); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return res, fmt.Errorf("compacting (VACUUM FULL): %w", err)
	}
	if res.After, err = size(); err != nil {
		return res, fmt.Errorf("compacting: %w", err)
	}
	if res.Before > res.After {
		res.FreeBefore = res.Before - res.After
	}
	res.Took = time.Since(t0)
	return res, nil
}
