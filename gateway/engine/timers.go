package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/testhook"
)

// The scheduler (issue 14 item 6). Everything that happens to a ticket
// at an instant of the ticket clock (auto-close, automations, SLA
// warnings and breaches, the survey delay) is a timer source: it says,
// from the ticket alone, when it next wants to look at the ticket (next),
// and what it does then (fire). The store keeps one timer per ticket and
// source kind in a due-time index (store.Timers); nothing scans tickets.
//
//   - Arming: every ticket a write stores (applier.flush) is re-armed for
//     every source in the same write, so the index never disagrees with
//     the tickets. Only a changed instant is written.
//   - Firing: RunTimers takes the timers due at the clock's instant, in
//     due order, and fires them in store writes of up to timerBatch
//     timers: each firing, its effects (comments, mail, the triggers'
//     pass) and the re-arming of its ticket commit together, so a crash
//     cannot fire one twice or lose it. A timer that fell due while the
//     daemon was down is one index entry and fires once, at start.
//   - Sharing the writer with mail: the store has one writer, and a
//     mail's 250 waits for the commit its write is in. So firing never
//     holds it long: a firing write stops after timerBudget of work, and
//     after timerYield firings when a mail write is waiting; before the
//     next firing write, the scheduler lets the mail writes under way
//     commit first (at most ingestFirst). 10,000 timers due in the same
//     minute then go out as a stream of small writes between the mails,
//     instead of writes of 200 firings that each hold up every mail
//     behind them (bench -mode timers measures both sides).
//   - Waiting: RunScheduler sleeps until the next timer, or until a write
//     arms an earlier one (it is woken after that write commits), so a
//     timer fires within moments of its instant.
//   - Settings: the index is built for a stamp (the sources' kinds and
//     the settings their next reads). When the stamp changes (a new
//     binary with a new source, an upgraded store, a reload that changes
//     auto_close_after), every ticket is re-armed once, in the
//     background of the scheduler, in writes of rearmChunk tickets that
//     record their progress: a restart resumes where it stopped.
//
// Adding a source is one call, from an init function of its own file:
//
//	func init() {
//		registerTimer(timerSource{kind: "sla", stamp: ..., next: ..., fire: ...})
//	}

// timerSource is one kind of timer.
type timerSource struct {
	// kind names the source in the index (unique; "auto-close").
	kind string
	// stamp describes the settings next depends on: when it changes,
	// every ticket is re-armed. nil: next depends on the ticket alone.
	stamp func(cfg *config.Config) string
	// next is the instant at which the source next wants to fire for tk
	// as it stands (ok false: never, unless the ticket changes). It reads
	// a.cfg, not the engine's current configuration, and must be cheap:
	// it runs for every ticket every write stores. An instant at or
	// before a.now fires at once.
	next func(a *applier, tk *model.Ticket) (at time.Time, ok bool)
	// fire does what is due for tk at a.now (the timer was armed for
	// at, at or before a.now). It runs inside the store write and changes
	// tk through a (a.save, a.event, ...); it must look at the ticket
	// again rather than trust that the timer still applies. Afterwards
	// the ticket is re-armed from next, which must then be later than
	// a.now (a source that keeps answering a.now is disarmed, logged).
	fire func(a *applier, tk *model.Ticket, at time.Time) error
}

var timerSources []timerSource

// registerTimer adds a timer source (from an init function).
func registerTimer(s timerSource) {
	if s.kind == "" || s.next == nil || s.fire == nil {
		panic("engine: a timer source needs kind, next and fire")
	}
	for _, o := range timerSources {
		if o.kind == s.kind {
			panic("engine: timer kind " + s.kind + " registered twice")
		}
	}
	timerSources = append(timerSources, s)
	sort.Slice(timerSources, func(i, j int) bool { return timerSources[i].kind < timerSources[j].kind })
}

func timerSourceOf(kind string) *timerSource {
	for i := range timerSources {
		if timerSources[i].kind == kind {
			return &timerSources[i]
		}
	}
	return nil
}

// timerBatch is how many due timers one store write fires at most (a
// variable for tests); fireHook, when set, is called after each firing
// write of RunTimers (tests).
var (
	timerBatch = 200
	fireHook   func()
)

const (
	// timerBudget bounds the work of one firing write (its firings; the
	// triggers' pass and re-arming of what it fired follow): a mail whose
	// write queues behind it waits about this much longer.
	timerBudget = 4 * time.Millisecond
	// timerYield is how many timers a firing write fires at most while a
	// mail write is waiting for the writer.
	timerYield = 4
	// ingestFirst bounds how long the scheduler lets mail writes under
	// way commit before its next firing write (timers must not starve
	// under steady mail: they stay within seconds of their instant).
	ingestFirst = 20 * time.Millisecond
	// timerRetry is how long a timer whose firing failed waits.
	timerRetry = time.Minute
	// schedulerPoll bounds the scheduler's sleep: it looks at the
	// configuration and the index at least this often.
	schedulerPoll = time.Minute
)

// rearmChunk is how many tickets one write of a re-arming visits (a
// variable for tests); rearmHook, when set, is called after each such
// write (tests).
var (
	rearmChunk = 500
	rearmHook  func()
)

// errStopping ends a re-arming when the scheduler's context ended.
var errStopping = errors.New("the scheduler is stopping")

// timerStampOf is the index stamp for cfg.
func timerStampOf(cfg *config.Config) string {
	var b strings.Builder
	b.WriteString("timers/1")
	for _, s := range timerSources {
		b.WriteString(";" + s.kind)
		if s.stamp != nil {
			b.WriteString("=" + s.stamp(cfg))
		}
	}
	return b.String()
}

// cfgStamp is a configuration's timer stamp.
type cfgStamp struct {
	cfg   *config.Config
	stamp string
}

// stampOf is timerStampOf(cfg), computed once per configuration.
func (s *scheduler) stampOf(cfg *config.Config) string {
	if c := s.stamp.Load(); c != nil && c.cfg == cfg {
		return c.stamp
	}
	st := timerStampOf(cfg)
	s.stamp.Store(&cfgStamp{cfg, st})
	return st
}

// scheduler is the engine's scheduler state.
type scheduler struct {
	// runMu serialises RunTimers (the scheduler loop and the manual
	// clock's steps).
	runMu sync.Mutex
	// armMu guards armedFor: the configuration the index is known to
	// be built for.
	armMu    sync.Mutex
	armedFor *config.Config
	// indexFor is the configuration the index is known to be built for
	// (read by every write, without armMu, which a re-arming holds
	// across its writes); stamp caches timerStampOf of one configuration.
	indexFor atomic.Pointer[config.Config]
	stamp    atomic.Pointer[cfgStamp]

	wake chan struct{}
	// sleepUntil is the instant (unix nanos) the loop sleeps until
	// (MaxInt64 while it looks at the index, and before it first runs:
	// any write that arms a timer then wakes it again); wakeDue is
	// set by a write that armed an earlier timer, and makes the write's
	// caller wake the loop once the write committed (updateHinted).
	sleepUntil atomic.Int64
	wakeDue    atomic.Bool
	// stopping is set when RunScheduler's context ends: a re-arming
	// of every ticket stops between its writes (SIGTERM must not wait
	// for minutes of re-arming; the stamp is not stored, and the next
	// start resumes after the last ticket done).
	stopping atomic.Bool
	// mailWrites counts the mail writes (Inject) waiting for or in the
	// store writer: firing writes make way for them.
	mailWrites atomic.Int32

	// Fired counts fired timers, Late their total lateness (ns) and
	// Failed the firings that failed (retried after timerRetry); Looks
	// counts the loop's looks at the index (bench -mode timers: how
	// often ingest wakes it).
	Fired, LateNanos, Failed, Looks atomic.Int64
	// Observe, when set, is told each firing's kind and lateness (the
	// timer's instant to the clock's when it fired): bench -mode timers.
	Observe func(kind string, late time.Duration)
}

func (s *scheduler) init() {
	s.wake = make(chan struct{}, 1)
	// Until the loop has looked at the index, every write that arms a
	// timer leaves a wake in the channel: one that committed after the
	// loop's first look would otherwise wait for its poll.
	s.sleepUntil.Store(math.MaxInt64)
}

// update is db.Update for the engine's writes: once the write has
// committed, the scheduler is woken if it armed a timer earlier than the
// one the scheduler sleeps until.
func (e *Engine) update(fn func(store.Tx) error) error { return e.updateHinted(nil, fn) }

// updateHinted is update with store hints (when the engine takes them).
//
// The wake is this write's own: the store's writer runs the functions of
// its writes one at a time, so the flag taken right after fn ran is the
// one fn (or a write without this wrapper before it) set. Taking it only
// after the commit let another write's caller, returning late from an
// earlier commit, take it and wake the loop before this write was
// visible: the loop read the index without the new timer and slept
// until its next poll, a minute (TestSchedulerWokenByAnEarlierTimer
// under load).
func (e *Engine) updateHinted(h *store.Hints, fn func(store.Tx) error) error {
	var wake bool
	body := func(tx store.Tx) error {
		err := fn(tx)
		if e.sched.wakeDue.Swap(false) {
			wake = true
		}
		return err
	}
	var err error
	if hs, ok := e.db.(store.Hinted); ok && h != nil {
		err = hs.UpdateHinted(h, body)
	} else {
		err = e.db.Update(body)
	}
	if wake {
		e.WakeTimers()
	}
	return err
}

// WakeTimers makes the scheduler look at the index and the
// configuration again (after a reload).
func (e *Engine) WakeTimers() {
	select {
	case e.sched.wake <- struct{}{}:
	default:
	}
}

// timerKey names a timer of this write's firing.
type timerKey struct {
	ticket uint64
	kind   string
}

// touch marks a ticket for re-arming at the end of the write, even when
// it is not saved (a timer that found nothing to do).
func (a *applier) touch(tk *model.Ticket) {
	if a.touched == nil {
		a.touched = map[uint64]bool{}
	}
	a.touched[tk.ID] = true
}

// armAll re-arms every ticket this write stored or touched.
func (a *applier) armAll() error {
	if len(timerSources) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(a.dirty)+len(a.touched))
	for id := range a.dirty {
		ids = append(ids, id)
	}
	for id := range a.touched {
		if !a.dirty[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		if err := a.checkRearm(); err != nil {
			return fmt.Errorf("checking the re-arming's progress: %w", err)
		}
	}
	for _, id := range ids {
		if err := a.arm(a.tickets[id]); err != nil {
			return fmt.Errorf("arming the timers of ticket %d: %w", id, err)
		}
	}
	return nil
}

// arm sets the ticket's timer of every source to the instant the source
// asks for, writing only what changed. Clears go first and sets in due
// order, so a store that indexes a ticket by its earliest instant
// (bbolt) writes that key once, rather than once per timer.
func (a *applier) arm(tk *model.Ticket) error {
	var have []model.Timer
	if !a.created[tk.ID] {
		var err error
		if have, err = a.tx.TimersOf(tk.ID); err != nil {
			return err
		}
	}
	var set [4]model.Timer
	sets := set[:0]
	for i := range timerSources {
		s := &timerSources[i]
		var at time.Time
		ok := false
		if tk.MergedInto == 0 {
			at, ok = s.next(a, tk)
		}
		if ok && a.firing[timerKey{tk.ID, s.kind}] && !at.After(a.now) {
			// Fired in this write and due again at once: that would
			// never end. A source's bug; say so rather than spin.
			a.e.log.Error("timer source asks to fire again at once; disarmed", "kind", s.kind, "ticket", tk.ID, "at", at)
			ok = false
		}
		j := slices.IndexFunc(have, func(t model.Timer) bool { return t.Kind == s.kind })
		switch {
		case !ok && j >= 0:
			if err := a.tx.ClearTimer(tk.ID, s.kind); err != nil {
				return err
			}
		case ok && (j < 0 || !have[j].At.Equal(at)):
			sets = append(sets, model.Timer{Ticket: tk.ID, Kind: s.kind, At: at})
		}
	}
	if len(sets) > 1 {
		slices.SortStableFunc(sets, func(x, y model.Timer) int { return x.At.Compare(y.At) })
	}
	for _, tm := range sets {
		if err := a.tx.SetTimer(tm); err != nil {
			return err
		}
		// Wake the loop for a timer before the one it sleeps until,
		// and for one due at once: on a manual clock, which `helpdesk
		// clock` moves past the instant the loop went to sleep for,
		// that instant is no bound.
		if tm.At.UnixNano() < a.e.sched.sleepUntil.Load() || !tm.At.After(a.now) {
			a.e.sched.wakeDue.Store(true)
		}
	}
	return nil
}

// ensureArmed makes sure the index is built for the current
// configuration's stamp: if not, every ticket is re-armed first, oldest
// first, in writes of rearmChunk tickets. Each of those writes also
// records how far the re-arming got (store RearmProgress), so a restart
// (or SIGTERM) in the middle of a store of a million tickets resumes
// after the last ticket done instead of starting again from the first.
// The record names the stamp it is for: a write that arms tickets under
// other settings meanwhile clears it (checkRearm), and a re-arming that
// finds its record gone starts again for the settings now in force.
func (e *Engine) ensureArmed() error {
	e.sched.armMu.Lock()
	defer e.sched.armMu.Unlock()
	for {
		cfg := e.Config()
		if e.sched.armedFor == cfg {
			return nil
		}
		again, err := e.rearm(cfg)
		if err != nil {
			return err
		}
		if !again {
			e.sched.armedFor = cfg
			e.sched.indexFor.Store(cfg)
			return nil
		}
	}
}

// rearm re-arms every ticket for cfg unless the index is built for it
// (resuming a re-arming for the same settings where it stopped). again
// is true when a write under other settings interrupted it (a reload):
// the caller starts over with the settings now in force.
func (e *Engine) rearm(cfg *config.Config) (again bool, err error) {
	want := e.sched.stampOf(cfg)
	var have, resumeFor string
	var resumeAfter uint64
	var ids []uint64
	if err := e.db.View(func(tx store.Tx) error {
		var err error
		if have, err = tx.TimerStamp(); err != nil || have == want {
			return err
		}
		if resumeFor, resumeAfter, err = tx.RearmProgress(); err != nil {
			return err
		}
		ids = tx.TicketIDs("", 0)
		return nil
	}); err != nil {
		return false, fmt.Errorf("reading the timer stamp: %w", err)
	}
	if have == want {
		return false, nil
	}
	if e.sched.stopping.Load() {
		return false, errStopping
	}
	start := time.Now()
	slices.Reverse(ids) // oldest first
	if resumeFor == want {
		// Every ticket up to resumeAfter was re-armed for these settings,
		// and every write since armed what it stored under them.
		n, _ := slices.BinarySearch(ids, resumeAfter+1)
		e.log.Info("resuming the re-arming of the timers where it stopped", "after_ticket", resumeAfter, "done", n, "left", len(ids)-n)
		ids = ids[n:]
	} else if err := e.update(func(tx store.Tx) error { return tx.SetRearmProgress(want, 0) }); err != nil {
		return false, fmt.Errorf("starting to re-arm the timers: %w", err)
	}
	// ours reports whether the progress record is still this
	// re-arming's (a write under other settings clears it).
	ours := func(tx store.Tx) (bool, error) {
		s, _, err := tx.RearmProgress()
		return s == want, err
	}
	for len(ids) > 0 {
		if e.sched.stopping.Load() {
			e.log.Info("re-arming the timers stopped by the shutdown; the next start resumes it", "left", len(ids))
			return false, errStopping
		}
		size := rearmChunk
		if cfg.Testing.RearmChunk > 0 {
			size = cfg.Testing.RearmChunk
		}
		chunk := ids[:min(size, len(ids))]
		// As firing: small writes that make way for mail.
		e.letMailFirst()
		n := 0
		if err := e.update(func(tx store.Tx) error {
			n = 0
			if ok, err := ours(tx); err != nil || !ok {
				again = true
				return err
			}
			a := &applier{e: e, cfg: cfg, tx: tx, now: tx.Now()}
			start := time.Now()
			for _, id := range chunk {
				if n > 0 && time.Since(start) >= timerBudget && e.sched.mailWrites.Load() > 0 {
					break
				}
				tk, err := tx.Ticket(id)
				if err != nil {
					return err
				}
				if err := a.arm(tk); err != nil {
					return fmt.Errorf("ticket %d: %w", id, err)
				}
				n++
			}
			return tx.SetRearmProgress(want, chunk[n-1])
		}); err != nil {
			return false, fmt.Errorf("re-arming the timers: %w", err)
		}
		if again {
			e.log.Info("re-arming the timers: the settings changed meanwhile; starting again", "left", len(ids))
			return true, nil
		}
		ids = ids[n:]
		if rearmHook != nil {
			rearmHook()
		}
		// Outside-in tests kill the daemon here: the write committed,
		// the next not begun.
		testhook.Hold("timers-rearm")
	}
	if err := e.update(func(tx store.Tx) error {
		if ok, err := ours(tx); err != nil || !ok {
			again = true
			return err
		}
		if err := tx.SetRearmProgress("", 0); err != nil {
			return err
		}
		return tx.SetTimerStamp(want)
	}); err != nil {
		return false, fmt.Errorf("storing the timer stamp: %w", err)
	}
	if again {
		e.log.Info("re-arming the timers: the settings changed meanwhile; starting again")
		return true, nil
	}
	e.log.Info("timers re-armed for the current settings", "was", have, "now", want, "took", time.Since(start).Round(time.Millisecond))
	return false, nil
}

// checkRearm clears the progress record of a re-arming for other
// settings than the write's, before the write arms tickets under its
// own: those tickets would otherwise count as done when the re-arming
// resumes. Only read while the index is not known to be built for the
// write's settings (at start, after a reload, during a re-arming).
func (a *applier) checkRearm() error {
	if a.e.sched.indexFor.Load() == a.cfg {
		return nil
	}
	s, _, err := a.tx.RearmProgress()
	if err != nil || s == "" || s == a.e.sched.stampOf(a.cfg) {
		return err
	}
	return a.tx.SetRearmProgress("", 0)
}

// NextTimer returns the earliest instant of the ticket clock at which a
// timer is armed; ok is false when none is. A manual clock steps to each
// such instant in turn (gateway/clock), so effects carry the instant
// they fell due.
func (e *Engine) NextTimer() (at time.Time, ok bool, err error) {
	if err := e.ensureArmed(); err != nil {
		return time.Time{}, false, err
	}
	err = e.db.View(func(tx store.Tx) error {
		at, ok, err = tx.NextTimerAt()
		return err
	})
	return at, ok, err
}

// RunTimers fires every timer due at the ticket clock's instant, in due
// order, and returns how many it fired. A timer whose firing fails is
// logged and tried again timerRetry later.
func (e *Engine) RunTimers() (int, error) { return e.runTimers(func() bool { return false }) }

// runTimers is RunTimers that stops between firing writes once stop
// says so (the scheduler's context ended): a shutdown must not wait for
// thousands of due timers; those left stay armed and fire at the next
// start.
func (e *Engine) runTimers(stop func() bool) (int, error) {
	e.sched.runMu.Lock()
	defer e.sched.runMu.Unlock()
	if err := e.ensureArmed(); err != nil {
		return 0, err
	}
	now := e.now()
	total := 0
	for {
		if stop() {
			return total, nil
		}
		var due []model.Timer
		if err := e.db.View(func(tx store.Tx) error {
			var err error
			due, err = tx.DueTimers(now, timerBatch)
			return err
		}); err != nil {
			return total, fmt.Errorf("reading the due timers: %w", err)
		}
		if len(due) == 0 {
			return total, nil
		}
		e.letMailFirst()
		_, n, err := e.fireTimers(due, now)
		if err != nil {
			// One firing's error rolls back its whole batch: fire them
			// one per write, so only the failing one waits.
			n = 0
			for _, tm := range due {
				e.letMailFirst()
				_, k, err := e.fireTimers([]model.Timer{tm}, now)
				n += k
				if err == nil {
					continue
				}
				e.sched.Failed.Add(1)
				e.log.Error("timer failed; trying again later", "kind", tm.Kind, "ticket", tm.Ticket, "at", tm.At, "retry", timerRetry, "err", err)
				if err := e.update(func(tx store.Tx) error {
					return tx.SetTimer(model.Timer{Ticket: tm.Ticket, Kind: tm.Kind, At: now.Add(timerRetry)})
				}); err != nil {
					return total + n, fmt.Errorf("postponing a failed timer: %w", err)
				}
			}
		}
		total += n
		if fireHook != nil {
			fireHook()
		}
	}
}

// letMailFirst waits, at most ingestFirst, until no mail write is
// waiting for the store writer, so that a firing write queues behind the
// mail under way rather than ahead of it.
func (e *Engine) letMailFirst() {
	if e.sched.mailWrites.Load() == 0 {
		return
	}
	deadline := time.Now().Add(ingestFirst)
	for e.sched.mailWrites.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(250 * time.Microsecond)
	}
}

// fireTimers fires due timers, in order, in one store write: at least
// one, and no more than timerBudget of work allows (timerYield while a
// mail write waits); the rest stay due for the next write. It returns
// how many it looked at and how many of those fired (the others had been
// re-armed or fired since they were read).
func (e *Engine) fireTimers(due []model.Timer, now time.Time) (done, fired int, err error) {
	cfg := e.Config()
	type firing struct {
		kind string
		at   time.Time
	}
	var queued int
	var late []firing
	err = e.update(func(tx store.Tx) error {
		done, fired, late = 0, 0, late[:0]
		// The write's instant: the clock's when it runs (never before
		// the instant the due timers were read at).
		at := e.now()
		if at.Before(now) {
			at = now
		}
		a := &applier{e: e, cfg: cfg, tx: tx, now: at, firing: map[timerKey]bool{}}
		defer func() { queued = a.enqueued }()
		start := time.Now()
		for i, tm := range due {
			if i > 0 && (time.Since(start) >= timerBudget || i >= timerYield && e.sched.mailWrites.Load() > 0) {
				break
			}
			done++
			have, err := tx.TimersOf(tm.Ticket)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(have, func(h model.Timer) bool { return h.Kind == tm.Kind && h.At.Equal(tm.At) }) {
				continue // re-armed or fired since it was read
			}
			src := timerSourceOf(tm.Kind)
			tk, err := a.ticket(tm.Ticket)
			if src == nil || errors.Is(err, store.ErrNotFound) {
				// A kind no source claims now, or a ticket that is
				// gone: nothing will ever fire it.
				if err := tx.ClearTimer(tm.Ticket, tm.Kind); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			a.firing[timerKey{tk.ID, tm.Kind}] = true
			if err := src.fire(a, tk, tm.At); err != nil {
				return fmt.Errorf("firing %s for ticket %d: %w", tm.Kind, tk.ID, err)
			}
			a.touch(tk) // re-armed from next even if fire did not save it
			fired++
			late = append(late, firing{tm.Kind, tm.At})
		}
		return a.finish()
	})
	if err != nil {
		return 0, 0, err
	}
	if queued > 0 && e.Wake != nil {
		e.Wake() // mail was queued
	}
	// Lateness is the timer's instant to its effects' commit.
	committed := e.now()
	e.sched.Fired.Add(int64(fired))
	for _, f := range late {
		d := committed.Sub(f.at)
		e.sched.LateNanos.Add(int64(d))
		if e.sched.Observe != nil {
			e.sched.Observe(f.kind, d)
		}
	}
	return done, fired, nil
}

// SchedulerStats are the scheduler's counters (/metrics).
func (e *Engine) SchedulerStats() (fired, failed int64, late time.Duration) {
	return e.sched.Fired.Load(), e.sched.Failed.Load(), time.Duration(e.sched.LateNanos.Load())
}

// SchedulerLooks is how many times the scheduler loop has looked at the
// index (bench -mode timers).
func (e *Engine) SchedulerLooks() int64 { return e.sched.Looks.Load() }

// ObserveTimers sets a function told each firing's kind and lateness.
func (e *Engine) ObserveTimers(f func(kind string, late time.Duration)) { e.sched.Observe = f }

// RunScheduler fires timers as they fall due until ctx ends: it sleeps
// until the next armed instant (at most schedulerPoll), and wakes early
// when a write arms an earlier one or WakeTimers is called. On a manual
// clock the instants are the manual clock's, which `helpdesk clock`
// moves (running the timers itself); the loop still fires what a write
// arms at or before the clock's instant.
func (e *Engine) RunScheduler(ctx context.Context) {
	// A scheduler started again (the lead taken again on a shared
	// database) re-arms and fires: the last one's stop is over.
	e.sched.stopping.Store(false)
	defer context.AfterFunc(ctx, func() { e.sched.stopping.Store(true) })()
	for {
		// Until the next instant is known, any write that arms a timer
		// wakes the loop again (it may arm one before that instant, and
		// commit after NextTimer read the index).
		e.sched.sleepUntil.Store(math.MaxInt64)
		e.sched.Looks.Add(1)
		if _, err := e.runTimers(e.sched.stopping.Load); err != nil && ctx.Err() == nil {
			e.log.Error("running timers", "err", err)
		}
		wait := schedulerPoll
		next, ok, err := e.NextTimer()
		switch {
		case err != nil:
			if ctx.Err() == nil {
				e.log.Error("finding the next timer", "err", err)
			}
			e.sched.sleepUntil.Store(math.MaxInt64)
		case ok:
			e.sched.sleepUntil.Store(next.UnixNano())
			if d := next.Sub(e.now()); d < wait {
				wait = max(d, 0)
			}
		default:
			e.sched.sleepUntil.Store(math.MaxInt64)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.sched.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
