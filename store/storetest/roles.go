package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

func testTickets(t *testing.T, e *env) {
	for i := 1; i <= 3; i++ {
		e.update(func(tx store.Tx) error {
			tk := &model.Ticket{Subject: fmt.Sprint("s", i), Requester: "ken@example.com", Status: model.StatusOpen}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			if tk.ID != uint64(i) {
				t.Errorf("ticket id %d, want %d (sequential from 1)", tk.ID, i)
			}
			if !tk.Created.Equal(Start) || !tk.Updated.Equal(Start) {
				t.Errorf("new ticket times %v %v, want the store clock %v", tk.Created, tk.Updated, Start)
			}
			return nil
		})
	}
	e.advance(time.Minute)
	e.update(func(tx store.Tx) error {
		tk, err := tx.Ticket(2)
		if err != nil {
			return err
		}
		tk.Status, tk.Requester = model.StatusPending, "mallory@example.com"
		if err := tx.PutTicket(tk); err != nil {
			return err
		}
		if !tk.Updated.Equal(Start.Add(time.Minute)) {
			t.Errorf("PutTicket: Updated %v, want the store clock", tk.Updated)
		}
		// An id taken first, the ticket stored later in the same write.
		id, err := tx.AllocTicketID()
		if err != nil {
			return err
		}
		if id != 4 {
			t.Errorf("AllocTicketID = %d, want 4", id)
		}
		return tx.InsertTicket(&model.Ticket{ID: id, Subject: "four", Requester: "ken@example.com", Group: "billing", Assignee: "victoria@x"})
	})
	e.view(func(tx store.Tx) error {
		if got := tx.TicketIDs(model.StatusOpen, 0); !slices.Equal(got, []uint64{4, 3, 1}) {
			t.Errorf("open tickets %v, want [4 3 1] (an empty status is open)", got)
		}
		if got := tx.TicketIDs(model.StatusPending, 0); !slices.Equal(got, []uint64{2}) {
			t.Errorf("pending tickets %v, want [2]", got)
		}
		if got := tx.TicketIDs("", 0); !slices.Equal(got, []uint64{4, 3, 2, 1}) {
			t.Errorf("all tickets %v, want [4 3 2 1]", got)
		}
		if got := tx.TicketIDs("", 2); !slices.Equal(got, []uint64{4, 3}) {
			t.Errorf("all tickets, limit 2: %v, want [4 3]", got)
		}
		if got := tx.TicketIDs(model.StatusOpen, 1); !slices.Equal(got, []uint64{4}) {
			t.Errorf("open tickets, limit 1: %v, want [4]", got)
		}
		if got := tx.TicketsOfRequester("ken@example.com"); !slices.Equal(got, []uint64{4, 3, 1}) {
			t.Errorf("tickets of ken %v, want [4 3 1] (2 changed requester)", got)
		}
		if got := tx.TicketsOfRequester("mallory@example.com"); !slices.Equal(got, []uint64{2}) {
			t.Errorf("tickets of mallory %v, want [2]", got)
		}
		if n := tx.TicketCount(); n != 4 {
			t.Errorf("TicketCount %d, want 4", n)
		}
		r, err := tx.Routing(4)
		if err != nil || r != (model.TicketRouting{Status: model.StatusOpen, Group: "billing", Assignee: "victoria@x"}) {
			t.Errorf("Routing(4) = %+v, %v", r, err)
		}
		if _, err := tx.Ticket(99); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Ticket(99): %v, want ErrNotFound", err)
		}
		if _, err := tx.Routing(99); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Routing(99): %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testMerges(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		a, b, c := &model.Ticket{Subject: "a"}, &model.Ticket{Subject: "b"}, &model.Ticket{Subject: "c"}
		for _, tk := range []*model.Ticket{a, b, c} {
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
		}
		a.MergedInto, a.MergedThreads = b.ID, map[uint32]uint32{1: 3}
		b.MergedInto, b.MergedThreads = c.ID, map[uint32]uint32{3: 5}
		if err := tx.PutTicket(a); err != nil {
			return err
		}
		return tx.PutTicket(b)
	})
	e.view(func(tx store.Tx) error {
		if tk, th, err := tx.ResolveThread(1, 1); err != nil || tk.ID != 3 || th != 5 {
			t.Errorf("ResolveThread(1, 1) = %v, %d, %v; want ticket 3 thread 5", tk, th, err)
		}
		if tk, th, err := tx.ResolveThread(1, 2); err != nil || tk.ID != 3 || th != 0 {
			t.Errorf("ResolveThread(1, 2) = %v, %d, %v; want ticket 3, main thread (2 was not carried)", tk, th, err)
		}
		if tk, err := tx.Resolve(2); err != nil || tk.ID != 3 {
			t.Errorf("Resolve(2) = %v, %v", tk, err)
		}
		if _, err := tx.Resolve(42); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Resolve(42): %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testComments(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		tk := &model.Ticket{Subject: "c"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		for _, c := range []*model.Comment{
			{Author: "ken@x", Visibility: model.Public, Text: "one"},              // public, main: the newest public
			{Author: "v@x", Visibility: model.Private, Text: "two"},               // a note
			{Author: "ken@x", Visibility: model.Public, Text: "three", Thread: 1}, // a side thread
			{Author: "v@x", Visibility: model.Public, Text: "four", Hidden: true},
			{Kind: model.KindEvent, Author: "v@x", Visibility: model.Public, Text: "five"},
		} {
			if err := tx.AddComment(tk, c); err != nil {
				return err
			}
			if c.Ticket != tk.ID || c.ID != tk.LastSeq || c.Created.IsZero() || c.Kind == "" {
				t.Errorf("AddComment left %+v (ticket %d, LastSeq %d)", c, tk.ID, tk.LastSeq)
			}
		}
		if tk.LastSeq != 5 || tk.LastPublicSeq != 1 {
			t.Errorf("LastSeq %d LastPublicSeq %d, want 5 and 1", tk.LastSeq, tk.LastPublicSeq)
		}
		return tx.PutTicket(tk)
	})
	e.update(func(tx store.Tx) error {
		c, err := tx.Comment(1, 2)
		if err != nil {
			return err
		}
		c.Text = "two, edited"
		return tx.PutComment(c)
	})
	e.view(func(tx store.Tx) error {
		cs, err := tx.Comments(1)
		if err != nil {
			return err
		}
		var texts []string
		for _, c := range cs {
			texts = append(texts, c.Text)
		}
		if fmt.Sprint(texts) != "[one two, edited three four five]" {
			t.Errorf("Comments(1) texts %q, want oldest first with the edit", texts)
		}
		if cs, err := tx.Comments(2); err != nil || len(cs) != 0 {
			t.Errorf("Comments of a missing ticket: %v, %v; want none", cs, err)
		}
		if _, err := tx.Comment(1, 9); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Comment(1, 9): %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testMessages(t *testing.T, e *env) {
	raws := [][]byte{
		[]byte("Subject: small\r\n\r\nhi\r\n"),
		[]byte(fmt.Sprint("Subject: big\r\n\r\n", string(make([]byte, 50<<10)), "end\r\n")),
	}
	var ids []uint64
	e.update(func(tx store.Tx) error {
		for i, raw := range raws {
			m := &model.Message{MessageID: fmt.Sprintf("m%d@x", i), BodyHash: "h", Size: int64(len(raw)), Disposition: model.DispTicket}
			if err := tx.AddMessage(m, raw); err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		// Packed outside the write, as the engine does.
		m := &model.Message{MessageID: "packed@x", Size: 3}
		if err := tx.AddPackedMessage(m, e.db.PackRaw([]byte("abc"))); err != nil {
			return err
		}
		ids = append(ids, m.ID)
		// Reserved first, its record stored once its fate is known.
		r := &model.Message{MessageID: "reserved@x", BodyHash: "h2"}
		if err := tx.ReserveMessage(r, e.db.PackRaw([]byte("reserved"))); err != nil {
			return err
		}
		r.Disposition, r.Ticket = model.DispComment, 7
		if err := tx.PutMessage(r); err != nil {
			return err
		}
		ids = append(ids, r.ID)
		// Spooled: the raw bytes are in a blob, not in the store.
		b := &model.Message{MessageID: "blob@x", Blob: "blobs/ab/abc.eml"}
		if err := tx.AddMessage(b, nil); err != nil {
			return err
		}
		ids = append(ids, b.ID)
		return nil
	})
	if !slices.Equal(ids, []uint64{1, 2, 3, 4, 5}) {
		t.Errorf("message ids %v, want 1..5", ids)
	}
	e.view(func(tx store.Tx) error {
		for i, raw := range raws {
			if got := tx.RawInline(ids[i]); string(got) != string(raw) {
				t.Errorf("RawInline(%d): %d bytes, want the %d stored", ids[i], len(got), len(raw))
			}
		}
		if got := tx.RawInline(3); string(got) != "abc" {
			t.Errorf("RawInline of a packed message: %q", got)
		}
		if got := tx.RawInline(5); got != nil {
			t.Errorf("RawInline of a spooled message: %q, want nil", got)
		}
		m, err := tx.Message(4)
		if err != nil || m.Disposition != model.DispComment || m.Ticket != 7 || string(tx.RawInline(4)) != "reserved" {
			t.Errorf("reserved message: %+v, %v", m, err)
		}
		if _, err := tx.Message(9); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Message(9): %v, want ErrNotFound", err)
		}
		if n := tx.MessageCount(); n != 5 {
			t.Errorf("MessageCount %d, want 5", n)
		}
		var seen []uint64
		if err := tx.ForEachMessage(func(m *model.Message) error { seen = append(seen, m.ID); return nil }); err != nil {
			return err
		}
		if !slices.Equal(seen, ids) {
			t.Errorf("ForEachMessage %v, want %v in order", seen, ids)
		}
		stop := errors.New("stop")
		if err := tx.ForEachMessage(func(*model.Message) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("ForEachMessage returns fn's error: %v", err)
		}
		return nil
	})
}

// A message's identity is its Message-ID and body hash (SPEC 3.6): the
// duplicate check finds it, and a second message with the same identity
// is refused even where the check was skipped.
func testMessageIdentity(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		return tx.AddMessage(&model.Message{MessageID: "<Same@X>", BodyHash: "h1"}, []byte("raw"))
	})
	e.view(func(tx store.Tx) error {
		if d, err := tx.Duplicate("same@x", "h1"); err != nil || d == nil || d.ID != 1 || string(tx.RawInline(d.ID)) != "raw" {
			t.Errorf("Duplicate(same@x, h1) = %+v, %v; want message 1 (Message-IDs compare without brackets and case)", d, err)
		}
		if d, _ := tx.Duplicate("same@x", "h2"); d != nil {
			t.Errorf("another body counted as a duplicate: %+v", d)
		}
		if d, _ := tx.Duplicate("", "h1"); d != nil {
			t.Errorf("no Message-ID must never dedupe: %+v", d)
		}
		return nil
	})
	err := e.db.Update(func(tx store.Tx) error {
		return tx.AddMessage(&model.Message{MessageID: "same@x", BodyHash: "h1"}, []byte("again"))
	})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a second message with the same identity: %v, want ErrDuplicate", err)
	}
	e.update(func(tx store.Tx) error {
		// Without a Message-ID or a hash there is no identity to clash.
		for range 2 {
			if err := tx.AddMessage(&model.Message{BodyHash: "h1"}, []byte("x")); err != nil {
				return err
			}
			if err := tx.AddMessage(&model.Message{MessageID: "same@x"}, []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		if n := tx.MessageCount(); n != 5 {
			t.Errorf("MessageCount %d, want 5 (the refused one left nothing)", n)
		}
		return nil
	})
}

// The same mail applied by many writers at once is stored once: each
// writer checks and reserves in one Update, as the engine does.
func testMessageIdentityConcurrent(t *testing.T, e *env) {
	const n = 16
	errs := make(chan error, n)
	stored := make(chan uint64, n)
	for range n {
		go func() {
			errs <- e.db.Update(func(tx store.Tx) error {
				if d, err := tx.Duplicate("race@x", "h"); err != nil || d != nil {
					return err
				}
				m := &model.Message{MessageID: "race@x", BodyHash: "h"}
				if err := tx.AddMessage(m, []byte("raw")); err != nil {
					return err
				}
				stored <- m.ID
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil && !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("update: %v", err)
		}
	}
	e.view(func(tx store.Tx) error {
		count := 0
		tx.ForEachMessage(func(m *model.Message) error {
			if m.MessageID == "race@x" {
				count++
			}
			return nil
		})
		if count != 1 {
			t.Errorf("the same mail stored %d times, want once", count)
		}
		return nil
	})
}

func testMessageIDIndex(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		if err := tx.IndexMessageID("<ABC@x>", model.Ref{Ticket: 7, Thread: 1}); err != nil {
			return err
		}
		if err := tx.IndexMessageID("abc@x", model.Ref{Ticket: 9}); err != nil {
			return err
		}
		return tx.IndexMessageID("", model.Ref{Ticket: 9})
	})
	e.view(func(tx store.Tx) error {
		if r, ok := tx.LookupMessageID("abc@X"); !ok || r != (model.Ref{Ticket: 7, Thread: 1}) {
			t.Errorf("LookupMessageID = %+v, %v; the first owner wins, ids compare without brackets and case", r, ok)
		}
		if _, ok := tx.LookupMessageID("other@x"); ok {
			t.Error("an unknown Message-ID was found")
		}
		if _, ok := tx.LookupMessageID(""); ok {
			t.Error("the empty Message-ID was found")
		}
		return nil
	})
}

func testUsers(t *testing.T, e *env) {
	var ken, bob *model.User
	e.update(func(tx store.Tx) error {
		var err error
		if ken, err = tx.EnsureUser("ken@x", ""); err != nil {
			return err
		}
		again, err := tx.EnsureUser("ken@x", "Ken")
		if err != nil || again.ID != ken.ID || again.Name != "Ken" {
			t.Errorf("EnsureUser again: %+v, %v; want the same user, the new name kept", again, err)
		}
		if again, _ := tx.EnsureUser("ken@x", "Kenneth"); again.Name != "Ken" {
			t.Errorf("a known name was replaced: %q", again.Name)
		}
		if bob, err = tx.NewUser("bob@x", "Bob"); err != nil {
			return err
		}
		bob.Away, bob.Spelling = true, "Bob@x"
		return tx.PutUser(bob)
	})
	if ken.ID == bob.ID || ken.ID == 0 || bob.ID == 0 {
		t.Errorf("user ids %d and %d", ken.ID, bob.ID)
	}
	e.view(func(tx store.Tx) error {
		if u, err := tx.User("bob@x"); err != nil || u.ID != bob.ID || !u.Away || u.Spelling != "Bob@x" {
			t.Errorf("User(bob@x) = %+v, %v", u, err)
		}
		if u, err := tx.UserByID(ken.ID); err != nil || u.Addr != "ken@x" || u.Name != "Ken" {
			t.Errorf("UserByID(ken) = %+v, %v", u, err)
		}
		if _, err := tx.User("nobody@x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("User(nobody@x): %v, want ErrNotFound", err)
		}
		if _, err := tx.UserByID(999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByID(999): %v, want ErrNotFound", err)
		}
		for addr, want := range map[string]bool{"bob@x": true, "ken@x": false, "nobody@x": false} {
			if away, err := tx.UserAway(addr); err != nil || away != want {
				t.Errorf("UserAway(%s) = %v, %v; want %v", addr, away, err, want)
			}
		}
		return nil
	})
}

// Users read in a write are copies: a change without PutUser changes
// nothing, PutUser's is seen by the rest of the write.
func testUserCopies(t *testing.T, e *env) {
	var id uint64
	e.update(func(tx store.Tx) error {
		u, err := tx.EnsureUser("agent@x", "Agent")
		id = u.ID
		return err
	})
	e.update(func(tx store.Tx) error {
		u, err := tx.UserByID(id)
		if err != nil {
			return err
		}
		u.Away, u.AckTimes = true, append(u.AckTimes, 1)
		if away, _ := tx.UserAway("agent@x"); away {
			t.Error("an unsaved change is visible")
		}
		if again, _ := tx.User("agent@x"); again.Away || len(again.AckTimes) != 0 {
			t.Errorf("an unsaved change is visible: %+v", again)
		}
		if err := tx.PutUser(u); err != nil {
			return err
		}
		u.Name = "changed after PutUser"
		if away, _ := tx.UserAway("agent@x"); !away {
			t.Error("PutUser's change is not visible in the same write")
		}
		if got, _ := tx.UserByID(id); got.Name != "Agent" || len(got.AckTimes) != 1 {
			t.Errorf("after PutUser: %+v", got)
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		if u, _ := tx.UserByID(id); !u.Away || u.Name != "Agent" {
			t.Errorf("stored: %+v", u)
		}
		return nil
	})
}

// A user stored with another address is found by the new one, and the
// old one finds nobody: in the write that changes it, in later ones, and
// after a restart. Addresses are unique, so the old one can be given to
// someone else.
func testUserAddressChange(t *testing.T, e *env) {
	var id uint64
	e.update(func(tx store.Tx) error {
		u, err := tx.EnsureUser("old@x", "Una")
		id = u.ID
		return err
	})
	check := func(when string, tx store.Tx) {
		t.Helper()
		if u, err := tx.User("new@x"); err != nil || u.ID != id || u.Addr != "new@x" {
			t.Errorf("%s: User(new@x) = %+v, %v; want user %d", when, u, err, id)
		}
		if u, err := tx.User("old@x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: User(old@x) = %+v, %v; want ErrNotFound", when, u, err)
		}
	}
	e.update(func(tx store.Tx) error {
		u, err := tx.User("old@x")
		if err != nil {
			return err
		}
		u.Addr = "new@x"
		if err := tx.PutUser(u); err != nil {
			return err
		}
		check("in the write", tx)
		return nil
	})
	e.view(func(tx store.Tx) error { check("after the write", tx); return nil })
	e.reopen()
	e.view(func(tx store.Tx) error { check("after a restart", tx); return nil })
	e.update(func(tx store.Tx) error {
		u, err := tx.EnsureUser("old@x", "Otto")
		if err == nil && u.ID == id {
			t.Errorf("EnsureUser(old@x) found the user that left it: %+v", u)
		}
		return err
	})
	e.view(func(tx store.Tx) error {
		if u, err := tx.User("new@x"); err != nil || u.ID != id {
			t.Errorf("after old@x is taken again: User(new@x) = %+v, %v; want user %d", u, err, id)
		}
		if u, err := tx.User("old@x"); err != nil || u.ID == id || u.Name != "Otto" {
			t.Errorf("after old@x is taken again: User(old@x) = %+v, %v; want Otto", u, err)
		}
		return nil
	})
}

func testOutbound(t *testing.T, e *env) {
	now := Start
	e.update(func(tx store.Tx) error {
		for _, o := range []*model.Outbound{
			{Rcpt: "a@x", NextAttempt: now.Add(time.Minute)},
			{Rcpt: "b@x"},
			{Rcpt: "c@x", NextAttempt: now.Add(-time.Minute)},
		} {
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			if o.ID == 0 || o.State != model.OutQueued || o.Created.IsZero() || o.NextAttempt.IsZero() {
				t.Errorf("Enqueue left %+v", o)
			}
		}
		return nil
	})
	rcpts := func(os []*model.Outbound) string {
		var r []string
		for _, o := range os {
			r = append(r, o.Rcpt)
		}
		return fmt.Sprint(r)
	}
	var due []*model.Outbound
	e.view(func(tx store.Tx) error {
		var err error
		due, err = tx.Due(now, 10)
		if got := rcpts(due); got != "[c@x b@x]" {
			t.Errorf("due now %s, want [c@x b@x] (oldest first)", got)
		}
		if one, _ := tx.Due(now, 1); rcpts(one) != "[c@x]" {
			t.Errorf("due now, limit 1: %s", rcpts(one))
		}
		if n := tx.QueueDepth(); n != 3 {
			t.Errorf("QueueDepth %d, want 3", n)
		}
		// The first enqueued, whatever its due time.
		if o, err := tx.OldestQueued(); err != nil || o == nil || o.Rcpt != "a@x" {
			t.Errorf("OldestQueued %+v %v, want a@x", o, err)
		}
		if next := tx.NextDue(); !next.Equal(now.Add(-time.Minute)) {
			t.Errorf("NextDue %v, want %v", next, now.Add(-time.Minute))
		}
		return err
	})
	// c is sent, b fails for good: both leave the queue; a is retried later.
	e.update(func(tx store.Tx) error {
		c, b := *due[0], *due[1]
		c.State, c.Done = model.OutSent, now
		if err := tx.PutOutbound(&c, due[0].NextAttempt); err != nil {
			return err
		}
		b.State, b.Done, b.LastError = model.OutFailed, now, "550 no such user"
		if err := tx.PutOutbound(&b, due[1].NextAttempt); err != nil {
			return err
		}
		a, err := tx.Outbound(1)
		if err != nil {
			return err
		}
		prev := a.NextAttempt
		a.NextAttempt, a.Attempts = now.Add(time.Hour), 1
		return tx.PutOutbound(a, prev)
	})
	e.view(func(tx store.Tx) error {
		if d, _ := tx.Due(now.Add(2*time.Hour), 10); rcpts(d) != "[a@x]" {
			t.Errorf("due after sending and failing: %s, want [a@x]", rcpts(d))
		}
		if n := tx.QueueDepth(); n != 1 {
			t.Errorf("QueueDepth %d, want 1", n)
		}
		if next := tx.NextDue(); !next.Equal(now.Add(time.Hour)) {
			t.Errorf("NextDue %v, want %v", next, now.Add(time.Hour))
		}
		var all []*model.Outbound
		if err := tx.ForEachOutbound(func(o *model.Outbound) error { all = append(all, o); return nil }); err != nil {
			return err
		}
		if rcpts(all) != "[c@x b@x a@x]" || all[0].State != model.OutSent || all[1].State != model.OutFailed {
			t.Errorf("ForEachOutbound %s, want every item newest first", rcpts(all))
		}
		if _, err := tx.Outbound(99); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Outbound(99): %v, want ErrNotFound", err)
		}
		return nil
	})
	e.update(func(tx store.Tx) error {
		a, _ := tx.Outbound(1)
		prev := a.NextAttempt
		a.State = model.OutSent
		return tx.PutOutbound(a, prev)
	})
	e.view(func(tx store.Tx) error {
		if next := tx.NextDue(); !next.IsZero() || tx.QueueDepth() != 0 {
			t.Errorf("empty queue: NextDue %v, depth %d", next, tx.QueueDepth())
		}
		if o, err := tx.OldestQueued(); o != nil || err != nil {
			t.Errorf("empty queue: OldestQueued %+v %v", o, err)
		}
		return nil
	})
}

func testQuarantine(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		for i, r := range []string{model.QLoop, model.QAuth, model.QBlocked} {
			q := &model.Quarantine{Message: uint64(i + 1), Reason: r}
			if err := tx.AddQuarantine(q); err != nil {
				return err
			}
			if q.ID != uint64(i+1) || q.Created.IsZero() {
				t.Errorf("AddQuarantine left %+v", q)
			}
		}
		q, err := tx.QuarantineRecord(2)
		if err != nil {
			return err
		}
		at := Start
		q.Released, q.ReleasedAt = true, &at
		return tx.PutQuarantine(q)
	})
	e.view(func(tx store.Tx) error {
		qs, err := tx.Quarantined(0)
		if err != nil || len(qs) != 3 || qs[0].ID != 3 || qs[2].ID != 1 || !qs[1].Released {
			t.Errorf("Quarantined(0) = %+v, %v; want 3, 2 (released), 1", qs, err)
		}
		if qs, _ := tx.Quarantined(2); len(qs) != 2 || qs[0].ID != 3 {
			t.Errorf("Quarantined(2) = %+v", qs)
		}
		if _, err := tx.QuarantineRecord(9); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("QuarantineRecord(9): %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testKeys(t *testing.T, e *env) {
	var first []model.TokenKey
	e.view(func(tx store.Tx) error {
		var err error
		first, err = tx.Keys()
		return err
	})
	if len(first) != 1 || len(first[0].Secret) < 16 || first[0].ID == 0 || !first[0].Retired.IsZero() {
		t.Fatalf("a new store's key ring: %+v, want one current key with a secret", first)
	}
	e.advance(time.Hour)
	e.update(func(tx store.Tx) error { return tx.RotateKey(24 * time.Hour) })
	e.view(func(tx store.Tx) error {
		keys, _ := tx.Keys()
		if len(keys) != 2 || keys[0].ID != first[0].ID || !keys[0].Retired.Equal(Start.Add(time.Hour)) ||
			!keys[1].Retired.IsZero() || keys[1].ID == keys[0].ID || string(keys[1].Secret) == string(keys[0].Secret) {
			t.Errorf("after a rotation: %+v; want the old key retired now and a new current one", keys)
		}
		return nil
	})
	// Past the grace period the retired key is gone.
	e.advance(48 * time.Hour)
	e.update(func(tx store.Tx) error { return tx.RotateKey(24 * time.Hour) })
	e.view(func(tx store.Tx) error {
		keys, _ := tx.Keys()
		if len(keys) != 2 || keys[0].ID == first[0].ID {
			t.Errorf("after a second rotation past the grace: %+v; want the first key dropped", keys)
		}
		return nil
	})
}

// The manual ticket clock's instant is kept, across a reopen too; a new
// store's first start is its clock's instant when it was created.
func testManualClock(t *testing.T, e *env) {
	e.advance(time.Hour)
	e.view(func(tx store.Tx) error {
		if _, ok, err := tx.ManualClock(); ok || err != nil {
			t.Errorf("a new store has a manual clock (%v)", err)
		}
		if first, err := tx.FirstStart(); err != nil || !first.Equal(Start) {
			t.Errorf("FirstStart = %s %v, want %s", first, err, Start)
		}
		return nil
	})
	at := time.Date(2027, 1, 4, 0, 0, 0, 123, time.FixedZone("KST", 9*3600))
	e.update(func(tx store.Tx) error { return tx.SetManualClock(at) })
	e.db = e.reopen()
	e.view(func(tx store.Tx) error {
		got, ok, err := tx.ManualClock()
		if !ok || err != nil || !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("ManualClock after a reopen = %s %v %v, want %s in UTC", got, ok, err, at)
		}
		return nil
	})
}

func testRates(t *testing.T, e *env) {
	allowed := 0
	for range 8 {
		e.update(func(tx store.Tx) error {
			ok, err := tx.RateAllow("ack:ken", time.Hour, 5)
			if ok {
				allowed++
			}
			return err
		})
	}
	if allowed != 5 {
		t.Errorf("allowed %d of 8 with a limit of 5", allowed)
	}
	e.view(func(tx store.Tx) error {
		if n := tx.RateCountAt("ack:ken", Start, time.Hour); n != 5 {
			t.Errorf("RateCountAt %d, want 5 (refused events are not counted)", n)
		}
		if n := tx.RateCountAt("ack:other", Start, time.Hour); n != 0 {
			t.Errorf("RateCountAt of an unused key: %d", n)
		}
		return nil
	})
	e.advance(61 * time.Minute)
	e.update(func(tx store.Tx) error {
		if ok, _ := tx.RateAllow("ack:ken", time.Hour, 5); !ok {
			t.Error("not allowed after the window")
		}
		// At the caller's time.
		if ok, _ := tx.RateAllowAt("k", Start, time.Minute, 1); !ok {
			t.Error("RateAllowAt: the first event refused")
		}
		if ok, _ := tx.RateAllowAt("k", Start.Add(time.Second), time.Minute, 1); ok {
			t.Error("RateAllowAt: the second event within the window allowed")
		}
		return nil
	})
	// RateAllowEach counts under every key or none.
	e.update(func(tx store.Tx) error {
		keys, limits := []string{"each:a", "each:b"}, []int{3, 1}
		if i, err := tx.RateAllowEach(Start, time.Hour, keys, limits); err != nil || i != -1 {
			t.Errorf("RateAllowEach first: %d, %v; want -1", i, err)
		}
		if i, err := tx.RateAllowEach(Start, time.Hour, keys, limits); err != nil || i != 1 {
			t.Errorf("RateAllowEach second: %d, %v; want 1 (each:b at its limit)", i, err)
		}
		if n := tx.RateCountAt("each:a", Start, time.Hour); n != 1 {
			t.Errorf("each:a counted %d, want 1 (the refused event records nothing)", n)
		}
		return nil
	})
}

func testCounters(t *testing.T, e *env) {
	e.update(func(tx store.Tx) error {
		for i, want := range []uint64{1, 2, 5} {
			delta := uint64(1)
			if i == 2 {
				delta = 3
			}
			if v, err := tx.Counter("rr:billing", delta); err != nil || v != want {
				t.Errorf("Counter step %d = %d, %v; want %d", i, v, err, want)
			}
		}
		if v, _ := tx.Counter("rr:other", 0); v != 0 {
			t.Errorf("a new counter reads %d", v)
		}
		return nil
	})
	e.reopen()
	e.update(func(tx store.Tx) error {
		if v, _ := tx.Counter("rr:billing", 0); v != 5 {
			t.Errorf("counter after reopen %d, want 5", v)
		}
		return nil
	})
}

// testCommentTexts: CommentTexts gives each named comment's text (a
// note's as well as a public reply's, an empty one as ""), as its read
// after the write committed, leaves out comments that do not exist, and
// reads nothing for no refs.
func testCommentTexts(t *testing.T, e *env) {
	ct, ok := e.db.(store.CommentTexter)
	if !ok {
		t.Skip("the engine reads comment texts one transaction each")
	}
	var refs []model.CommentRef
	want := map[model.CommentRef]string{}
	e.update(func(tx store.Tx) error {
		for _, subject := range []string{"a", "b"} {
			tk := &model.Ticket{Subject: subject}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			for _, c := range []*model.Comment{
				{Author: "ken@x", Visibility: model.Public, Text: "public of " + subject + "\n> quoted ü \"x\" <y>"},
				{Author: "v@x", Visibility: model.Private, Text: "note of " + subject},
				{Kind: model.KindEvent, Author: "v@x", Visibility: model.Public},
			} {
				if err := tx.AddComment(tk, c); err != nil {
					return err
				}
				r := model.CommentRef{Ticket: tk.ID, Comment: c.ID}
				refs = append(refs, r)
				want[r] = c.Text
			}
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
		}
		return nil
	})
	missing := []model.CommentRef{{Ticket: refs[0].Ticket, Comment: 99}, {Ticket: 999, Comment: 1}}
	got, err := ct.CommentTexts(append(append([]model.CommentRef(nil), refs...), missing...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("CommentTexts gave %d texts, want %d: %v", len(got), len(want), got)
	}
	for r, w := range want {
		if s, ok := got[r]; !ok || s != w {
			t.Errorf("comment %d of ticket %d: %q (found %v), want %q", r.Comment, r.Ticket, s, ok, w)
		}
	}
	// A rewritten comment reads as rewritten (an erasure's redaction).
	e.update(func(tx store.Tx) error {
		c, err := tx.Comment(refs[0].Ticket, refs[0].Comment)
		if err != nil {
			return err
		}
		c.Text = "[redacted]"
		return tx.PutComment(c)
	})
	if got, err := ct.CommentTexts(refs[:1]); err != nil || got[refs[0]] != "[redacted]" {
		t.Errorf("after PutComment: %v, %v; want the new text", got, err)
	}
	if got, err := ct.CommentTexts(nil); err != nil || len(got) != 0 {
		t.Errorf("no refs: %v, %v", got, err)
	}
}
