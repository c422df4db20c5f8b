package sla

import (
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
	"helpdesk/store/model"
)

func cal(t *testing.T, zone string, hours []string, holidays ...string) *calendar.Calendar {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	var hs []calendar.Hours
	for _, l := range hours {
		h, err := calendar.ParseHours(l)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	var ds []calendar.Date
	for _, s := range holidays {
		d, err := calendar.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	c, err := calendar.New(zone, loc, hs, ds)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// at parses an RFC 3339 instant.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// ticket is a ticket created at created whose status changed as log
// says ("2027-01-04T12:00:00+09:00 pending", ...).
func ticket(t *testing.T, created string, log ...string) *model.Ticket {
	t.Helper()
	tk := &model.Ticket{Created: at(t, created), Status: model.StatusOpen, Priority: "normal"}
	for _, l := range log {
		var ts, st string
		for i := range l {
			if l[i] == ' ' {
				ts, st = l[:i], l[i+1:]
				break
			}
		}
		tk.LogStatus(st, at(t, ts))
		tk.Status = st
	}
	return tk
}

func target(t *testing.T, r *Result, kind string) Target {
	t.Helper()
	for _, x := range r.Targets {
		if x.Kind == kind {
			return x
		}
	}
	t.Fatalf("no %s target in %+v", kind, r.Targets)
	return Target{}
}

func due(t *testing.T, x Target) time.Time {
	t.Helper()
	if x.Due == nil {
		t.Fatalf("%s has no due (state %s)", x.Kind, x.State)
	}
	return *x.Due
}

var (
	weekdays = []string{"mon-fri 09:00-17:00"}
	seoulHrs = []string{"mon-fri 09:00-18:00"}
)

// First reply across weekends in DST zones: the weekend's offset change
// lands the deadline on Monday's local 10:00 with Monday's offset, in
// both directions, in Berlin and New York; a holiday after a Friday
// evening in Seoul; a night shift over midnight.
func TestFirstReplyDeadlines(t *testing.T) {
	berlin := cal(t, "Europe/Berlin", weekdays)
	newYork := cal(t, "America/New_York", weekdays)
	seoul := cal(t, "Asia/Seoul", seoulHrs, "2027-10-04")
	night := cal(t, "Europe/Berlin", []string{"sun-thu 22:00-06:00"})
	for _, c := range []struct {
		name    string
		cal     *calendar.Calendar
		created string
		target  time.Duration
		want    string
	}{
		{"Berlin spring forward (Fri CET to Mon CEST)", berlin, "2027-03-26T16:00:00+01:00", 2 * time.Hour, "2027-03-29T10:00:00+02:00"},
		{"Berlin fall back (Fri CEST to Mon CET)", berlin, "2027-10-29T16:00:00+02:00", 2 * time.Hour, "2027-11-01T10:00:00+01:00"},
		{"New York spring forward", newYork, "2027-03-12T16:00:00-05:00", 2 * time.Hour, "2027-03-15T10:00:00-04:00"},
		{"New York fall back", newYork, "2027-11-05T16:00:00-04:00", 2 * time.Hour, "2027-11-08T10:00:00-05:00"},
		{"Seoul Friday evening before a Monday holiday", seoul, "2027-10-01T19:00:00+09:00", 4 * time.Hour, "2027-10-05T13:00:00+09:00"},
		{"Seoul Friday afternoon, rest after the holiday", seoul, "2027-10-01T16:00:00+09:00", 4 * time.Hour, "2027-10-05T11:00:00+09:00"},
		{"night shift over midnight", night, "2027-01-11T23:00:00+01:00", 4 * time.Hour, "2027-01-12T03:00:00+01:00"},
		{"night shift: Friday 05:00 is Thursday's shift, then Sunday night", night, "2027-01-15T05:00:00+01:00", 2 * time.Hour, "2027-01-17T23:00:00+01:00"},
		{"24/7", calendar.Always, "2027-03-13T22:00:00-05:00", 6 * time.Hour, "2027-03-14T05:00:00-04:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &config.SLA{Name: "p", FirstReply: config.Duration(c.target)}
			tk := ticket(t, c.created)
			r := Compute(p, c.cal, tk, tk.Created)
			x := target(t, r, config.TargetFirstReply)
			if got := due(t, x); !got.Equal(at(t, c.want)) {
				t.Errorf("due %s, want %s", got.In(c.cal.Location()), c.want)
			}
			if x.Remaining != int64(c.target/time.Second) || x.State != Running || x.Breached || x.Met {
				t.Errorf("at creation: %+v", x)
			}
			// At the deadline it is breached with 0 left; a minute later -60.
			r = Compute(p, c.cal, tk, due(t, x).Add(time.Minute))
			if y := target(t, r, config.TargetFirstReply); !y.Breached || y.Remaining > 0 || !due(t, y).Equal(due(t, x)) {
				t.Errorf("after the deadline: %+v", y)
			}
		})
	}
}

// A DST night inside business hours: a 24/7 shift in New York counts the
// real hours (23 on spring-forward day, 25 on fall-back day).
func TestBusinessTimeAcrossDSTNight(t *testing.T) {
	ny := cal(t, "America/New_York", []string{"mon-sun 00:00-24:00"})
	p := &config.SLA{Name: "p", Resolution: config.Duration(24 * time.Hour)}
	for _, c := range []struct{ created, want string }{
		{"2027-03-14T00:00:00-05:00", "2027-03-15T01:00:00-04:00"},
		{"2027-11-07T00:00:00-04:00", "2027-11-07T23:00:00-05:00"},
	} {
		tk := ticket(t, c.created)
		if got := due(t, target(t, Compute(p, ny, tk, tk.Created), config.TargetResolution)); !got.Equal(at(t, c.want)) {
			t.Errorf("created %s: due %s, want %s", c.created, got.In(ny.Location()), c.want)
		}
	}
}

// First reply never pauses; resolution and next reply pause in pending
// and waiting-customer, and in waiting-third-party only when the policy
// says so; resolution sums over reopenings.
func TestPausesAndReopenings(t *testing.T) {
	seoul := cal(t, "Asia/Seoul", seoulHrs)
	p := &config.SLA{Name: "normal", FirstReply: config.Duration(4 * time.Hour), Resolution: config.Duration(9 * time.Hour)}
	// Monday 09:00; pending 12:00 to Tuesday 12:00.
	tk := ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T12:00:00+09:00 pending", "2027-01-05T12:00:00+09:00 open")
	r := Compute(p, seoul, tk, at(t, "2027-01-05T12:30:00+09:00"))
	if fr := target(t, r, config.TargetFirstReply); !fr.Breached || !due(t, fr).Equal(at(t, "2027-01-04T13:00:00+09:00")) {
		t.Errorf("first reply paused with the ticket: %+v", fr)
	}
	res := target(t, r, config.TargetResolution)
	if !due(t, res).Equal(at(t, "2027-01-05T18:00:00+09:00")) || res.Remaining != int64(5*3600+1800) || res.Paused {
		t.Errorf("resolution after a day pending: due %s, remaining %d", due(t, res), res.Remaining)
	}
	// While pending: paused, no due, remaining frozen.
	r = Compute(p, seoul, tk, at(t, "2027-01-04T15:00:00+09:00"))
	if res := target(t, r, config.TargetResolution); !res.Paused || res.Due != nil || res.Remaining != 6*3600 || res.State != Paused {
		t.Errorf("resolution while pending: %+v", res)
	}
	// Resolved Tuesday 15:00 (3h + 3h used): met, 3h to spare.
	tk = ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T12:00:00+09:00 pending", "2027-01-05T12:00:00+09:00 open", "2027-01-05T15:00:00+09:00 resolved")
	res = target(t, Compute(p, seoul, tk, at(t, "2027-01-07T10:00:00+09:00")), config.TargetResolution)
	if !res.Met || res.Breached || res.Remaining != 3*3600 || !res.MetAt.Equal(at(t, "2027-01-05T15:00:00+09:00")) {
		t.Errorf("resolved in time: %+v", res)
	}
	// Reopened Wednesday 10:00: the 3h left run from there.
	tk.LogStatus(model.StatusOpen, at(t, "2027-01-06T10:00:00+09:00"))
	tk.Status = model.StatusOpen
	res = target(t, Compute(p, seoul, tk, at(t, "2027-01-06T10:00:00+09:00")), config.TargetResolution)
	if res.Met || !due(t, res).Equal(at(t, "2027-01-06T13:00:00+09:00")) {
		t.Errorf("reopened: %+v due %v", res, res.Due)
	}

	// waiting-third-party counts unless the policy pauses it.
	tk = ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T10:00:00+09:00 waiting-third-party")
	now := at(t, "2027-01-04T15:00:00+09:00")
	if res := target(t, Compute(p, seoul, tk, now), config.TargetResolution); res.Paused || res.Remaining != 3*3600 {
		t.Errorf("waiting-third-party without the flag: %+v", res)
	}
	p3 := *p
	p3.PauseThirdParty = true
	if res := target(t, Compute(&p3, seoul, tk, now), config.TargetResolution); !res.Paused || res.Remaining != 8*3600 {
		t.Errorf("waiting-third-party with pause_waiting_third_party: %+v", res)
	}
}

// Next reply: each customer comment after a response starts one, it
// pauses with the ticket and is met by the next response; periodic
// update runs from the last response; calendar_time counts elapsed time.
func TestNextReplyAndPeriodicUpdate(t *testing.T) {
	seoul := cal(t, "Asia/Seoul", seoulHrs)
	p := &config.SLA{Name: "p", NextReply: config.Duration(2 * time.Hour), PeriodicUpdate: config.Duration(24 * time.Hour),
		CalendarTime: []string{"periodic-update"}}
	tk := ticket(t, "2027-01-04T09:00:00+09:00")
	r := Compute(p, seoul, tk, at(t, "2027-01-04T10:00:00+09:00"))
	if len(r.Targets) != 0 {
		t.Fatalf("before any response: %+v", r.Targets)
	}
	resp := at(t, "2027-01-04T10:00:00+09:00")
	tk.FirstResponseAt, tk.LastResponseAt = &resp, &resp
	cust := at(t, "2027-01-04T17:00:00+09:00")
	tk.AwaitingSince = &cust
	r = Compute(p, seoul, tk, cust)
	nr := target(t, r, config.TargetNextReply)
	if !due(t, nr).Equal(at(t, "2027-01-05T10:00:00+09:00")) || !nr.Business {
		t.Errorf("next reply from Monday 17:00: due %s", due(t, nr))
	}
	pu := target(t, r, config.TargetPeriodicUpdate)
	if !due(t, pu).Equal(at(t, "2027-01-05T10:00:00+09:00")) || pu.Business {
		t.Errorf("periodic update 24h of calendar time from the response: %+v", pu)
	}
	// The agent answers Tuesday 09:30: met with 30m to spare.
	ans := at(t, "2027-01-05T09:30:00+09:00")
	tk.LastResponseAt, tk.LastWaitStart, tk.AwaitingSince = &ans, &cust, nil
	nr = target(t, Compute(p, seoul, tk, ans), config.TargetNextReply)
	if !nr.Met || nr.Breached || nr.Remaining != 1800 {
		t.Errorf("next reply answered in time: %+v", nr)
	}
}

// A change of policy (priority raised) recomputes running targets from
// their start; a recorded breach stays recorded when the deadline moves
// later.
func TestPolicyChangeRecomputesFromStart(t *testing.T) {
	seoul := cal(t, "Asia/Seoul", seoulHrs)
	normal := &config.SLA{Name: "normal", FirstReply: config.Duration(8 * time.Hour)}
	urgent := &config.SLA{Name: "urgent", FirstReply: config.Duration(1 * time.Hour)}
	tk := ticket(t, "2027-01-04T09:00:00+09:00")
	now := at(t, "2027-01-04T09:30:00+09:00")
	if fr := target(t, Compute(normal, seoul, tk, now), config.TargetFirstReply); !due(t, fr).Equal(at(t, "2027-01-04T17:00:00+09:00")) {
		t.Errorf("normal: %v", fr.Due)
	}
	fr := target(t, Compute(urgent, seoul, tk, now), config.TargetFirstReply)
	if !due(t, fr).Equal(at(t, "2027-01-04T10:00:00+09:00")) || fr.Remaining != 1800 {
		t.Errorf("urgent, from the same start: %+v", fr)
	}
	// Breached under urgent and recorded; lowered back to normal at 11:00,
	// the deadline is 17:00 again, the breach stays.
	r := Compute(urgent, seoul, tk, at(t, "2027-01-04T10:00:00+09:00"))
	due := r.Due(nil, at(t, "2027-01-04T10:00:00+09:00"))
	if len(due) != 1 || !due[0].Breach {
		t.Fatalf("due notices at the urgent deadline: %+v", due)
	}
	tk.SLAMarks = Record(tk.SLAMarks, due[0], "urgent", at(t, "2027-01-04T10:00:00+09:00"))
	fr = target(t, Compute(normal, seoul, tk, at(t, "2027-01-04T11:00:00+09:00")), config.TargetFirstReply)
	if !fr.Breached || !fr.BreachRecorded || fr.Remaining != 6*3600 {
		t.Errorf("recorded breach after the deadline moved later: %+v", fr)
	}
	if n := Compute(normal, seoul, tk, at(t, "2027-01-04T18:00:00+09:00")).Pending(tk.SLAMarks); len(n) != 0 {
		t.Errorf("a recorded breach is noticed again: %+v", n)
	}
}

// Warnings: at a share of the target or a time before the deadline, once
// per target; outside business hours they wait for the calendar to open
// unless notify_outside_hours; a changed definition re-arms the warning, a
// pause does not; warning and breach both due: the breach only.
func TestNotices(t *testing.T) {
	seoul := cal(t, "Asia/Seoul", seoulHrs)
	p := &config.SLA{Name: "p", FirstReply: config.Duration(4 * time.Hour)}
	tk := ticket(t, "2027-01-04T09:00:00+09:00")
	r := Compute(p, seoul, tk, tk.Created)
	pend := r.Pending(nil)
	if len(pend) != 2 || pend[0].Breach || !pend[0].At.Equal(at(t, "2027-01-04T12:00:00+09:00")) ||
		!pend[1].Breach || !pend[1].At.Equal(at(t, "2027-01-04T13:00:00+09:00")) {
		t.Fatalf("75%% warning and breach: %+v", pend)
	}
	p30 := &config.SLA{Name: "p", FirstReply: config.Duration(4 * time.Hour), WarnAt: "30m"}
	if n := Compute(p30, seoul, tk, tk.Created).Pending(nil); !n[0].At.Equal(at(t, "2027-01-04T12:30:00+09:00")) {
		t.Errorf("warn_at 30m: %+v", n[0])
	}
	// Warned: only the breach is left; the same definition stays warned.
	tk.SLAMarks = Record(nil, pend[0], "p", pend[0].At)
	if n := Compute(p, seoul, tk, pend[0].At).Pending(tk.SLAMarks); len(n) != 1 || !n[0].Breach {
		t.Errorf("after the warning: %+v", n)
	}
	// A longer target (another definition) re-arms it.
	p8 := &config.SLA{Name: "p", FirstReply: config.Duration(8 * time.Hour)}
	if n := Compute(p8, seoul, tk, pend[0].At).Pending(tk.SLAMarks); len(n) != 2 || n[0].Breach || !n[0].At.Equal(at(t, "2027-01-04T15:00:00+09:00")) {
		t.Errorf("re-armed by a longer target: %+v", n)
	}

	// Friday 17:00 with 2h: the deadline is Monday 10:00; the 75% warning
	// point (Monday 09:30) is inside hours. With a 1h target, the breach
	// point is Friday 18:00 (in hours) and the warning 17:45.
	// Outside hours: a 24/7 policy calendar on a Seoul office waits.
	fri := ticket(t, "2027-01-08T17:00:00+09:00")
	elapsed := &config.SLA{Name: "e", FirstReply: config.Duration(2 * time.Hour), CalendarTime: []string{"first-reply"}}
	n := Compute(elapsed, seoul, fri, fri.Created).Pending(nil)
	if len(n) != 2 || !n[0].Point.Equal(at(t, "2027-01-08T18:30:00+09:00")) || !n[0].At.Equal(at(t, "2027-01-11T09:00:00+09:00")) ||
		!n[1].At.Equal(at(t, "2027-01-11T09:00:00+09:00")) {
		t.Errorf("notices of an elapsed-time target outside hours wait for Monday 09:00: %+v", n)
	}
	if d := Compute(elapsed, seoul, fri, at(t, "2027-01-11T09:00:00+09:00")).Due(nil, at(t, "2027-01-11T09:00:00+09:00")); len(d) != 1 || !d[0].Breach {
		t.Errorf("warning and breach both due on Monday: want the breach only, got %+v", d)
	}
	// The 1h target's breach point, Friday 18:00, ends the day's opening:
	// it goes out at 18:00, not on Monday.
	p1 := &config.SLA{Name: "p1", FirstReply: config.Duration(time.Hour)}
	if n := Compute(p1, seoul, fri, fri.Created).Pending(nil); len(n) != 2 || !n[0].At.Equal(at(t, "2027-01-08T17:45:00+09:00")) ||
		!n[1].Breach || !n[1].At.Equal(at(t, "2027-01-08T18:00:00+09:00")) {
		t.Errorf("a breach at closing time goes out at closing time: %+v", n)
	}
	loud := *elapsed
	loud.NotifyOutsideHours = true
	if n := Compute(&loud, seoul, fri, fri.Created).Pending(nil); !n[0].At.Equal(at(t, "2027-01-08T18:30:00+09:00")) {
		t.Errorf("notify_outside_hours: %+v", n[0])
	}

	// A pause moves the deadline but brings no second warning.
	q := &config.SLA{Name: "q", Resolution: config.Duration(4 * time.Hour)}
	tk = ticket(t, "2027-01-04T09:00:00+09:00")
	w := Compute(q, seoul, tk, tk.Created).Pending(nil)[0]
	tk.SLAMarks = Record(nil, w, "q", w.At)
	tk.LogStatus(model.StatusPending, at(t, "2027-01-04T12:30:00+09:00"))
	tk.LogStatus(model.StatusOpen, at(t, "2027-01-05T09:00:00+09:00"))
	tk.Status = model.StatusOpen
	n = Compute(q, seoul, tk, at(t, "2027-01-05T09:00:00+09:00")).Pending(tk.SLAMarks)
	if len(n) != 1 || !n[0].Breach || !n[0].At.Equal(at(t, "2027-01-05T09:30:00+09:00")) {
		t.Errorf("after a pause: %+v", n)
	}
}

// Tickets an agent opened have no first-reply target; without a policy
// there are no targets.
func TestOnBehalfAndNoPolicy(t *testing.T) {
	tk := ticket(t, "2027-01-04T09:00:00+09:00")
	tk.OnBehalf = true
	p := &config.SLA{Name: "p", FirstReply: config.Duration(time.Hour), Resolution: config.Duration(9 * time.Hour)}
	r := Compute(p, calendar.Always, tk, tk.Created)
	if len(r.Targets) != 1 || r.Targets[0].Kind != config.TargetResolution {
		t.Errorf("on behalf: %+v", r.Targets)
	}
	if Compute(nil, calendar.Always, tk, tk.Created) != nil {
		t.Error("no policy gave a result")
	}
}

func TestHuman(t *testing.T) {
	x := Target{Kind: "first-reply", Remaining: 2*3600 + 10*60 + 59, Business: true, State: Running}
	if got := x.Human(); got != "first reply due in 2h 10m (business hours)" {
		t.Errorf("Human = %q", got)
	}
	x = Target{Kind: "resolution", Remaining: -(26*3600 + 60), Breached: true, State: Running}
	if got := x.Human(); got != "resolution overdue by 26h 1m (calendar time)" {
		t.Errorf("Human = %q", got)
	}
}
