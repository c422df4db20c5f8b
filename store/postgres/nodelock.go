package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// lockNodeSpace is the first key of the node locks (two-int4 advisory
// locks, a space apart from the int8 keys of schema.go): the second is
// hashtext of the node's name.
const lockNodeSpace int32 = 0x68646e64 // "hdnd"

// ErrNodeTaken says another live session holds the node's lock.
var ErrNodeTaken = errors.New("node name taken")

// ClaimNode holds a session-level advisory lock on the node's name for as
// long as ctx lives, so two daemons cannot run under one name: the outbound
// queue's leases are held by node name, and a daemon starting releases what
// its name held when it last stopped, which would be mail the other is
// delivering (sent twice). The lock lives as long as its connection: a
// daemon killed with -9 lets go of it as its socket closes. A predecessor
// whose session PostgreSQL has not yet ended is waited for up to wait;
// then ClaimNode fails with ErrNodeTaken. After a lost connection
// (PostgreSQL restarted) the lock is taken again in the background; a
// conflict then is logged.
func (db *DB) ClaimNode(ctx context.Context, node string, wait time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(wait)
	for {
		err := db.holdNode(ctx, node, log)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrNodeTaken) && time.Now().After(deadline) {
			return fmt.Errorf("another daemon runs as node %q on this database: give each daemon sharing it its own [store] node (default: the host name): %w", node, err)
		}
		if !errors.Is(err, ErrNodeTaken) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// holdNode takes the node's lock on a connection of its own and keeps it
// in a goroutine until ctx ends.
func (db *DB) holdNode(ctx context.Context, node string, log *slog.Logger) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("taking the lock of node %q: %w", node, err)
	}
	pc := conn.Hijack()
	var got bool
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = pc.QueryRow(qctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", lockNodeSpace, node).Scan(&got)
	cancel()
	if err != nil || !got {
		pc.Close(context.Background())
		if err != nil {
			return fmt.Errorf("taking the lock of node %q: %w", node, err)
		}
		return ErrNodeTaken
	}
	go func() {
		defer pc.Close(context.Background())
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := pc.Exec(qctx, "SELECT 1")
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			// The session and its lock are gone (PostgreSQL restarted):
			// take it again once the database answers.
			pc.Close(context.Background())
			warned := false
			for ctx.Err() == nil {
				err := db.holdNode(ctx, node, log)
				if err == nil {
					return
				}
				if errors.Is(err, ErrNodeTaken) && !warned {
					log.Error("another daemon runs as this node on the database: give each daemon its own [store] node", "node", node)
					warned = true
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
				}
			}
			return
		}
	}()
	return nil
}
