package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/plan"
	"helpdesk/gateway/sla"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// The engine's half of the command language: a plan's changes (package
// gateway/plan decides them) applied inside the store write, each by the
// one switch in apply.

// applyPlan checks the guards, applies the plan's changes in order, and
// answers with a transcript when one is wanted.
func (a *applier) applyPlan(r *cmdRun) error {
	tk := r.tk
	// The guards look at the text before anything is applied: a held
	// mail is held whole (its commands too) and #send replays all of it.
	if !a.replaying {
		if c, side := a.outgoing(tk, r); c != nil {
			held, why, err := a.guard(tk, c, side)
			if err != nil {
				return err
			}
			if held {
				return a.hold(tk, c, why)
			}
		}
	}
	for _, ch := range r.Changes {
		if r.afterFields != nil && !fieldChange(ch) {
			if err := r.afterFields(); err != nil {
				return err
			}
			r.afterFields = nil
		}
		if err := a.apply(r, ch); err != nil {
			return err
		}
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if r.Confirm {
		return a.transcript(tk, r, true)
	}
	return nil
}

// apply makes one planned change.
func (a *applier) apply(r *cmdRun, ch plan.Change) error {
	tk := r.tk
	me := a.staff.Email
	switch ch := ch.(type) {
	case plan.ListTickets:
		r.answer = append(r.answer, a.listTickets(ch))
	case plan.Answer:
		r.answer = append(r.answer, ch.Text)
	case plan.MailReport:
		return a.mailReport(r, ch)
	case plan.SetStatus:
		return a.setStatus(tk, ch.Status, "by "+me)
	case plan.Assign:
		return a.setAssignee(tk, ch.Agent)
	case plan.Unassign:
		return a.setAssignee(tk, "")
	case plan.SetGroup:
		return a.setGroup(tk, r, ch)
	case plan.SetPriority, plan.SetType:
		return a.applyShared(tk, ch)
	case plan.Tags:
		tk.Tags = applyPlusMinus(tk.Tags, ch.Add, ch.Remove)
		return a.event(tk, "tags: "+plan.DescribePlusMinus(ch.Add, ch.Remove))
	case plan.CCs, plan.Followers:
		return a.applyShared(tk, ch)
	case plan.SetRequester:
		return a.setRequester(tk, ch)
	case plan.MarkDone:
		if t := threadByID(tk, ch.Thread); t != nil && t.Status != "done" {
			t.Status = "done"
			return a.event(tk, fmt.Sprintf("side thread %d marked done by %s", ch.Thread, me))
		}
	case plan.SetParent:
		p, err := a.ticket(ch.Parent)
		if err != nil {
			return err
		}
		return a.linkParent(p, tk)
	case plan.SetAvailability:
		return a.setAvailability(r, ch)
	case plan.MarkSpam:
		return a.markSpam(tk, ch.Domain)
	case plan.SendHeld:
		return a.replayHeld(tk, r.view.held)
	case plan.Reply:
		return a.comment(r, 0, model.Public, fanOpts{}, false)
	case plan.Note:
		return a.comment(r, 0, model.Private, fanOpts{notify: ch.Notify}, false)
	case plan.SideMessage:
		return a.comment(r, ch.Thread, model.Private, fanOpts{toCollaborators: ch.ToCollaborators}, ch.ToCollaborators && ch.Reopen)
	case plan.StartSideThread:
		return a.startSideThread(tk, r, ch)
	case plan.OpenChild:
		return a.openChild(tk, r, ch.Subject)
	case plan.NoComment:
		return a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID})
	case plan.Merge:
		if err := a.save(tk); err != nil {
			return err
		}
		return a.merge(tk, ch.Into, ch.CC)
	case plan.RequestErase:
		return a.requestErase(r, tk, ch)
	case plan.ConfirmErase:
		return a.confirmErase(r, tk, ch)
	default:
		if customerChange(ch) {
			return a.applyCustomer(r, ch)
		}
		return fmt.Errorf("engine: no effect for the planned change %T", ch)
	}
	return nil
}

// applyShared makes the changes a person's commands and a rule's actions
// apply alike (the others differ: who an event names, whether an
// assignee is mailed, a group's automatic assignment).
func (a *applier) applyShared(tk *model.Ticket, ch plan.Change) error {
	switch ch := ch.(type) {
	case plan.SetPriority:
		return a.setField(tk, &tk.Priority, "priority", ch.Priority)
	case plan.SetType:
		return a.setField(tk, &tk.Type, "type", ch.Type)
	case plan.CCs:
		for _, x := range ch.Add {
			if _, err := a.ensure(x, ""); err != nil {
				return err
			}
		}
		tk.CCs = applyPlusMinus(tk.CCs, ch.Add, ch.Remove)
		return a.event(tk, "CCs: "+plan.DescribePlusMinus(ch.Add, ch.Remove))
	case plan.Followers:
		for _, x := range ch.Add {
			if err := a.setFollower(tk, x, true); err != nil {
				return err
			}
		}
		for _, x := range ch.Remove {
			if err := a.setFollower(tk, x, false); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("engine: %T is not a shared change", ch)
}

// fieldChange reports a change to the ticket's fields (or an answer),
// as opposed to what happens to the mail itself (the held mail, the
// text, the merge), which comes after all of them.
func fieldChange(ch plan.Change) bool {
	switch ch.(type) {
	case plan.SendHeld, plan.Reply, plan.Note, plan.SideMessage, plan.StartSideThread, plan.OpenChild, plan.NoComment, plan.Merge:
		return false
	}
	return true
}

// comment adds the mail's text to the ticket as a comment of thread
// with this visibility, and sends it as o says (#notify staff, the side
// thread's collaborators); reopen reopens the side thread if it is done.
func (a *applier) comment(r *cmdRun, thread uint32, vis string, o fanOpts, reopen bool) error {
	tk := r.tk
	c := a.inboundComment(thread, vis)
	c.Text = r.Text
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	if a.isResponse(tk, c) {
		a.markResponse(tk, a.now)
	}
	if th := threadByID(tk, thread); reopen && th != nil && th.Status == "done" {
		th.Status = "open"
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID, Thread: thread, Comment: c.ID}); err != nil {
		return err
	}
	return a.fanOut(tk, c, o)
}

// hasText: the mail's text becomes a comment on the ticket.
func (r *cmdRun) hasText() bool {
	for _, ch := range r.Changes {
		switch ch.(type) {
		case plan.Reply, plan.Note, plan.SideMessage:
			return true
		}
	}
	return false
}

// outgoing is the message a plan would send to end users or
// collaborators (nil if none), for the guards, and whether it goes to a
// side thread.
func (a *applier) outgoing(tk *model.Ticket, r *cmdRun) (*model.Comment, bool) {
	for _, ch := range r.Changes {
		var c *model.Comment
		side := false
		switch ch := ch.(type) {
		case plan.StartSideThread:
			var maxID uint32
			for _, th := range tk.Threads {
				maxID = max(maxID, th.ID)
			}
			c, side = a.inboundComment(maxID+1, model.Private), true
		case plan.SideMessage:
			if ch.ToCollaborators {
				c, side = a.inboundComment(ch.Thread, model.Private), true
			}
		case plan.Reply:
			c = a.inboundComment(0, model.Public)
		}
		if c != nil {
			c.Text = r.Text
			return c, side
		}
	}
	return nil, false
}

// ---- effects ----

// setGroup moves the ticket to another group and re-routes it (regroup).
func (a *applier) setGroup(tk *model.Ticket, r *cmdRun, ch plan.SetGroup) error {
	if tk.Group == ch.Group {
		return nil
	}
	tk.Group = ch.Group
	if err := a.event(tk, "group set to "+ch.Group); err != nil {
		return err
	}
	text := ""
	if r.hasText() {
		text = r.Text
	}
	return a.regroup(tk, ch.KeepAssignee, text)
}

// setRequester names the requester's user and makes it the requester
// (no longer a CC).
func (a *applier) setRequester(tk *model.Ticket, ch plan.SetRequester) error {
	if err := a.nameUser(ch.Addr, ch.Spelled, ch.Name, ch.Name != ""); err != nil {
		return err
	}
	if tk.Requester == ch.Addr {
		return nil
	}
	old := tk.Requester
	tk.Requester = ch.Addr
	tk.CCs = slices.DeleteFunc(tk.CCs, func(s string) bool { return s == ch.Addr })
	return a.event(tk, "requester "+old+" → "+ch.Addr)
}

// setAvailability marks the sender away or available; available assigns
// the tickets waiting in his groups (assignWaiting) and says so on the
// command's transcript line.
func (a *applier) setAvailability(r *cmdRun, ch plan.SetAvailability) error {
	u, err := a.ensure(a.staff.Email, a.in.agent.Name)
	if err != nil {
		return err
	}
	u.Away = ch.Away
	if err := a.saveUser(u); err != nil || ch.Away {
		return err
	}
	n, more, err := a.assignWaiting()
	if err != nil {
		return err
	}
	if n > 0 || more {
		msg := fmt.Sprintf("you are available for automatic assignment; %d waiting ticket%s assigned round-robin (each agent who got some was mailed the list)", n, plural(n))
		if more {
			msg += fmt.Sprintf("; more wait: at most %d are assigned per #available, send #available again for the next ones", MaxWakeAssign)
		}
		r.Results[ch.Command] = msg
		r.Confirm = true
	}
	return nil
}

func (a *applier) setAssignee(tk *model.Ticket, email string) error {
	if tk.Assignee == email {
		return nil
	}
	old := orDefault(tk.Assignee, "nobody")
	tk.Assignee = email
	if err := a.event(tk, "assignee "+old+" → "+orDefault(email, "nobody")); err != nil {
		return err
	}
	// audience.Decide says who is told (the new assignee, when another
	// staff member assigned it); a ticket this mail opened is announced
	// with everything at once instead.
	if a.created[tk.ID] {
		return nil
	}
	ev := audience.Event{Kind: audience.Assigned}
	if a.staff != nil {
		ev.Author = a.staff.Email
	}
	return a.notifyDecided(tk, ev, func(*config.Agent) (string, string) {
		return "Assigned to you: " + tk.Subject,
			fmt.Sprintf("%s assigned ticket #%d \"%s\" to you.", orDefault(a.in.agent.Name, a.staff.Email), tk.ID, tk.Subject)
	})
}

func (a *applier) setField(tk *model.Ticket, f *string, name, v string) error {
	if *f == v {
		return nil
	}
	old := orDefault(*f, "-")
	*f = v
	return a.event(tk, name+" "+old+" → "+v)
}

func (a *applier) setFollower(tk *model.Ticket, email string, add bool) error {
	has := slices.Contains(tk.Followers, email)
	switch {
	case add && !has:
		tk.Followers = append(tk.Followers, email)
		return a.event(tk, "follower added: "+email)
	case !add && has:
		tk.Followers = slices.DeleteFunc(tk.Followers, func(s string) bool { return s == email })
		return a.event(tk, "follower removed: "+email)
	}
	return nil
}

func applyPlusMinus(list, add, remove []string) []string {
	out := slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(remove, s) })
	for _, x := range add {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// linkParent makes p the parent of child (links both ways).
func (a *applier) linkParent(p, child *model.Ticket) error {
	child.Links = slices.DeleteFunc(child.Links, func(l model.Link) bool { return l.Kind == model.LinkParent })
	child.Links = append(child.Links, model.Link{Kind: model.LinkParent, Ticket: p.ID})
	if !slices.Contains(p.Links, model.Link{Kind: model.LinkChild, Ticket: child.ID}) {
		p.Links = append(p.Links, model.Link{Kind: model.LinkChild, Ticket: child.ID})
	}
	if err := a.event(child, fmt.Sprintf("child of #%d", p.ID)); err != nil {
		return err
	}
	if err := a.event(p, fmt.Sprintf("#%d is a child of this ticket", child.ID)); err != nil {
		return err
	}
	return a.save(p)
}

// openChild opens a child ticket (same requester, no acknowledgement or
// public mail); the mail's text becomes its first, private comment.
func (a *applier) openChild(parent *model.Ticket, r *cmdRun, subject string) error {
	ch := &model.Ticket{
		Subject: subject, Status: model.StatusOpen, Priority: parent.Priority, Mailbox: parent.Mailbox,
		Group: parent.Group, Requester: parent.Requester, Type: parent.Type, OnBehalf: true,
		Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: a.now}},
		CCs:     []string{}, Followers: []string{a.staff.Email}, Tags: []string{}, Links: []model.Link{},
	}
	if err := a.create(ch); err != nil {
		return err
	}
	if strings.TrimSpace(r.Text) != "" {
		c := a.inboundComment(0, model.Private)
		c.Text = r.Text
		if err := a.addComment(ch, c); err != nil {
			return err
		}
	}
	if err := a.linkParent(parent, ch); err != nil {
		return err
	}
	if err := a.save(ch); err != nil {
		return err
	}
	a.res.Detail = fmt.Sprintf("child ticket #%d opened", ch.ID)
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: ch.ID}); err != nil {
		return err
	}
	return a.announceChild(parent, ch, strings.TrimSpace(r.Text))
}

// startSideThread opens a side thread with outside collaborators and
// mails them the agent's text (SPEC 6).
func (a *applier) startSideThread(tk *model.Ticket, r *cmdRun, fw plan.StartSideThread) error {
	var maxID uint32
	for _, th := range tk.Threads {
		maxID = max(maxID, th.ID)
	}
	th := model.Thread{ID: maxID + 1, Kind: model.ThreadSide, Subject: fw.Subject, Collaborators: fw.Addrs,
		Status: "open", StartedBy: a.staff.Email, Created: a.now}
	tk.Threads = append(tk.Threads, th)
	for _, addr := range fw.Addrs {
		if _, err := a.ensure(addr, ""); err != nil {
			return err
		}
	}
	c := a.inboundComment(th.ID, model.Private)
	c.Text = r.Text
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	if err := a.event(tk, fmt.Sprintf("side thread %d started with %s (include %s)", th.ID, strings.Join(th.Collaborators, ", "), fw.Include)); err != nil {
		return err
	}
	var include []*model.Comment
	if fw.Include != "none" {
		cs, err := a.tx.Comments(tk.ID)
		if err != nil {
			return err
		}
		for _, x := range cs {
			if x.Kind == model.KindComment && x.Visibility == model.Public && x.Thread == 0 && !x.Hidden {
				include = append(include, x)
			}
		}
		if fw.Include == "last" && len(include) > 1 {
			include = include[len(include)-1:]
		}
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID, Thread: th.ID, Comment: c.ID}); err != nil {
		return err
	}
	if err := a.fanOut(tk, c, fanOpts{toCollaborators: true, include: include}); err != nil {
		return err
	}
	a.res.Detail = fmt.Sprintf("side thread %d started", th.ID)
	return a.save(tk)
}

// merge moves everything of tk into into (SPEC 4, 6): comments, CCs,
// followers, side threads; tokens and Message-IDs of tk resolve to into.
func (a *applier) merge(tk *model.Ticket, intoID uint64, cc bool) error {
	into, err := a.ticket(intoID)
	if err != nil {
		return err
	}
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return err
	}
	var maxID uint32
	for _, th := range into.Threads {
		maxID = max(maxID, th.ID)
	}
	threadMap := map[uint32]uint32{}
	for _, th := range tk.Threads {
		if th.Kind != model.ThreadSide {
			continue
		}
		maxID++
		threadMap[th.ID] = maxID
		th.ID = maxID
		into.Threads = append(into.Threads, th)
	}
	for _, c := range cs {
		nc := *c
		nc.ID = 0
		nc.Created = c.Created
		if c.Thread != 0 {
			nc.Thread = threadMap[c.Thread]
		}
		if nc.Kind == model.KindComment {
			nc.Text = fmt.Sprintf("[from #%d] %s", tk.ID, c.Text)
		}
		// Marked for the collision guard: moved history is not a reply.
		nc.Reason = fmt.Sprintf("%s moved from #%d (comment %d)", mergeMark, tk.ID, c.ID)
		if c.Reason != "" {
			nc.Reason += "; " + c.Reason
		}
		lastPublic := into.LastPublicSeq
		if err := a.addComment(into, &nc); err != nil {
			return err
		}
		into.LastPublicSeq = lastPublic // moved history is not a new reply
	}
	for _, x := range tk.CCs {
		if x != into.Requester && !slices.Contains(into.CCs, x) {
			into.CCs = append(into.CCs, x)
		}
	}
	for _, x := range tk.Followers {
		if !slices.Contains(into.Followers, x) {
			into.Followers = append(into.Followers, x)
		}
	}
	if cc && tk.Requester != into.Requester && !slices.Contains(into.CCs, tk.Requester) {
		into.CCs = append(into.CCs, tk.Requester)
	}
	into.Links = append(into.Links, model.Link{Kind: model.LinkMergedFrom, Ticket: tk.ID})
	tk.Links = append(tk.Links, model.Link{Kind: model.LinkMergedInto, Ticket: into.ID})
	tk.MergedInto = into.ID
	tk.MergedThreads = threadMap
	if err := a.setStatus(tk, model.StatusClosed, fmt.Sprintf("merged into #%d", into.ID)); err != nil {
		return err
	}
	if err := a.save(tk); err != nil {
		return err
	}
	// Tell both requesters (SPEC 4): a public note on the survivor.
	// Another requester's ticket: the survivor's people learn who
	// joins, never what the merged ticket was about.
	who := ""
	if tk.Requester != into.Requester {
		who = tk.Requester
		if u, err := a.user(tk.Requester); err == nil && u.Name != "" {
			who = u.Name + " <" + tk.Requester + ">"
		}
	}
	text, err := a.mergeText(tk, into, who)
	if err != nil {
		return err
	}
	note := &model.Comment{Kind: model.KindComment, Author: a.staff.Email, AuthorName: a.in.agent.Name, Visibility: model.Public,
		Reason: fmt.Sprintf("%s notice that #%d was merged here", mergeMark, tk.ID), Text: text}
	if err := a.addComment(into, note); err != nil {
		return err
	}
	if err := a.save(into); err != nil {
		return err
	}
	a.res.Ticket = into.ID
	a.res.Detail = fmt.Sprintf("#%d merged into #%d", tk.ID, into.ID)
	if cc || tk.Requester == into.Requester {
		return a.fanOut(into, note, fanOpts{})
	}
	return nil
}

// markSpam closes the ticket as spam and blocks its sender (or domain).
func (a *applier) markSpam(tk *model.Ticket, domain bool) error {
	key := tk.Requester
	if domain {
		key = "@" + threading.Domain(tk.Requester)
	}
	u, err := a.ensure(key, "")
	if err != nil {
		return err
	}
	u.Blocked = true
	if err := a.saveUser(u); err != nil {
		return err
	}
	if !slices.Contains(tk.Tags, "spam") {
		tk.Tags = append(tk.Tags, "spam")
	}
	if err := a.event(tk, "marked as spam; blocked "+key); err != nil {
		return err
	}
	return a.setStatus(tk, model.StatusClosed, "spam")
}

// listTickets renders #list (the views of a web helpdesk).
func (a *applier) listTickets(ch plan.ListTickets) string {
	which := ch.Which
	if v := a.e.Rules(a.cfg).View(which); v != nil {
		return a.listView(v)
	}
	me := a.staff.Email
	var ids []uint64
	for _, st := range []string{model.StatusOpen, model.StatusPending, model.StatusWaitingCustomer, model.StatusWaitingThirdParty} {
		ids = append(ids, a.tx.TicketIDs(st, 0)...)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	groups := map[string]bool{}
	for _, g := range a.in.agent.Groups {
		groups[strings.ToLower(g)] = true
	}
	within := defaultDueWithin
	if d, err := time.ParseDuration(ch.Within); err == nil && d > 0 {
		within = d
	}
	type row struct {
		tk   *model.Ticket
		note string
		left int64 // for "due": the soonest target's remaining seconds
	}
	var rows []row
	for _, id := range ids {
		tk, err := a.ticket(id)
		if err != nil || tk.MergedInto != 0 {
			continue
		}
		r := row{tk: tk}
		keep := false
		switch which {
		case "mine":
			keep = tk.Assignee == me
		case "unassigned":
			keep = tk.Assignee == ""
		case "group":
			keep = groups[strings.ToLower(tk.Group)]
		case "open":
			keep = tk.Status == model.StatusOpen
		case "stale":
			// No change for more than 24 hours while open or pending.
			keep = (tk.Status == model.StatusOpen || tk.Status == model.StatusPending) && a.now.Sub(tk.Updated) > 24*hour
		case "overdue":
			// A breached SLA target that is still running; a ticket no
			// policy matches is never overdue.
			res := sla.For(a.cfg, tk, a.now)
			for _, t := range res.Running() {
				if t.Breached {
					keep, r.note = true, t.Human()
					break
				}
			}
		case "due":
			res := sla.For(a.cfg, tk, a.now)
			if due := res.DueWithin(within); len(due) > 0 {
				keep, r.note, r.left = true, due[0].Human(), due[0].Remaining
				for _, t := range due[1:] {
					if t.Remaining < r.left {
						r.note, r.left = t.Human(), t.Remaining
					}
				}
			}
		}
		if keep {
			rows = append(rows, r)
		}
	}
	if which == "due" {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].left < rows[j].left })
	}
	var b strings.Builder
	for i, r := range rows {
		if i == 100 {
			break
		}
		tk := r.tk
		fmt.Fprintf(&b, "  #%-6d %-20s %-8s %-28s %s\n", tk.ID, tk.Status, tk.Priority, orDash(tk.Assignee), tk.Subject)
		if r.note != "" {
			fmt.Fprintf(&b, "          %s\n", r.note)
		}
	}
	n := len(rows)
	label := which
	if which == "due" {
		label = "due within " + sla.Dur(within) + " of business time"
	}
	head := fmt.Sprintf("Tickets (%s): %d", label, n)
	if n > 100 {
		head += " (first 100 shown)"
	}
	if n == 0 {
		return head + "\n  (none)"
	}
	return head + "\n" + b.String()
}
