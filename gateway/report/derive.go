package report

import (
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// State is what reports read of a ticket, before and after a write.
type State struct {
	Exists   bool
	Status   string
	Group    string
	Mailbox  string
	Assignee string
	Merged   bool
	Created  time.Time
	// FirstResponse is when the first response was sent (zero: none yet).
	FirstResponse time.Time
	// Rating is the requester's satisfaction rating (0: none) and
	// RatedAt when it was given.
	Rating  int
	RatedAt time.Time
	// Breaches are the SLA breaches recorded on the ticket.
	Breaches []breach
}

// StateOf reads a ticket's State (nil: none).
func StateOf(tk *model.Ticket) State {
	if tk == nil {
		return State{}
	}
	s := State{Exists: true, Status: tk.Status, Group: tk.Group, Mailbox: tk.Mailbox, Assignee: tk.Assignee,
		Merged: tk.MergedInto != 0, Created: tk.Created}
	s.FirstResponse = firstResponse(tk)
	if tk.CSAT != nil {
		s.Rating, s.RatedAt = tk.CSAT.Rating, tk.CSAT.At
	}
	s.Breaches = breaches(tk)
	return s
}

// Resolved reports whether a status counts as resolved (resolved or
// closed).
func Resolved(status string) bool {
	return status == model.StatusResolved || status == model.StatusClosed
}

// inBacklog: the ticket counts in the backlog (closed and merged tickets
// have left it).
func (s State) inBacklog() bool {
	return s.Exists && !s.Merged && s.Status != model.StatusClosed && s.Status != ""
}

// BacklogKeys are the backlog keys a ticket in state s counts under:
// every ticket by status, and by status per group, agent and mailbox.
func BacklogKeys(s State) []string {
	if !s.inBacklog() {
		return nil
	}
	keys := []string{backlogKey(KindAll, "", s.Status)}
	if s.Group != "" {
		keys = append(keys, backlogKey(KindGroup, s.Group, s.Status))
	}
	if s.Assignee != "" {
		keys = append(keys, backlogKey(KindAgent, s.Assignee, s.Status))
	}
	if s.Mailbox != "" {
		keys = append(keys, backlogKey(KindMailbox, s.Mailbox, s.Status))
	}
	return keys
}

func backlogKey(kind, name, status string) string {
	return kind + "\x00" + name + "\x00" + status
}

// Changes are the events a write that turned before into after at adds
// to the index, and the backlog keys the ticket leaves and enters.
// responder is the staff member whose mail made the write ("" for rules
// and timers): the author of a first response.
func Changes(id uint64, before, after State, at time.Time, responder string) (evs []model.ReportEvent, dec, inc []string) {
	if !after.Exists {
		return nil, nil, nil
	}
	ev := func(kind string) model.ReportEvent {
		return model.ReportEvent{At: at, Kind: kind, Ticket: id, Group: after.Group, Mailbox: after.Mailbox, Agent: after.Assignee}
	}
	if !before.Exists {
		e := ev(model.EvReceived)
		e.At = after.Created
		evs = append(evs, e)
	}
	// A merge closes the merged ticket: it leaves the backlog, but
	// nobody resolved it.
	if !after.Merged {
		wasResolved := before.Exists && Resolved(before.Status)
		switch {
		case !wasResolved && Resolved(after.Status):
			e := ev(model.EvResolved)
			e.Since = after.Created
			evs = append(evs, e)
		case wasResolved && !Resolved(after.Status):
			evs = append(evs, ev(model.EvReopened))
		}
	}
	if !after.FirstResponse.IsZero() && before.FirstResponse.IsZero() {
		e := ev(model.EvFirstResponse)
		e.At, e.Since = after.FirstResponse, after.Created
		if responder != "" {
			e.Agent = responder
		}
		evs = append(evs, e)
	}
	// A new rating; one that replaces an earlier rating also withdraws
	// it (Rating negative, Since when it was given), so a period counts
	// each ticket's rating once.
	if after.Rating != 0 && (after.Rating != before.Rating || !after.RatedAt.Equal(before.RatedAt)) {
		if before.Rating != 0 {
			e := ev(model.EvRating)
			e.Rating, e.Since = -before.Rating, before.RatedAt
			evs = append(evs, e)
		}
		e := ev(model.EvRating)
		e.Rating = after.Rating
		if !after.RatedAt.IsZero() {
			e.At = after.RatedAt
		}
		evs = append(evs, e)
	}
	// Each breach once, when it is first recorded.
	for _, b := range after.Breaches {
		known := false
		for _, o := range before.Breaches {
			if o.target == b.target && o.start == b.start {
				known = true
				break
			}
		}
		if !known {
			e := ev(model.EvBreach)
			e.Target, e.At = b.target, time.Unix(b.at, 0).UTC()
			evs = append(evs, e)
		}
	}
	dec, inc = BacklogKeys(before), BacklogKeys(after)
	if equal(dec, inc) {
		dec, inc = nil, nil
	}
	return evs, dec, inc
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Record adds what a write that turned before into after changed to the
// index, in that write.
func Record(tx store.Tx, id uint64, before, after State, at time.Time, responder string) error {
	evs, dec, inc := Changes(id, before, after, at, responder)
	for i := range evs {
		if err := tx.AddReportEvent(&evs[i]); err != nil {
			return err
		}
	}
	if dec != nil || inc != nil {
		moveAt := at
		if !before.Exists {
			moveAt = after.Created
		}
		return tx.MoveBacklog(moveAt, dec, inc)
	}
	return nil
}
