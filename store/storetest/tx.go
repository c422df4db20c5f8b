package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// everything writes one record of every role, as one mail's write does.
func everything(tx store.Tx, tag string) error {
	tk := &model.Ticket{Subject: tag, Requester: tag + "@x"}
	if err := tx.NewTicket(tk); err != nil {
		return err
	}
	if err := tx.AddComment(tk, &model.Comment{Author: tag + "@x", Visibility: model.Public, Text: tag}); err != nil {
		return err
	}
	if err := tx.PutTicket(tk); err != nil {
		return err
	}
	if err := tx.AddMessage(&model.Message{MessageID: tag + "@x", BodyHash: "h"}, []byte(tag)); err != nil {
		return err
	}
	if err := tx.IndexMessageID(tag+"@x", model.Ref{Ticket: tk.ID}); err != nil {
		return err
	}
	if _, err := tx.EnsureUser(tag+"@x", tag); err != nil {
		return err
	}
	if err := tx.Enqueue(&model.Outbound{Rcpt: tag + "@x", Ticket: tk.ID}); err != nil {
		return err
	}
	if err := tx.AddQuarantine(&model.Quarantine{Reason: model.QLoop, From: tag + "@x"}); err != nil {
		return err
	}
	if _, err := tx.RateAllow("rate:"+tag, time.Hour, 10); err != nil {
		return err
	}
	if _, err := tx.Counter("counter:"+tag, 1); err != nil {
		return err
	}
	return tx.RotateKey(time.Hour)
}

// counts is what a store holds, role by role.
func counts(t *testing.T, e *env, tag string) string {
	t.Helper()
	var s string
	// An Update, not a View: reading a counter is adding 0 to it.
	e.update(func(tx store.Tx) error {
		qs, _ := tx.Quarantined(0)
		keys, _ := tx.Keys()
		_, userErr := tx.User(tag + "@x")
		_, indexed := tx.LookupMessageID(tag + "@x")
		dup, _ := tx.Duplicate(tag+"@x", "h")
		counter, _ := tx.Counter("counter:"+tag, 0)
		s = fmt.Sprintf("tickets %d, messages %d, requester %v, user %v, Message-ID %v, duplicate %v, queue %d, quarantine %d, keys %d, rate %d, counter %d",
			len(tx.TicketIDs("", 0)), tx.MessageCount(), tx.TicketsOfRequester(tag+"@x"), userErr == nil, indexed, dup != nil,
			tx.QueueDepth(), len(qs), len(keys), tx.RateCountAt("rate:"+tag, Start, time.Hour), counter)
		return nil
	})
	return s
}

// A write that fails leaves nothing of what it did, in any role; the
// next write succeeds as if it had never run.
func testRollback(t *testing.T, e *env) {
	empty := counts(t, e, "a")
	boom := errors.New("boom")
	err := e.db.Update(func(tx store.Tx) error {
		if err := everything(tx, "a"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("the failed update returned %v, want its own error", err)
	}
	if got := counts(t, e, "a"); got != empty {
		t.Errorf("after a failed update:\n%s\nwant what an empty store holds:\n%s", got, empty)
	}
	e.update(func(tx store.Tx) error { return everything(tx, "b") })
	want := "tickets 1, messages 1, requester [1], user true, Message-ID true, duplicate true, queue 1, quarantine 1, keys 2, rate 1, counter 1"
	if got := counts(t, e, "b"); got != want {
		t.Errorf("the write after a failed one:\n%s\nwant:\n%s", got, want)
	}
	e.reopen()
	if got := counts(t, e, "a"); !strings.HasPrefix(got, "tickets 1, messages 1, requester [], user false, Message-ID false, duplicate false,") {
		t.Errorf("after reopening, the failed update's records: %s", got)
	}
}

// A panic in a write function is that write's error, rolled back; the
// store goes on.
func testPanic(t *testing.T, e *env) {
	err := e.db.Update(func(tx store.Tx) error {
		if err := everything(tx, "a"); err != nil {
			return err
		}
		panic("bad")
	})
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("a panicking update returned %v, want an error naming the panic", err)
	}
	e.update(func(tx store.Tx) error { return everything(tx, "b") })
	if got := counts(t, e, "b"); !strings.HasPrefix(got, "tickets 1, messages 1,") {
		t.Errorf("after a panicking update and a good one: %s", got)
	}
}

// A View cannot write: a writing operation fails and stores nothing.
func testViewReadOnly(t *testing.T, e *env) {
	empty := counts(t, e, "a")
	err := e.db.View(func(tx store.Tx) error {
		if tx.Writable() {
			t.Error("a View's transaction says it is writable")
		}
		return everything(tx, "a")
	})
	if err == nil {
		t.Error("writing in a View succeeded")
	}
	if got := counts(t, e, "a"); got != empty {
		t.Errorf("after writing in a View: %s", got)
	}
	e.update(func(tx store.Tx) error {
		if !tx.Writable() {
			t.Error("an Update's transaction says it is not writable")
		}
		if !tx.Now().Equal(Start) {
			t.Errorf("Tx.Now %v, want the store clock %v", tx.Now(), Start)
		}
		return nil
	})
}

// Many writers at once: every write is there once Update returns, ids
// are distinct.
func testConcurrentUpdates(t *testing.T, e *env) {
	const n = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[uint64]bool{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var id uint64
			err := e.db.Update(func(tx store.Tx) error {
				tk := &model.Ticket{Subject: fmt.Sprint(i)}
				if err := tx.NewTicket(tk); err != nil {
					return err
				}
				id = tk.ID
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			// Visible as soon as Update returned.
			e.db.View(func(tx store.Tx) error {
				if tk, err := tx.Ticket(id); err != nil || tk.Subject != fmt.Sprint(i) {
					t.Errorf("ticket %d right after its write: %v, %v", id, tk, err)
				}
				return nil
			})
			mu.Lock()
			ids[id] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != n {
		t.Errorf("%d distinct ids for %d tickets", len(ids), n)
	}
	e.view(func(tx store.Tx) error {
		if c := tx.TicketCount(); c != n {
			t.Errorf("TicketCount %d, want %d", c, n)
		}
		return nil
	})
}

// Writers whose functions fail get their own error; the others commit.
func testFailureIsolated(t *testing.T, e *env) {
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.db.Update(func(tx store.Tx) error {
				if err := tx.NewTicket(&model.Ticket{Subject: fmt.Sprint(i)}); err != nil {
					return err
				}
				if i%5 == 0 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%5 == 0 && !errors.Is(err, boom) {
			t.Errorf("request %d: %v, want boom", i, err)
		}
		if i%5 != 0 && err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	e.view(func(tx store.Tx) error {
		if c := len(tx.TicketIDs("", 0)); c != 16 {
			t.Errorf("%d tickets, want 16", c)
		}
		return nil
	})
}

// What was written survives a reopen, and so do the installation's id
// and key ring.
func testReopen(t *testing.T, e *env) {
	id := e.db.InstallationID()
	if id == "" {
		t.Error("no installation id")
	}
	var keys []model.TokenKey
	e.view(func(tx store.Tx) error { keys, _ = tx.Keys(); return nil })
	e.update(func(tx store.Tx) error { return everything(tx, "a") })
	before := counts(t, e, "a")
	e.reopen()
	if got := e.db.InstallationID(); got != id {
		t.Errorf("installation id %q after reopen, was %q", got, id)
	}
	if got := counts(t, e, "a"); got != before {
		t.Errorf("after reopen:\n%s\nbefore:\n%s", got, before)
	}
	e.view(func(tx store.Tx) error {
		now, _ := tx.Keys()
		if len(now) != 2 || now[0].ID != keys[0].ID || !bytes.Equal(now[0].Secret, keys[0].Secret) {
			t.Errorf("key ring after reopen %+v, was %+v and one rotation", now, keys)
		}
		return nil
	})
}

// After Close, Update fails with ErrClosed.
func testClosed(t *testing.T, e *env) {
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	e.db = e.open() // for the cleanup
}

// Bodies up to the threshold stay in memory and go into the store with
// the record; larger ones are spooled and committed before it. Either way
// OpenRaw gives back the bytes.
func testBlobs(t *testing.T, e *env) {
	big := bytes.Repeat([]byte("a line of a long mail\r\n"), 1000)
	sp := e.db.NewSpool(1000)
	sp.Write(big[:600])
	sp.Write(big[600:])
	if !sp.Spooled() || sp.Size() != int64(len(big)) || sp.Bytes() != nil {
		t.Fatalf("a large body: spooled %v, size %d", sp.Spooled(), sp.Size())
	}
	r, err := sp.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(r); !bytes.Equal(b, big) {
		t.Errorf("the spool's reader gave %d bytes, want %d", len(b), len(big))
	}
	name, err := sp.Commit()
	if err != nil || name == "" {
		t.Fatalf("committing a spooled body: %q, %v", name, err)
	}
	if err := sp.Close(); err != nil {
		t.Error(err)
	}

	small := e.db.NewSpool(1000)
	small.Write([]byte("small"))
	if small.Spooled() || string(small.Bytes()) != "small" {
		t.Fatalf("a small body: spooled %v, bytes %q", small.Spooled(), small.Bytes())
	}
	if name, err := small.Commit(); err != nil || name != "" {
		t.Errorf("committing a body in memory: %q, %v; want \"\" (it goes into the store)", name, err)
	}

	// An uncommitted spool is discarded on Close.
	gone := e.db.NewSpool(10)
	gone.Write(big)
	if err := gone.Close(); err != nil {
		t.Error(err)
	}

	var msgs []*model.Message
	e.update(func(tx store.Tx) error {
		b := &model.Message{Blob: name, Size: int64(len(big))}
		if err := tx.AddMessage(b, nil); err != nil {
			return err
		}
		s := &model.Message{Size: 5}
		if err := tx.AddMessage(s, small.Bytes()); err != nil {
			return err
		}
		msgs = []*model.Message{b, s}
		return nil
	})
	small.Close()
	e.reopen()
	for i, want := range [][]byte{big, []byte("small")} {
		var m *model.Message
		e.view(func(tx store.Tx) (err error) { m, err = tx.Message(msgs[i].ID); return err })
		rc, err := e.db.OpenRaw(m)
		if err != nil {
			t.Fatalf("OpenRaw(%d): %v", m.ID, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("message %d: %d bytes back, want %d", m.ID, len(got), len(want))
		}
	}
	if _, err := e.db.OpenRaw(&model.Message{ID: 99}); err == nil {
		t.Error("OpenRaw of a message never stored succeeded")
	}
}
