package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/store/model"
	"helpdesk/threading/command"
)

// In a helpdesk driven only by mail, an agent who is not mailed does not
// know a ticket exists (issue 12). Whenever a ticket gets an assignee the
// assignee did not choose, or lands unassigned in a group, the assignee
// (or the group's agents) is told once per write: the first staff mail
// about the ticket that write sends them carries a line saying why they
// get it (an "intro"); whoever got no such mail gets a notice of its own
// when the write is done (flushIntros).

// intro is a pending "why you get this" for one staff member and ticket.
type intro struct {
	line    string // the sentence(s) that go first
	subject string // the subject of a notice of its own
	// text is shown under line in a notice of its own (e.g. the note the
	// mail added; staff may see any of the ticket).
	text string
}

// announce queues an intro for everyone audience.Decide chooses for an
// Intro on tk: its agents (the assignee, or the group's agents while
// unassigned) except the one named. lineFor words the intro for each
// recipient.
func (a *applier) announce(tk *model.Ticket, except string, subject, text string, lineFor func(ag *config.Agent) string) {
	ev := audience.Event{Kind: audience.Intro, Except: except}
	for _, r := range audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg}).Recipients {
		ag := a.cfg.Agent(r.Addr)
		if ag == nil {
			continue
		}
		addr := staffEmail(ag)
		if a.intros == nil {
			a.intros = map[uint64]map[string]intro{}
		}
		if a.intros[tk.ID] == nil {
			a.intros[tk.ID] = map[string]intro{}
		}
		a.intros[tk.ID][addr] = intro{line: lineFor(ag), subject: subject, text: text}
	}
}

// takeIntro returns (and forgets) the pending intro for addr on tk.
func (a *applier) takeIntro(tk *model.Ticket, addr string) string {
	m := a.intros[tk.ID]
	in, ok := m[addr]
	if !ok {
		return ""
	}
	delete(m, addr)
	return in.line
}

// flushIntros sends a notice of its own to everyone whose intro no mail
// of this write carried.
func (a *applier) flushIntros() error {
	for _, id := range slices.Sorted(maps.Keys(a.intros)) {
		m := a.intros[id]
		if len(m) == 0 {
			continue
		}
		tk, err := a.ticket(id)
		if err != nil {
			return err
		}
		for _, addr := range slices.Sorted(maps.Keys(m)) {
			in := m[addr]
			ag := a.cfg.Agent(addr)
			if ag == nil {
				continue
			}
			text := in.line
			if in.text != "" {
				text += "\n\n" + in.text
			}
			// notifyStaffEvent would take the intro itself: forget it first.
			delete(m, addr)
			if err := a.notifyStaffEvent(tk, ag, in.subject, text); err != nil {
				return err
			}
		}
	}
	return nil
}

// assignedLine says how tk came to its assignee or why it waits, for the
// agent ag being told.
func (a *applier) assignedLine(tk *model.Ticket, ag *config.Agent, roundRobin bool, by string) string {
	switch {
	case tk.Assignee == "" && !a.groupHasAgents(tk.Group):
		// audience.Decide told every agent: say why.
		return fmt.Sprintf("It waits unassigned: group %s has no agents, so every agent is told; any of you may take it (#assign me).", orDash(tk.Group))
	case tk.Assignee == "":
		return fmt.Sprintf("It waits unassigned in group %s: any of its agents may take it (#assign me).", orDash(tk.Group))
	case tk.Assignee != staffEmail(ag):
		return "It is assigned to " + tk.Assignee + "."
	case roundRobin:
		return fmt.Sprintf("It was assigned to you (round-robin in group %s).", orDash(tk.Group))
	default:
		return by + " assigned it to you."
	}
}

// senderName is the name of the staff member whose mail is applied.
func (a *applier) senderName() string {
	if a.in.agent != nil && a.in.agent.Name != "" {
		return a.in.agent.Name
	}
	return a.staff.Email
}

// announceOnBehalf assigns a ticket an agent opened on someone's behalf
// as customer mail would be (round-robin, SPEC 7) unless the mail chose
// (#assign), and tells its agents: the forwarded customer text reaches
// them as a notification of a public comment (a plain reply answers the
// customer), anything else as the intro of the note or a notice. The
// agent who opened it is told only when round-robin gave it to them.
// Nothing goes to the customer here: a ticket an agent opens is not
// acknowledged (the customer did not write to us).
func (a *applier) announceOnBehalf(tk *model.Ticket, r *cmdRun, first *model.Comment, reqLabel string) error {
	roundRobin := false
	if tk.Assignee == "" && !r.Block.Has("assign") {
		if err := a.autoAssign(tk); err != nil {
			return err
		}
		roundRobin = tk.Assignee != ""
	}
	opener := a.staff.Email
	except := opener
	if roundRobin && tk.Assignee == opener {
		except = "" // round-robin chose the opener: news to them too
	}
	by := a.senderName()
	text := ""
	if first == nil && strings.TrimSpace(r.Text) != "" {
		text = by + " wrote:\n\n" + r.Text
	}
	a.announce(tk, except, "New ticket: "+tk.Subject, text, func(ag *config.Agent) string {
		return fmt.Sprintf("%s opened ticket #%d on behalf of %s. %s", by, tk.ID, reqLabel, a.assignedLine(tk, ag, roundRobin, by))
	})
	if first != nil {
		return a.fanOut(tk, first, fanOpts{noEndUsers: true, except: except})
	}
	return nil
}

// announceChild assigns a new child ticket and tells its assignee (or
// its group's agents), naming the parent.
func (a *applier) announceChild(parent, ch *model.Ticket, text string) error {
	if err := a.autoAssign(ch); err != nil {
		return err
	}
	roundRobin := ch.Assignee != ""
	except := a.staff.Email
	if roundRobin && ch.Assignee == except {
		except = ""
	}
	by := a.senderName()
	if text != "" {
		text = by + " wrote:\n\n" + text
	}
	a.announce(ch, except, fmt.Sprintf("New child ticket of #%d: %s", parent.ID, ch.Subject), text, func(ag *config.Agent) string {
		return fmt.Sprintf("%s opened ticket #%d \"%s\" as a child of #%d \"%s\" (requester %s). %s",
			by, ch.ID, ch.Subject, parent.ID, parent.Subject, ch.Requester, a.assignedLine(ch, ag, roundRobin, by))
	})
	return nil
}

// regroup applies #group (issue 12): an assignee who belongs to the new
// group keeps the ticket; otherwise it is unassigned, the new group's
// assignment applies (round-robin when it has auto_assign), and the new
// assignee, or every agent of the group while it stays unassigned, is
// told. The sender is told only when round-robin chose them. When the
// same mail says #assign (keepAssignee), that choice stands and only the
// group changes. text is the mail's comment, if it adds one.
func (a *applier) regroup(tk *model.Ticket, keepAssignee bool, text string) error {
	if keepAssignee || a.created[tk.ID] {
		return nil // the mail's #assign, or the new ticket's announcement, decides
	}
	if tk.Assignee != "" && a.inGroup(tk.Assignee, tk.Group) {
		return nil
	}
	if tk.Assignee != "" {
		if err := a.event(tk, fmt.Sprintf("assignee %s → nobody (not in group %s)", tk.Assignee, tk.Group)); err != nil {
			return err
		}
		tk.Assignee = ""
	}
	if err := a.autoAssign(tk); err != nil {
		return err
	}
	roundRobin := tk.Assignee != ""
	except := a.staff.Email
	if roundRobin && tk.Assignee == except {
		except = ""
	}
	by := a.senderName()
	if text != "" {
		// Shown in a notice of its own; a note that reaches them says it.
		text = by + " wrote:\n\n" + text
	}
	a.announce(tk, except, "Moved to group "+tk.Group+": "+tk.Subject, text, func(ag *config.Agent) string {
		return fmt.Sprintf("%s moved ticket #%d to group %s. %s", by, tk.ID, tk.Group, a.assignedLine(tk, ag, roundRobin, by))
	})
	return nil
}

// nameUser records addr as a user with this display name: a name an
// agent typed (#requester "Name" <addr>) replaces the one we had.
func (a *applier) nameUser(addr, spelled, name string, typed bool) error {
	u, err := a.ensureUser(addr, spelled, name, false)
	if err != nil {
		return err
	}
	if typed && name != "" && u.Name != name {
		u.Name, u.Updated = name, a.now
		return a.saveUser(u)
	}
	return nil
}

// inGroup reports whether the staff member addr is an agent of group.
func (a *applier) inGroup(addr, group string) bool {
	for _, ag := range a.cfg.GroupAgents(group) {
		if staffEmail(&ag) == addr && ag.IsAgent() {
			return true
		}
	}
	return false
}

// requesterName is the display name #requester gave, if any.
func requesterName(b command.Block) string {
	if c, ok := b.Find("requester"); ok {
		return c.Display
	}
	return ""
}

// MaxWakeAssign bounds the tickets one #available assigns, so the write
// (which holds the store's single writer) stays short however long a
// group was away. Beyond it the tickets keep waiting, and the sender is
// told how to take the next ones (#available again).
const MaxWakeAssign = 200

// assignWaiting runs when an agent says #available (issue 12): the open
// tickets that wait unassigned in the agent's groups with auto_assign are
// assigned round-robin among each group's available agents, oldest
// first, at most MaxWakeAssign, and every agent who got tickets receives
// one digest listing them. It returns how many were assigned and whether
// more wait.
//
// The store indexes tickets by status only, so this reads the open
// tickets, oldest first, until it has assigned MaxWakeAssign: a cost that
// grows with the open backlog, not with the store.
func (a *applier) assignWaiting() (int, bool, error) {
	me := a.staff.Email
	groups := map[string]*config.Group{}
	if ag := a.cfg.Agent(me); ag != nil {
		for _, name := range ag.Groups {
			if g := a.cfg.Group(name); g != nil && g.AutoAssign {
				groups[strings.ToLower(g.Name)] = g
			}
		}
	}
	if len(groups) == 0 {
		return 0, false, nil
	}
	avail := map[string][]string{} // group -> its available agents
	for key, g := range groups {
		avail[key] = a.availableAgents(g.Name)
	}
	got := map[string][]*model.Ticket{}
	assigned, more := 0, false
	ids := a.tx.TicketIDs(model.StatusOpen, 0) // newest first
	for i := len(ids) - 1; i >= 0; i-- {
		var rt model.TicketRouting
		if tk, ok := a.tickets[ids[i]]; ok {
			rt = model.TicketRouting{Status: tk.Status, Group: tk.Group, Assignee: tk.Assignee, MergedInto: tk.MergedInto}
		} else {
			var err error
			if rt, err = a.tx.Routing(ids[i]); err != nil {
				return 0, false, fmt.Errorf("reading waiting ticket: %w", err)
			}
		}
		key := strings.ToLower(rt.Group)
		if rt.Assignee != "" || rt.MergedInto != 0 || rt.Status != model.StatusOpen || groups[key] == nil || len(avail[key]) == 0 {
			continue
		}
		if assigned == MaxWakeAssign {
			more = true
			break
		}
		tk, err := a.ticket(ids[i]) // this write's copy, changed and stored once
		if err != nil {
			return 0, false, err
		}
		if tk.Assignee, err = a.roundRobin(key, avail[key]); err != nil {
			return 0, false, err
		}
		if err := a.event(tk, fmt.Sprintf("assigned to %s (round-robin: it waited unassigned until %s was available)", tk.Assignee, me)); err != nil {
			return 0, false, err
		}
		if err := a.save(tk); err != nil {
			return 0, false, err
		}
		got[tk.Assignee] = append(got[tk.Assignee], tk)
		assigned++
	}
	for _, addr := range slices.Sorted(maps.Keys(got)) {
		if err := a.sendDigest(addr, got[addr]); err != nil {
			return 0, false, err
		}
	}
	return assigned, more, nil
}

// sendDigest mails one agent the list of tickets just assigned to them,
// when audience.Decide says he gets it (current staff).
func (a *applier) sendDigest(addr string, tks []*model.Ticket) error {
	d := audience.Decide(audience.Event{Kind: audience.Digest}, audience.Ticket{Assignee: addr}, staffDir{a.cfg})
	if len(d.Recipients) == 0 {
		return nil
	}
	ag := a.cfg.Agent(d.Recipients[0].Addr)
	if ag == nil {
		return nil
	}
	mb := a.mailbox()
	var b strings.Builder
	b.WriteString(a.cfg.Threading.ReplyMarker)
	b.WriteString("\n\n")
	who := a.senderName() + " is available again"
	if addr == a.staff.Email {
		who = "You are available again"
	}
	fmt.Fprintf(&b, "%s, so tickets that waited unassigned were assigned round-robin.\n", who)
	fmt.Fprintf(&b, "These %d are now yours (oldest first):\n\n", len(tks))
	for _, tk := range tks {
		fmt.Fprintf(&b, "  #%-6d %-40s %-30s waited %s\n", tk.ID, tk.Subject, tk.Requester, waited(a.now.Sub(tk.Created)))
	}
	fmt.Fprintf(&b, "\nTo work on one, send a new mail to %s starting with #ticket <number>;\n", strings.ToLower(mb.Address))
	b.WriteString("each ticket's next notification reaches you as its assignee.\n")
	return a.enqueue(out{
		kind: "notification", rcpt: addr, rcptName: ag.Name, mb: mb, fromName: mb.Name, private: true, staffTok: true,
		subject: fmt.Sprintf("Assigned to you: %d waiting ticket%s", len(tks), plural(len(tks))), text: b.String(),
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// waited renders how long a ticket waited: "45m", "5h", "3d 4h".
func waited(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	days := int(d.Hours()) / 24
	return fmt.Sprintf("%dd %dh", days, int(d.Hours())-24*days)
}

// groupHasAgents reports whether the group has an agent (not only light
// agents) to be told of its tickets.
func (a *applier) groupHasAgents(group string) bool {
	for _, g := range a.cfg.GroupAgents(group) {
		if g.IsAgent() {
			return true
		}
	}
	return false
}
