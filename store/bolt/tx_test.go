package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

// TestKeptCursorReadsAsGet: a write transaction's reads through its
// kept cursors (Tx.get, Tx.cursor) answer as bbolt's Get does, whatever
// the same transaction wrote or deleted before, across pages (enough
// keys that the bucket has several leaves, most of them materialized and
// changed in the transaction), empty values included.
func TestKeptCursorReadsAsGet(t *testing.T) {
	db := openTest(t)
	key := func(i int) []byte { return binary.BigEndian.AppendUint32([]byte("k"), uint32(i)) }
	const n = 3000
	// A first write fills the bucket: later changes hit stored pages.
	if err := db.Update(func(stx store.Tx) error {
		b := stx.(*Tx).b(bRate)
		for i := 0; i < n; i += 2 {
			if err := b.Put(key(i), bytes.Repeat([]byte{byte(i)}, i%40)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	if err := db.Update(func(stx store.Tx) error {
		tx := stx.(*Tx)
		b := tx.b(bRate)
		for step := 0; step < 20000; step++ {
			k := key(rnd.IntN(n + 10))
			switch rnd.IntN(4) {
			case 0:
				if err := b.Put(k, bytes.Repeat([]byte{'v'}, rnd.IntN(60))); err != nil {
					return err
				}
			case 1:
				if err := b.Delete(k); err != nil {
					return err
				}
			default:
				got, want := tx.get(b, k), b.Get(k)
				if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("step %d: get(%x) = %q (nil %v), Get = %q (nil %v)", step, k, got, got == nil, want, want == nil)
				}
				if c, _ := tx.cursor(b).Seek(k); bytes.Equal(c, k) != (want != nil) {
					t.Fatalf("step %d: the kept cursor's Seek(%x) found %x", step, k, c)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestOpenedBucketsAreBbolts: the buckets a write transaction keeps
// (Tx.b) are the ones bbolt opens for their names, an append-only one
// filled before it splits, also for two names of one bucket
// (iCustAddr is bUsers); a read transaction is answered by bbolt.
func TestOpenedBucketsAreBbolts(t *testing.T) {
	db := openTest(t)
	if err := db.Update(func(stx store.Tx) error {
		tx := stx.(*Tx)
		for round := 0; round < 3; round++ {
			for _, name := range append(allBuckets, iCustAddr, bReportEvents) {
				if got, want := tx.b(name), tx.tx.Bucket(name); got != want {
					t.Fatalf("round %d: b(%s) = %p, bbolt's %p", round, name, got, want)
				}
			}
		}
		if tx.b(bReportEvents).FillPercent != 0.9 || tx.b(bUsers).FillPercent == 0.9 {
			t.Errorf("fill: report_events %v, users %v", tx.b(bReportEvents).FillPercent, tx.b(bUsers).FillPercent)
		}
		if tx.b([]byte("no such bucket")) != nil {
			t.Error("a bucket that is not there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(stx store.Tx) error {
		if tx := stx.(*Tx); tx.b(bUsers) == nil || tx.nBuckets != 0 {
			t.Errorf("read transaction: %v, %d kept", tx.b(bUsers), tx.nBuckets)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNewProfileLookupsAndFirstLink: in one write, an address looked up
// and missed is missed again without a look, and found once a profile
// takes it; a new profile's first link is added without a look, and its
// links after (and those of a profile from an earlier write) are looked
// for as before.
func TestNewProfileLookupsAndFirstLink(t *testing.T) {
	db := openTest(t)
	var old uint64
	if err := db.Update(func(stx store.Tx) error {
		c := &model.Customer{Name: "Old", Addresses: []string{"old@example.com"}}
		if err := stx.NewCustomer(c); err != nil {
			return err
		}
		old = c.ID
		_, err := stx.LinkCustomerTicket(old, 7, model.CustomerRequester)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(stx store.Tx) error {
		for range 2 {
			if _, err := stx.CustomerByAddr("new@example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("before: %v", err)
			}
		}
		c := &model.Customer{Name: "New", Addresses: []string{"new@example.com"}}
		if err := stx.NewCustomer(c); err != nil {
			return err
		}
		if got, err := stx.CustomerByAddr("new@example.com"); err != nil || got.ID != c.ID {
			t.Fatalf("after: %+v %v", got, err)
		}
		if err := stx.NewCustomer(&model.Customer{Addresses: []string{"new@example.com"}}); !errors.Is(err, store.ErrAddressTaken) {
			t.Fatalf("the address again: %v", err)
		}
		for _, l := range []struct {
			id, ticket uint64
			role       string
			added      bool
		}{
			{c.ID, 9, model.CustomerRequester, true}, {c.ID, 9, model.CustomerRequester, false},
			{c.ID, 9, model.CustomerCC, true}, {c.ID, 10, model.CustomerRequester, true},
			{old, 7, model.CustomerRequester, false}, {old, 8, model.CustomerRequester, true},
		} {
			if added, err := stx.LinkCustomerTicket(l.id, l.ticket, l.role); err != nil || added != l.added {
				t.Fatalf("link %+v: added %v, %v", l, added, err)
			}
		}
		if got := stx.CustomerTickets(c.ID, model.CustomerRequester); !slices.Equal(got, []uint64{10, 9}) {
			t.Errorf("requested: %v", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
