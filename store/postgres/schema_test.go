package postgres

import (
	"context"
	"fmt"
	"slices"
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
		WHERE (c.relname, a.attname) IN (('message_raw', 'raw'), ('comments', 'data')) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if storage, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || !slices.Equal(storage, []string{"comments.data m", "message_raw.raw m"}) {
		t.Errorf("storage of the mail's bytes and text: %q (%v), want main (m)", storage, err)
	}
	if len(idx) != 4 {
		t.Errorf("indexes after the migration: %q, want the three primary keys and the partial organization index", idx)
	}
}
