package postgres

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// BenchmarkOutboundCycle is an outbound item's life as the worker drives
// it (claimed in rounds of 128, settled as sent in writes of 8 naming
// their items), measured in the writer: its CPU time applying the
// requests, its statements, and the WAL and rows the server wrote, per
// item. The items (a 1.2 KB acknowledgement's record each) are queued
// before the timer starts; BenchmarkOutboundEnqueue measures that.
//
//	go test ./store/postgres -run XXX -bench OutboundCycle -benchtime 2048x
func BenchmarkOutboundCycle(b *testing.B) {
	db, conn := benchOpen(b)
	enqueue(b, db, b.N)
	w := startCounts(b, db, conn)
	now := time.Now()
	var claimT, settleT time.Duration
	for left := b.N; left > 0; {
		var claimed []*model.Outbound
		t0 := time.Now()
		if err := db.Update(func(tx store.Tx) (err error) {
			claimed, err = tx.Claim("w1", now, 128, 10*time.Minute, true)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if len(claimed) == 0 {
			b.Fatalf("nothing claimed with %d left", left)
		}
		left -= len(claimed)
		t1 := time.Now()
		claimT += t1.Sub(t0)
		defer func() { settleT += time.Since(t1) }()
		for len(claimed) > 0 {
			part := claimed[:min(8, len(claimed))]
			claimed = claimed[len(part):]
			h := &store.Hints{}
			for _, o := range part {
				h.Outbound = append(h.Outbound, o.ID)
			}
			if err := db.UpdateHinted(h, func(tx store.Tx) error {
				for _, o := range part {
					x := *o
					prev := x.NextAttempt
					x.Started, x.Attempts, x.State, x.Done = time.Time{}, x.Attempts+1, model.OutSent, now
					if err := tx.Settle("w1", &x, prev); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	w.report(b, b.N)
	b.ReportMetric(float64(claimT)/float64(b.N), "claim-ns/item")
}

// BenchmarkOutboundEnqueue queues items two per write (a new ticket's
// acknowledgement and staff notification), 16 writes per commit.
func BenchmarkOutboundEnqueue(b *testing.B) {
	db, conn := benchOpen(b)
	w := startCounts(b, db, conn)
	enqueue(b, db, b.N)
	w.report(b, b.N)
}

func benchOpen(b *testing.B) (*DB, *pgx.Conn) {
	dsn := pgtest.NewDB(b)
	db, err := Open(dsn, Options{Now: time.Now, TmpDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn
}

// benchText is an acknowledgement's text as the bench's new tickets get
// it.
var benchText = strings.Repeat("we received your request and opened a ticket for it.\n", 8)

func enqueue(b *testing.B, db *DB, n int) {
	errs := make(chan error, 16)
	for i := 0; i < n; {
		k := 0
		for ; k < 16 && i < n; k++ {
			lo, hi := i, min(i+2, n)
			i = hi
			go func() {
				errs <- db.Update(func(tx store.Tx) error {
					for j := lo; j < hi; j++ {
						o := &model.Outbound{Ticket: uint64(j/2 + 1), Kind: "ack", MailFrom: "support+aecacaabaeag7qrzslbe3ktyx6xa@helpdesk.bench",
							Rcpt: fmt.Sprintf("c%d@cust%d.example", j, j%97), From: `"Bench Support" <support@helpdesk.bench>`,
							To: []string{fmt.Sprintf(`"Customer %d" <c%d@cust%d.example>`, j, j, j%97)}, Subject: fmt.Sprintf("[#%d] Printer queue stuck", j/2+1),
							MessageID: fmt.Sprintf("hd.%012d.3c3c4ef565cfab59eb@helpdesk.bench", j), InReplyTo: "bench.0@client.example",
							References: []string{"bench.0@client.example"}, Headers: []model.Header{{Name: "Auto-Submitted", Value: "auto-replied"}},
							Text: benchText}
						if err := tx.Enqueue(o); err != nil {
							return err
						}
					}
					return nil
				})
			}()
		}
		for ; k > 0; k-- {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
	}
}

type counts struct {
	db        *DB
	conn      *pgx.Conn
	st        store.Stats
	wal, rows int64
	cpu       time.Duration
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *counts) read(b *testing.B) (wal, rows int64) {
	err := c.conn.QueryRow(context.Background(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
		(SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_xact_user_tables)`).Scan(&wal, &rows)
	if err != nil {
		b.Fatal(err)
	}
	return wal, rows
}

func startCounts(b *testing.B, db *DB, conn *pgx.Conn) *counts {
	c := &counts{db: db, conn: conn, st: db.Stats()}
	c.wal, _ = c.read(b)
	c.cpu = cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	return c
}

func (c *counts) report(b *testing.B, n int) {
	b.StopTimer()
	cpu := cpuTime() - c.cpu
	st := c.db.Stats()
	wal, _ := c.read(b)
	f := float64(n)
	b.ReportMetric(float64(cpu)/f, "cpu-ns/item")
	b.ReportMetric(float64(st.ApplyNanos-c.st.ApplyNanos)/f, "apply-ns/item")
	b.ReportMetric(float64(st.CommitNanos-c.st.CommitNanos)/f, "commit-ns/item")
	b.ReportMetric(float64(st.WriteQueries-c.st.WriteQueries)/f, "statements/item")
	b.ReportMetric(float64(st.WriteRoundTrips-c.st.WriteRoundTrips)/f, "round-trips/item")
	b.ReportMetric(float64(wal-c.wal)/f, "WAL-B/item")
}

// BenchmarkOutboundClaimBacklog claims 128 items at a time from a
// backlog of 16,000 queued since the table's statistics were last
// gathered (a burst's outbound mail, or a relay that was down): per
// claim, the writer's time and the rows the server read.
//
//	go test ./store/postgres -run XXX -bench OutboundClaimBacklog -benchtime 20x
func BenchmarkOutboundClaimBacklog(b *testing.B) {
	db, conn := benchOpen(b)
	queueBacklog(b, conn, 16000)
	st := db.Stats()
	read0 := tuplesRead(b, conn)
	now := time.Now()
	b.ResetTimer()
	for range b.N {
		if err := db.Update(func(tx store.Tx) error {
			c, err := tx.Claim("w1", now, 128, 10*time.Minute, true)
			if err == nil && len(c) != 128 {
				err = fmt.Errorf("claimed %d, want 128", len(c))
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st1 := db.Stats()
	b.ReportMetric(float64(st1.ApplyNanos+st1.CommitNanos-st.ApplyNanos-st.CommitNanos)/1e6/float64(b.N), "writer-ms/claim")
	b.ReportMetric(float64(tuplesRead(b, conn)-read0)/float64(b.N), "tuples-read/claim")
}

// queueBacklog queues n items straight into the table (as n Enqueues
// would, without gathering statistics).
func queueBacklog(b *testing.B, conn *pgx.Conn, n int) {
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `INSERT INTO outbound (id, state, due_ns, lease_holder, lease_until_ns, data)
		SELECT i, 'queued', $2::bigint + i, '', 0, json_build_object('id', i, 'kind', 'ack', 'rcpt', 'c' || i || '@example.com',
			'text', $3::text, 'state', 'queued', 'next_attempt', '2026-01-01T00:00:00Z', 'created', '2026-01-01T00:00:00Z')
		FROM generate_series(1, $1::bigint) AS i`, n, time.Now().Add(-time.Hour).UnixNano(), benchText); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO sequences (name, value) VALUES ('outbound', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", n); err != nil {
		b.Fatal(err)
	}
}

// tuplesRead is what scans of the outbound table and its indexes read
// (the statistics of other backends' finished transactions, flushed
// within a second: polled until they stop moving).
func tuplesRead(b *testing.B, conn *pgx.Conn) int64 {
	var last int64 = -1
	for i := 0; i < 50; i++ {
		var n int64
		if err := conn.QueryRow(context.Background(), `SELECT pg_stat_clear_snapshot(), coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
			FROM pg_stat_user_tables WHERE relname = 'outbound'`).Scan(nil, &n); err != nil {
			b.Fatal(err)
		}
		if n == last {
			return n
		}
		last = n
		time.Sleep(400 * time.Millisecond)
	}
	return last
}
