package postgres

import (
	"context"
	"fmt"
	"time"
)

// LeaderHeld reports whether a session holds the leader lock
// (LockLeader): a daemon runs on this database. `helpdesk migrate`
// refuses to copy from or into a database a daemon is using.
func (db *DB) LeaderHeld() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A bigint advisory key is held as (classid, objid) = its high and low
	// 32 bits, objsubid 1.
	hi, lo := uint64(LockLeader)>>32, uint64(LockLeader)&0xffffffff
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1`, int64(hi), int64(lo)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("looking for daemons on the database (pg_locks): %w", err)
	}
	return n > 0, nil
}
