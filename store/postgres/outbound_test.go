package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// An outbound item's record (the mail) is written once, when it is
// queued: claiming and settling it write its progress (state, lease,
// attempts, outcome) beside it, and it reads back whole and as settled,
// also by a process that did not write it. A settle that changes the
// mail itself writes it whole.
func TestOutboundRecordIsWrittenOnce(t *testing.T) {
	dsn := pgtest.NewDB(t)
	db := openTest(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	wal := func() int64 {
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 50
	text := fmt.Sprintf("%01000d", 0) // a mail of a kilobyte, as an acknowledgement is
	w0 := wal()
	if err := db.Update(func(tx store.Tx) error {
		for i := range n {
			if err := tx.Enqueue(&model.Outbound{Kind: "ack", Rcpt: fmt.Sprintf("c%d@example.com", i), Subject: "s", Text: text}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w1 := wal()
	now := time.Now()
	var claimed []*model.Outbound
	if err := db.Update(func(tx store.Tx) error {
		claimed, err = tx.Claim("w1", now, n, time.Minute, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(claimed) != n {
		t.Fatalf("claimed %d of %d", len(claimed), n)
	}
	w2 := wal()
	if err := db.Update(func(tx store.Tx) error {
		for i, o := range claimed {
			x := *o
			prev := x.NextAttempt
			x.Started, x.Attempts = time.Time{}, x.Attempts+1
			x.State, x.Done = model.OutSent, now
			if i == 0 {
				x.Text = "changed" // not progress: written whole
			}
			if err := tx.Settle("w1", &x, prev); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w3 := wal()
	t.Logf("WAL bytes per item: queued %d, claimed %d, settled %d", (w1-w0)/n, (w2-w1)/n, (w3-w2)/n)

	var whole, progress int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE progress IS NULL),
		count(*) FILTER (WHERE progress IS NOT NULL AND data->>'state' = 'queued' AND data->>'text' = $1) FROM outbound`, text).Scan(&whole, &progress); err != nil {
		t.Fatal(err)
	}
	if whole != 1 || progress != n-1 {
		t.Errorf("rows written whole %d (want 1: the changed mail), with progress beside the queued record %d (want %d)", whole, progress, n-1)
	}
	// Read back by another process (no cache) and by the writer.
	for _, r := range []*DB{openTest(t, dsn), db} {
		if err := r.View(func(tx store.Tx) error {
			for i, c := range claimed {
				o, err := tx.Outbound(c.ID)
				if err != nil {
					return err
				}
				want := text
				if i == 0 {
					want = "changed"
				}
				if o.State != model.OutSent || o.Attempts != 1 || !o.Done.Equal(now) || !o.Started.IsZero() || o.LeaseHolder != "" || !o.LeaseUntil.IsZero() || o.Text != want || o.Rcpt != c.Rcpt {
					return fmt.Errorf("outbound %d reads %+v", c.ID, o)
				}
			}
			if d := tx.QueueDepth(); d != 0 {
				return fmt.Errorf("queue depth %d after settling all", d)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx store.Tx) error {
		o, err := tx.Outbound(claimed[1].ID)
		if err != nil {
			return err
		}
		if o.State != model.OutSent {
			return fmt.Errorf("the writer reads outbound %d as %s", o.ID, o.State)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Mail born claimed (store.Handoff) is settled from the copy the worker
// was handed, whose times still carry the clock's monotonic reading and
// zone: its settle writes the progress beside the queued record, not the
// record again, also when the writer's memo of decoded records no longer
// holds it (a burst queues more than the memo keeps).
func TestHandedMailSettlesAsProgress(t *testing.T) {
	dsn := pgtest.NewDB(t)
	db := openTest(t, dsn)
	var handed []*model.Outbound
	remove := db.SetHandoff(&store.Handoff{Holder: "w1", Lease: time.Minute,
		Take: func() (bool, bool) { return true, true },
		Hand: func(items []*model.Outbound, committed bool) { handed = append(handed, items...) }})
	defer remove()
	const n = 4
	text := fmt.Sprintf("%01000d", 0)
	mustUpdate(t, db, func(tx store.Tx) error {
		for i := range n {
			o := &model.Outbound{Kind: "ack", Rcpt: fmt.Sprintf("c%d@example.com", i), Subject: "s", Text: text,
				Created: time.Now().In(time.FixedZone("CET", 3600))}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
		}
		return nil
	})
	if len(handed) != n {
		t.Fatalf("handed %d of %d", len(handed), n)
	}
	clear(db.outMemo)
	now := time.Now()
	mustUpdate(t, db, func(tx store.Tx) error {
		for _, o := range handed {
			x := *o
			x.Started, x.Attempts, x.State, x.Done = time.Time{}, 1, model.OutSent, now
			if err := tx.Settle("w1", &x, o.NextAttempt); err != nil {
				return err
			}
		}
		return nil
	})
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var progress int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM outbound
		WHERE progress IS NOT NULL AND data->>'state' = 'queued' AND state = 'sent'`).Scan(&progress); err != nil {
		t.Fatal(err)
	}
	if progress != n {
		t.Errorf("%d of %d handed items settled as progress beside the queued record; the others were written whole", progress, n)
	}
}

// A version 4 database's outbound queue and backlog moves read the same
// after the migration to version 5.
func TestSchema5KeepsOutboundAndBacklog(t *testing.T) {
	dsn := pgtest.NewDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		if _, err := conn.Exec(ctx, migrations[v-1]); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	o := &model.Outbound{ID: 7, Kind: "ack", Rcpt: "c@example.com", Text: "hello", State: model.OutQueued, NextAttempt: now, Created: now,
		LeaseHolder: "w1", LeaseUntil: now.Add(time.Minute), Started: now}
	data, err := marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO outbound (id, state, due_ns, lease_holder, lease_until_ns, data) VALUES (7, 'queued', $1, 'w1', $2, $3)",
		now.UnixNano(), now.Add(time.Minute).UnixNano(), data); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO report_backlog (at_ns, key, delta) VALUES
		($1, 'open'::bytea, 1), ($1, 'grp'::bytea, 1), ($2, 'open'::bytea, -1), ($2, 'solved'::bytea, 1)`,
		now.Add(-time.Hour).UnixNano(), now.Add(-time.Minute).UnixNano()); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, dsn)
	if err := db.View(func(tx store.Tx) error {
		got, err := tx.Outbound(7)
		if err != nil {
			return err
		}
		if got.Text != "hello" || got.LeaseHolder != "w1" || !got.Started.Equal(now) || tx.QueueDepth() != 1 {
			return fmt.Errorf("outbound 7 reads %+v", got)
		}
		b, err := tx.Backlog(now)
		if err != nil {
			return err
		}
		if len(b) != 2 || b["grp"] != 1 || b["solved"] != 1 {
			return fmt.Errorf("backlog now %v, want grp 1 and solved 1", b)
		}
		if b, err = tx.Backlog(now.Add(-30 * time.Minute)); err != nil || len(b) != 2 || b["open"] != 1 || b["grp"] != 1 {
			return fmt.Errorf("backlog half an hour ago %v (%v), want open 1 and grp 1", b, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The claim the old version recorded holds: another holder gets
	// nothing until the lease ends.
	if err := db.Update(func(tx store.Tx) error {
		c, err := tx.Claim("w2", now, 10, time.Minute, true)
		if err == nil && len(c) != 0 {
			err = fmt.Errorf("w2 claimed %d items under w1's lease", len(c))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// The writer's memo of held queue items hands out copies that share no
// slice or pointer with its own: a caller changing a record in place
// (a settle that changes the mail) must not change what the next read
// compares with. Every field of a reference kind is checked, so a field
// added to model.Outbound without a copy in model.Outbound.Clone fails here.
func TestCloneOutboundSharesNothing(t *testing.T) {
	o := model.Outbound{To: []string{"a"}, Cc: []string{"b"}, References: []string{"c"}, Headers: []model.Header{{Name: "n", Value: "v"}},
		Include: &model.CommentRef{Ticket: 1, Comment: 2}, Attach: []model.Attachment{{Name: "x"}},
		AttachData: []model.InlineFile{{Name: "f", Data: []byte("d")}}}
	c := o.Clone()
	if !reflect.DeepEqual(c, o) {
		t.Fatalf("clone %+v differs from %+v", c, o)
	}
	ov, cv := reflect.ValueOf(o), reflect.ValueOf(c)
	for i := range ov.NumField() {
		f := ov.Type().Field(i)
		switch f.Type.Kind() {
		case reflect.Slice, reflect.Pointer, reflect.Map:
			if ov.Field(i).IsNil() {
				t.Errorf("field %s is nil in the test's record: fill it", f.Name)
			} else if ov.Field(i).Pointer() == cv.Field(i).Pointer() {
				t.Errorf("field %s is shared between a record and its clone", f.Name)
			}
		}
	}
	if &o.AttachData[0].Data[0] == &c.AttachData[0].Data[0] {
		t.Error("an inline file's bytes are shared between a record and its clone")
	}
}

// A settle reads its item through the writer's memo only while the row
// reads what the writer last wrote: after another process rewrote the
// record, the settle compares with (and keeps) the database's record.
func TestSettleAfterAnotherWriterChangedTheRecord(t *testing.T) {
	dsn := pgtest.NewDB(t)
	db, other := openTest(t, dsn), openTest(t, dsn)
	mustUpdate(t, db, func(tx store.Tx) error {
		return tx.Enqueue(&model.Outbound{Kind: "ack", Rcpt: "c@example.com", Text: "first"})
	})
	now := time.Now()
	var claimed []*model.Outbound
	mustUpdate(t, db, func(tx store.Tx) (err error) {
		claimed, err = tx.Claim("w1", now, 10, time.Minute, true)
		return err
	})
	if len(claimed) != 1 {
		t.Fatalf("claimed %d items, want 1", len(claimed))
	}
	// Another daemon rewrites the mail (its lease untouched).
	mustUpdate(t, other, func(tx store.Tx) error {
		o, err := tx.Outbound(claimed[0].ID)
		if err != nil {
			return err
		}
		o.Text = "second"
		return tx.PutOutbound(o, o.NextAttempt)
	})
	// Settling the claimed snapshot ("first") is a change of the mail
	// against the database's record ("second"): written whole.
	mustUpdate(t, db, func(tx store.Tx) error {
		x := *claimed[0]
		prev := x.NextAttempt
		x.State, x.Done, x.Attempts = model.OutSent, now, 1
		return tx.Settle("w1", &x, prev)
	})
	for _, r := range []*DB{db, openTest(t, dsn)} {
		if err := r.View(func(tx store.Tx) error {
			o, err := tx.Outbound(claimed[0].ID)
			if err == nil && (o.Text != "first" || o.State != model.OutSent || o.LeaseHolder != "") {
				err = fmt.Errorf("reads %+v", o)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// A claim (and the workers' looks at what is due, mail and webhooks)
// reads the queue's partial index in due order and stops at its limit, also from a backlog
// queued since the table's statistics were gathered: with those
// statistics the planner's own choice was a bitmap scan of every queued
// row, sorted, inside the writer's transaction.
func TestQueueReadsStopAtTheirLimitInABacklog(t *testing.T) {
	dsn := pgtest.NewDB(t)
	openTest(t, dsn).Close() // the schema
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE outbound"); err != nil { // statistics of an empty queue
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE webhooks"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO outbound (id, state, due_ns, lease_holder, lease_until_ns, data)
		SELECT i, 'queued', i, '', 0, json_build_object('id', i, 'text', repeat('x', 1000))
		FROM generate_series(1, 5000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO webhooks (id, state, due_ns, data)
		SELECT i, 'queued', i, json_build_object('id', i, 'body', repeat('x', 1000))
		FROM generate_series(1, 5000) AS i`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name string
		sql  string
	}{{"claim", claimSQL}, {"due", dueSQL}, {"due webhooks", dueHooksSQL}} {
		for _, ordered := range []bool{false, true} {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ordered {
				for _, s := range dueOrder {
					if _, err := tx.Exec(ctx, s); err != nil {
						t.Fatal(err)
					}
				}
			}
			var plan []map[string]any
			if err := tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q.sql, int64(1)<<62, 128).Scan(&plan); err != nil {
				t.Fatal(err)
			}
			tx.Rollback(ctx)
			var nodes []string
			read := 0.0
			var walk func(n map[string]any)
			walk = func(n map[string]any) {
				nodes = append(nodes, n["Node Type"].(string))
				if strings.Contains(n["Node Type"].(string), "Scan") {
					read += n["Actual Rows"].(float64)
				}
				if kids, ok := n["Plans"].([]any); ok {
					for _, k := range kids {
						walk(k.(map[string]any))
					}
				}
			}
			walk(plan[0]["Plan"].(map[string]any))
			if !ordered {
				t.Logf("%s without dueOrder: %v, %.0f rows scanned", q.name, nodes, read)
				continue
			}
			if slices.Contains(nodes, "Sort") || read > 128 {
				t.Errorf("%s of 128 from 5,000 queued: plan %v scans %.0f rows, want an index scan in due order stopping at 128", q.name, nodes, read)
			}
		}
	}
}

// A claim takes the records this writer queued from its memo only while
// their rows read as queued: one another daemon rewrote in between is
// claimed as the database has it.
func TestClaimAfterAnotherWriterChangedTheRecord(t *testing.T) {
	dsn := pgtest.NewDB(t)
	db, other := openTest(t, dsn), openTest(t, dsn)
	var ids []uint64
	mustUpdate(t, db, func(tx store.Tx) error {
		ids = ids[:0]
		for _, text := range []string{"kept", "first"} {
			o := &model.Outbound{Kind: "ack", Rcpt: "c@example.com", Text: text}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	mustUpdate(t, other, func(tx store.Tx) error {
		o, err := tx.Outbound(ids[1])
		if err != nil {
			return err
		}
		o.Text = "second"
		return tx.PutOutbound(o, o.NextAttempt)
	})
	var claimed []*model.Outbound
	mustUpdate(t, db, func(tx store.Tx) (err error) {
		claimed, err = tx.Claim("w1", time.Now(), 10, time.Minute, true)
		return err
	})
	if len(claimed) != 2 || claimed[0].Text != "kept" || claimed[1].Text != "second" || claimed[1].LeaseHolder != "w1" {
		t.Fatalf("claimed %+v, want the texts kept and second, leased to w1", claimed)
	}
}
