package plan

import (
	"helpdesk/threading/command"
)

// Commands about the sender more than the ticket: #available, #away,
// #list, #help, #report, and #send (which releases the sender's held
// mail, SPEC 7).

// availability: #available and #away (automatic assignment, SPEC 7).
func (r *planner) availability(i int, c command.Command) {
	away := c.Name == "away"
	if away {
		r.ok(i, "you are away: no tickets are assigned to you automatically")
	} else {
		r.ok(i, "you are available for automatic assignment")
	}
	r.add(SetAvailability{Away: away, Command: i})
}

// list: #list mails back a view of the tickets.
func (r *planner) list(i int, c command.Command) {
	r.answers = append(r.answers, ListTickets{arg(c, 0), arg(c, 1)})
	r.ok(i, "list %s: see below", arg(c, 0))
	r.p.Confirm = true
}

// help: #help mails back the command card.
func (r *planner) help(i int, c command.Command) {
	r.answers = append(r.answers, Answer{command.HelpCard()})
	r.ok(i, "command card: see below")
	r.p.Confirm = true
}

// report: #report [period] [agents|groups|mailboxes|tickets] mails the
// report as a CSV attachment with the transcript; the engine words the
// result line once the file is attached, so the transcript never claims
// a report it did not send.
func (r *planner) report(i int, c command.Command) {
	period, by, _ := command.ReportArgs(c.Args)
	r.answers = append(r.answers, MailReport{Period: period, By: by, Command: i})
	r.ok(i, "report: see the attached file")
	r.p.Confirm = true
}

// sendHeld: #send releases the sender's held reply on this ticket; in the
// held mail itself, replayed, it does nothing.
func (r *planner) sendHeld(i int, c command.Command) {
	if r.in.Replaying {
		r.ok(i, "ignored (already sending a held mail)")
		return
	}
	seq, ok := r.in.View.HeldReply()
	if !ok {
		r.fail(c, "nothing to send: #send releases a held reply; use it in a reply to the held-mail transcript")
		return
	}
	r.send = &SendHeld{Comment: seq}
	r.ok(i, "held reply released")
}
