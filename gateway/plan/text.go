package plan

import (
	"slices"
	"strings"

	"helpdesk/threading"
	"helpdesk/threading/command"
)

// Where the mail's text goes (SPEC 3.4, 6): #reply, #note, #notify,
// #forward (with #include and #subject), #done, and text, the one change
// that decides it once every command is planned.

// visibility: #reply and #note. In an answer to a side-thread
// notification they move the text to the main thread.
func (r *planner) visibility(i int, c command.Command) {
	th := r.in.Answering.Thread
	switch {
	case c.Name == "reply" && r.toMain:
		r.ok(i, "this mail's text is a public reply to the requester and CCs on the main thread (side thread %d's collaborators do not get it)", th)
	case c.Name == "reply":
		r.ok(i, "this mail's text is a public reply")
	case r.toMain:
		r.ok(i, "this mail's text is a private note on the main thread, for staff only (side thread %d's collaborators do not get it)", th)
	default:
		r.ok(i, "this mail's text is a private note")
	}
}

// notifyStaff: #notify names staff who get the note by mail.
func (r *planner) notifyStaff(i int, c command.Command) {
	for _, x := range c.Args {
		ag := r.cfg.AgentByNameOrAlias(x)
		if ag == nil {
			r.fail(c, "unknown agent %q%s", x, r.agentSuggestion(x))
			return
		}
		r.notify = append(r.notify, staffEmail(ag))
	}
	if r.p.Block.Has("note") {
		r.ok(i, "notifying %s", strings.Join(r.notify, ", "))
	} else {
		r.ok(i, "this mail's text is a private note; notifying %s", strings.Join(r.notify, ", "))
	}
}

// forwardTo: #forward starts a side thread with outside addresses only
// (not our mailboxes, not the requester or a CC), and needs something to
// send (SPEC 6).
func (r *planner) forwardTo(i int, c command.Command) {
	if r.forward == nil {
		r.forward = &StartSideThread{Include: "none"}
		if inc, ok := r.p.Block.Find("include"); ok {
			r.forward.Include = inc.Args[0]
		}
		if s, ok := r.p.Block.Find("subject"); ok {
			r.forward.Subject = s.Args[0]
		}
	}
	for _, x := range c.Args {
		addr, _ := command.ParseAddr(x)
		addr = threading.NormalizeAddr(addr)
		switch {
		case r.cfg.IsOwnAddress(addr):
			r.fail(c, "%s is one of our own mailboxes: a side thread goes to an outside address", addr)
			return
		case addr == r.tk.Requester || slices.Contains(r.tk.CCs, addr):
			r.fail(c, "%s is already on the ticket (requester or CC): answer them publicly instead", addr)
			return
		}
		if !slices.Contains(r.forward.Addrs, addr) {
			r.forward.Addrs = append(r.forward.Addrs, addr)
		}
	}
	if strings.TrimSpace(r.p.Block.Text) == "" && r.forward.Include == "none" && r.in.Attachments == 0 {
		r.fail(c, "nothing to forward: write the message below the commands or use #include last|all")
		return
	}
	r.ok(i, "side thread started with %s", strings.Join(r.forward.Addrs, ", "))
}

// done: #done closes the side thread the mail answers, nothing else.
func (r *planner) done(i int, c command.Command) {
	if !r.in.Answering.Side {
		r.fail(c, "#done closes a side thread: use it in a reply to a side-thread notification")
		return
	}
	th := r.in.Answering.Thread
	r.ok(i, "side thread %d marked done", th)
	r.add(MarkDone{th})
}

// text decides where the mail's text goes: a side thread #forward
// starts, a #child ticket, a comment (public reply, private note, or a
// message of the side thread answered), or nowhere.
func (r *planner) text() Change {
	switch {
	case r.forward != nil:
		return *r.forward
	case r.child != nil:
		return *r.child
	case strings.TrimSpace(r.p.Text) == "":
		return NoComment{}
	}
	if r.in.Answering.Side && !r.toMain {
		// A light agent's text stays on the side thread for staff: it is
		// never mailed to the collaborators (SPEC 1).
		return SideMessage{Thread: r.in.Answering.Thread, ToCollaborators: r.role != Light, Reopen: !r.p.Block.Has("done")}
	}
	if r.public {
		return Reply{}
	}
	return Note{Notify: r.notify}
}
