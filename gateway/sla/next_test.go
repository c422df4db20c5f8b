package sla

import (
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
	"helpdesk/store/model"
)

// Next is Pending's first instant, computed without building the
// notices: the same answer for every combination of policy, calendar,
// pauses, instant and recorded notices (none, warned for this
// definition, warned for another, breached).
func TestNextIsPendingsFirst(t *testing.T) {
	seoul := cal(t, "Asia/Seoul", seoulHrs)
	berlin := cal(t, "Europe/Berlin", weekdays)
	policies := []*config.SLA{
		{Name: "p", FirstReply: config.Duration(4 * time.Hour)},
		{Name: "all", FirstReply: config.Duration(time.Hour), NextReply: config.Duration(2 * time.Hour), PeriodicUpdate: config.Duration(3 * time.Hour), Resolution: config.Duration(24 * time.Hour), WarnAt: "30m"},
		{Name: "e", FirstReply: config.Duration(2 * time.Hour), CalendarTime: []string{"first-reply"}},
		{Name: "loud", Resolution: config.Duration(8 * time.Hour), NotifyOutsideHours: true, PauseThirdParty: true},
	}
	resp := at(t, "2027-01-04T10:00:00+09:00")
	tickets := []func() *model.Ticket{
		func() *model.Ticket { return ticket(t, "2027-01-04T09:00:00+09:00") },
		func() *model.Ticket { return ticket(t, "2027-01-08T17:00:00+09:00") },
		func() *model.Ticket {
			return ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T12:30:00+09:00 pending", "2027-01-05T09:00:00+09:00 open")
		},
		func() *model.Ticket {
			tk := ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T11:00:00+09:00 waiting-third-party")
			tk.FirstResponseAt, tk.LastResponseAt = &resp, &resp
			return tk
		},
		func() *model.Ticket {
			tk := ticket(t, "2027-01-04T09:00:00+09:00", "2027-01-04T11:00:00+09:00 resolved")
			tk.ResolvedAt = ptr(at(t, "2027-01-04T11:00:00+09:00"))
			return tk
		},
	}
	instants := []time.Duration{0, time.Hour, 3 * time.Hour, 26 * time.Hour, 80 * time.Hour}
	n := 0
	for _, p := range policies {
		for _, c := range []*calendar.Calendar{seoul, berlin, nil} {
			for _, mk := range tickets {
				for _, d := range instants {
					tk := mk()
					now := tk.Created.Add(d)
					r := Compute(p, c, tk, now)
					pend := r.Pending(nil)
					for _, marks := range markSets(r, pend, now) {
						n++
						want := r.Pending(marks)
						got, ok := r.Next(marks)
						if ok != (len(want) > 0) || ok && !got.Equal(want[0].At) {
							t.Fatalf("policy %s, ticket created %s, now %s, marks %+v: Next %s %v, Pending %+v", p.Name, tk.Created, now, marks, got, ok, want)
						}
					}
				}
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d cases", n)
	}
	var none *Result
	if _, ok := none.Next(nil); ok {
		t.Fatal("no policy: Next must say none")
	}
}

// markSets are the recorded notices a ticket may hold for r's targets.
func markSets(r *Result, pend []Notice, now time.Time) [][]model.SLAMark {
	out := [][]model.SLAMark{nil}
	for _, n := range pend {
		out = append(out, Record(nil, n, r.Policy, now))
		other := n
		other.Fingerprint += "|before"
		out = append(out, Record(nil, other, r.Policy, now))
	}
	if len(pend) > 1 {
		var all []model.SLAMark
		for _, n := range pend {
			all = Record(all, n, r.Policy, now)
		}
		out = append(out, all)
	}
	return out
}
