package storetest

import (
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testReportEvents: the event index returns a period's events in time
// order (one instant's in the order added), every field as written, and
// nothing outside [from, to).
func testReportEvents(t *testing.T, e *env) {
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	full := model.ReportEvent{At: day.Add(3 * time.Hour), Kind: model.EvFirstResponse, Ticket: 7, Group: "기술지원",
		Mailbox: "support@example.com", Agent: "kim@example.com", Since: day.Add(time.Hour), Target: "first_reply", Rating: 4}
	evs := []model.ReportEvent{
		{At: day.Add(-time.Nanosecond), Kind: model.EvReceived, Ticket: 1},
		{At: day, Kind: model.EvReceived, Ticket: 2, Group: "billing"},
		full,
		{At: day.Add(3 * time.Hour), Kind: model.EvResolved, Ticket: 7},
		{At: day.Add(2 * time.Hour), Kind: model.EvReopened, Ticket: 3},
		{At: day.Add(24 * time.Hour), Kind: model.EvReceived, Ticket: 9},
	}
	e.update(func(tx store.Tx) error {
		for i := range evs {
			if err := tx.AddReportEvent(&evs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	e.reopen()
	var got []string
	var first *model.ReportEvent
	e.view(func(tx store.Tx) error {
		return tx.ReportEvents(day, day.Add(24*time.Hour), func(ev *model.ReportEvent) error {
			got = append(got, fmt.Sprintf("%s#%d", ev.Kind, ev.Ticket))
			if ev.Kind == model.EvFirstResponse {
				cp := *ev
				first = &cp
			}
			return nil
		})
	})
	want := []string{"received#2", "reopened#3", "first_response#7", "resolved#7"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events of the day: got %v, want %v", got, want)
	}
	if first == nil || !first.At.Equal(full.At) || !first.Since.Equal(full.Since) {
		t.Fatalf("event times: got %+v", first)
	}
	first.At, first.Since = full.At, full.Since
	if !reflect.DeepEqual(*first, full) {
		t.Fatalf("event fields: wrote %+v, read %+v", full, *first)
	}
	n := 0
	e.view(func(tx store.Tx) error {
		return tx.ReportEvents(day.Add(3*time.Hour), day.Add(3*time.Hour+1), func(*model.ReportEvent) error { n++; return nil })
	})
	if n != 2 {
		t.Fatalf("events at one instant: %d, want 2", n)
	}
}

// testBacklog: counts as of any instant, across days, with moves
// recorded out of order (an import) and after a reopen.
func testBacklog(t *testing.T, e *env) {
	d0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	type mv struct {
		at       time.Time
		dec, inc []string
	}
	moves := []mv{
		// Keys are the engine's to keep byte for byte: the reports join
		// their parts with NUL.
		{d0, nil, []string{"open", "open|g|a", "agent\x00ana\x00open"}},
		{d0.Add(time.Hour), nil, []string{"open"}},
		{d0.Add(26 * time.Hour), []string{"open"}, []string{"pending"}},
		{d0.Add(75 * time.Hour), []string{"pending"}, []string{"resolved"}},
		// Recorded last, dated first: the checkpoints after it count it.
		{d0.Add(-48 * time.Hour), nil, []string{"open"}},
		{d0.Add(30 * time.Minute), []string{"open|g|a"}, nil},
		{d0.Add(3 * time.Hour), []string{"agent\x00ana\x00open"}, []string{"agent\x00ana\x00pending"}},
	}
	e.update(func(tx store.Tx) error {
		for i, m := range moves {
			if i == 4 {
				continue
			}
			if err := tx.MoveBacklog(m.at, m.dec, m.inc); err != nil {
				return err
			}
		}
		return nil
	})
	e.update(func(tx store.Tx) error { return tx.MoveBacklog(moves[4].at, moves[4].dec, moves[4].inc) })
	e.reopen()
	// Expected counts, computed by replaying every move.
	want := func(at time.Time) map[string]int {
		c := map[string]int{}
		for _, m := range moves {
			if !m.at.Before(at) {
				continue
			}
			for _, k := range m.dec {
				c[k]--
			}
			for _, k := range m.inc {
				c[k]++
			}
		}
		maps.DeleteFunc(c, func(_ string, n int) bool { return n == 0 })
		return c
	}
	for _, at := range []time.Time{d0.Add(-72 * time.Hour), d0.Add(-47 * time.Hour), d0, d0.Add(time.Nanosecond), d0.Add(45 * time.Minute),
		d0.Add(2 * time.Hour), d0.Add(15 * time.Hour), d0.Add(26*time.Hour + 1), d0.Add(50 * time.Hour), d0.Add(100 * time.Hour), d0.Add(1000 * time.Hour)} {
		var got map[string]int
		e.view(func(tx store.Tx) error {
			var err error
			got, err = tx.Backlog(at)
			return err
		})
		if w := want(at); !reflect.DeepEqual(got, w) && !(len(got) == 0 && len(w) == 0) {
			t.Errorf("backlog at %s: got %v, want %v", at.Format(time.RFC3339Nano), got, w)
		}
	}
}

// testEventsWithMoves: events and backlog moves written in one write as
// the engine writes them (a ticket's events, then its move, often at the
// same instant) read back apart: every event with its fields and none
// of the moves, and the counts of every move as of any instant, in the
// write and after a reopen.
func testEventsWithMoves(t *testing.T, e *env) {
	x := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	full := model.ReportEvent{At: x, Kind: model.EvFirstResponse, Ticket: 7, Group: "기술지원",
		Mailbox: "support@example.com", Agent: "kim@example.com", Since: x.Add(-time.Hour), Target: "first_reply", Rating: -4}
	type step struct {
		ev       *model.ReportEvent
		at       time.Time
		dec, inc []string
	}
	steps := []step{
		// A new ticket: its event, then its move at the same instant.
		{ev: &model.ReportEvent{At: x, Kind: model.EvReceived, Ticket: 1}},
		{at: x, inc: []string{"open", "k"}},
		// Then, at the same instant, a move without an event: after it.
		{at: x, dec: []string{"k"}},
		// An event whose move is at another instant.
		{ev: &full},
		{at: x.Add(time.Minute), dec: []string{"open"}, inc: []string{"pending"}},
		// A move, then an event and a move at that instant.
		{at: x.Add(2 * time.Hour), dec: []string{"pending"}, inc: []string{"j"}},
		{ev: &model.ReportEvent{At: x.Add(2 * time.Hour), Kind: model.EvResolved, Ticket: 7}},
		{at: x.Add(2 * time.Hour), dec: []string{"j"}, inc: []string{"pending"}},
		// Two events of one instant, the move after the second.
		{ev: &model.ReportEvent{At: x.Add(30 * time.Hour), Kind: model.EvReopened, Ticket: 7}},
		{ev: &model.ReportEvent{At: x.Add(30 * time.Hour), Kind: model.EvBreach, Ticket: 7, Target: "resolution"}},
		{at: x.Add(30 * time.Hour), dec: []string{"pending"}, inc: []string{"open", "k"}},
		// A move on an earlier day than the checkpoints just written.
		{at: x.Add(-24 * time.Hour), inc: []string{"old"}},
		{ev: &model.ReportEvent{At: x.Add(-24 * time.Hour), Kind: model.EvReceived, Ticket: 2}},
	}
	write := func(tx store.Tx) error {
		for _, s := range steps {
			var err error
			if s.ev != nil {
				err = tx.AddReportEvent(s.ev)
			} else {
				err = tx.MoveBacklog(s.at, s.dec, s.inc)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	// The counts by replaying the moves.
	want := func(at time.Time) map[string]int {
		c := map[string]int{}
		for _, s := range steps {
			if s.ev != nil || !s.at.Before(at) {
				continue
			}
			for _, k := range s.dec {
				c[k]--
			}
			for _, k := range s.inc {
				c[k]++
			}
		}
		maps.DeleteFunc(c, func(_ string, n int) bool { return n == 0 })
		return c
	}
	check := func(name string, tx store.Tx) {
		t.Helper()
		var got []model.ReportEvent
		if err := tx.ReportEvents(x.Add(-48*time.Hour), x.Add(48*time.Hour), func(ev *model.ReportEvent) error {
			got = append(got, *ev)
			return nil
		}); err != nil {
			t.Fatalf("%s: events: %v", name, err)
		}
		var wantEvs []string
		for _, s := range steps {
			if s.ev != nil {
				wantEvs = append(wantEvs, fmt.Sprintf("%s#%d@%s", s.ev.Kind, s.ev.Ticket, s.ev.At.Format(time.RFC3339)))
			}
		}
		// Time order; one instant's in the order added.
		order := []int{5, 0, 1, 2, 3, 4}
		var gotEvs []string
		for _, ev := range got {
			gotEvs = append(gotEvs, fmt.Sprintf("%s#%d@%s", ev.Kind, ev.Ticket, ev.At.Format(time.RFC3339)))
			if ev.Kind == model.EvFirstResponse {
				ev.At, ev.Since = full.At, full.Since
				if !reflect.DeepEqual(ev, full) {
					t.Errorf("%s: event fields: wrote %+v, read %+v", name, full, ev)
				}
			}
		}
		var sorted []string
		for _, i := range order {
			sorted = append(sorted, wantEvs[i])
		}
		if !reflect.DeepEqual(gotEvs, sorted) {
			t.Errorf("%s: events: got %v, want %v", name, gotEvs, sorted)
		}
		for _, at := range []time.Time{x.Add(-24 * time.Hour), x.Add(-23 * time.Hour), x, x.Add(1), x.Add(time.Minute + 1),
			x.Add(2*time.Hour + 1), x.Add(29 * time.Hour), x.Add(30*time.Hour + 1), x.Add(100 * time.Hour)} {
			got, err := tx.Backlog(at)
			if err != nil {
				t.Fatalf("%s: backlog at %s: %v", name, at, err)
			}
			if w := want(at); !reflect.DeepEqual(got, w) && !(len(got) == 0 && len(w) == 0) {
				t.Errorf("%s: backlog at %s: got %v, want %v", name, at.Format(time.RFC3339Nano), got, w)
			}
		}
	}
	e.update(func(tx store.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		check("in the write", tx)
		return nil
	})
	e.reopen()
	e.view(func(tx store.Tx) error { check("after a reopen", tx); return nil })
}
