package engine

import (
	"context"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

func TestSweepAutoClosesResolvedTickets(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg, err := config.Parse(`data_dir = "` + t.TempDir() + `"
[tickets]
auto_close_after = "48h"
[[mailbox]]
address = "support@example.com"
`)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cfg.DataDir, bolt.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(cfg, db, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"one", "two"} {
		raw := "From: ken@e-fun.example\r\nTo: support@example.com\r\nSubject: " + subj + "\r\nMessage-ID: <" + subj + "@x>\r\n\r\nhello\r\n"
		if _, err := e.Inject(context.Background(), []byte(raw), false); err != nil {
			t.Fatal(err)
		}
	}
	// Ticket 1 resolved now, ticket 2 stays open.
	db.Update(func(tx store.Tx) error {
		tk, _ := tx.Ticket(1)
		tk.Status = model.StatusResolved
		r := now
		tk.ResolvedAt = &r
		return tx.PutTicket(tk)
	})
	now = now.Add(47 * time.Hour)
	if n, err := e.Sweep(); err != nil || n != 0 {
		t.Fatalf("sweep before the deadline closed %d (%v)", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := e.Sweep(); err != nil || n != 1 {
		t.Fatalf("sweep after the deadline closed %d (%v), want 1", n, err)
	}
	db.View(func(tx store.Tx) error {
		one, _ := tx.Ticket(1)
		two, _ := tx.Ticket(2)
		if one.Status != model.StatusClosed || one.ClosedAt == nil {
			t.Errorf("ticket 1 status %s", one.Status)
		}
		if two.Status != model.StatusOpen {
			t.Errorf("ticket 2 status %s", two.Status)
		}
		return nil
	})
}
