package postgres

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// The writer keeps what it read (sequences, counters, users, rate
// windows) from one commit to the next; two processes writing to one
// database in turn must each see the other's writes anyway: ticket
// numbers without collisions, counters that add up, a user's changed
// address and name, a rate window's events.
func TestWritersOfOneDatabaseSeeEachOthersWrites(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a, b := openTest(t, dsn), openTest(t, dsn)
	type seen struct {
		ticket  uint64
		counter uint64
		user    *model.User
		byOld   error
		allowed bool
	}
	step := func(db *DB, addr, newAddr, name string) seen {
		t.Helper()
		var s seen
		mustUpdate(t, db, func(tx store.Tx) error {
			tk := &model.Ticket{Subject: "cache", Requester: "c@example.com"}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			s.ticket = tk.ID
			var err error
			if s.counter, err = tx.Counter("mails", 1); err != nil {
				return err
			}
			if s.allowed, err = tx.RateAllow("sender:c@example.com", time.Hour, 3); err != nil {
				return err
			}
			u, err := tx.EnsureUser(addr, "")
			if err != nil {
				return err
			}
			if name != "" {
				u.Name, u.Addr = name, newAddr
				if err := tx.PutUser(u); err != nil {
					return err
				}
			}
			return nil
		})
		mustUpdate(t, db, func(tx store.Tx) error {
			var err error
			s.user, err = tx.User(newAddr)
			_, s.byOld = tx.User(addr)
			return err
		})
		return s
	}
	// Each writer warms its cache, then they take turns.
	s1 := step(a, "agent@example.com", "agent@example.com", "")
	s2 := step(b, "agent@example.com", "agent@example.com", "")
	s3 := step(a, "agent@example.com", "agent2@example.com", "Agent Two")
	s4 := step(b, "agent2@example.com", "agent3@example.com", "Agent Three")
	s5 := step(a, "agent3@example.com", "agent3@example.com", "")
	if got := []uint64{s1.ticket, s2.ticket, s3.ticket, s4.ticket, s5.ticket}; got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 4 || got[4] != 5 {
		t.Errorf("ticket ids %v, want 1..5", got)
	}
	if got := []uint64{s1.counter, s2.counter, s3.counter, s4.counter, s5.counter}; got[4] != 5 {
		t.Errorf("counter values %v, want 1..5", got)
	}
	if got := []bool{s1.allowed, s2.allowed, s3.allowed, s4.allowed, s5.allowed}; !got[2] || got[3] || got[4] {
		t.Errorf("rate allowed %v, want the first three only", got)
	}
	if s4.user.Name != "Agent Three" || !errors.Is(s4.byOld, store.ErrNotFound) {
		t.Errorf("after b renamed: %+v, old address: %v", s4.user, s4.byOld)
	}
	if s5.user.Name != "Agent Three" || s5.user.ID != s1.user.ID {
		t.Errorf("a reads %+v after b changed the user, want Agent Three with id %d", s5.user, s1.user.ID)
	}
	var old error
	mustUpdate(t, a, func(tx store.Tx) error {
		_, old = tx.User("agent2@example.com")
		return nil
	})
	if !errors.Is(old, store.ErrNotFound) {
		t.Errorf("a finds the address b moved the user away from: %v", old)
	}
}

// A group that fails after its writes were sent is rolled back, and what
// the writer cached of it must go too.
func TestRolledBackGroupLeavesNothingCached(t *testing.T) {
	db, err := Open(pgtest.NewDB(t), Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	boom := errors.New("boom")
	err = db.Update(func(tx store.Tx) error {
		if _, err := tx.Counter("n", 5); err != nil {
			return err
		}
		if _, err := tx.EnsureUser("gone@example.com", "Gone"); err != nil {
			return err
		}
		tx.TicketIDs("", 1) // a query: the writes above are sent
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	var n uint64
	var uerr error
	if err := db.Update(func(tx store.Tx) error {
		n, _ = tx.Counter("n", 0)
		_, uerr = tx.User("gone@example.com")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 || !errors.Is(uerr, store.ErrNotFound) {
		t.Errorf("after the rollback: counter %d, user lookup %v; want 0 and not found", n, uerr)
	}
}

// A write's rows go out as multi-row INSERTs per table (chunks of 64, 16,
// 4, 1): a write of many rows of several tables, with deletions and an
// address handed from one user to another, stores exactly what it wrote.
func TestManyRowsInOneWrite(t *testing.T) {
	db, err := Open(pgtest.NewDB(t), Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 150
	if err := db.Update(func(tx store.Tx) error {
		for i := range n {
			tk := &model.Ticket{Subject: "many", Requester: "c@example.com"}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			if err := tx.AddComment(tk, &model.Comment{Author: "c@example.com", Text: strconv.Itoa(i)}); err != nil {
				return err
			}
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
		}
		_, err := tx.EnsureUser("old@example.com", "Old")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx store.Tx) error {
		u, err := tx.User("old@example.com")
		if err != nil {
			return err
		}
		u.Addr = "moved@example.com"
		if err := tx.PutUser(u); err != nil {
			return err
		}
		if _, err := tx.EnsureUser("old@example.com", "New"); err != nil {
			return err
		}
		for i := uint64(1); i <= n; i += 3 {
			tk, err := tx.Ticket(i)
			if err != nil {
				return err
			}
			tk.Status = model.StatusResolved
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
		}
		for i := 1; i <= 10; i++ {
			if err := tx.Enqueue(&model.Outbound{Rcpt: "r@example.com", Ticket: 1}); err != nil {
				return err
			}
		}
		return tx.DeleteOutbound(5)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx store.Tx) error {
		if ids := tx.TicketIDs("", 0); len(ids) != n {
			t.Errorf("%d tickets, want %d", len(ids), n)
		}
		if ids := tx.TicketIDs(model.StatusResolved, 0); len(ids) != n/3 {
			t.Errorf("%d solved tickets, want %d", len(ids), n/3)
		}
		for i := uint64(1); i <= n; i++ {
			cs, err := tx.Comments(i)
			if err != nil || len(cs) != 1 || cs[0].Text != strconv.Itoa(int(i-1)) {
				t.Fatalf("ticket %d comments %v %v", i, cs, err)
			}
		}
		moved, err1 := tx.User("moved@example.com")
		fresh, err2 := tx.User("old@example.com")
		if err1 != nil || err2 != nil || moved.Name != "Old" || fresh.Name != "New" || moved.ID == fresh.ID {
			t.Errorf("users after the move: %+v %v, %+v %v", moved, err1, fresh, err2)
		}
		if _, err := tx.Outbound(5); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted outbound item: %v", err)
		}
		if o, err := tx.Outbound(10); err != nil || o.Rcpt != "r@example.com" {
			t.Errorf("outbound item 10: %+v %v", o, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// With two daemons on one database, each commit of one used to empty the
// other's read cache: its next commit read the agents, counters and rate
// windows again, one round trip each. The write log names what a commit
// wrote (users by id; counters and rate windows by table: their keys may
// hold an address, and the log keeps no personal data), so the other
// writer drops only that.
func TestWriterKeepsWhatTheOtherWriterDidNotWrite(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a, b := openTest(t, dsn), openTest(t, dsn)
	var name string
	mail := func(tx store.Tx) error {
		tk := &model.Ticket{Subject: "cache", Requester: "c@example.com"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		if _, err := tx.Counter("mails", 1); err != nil {
			return err
		}
		if _, err := tx.RateAllow("sender:c@example.com", time.Hour, 100); err != nil {
			return err
		}
		u, err := tx.User("agent@example.com")
		if err != nil {
			return err
		}
		name = u.Name
		return nil
	}
	mustUpdate(t, a, func(tx store.Tx) error {
		_, err := tx.EnsureUser("agent@example.com", "Agent")
		return err
	})
	mustUpdate(t, a, mail)                     // warms a's cache
	mustUpdate(t, b, func(tx store.Tx) error { // b writes other rows
		tk := &model.Ticket{Subject: "other", Requester: "d@example.com"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		_, err := tx.EnsureUser("d@example.com", "D")
		return err
	})
	trips, forgets, clears := a.trace.wRoundTrips.Load(), a.forgets.Load(), a.clears.Load()
	mustUpdate(t, a, mail)
	if got := a.trace.wRoundTrips.Load() - trips; got != 2 {
		t.Errorf("a's commit after b's took %d round trips, want 2 (begin and commit: the agent, counter and rate window still cached)", got)
	}
	if a.forgets.Load() != forgets+1 || a.clears.Load() != clears {
		t.Errorf("a caught up by the write log %d times and cleared its cache %d times, want 1 and 0", a.forgets.Load()-forgets, a.clears.Load()-clears)
	}
	// What b does write, a reads anew.
	mustUpdate(t, b, func(tx store.Tx) error {
		u, err := tx.User("agent@example.com")
		if err != nil {
			return err
		}
		u.Name = "Renamed"
		return tx.PutUser(u)
	})
	mustUpdate(t, a, mail)
	if name != "Renamed" {
		t.Errorf("a reads the agent's name %q after b renamed them", name)
	}
}
