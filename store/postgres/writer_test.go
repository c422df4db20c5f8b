package postgres

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgcluster"
	"helpdesk/store/postgres/pgtest"
)

// While one group's COMMIT is on its way, the writer takes the next
// group's requests (DB.writer): many concurrent writes, in overlapping
// groups, each commit once, with ticket numbers and a counter that add up
// as if they had been one after the other.
func TestOverlappingGroupsCommitEachWriteOnce(t *testing.T) {
	db, err := Open(pgtest.NewDB(t), Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 300
	ids := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Update(func(tx store.Tx) error {
				tk := &model.Ticket{Subject: fmt.Sprintf("t%d", i), Status: model.StatusOpen, Requester: fmt.Sprintf("c%d@example.net", i)}
				if err := tx.NewTicket(tk); err != nil {
					return err
				}
				ids[i] = tk.ID
				_, err := tx.Counter("writes", 1)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("ticket ids %v..., want 1..%d each once", ids[:min(len(ids), i+3)], n)
		}
	}
	if err := db.View(func(tx store.Tx) error {
		if c, _ := tx.Counter("writes", 0); c != n {
			return fmt.Errorf("counter %d, want %d", c, n)
		}
		if got := tx.TicketIDs("", 0); len(got) != n {
			return fmt.Errorf("%d tickets stored, want %d", len(got), n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Writes != n || st.Commits >= n {
		t.Errorf("stats: %d writes in %d commits, want %d writes in fewer commits", st.Writes, st.Commits, n)
	}
}

// A group whose last batch fails at the server (here a unique address
// two users claim) fails every request of it, leaves nothing stored or
// cached, and the writer goes on with the next group.
func TestFailedCommitFailsItsGroupOnly(t *testing.T) {
	db, err := Open(pgtest.NewDB(t), Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx store.Tx) error {
		_, err := tx.EnsureUser("taken@example.com", "Taken")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx store.Tx) error {
		if _, err := tx.Counter("n", 5); err != nil {
			return err
		}
		// Sent only with the COMMIT: users.addr is unique.
		return tx.(*Tx).put(tUsers, "999", int64(999), "taken@example.com", []byte(`{"id":999,"addr":"taken@example.com"}`))
	})
	if err == nil || errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("the group with a taken address: %v, want the database's error", err)
	}
	var n uint64
	var u *model.User
	if err := db.Update(func(tx store.Tx) error {
		n, _ = tx.Counter("n", 0)
		var err error
		u, err = tx.User("taken@example.com")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 || u.ID == 999 {
		t.Errorf("after the failed commit: counter %d, taken@example.com is user %d; want 0 and the first user", n, u.ID)
	}
}

// The writer's transactions commit without waiting for the WAL flush
// (the write lock is free for the next group meanwhile), but a write is
// answered only once the WAL holding it is on disk (DB.flusher): a
// PostgreSQL crash right after the answer keeps every answered write.
// The cluster's WAL writer is slowed down so that nothing but an
// explicit flush writes a commit out before the crash.
func TestAnsweredWritesSurviveACrashRightAfter(t *testing.T) {
	pgtest.Shared(t) // skips without PostgreSQL
	c, err := pgcluster.Start(pgcluster.Options{Settings: []string{"wal_writer_delay=10000", "wal_writer_flush_after=0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	dsn, err := c.CreateDB("crash")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(dsn, Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	for i := range 3 {
		want := uint64(i + 1)
		if err := db.Update(func(tx store.Tx) error {
			_, err := tx.Counter("answered", 1)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if db, err = Open(dsn, Options{Now: time.Now, TmpDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := db.View(func(tx store.Tx) error {
			n, err = tx.Counter("answered", 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("after a crash right after the %d. answered write, the counter is %d, want %d", want, n, want)
		}
	}
	if st := db.Stats(); st.Commits > 0 && st.Flushes == 0 {
		t.Errorf("stats: %d commits, no flush", st.Commits)
	}
}

// A flush that fails (its connection cut) leaves the writes it was for
// committed: they are answered as such once a new flush and the write
// log's marks show them in the database (DB.recoverFlush), not failed,
// which would keep an outbound claim's mail leased until its lease ran
// out, or have a mail's sender send it again.
func TestWritesOfAFailedFlushFoundCommittedAreAnsweredCommitted(t *testing.T) {
	db, err := Open(pgtest.NewDB(t), Options{Now: time.Now, TmpDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.failFlushes.Store(2)
	if err := db.Update(func(tx store.Tx) error {
		_, err := tx.Counter("flushed", 1)
		return err
	}); err != nil {
		t.Fatalf("a committed write whose flush failed twice: %v, want it answered committed", err)
	}
	if err := db.View(func(tx store.Tx) error {
		if n, _ := tx.Counter("flushed", 0); n != 1 {
			return fmt.Errorf("counter %d, want 1", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
