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
