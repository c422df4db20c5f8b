package engine

import (
	"fmt"
	"strings"
	"time"

	"helpdesk/store/model"
)

// Responses and customer comments (SPEC 7, issue 14 item 2): what SLA
// targets and reports measure. Each is recorded at exactly one point of
// the engine, so every consumer sees the same definition.

// isResponse reports whether a comment this write adds is a response: a
// public comment on the main thread written by a human staff member
// (not a rule, not an automation) on a ticket whose requester is someone
// else (so it reaches the requester). Private notes, side-thread
// messages, acknowledgements, transcripts, trigger and automation mail
// never come here; a held reply comes here only when #send releases it.
func (a *applier) isResponse(tk *model.Ticket, c *model.Comment) bool {
	return a.staff != nil && a.rule == "" && c.Kind == model.KindComment && c.Visibility == model.Public &&
		c.Thread == 0 && !c.Hidden && tk.Requester != "" && tk.Requester != a.staff.Email
}

// markResponse records a response sent at at: the first and last
// response times and their count, and ends the running next-reply wait.
// Reports hook here too.
func (a *applier) markResponse(tk *model.Ticket, at time.Time) {
	t := at
	if tk.FirstResponseAt == nil {
		tk.FirstResponseAt = &t
	}
	tk.LastResponseAt = &t
	tk.Responses++
	if tk.AwaitingSince != nil {
		tk.LastWaitStart = tk.AwaitingSince
	}
	tk.AwaitingSince = nil
}

// markCustomer records a public comment of the requester or a CC on the
// main thread at at. After a response, the first such comment starts a
// next-reply wait (AwaitingSince); a bare acknowledgement ("thanks")
// asks for nothing and starts none.
func (a *applier) markCustomer(tk *model.Ticket, at time.Time, ack bool) {
	t := at
	tk.LastCustomerAt = &t
	if !ack && tk.LastResponseAt != nil && tk.AwaitingSince == nil {
		tk.AwaitingSince = &t
	}
}

// defaultDueWithin is the business time of "#list due" without one.
const defaultDueWithin = 4 * time.Hour

// slaLine is the SLA state of the ticket for staff mail, e.g. `SLA
// "urgent": first reply due in 2h 10m (business hours)`; "" without a
// policy or a running target.
func (a *applier) slaLine(tk *model.Ticket) string {
	r := a.slaFor(tk)
	var parts []string
	for _, t := range r.Running() {
		parts = append(parts, t.Human())
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("SLA %q: %s", r.Policy, strings.Join(parts, "; "))
}
