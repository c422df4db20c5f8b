// Package sla computes a ticket's service-level targets (SPEC 7, issue 14
// items 2-4) from its history, its [[sla]] policy and a business
// calendar. It is pure: the engine passes the ticket and the instant, and
// gets back every target with its deadline, what is left of it, whether
// it is paused, met or breached, and the notices (warning, breach) that
// are still to be sent and when.
//
// Everything is recomputed from instants kept on the ticket (created,
// responses, the first customer comment after the last response, the
// status log), so a change of priority, tags, policy or calendar (SIGHUP)
// recomputes every running target from its original start. Only a breach
// is state: once recorded on the ticket (model.SLAMark) it stays, whatever
// the target says later.
//
// Targets:
//
//   - first-reply: creation to the first response; never pauses. None
//     for tickets an agent opened (model.Ticket.OnBehalf).
//   - next-reply: from the first customer comment after a response to the
//     next response.
//   - periodic-update: from the last response, a response at least every
//     N while the ticket is unresolved.
//   - resolution: the time the ticket spends unresolved, summed over
//     reopenings.
//
// All but first-reply pause in pending and waiting-customer (and in
// waiting-third-party when the policy says so), and stop while the
// ticket is resolved or closed. Each target counts business time on the
// calendar unless the policy lists it in calendar_time.
package sla

import (
	"fmt"
	"math"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
	"helpdesk/store/model"
)

// Target states.
const (
	Running = "running"
	Paused  = "paused"
	Met     = "met"
	Stopped = "stopped" // the ticket was resolved or closed before it was met
)

// Target is one target of a ticket as of an instant.
type Target struct {
	Kind string `json:"kind"`
	// Start is the instant the target instance began (its identity).
	Start time.Time `json:"start"`
	// Due is the deadline: projected from now while running, the instant
	// it passed when breached, the deadline that applied when met or
	// stopped. nil while paused (it moves as long as the pause lasts).
	Due *time.Time `json:"due"`
	// Remaining is the target's time left, in seconds of business time
	// (of elapsed time for a calendar-time target); negative when breached.
	Remaining int64  `json:"remaining"`
	Paused    bool   `json:"paused"`
	Breached  bool   `json:"breached"`
	Met       bool   `json:"met"`
	State     string `json:"state"`
	// Business: counted in business hours (false: calendar time).
	Business bool `json:"business"`
	// Target is the policy's duration, in seconds.
	Target int64 `json:"target"`
	// MetAt is when it was met (the response, the resolution).
	MetAt *time.Time `json:"met_at,omitempty"`
	// BreachRecorded: a breach notice went out for this instance.
	BreachRecorded bool `json:"breach_recorded,omitempty"`

	// warnAt is when the warning point is (or was, or would be) reached;
	// zero when there is none (paused, warnings off).
	warnAt time.Time
	// spans are the stretches counted or skipped, for Explain.
	spans []Span
	until time.Time
	dur   time.Duration
}

// Span is a stretch of a target's life with the status the ticket had.
type Span struct {
	From, To time.Time
	Status   string
	Counted  time.Duration // business (or elapsed) time counted in it
	Counts   bool
}

// Result is a ticket's policy and targets.
type Result struct {
	Policy  string   `json:"policy"`
	Targets []Target `json:"targets"`
	// Calendar names the business calendar (notices wait for it).
	Calendar string `json:"calendar"`
	cal      *calendar.Calendar
	pol      *config.SLA
}

// Compute returns the targets of tk under policy p on calendar cal at
// now; nil when p is nil (no policy: no targets, never overdue).
func Compute(p *config.SLA, cal *calendar.Calendar, tk *model.Ticket, now time.Time) *Result {
	if p == nil {
		return nil
	}
	if cal == nil {
		cal = calendar.Always
	}
	// Sized for every kind: this runs on every write that stores a
	// ticket under a policy (its timer, a new ticket's staff mail).
	r := &Result{Policy: p.Name, Calendar: cal.Name, cal: cal, pol: p, Targets: make([]Target, 0, len(config.TargetKinds))}
	spans := timeline(tk)
	pauses := func(s string) bool {
		return s == model.StatusPending || s == model.StatusWaitingCustomer || (p.PauseThirdParty && s == model.StatusWaitingThirdParty)
	}
	stopped := func(s string) bool { return s == model.StatusResolved || s == model.StatusClosed }
	running := func(s string) bool { return !pauses(s) && !stopped(s) }
	always := func(string) bool { return true }
	cur := tk.Status
	for _, kind := range config.TargetKinds {
		d := p.Target(kind)
		if d <= 0 {
			continue
		}
		var start time.Time
		var metAt *time.Time
		counts := running
		switch kind {
		case config.TargetFirstReply:
			if tk.OnBehalf {
				continue
			}
			start, metAt, counts = tk.Created, tk.FirstResponseAt, always
		case config.TargetNextReply:
			switch {
			case tk.AwaitingSince != nil:
				start = *tk.AwaitingSince
			case tk.LastWaitStart != nil && tk.LastResponseAt != nil:
				start, metAt = *tk.LastWaitStart, tk.LastResponseAt
			default:
				continue
			}
		case config.TargetPeriodicUpdate:
			if tk.LastResponseAt == nil || stopped(cur) {
				continue
			}
			start = *tk.LastResponseAt
		case config.TargetResolution:
			start = tk.Created
			if stopped(cur) {
				at := enteredAt(tk, spans)
				metAt = &at
			}
		}
		t := r.target(kind, d, start, metAt, spans, counts, now, p)
		if metAt == nil && kind != config.TargetResolution && stopped(cur) {
			// Resolved or closed before it was met: it stops (a first
			// reply is not owed on a ticket closed as spam).
			t = r.target(kind, d, start, ptr(enteredAt(tk, spans)), spans, counts, now, p)
			t.Met, t.MetAt, t.State = false, nil, Stopped
		}
		t.BreachRecorded = recorded(tk.SLAMarks, kind, start)
		t.Breached = t.Breached || t.BreachRecorded
		r.Targets = append(r.Targets, t)
	}
	return r
}

func ptr(t time.Time) *time.Time { return &t }

// recorded reports a breach already recorded for the instance.
func recorded(marks []model.SLAMark, kind string, start time.Time) bool {
	for _, m := range marks {
		if m.Kind == kind && m.Start == start.Unix() && m.Breached != 0 {
			return true
		}
	}
	return false
}

// target computes one target instance of duration d begun at start,
// complete at metAt (nil: not yet), counting business time in spans
// whose status counts.
func (r *Result) target(kind string, d time.Duration, start time.Time, metAt *time.Time, spans []Span, counts func(string) bool, now time.Time, p *config.SLA) Target {
	cal := r.cal
	business := !p.Elapsed(kind) && !cal.IsAlways()
	if p.Elapsed(kind) {
		cal = calendar.Always
	}
	until := now
	if metAt != nil && metAt.Before(now) {
		until = *metAt
	}
	if until.Before(start) {
		until = start
	}
	t := Target{Kind: kind, Start: start.UTC(), Business: business, Target: int64(d / time.Second), until: until, dur: d}
	consumed, reached, countingAtEnd, walked := run(cal, spans, start, until, d, counts, true)
	t.spans = walked
	t.Remaining = int64((d - consumed) / time.Second)
	switch {
	case !reached.IsZero():
		t.Due = ptr(reached)
	case countingAtEnd || metAt != nil:
		if due, ok := cal.Add(until, d-consumed); ok {
			t.Due = ptr(due)
		}
	}
	if metAt != nil {
		t.Met, t.MetAt, t.State = true, ptr(metAt.UTC()), Met
		t.Breached = !reached.IsZero() && reached.Before(until)
	} else {
		t.State = Running
		if !countingAtEnd {
			t.State, t.Paused = Paused, true
		}
		t.Breached = !reached.IsZero()
	}
	if t.State == Paused && !t.Breached {
		t.Due = nil
	}
	// The warning point, for the notices.
	if frac, before, off := p.Warn(); !off {
		w := time.Duration(float64(d) * frac)
		if frac == 0 {
			w = d - before
		}
		if w > 0 && w < d {
			_, wr, _, _ := run(cal, spans, start, until, w, counts, false)
			switch {
			case !wr.IsZero():
				t.warnAt = wr
			case countingAtEnd && metAt == nil:
				if at, ok := cal.Add(until, w-consumed); ok {
					t.warnAt = at
				}
			}
		}
	}
	return t
}

// run walks spans from start to until, counting cal's business time in
// the spans whose status counts. It returns the time counted, the instant
// the count reached target (zero when it did not by until), whether the
// ticket counts at until, and the spans walked (when keep: Explain's;
// the warning point's walk keeps none).
func run(cal *calendar.Calendar, spans []Span, start, until time.Time, target time.Duration, counts func(string) bool, keep bool) (consumed time.Duration, reached time.Time, countingAtEnd bool, walked []Span) {
	for _, s := range spans {
		from, to := s.From, s.To
		if to.IsZero() || to.After(until) {
			to = until
		}
		if from.Before(start) {
			from = start
		}
		if !to.After(from) {
			if !s.From.After(until) && (s.To.IsZero() || s.To.After(until)) {
				countingAtEnd = counts(s.Status) // the status at until
			}
			continue
		}
		w := Span{From: from, To: to, Status: s.Status, Counts: counts(s.Status)}
		if w.Counts {
			b := cal.Between(from, to)
			w.Counted = b
			if reached.IsZero() && consumed+b >= target {
				reached, _ = cal.Add(from, target-consumed)
			}
			consumed += b
		}
		if keep {
			walked = append(walked, w)
		}
		if s.To.IsZero() || s.To.After(until) {
			countingAtEnd = w.Counts
		}
	}
	return consumed, reached, countingAtEnd, walked
}

// timeline is the ticket's statuses as spans from its creation: open at
// Created, then each logged change; the last span is open-ended (To zero).
// A ticket from before the log was kept is taken as open until its last
// update and in its present status since.
func timeline(tk *model.Ticket) []Span {
	log := tk.StatusLog
	out := make([]Span, 1, 1+len(log))
	out[0] = Span{From: tk.Created, Status: model.StatusOpen}
	if len(log) == 0 && tk.Status != model.StatusOpen && tk.Status != "" {
		at := tk.Updated
		if tk.ResolvedAt != nil && (tk.Status == model.StatusResolved || tk.Status == model.StatusClosed) {
			at = *tk.ResolvedAt
		}
		log = []model.StatusMark{{At: at.Unix(), Ns: int32(at.Nanosecond()), S: tk.Status}}
	}
	for _, m := range log {
		at := m.Time()
		if at.Before(tk.Created) {
			at = tk.Created
		}
		last := &out[len(out)-1]
		if m.S == last.Status {
			continue
		}
		if !at.After(last.From) {
			last.Status = m.S // several changes within a second: the last holds
			continue
		}
		last.To = at
		out = append(out, Span{From: at, Status: m.S})
	}
	return out
}

// enteredAt is when the ticket entered its present status.
func enteredAt(tk *model.Ticket, spans []Span) time.Time {
	return spans[len(spans)-1].From
}

// Running lists the targets that are neither met nor stopped.
func (r *Result) Running() []Target {
	if r == nil {
		return nil
	}
	n := 0
	for i := range r.Targets {
		if r.Targets[i].State == Running || r.Targets[i].State == Paused {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Target, 0, n)
	for _, t := range r.Targets {
		if t.State == Running || t.State == Paused {
			out = append(out, t)
		}
	}
	return out
}

// Overdue reports a breached target that is still running (or paused).
func (r *Result) Overdue() bool {
	for _, t := range r.Running() {
		if t.Breached {
			return true
		}
	}
	return false
}

// DueWithin reports the running, unbreached, unpaused targets whose
// remaining time is at most d.
func (r *Result) DueWithin(d time.Duration) []Target {
	var out []Target
	for _, t := range r.Running() {
		if t.State == Running && !t.Breached && time.Duration(t.Remaining)*time.Second <= d {
			out = append(out, t)
		}
	}
	return out
}

// Human is "first reply due in 2h 10m (business hours)" and the like,
// for staff mail.
func (t Target) Human() string {
	what := strings.ReplaceAll(t.Kind, "-", " ")
	hours := "business hours"
	if !t.Business {
		hours = "calendar time"
	}
	left := time.Duration(t.Remaining) * time.Second
	switch {
	case t.Met:
		return fmt.Sprintf("%s met", what)
	case t.State == Stopped:
		return fmt.Sprintf("%s stopped (ticket resolved)", what)
	case t.Breached && -left < time.Minute:
		return fmt.Sprintf("%s breached just now (%s)", what, hours)
	case t.Breached:
		return fmt.Sprintf("%s overdue by %s (%s)", what, Dur(-left), hours)
	case t.Paused:
		return fmt.Sprintf("%s paused with %s left (%s)", what, Dur(left), hours)
	}
	return fmt.Sprintf("%s due in %s (%s)", what, Dur(left), hours)
}

// Dur formats a duration as "2h 10m", "45m", "27h" (hours, not days: a
// business day is whatever the calendar says), rounded down to minutes.
func Dur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	m := int64(math.Floor(d.Minutes()))
	h, mi := m/60, m%60
	switch {
	case h > 0 && mi > 0:
		return fmt.Sprintf("%dh %dm", h, mi)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dm", mi)
}

// For computes tk's targets under cfg at now: the first matching policy
// (config.SLAFor) on its calendar (the policy's, else the ticket's:
// group's, then mailbox's, else 24/7). nil when no policy matches.
func For(cfg *config.Config, tk *model.Ticket, now time.Time) *Result {
	p := cfg.SLAFor(tk.Priority, tk.Mailbox, tk.Group, tk.Tags, tk.Requester)
	if p == nil {
		return nil
	}
	return Compute(p, CalendarOf(cfg, p, tk), tk, now)
}

// CalendarOf is the business calendar of tk under policy p.
func CalendarOf(cfg *config.Config, p *config.SLA, tk *model.Ticket) *calendar.Calendar {
	if p != nil && p.Calendar != "" {
		if c := cfg.CalendarNamed(p.Calendar); c != nil {
			return c
		}
	}
	return cfg.CalendarFor(tk.Mailbox, tk.Group)
}
