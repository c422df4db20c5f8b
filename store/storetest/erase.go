package storetest

import (
	"sync"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Compact keeps everything (records, sequences, the installation id),
// and writes running while it does all commit: before it or after it,
// none lost. A write after it and a reopen see the same store.
func testCompact(t *testing.T, e *env) {
	id := e.db.InstallationID()
	e.update(func(tx store.Tx) error { return everything(tx, "a") })
	// Something to free: a ticket rewritten many times.
	for i := 0; i < 50; i++ {
		e.update(func(tx store.Tx) error {
			tk, err := tx.Ticket(1)
			if err != nil {
				return err
			}
			tk.Subject = string(make([]byte, 2000))
			return tx.PutTicket(tk)
		})
	}
	before := counts(t, e, "a")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.db.Update(func(tx store.Tx) error {
				return tx.NewTicket(&model.Ticket{Subject: "during", Requester: "during@x"})
			})
		}()
	}
	res, err := e.db.Compact()
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	for err := range errs {
		if err != nil {
			t.Errorf("a write during the compaction: %v", err)
		}
	}
	if res.Before <= 0 || res.After <= 0 {
		t.Errorf("Compact reported sizes %+v", res)
	}
	if e.db.InstallationID() != id {
		t.Errorf("installation id changed")
	}
	e.view(func(tx store.Tx) error {
		if n := len(tx.TicketsOfRequester("during@x")); n != 40 {
			t.Errorf("%d of the 40 tickets written during the compaction are there", n)
		}
		return nil
	})
	// Sequences go on where they were.
	e.update(func(tx store.Tx) error {
		tk := &model.Ticket{Subject: "after"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		if tk.ID != 42 {
			t.Errorf("the ticket after the compaction got id %d, want 42", tk.ID)
		}
		return nil
	})
	after := counts(t, e, "a")
	want := before[:len("tickets ")] + "42" + before[len("tickets 1"):]
	if after != want {
		t.Errorf("after the compaction:\n%s\nwant:\n%s", after, want)
	}
	e.reopen()
	if got := counts(t, e, "a"); got != want {
		t.Errorf("after compaction and reopen:\n%s\nwant:\n%s", got, want)
	}
}
