package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbMark is what a database had written at one moment (-store
// postgres): the rows each table inserted, updated (HOT or not) and
// deleted by pg_stat_user_tables, and the cluster's WAL position.
// Rows and WAL bytes per mail do not change with the machine's load.
type dbMark struct {
	tables map[string][4]int64 // ins, upd, hot upd, del
	wal    int64
	ok     bool
}

// statsConn is a connection for the bench's statistics queries, with a
// context that ends within 10 s; done closes both.
func statsConn(dsn string) (*pgx.Conn, context.Context, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return conn, ctx, func() { conn.Close(context.Background()); cancel() }, nil
}

// dbStats reads a database's mark (ok false: not measured).
func dbStats(dsn string) dbMark {
	m := dbMark{tables: map[string][4]int64{}}
	if dsn == "" {
		return m
	}
	conn, ctx, done, err := statsConn(dsn)
	if err != nil {
		return m
	}
	defer done()
	rows, err := conn.Query(ctx, "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables")
	if err != nil {
		return m
	}
	var name string
	var v [4]int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &v[0], &v[1], &v[2], &v[3]}, func() error {
		m.tables[name] = v
		return nil
	}); err != nil {
		return m
	}
	if err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").Scan(&m.wal); err != nil {
		return m
	}
	m.ok = true
	return m
}

// settledDBStats reads the mark once the server's table statistics stop
// changing: a backend reports its counts at most once a second, an idle
// one within ten, an exiting one as it exits.
func settledDBStats(dsn string) dbMark {
	prev := dbStats(dsn)
	for i := 0; i < 15 && prev.ok; i++ {
		time.Sleep(time.Second)
		m := dbStats(dsn)
		if !m.ok || sameRows(m, prev) {
			return m
		}
		prev = m
	}
	return prev
}

func sameRows(a, b dbMark) bool {
	if len(a.tables) != len(b.tables) {
		return false
	}
	for k, v := range a.tables {
		if b.tables[k] != v {
			return false
		}
	}
	return true
}

// dbStatsFinish fills run's rows and WAL bytes per accepted mail.
func dbStatsFinish(run *Run, before, after dbMark) {
	if !before.ok || !after.ok || run.OK == 0 {
		return
	}
	n := float64(run.OK)
	run.WALBytesPerMsg = float64(after.wal-before.wal) / n
	run.RowsPerMsg = map[string][4]float64{}
	for t, a := range after.tables {
		b := before.tables[t]
		var d [4]float64
		var any bool
		for i := range a {
			d[i] = float64(a[i]-b[i]) / n
			any = any || a[i] != b[i]
		}
		if any {
			run.RowsPerMsg[t] = d
			run.RowWritesPerMsg += d[0] + d[1] + d[3]
		}
	}
}

// rowsLine is the per-table breakdown of RowsPerMsg: "table
// ins/upd(hot)/del", largest first.
func rowsLine(rows map[string][4]float64) string {
	names := make([]string, 0, len(rows))
	for t := range rows {
		names = append(names, t)
	}
	tot := func(t string) float64 { r := rows[t]; return r[0] + r[1] + r[3] }
	sort.Slice(names, func(i, j int) bool {
		if tot(names[i]) != tot(names[j]) {
			return tot(names[i]) > tot(names[j])
		}
		return names[i] < names[j]
	})
	parts := make([]string, 0, len(names))
	for _, t := range names {
		r := rows[t]
		parts = append(parts, fmt.Sprintf("%s %.2f/%.2f(%.2f)/%.2f", t, r[0], r[1], r[2], r[3]))
	}
	return strings.Join(parts, ", ")
}

// pgStatements reports whether the bench's PostgreSQL server keeps
// statement statistics (HELPDESK_BENCH_PG_STATEMENTS=1): each run's
// report then lists its statements by the server's execution time per
// mail, with the WAL each wrote. A diagnostic: pg_stat_statements costs
// the server a little time per statement, helpdesk's and the
// reference's alike.
func pgStatements() bool { return os.Getenv("HELPDESK_BENCH_PG_STATEMENTS") == "1" }

// resetStatements empties the statement statistics before a run.
func resetStatements(dsn string) {
	if !pgStatements() || dsn == "" {
		return
	}
	conn, ctx, done, err := statsConn(dsn)
	if err != nil {
		return
	}
	defer done()
	conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	conn.Exec(ctx, "SELECT pg_stat_statements_reset()")
}

// logStatements prints the run's statements (its database's) by
// execution time, per accepted mail.
func (b *bench) logStatements(target string, idx int, dsn string, ok int) {
	if !pgStatements() || dsn == "" || ok == 0 {
		return
	}
	conn, ctx, done, err := statsConn(dsn)
	if err != nil {
		return
	}
	defer done()
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, rows, wal_bytes::bigint, wal_fpi, query
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 40`)
	if err != nil {
		b.logf("   %-18s run %d: pg_stat_statements: %v", target, idx, err)
		return
	}
	var calls, nrows, wal, fpi int64
	var ms float64
	var q string
	n := float64(ok)
	var sumMs, sumWal float64
	b.logf("   %-18s run %d: statements per mail: calls  exec µs  rows  WAL bytes  FPI  query", target, idx)
	pgx.ForEachRow(rows, []any{&calls, &ms, &nrows, &wal, &fpi, &q}, func() error {
		sumMs += ms
		sumWal += float64(wal)
		b.logf("      %7.3f %8.1f %6.2f %9.0f %6.3f  %s", float64(calls)/n, ms*1000/n, float64(nrows)/n, float64(wal)/n, float64(fpi)/n, clip(strings.Join(strings.Fields(q), " "), 260))
		return nil
	})
	b.logf("   %-18s run %d: those statements: %.1f µs and %.0f WAL bytes per mail", target, idx, sumMs*1000/n, sumWal/n)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
