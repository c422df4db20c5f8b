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

// A schema 4 timer index (two keys per timer: 'd' at ticket kind and
// 'r' ticket kind -> at) reads the same read-only, as it is, and after a
// writable open rewrote it into schema 5's layout (one due key at the
// ticket's earliest instant and a record beside the ticket), also when an
// earlier start rewrote only some tickets; the timer stamp and the
// re-arming's progress are kept, so the engine does not re-arm.
func TestTimersMigrateFromSchema4(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	at := func(h int) time.Time {
		return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	}
	// What a schema 4 binary wrote: six tickets, some with two timers.
	v4 := []model.Timer{
		{Ticket: 1, Kind: "sla", At: at(5)},
		{Ticket: 1, Kind: "auto:close", At: at(48)},
		{Ticket: 2, Kind: "sla", At: at(1)},
		{Ticket: 3, Kind: "auto:close", At: at(2)},
		{Ticket: 3, Kind: "sla", At: at(2)},
		{Ticket: 4, Kind: "sla", At: at(-30)},
		{Ticket: 5, Kind: "automation", At: at(7)},
		{Ticket: 1 << 40, Kind: "sla", At: at(3)},
	}
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bTimers)
		for _, tm := range v4 {
			a := timerAt(tm.At)
			if err := b.Put(append(append([]byte{timerDue}, a...), append(u64(tm.Ticket), tm.Kind...)...), nil); err != nil {
				return err
			}
			if err := b.Put(append(append([]byte{timerRev}, u64(tm.Ticket)...), tm.Kind...), a); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if err := meta.Put(keyTimerStamp, []byte("v9 stamp")); err != nil {
			return err
		}
		return meta.Put([]byte("schema_version"), u64(4))
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	due := slices.Clone(v4)
	sortTimers(due)
	check := func(name string, db *DB) {
		t.Helper()
		db.View(func(tx store.Tx) error {
			if got, err := tx.DueTimers(at(100), 0); err != nil || !timersEqual(got, due) {
				t.Errorf("%s: DueTimers = %v, %v, want %v", name, got, err, due)
			}
			if got, err := tx.DueTimers(at(2), 3); err != nil || !timersEqual(got, due[:3]) {
				t.Errorf("%s: DueTimers(limit 3) = %v, %v, want %v", name, got, err, due[:3])
			}
			if next, ok, err := tx.NextTimerAt(); !ok || err != nil || !next.Equal(at(-30)) {
				t.Errorf("%s: NextTimerAt = %s %v %v", name, next, ok, err)
			}
			if got, err := tx.TimersOf(1); err != nil || !timersEqual(got, []model.Timer{v4[1], v4[0]}) {
				t.Errorf("%s: TimersOf(1) = %v, %v", name, got, err)
			}
			if s, _ := tx.TimerStamp(); s != "v9 stamp" {
				t.Errorf("%s: timer stamp %q", name, s)
			}
			return nil
		})
		var dumped []model.Timer
		if err := db.Dump(func(r *store.Record) error {
			if r.Kind == store.KindTimer {
				dumped = append(dumped, *r.Timer)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: dump: %v", name, err)
		}
		if sortTimers(dumped); !timersEqual(dumped, due) {
			t.Errorf("%s: dumped %v", name, dumped)
		}
	}

	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	check("schema 4 read-only", ro)
	ro.View(func(tx store.Tx) error {
		if err := tx.SetTimer(v4[0]); err == nil {
			t.Error("SetTimer on a read-only schema 4 store succeeded")
		}
		return nil
	})
	ro.Close()

	// A start that stopped after the migration's first transaction: the
	// next rewrites the rest.
	db = resumeMigration(t, dir, migrateTimersV4, 2)
	defer db.Close()
	check("migrated", db)
	db.bdb().View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bMeta).Get([]byte("schema_version")); binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("schema version %d after the migration", binary.BigEndian.Uint64(v))
		}
		n, recs := 0, 0
		tx.Bucket(bTimers).ForEach(func(k, _ []byte) error {
			n++
			if k[0] != timerDue || len(k) != 17 {
				t.Errorf("schema 4 key %x left in bucket timers", k)
			}
			return nil
		})
		tx.Bucket(bTickets).ForEach(func(k, _ []byte) error {
			if len(k) == 9 && k[8] == timerRec {
				recs++
			}
			return nil
		})
		if n != 6 || recs != 6 {
			t.Errorf("%d keys in bucket timers and %d timer records in bucket tickets, want 6 and 6 (one each per ticket)", n, recs)
		}
		return nil
	})
	// Later writes keep the layout: moving a ticket's earliest instant
	// moves its due key.
	if err := db.Update(func(tx store.Tx) error {
		if err := tx.SetTimer(model.Timer{Ticket: 4, Kind: "sla", At: at(60)}); err != nil {
			return err
		}
		return tx.ClearTimer(2, "sla")
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		if next, _, _ := tx.NextTimerAt(); !next.Equal(at(2)) {
			t.Errorf("NextTimerAt after the writes = %s, want %s", next, at(2))
		}
		return nil
	})
}

func timersEqual(a, b []model.Timer) bool {
	return slices.EqualFunc(a, b, func(x, y model.Timer) bool {
		return x.Ticket == y.Ticket && x.Kind == y.Kind && x.At.Equal(y.At)
	})
}
