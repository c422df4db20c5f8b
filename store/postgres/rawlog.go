package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RawLog is the bench's reference store on PostgreSQL (the counterpart
// of bolt.RawLog): raw messages appended to one table, a group per
// transaction, committed (synchronous_commit as the server has it, on by
// default) before Append returns. Nothing else: no records, no indexes.
type RawLog struct {
	pool *pgxpool.Pool
}

// OpenRawLog connects to dsn and creates the table reference_raw.
func OpenRawLog(dsn string) (*RawLog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS reference_raw (id bigserial PRIMARY KEY, raw bytea NOT NULL)"); err != nil {
		pool.Close()
		return nil, fmt.Errorf("creating reference_raw: %w", err)
	}
	return &RawLog{pool: pool}, nil
}

// Append stores raws in one transaction (pipelined inserts, one commit).
func (l *RawLog) Append(raws [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, r := range raws {
			b.Queue("INSERT INTO reference_raw (raw) VALUES ($1)", r)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// Count is the number of stored messages.
func (l *RawLog) Count() int {
	var n int64
	l.pool.QueryRow(context.Background(), "SELECT count(*) FROM reference_raw").Scan(&n)
	return int(n)
}

// Close closes the pool.
func (l *RawLog) Close() error {
	l.pool.Close()
	return nil
}
