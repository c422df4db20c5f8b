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
