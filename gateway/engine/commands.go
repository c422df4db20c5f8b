package engine

import (
	"strings"

	"helpdesk/store"
	"helpdesk/threading"
)

// staffMail applies an authenticated staff member's mail to a ticket.
func (a *applier) staffMail(d threading.Decision) error {
	tk, err := a.tx.Resolve(d.Ticket)
	if err != nil {
		return err
	}
	text := a.staffText()
	vis := store.Public
	if d.DefaultPrivate {
		vis = store.Private
	}
	var thread uint32
	toCollab := false
	if d.Outcome == threading.OutStaffSide {
		thread, vis, toCollab = d.Thread, store.Private, true
	}
	c := a.inboundComment(thread, vis)
	c.Text = text
	if strings.TrimSpace(text) == "" {
		a.res.Ticket, a.res.Disposition = tk.ID, store.DispCommands
		return a.tx.PutTicket(tk)
	}
	if err := a.tx.AddComment(tk, c); err != nil {
		return err
	}
	if err := a.tx.PutTicket(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, store.Ref{Ticket: tk.ID, Thread: thread, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, store.DispComment
	return a.fanOut(tk, c, fanOpts{toCollaborators: toCollab})
}

// staffNewTicket opens a ticket on someone's behalf from a staff mail with
// no thread keys (SPEC 3.5).
func (a *applier) staffNewTicket(d threading.Decision) error {
	return a.newTicketFor(a.in.sender, a.mail().From.Name)
}

func (a *applier) newTicketFor(requester, name string) error {
	mb := a.mailbox()
	tk := &store.Ticket{
		Subject: a.ticketSubject(), Status: store.StatusOpen, Priority: "normal",
		Mailbox: strings.ToLower(mb.Address), Group: mb.Group, Requester: requester,
		Threads: []store.Thread{{ID: 0, Kind: store.ThreadMain, Created: a.now}},
		CCs:     []string{}, Followers: []string{}, Tags: []string{}, Links: []store.Link{},
	}
	if err := a.tx.NewTicket(tk); err != nil {
		return err
	}
	if _, err := a.ensureUser(requester, name, false); err != nil {
		return err
	}
	c := a.inboundComment(0, store.Private)
	c.Text = a.staffText()
	if err := a.tx.AddComment(tk, c); err != nil {
		return err
	}
	if err := a.tx.PutTicket(tk); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, store.DispTicket
	return a.tx.IndexMessageID(a.mail().MessageID, store.Ref{Ticket: tk.ID, Comment: c.ID})
}
