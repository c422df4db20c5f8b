package postgres

import (
	"strings"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// The rows of a new ticket (ids just taken, keys looked up and found
// absent) go out as plain INSERTs, not as upserts, whose speculative
// insertion costs the server an index probe and a WAL record more per
// row (issue 18); a rewrite of a stored row stays an upsert.
func TestNewRowsAreInsertedPlainly(t *testing.T) {
	db := openTest(t, pgtest.NewDB(t))
	db.TraceSQL()
	var tk model.Ticket
	mustUpdate(t, db, func(tx store.Tx) error {
		tk = model.Ticket{Subject: "printer", Requester: "c@example.net"}
		if err := tx.NewTicket(&tk); err != nil {
			return err
		}
		if _, err := tx.EnsureUser("c@example.net", "C"); err != nil {
			return err
		}
		m := &model.Message{MessageID: "<a@example.net>", BodyHash: "h1"}
		if err := tx.ReserveMessage(m, []byte("raw")); err != nil {
			return err
		}
		m.Ticket = tk.ID
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		c := &model.Customer{Name: "C", Addresses: []string{"c@example.net"}}
		if err := tx.NewCustomer(c); err != nil {
			return err
		}
		if _, err := tx.LinkCustomerTicket(c.ID, tk.ID, model.CustomerRequester); err != nil {
			return err
		}
		if err := tx.AddCustomerActivity(c.ID, &model.CustomerActivity{Kind: "ticket", Ticket: tk.ID}); err != nil {
			return err
		}
		// Rewritten before it is sent: still new.
		if err := tx.AddComment(&tk, &model.Comment{Text: "hello"}); err != nil {
			return err
		}
		return tx.PutTicket(&tk)
	})
	upserts := func() map[string]bool {
		out := map[string]bool{}
		for _, c := range db.WriterSQL() {
			if !strings.HasPrefix(c.SQL, "INSERT INTO ") {
				continue
			}
			name := strings.Fields(c.SQL)[2]
			out[name] = out[name] || strings.Contains(c.SQL, "ON CONFLICT")
		}
		return out
	}
	got := upserts()
	for _, name := range []string{"tickets", "comments", "messages", "users",
		"customers", "customer_addresses", "customer_tickets", "customer_activity"} {
		if up, sent := got[name]; !sent || up {
			t.Errorf("table %s: sent %v, as an upsert %v; want a plain INSERT (all: %v)", name, sent, up, got)
		}
	}
	db.TraceSQL()
	mustUpdate(t, db, func(tx store.Tx) error {
		stored, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		stored.Subject = "printer on floor 3"
		return tx.PutTicket(stored)
	})
	if got := upserts(); !got["tickets"] {
		t.Errorf("a stored ticket's rewrite: %v, want an upsert", got)
	}
	if err := db.View(func(tx store.Tx) error {
		stored, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		if stored.Subject != "printer on floor 3" || stored.LastSeq != 1 {
			t.Errorf("ticket %+v", stored)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
