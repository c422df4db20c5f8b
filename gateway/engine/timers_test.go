package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/model"
)

// A timer source for these tests only: it wants ticket N at
// testTimer.at[N], and its firing adds an event (or fails, leaving that
// event behind if the write were not one).
var testTimer struct {
	mu   sync.Mutex
	at   map[uint64]time.Time
	fail bool
}

func init() {
	registerTimer(timerSource{
		kind: "test",
		next: func(a *applier, tk *model.Ticket) (time.Time, bool) {
			testTimer.mu.Lock()
			defer testTimer.mu.Unlock()
			at, ok := testTimer.at[tk.ID]
			return at, ok
		},
		fire: func(a *applier, tk *model.Ticket, at time.Time) error {
			if err := a.event(tk, "test timer fired"); err != nil {
				return err
			}
			testTimer.mu.Lock()
			defer testTimer.mu.Unlock()
			if testTimer.fail {
				return errors.New("boom")
			}
			delete(testTimer.at, tk.ID)
			return a.save(tk)
		},
	})
}

func setTestTimer(id uint64, at time.Time, fail bool) {
	testTimer.mu.Lock()
	defer testTimer.mu.Unlock()
	if testTimer.at == nil {
		testTimer.at = map[uint64]time.Time{}
	}
	if at.IsZero() {
		delete(testTimer.at, id)
	} else {
		testTimer.at[id] = at
	}
	testTimer.fail = fail
}

var staffVerdict = func(in *inbound) { in.verdict = AuthVerdict{Checked: true, DMARC: "pass"} }

const vicFrom = "Victoria <victoria@certs.example>"

func (h *harness) timers(id uint64) map[string]time.Time {
	h.t.Helper()
	out := map[string]time.Time{}
	h.db.View(func(tx store.Tx) error {
		tms, err := tx.TimersOf(id)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, tm := range tms {
			out[tm.Kind] = tm.At
		}
		return nil
	})
	return out
}

func (h *harness) events(id uint64, substr string) int {
	h.t.Helper()
	n := 0
	h.db.View(func(tx store.Tx) error {
		cs, err := tx.Comments(id)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, c := range cs {
			if c.Kind == model.KindEvent && strings.Contains(c.Text, substr) {
				n++
			}
		}
		return nil
	})
	return n
}

func (h *harness) ticketStatus(id uint64) string {
	h.t.Helper()
	var st string
	h.db.View(func(tx store.Tx) error {
		tk, err := tx.Ticket(id)
		if err != nil {
			h.t.Fatal(err)
		}
		st = tk.Status
		return nil
	})
	return st
}

func (h *harness) mustApply(raw string, tweak func(*inbound)) {
	h.t.Helper()
	if _, err := h.apply(Envelope{MailFrom: "x@client.test", Rcpts: []string{"support@example.com"}}, raw, tweak); err != nil {
		h.t.Fatal(err)
	}
}

// Auto-close is armed in the write that resolves a ticket, disarmed by
// the one that reopens it, fires at its instant and not before, and the
// index is empty again after it fired.
func TestTimerArmedOnResolveClearedOnReopen(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"48h\"\n")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Please call me back."), nil)
	if tm := h.timers(1); len(tm) != 0 {
		t.Fatalf("an open ticket has timers %v", tm)
	}
	h.mustApply(mailFrom(vicFrom, "Re: Invoice", "#ticket 1\n#status resolved\nDone."), staffVerdict)
	if at := h.timers(1)[kindAutomation]; !at.Equal(t0.Add(48 * time.Hour)) {
		t.Fatalf("auto-close armed at %s, want %s", at, t0.Add(48*time.Hour))
	}
	if next, ok, err := h.e.NextTimer(); err != nil || !ok || !next.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("NextTimer = %s %v %v", next, ok, err)
	}
	h.setClock(t0.Add(time.Hour))
	h.mustApply(mailFrom(vicFrom, "Re: Invoice 2", "#ticket 1\n#status open\nNot done after all."), staffVerdict)
	if tm := h.timers(1); len(tm) != 0 {
		t.Fatalf("reopened, the ticket keeps timers %v", tm)
	}
	t1 := t0.Add(2 * time.Hour)
	h.setClock(t1)
	h.mustApply(mailFrom(vicFrom, "Re: Invoice 3", "#ticket 1\n#status resolved\nNow it is."), staffVerdict)
	h.setClock(t1.Add(48*time.Hour - time.Second))
	if n, err := h.e.RunTimers(); err != nil || n != 0 {
		t.Fatalf("a second before the deadline RunTimers fired %d (%v)", n, err)
	}
	h.setClock(t1.Add(48 * time.Hour))
	if n, err := h.e.RunTimers(); err != nil || n != 1 {
		t.Fatalf("at the deadline RunTimers fired %d (%v), want 1", n, err)
	}
	if st := h.ticketStatus(1); st != model.StatusClosed {
		t.Fatalf("status %s after auto-close", st)
	}
	if _, ok, _ := h.e.NextTimer(); ok {
		t.Error("a timer is still armed after the ticket closed")
	}
	if n, _ := h.e.RunTimers(); n != 0 {
		t.Errorf("RunTimers fired %d more", n)
	}
}

// Timers that fell due long ago (the daemon was down for a month) fire
// once each, not once per missed interval.
func TestTimersDueLongAgoFireOnce(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"24h\"\n")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	for _, s := range []string{"One", "Two"} {
		h.mustApply(mailFrom("Ken <ken@e-fun.example>", s, "Hello."), nil)
	}
	h.mustApply(mailFrom(vicFrom, "Re: One", "#ticket 1\n#status resolved\nDone."), staffVerdict)
	h.mustApply(mailFrom(vicFrom, "Re: Two", "#ticket 2\n#status resolved\nDone."), staffVerdict)
	h.setClock(t0.Add(30 * 24 * time.Hour))
	if n, err := h.e.RunTimers(); err != nil || n != 2 {
		t.Fatalf("after 30 days RunTimers fired %d (%v), want 2", n, err)
	}
	for id := uint64(1); id <= 2; id++ {
		if n := h.events(id, "automatically"); n != 1 || h.ticketStatus(id) != model.StatusClosed {
			t.Errorf("ticket %d: %d close events, status %s", id, n, h.ticketStatus(id))
		}
	}
}

// A store written before the timer index existed (or by a binary with
// other sources or settings) is re-armed once, from the tickets: an
// upgraded store's resolved tickets still close. A reload that changes
// auto_close_after re-arms every resolved ticket at the new instant.
func TestTimerIndexBackfilledAndRearmedOnSettings(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"48h\"\n")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	if _, err := h.e.RunTimers(); err != nil { // the index is built for these settings
		t.Fatal(err)
	}
	// As an older binary would have left it: resolved, no timer, no stamp.
	h.db.Update(func(tx store.Tx) error {
		tk, _ := tx.Ticket(1)
		tk.Status = model.StatusResolved
		r := t0
		tk.ResolvedAt = &r
		if err := tx.PutTicket(tk); err != nil {
			return err
		}
		return tx.SetTimerStamp("")
	})
	h.e.sched.armedFor = nil // a new process
	if next, ok, err := h.e.NextTimer(); err != nil || !ok || !next.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("after the upgrade NextTimer = %s %v %v, want %s", next, ok, err, t0.Add(48*time.Hour))
	}
	cfg := *h.cfg
	cfg.Tickets.AutoCloseAfter = config.Duration(12 * time.Hour)
	h.e.SetConfig(&cfg)
	if next, ok, err := h.e.NextTimer(); err != nil || !ok || !next.Equal(t0.Add(12*time.Hour)) {
		t.Fatalf("after the reload NextTimer = %s %v %v, want %s", next, ok, err, t0.Add(12*time.Hour))
	}
}

// A firing and its effects are one write: a firing that fails leaves no
// effect behind and its timer is tried again a minute later; when it
// then succeeds, it fires once.
func TestTimerFiringIsOneWrite(t *testing.T) {
	h := newHarness(t, "")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	setTestTimer(1, t0.Add(time.Hour), true)
	defer setTestTimer(1, time.Time{}, false)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	if at := h.timers(1)["test"]; !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("test timer armed at %s", at)
	}
	h.setClock(t0.Add(time.Hour))
	if n, err := h.e.RunTimers(); err != nil || n != 0 {
		t.Fatalf("a failing firing: RunTimers = %d, %v", n, err)
	}
	if n := h.events(1, "test timer fired"); n != 0 {
		t.Fatalf("a failed firing left %d events", n)
	}
	if at := h.timers(1)["test"]; !at.Equal(t0.Add(time.Hour + timerRetry)) {
		t.Fatalf("a failed timer was re-armed at %s, want a retry at %s", at, t0.Add(time.Hour+timerRetry))
	}
	setTestTimer(1, t0.Add(time.Hour), false)
	h.setClock(t0.Add(time.Hour + timerRetry))
	if n, err := h.e.RunTimers(); err != nil || n != 1 {
		t.Fatalf("the retry fired %d (%v)", n, err)
	}
	if n, _ := h.e.RunTimers(); n != 0 {
		t.Fatalf("fired again: %d", n)
	}
	if n := h.events(1, "test timer fired"); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
	if tm := h.timers(1); len(tm) != 0 {
		t.Errorf("timers left: %v", tm)
	}
}

// The scheduler loop sleeps until the next timer and is woken by the
// write that arms an earlier one: the timer fires within moments of its
// instant, not at the next poll (a minute).
func TestSchedulerWokenByAnEarlierTimer(t *testing.T) {
	h := newHarness(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.e.RunScheduler(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// The loop has looked at the empty index and sleeps (nothing armed):
	// its first look ran the re-arming, which stores the timer stamp.
	// Polled, however loaded the machine, instead of a fixed sleep.
	waitFor(t, 20*time.Second, "the scheduler loop to look at the index", func() bool {
		var stamp string
		h.db.View(func(tx store.Tx) error { stamp, _ = tx.TimerStamp(); return nil })
		return stamp != ""
	})
	at := time.Now().Add(300 * time.Millisecond)
	setTestTimer(1, at, false)
	defer setTestTimer(1, time.Time{}, false)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	// Without the wake the timer would fire at the next poll, a minute
	// (schedulerPoll) after the loop went to sleep: anything well under
	// that, however loaded the machine, proves the wake.
	waitFor(t, schedulerPoll/2, fmt.Sprintf("the timer due at %s to fire (woken, not polled)", at.Format(time.StampMilli)), func() bool {
		return h.events(1, "test timer fired") > 0
	})
}

// waitFor polls cond until it holds, failing the test after limit:
// generous deadlines instead of fixed sleeps, so a loaded machine only
// makes a test slower, never wrong.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A firing write makes way for mail: while a mail write waits for the
// store's writer, one write fires no more than timerYield timers (the
// rest stay due and fire in the next writes), so a mail's commit is not
// stuck behind a storm of firings; without mail waiting, a write fires
// up to timerBatch within timerBudget. Every due timer still fires once.
func TestFiringWritesMakeWayForMail(t *testing.T) {
	h := newHarness(t, "")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	const n = 12
	for i := 1; i <= n; i++ {
		h.mustApply(mailFrom("Ken <ken@e-fun.example>", fmt.Sprintf("Request %d", i), "Hello."), nil)
		setTestTimer(uint64(i), t0.Add(time.Minute), false)
	}
	t.Cleanup(func() {
		for i := 1; i <= n; i++ {
			setTestTimer(uint64(i), time.Time{}, false)
		}
	})
	// Arm them (a write re-arms what it stores; here the settings'
	// re-arming of every ticket does).
	if _, err := h.e.RunTimers(); err != nil {
		t.Fatal(err)
	}
	h.setClock(t0.Add(time.Minute))
	var due []model.Timer
	h.db.View(func(tx store.Tx) error {
		due, _ = tx.DueTimers(h.now(), timerBatch)
		return nil
	})
	if len(due) != n {
		t.Fatalf("%d timers due, want %d", len(due), n)
	}
	h.e.sched.mailWrites.Add(1) // a mail write waits
	done, fired, err := h.e.fireTimers(due, h.now())
	h.e.sched.mailWrites.Add(-1)
	if err != nil || done != timerYield || fired != timerYield {
		t.Fatalf("with a mail waiting one write looked at %d, fired %d (%v), want %d", done, fired, err, timerYield)
	}
	if got, err := h.e.RunTimers(); err != nil || got != n-timerYield {
		t.Fatalf("the rest: RunTimers fired %d (%v), want %d", got, err, n-timerYield)
	}
	for i := uint64(1); i <= n; i++ {
		if c := h.events(i, "test timer fired"); c != 1 {
			t.Errorf("ticket %d: fired %d times", i, c)
		}
	}
}

// A re-arming of every ticket (new timer settings, or a binary whose
// stamp differs) stops between its writes when the scheduler's context
// ends: on a store of a million tickets it takes minutes, and SIGTERM
// must not wait for it (the daemon waits for the scheduler before
// closing the store). The stamp stays the old one, so the next start
// re-arms again.
func TestRearmStopsWhenTheSchedulerStops(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"48h\"\n")
	h.setClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	for i := 0; i < 3; i++ {
		h.mustApply(mailFrom(fmt.Sprintf("Ken <ken%d@e-fun.example>", i), "Invoice", "Hello."), nil)
	}
	if _, err := h.e.RunTimers(); err != nil {
		t.Fatal(err)
	}
	if err := h.db.Update(func(tx store.Tx) error { return tx.SetTimerStamp("") }); err != nil {
		t.Fatal(err)
	}
	h.e.sched.armedFor = nil // a new process
	defer func(n int) { rearmChunk = n }(rearmChunk)
	rearmChunk = 1
	// The shutdown arrives during the re-arming.
	chunks := stopSchedulerAt(t, h.e, &rearmHook, 1)
	if chunks != 1 {
		t.Errorf("the re-arming wrote %d chunks of 1 ticket after the context ended at the first, want it to stop there", chunks)
	}
	var stamp string
	h.db.View(func(tx store.Tx) error { stamp, _ = tx.TimerStamp(); return nil })
	if stamp != "" {
		t.Errorf("timer stamp %q stored by a re-arming that was stopped", stamp)
	}
}

// A shutdown while many timers are due (a large store started after
// days down: thousands of auto-closes) stops the firing between writes,
// as it stops a re-arming; the rest stay armed and fire at the next
// start. On the 1M-ticket reports bench store, SIGTERM took 127 s.
func TestFiringStopsWhenTheSchedulerStops(t *testing.T) {
	h := newHarness(t, "[tickets]\nauto_close_after = \"24h\"\n")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	for i := 1; i <= 3; i++ {
		h.mustApply(mailFrom(fmt.Sprintf("Ken <ken%d@e-fun.example>", i), "Invoice", "Hello."), nil)
		h.mustApply(mailFrom(vicFrom, "Re: Invoice", fmt.Sprintf("#ticket %d\n#status resolved\nDone.", i)), staffVerdict)
	}
	if _, err := h.e.RunTimers(); err != nil { // armed for these settings
		t.Fatal(err)
	}
	h.setClock(t0.Add(30 * 24 * time.Hour))
	defer func(n int) { timerBatch = n }(timerBatch)
	timerBatch = 1
	// The shutdown arrives after the first firing write.
	writes := stopSchedulerAt(t, h.e, &fireHook, 1)
	if writes != 1 {
		t.Errorf("the scheduler made %d firing writes of 1 timer after its context ended at the first, want it to stop there", writes)
	}
	closed := 0
	for id := uint64(1); id <= 3; id++ {
		if h.ticketStatus(id) == model.StatusClosed {
			closed++
		}
	}
	if closed != 1 {
		t.Errorf("%d tickets closed, want the first write's 1 (the others wait for the next start)", closed)
	}
	// The next scheduler (a restart, or the lead taken again) fires the
	// rest.
	fireHook = nil
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { h.e.RunScheduler(ctx2); close(done2) }()
	deadline := time.Now().Add(30 * time.Second)
	for h.ticketStatus(2) != model.StatusClosed || h.ticketStatus(3) != model.StatusClosed {
		if time.Now().After(deadline) {
			t.Fatal("a scheduler started after a stopped one did not fire the remaining timers")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel2()
	<-done2
}
