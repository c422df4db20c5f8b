package clock

import (
	"errors"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/bolt"
)

// timers is a list of due instants; firing one records the clock's
// instant at that moment.
type timers struct {
	m     *Manual
	due   []time.Time
	fired []time.Time
}

func (t *timers) NextTimer() (time.Time, bool, error) {
	if len(t.due) == 0 {
		return time.Time{}, false, nil
	}
	next := t.due[0]
	for _, d := range t.due {
		if d.Before(next) {
			next = d
		}
	}
	return next, true, nil
}

func (t *timers) RunTimers() (int, error) {
	now := t.m.Now()
	var left []time.Time
	n := 0
	for _, d := range t.due {
		if d.After(now) {
			left = append(left, d)
			continue
		}
		t.fired = append(t.fired, now)
		n++
	}
	t.due = left
	return n, nil
}

func open(t *testing.T, m *Manual) (store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(dir, bolt.Options{Now: m.Now})
	if err != nil {
		t.Fatal(err)
	}
	return db, dir
}

func TestSetFiresEachTimerAtItsInstantInOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	m := New(t0)
	db, dir := open(t, m)
	if err := m.Load(db, true); err != nil || !m.Now().Equal(t0) {
		t.Fatalf("Load on a new store: %v %v, want its first start %s", m.Now(), err, t0)
	}
	tm := &timers{m: m, due: []time.Time{t0.Add(30 * time.Hour), t0.Add(2 * time.Hour), t0.Add(2 * time.Hour), t0.Add(50 * time.Hour)}}
	n, err := m.Advance(26*time.Hour, db, tm)
	if err != nil || n != 2 {
		t.Fatalf("Advance(26h) = %d, %v", n, err)
	}
	if len(tm.fired) != 2 || !tm.fired[0].Equal(t0.Add(2*time.Hour)) || !tm.fired[1].Equal(t0.Add(2*time.Hour)) {
		t.Errorf("fired at %v, want both at +2h", tm.fired)
	}
	if n, err := m.Set(t0.Add(60*time.Hour), db, tm); err != nil || n != 2 {
		t.Fatalf("Set(+60h) = %d, %v", n, err)
	}
	if !tm.fired[2].Equal(t0.Add(30*time.Hour)) || !tm.fired[3].Equal(t0.Add(50*time.Hour)) || !m.Now().Equal(t0.Add(60*time.Hour)) {
		t.Errorf("fired at %v, clock %s", tm.fired, m.Now())
	}
	if _, err := m.Set(t0.Add(59*time.Hour), db, tm); !errors.Is(err, ErrBackwards) {
		t.Errorf("Set backwards: %v", err)
	}
	if _, err := m.Advance(-time.Hour, db, tm); !errors.Is(err, ErrBackwards) {
		t.Errorf("Advance backwards: %v", err)
	}
	db.Close()

	// Reopened (on a clock that says something else), it is where it was.
	m2 := New(time.Now())
	db2, err := bolt.Open(dir, bolt.Options{Now: m2.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := m2.Load(db2, false); err != nil || !m2.Now().Equal(t0.Add(60*time.Hour)) {
		t.Errorf("reloaded clock %s %v, want %s", m2.Now(), err, t0.Add(60*time.Hour))
	}
}
