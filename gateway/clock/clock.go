// Package clock is the ticket clock (issue 14 item 7): the one time source
// of every ticket-time path (ticket and comment times, auto-close and
// every time-based rule, rate-limit windows, reply-token ages). It is the
// wall clock, or with [testing] clock = "manual" a clock that moves only
// when told (`helpdesk clock set|advance`), kept in the store across
// restarts. Network timeouts, retry backoff and the outbound queue stay on
// the wall clock: they measure real waiting, not ticket time.
package clock

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"helpdesk/store"
)

// Manual is a clock that moves only when told. Its zero value is not
// usable; use New or Load.
type Manual struct {
	mu  sync.RWMutex
	now time.Time
	// moving serialises Set and Advance (each runs timers while it holds
	// it; Now stays readable meanwhile).
	moving sync.Mutex
}

// New returns a manual clock at t.
func New(t time.Time) *Manual { return &Manual{now: t.UTC()} }

// Now returns the clock's instant.
func (m *Manual) Now() time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.now
}

func (m *Manual) set(t time.Time) {
	m.mu.Lock()
	m.now = t.UTC()
	m.mu.Unlock()
}

// Load sets m to the instant kept in db: the one last stored, or for a
// store that never ran on a manual clock, the store's first start (which
// it then stores, when db is writable).
func (m *Manual) Load(db store.Store, writable bool) error {
	var at time.Time
	var stored bool
	err := db.View(func(tx store.Tx) error {
		var err error
		at, stored, err = tx.ManualClock()
		if err != nil || stored {
			return err
		}
		at, err = tx.FirstStart()
		return err
	})
	if err != nil {
		return fmt.Errorf("loading the manual clock: %w", err)
	}
	m.set(at)
	if stored || !writable {
		return nil
	}
	if err := db.Update(func(tx store.Tx) error { return tx.SetManualClock(at) }); err != nil {
		return fmt.Errorf("storing the manual clock: %w", err)
	}
	return nil
}

// Timers is what fires at instants of the ticket clock.
type Timers interface {
	// NextTimer returns the earliest instant at which something falls
	// due that has not fired yet (ok false: nothing is pending).
	NextTimer() (at time.Time, ok bool, err error)
	// RunTimers fires, and commits, whatever is due at the clock's
	// instant; it returns how many things fired.
	RunTimers() (int, error)
}

// ErrBackwards is returned by Set for an instant before the clock's.
var ErrBackwards = errors.New("the manual clock never goes backwards")

// Set moves the clock to t, firing every timer due up to t in the order
// they fall due, each at its own instant, and returns only when all of
// them have committed. Each instant the clock takes is stored in db
// before its timers fire, so a crash in between leaves nothing due
// unfired (timers due at start fire then). It returns how many things
// fired.
func (m *Manual) Set(t time.Time, db store.Store, timers Timers) (int, error) {
	m.moving.Lock()
	defer m.moving.Unlock()
	t = t.UTC()
	if now := m.Now(); t.Before(now) {
		return 0, fmt.Errorf("%s is before the clock's %s: %w (to start over, use a new data_dir)", t.Format(time.RFC3339), now.Format(time.RFC3339), ErrBackwards)
	}
	step := func(at time.Time) error {
		if err := db.Update(func(tx store.Tx) error { return tx.SetManualClock(at) }); err != nil {
			return fmt.Errorf("storing the manual clock: %w", err)
		}
		m.set(at)
		return nil
	}
	fired := 0
	for {
		next, ok, err := timers.NextTimer()
		if err != nil {
			return fired, fmt.Errorf("finding the next timer: %w", err)
		}
		if !ok || next.After(t) {
			break
		}
		if next.After(m.Now()) {
			if err := step(next); err != nil {
				return fired, err
			}
		}
		n, err := timers.RunTimers()
		fired += n
		if err != nil {
			return fired, fmt.Errorf("firing the timers due at %s: %w", m.Now().Format(time.RFC3339), err)
		}
		if n == 0 {
			// Due but nothing fired (a rule found nothing to do on a
			// second look): going on from the next instant avoids
			// asking for the same timer forever.
			break
		}
	}
	if err := step(t); err != nil {
		return fired, err
	}
	n, err := timers.RunTimers()
	fired += n
	if err != nil {
		return fired, fmt.Errorf("firing the timers due at %s: %w", t.Format(time.RFC3339), err)
	}
	return fired, nil
}

// Advance moves the clock d forward, as Set(Now()+d).
func (m *Manual) Advance(d time.Duration, db store.Store, timers Timers) (int, error) {
	if d < 0 {
		return 0, fmt.Errorf("advance by %s: %w; give a positive duration such as 26h", d, ErrBackwards)
	}
	m.moving.Lock()
	t := m.Now().Add(d)
	m.moving.Unlock()
	// Another Set may slip in between: then t may be behind the clock,
	// and Set says so rather than moving it back.
	return m.Set(t, db, timers)
}
