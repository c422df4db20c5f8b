package plan

import (
	"helpdesk/threading/command"
)

// Linked tickets (SPEC 4, 6): #parent, #child and #ticket (#merge: merge.go).

// parent decides #parent N: N must exist and must not be this ticket or
// one of its descendants (no cycle).
func (r *planner) parent(i int, c command.Command) {
	n, _ := command.TicketNumber(arg(c, 0))
	p, ok := r.in.View.Resolve(n)
	if !ok {
		r.fail(c, "ticket #%d does not exist", n)
		return
	}
	if p.ID == r.tk.ID || (r.tk.ID != 0 && r.isAncestor(r.tk.ID, p)) {
		r.fail(c, "#%d cannot be the parent of #%d (that would make a cycle)", p.ID, r.tk.ID)
		return
	}
	r.ok(i, "parent set to #%d", p.ID)
	r.add(SetParent{p.ID})
}

// isAncestor reports whether id is p or one of p's ancestors.
func (r *planner) isAncestor(id uint64, p Ticket) bool {
	seen := map[uint64]bool{}
	for cur, ok := p, true; ok && !seen[cur.ID]; {
		if cur.ID == id {
			return true
		}
		seen[cur.ID] = true
		if cur.Parent == 0 {
			break
		}
		cur, ok = r.in.View.Ticket(cur.Parent)
	}
	return false
}

// openChild decides #child: a subject, from #child or #subject.
func (r *planner) openChild(i int, c command.Command) {
	subject := arg(c, 0)
	if subject == "" {
		if s, ok := r.p.Block.Find("subject"); ok {
			subject = s.Args[0]
		}
	}
	if subject == "" {
		r.fail(c, "#child needs a subject: #child <subject> or #subject <subject>")
		return
	}
	r.child = &OpenChild{Subject: subject}
	r.ok(i, "child ticket opened: %s", subject)
}

// ticket decides #ticket N: in a new mail the engine already acts on N;
// in an answer to a notification of another ticket it is refused, since
// guessing which was meant could change the wrong ticket.
func (r *planner) ticket(i int, c command.Command) {
	n, _ := command.TicketNumber(arg(c, 0))
	named, ok := r.in.View.Resolve(n)
	if !ok {
		r.fail(c, "ticket #%d does not exist", n)
		return
	}
	if r.tk.ID != 0 && named.ID != r.tk.ID {
		r.fail(c, "this mail answers a notification of ticket #%d; #ticket %d belongs in a new mail to the support address. Nothing was applied to either ticket", r.tk.ID, n)
		return
	}
	r.ok(i, "acting on ticket #%d", r.tk.ID)
}
