package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

func TestAutoCloseAutoClosesResolvedTickets(t *testing.T) {
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
	if n, err := e.RunTimers(); err != nil || n != 0 {
		t.Fatalf("sweep before the deadline closed %d (%v)", n, err)
	}
	now = now.Add(2 * time.Hour)
	if n, err := e.RunTimers(); err != nil || n != 1 {
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

// Auto-close is an automation's change: it starts a triggers' pass
// (event "automation") in the same write, and the trigger's mail is queued.
func TestAutoCloseStartsATriggerPass(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cfg, err := config.Parse(`data_dir = "` + t.TempDir() + `"
[tickets]
auto_close_after = "48h"
[[mailbox]]
address = "support@example.com"
[[agent]]
email = "dana@certs.example"
role = "agent"
[[trigger]]
name = "closed by time"
all = ["event is automation", "status is closed"]
actions = ["#tag auto-closed"]
notify = ["dana@certs.example"]
text = "Closed after resolution."
[[trigger]]
name = "never on a timer"
all = ["event is customer-comment"]
actions = ["#tag wrong"]
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
	raw := "From: ken@e-fun.example\r\nTo: support@example.com\r\nSubject: one\r\nMessage-ID: <one@x>\r\n\r\nhello\r\n"
	if _, err := e.Inject(context.Background(), []byte(raw), false); err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx store.Tx) error {
		tk, _ := tx.Ticket(1)
		tk.Status, tk.Tags = model.StatusResolved, []string{}
		r := now
		tk.ResolvedAt = &r
		return tx.PutTicket(tk)
	})
	now = now.Add(49 * time.Hour)
	if n, err := e.RunTimers(); err != nil || n != 1 {
		t.Fatalf("sweep closed %d (%v), want 1", n, err)
	}
	db.View(func(tx store.Tx) error {
		tk, _ := tx.Ticket(1)
		if tk.Status != model.StatusClosed || len(tk.Tags) != 1 || tk.Tags[0] != "auto-closed" {
			t.Errorf("after the sweep: status %s tags %q", tk.Status, tk.Tags)
		}
		cs, _ := tx.Comments(1)
		fired := 0
		for _, c := range cs {
			if c.Kind == model.KindEvent && c.Author == "rule:closed by time" {
				fired++
			}
		}
		if fired == 0 {
			t.Error("no event names the trigger")
		}
		mails := 0
		tx.ForEachOutbound(func(ob *model.Outbound) error {
			if ob.Rcpt == "dana@certs.example" && ob.Ticket == 1 && strings.Contains(ob.Subject, "closed by time") && strings.Contains(ob.Text, "Closed after resolution.") {
				mails++
			}
			return nil
		})
		if mails != 1 {
			t.Errorf("dana has %d mails queued, want 1", mails)
		}
		return nil
	})
}
