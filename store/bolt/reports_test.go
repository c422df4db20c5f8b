package bolt

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

// A schema 5 report index (backlog moves as a log in bucket
// report_backlog, 'l' at seq) reads the same read-only, as it is, and
// after a writable open moved the moves into bucket report_events
// (schema 6: into their instant's event records where the order of the
// instant's moves allows), also when an earlier start moved only some
// of them; the
// events read as before, a dump lists every event and move once, and a
// move written afterwards counts.
func TestBacklogMigrateFromSchema5(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	x := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	type mv struct {
		at       time.Time
		dec, inc []string
	}
	events := []model.ReportEvent{
		{At: x, Kind: model.EvReceived, Ticket: 1, Group: "support"},
		{At: x.Add(time.Hour), Kind: model.EvFirstResponse, Ticket: 1, Agent: "ana@example.com", Since: x},
		{At: x.Add(3 * time.Hour), Kind: model.EvReopened, Ticket: 2},
		{At: x.Add(26 * time.Hour), Kind: model.EvResolved, Ticket: 1, Since: x},
	}
	moves := []mv{
		{x, nil, []string{"open", "open\x00support"}},
		{x, nil, []string{"open"}},
		{x.Add(time.Hour), []string{"open"}, []string{"pending"}},
		// Out of a key nobody is in (clamped at zero), then into it: the
		// order of one instant's moves shows.
		{x.Add(3 * time.Hour), []string{"z"}, nil},
		{x.Add(3 * time.Hour), nil, []string{"z"}},
		{x.Add(26 * time.Hour), []string{"pending", "open\x00support"}, []string{"resolved"}},
	}
	// What a schema 5 binary wrote: the events, the log of moves and a
	// checkpoint for each day with a move (the counts before it).
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bbolt.Tx) error {
		evb, bl := tx.Bucket(bReportEvents), tx.Bucket(bBacklog)
		for i := range events {
			seq, _ := evb.NextSequence()
			if err := evb.Put(timeKey(0, events[i].At, seq), encodeEvent(&events[i])); err != nil {
				return err
			}
		}
		for _, m := range moves {
			seq, _ := bl.NextSequence()
			if err := bl.Put(timeKey('l', m.at, seq), appendMove(nil, m.dec, m.inc)); err != nil {
				return err
			}
		}
		day0, day1 := dayOf(x), dayOf(x.Add(26*time.Hour))
		for _, k := range [][]byte{dayMark(day0), dayMark(day1)} {
			if err := bl.Put(k, []byte{}); err != nil {
				return err
			}
		}
		for k, n := range map[string]int{"open": 1, "pending": 1, "open\x00support": 1, "z": 1} {
			if err := bl.Put(checkKey(day1, k), binary.AppendUvarint(nil, uint64(n))); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put([]byte("schema_version"), u64(5))
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	want := func(at time.Time, extra ...mv) map[string]int {
		c := map[string]int{}
		for _, m := range append(append([]mv(nil), moves...), extra...) {
			if !m.at.Before(at) {
				continue
			}
			for _, k := range m.dec {
				if c[k]--; c[k] <= 0 {
					delete(c, k)
				}
			}
			for _, k := range m.inc {
				c[k]++
			}
		}
		return c
	}
	instants := []time.Time{x, x.Add(1), x.Add(time.Hour + 1), x.Add(3*time.Hour + 1), x.Add(25 * time.Hour), x.Add(26*time.Hour + 1), x.Add(200 * time.Hour)}
	check := func(name string, db *DB, extra ...mv) {
		t.Helper()
		db.View(func(tx store.Tx) error {
			for _, at := range instants {
				if got, err := tx.Backlog(at); err != nil || !reflect.DeepEqual(got, want(at, extra...)) {
					t.Errorf("%s: backlog at %s = %v, %v, want %v", name, at, got, err, want(at, extra...))
				}
			}
			var got []model.ReportEvent
			if err := tx.ReportEvents(x.Add(-time.Hour), x.Add(48*time.Hour), func(ev *model.ReportEvent) error {
				got = append(got, *ev)
				return nil
			}); err != nil || fmt.Sprint(got) != fmt.Sprint(events) {
				t.Errorf("%s: events = %v, %v, want %v", name, got, err, events)
			}
			return nil
		})
		var dumped []string
		if err := db.Dump(func(r *store.Record) error {
			switch r.Kind {
			case store.KindReportEvent:
				dumped = append(dumped, fmt.Sprintf("event %s#%d", r.Event.Kind, r.Event.Ticket))
			case store.KindBacklogMove:
				dumped = append(dumped, fmt.Sprintf("move %s %q %q", r.Move.At.Format(time.RFC3339), r.Move.Dec, r.Move.Inc))
			}
			return nil
		}); err != nil {
			t.Errorf("%s: dump: %v", name, err)
		}
		var wantDump []string
		for _, ev := range events {
			wantDump = append(wantDump, fmt.Sprintf("event %s#%d", ev.Kind, ev.Ticket))
		}
		for _, m := range append(append([]mv(nil), moves...), extra...) {
			wantDump = append(wantDump, fmt.Sprintf("move %s %q %q", m.at.Format(time.RFC3339), m.dec, m.inc))
		}
		if !reflect.DeepEqual(dumped, wantDump) {
			t.Errorf("%s: dumped\n%q\nwant\n%q", name, dumped, wantDump)
		}
	}

	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	check("schema 5 read-only", ro)
	ro.Close()

	// A start that stopped after the migration's first transaction: the
	// next moves the rest.
	db = resumeMigration(t, dir, migrateBacklogV5, 2)
	defer db.Close()
	check("migrated", db)
	db.bdb().View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bBacklog).Cursor()
		if k, _ := c.Seek([]byte{'l'}); k != nil {
			t.Errorf("a schema 5 move is left: %x", k)
		}
		if v := tx.Bucket(bMeta).Get([]byte("schema_version")); binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("schema version %x", v)
		}
		// Each move joined its instant's event but the second at x and
		// the second at x+3h (one event each there).
		kinds := map[byte]int{}
		tx.Bucket(bReportEvents).ForEach(func(_, v []byte) error { kinds[v[0]]++; return nil })
		if want := map[byte]int{recEvent: 0, recMove: 2, recEventMove: 4}; kinds[recEvent] != 0 || kinds[recMove] != 2 || kinds[recEventMove] != 4 {
			t.Errorf("records by kind %v, want %v", kinds, want)
		}
		return nil
	})
	// A move written now, on the last checkpoint's day, counts with them.
	late := mv{x.Add(27 * time.Hour), []string{"resolved"}, []string{"open"}}
	if err := db.Update(func(tx store.Tx) error { return tx.MoveBacklog(late.at, late.dec, late.inc) }); err != nil {
		t.Fatal(err)
	}
	check("migrated, then written", db, late)
}
