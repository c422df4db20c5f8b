package plan

import (
	"helpdesk/threading/command"
)

// #merge (SPEC 4, 6). The engine moves the ticket (merge in
// gateway/engine/changes.go) once the rest of the mail is applied.

// mergeInto decides #merge N [cc]: N must exist (merges followed) and be
// another ticket; a ticket with another requester merges only with cc,
// which makes this ticket's requester a CC of N.
func (r *planner) mergeInto(i int, c command.Command) {
	n, _ := command.TicketNumber(c.Args[0])
	into, ok := r.in.View.Resolve(n)
	if !ok {
		r.fail(c, "ticket #%d does not exist", n)
		return
	}
	if into.ID == r.tk.ID || r.tk.ID == 0 {
		r.fail(c, "a ticket cannot be merged into itself")
		return
	}
	cc := len(c.Args) > 1 && c.Args[1] == "cc"
	if into.Requester != r.tk.Requester && !cc {
		r.fail(c, "#%d has another requester (%s); merge with \"#merge %d cc\" to add %s as a CC of #%d", into.ID, into.Requester, into.ID, r.tk.Requester, into.ID)
		return
	}
	r.merge = &Merge{Into: into.ID, CC: cc}
	r.ok(i, "merged into #%d", into.ID)
}
