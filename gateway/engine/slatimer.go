package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/rules"
	"helpdesk/gateway/sla"
	"helpdesk/store/model"
)

// SLA warnings and breach notices (issue 14 item 3) are the timer source
// "sla": package gateway/sla says, from the ticket's history, which
// notice of which target instance is still to be sent and when (a share
// of the target or a time before the deadline; outside business hours
// when the calendar next opens, unless notify_outside_hours); here the
// timer fires it: an event on the ticket naming the policy, a mail to the
// assignee (the group's agents while unassigned) and to escalate_to, and
// the notice recorded on the ticket (model.SLAMark) in the same write, so
// it goes out once, also across restarts. A change to the ticket re-arms
// the timer (a pause disarms it, a priority change moves it).
func init() {
	registerTimer(timerSource{kind: "sla", stamp: slaStamp, next: slaNext, fire: slaFire})
}

// slaStamp changes whenever a policy or calendar does (SIGHUP): every
// ticket is then re-armed under the new settings.
func slaStamp(cfg *config.Config) string {
	if len(cfg.SLAs) == 0 {
		return "none"
	}
	b, _ := json.Marshal(struct {
		P []config.SLA
		C []config.Calendar
	}{cfg.SLAs, cfg.Calendars})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func slaNext(a *applier, tk *model.Ticket) (time.Time, bool) {
	if len(a.cfg.SLAs) == 0 || tk.MergedInto != 0 {
		return time.Time{}, false
	}
	return a.slaFor(tk).Next(tk.SLAMarks)
}

// slaMemo is a ticket's SLA targets as computed in this write, with
// what they were computed from.
type slaMemo struct {
	in slaInputs
	r  *sla.Result
}

// slaInputs is what sla.For reads of a ticket (besides the write's
// configuration and instant, fixed for the write).
type slaInputs struct {
	priority, mailbox, group, requester, status   string
	onBehalf                                      bool
	created, updated                              time.Time
	firstResponse, awaiting, lastWait, lastResp   time.Time
	resolved                                      time.Time
	hasFirst, hasAwaiting, hasWait, hasResp, hasR bool
	tags                                          []string
	statusLog                                     []model.StatusMark
	marks                                         []model.SLAMark
}

func at(p *time.Time) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	return *p, true
}

func slaInputsOf(tk *model.Ticket) slaInputs {
	in := slaInputs{priority: tk.Priority, mailbox: tk.Mailbox, group: tk.Group, requester: tk.Requester, status: tk.Status,
		onBehalf: tk.OnBehalf, created: tk.Created, updated: tk.Updated,
		tags: slices.Clone(tk.Tags), statusLog: slices.Clone(tk.StatusLog), marks: slices.Clone(tk.SLAMarks)}
	in.firstResponse, in.hasFirst = at(tk.FirstResponseAt)
	in.awaiting, in.hasAwaiting = at(tk.AwaitingSince)
	in.lastWait, in.hasWait = at(tk.LastWaitStart)
	in.lastResp, in.hasResp = at(tk.LastResponseAt)
	in.resolved, in.hasR = at(tk.ResolvedAt)
	return in
}

// readsUpdated reports whether sla.For reads the ticket's Updated: only
// for a ticket from before the status log was kept, not open (its
// timeline takes the last update for the status change). Storing a
// ticket moves Updated (a new ticket's, between its staff mail's SLA
// line and the arming of its timer): that alone recomputes nothing.
func (x *slaInputs) readsUpdated() bool {
	return len(x.statusLog) == 0 && x.status != model.StatusOpen && x.status != ""
}

// sameAs reports whether tk still holds what x was taken from (what
// sla.For reads of it).
func (x *slaInputs) sameAs(tk *model.Ticket) bool {
	same := func(has bool, v time.Time, p *time.Time) bool { return has == (p != nil) && (p == nil || v.Equal(*p)) }
	return x.priority == tk.Priority && x.mailbox == tk.Mailbox && x.group == tk.Group && x.requester == tk.Requester &&
		x.status == tk.Status && x.onBehalf == tk.OnBehalf && x.created.Equal(tk.Created) && (x.updated.Equal(tk.Updated) || !x.readsUpdated()) &&
		same(x.hasFirst, x.firstResponse, tk.FirstResponseAt) && same(x.hasAwaiting, x.awaiting, tk.AwaitingSince) &&
		same(x.hasWait, x.lastWait, tk.LastWaitStart) && same(x.hasResp, x.lastResp, tk.LastResponseAt) &&
		same(x.hasR, x.resolved, tk.ResolvedAt) &&
		slices.Equal(x.tags, tk.Tags) && slices.Equal(x.statusLog, tk.StatusLog) && slices.Equal(x.marks, tk.SLAMarks)
}

// slaFor is sla.For(a.cfg, tk, a.now), computed once per write for a
// ticket: a new ticket's staff notification (its SLA line) and the
// arming of its timer at the end of the write read the same targets.
// It is computed again when anything it reads of the ticket changed in
// between (a trigger raised the priority, a notice was recorded...).
// Callers must not change the result.
func (a *applier) slaFor(tk *model.Ticket) *sla.Result {
	if m := a.slaMemo[tk.ID]; m != nil {
		if m.in.sameAs(tk) {
			return m.r
		}
		m.in, m.r = slaInputsOf(tk), sla.For(a.cfg, tk, a.now)
		return m.r
	}
	if a.slaMemo == nil {
		a.slaMemo = map[uint64]*slaMemo{}
	}
	m := &slaMemo{in: slaInputsOf(tk), r: sla.For(a.cfg, tk, a.now)}
	a.slaMemo[tk.ID] = m
	return m.r
}

func slaFire(a *applier, tk *model.Ticket, _ time.Time) error {
	if tk.MergedInto != 0 {
		return nil
	}
	r := a.slaFor(tk)
	due := r.Due(tk.SLAMarks, a.now)
	if len(due) == 0 {
		return nil
	}
	// A notice is no update by a person or a mail: automations' "updated"
	// keeps counting from the last one (storing tk moves Updated).
	if st := autoState(tk); st.Activity.IsZero() {
		st.Activity = tk.Updated
	}
	for _, n := range due {
		var t sla.Target
		for _, x := range r.Targets {
			if x.Kind == n.Kind && x.Start.Equal(n.Start) {
				t = x
			}
		}
		what := "warning"
		if n.Breach {
			what = "breach"
		}
		tk.SLAMarks = sla.Record(tk.SLAMarks, n, r.Policy, a.now)
		line := fmt.Sprintf("SLA %s (policy %q): %s", what, r.Policy, t.Human())
		if err := a.slaEvent(tk, line, what); err != nil {
			return err
		}
		if err := a.slaMail(tk, r, t, n); err != nil {
			return err
		}
	}
	return a.save(tk)
}

// slaEvent records the notice on the ticket's audit trail; the triggers
// see it as an sla-warning or sla-breach event.
func (a *applier) slaEvent(tk *model.Ticket, text, what string) error {
	return a.addComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: slaAuthor, Reason: map[bool]string{true: rules.SLABreach, false: rules.SLAWarning}[what == "breach"], Text: text})
}

// slaAuthor is the author of SLA events.
const slaAuthor = "helpdesk:sla"

// slaMail mails the notice to the ticket's agents (the assignee, else
// the group's agents) and to the policy's escalate_to.
func (a *applier) slaMail(tk *model.Ticket, r *sla.Result, t sla.Target, n sla.Notice) error {
	kind := strings.ReplaceAll(t.Kind, "-", " ")
	subject := fmt.Sprintf("SLA warning: %s due soon: %s", kind, tk.Subject)
	head := fmt.Sprintf("SLA warning for ticket #%d (policy %q): %s.", tk.ID, r.Policy, t.Human())
	if n.Breach {
		subject = fmt.Sprintf("SLA breached: %s overdue: %s", kind, tk.Subject)
		head = fmt.Sprintf("SLA breached on ticket #%d (policy %q): %s.", tk.ID, r.Policy, t.Human())
	}
	if t.Due != nil {
		loc := time.UTC
		if cal := sla.CalendarOf(a.cfg, a.cfg.SLANamed(r.Policy), tk); cal != nil {
			loc = cal.Location()
		}
		head += fmt.Sprintf("\nDeadline: %s.", t.Due.In(loc).Format("Mon 2006-01-02 15:04 MST"))
	}
	head += fmt.Sprintf("\n`helpdesk sla %d` shows how the deadline was computed.", tk.ID)
	sent := map[string]bool{}
	err := a.notifyDecided(tk, audience.Event{Kind: audience.Notice}, func(ag *config.Agent) (string, string) {
		sent[staffEmail(ag)] = true
		return subject, head
	})
	if err != nil {
		return err
	}
	p := a.cfg.SLANamed(r.Policy)
	if p == nil || p.Escalate == "" {
		return nil
	}
	esc := strings.ToLower(strings.TrimSpace(p.Escalate))
	ag := a.cfg.Agent(esc)
	if ag == nil || sent[staffEmail(ag)] {
		return nil // check-config refuses a non-staff escalate_to
	}
	return a.notifyStaffEvent(tk, ag, subject, head)
}
