package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testHints: a write given hints (store.Hinted) reads exactly what it
// would read without them: rows that exist, rows that do not, and rows
// an earlier write of its group (or the write itself) created or
// changed after the hints were taken.
func testHints(t *testing.T, e *env) {
	hs, ok := e.db.(store.Hinted)
	if !ok {
		t.Skip("the engine takes no hints")
	}
	e.update(func(tx store.Tx) error {
		if _, err := tx.EnsureUser("old@x", "Old"); err != nil {
			return err
		}
		if err := tx.NewCustomer(&model.Customer{Name: "Old", Addresses: []string{"old@x"}}); err != nil {
			return err
		}
		if err := tx.AddMessage(&model.Message{MessageID: "old@x", BodyHash: "h"}, []byte("old")); err != nil {
			return err
		}
		return tx.IndexMessageID("old@x", model.Ref{Ticket: 1})
	})
	hints := func(i int) *store.Hints {
		return &store.Hints{
			Users:      []string{"old@x", "new@x", fmt.Sprintf("new%d@x", i), "@x"},
			Customers:  []string{"old@x", "new@x"},
			MessageIDs: []string{"<OLD@x>", "new@x", ""},
			Identities: []store.MessageIdentity{{MessageID: "old@x", BodyHash: "h"}, {MessageID: "new@x", BodyHash: "h"}, {}},
		}
	}
	// Several hinted writes at once (an engine may group them): each
	// creates new@x's user, profile, identity and index entry if no
	// earlier one did, and reports what it found.
	type found struct{ user, customer, ref, dup, oldUser, oldCustomer, oldRef, oldDup bool }
	const n = 6
	got := make([]found, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = hs.UpdateHinted(hints(i), func(tx store.Tx) error {
				var f found
				_, err := tx.User("new@x")
				f.user = err == nil
				_, err = tx.CustomerByAddr("new@x")
				f.customer = err == nil
				_, f.ref = tx.LookupMessageID("new@x")
				d, err := tx.Duplicate("new@x", "h")
				if err != nil {
					return err
				}
				f.dup = d != nil
				if u, err := tx.User("old@x"); err == nil && u.Name == "Old" {
					f.oldUser = true
				}
				_, err = tx.CustomerByAddr("old@x")
				f.oldCustomer = err == nil
				r, ok := tx.LookupMessageID("old@x")
				f.oldRef = ok && r.Ticket == 1
				d, err = tx.Duplicate("old@x", "h")
				if err != nil {
					return err
				}
				f.oldDup = d != nil
				got[i] = f
				if !f.user {
					if _, err := tx.EnsureUser("new@x", "New"); err != nil {
						return err
					}
					if err := tx.NewCustomer(&model.Customer{Name: "New", Addresses: []string{"new@x"}}); err != nil {
						return err
					}
					if err := tx.AddMessage(&model.Message{MessageID: "new@x", BodyHash: "h"}, []byte("new")); err != nil {
						return err
					}
					if err := tx.IndexMessageID("new@x", model.Ref{Ticket: 2}); err != nil {
						return err
					}
					// Read back in the same write.
					if _, err := tx.User("new@x"); err != nil {
						return fmt.Errorf("the user just created: %w", err)
					}
					if r, ok := tx.LookupMessageID("<NEW@x>"); !ok || r.Ticket != 2 {
						return fmt.Errorf("the index entry just written: %+v %v", r, ok)
					}
					if d, err := tx.Duplicate("new@x", "h"); err != nil || d == nil {
						return fmt.Errorf("the identity just stored: %v %v", d, err)
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("hinted write %d: %v", i, errs[i])
		}
		f := got[i]
		if !f.oldUser || !f.oldCustomer || !f.oldRef || !f.oldDup {
			t.Errorf("hinted write %d missed an existing row: %+v", i, f)
		}
		if f.user != f.customer || f.user != f.ref || f.user != f.dup {
			t.Errorf("hinted write %d saw part of another write: %+v", i, f)
		}
		if !f.user {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d hinted writes found no new@x, want exactly the first", creators)
	}
	// Queue items named by id: a lease is checked against the item as
	// the hinted write finds it, changed by an earlier write or not.
	var item *model.Outbound
	e.update(func(tx store.Tx) error {
		item = &model.Outbound{Rcpt: "r@x", Ticket: 1}
		return tx.Enqueue(item)
	})
	oh := &store.Hints{Outbound: []uint64{item.ID, item.ID + 1000}}
	if err := hs.UpdateHinted(oh, func(tx store.Tx) error {
		if _, err := tx.Claim("w1", e.clock(), 1, time.Minute, true); err != nil {
			return err
		}
		if _, err := tx.Outbound(item.ID + 1000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an item that does not exist: %v", err)
		}
		return tx.Extend("w1", item.ID, e.clock().Add(2*time.Minute))
	}); err != nil {
		t.Fatalf("claiming and extending with hints: %v", err)
	}
	if err := hs.UpdateHinted(oh, func(tx store.Tx) error {
		if err := tx.Extend("w2", item.ID, e.clock().Add(time.Hour)); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("extending another holder's lease: %v, want ErrLeaseLost", err)
		}
		o, err := tx.Outbound(item.ID)
		if err != nil {
			return err
		}
		prev := o.NextAttempt
		o.State = model.OutSent
		return tx.Settle("w1", o, prev)
	}); err != nil {
		t.Fatalf("settling with hints: %v", err)
	}
	e.view(func(tx store.Tx) error {
		if o, err := tx.Outbound(item.ID); err != nil || o.State != model.OutSent || o.LeaseHolder != "" {
			t.Errorf("after the hinted settle: %+v %v", o, err)
		}
		return nil
	})

	// And a write that fails after hints leaves nothing behind for the
	// next hinted write.
	boom := errors.New("boom")
	if err := hs.UpdateHinted(hints(0), func(tx store.Tx) error {
		if _, err := tx.EnsureUser("ghost@x", ""); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing hinted write: %v", err)
	}
	if err := hs.UpdateHinted(&store.Hints{Users: []string{"ghost@x"}}, func(tx store.Tx) error {
		if _, err := tx.User("ghost@x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the failed write's user: %v, want not found", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
