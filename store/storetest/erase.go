package storetest

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

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

// Erasing deletes for good: a message with its raw bytes and duplicate
// entry, queue items in any state, quarantine records, webhook
// deliveries, a user and its address key, the Message-ID entries of
// tickets; settled outbound and old quarantine are listed oldest first;
// erasure records are kept in order.
func testErasing(t *testing.T, e *env) {
	var msgID, keep uint64
	e.update(func(tx store.Tx) error {
		if err := everything(tx, "a"); err != nil {
			return err
		}
		m := &model.Message{MessageID: "gone@x", BodyHash: "h2"}
		if err := tx.AddMessage(m, []byte("raw bytes to erase")); err != nil {
			return err
		}
		msgID = m.ID
		k := &model.Message{MessageID: "kept@x", BodyHash: "h3"}
		if err := tx.AddMessage(k, []byte("raw bytes to keep")); err != nil {
			return err
		}
		keep = k.ID
		if err := tx.IndexMessageID("other@x", model.Ref{Ticket: 99}); err != nil {
			return err
		}
		return tx.EnqueueWebhook(&model.WebhookDelivery{Webhook: "w", Ticket: 1, Body: []byte("{}")})
	})
	e.update(func(tx store.Tx) error {
		if err := tx.DeleteMessage(msgID); err != nil {
			return err
		}
		if err := tx.DeleteRaw(keep); err != nil {
			return err
		}
		if err := tx.DeleteOutbound(1); err != nil {
			return err
		}
		if err := tx.DeleteQuarantine(1); err != nil {
			return err
		}
		if err := tx.DeleteWebhook(1); err != nil {
			return err
		}
		if err := tx.DeleteUser("a@x"); err != nil {
			return err
		}
		n, err := tx.ForgetMessageIDs(map[uint64]bool{1: true}, []string{"<other@x>"})
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("ForgetMessageIDs removed %d entries, want 2 (a@x of ticket 1, other@x by name)", n)
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		if _, err := tx.Message(msgID); err == nil {
			t.Error("a deleted message is still there")
		}
		if d, _ := tx.Duplicate("gone@x", "h2"); d != nil {
			t.Error("a deleted message's duplicate entry is still there")
		}
		if m, err := tx.Message(keep); err != nil || m.MessageID != "kept@x" {
			t.Errorf("DeleteRaw took the record too: %v", err)
		}
		if tx.RawInline(keep) != nil {
			t.Error("DeleteRaw left the raw bytes")
		}
		if _, err := tx.Outbound(1); err == nil || tx.QueueDepth() != 0 {
			t.Errorf("a deleted queue item: %v, queue depth %d", err, tx.QueueDepth())
		}
		if qs, _ := tx.Quarantined(0); len(qs) != 0 {
			t.Errorf("%d quarantine records after the delete", len(qs))
		}
		if _, err := tx.WebhookDelivery(1); err == nil || !tx.NextWebhookDue().IsZero() {
			t.Error("a deleted webhook delivery is still there or queued")
		}
		if _, err := tx.User("a@x"); err == nil {
			t.Error("a deleted user is still found by address")
		}
		for _, id := range []string{"a@x", "other@x"} {
			if _, ok := tx.LookupMessageID(id); ok {
				t.Errorf("Message-ID %s still indexed", id)
			}
		}
		return nil
	})
	// A user at the address is new again.
	e.update(func(tx store.Tx) error {
		u, err := tx.EnsureUser("a@x", "")
		if err == nil && u.Name != "" {
			t.Errorf("the user after erasure kept a name: %+v", u)
		}
		return err
	})
	// Retention's lists.
	e.update(func(tx store.Tx) error {
		for i := 0; i < 3; i++ {
			o := &model.Outbound{Rcpt: "r@x"}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			if i < 2 {
				o.State, o.Done = model.OutSent, Start.Add(time.Duration(i)*time.Hour)
				if err := tx.PutOutbound(o, o.NextAttempt); err != nil {
					return err
				}
			}
			if err := tx.AddQuarantine(&model.Quarantine{Reason: model.QLoop, Created: Start.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		os, err := tx.SettledOutbound(Start.Add(90*time.Minute), 10)
		if err != nil || len(os) != 2 || os[0].ID >= os[1].ID {
			t.Errorf("SettledOutbound: %d items, %v; want the 2 sent, oldest first", len(os), err)
		}
		if os, _ := tx.SettledOutbound(Start.Add(90*time.Minute), 1); len(os) != 1 {
			t.Errorf("SettledOutbound ignores its limit: %d", len(os))
		}
		qs, err := tx.OldQuarantine(Start.Add(90*time.Minute), 10)
		if err != nil || len(qs) != 2 || qs[0].ID >= qs[1].ID {
			t.Errorf("OldQuarantine: %d records, %v; want 2, oldest first", len(qs), err)
		}
		return nil
	})
	e.update(func(tx store.Tx) error {
		for _, by := range []string{"ada@x", "cli"} {
			if err := tx.AddErasure(&model.Erasure{By: by, Tickets: 2}); err != nil {
				return err
			}
		}
		return nil
	})
	e.reopen()
	e.view(func(tx store.Tx) error {
		rs, err := tx.Erasures()
		if err != nil || len(rs) != 2 || rs[0].By != "ada@x" || rs[1].ID != 2 || !rs[0].At.Equal(Start) || rs[0].Tickets != 2 {
			t.Errorf("Erasures after reopen: %v, %+v", err, rs)
		}
		return nil
	})
}

// Erasing one message whose spooled body another message has too (an
// engine may keep equal bodies once) leaves the other's readable; its
// own record is gone.
func testErasingSharedBody(t *testing.T, e *env) {
	big := bytes.Repeat([]byte("the same long mail twice\r\n"), 200)
	var names [2]string
	for i := range names {
		sp := e.db.NewSpool(100)
		sp.Write(big)
		name, err := sp.Commit()
		if err != nil || name == "" {
			t.Fatalf("committing a spooled body: %q, %v", name, err)
		}
		sp.Close()
		names[i] = name
	}
	var ids [2]uint64
	e.update(func(tx store.Tx) error {
		for i, name := range names {
			m := &model.Message{Blob: name, Size: int64(len(big))}
			if err := tx.AddMessage(m, nil); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		return nil
	})
	e.update(func(tx store.Tx) error { return tx.DeleteMessage(ids[0]) })
	e.view(func(tx store.Tx) error {
		if _, err := tx.Message(ids[0]); err == nil {
			t.Error("the deleted message is still there")
		}
		m, err := tx.Message(ids[1])
		if err != nil {
			t.Fatalf("the other message: %v", err)
		}
		r, err := e.db.OpenRaw(m)
		if err != nil {
			t.Fatalf("the other message's body after erasing one with the same bytes: %v", err)
		}
		defer r.Close()
		if b, _ := io.ReadAll(r); !bytes.Equal(b, big) {
			t.Errorf("the other message's body: %d bytes, want %d", len(b), len(big))
		}
		return nil
	})
}

// An erasure record not complete (an erase confirmed by mail, issue 16)
// is written in the same write as the confirming mail's ticket change:
// a write that fails leaves neither. It keeps its state and what it
// still needs across a reopen, moves on with PutErasure, and goes with
// DeleteErasure; both name an unknown record ErrNotFound.
func testPendingErasure(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		return tx.NewTicket(&model.Ticket{Subject: "s", Requester: "ken@x", EraseRequest: &model.EraseRequest{Hash: "h", By: "ada@x", Addr: "ken@x"}})
	})
	confirm := func(tx store.Tx) (*model.Erasure, error) {
		tk, err := tx.Ticket(1)
		if err != nil {
			return nil, err
		}
		tk.EraseRequest = nil
		if err := tx.PutTicket(tk); err != nil {
			return nil, err
		}
		r := &model.Erasure{By: "ada@x", Via: "mail", State: model.ErasureConfirmed,
			Pending: &model.PendingErasure{Addr: "ken@x", Ticket: 1, ByName: "Ada", Mailbox: "support@x", Line: "#customer erase confirm C", MessageID: "<m@x>"}}
		return r, tx.AddErasure(r)
	}
	boom := errors.New("boom")
	if err := e.db.Update(func(tx store.Tx) error {
		if _, err := confirm(tx); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("the failing write: %v", err)
	}
	e.view(func(tx store.Tx) error {
		rs, err := tx.Erasures()
		tk, terr := tx.Ticket(1)
		if err != nil || len(rs) != 0 || terr != nil || tk.EraseRequest == nil {
			t.Errorf("after a failed write: erasures %+v (%v), ticket %+v (%v)", rs, err, tk, terr)
		}
		return nil
	})
	var id uint64
	e.update(func(tx store.Tx) error {
		r, err := confirm(tx)
		id = r.ID
		return err
	})
	e.reopen()
	e.update(func(tx store.Tx) error {
		rs, err := tx.Erasures()
		if err != nil || len(rs) != 1 || rs[0].ID != id || rs[0].State != model.ErasureConfirmed || rs[0].Pending == nil ||
			rs[0].Pending.Addr != "ken@x" || rs[0].Pending.Line != "#customer erase confirm C" {
			t.Fatalf("the pending erasure after reopen: %v, %+v", err, rs)
		}
		if tk, err := tx.Ticket(1); err != nil || tk.EraseRequest != nil {
			t.Errorf("the ticket after the confirming write: %+v, %v", tk, err)
		}
		r := rs[0]
		r.State, r.Tickets, r.Pending.Addr = model.ErasureErased, 1, ""
		r.Pending.Blobs, r.Pending.Outbox = []string{"blobs/a/b.eml"}, []uint64{7}
		if err := tx.PutErasure(r); err != nil {
			return err
		}
		// Read back in the same write.
		rs, err = tx.Erasures()
		if err != nil || len(rs) != 1 || rs[0].State != model.ErasureErased || rs[0].Tickets != 1 {
			t.Errorf("in the write that moved it: %v, %+v", err, rs)
		}
		if err := tx.PutErasure(&model.Erasure{ID: id + 1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("PutErasure of an unknown record: %v", err)
		}
		if err := tx.DeleteErasure(id + 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteErasure of an unknown record: %v", err)
		}
		return nil
	})
	e.reopen()
	e.update(func(tx store.Tx) error {
		rs, err := tx.Erasures()
		if err != nil || len(rs) != 1 || rs[0].State != model.ErasureErased || rs[0].Pending.Addr != "" ||
			len(rs[0].Pending.Blobs) != 1 || len(rs[0].Pending.Outbox) != 1 || rs[0].Pending.Outbox[0] != 7 {
			t.Fatalf("the erased record after reopen: %v, %+v", err, rs)
		}
		return tx.DeleteErasure(id)
	})
	e.reopen()
	e.view(func(tx store.Tx) error {
		if rs, err := tx.Erasures(); err != nil || len(rs) != 0 {
			t.Errorf("after DeleteErasure: %v, %+v", err, rs)
		}
		return nil
	})
}
