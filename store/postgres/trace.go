package postgres

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// counter counts what the pool's connections send to PostgreSQL: the
// statements (queries) and the round trips they cost (a statement sent
// alone is one, a pipelined batch is one for all of its statements, a
// statement prepared on first use one more). The writer's transactions
// are counted apart (their context carries writerCtx): queries and round
// trips per mail are the figures the group commit is tuned by, and unlike
// time they do not change with the machine's load.
type counter struct {
	queries, roundTrips   atomic.Int64
	wQueries, wRoundTrips atomic.Int64

	// bySQL, when not nil, counts the writer's statements by text (the
	// tests and the benchmark print it to see where round trips go).
	mu    sync.Mutex
	bySQL map[string]*SQLCount
}

type writerCtxKey struct{}

// writerCtx marks ctx as the writer's.
func writerCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, writerCtxKey{}, true)
}

func isWriter(ctx context.Context) bool { return ctx.Value(writerCtxKey{}) != nil }

func (c *counter) add(ctx context.Context, queries, trips int64, sql string) {
	c.queries.Add(queries)
	c.roundTrips.Add(trips)
	if isWriter(ctx) {
		c.wQueries.Add(queries)
		c.wRoundTrips.Add(trips)
		c.mu.Lock()
		if c.bySQL != nil && sql != "" {
			n := c.bySQL[sql]
			if n == nil {
				n = &SQLCount{SQL: sql}
				c.bySQL[sql] = n
			}
			n.Queries += queries
			n.RoundTrips += trips
		}
		c.mu.Unlock()
	}
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.add(ctx, 1, 1, d.SQL)
	return ctx
}

func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.add(ctx, 0, 1, "(batch)")
	return ctx
}

func (c *counter) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.add(ctx, 1, 0, d.SQL)
}

func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *counter) TracePrepareStart(ctx context.Context, _ *pgx.Conn, d pgx.TracePrepareStartData) context.Context {
	return ctx
}

func (c *counter) TracePrepareEnd(ctx context.Context, _ *pgx.Conn, d pgx.TracePrepareEndData) {
	if !d.AlreadyPrepared {
		c.add(ctx, 0, 1, "(prepare)")
	}
}

// SQLCount is how often the writer sent one statement.
type SQLCount struct {
	SQL        string
	Queries    int64
	RoundTrips int64
}

// TraceSQL starts counting the writer's statements by text; WriterSQL
// returns the counts (most round trips first). For tests and benchmarks.
func (db *DB) TraceSQL() {
	db.trace.mu.Lock()
	db.trace.bySQL = map[string]*SQLCount{}
	db.trace.mu.Unlock()
}

// WriterSQL returns what TraceSQL counted since.
func (db *DB) WriterSQL() []SQLCount {
	db.trace.mu.Lock()
	defer db.trace.mu.Unlock()
	var out []SQLCount
	for _, n := range db.trace.bySQL {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].RoundTrips != out[j].RoundTrips {
			return out[i].RoundTrips > out[j].RoundTrips
		}
		return out[i].Queries > out[j].Queries
	})
	return out
}
