package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/model"
)

// rearmStore leaves n resolved tickets without timers and the timer
// stamp empty, as an upgraded store (or one whose settings changed) is:
// every ticket needs re-arming. It returns when they were resolved.
func rearmStore(t *testing.T, h *harness, n int) time.Time {
	t.Helper()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	for i := 0; i < n; i++ {
		h.mustApply(mailFrom(fmt.Sprintf("Ken <ken%d@e-fun.example>", i), "Invoice", "Hello."), nil)
	}
	if err := h.db.Update(func(tx store.Tx) error {
		for id := uint64(1); id <= uint64(n); id++ {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			tk.Status = model.StatusResolved
			r := t0
			tk.ResolvedAt = &r
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
			if err := tx.ClearTimer(id, kindAutomation); err != nil {
				return err
			}
		}
		return tx.SetTimerStamp("")
	}); err != nil {
		t.Fatal(err)
	}
	return t0
}

// stopRearmAfter runs e's scheduler until the re-arming has written
// chunks writes, then stops it as SIGTERM does.
func stopRearmAfter(t *testing.T, e *Engine, chunks int) {
	t.Helper()
	if n := stopSchedulerAt(t, e, &rearmHook, chunks); n != chunks {
		t.Fatalf("the re-arming wrote %d chunks, want it stopped after %d", n, chunks)
	}
}

// stopSchedulerAt runs e's scheduler until *hook (rearmHook or
// fireHook: called after each write of a re-arming or a firing) has run
// at times, then ends its context as SIGTERM does and waits for
// RunScheduler to return. It returns how many times the hook ran in all.
func stopSchedulerAt(t *testing.T, e *Engine, hook *func(), at int) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	*hook = func() {
		n++
		if n == at {
			cancel()
			for !e.sched.stopping.Load() {
				time.Sleep(time.Millisecond)
			}
		}
	}
	defer func() { *hook = nil }()
	done := make(chan struct{})
	go func() { e.RunScheduler(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunScheduler did not return 30s after its context ended")
	}
	return n
}

// countRearm builds a new engine on h's store with cfg (a new process)
// and returns how many tickets its re-arming visited.
func countRearm(t *testing.T, h *harness, cfg *config.Config) (*Engine, int) {
	t.Helper()
	e, err := New(cfg, h.db, Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	rearmHook = func() { n++ }
	defer func() { rearmHook = nil }()
	if _, _, err := e.NextTimer(); err != nil {
		t.Fatal(err)
	}
	return e, n
}

// A re-arming of every ticket stopped by a shutdown keeps its progress
// in the store: the next start resumes after the last ticket it did,
// instead of starting again from the first (on a store of a million
// tickets that is minutes of work per restart). When it completes,
// every ticket is armed, the stamp is stored and the progress cleared.
func TestRearmResumesAfterARestart(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"48h\"\n")
	defer func(n int) { rearmChunk = n }(rearmChunk)
	rearmChunk = 1
	t0 := rearmStore(t, h, 5)
	h.e.sched.armedFor = nil // a new process
	h.e.sched.indexFor.Store(nil)
	stopRearmAfter(t, h.e, 2)
	for id := uint64(1); id <= 5; id++ {
		_, armed := h.timers(id)[kindAutomation]
		if armed != (id <= 2) {
			t.Errorf("after 2 chunks of 1 ticket, ticket %d armed: %v", id, armed)
		}
	}
	h.db.View(func(tx store.Tx) error {
		if s, done, _ := tx.RearmProgress(); s != timerStampOf(h.cfg) || done != 2 {
			t.Errorf("progress after the shutdown: %q up to ticket %d, want up to ticket 2", s, done)
		}
		return nil
	})
	_, visited := countRearm(t, h, h.cfg)
	if visited != 3 {
		t.Errorf("the restart re-armed %d tickets, want the 3 left", visited)
	}
	for id := uint64(1); id <= 5; id++ {
		if at := h.timers(id)[kindAutomation]; !at.Equal(t0.Add(48 * time.Hour)) {
			t.Errorf("ticket %d: auto-close armed at %s, want %s", id, at, t0.Add(48*time.Hour))
		}
	}
	h.db.View(func(tx store.Tx) error {
		if s, _ := tx.TimerStamp(); s != timerStampOf(h.cfg) {
			t.Errorf("stamp %q after the re-arming, want %q", s, timerStampOf(h.cfg))
		}
		if s, done, _ := tx.RearmProgress(); s != "" || done != 0 {
			t.Errorf("progress %q %d left after the re-arming completed", s, done)
		}
		return nil
	})
	// Built: the next start re-arms nothing.
	if _, visited := countRearm(t, h, h.cfg); visited != 0 {
		t.Errorf("a start on a built index re-armed %d tickets", visited)
	}
}

// The progress is only good for the settings it was made under: when a
// process with other settings stores a ticket meanwhile (armed under its
// own), the progress is dropped, and a start with the first settings
// re-arms from the first ticket again.
func TestRearmProgressDroppedByOtherSettings(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"48h\"\n")
	defer func(n int) { rearmChunk = n }(rearmChunk)
	rearmChunk = 1
	t0 := rearmStore(t, h, 4)
	h.e.sched.armedFor = nil
	h.e.sched.indexFor.Store(nil)
	stopRearmAfter(t, h.e, 3)
	// A process with auto_close_after 12h stores ticket 1 (resolving it
	// again) before its own re-arming starts.
	other := *h.cfg
	other.Tickets.AutoCloseAfter = config.Duration(12 * time.Hour)
	e2, err := New(&other, h.db, Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.update(func(tx store.Tx) error {
		a := &applier{e: e2, cfg: &other, tx: tx, now: t0}
		tk, err := a.ticket(1)
		if err != nil {
			return err
		}
		if err := a.save(tk); err != nil {
			return err
		}
		return a.flush()
	}); err != nil {
		t.Fatal(err)
	}
	if at := h.timers(1)[kindAutomation]; !at.Equal(t0.Add(12 * time.Hour)) {
		t.Fatalf("ticket 1 stored under 12h: auto-close at %s", at)
	}
	h.db.View(func(tx store.Tx) error {
		if s, done, _ := tx.RearmProgress(); s != "" {
			t.Errorf("progress %q up to %d kept after a write under other settings", s, done)
		}
		return nil
	})
	_, visited := countRearm(t, h, h.cfg)
	if visited != 4 {
		t.Errorf("the restart with the first settings re-armed %d tickets, want all 4", visited)
	}
	for id := uint64(1); id <= 4; id++ {
		if at := h.timers(id)[kindAutomation]; !at.Equal(t0.Add(48 * time.Hour)) {
			t.Errorf("ticket %d: auto-close armed at %s, want %s", id, at, t0.Add(48*time.Hour))
		}
	}
}
