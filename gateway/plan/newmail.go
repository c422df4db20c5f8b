package plan

import (
	"strings"

	"helpdesk/threading/command"
)

// A staff member's new mail, with no thread keys (SPEC 3.5): what is it
// about?

// NewMailKind is what a staff member's new mail is about.
type NewMailKind int

const (
	// OpenTicket: the mail opens a ticket (on someone's behalf).
	OpenTicket NewMailKind = iota
	// OnTicket: #ticket N names an existing ticket; the mail acts on it,
	// its text a private note unless #reply says otherwise.
	OnTicket
	// NoTicket: only commands about the sender (#list, #help, #report,
	// #available, #away) and no text: answered by mail, nothing opened.
	NoTicket
	// Refused: the sender may not open a ticket (Problem says why).
	Refused
)

// NewMail decides a new mail's kind: Ticket is the ticket for OnTicket
// (merges followed), Problem the reason for Refused.
func NewMail(b command.Block, role Role, view View) (kind NewMailKind, ticket uint64, problem command.Problem) {
	if c, ok := b.Find("ticket"); ok && len(c.Args) == 1 {
		if n, ok := command.TicketNumber(c.Args[0]); ok {
			if tk, ok := view.Resolve(n); ok {
				return OnTicket, tk.ID, command.Problem{}
			}
		}
	}
	if Ticketless(b) {
		return NoTicket, 0, command.Problem{}
	}
	if role == Light {
		// Light agents write private notes on existing tickets only.
		return Refused, 0, command.Problem{Command: command.Command{Raw: "(new mail)"},
			Message: "light agents cannot open tickets: reply to a ticket notification to add a private note"}
	}
	return OpenTicket, 0, command.Problem{}
}

// Ticketless reports whether a block holds only commands that concern the
// sender rather than a ticket, and no text.
func Ticketless(b command.Block) bool {
	if len(b.Commands) == 0 || strings.TrimSpace(b.Text) != "" {
		return false
	}
	for _, c := range b.Commands {
		switch c.Name {
		case "list", "help", "report", "available", "away", "end":
		default:
			return false
		}
	}
	return true
}
