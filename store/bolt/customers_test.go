package bolt

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

// A schema 3 store (customer address index, links and timeline under
// their own prefixes of bucket customers) reads the same read-only, as
// it is, and after a writable open moved its keys to schema 4's places
// (addresses beside the user keys, links and timeline under the
// profile's record), also when an earlier start moved only some.
func TestCustomerKeysMigrateFromSchema3(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// What a schema 3 binary wrote: two customers, Ken with two
	// addresses, two requested tickets, a CC and two timeline entries.
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ken := &model.Customer{ID: 4, Name: "김민준", Addresses: []string{"ken@e-fun.example", "ken@home.example"}, Created: at, Updated: at}
	ada := &model.Customer{ID: 9, Name: "Ada", Addresses: []string{"ada@acme.example"}, Created: at, Updated: at}
	acts := []*model.CustomerActivity{
		{At: at, Kind: model.ActTicket, Ticket: 1, By: "ken@e-fun.example", Text: "requested #1: Printer"},
		{At: at.Add(time.Hour), Kind: model.ActComment, Ticket: 1, By: "ken@home.example", Text: "wrote on #1: Printer"},
	}
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bCustomers)
		for _, c := range []*model.Customer{ken, ada} {
			if err := putJSON(b, custKey(custRec, u64(c.ID)), c); err != nil {
				return err
			}
			for _, a := range c.Addresses {
				if err := b.Put(custKey(custAddrV3, []byte(a)), u64(c.ID)); err != nil {
					return err
				}
			}
		}
		for _, l := range []struct {
			id     uint64
			role   byte
			ticket uint64
		}{{4, 'r', 1}, {4, 'r', 3}, {4, 'c', 2}, {9, 'r', 5}} {
			if err := b.Put(custKey(custTkV3, u64(l.id), []byte{l.role}, u64(l.ticket)), nil); err != nil {
				return err
			}
		}
		for i, a := range acts {
			k := custKey(custActV3, u64(4), u64(uint64(a.At.UnixNano())^(1<<63)), u64(uint64(10+i)))
			if err := putJSON(b, k, a); err != nil {
				return err
			}
		}
		if err := b.SetSequence(11); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("schema_version"), u64(3))
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	check := func(name string, db *DB) {
		t.Helper()
		db.View(func(stx store.Tx) error {
			tx := stx.(*Tx)
			for _, a := range []string{"ken@e-fun.example", "ken@home.example"} {
				if c, err := tx.CustomerByAddr(a); err != nil || c.ID != 4 || c.Name != "김민준" {
					t.Errorf("%s: CustomerByAddr(%s) = %+v, %v", name, a, c, err)
				}
			}
			if got := tx.CustomerTickets(4, model.CustomerRequester); !slices.Equal(got, []uint64{3, 1}) {
				t.Errorf("%s: Ken's requested tickets %v, want [3 1]", name, got)
			}
			if got := tx.CustomerTickets(4, model.CustomerCC); !slices.Equal(got, []uint64{2}) {
				t.Errorf("%s: Ken's CC'd tickets %v, want [2]", name, got)
			}
			if got := tx.CustomerTickets(9, model.CustomerRequester); !slices.Equal(got, []uint64{5}) {
				t.Errorf("%s: Ada's tickets %v, want [5]", name, got)
			}
			tl, err := tx.CustomerActivity(4, 0, 0)
			if err != nil || len(tl) != 2 || tl[0].Text != acts[1].Text || tl[1].Text != acts[0].Text {
				t.Errorf("%s: Ken's timeline %+v, %v", name, tl, err)
			}
			if got, _ := tx.CustomerActivity(9, 0, 0); len(got) != 0 {
				t.Errorf("%s: Ada's timeline %+v, want none", name, got)
			}
			if got := tx.CustomerIDs("", 0); !slices.Equal(got, []uint64{9, 4}) {
				t.Errorf("%s: all customers %v, want [9 4]", name, got)
			}
			return nil
		})
		kinds := map[string]int{}
		var seqs []uint64
		if err := db.Dump(func(r *store.Record) error {
			kinds[string(r.Kind)]++
			if r.Kind == store.KindActivity {
				seqs = append(seqs, r.Activity.Seq)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: dump: %v", name, err)
		}
		if kinds[string(store.KindCustomer)] != 2 || kinds[string(store.KindCustomerLink)] != 4 || kinds[string(store.KindActivity)] != 2 || !slices.Equal(seqs, []uint64{10, 11}) {
			t.Errorf("%s: dumped %v, activity seqs %v", name, kinds, seqs)
		}
	}

	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	check("schema 3 read-only", ro)
	ro.Close()

	// A start that stopped after a migration's first transaction: the
	// next moves the rest.
	db = resumeMigration(t, dir, moveCustomerKeysV3, 4)
	check("migrated", db)
	db.bdb().View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bMeta).Get([]byte("schema_version")); binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("schema version %d after the migration", binary.BigEndian.Uint64(v))
		}
		tx.Bucket(bCustomers).ForEach(func(k, _ []byte) error {
			if k[0] != custRec && k[0] != custOrg && string(k) != string(keyBackfill) {
				t.Errorf("schema 3 key %q left in bucket customers", k)
			}
			return nil
		})
		if v := tx.Bucket(bUsers).Get(custAddrKey("ken@home.example")); binary.BigEndian.Uint64(v) != 4 {
			t.Errorf("address index in bucket users: %x", v)
		}
		return nil
	})
	// A later write lands where schema 4 keeps it.
	if err := db.Update(func(stx store.Tx) error {
		if _, err := stx.LinkCustomerTicket(9, 6, model.CustomerRequester); err != nil {
			return err
		}
		return stx.AddCustomerActivity(9, &model.CustomerActivity{At: at, Kind: model.ActTicket, Ticket: 6, Text: "requested #6"})
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(stx store.Tx) error {
		if got := stx.CustomerTickets(9, model.CustomerRequester); !slices.Equal(got, []uint64{6, 5}) {
			t.Errorf("Ada's tickets after a new link %v", got)
		}
		if got := stx.CustomerIDs("", 1); !slices.Equal(got, []uint64{9}) {
			t.Errorf("newest customer %v, want [9]", got)
		}
		return nil
	})
	db.Close()
}
