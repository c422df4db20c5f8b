package audience

import (
	"slices"
	"strings"
)

// Decide returns who receives a mail about ev on ticket t, with the view
// and reply token each gets, and who of the ticket's participants gets
// nothing and why (SPEC 6). It reads nothing but its arguments.
//
// The rules by kind are publicComment, privateNote, sideThreadMessage and
// changeNotice below; what they share (the author and reply-all
// exclusions, current staff only, unreachable addresses) is in picker.
func Decide(ev Event, t Ticket, dir Directory) Decision {
	p := &picker{ev: ev, t: &t, dir: dir}
	p.seen = p.seenBuf[:0]
	_, p.authorStaff = dir.Staff(ev.Author)
	if ev.Author != "" {
		p.keepOut(ev.Author, Author)
	}
	switch {
	case ev.Held:
		p.leaveAll(Held)
		return p.decision()
	case ev.LoopLimited && !p.authorStaff:
		p.leaveAll(LoopLimited)
		return p.decision()
	}
	if ev.Except != "" {
		p.keepOut(ev.Except, Excepted)
	}
	// Addresses that already received the inbound mail (reply-all) are
	// not sent it again (SPEC 3.7). Only end users: naming a staff
	// member in a header must not keep the notification from them.
	if !p.authorStaff {
		for _, r := range ev.AlreadyMailed {
			if _, staff := dir.Staff(r); !staff {
				p.keepOut(r, AlreadyMailed)
			}
		}
	}
	th := t.thread(ev.Thread)
	switch {
	case ev.Kind == Side && th != nil:
		p.sideThreadMessage(th)
	case ev.Kind == Side, ev.Kind == Note:
		// A side message whose thread is gone is still private.
		p.privateNote()
	case ev.Kind == Notice, ev.Kind == Intro:
		p.changeNotice()
	case ev.Kind == Assigned:
		p.assigned()
	case ev.Kind == Digest:
		p.staff(p.t.Assignee, Token{Private: true})
	case ev.Kind == Bounced:
		p.bounced()
	case ev.Kind == Trigger:
		p.trigger()
	case ev.Kind.ToRequester():
		p.ack()
	case ev.Kind == Transcript:
		p.transcript()
	default:
		p.publicComment()
	}
	p.dropUnreachable()
	p.explain(th)
	return p.decision()
}

// publicComment: a public comment on the main thread goes to the
// requester and the CCs (unless the event says NoEndUsers) and to the
// followers; when an end user wrote it, also to the ticket's agents (the
// assignee, or the group's agents while unassigned). Staff made CC get
// a staff view.
func (p *picker) publicComment() {
	if !p.ev.NoEndUsers {
		p.endUser(p.t.Requester)
		for _, cc := range p.t.CCs {
			p.endUser(cc)
		}
	}
	for _, f := range p.t.Followers {
		p.staff(f, Token{})
	}
	if !p.authorStaff {
		for _, ag := range p.ticketAgents() {
			p.staff(ag, Token{})
		}
	}
}

// privateNote: the assignee, the followers and the #notify targets;
// staff only, never the requester, CCs or collaborators.
func (p *picker) privateNote() {
	tok := Token{Private: true}
	p.staff(p.t.Assignee, tok)
	for _, f := range p.t.Followers {
		p.staff(f, tok)
	}
	for _, n := range p.ev.Notify {
		p.staff(n, tok)
	}
}

// sideThreadMessage decides who gets a side thread's message, the
// answer to "who gets a side thread's reply":
//   - an agent's message (ToCollaborators) goes to the thread's own
//     collaborators, from the thread's address, never to another
//     thread's; a light agent's never does (SPEC 1);
//   - staff get it too, as a private staff view: the assignee, the agent
//     who started the thread and the followers;
//   - when someone outside the staff wrote it (the collaborator's
//     answer, the requester, a CC) and none of those is current staff,
//     the ticket's agents (the group's agents while unassigned), so that
//     an answer always reaches someone;
//   - the requester and CCs never get it.
func (p *picker) sideThreadMessage(th *Thread) {
	tok := Token{Thread: th.ID, Private: true}
	if p.ev.ToCollaborators && !p.authorLight() {
		for _, col := range th.Collaborators {
			if !p.isSeen(col) {
				p.see(col)
				p.rcpts = append(p.rcpts, Recipient{Addr: col, View: ViewCollaborator, Token: tok})
			}
		}
	}
	before := len(p.rcpts)
	p.staff(p.t.Assignee, tok)
	p.staff(th.StartedBy, tok)
	for _, f := range p.t.Followers {
		p.staff(f, tok)
	}
	if !p.authorStaff && len(p.rcpts) == before {
		for _, ag := range p.ticketAgents() {
			p.staff(ag, tok)
		}
	}
}

// changeNotice: the ticket's agents (the assignee, or the group's agents
// while unassigned), but the one excepted.
func (p *picker) changeNotice() {
	for _, ag := range p.ticketAgents() {
		p.staff(ag, Token{Private: true})
	}
}

// assigned: "Assigned to you" goes to the new assignee when another
// staff member assigned the ticket to him. An assignment nobody on the
// staff made (round-robin, a trigger) is told by an Intro instead, and
// whoever assigns himself knows it.
func (p *picker) assigned() {
	if !p.authorStaff {
		p.leave(strings.ToLower(p.t.Assignee), NotByStaff)
		return
	}
	p.staff(p.t.Assignee, Token{Private: true})
}

// bounced: the delivery-failure notice goes to the staff member who
// wrote the mail that failed, else to the assignee; never to an end
// user.
func (p *picker) bounced() {
	if _, ok := p.dir.Staff(p.ev.Wrote); ok {
		p.staff(p.ev.Wrote, Token{Private: true})
		return
	}
	p.staff(p.t.Assignee, Token{Private: true})
}

// trigger: a trigger's notify targets, the keywords "assignee" and
// "group" read on the ticket as the trigger left it; current staff
// only, each once.
func (p *picker) trigger() {
	for _, n := range p.ev.Targets {
		switch n {
		case "assignee":
			p.staff(p.t.Assignee, Token{Private: true})
		case "group":
			for _, g := range p.t.GroupMembers {
				p.staff(g, Token{Private: true})
			}
		default:
			p.staff(n, Token{Private: true})
		}
	}
}

// ack: the acknowledgement goes to the requester when he is an end user
// (staff who open a ticket for themselves are not acknowledged), unless
// he bounces or is blocked (dropUnreachable) or had no address.
func (p *picker) ack() {
	if _, staff := p.dir.Staff(p.t.Requester); staff {
		p.leave(strings.ToLower(p.t.Requester), NotAcked)
		return
	}
	p.endUser(p.t.Requester)
}

// transcript: the answer to a mail's commands goes to its sender, and
// only while he is current staff: it names staff and commands, so an
// end user never gets one.
func (p *picker) transcript() {
	if _, staff := p.dir.Staff(p.ev.Wrote); !staff {
		p.leave(strings.ToLower(p.ev.Wrote), StaffAnswer)
		return
	}
	p.staff(p.ev.Wrote, Token{Private: true})
}

// ticketAgents are the assignee while he is staff, else the group's
// agents.
func (p *picker) ticketAgents() []string {
	if p.t.Assignee != "" {
		if _, ok := p.dir.Staff(p.t.Assignee); ok {
			return []string{p.t.Assignee}
		}
	}
	return p.t.GroupAgents
}

// picker collects the recipients of one decision.
type picker struct {
	ev          Event
	t           *Ticket
	dir         Directory
	authorStaff bool
	rcpts       []Recipient
	// seen are the addresses decided: a recipient, or kept out. A
	// ticket has a handful of participants: a slice scanned is cheaper
	// than a map.
	seen    []string
	seenBuf [16]string
	left    []Left
}

func (p *picker) isSeen(addr string) bool { return slices.Contains(p.seen, addr) }

func (p *picker) see(addr string) {
	if !p.isSeen(addr) {
		p.seen = append(p.seen, addr)
	}
}

func (p *picker) authorLight() bool {
	m, ok := p.dir.Staff(p.ev.Author)
	return ok && m.Light
}

// keepOut decides that addr gets nothing, for why.
func (p *picker) keepOut(addr string, why Reason) {
	p.see(addr)
	p.leave(addr, why)
}

// leave records why addr gets nothing (the first reason stays).
func (p *picker) leave(addr string, why Reason) {
	if addr == "" {
		return
	}
	for _, l := range p.left {
		if l.Addr == addr {
			return
		}
	}
	p.left = append(p.left, Left{addr, why})
}

// staff adds a current staff member with a staff view; a removed one
// gets nothing.
func (p *picker) staff(addr string, tok Token) {
	addr = strings.ToLower(addr)
	if addr == "" || p.isSeen(addr) {
		return
	}
	m, ok := p.dir.Staff(addr)
	if !ok {
		p.leave(addr, NotStaff)
		return
	}
	if p.isSeen(m.Addr) {
		return
	}
	p.see(addr)
	p.see(m.Addr)
	tok.Staff = true
	p.rcpts = append(p.rcpts, Recipient{Addr: m.Addr, Name: m.Name, View: ViewStaff, Light: m.Light, Token: tok})
}

// endUser adds the requester or a CC with the customer view; staff made
// CC get a staff copy instead.
func (p *picker) endUser(addr string) {
	if addr == "" || p.isSeen(addr) {
		return
	}
	if strings.HasSuffix(addr, ".invalid") {
		p.leave(addr, NoSender) // .invalid (RFC 2606) marks a mail that had no sender
		return
	}
	if _, ok := p.dir.Staff(addr); ok {
		p.staff(addr, Token{})
		return
	}
	p.see(addr)
	p.rcpts = append(p.rcpts, Recipient{Addr: addr, View: ViewCustomer})
}

// dropUnreachable removes end users and collaborators whose address
// bounces or is blocked.
func (p *picker) dropUnreachable() {
	if len(p.t.Unreachable) == 0 {
		return
	}
	kept := p.rcpts[:0]
	for _, r := range p.rcpts {
		if r.View != ViewStaff && slices.Contains(p.t.Unreachable, r.Addr) {
			p.leave(r.Addr, Unreachable)
			continue
		}
		kept = append(kept, r)
	}
	p.rcpts = kept
}

// leaveAll keeps every participant out, for why.
func (p *picker) leaveAll(why Reason) {
	p.participants(func(addr string, _ role) { p.leave(strings.ToLower(addr), why) })
}

// role is how an address takes part in the ticket, for explain.
type role uint8

const (
	roleEndUser role = iota + 1
	roleStaff
	roleCollaborator
)

// participants calls fn for everyone the snapshot and the event name.
func (p *picker) participants(fn func(addr string, r role)) {
	fn(p.t.Requester, roleEndUser)
	for _, cc := range p.t.CCs {
		fn(cc, roleEndUser)
	}
	fn(p.t.Assignee, roleStaff)
	for _, f := range p.t.Followers {
		fn(f, roleStaff)
	}
	for _, g := range p.t.GroupAgents {
		fn(g, roleStaff)
	}
	for _, n := range p.ev.Notify {
		fn(n, roleStaff)
	}
	for _, th := range p.t.Threads {
		fn(th.StartedBy, roleStaff)
		for _, c := range th.Collaborators {
			fn(c, roleCollaborator)
		}
	}
}

// explain gives every participant who gets nothing and has no reason yet
// the rule that kept him out.
func (p *picker) explain(th *Thread) {
	got := func(addr string) bool {
		_, ok := Decision{Recipients: p.rcpts}.Of(addr)
		return ok
	}
	p.participants(func(addr string, r role) {
		if addr == "" || got(addr) || got(strings.ToLower(addr)) {
			return
		}
		if m, ok := p.dir.Staff(addr); ok {
			if got(m.Addr) {
				return
			}
			r = roleStaff
		} else if r == roleStaff {
			p.leave(strings.ToLower(addr), NotStaff)
			return
		}
		switch {
		case r == roleEndUser && p.ev.Kind == Note:
			p.leave(addr, StaffOnly)
		case r == roleEndUser && p.ev.Kind == Side:
			p.leave(addr, SideIsPrivate)
		case r == roleEndUser && p.ev.Kind == Public && p.ev.NoEndUsers:
			p.leave(addr, NotEndUsers)
		case r == roleCollaborator && (th == nil || !slices.Contains(th.Collaborators, addr)):
			p.leave(addr, OwnThreadOnly)
		case r == roleCollaborator && p.authorLight():
			p.leave(addr, LightIsPrivate)
		case r == roleCollaborator && !p.authorStaff:
			p.leave(addr, FromOutside)
		default:
			p.leave(strings.ToLower(addr), NotInvolved)
		}
	})
}

func (p *picker) decision() Decision {
	return Decision{Recipients: p.rcpts, Left: p.left}
}

// thread returns the side thread with this ID, or nil.
func (t *Ticket) thread(id uint32) *Thread {
	if id == 0 {
		return nil
	}
	for i := range t.Threads {
		if t.Threads[i].ID == id {
			return &t.Threads[i]
		}
	}
	return nil
}

// PublicHeaders are the To and Cc of a customer-view mail: the requester
// and the CCs who are not staff. No staff address is ever named to an
// end user (SPEC 2).
func PublicHeaders(t Ticket, dir Directory) (to, cc []string) {
	if t.Requester != "" {
		if _, staff := dir.Staff(t.Requester); !staff {
			to = append(to, t.Requester)
		}
	}
	for _, x := range t.CCs {
		if _, staff := dir.Staff(x); !staff {
			cc = append(cc, x)
		}
	}
	return to, cc
}
