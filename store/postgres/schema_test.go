package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// oldSchema creates the schema of version v on a new test database (as a
// binary of that version left it) and returns its DSN and a connection.
func oldSchema(t *testing.T, v int) (string, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.NewDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= v; i++ {
		if _, err := conn.Exec(ctx, migrations[i-1]); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	return dsn, conn
}

// A version 6 database's profiles by organization, customer timelines
// and report events read the same after the migration to version 7
// (their indexes changed), and new ones are added as before.
func TestSchema7KeepsProfilesTimelinesAndEvents(t *testing.T) {
	dsn, conn := oldSchema(t, 6)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return at.Add(d).UnixNano() }
	if _, err := conn.Exec(ctx, `
INSERT INTO sequences (name, value) VALUES ('customers', 3), ('customer_activity', 3);
INSERT INTO customers (id, organization, data) VALUES
	(1, 'acme', '{"id":1,"name":"A","organization":"Acme","addresses":["a@acme.example"]}'),
	(2, '', '{"id":2,"name":"B","addresses":["b@example.net"]}'),
	(3, 'acme', '{"id":3,"name":"C","organization":"Acme","addresses":["c@acme.example"]}');
INSERT INTO customer_addresses (addr, customer) VALUES ('a@acme.example', 1), ('b@example.net', 2), ('c@acme.example', 3);`); err != nil {
		t.Fatal(err)
	}
	for i, d := range []time.Duration{2 * time.Hour, time.Hour, 3 * time.Hour} {
		if _, err := conn.Exec(ctx, "INSERT INTO customer_activity (customer, seq, at_ns, data) VALUES (1, $1, $2, $3)",
			i+1, ns(d), fmt.Sprintf(`{"at":%q,"kind":"note","text":"entry %d"}`, at.Add(d).Format(time.RFC3339Nano), i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO report_events (at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating) VALUES
		($1, 'received', 1, 'support', 'help@x.example', '', NULL, '', 0),
		($2, 'resolved', 1, 'support', 'help@x.example', 'al@x.example', $1, '', 0),
		($1, 'received', 2, 'support', 'help@x.example', '', NULL, '', 0)`, ns(0), ns(time.Hour)); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, dsn)
	check := func(wantOrg []uint64, wantTimeline []string, wantEvents []string) {
		t.Helper()
		if err := db.View(func(tx store.Tx) error {
			if got := tx.CustomerIDs("ACME", 0); !slices.Equal(got, wantOrg) {
				return fmt.Errorf("customers of Acme %v, want %v", got, wantOrg)
			}
			if got := tx.CustomerIDs("", 0); len(got) != len(wantOrg)+1 {
				return fmt.Errorf("all customers %v", got)
			}
			acts, err := tx.CustomerActivity(1, 0, 0)
			if err != nil {
				return err
			}
			var texts []string
			for _, a := range acts {
				texts = append(texts, a.Text)
			}
			if !slices.Equal(texts, wantTimeline) {
				return fmt.Errorf("customer 1's timeline %q, want %q", texts, wantTimeline)
			}
			var evs []string
			if err := tx.ReportEvents(at, at.Add(24*time.Hour), func(ev *model.ReportEvent) error {
				evs = append(evs, fmt.Sprintf("%s #%d %s", ev.At.Sub(at), ev.Ticket, ev.Kind))
				return nil
			}); err != nil {
				return err
			}
			if !slices.Equal(evs, wantEvents) {
				return fmt.Errorf("report events %q, want %q", evs, wantEvents)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check([]uint64{3, 1}, []string{"entry 3", "entry 1", "entry 2"},
		[]string{"0s #1 received", "0s #2 received", "1h0m0s #1 resolved"})
	mustUpdate(t, db, func(tx store.Tx) error {
		c := &model.Customer{Name: "D", Organization: "Acme", Addresses: []string{"d@acme.example"}}
		if err := tx.NewCustomer(c); err != nil {
			return err
		}
		if err := tx.AddCustomerActivity(1, &model.CustomerActivity{At: at.Add(90 * time.Minute), Kind: "note", Text: "entry 4"}); err != nil {
			return err
		}
		return tx.AddReportEvent(&model.ReportEvent{At: at.Add(30 * time.Minute), Kind: model.EvReceived, Ticket: 3})
	})
	check([]uint64{4, 3, 1}, []string{"entry 3", "entry 1", "entry 4", "entry 2"},
		[]string{"0s #1 received", "0s #2 received", "30m0s #3 received", "1h0m0s #1 resolved"})
	var idx []string
	rows, err := conn.Query(ctx, "SELECT indexdef FROM pg_indexes WHERE tablename IN ('customers', 'customer_activity', 'report_events') ORDER BY indexname")
	if err != nil {
		t.Fatal(err)
	}
	idx, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var storage []string
	rows, err = conn.Query(ctx, `SELECT c.relname || '.' || a.attname || ' ' || a.attstorage::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE (c.relname, a.attname) IN (('messages', 'raw'), ('messages', 'data'), ('comments', 'data')) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if storage, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || !slices.Equal(storage, []string{"comments.data m", "messages.data m", "messages.raw m"}) {
		t.Errorf("storage of the mail's bytes and text: %q (%v), want main (m)", storage, err)
	}
	if len(idx) != 4 {
		t.Errorf("indexes after the migration: %q, want the three primary keys and the partial organization index", idx)
	}
}

// A version 7 database's messages keep their raw bytes and identities
// after the migration to version 8 (columns of messages instead of rows
// of message_raw and message_identity): the duplicate check finds a
// stored mail, a deleted raw stays deleted, a body in blobs stays there,
// and the database refuses a second row with a stored identity.
func TestSchema8KeepsRawAndIdentity(t *testing.T) {
	dsn, conn := oldSchema(t, 7)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `
INSERT INTO sequences (name, value) VALUES ('messages', 3);
INSERT INTO messages (id, ticket, data) VALUES
	(1, 1, '{"id":1,"ticket":1,"message_id":"A@example.net","body_hash":"h1"}'),
	(2, 1, '{"id":2,"ticket":1,"message_id":"b@example.net","body_hash":"h2"}'),
	(3, 2, '{"id":3,"ticket":2,"message_id":"c@example.net","body_hash":"h3","blob":"blob:abc"}');
INSERT INTO message_raw (id, raw) VALUES (1, 'raw one'::bytea);
INSERT INTO message_identity (message_id, body_hash, message) VALUES ('a@example.net', 'h1', 1), ('b@example.net', 'h2', 2), ('c@example.net', 'h3', 3);`); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, dsn)
	if err := db.View(func(tx store.Tx) error {
		for i, c := range []struct {
			msgID, hash string
			want        uint64
		}{{"<A@example.net>", "h1", 1}, {"b@example.net", "h2", 2}, {"c@example.net", "h3", 3}, {"b@example.net", "h1", 0}} {
			m, err := tx.Duplicate(c.msgID, c.hash)
			if err != nil {
				return err
			}
			if (m == nil) != (c.want == 0) || (m != nil && m.ID != c.want) {
				return fmt.Errorf("case %d: duplicate of %s %s: %+v, want message %d", i, c.msgID, c.hash, m, c.want)
			}
		}
		if raw := tx.RawInline(1); string(raw) != "raw one" {
			return fmt.Errorf("message 1's raw bytes %q", raw)
		}
		if raw := tx.RawInline(2); raw != nil {
			return fmt.Errorf("message 2 had no raw bytes, reads %q", raw)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rc, err := db.OpenRaw(&model.Message{ID: 2}); err == nil {
		rc.Close()
		t.Errorf("message 2's raw bytes open, want not found")
	}
	// A new message, its raw bytes deleted by retention, and a copy of
	// a stored one that passed the duplicate check (another daemon's
	// before the check could see it): the database refuses it.
	mustUpdate(t, db, func(tx store.Tx) error {
		m := &model.Message{MessageID: "<d@example.net>", BodyHash: "h4", Ticket: 2}
		if err := tx.ReserveMessage(m, []byte("raw four")); err != nil {
			return err
		}
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		return tx.DeleteRaw(1)
	})
	if err := db.View(func(tx store.Tx) error {
		if raw := tx.RawInline(1); raw != nil {
			return fmt.Errorf("message 1's raw bytes after DeleteRaw: %q", raw)
		}
		if raw := tx.RawInline(4); string(raw) != "raw four" {
			return fmt.Errorf("message 4's raw bytes %q", raw)
		}
		m, err := tx.Message(4)
		if err != nil || m.Ticket != 2 {
			return fmt.Errorf("message 4: %+v %v", m, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Exec(ctx, `INSERT INTO messages (id, ticket, message_id, body_hash, data) VALUES (9, 2, 'd@example.net', 'h4', '{}')`)
	if err == nil || !strings.Contains(err.Error(), "messages_identity") {
		t.Errorf("a second row with a stored identity: %v, want refused by messages_identity", err)
	}
	for _, table := range []string{"message_raw", "message_identity"} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = $1", table).Scan(&n); err != nil || n != 0 {
			t.Errorf("table %s after the migration: %d (%v)", table, n, err)
		}
	}
}

// A version 8 database's backlog moves count the same after the
// migration to version 9 (columns of report_events), its events read as
// before, and a write's event and its move at one instant are one row.
func TestSchema9KeepsBacklogMoves(t *testing.T) {
	dsn, conn := oldSchema(t, 8)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return at.Add(d).UnixNano() }
	if _, err := conn.Exec(ctx, `INSERT INTO report_events (at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating) VALUES
		($1, 'received', 1, 'support', '', '', NULL, '', 0), ($2, 'resolved', 1, 'support', '', 'al@x.example', $1, '', 0)`, ns(0), ns(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO report_backlog_moves (at_ns, dec, inc) VALUES
		($1, '{}', ARRAY['open'::bytea, 'grp'::bytea]), ($2, ARRAY['open'::bytea], ARRAY['solved'::bytea])`, ns(0), ns(time.Hour)); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, dsn)
	check := func(when time.Duration, want map[string]int, wantEvents int) {
		t.Helper()
		if err := db.View(func(tx store.Tx) error {
			b, err := tx.Backlog(at.Add(when))
			if err != nil {
				return err
			}
			if fmt.Sprint(b) != fmt.Sprint(want) {
				return fmt.Errorf("backlog at +%s: %v, want %v", when, b, want)
			}
			n := 0
			if err := tx.ReportEvents(at, at.Add(24*time.Hour), func(*model.ReportEvent) error { n++; return nil }); err != nil {
				return err
			}
			if n != wantEvents {
				return fmt.Errorf("%d report events, want %d", n, wantEvents)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	check(30*time.Minute, map[string]int{"grp": 1, "open": 1}, 2)
	check(2*time.Hour, map[string]int{"grp": 1, "solved": 1}, 2)
	var before int
	conn.QueryRow(ctx, "SELECT count(*) FROM report_events").Scan(&before)
	mustUpdate(t, db, func(tx store.Tx) error {
		if err := tx.AddReportEvent(&model.ReportEvent{At: at.Add(90 * time.Minute), Kind: model.EvReceived, Ticket: 2}); err != nil {
			return err
		}
		if err := tx.MoveBacklog(at.Add(90*time.Minute), nil, []string{"open"}); err != nil {
			return err
		}
		// A move at another instant: a row of its own.
		return tx.MoveBacklog(at.Add(100*time.Minute), []string{"grp"}, nil)
	})
	check(2*time.Hour, map[string]int{"open": 1, "solved": 1}, 3)
	var after int
	conn.QueryRow(ctx, "SELECT count(*) FROM report_events").Scan(&after)
	if after-before != 2 {
		t.Errorf("an event with its move and a move alone took %d rows, want 2", after-before)
	}
}
