package rules

import (
	"slices"
	"strings"
	"time"

	"helpdesk/store/model"
	"helpdesk/threading/command"
)

// ViewStatuses are the statuses a view lists: every ticket not closed.
var ViewStatuses = []string{model.StatusOpen, model.StatusPending, model.StatusWaitingCustomer, model.StatusWaitingThirdParty, model.StatusResolved}

// TicketFacts are a ticket's facts with no update (a view's, a timer's).
func TicketFacts(tk *model.Ticket, now time.Time) *Facts {
	f := &Facts{Mailbox: tk.Mailbox, Subject: tk.Subject, Status: tk.Status, Priority: tk.Priority, Type: tk.Type,
		Group: strings.ToLower(tk.Group), Assignee: tk.Assignee, Tags: tk.Tags, Created: tk.Created, Updated: tk.Updated, Now: now}
	if tk.ResolvedAt != nil {
		f.Resolved = *tk.ResolvedAt
	}
	return f
}

// Select returns the tickets of the view among tks (merged tickets
// never), in its order; inHours, when not nil, gives a ticket's
// business-hours predicate, and enrich, when given, adds what a ticket
// alone does not tell (its requester's profile: Facts.Customer).
func (v *View) Select(tks []*model.Ticket, now time.Time, inHours func(*model.Ticket) func(time.Time) bool, enrich ...func(*model.Ticket, *Facts)) []*model.Ticket {
	var out []*model.Ticket
	for _, tk := range tks {
		if tk.MergedInto != 0 || !slices.Contains(ViewStatuses, tk.Status) {
			continue
		}
		f := TicketFacts(tk, now)
		if inHours != nil {
			f.InHours = inHours(tk)
		}
		for _, fn := range enrich {
			fn(tk, f)
		}
		if v.Cond.Match(f) {
			out = append(out, tk)
		}
	}
	rank := map[string]int{}
	for i, p := range command.Priorities() {
		rank[p] = -i // urgent first
	}
	slices.SortStableFunc(out, func(a, b *model.Ticket) int {
		var c int
		switch v.Sort {
		case "created desc":
			c = b.Created.Compare(a.Created)
		case "updated":
			c = a.Updated.Compare(b.Updated)
		case "updated desc":
			c = b.Updated.Compare(a.Updated)
		case "priority":
			c = rank[a.Priority] - rank[b.Priority]
			if c == 0 {
				c = a.Created.Compare(b.Created)
			}
		default:
			c = a.Created.Compare(b.Created)
		}
		if c == 0 {
			c = int(a.ID) - int(b.ID)
		}
		return c
	})
	return out
}
