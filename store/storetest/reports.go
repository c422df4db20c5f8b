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
