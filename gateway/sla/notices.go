package sla

import (
	"slices"
	"strconv"
	"time"

	"helpdesk/store/model"
)

// Notice is a warning or breach notice of one target instance that is
// still to be sent.
type Notice struct {
	Kind   string
	Start  time.Time
	Breach bool // false: a warning
	// Point is when the target reached (or will reach) the warning or
	// breach point; At is when the notice goes out: Point, or the
	// calendar's next opening after it when notices wait for business
	// hours.
	Point, At time.Time
	// Fingerprint names the target definition a warning is sent for.
	Fingerprint string
}

// Fingerprint identifies the definition of a target (policy, duration,
// calendar): a warning already sent is re-armed when it changes, i.e.
// when the deadline moves because the priority, tags, policy or calendar
// did. A pause moves the deadline too but changes no fingerprint, so it
// brings no second warning.
func (r *Result) Fingerprint(t Target) string {
	// As fmt's "%s|%s|%d|%s|%v", without its reflection: this runs for
	// every running target of every ticket a write arms.
	return r.Policy + "|" + t.Kind + "|" + strconv.FormatInt(t.Target, 10) + "|" + r.Calendar + "|" + strconv.FormatBool(t.Business)
}

// Pending returns the notices not yet sent for the running targets of r
// (marks are the ticket's), each with the instant it goes out, earliest
// first. A target past its deadline gets the breach notice only; a
// recorded breach is never noticed again.
func (r *Result) Pending(marks []model.SLAMark) []Notice {
	if r == nil {
		return nil
	}
	var out []Notice
	for _, t := range r.Targets {
		if t.State != Running || t.BreachRecorded {
			continue
		}
		var mark *model.SLAMark
		for i := range marks {
			if marks[i].Kind == t.Kind && marks[i].Start == t.Start.Unix() {
				mark = &marks[i]
			}
		}
		fp := r.Fingerprint(t)
		if !t.warnAt.IsZero() && !t.Breached && (mark == nil || mark.Warned != fp) {
			out = append(out, Notice{Kind: t.Kind, Start: t.Start, Point: t.warnAt, At: r.wait(t.warnAt), Fingerprint: fp})
		}
		if t.Due != nil {
			out = append(out, Notice{Kind: t.Kind, Start: t.Start, Breach: true, Point: *t.Due, At: r.wait(*t.Due), Fingerprint: fp})
		}
	}
	slices.SortStableFunc(out, func(x, y Notice) int { return x.At.Compare(y.At) })
	return out
}

// wait is when a notice whose point is at goes out: at, or when the
// business calendar next opens unless the policy sends outside hours.
// A point that ends an opening (a deadline that used the day's last
// business minute, as whole business days do) is reached inside business
// hours: it goes out then, when show --json starts saying breached, not
// at the next opening.
func (r *Result) wait(at time.Time) time.Time {
	if r.pol.NotifyOutsideHours || r.cal.IsAlways() {
		return at
	}
	before := at.Add(-time.Nanosecond)
	if open, ok := r.cal.NextOpen(before); ok && !open.After(before) {
		return at // open until at
	}
	if open, ok := r.cal.NextOpen(at); ok {
		return open
	}
	return at
}

// Next is the earliest instant a pending notice goes out (ok false:
// none): Pending's first At, without building the notices (it runs on
// every write that stores a ticket under a policy, to arm its timer).
func (r *Result) Next(marks []model.SLAMark) (at time.Time, ok bool) {
	if r == nil {
		return time.Time{}, false
	}
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		if t.State != Running || t.BreachRecorded {
			continue
		}
		if !t.warnAt.IsZero() && !t.Breached {
			var mark *model.SLAMark
			for j := range marks {
				if marks[j].Kind == t.Kind && marks[j].Start == t.Start.Unix() {
					mark = &marks[j]
				}
			}
			// The fingerprint only when a warning was recorded.
			if mark == nil || mark.Warned != r.Fingerprint(*t) {
				consider(r.wait(t.warnAt))
			}
		}
		if t.Due != nil {
			consider(r.wait(*t.Due))
		}
	}
	return at, ok
}

// Due returns the pending notices that go out at or before now. When a
// target's warning and breach are both due, only the breach is sent.
func (r *Result) Due(marks []model.SLAMark, now time.Time) []Notice {
	var out []Notice
	breach := map[string]bool{}
	for _, n := range r.Pending(marks) {
		if !n.At.After(now) && n.Breach {
			breach[n.Kind] = true
		}
	}
	for _, n := range r.Pending(marks) {
		if n.At.After(now) || (!n.Breach && breach[n.Kind]) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// Record marks a notice as sent in marks (returning the new list): a
// warning stores the fingerprint it was sent for, a breach its instant.
func Record(marks []model.SLAMark, n Notice, policy string, now time.Time) []model.SLAMark {
	i := -1
	for j := range marks {
		if marks[j].Kind == n.Kind && marks[j].Start == n.Start.Unix() {
			i = j
		}
	}
	if i < 0 {
		marks = append(marks, model.SLAMark{Kind: n.Kind, Start: n.Start.Unix()})
		i = len(marks) - 1
	}
	marks[i].Policy = policy
	if n.Breach {
		marks[i].Breached = now.Unix()
		marks[i].Warned = n.Fingerprint // no warning after the breach
	} else {
		marks[i].Warned = n.Fingerprint
	}
	return prune(marks)
}

// maxMarks bounds the marks a ticket keeps: the oldest unbreached ones go
// first (their instances are long over).
const maxMarks = 32

func prune(marks []model.SLAMark) []model.SLAMark {
	for len(marks) > maxMarks {
		drop := 0
		for j, m := range marks {
			if m.Breached == 0 {
				drop = j
				break
			}
		}
		marks = append(marks[:drop], marks[drop+1:]...)
	}
	return marks
}
