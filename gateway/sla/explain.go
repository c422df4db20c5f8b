package sla

import (
	"fmt"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
)

// Explain says how each deadline of r was computed (`helpdesk sla N`):
// the policy and calendar, each target's start, the stretches of the
// ticket's life counted or paused, the holidays on the way, and the
// deadline with what is left.
func (r *Result) Explain() string {
	if r == nil {
		return "No [[sla]] policy matches this ticket: it has no targets and is never overdue.\n"
	}
	loc := r.cal.Location()
	f := func(t time.Time) string { return t.In(loc).Format("Mon 2006-01-02 15:04 MST") }
	var b strings.Builder
	fmt.Fprintf(&b, "Policy %q (the first [[sla]] in file order whose conditions hold).\n", r.Policy)
	if r.cal.IsAlways() {
		fmt.Fprintf(&b, "Calendar %s: always open, business time is elapsed time.\n", calendar.AlwaysName)
	} else {
		fmt.Fprintf(&b, "Calendar %s, zone %s: business time is counted day by day with each day's own UTC offset; notices due while it is closed %s.\n",
			r.cal.Name, loc, map[bool]string{true: "go out at once (notify_outside_hours)", false: "wait for it to open"}[r.pol.NotifyOutsideHours])
	}
	if len(r.Targets) == 0 {
		b.WriteString("No target applies now.\n")
	}
	for _, t := range r.Targets {
		hours := "business hours"
		if !t.Business {
			hours = "calendar time"
		}
		fmt.Fprintf(&b, "\n%s: %s of %s, from %s (%s).\n", t.Kind, Dur(time.Duration(t.Target)*time.Second), hours, f(t.Start), startWhy(t.Kind))
		switch t.Kind {
		case config.TargetFirstReply:
			b.WriteString("  Never pauses.\n")
		default:
			paused := "pending and waiting-customer"
			if r.pol.PauseThirdParty {
				paused = "pending, waiting-customer and waiting-third-party"
			}
			fmt.Fprintf(&b, "  Pauses in %s; stops while resolved or closed.\n", paused)
		}
		for _, s := range t.spans {
			what := "counted " + Dur(s.Counted)
			if !s.Counts {
				what = "paused, not counted"
				if s.Status == "resolved" || s.Status == "closed" {
					what = "stopped, not counted"
				}
			}
			fmt.Fprintf(&b, "  %s → %s  %-20s %s\n", f(s.From), f(s.To), s.Status, what)
		}
		if hs := r.holidaysBetween(t.Start, t.until, t.Due); len(hs) > 0 && t.Business {
			fmt.Fprintf(&b, "  Holidays on the way (closed all day): %s\n", strings.Join(hs, ", "))
		}
		used := time.Duration(t.Target)*time.Second - time.Duration(t.Remaining)*time.Second
		fmt.Fprintf(&b, "  Used %s of %s.\n", Dur(used), Dur(time.Duration(t.Target)*time.Second))
		switch {
		case t.Met:
			fmt.Fprintf(&b, "  Met at %s", f(*t.MetAt))
			if t.Due != nil {
				fmt.Fprintf(&b, " (deadline %s)", f(*t.Due))
			}
			b.WriteString(".\n")
		case t.State == Stopped:
			b.WriteString("  Stopped: the ticket was resolved or closed before it was met.\n")
		case t.Paused:
			fmt.Fprintf(&b, "  Paused now with %s left: the deadline is set when it resumes.\n", Dur(time.Duration(t.Remaining)*time.Second))
		case t.Due != nil:
			fmt.Fprintf(&b, "  Due %s (%s).\n", f(*t.Due), t.Due.UTC().Format(time.RFC3339))
		}
		if t.Breached {
			b.WriteString("  BREACHED")
			if t.BreachRecorded {
				b.WriteString(" (recorded; it stays recorded whatever changes later)")
			}
			b.WriteString(".\n")
		}
		fmt.Fprintf(&b, "  Now: %s.\n", t.Human())
	}
	return b.String()
}

func startWhy(kind string) string {
	switch kind {
	case config.TargetFirstReply, config.TargetResolution:
		return "the ticket's creation"
	case config.TargetNextReply:
		return "the first customer comment after the last response"
	case config.TargetPeriodicUpdate:
		return "the last response"
	}
	return ""
}

// holidaysBetween lists the calendar's holidays from a's date to the
// later of b and due.
func (r *Result) holidaysBetween(a, b time.Time, due *time.Time) []string {
	if due != nil && due.After(b) {
		b = *due
	}
	loc := r.cal.Location()
	from, to := a.In(loc).Format("2006-01-02"), b.In(loc).Format("2006-01-02")
	var out []string
	for _, d := range r.cal.Holidays() {
		if s := d.String(); s >= from && s <= to {
			out = append(out, s)
		}
	}
	return out
}
