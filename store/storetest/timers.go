package storetest

import (
	"errors"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testTimers: the due-time index keeps one timer per ticket and kind,
// returns due timers in (At, ticket, kind) order, survives a reopen, and
// a view cannot write it.
func testTimers(t *testing.T, e *env) {
	at := func(min int) time.Time { return Start.Add(time.Duration(min) * time.Minute) }
	e.view(func(tx store.Tx) error {
		if _, ok, err := tx.NextTimerAt(); ok || err != nil {
			t.Errorf("empty store: NextTimerAt ok=%v err=%v", ok, err)
		}
		if s, err := tx.TimerStamp(); s != "" || err != nil {
			t.Errorf("empty store: TimerStamp %q, %v", s, err)
		}
		if err := tx.SetTimer(model.Timer{Ticket: 1, Kind: "x", At: at(1)}); err == nil {
			t.Error("SetTimer in a view succeeded")
		}
		return nil
	})
	e.update(func(tx store.Tx) error {
		for _, tm := range []model.Timer{
			{Ticket: 2, Kind: "auto-close", At: at(30)},
			{Ticket: 1, Kind: "sla", At: at(10)},
			{Ticket: 1, Kind: "auto-close", At: at(10)},
			{Ticket: 3, Kind: "sla", At: at(5)},
			{Ticket: 3, Kind: "sla", At: at(50)}, // replaces the one at 5
			{Ticket: 4, Kind: "automation", At: at(-60 * 24 * 400)},
		} {
			if err := tx.SetTimer(tm); err != nil {
				return err
			}
		}
		if s, n, err := tx.RearmProgress(); s != "" || n != 0 || err != nil {
			t.Errorf("empty store: RearmProgress %q %d, %v", s, n, err)
		}
		if err := tx.SetRearmProgress("v2 auto-close 48h", 1); err != nil {
			return err
		}
		if err := tx.SetRearmProgress("v2 auto-close 48h", 1<<40+7); err != nil { // replaces
			return err
		}
		return tx.SetTimerStamp("v1 auto-close 120h")
	})
	check := dueChecker(t, e)
	old := model.Timer{Ticket: 4, Kind: "automation", At: at(-60 * 24 * 400)}
	check(at(10), 0, old, model.Timer{Ticket: 1, Kind: "auto-close", At: at(10)}, model.Timer{Ticket: 1, Kind: "sla", At: at(10)})
	check(at(10), 2, old, model.Timer{Ticket: 1, Kind: "auto-close", At: at(10)})
	check(at(9), 0, old)
	e.view(func(tx store.Tx) error {
		if next, ok, err := tx.NextTimerAt(); !ok || err != nil || !next.Equal(old.At) {
			t.Errorf("NextTimerAt = %s %v %v, want %s", next, ok, err, old.At)
		}
		tms, err := tx.TimersOf(1)
		if err != nil || len(tms) != 2 || tms[0].Kind != "auto-close" || tms[1].Kind != "sla" || !tms[1].At.Equal(at(10)) {
			t.Errorf("TimersOf(1) = %+v, %v", tms, err)
		}
		tms, _ = tx.TimersOf(3)
		if len(tms) != 1 || !tms[0].At.Equal(at(50)) {
			t.Errorf("TimersOf(3) = %+v: SetTimer must replace the ticket's timer of that kind", tms)
		}
		return nil
	})
	e.update(func(tx store.Tx) error {
		if err := tx.ClearTimer(4, "automation"); err != nil {
			return err
		}
		if err := tx.ClearTimer(4, "automation"); err != nil { // none armed: no-op
			return err
		}
		return tx.ClearTimer(1, "sla")
	})
	e.reopen()
	check(at(60), 0, model.Timer{Ticket: 1, Kind: "auto-close", At: at(10)}, model.Timer{Ticket: 2, Kind: "auto-close", At: at(30)},
		model.Timer{Ticket: 3, Kind: "sla", At: at(50)})
	e.view(func(tx store.Tx) error {
		if s, _ := tx.TimerStamp(); s != "v1 auto-close 120h" {
			t.Errorf("TimerStamp after reopen %q", s)
		}
		if s, n, err := tx.RearmProgress(); s != "v2 auto-close 48h" || n != 1<<40+7 || err != nil {
			t.Errorf("RearmProgress after reopen %q %d, %v", s, n, err)
		}
		if err := tx.SetRearmProgress("", 0); err == nil {
			t.Error("SetRearmProgress in a view succeeded")
		}
		if next, ok, _ := tx.NextTimerAt(); !ok || !next.Equal(at(10)) {
			t.Errorf("NextTimerAt after clearing = %s %v", next, ok)
		}
		return nil
	})
	errRollback := errors.New("roll back")
	// A rolled-back write leaves the index as it was.
	e.db.Update(func(tx store.Tx) error {
		tx.SetTimer(model.Timer{Ticket: 9, Kind: "x", At: at(0)})
		tx.ClearTimer(1, "auto-close")
		return errRollback
	})
	check(at(10), 0, model.Timer{Ticket: 1, Kind: "auto-close", At: at(10)})
	// Clearing the re-arming's progress.
	e.update(func(tx store.Tx) error { return tx.SetRearmProgress("", 0) })
	e.view(func(tx store.Tx) error {
		if s, n, err := tx.RearmProgress(); s != "" || n != 0 || err != nil {
			t.Errorf("cleared RearmProgress %q %d, %v", s, n, err)
		}
		return nil
	})
}

// testTimersOrder: due order holds across a ticket's timers (an engine
// may index a ticket by its earliest instant only): a ticket's later
// timer comes after other tickets' earlier ones, also at a limit, and
// moving or clearing a ticket's earliest timer moves where its others
// fall due.
func testTimersOrder(t *testing.T, e *env) {
	at := func(min int) time.Time { return Start.Add(time.Duration(min) * time.Minute) }
	check := dueChecker(t, e)
	a1 := model.Timer{Ticket: 10, Kind: "sla", At: at(1)}
	a4 := model.Timer{Ticket: 10, Kind: "automation", At: at(4)}
	a9 := model.Timer{Ticket: 10, Kind: "auto-close", At: at(9)}
	b2 := model.Timer{Ticket: 11, Kind: "sla", At: at(2)}
	c3 := model.Timer{Ticket: 12, Kind: "sla", At: at(3)}
	c4 := model.Timer{Ticket: 12, Kind: "automation", At: at(4)}
	e.update(func(tx store.Tx) error {
		for _, tm := range []model.Timer{a9, a4, a1, c4, c3, b2} {
			if err := tx.SetTimer(tm); err != nil {
				return err
			}
		}
		return nil
	})
	check(at(10), 0, a1, b2, c3, a4, c4, a9)
	check(at(10), 3, a1, b2, c3)
	check(at(10), 4, a1, b2, c3, a4)
	check(at(4), 5, a1, b2, c3, a4, c4)
	check(at(3), 0, a1, b2, c3)
	// Ticket 10's earliest moves later than its others: they keep their
	// places.
	a5 := model.Timer{Ticket: 10, Kind: "sla", At: at(5)}
	e.update(func(tx store.Tx) error { return tx.SetTimer(a5) })
	check(at(10), 0, b2, c3, a4, c4, a5, a9)
	e.view(func(tx store.Tx) error {
		if next, ok, _ := tx.NextTimerAt(); !ok || !next.Equal(at(2)) {
			t.Errorf("NextTimerAt = %s %v, want %s", next, ok, at(2))
		}
		return nil
	})
	// Clearing a ticket's earliest timer, then all of its timers.
	e.update(func(tx store.Tx) error { return tx.ClearTimer(12, "sla") })
	check(at(4), 0, b2, a4, c4)
	e.update(func(tx store.Tx) error { return tx.ClearTimer(12, "automation") })
	check(at(10), 2, b2, a4)
	e.reopen()
	check(at(10), 0, b2, a4, a5, a9)
	e.view(func(tx store.Tx) error {
		if tms, err := tx.TimersOf(12); len(tms) != 0 || err != nil {
			t.Errorf("TimersOf(12) after clearing both = %v, %v", tms, err)
		}
		if tms, err := tx.TimersOf(10); len(tms) != 3 || err != nil || tms[0].Kind != "auto-close" || tms[1].Kind != "automation" || !tms[2].At.Equal(at(5)) {
			t.Errorf("TimersOf(10) = %+v, %v", tms, err)
		}
		return nil
	})
}

// dueChecker returns check(upTo, limit, want...), which fails t unless
// DueTimers(upTo, limit) returns want, in that order.
func dueChecker(t *testing.T, e *env) func(upTo time.Time, limit int, want ...model.Timer) {
	return func(upTo time.Time, limit int, want ...model.Timer) {
		t.Helper()
		e.view(func(tx store.Tx) error {
			got, err := tx.DueTimers(upTo, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("DueTimers(%s, %d) = %v, want %v", upTo, limit, got, want)
			}
			for i := range got {
				if got[i].Ticket != want[i].Ticket || got[i].Kind != want[i].Kind || !got[i].At.Equal(want[i].At) {
					t.Errorf("DueTimers(%s, %d)[%d] = %+v, want %+v", upTo, limit, i, got[i], want[i])
				}
			}
			return nil
		})
	}
}
