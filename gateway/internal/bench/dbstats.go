package bench

import (
	"context"
	"fmt"
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

// dbStats reads a database's mark (ok false: not measured).
func dbStats(dsn string) dbMark {
	m := dbMark{tables: map[string][4]int64{}}
	if dsn == "" {
		return m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return m
	}
	defer conn.Close(context.Background())
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
