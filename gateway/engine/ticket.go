package engine

import (
	"fmt"
	"slices"
	"strings"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/store/model"
	"helpdesk/threading"
)

const noSubject = "(no subject)"

func (a *applier) ticketSubject() string {
	s := threading.CleanSubject(a.mail().Subject, a.cfg.Threading.TagPrefix)
	if s == "" {
		return noSubject
	}
	return s
}

// ensureUser records an address as a user (SPEC 8: created on first mail).
// A user who writes to us is no longer considered bouncing.
//
// spelled is the address as this mail writes it (local part's case kept):
// what we send to from then on. The user's own mail sets it; a mail
// naming the user only fills it in when none is known.
func (a *applier) ensureUser(addr, spelled, name string, wrote bool) (*model.User, error) {
	u, err := a.ensure(addr, name)
	if err != nil {
		return nil, err
	}
	changed := false
	if wrote && u.Bouncing {
		u.Bouncing, u.Bounce = false, ""
		changed = true
	}
	if spelled == u.Addr || !strings.EqualFold(spelled, u.Addr) {
		spelled = "" // nothing to keep (or not this user's address)
	}
	if spelled != u.Spelling && (wrote || u.Spelling == "") && (spelled != "" || wrote) {
		u.Spelling = spelled
		changed = true
	}
	if changed {
		u.Updated = a.now
		if err := a.saveUser(u); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// newTicket opens a ticket for an end user's mail (SPEC 3.4, 3.5).
func (a *applier) newTicket(d threading.Decision) error {
	if a.staff != nil {
		return a.staffNewTicket(d)
	}
	m := a.mail()
	mb := a.mailbox()
	tk := &model.Ticket{
		Subject:       a.ticketSubject(),
		Status:        model.StatusOpen,
		Priority:      "normal",
		Mailbox:       strings.ToLower(mb.Address),
		Group:         mb.Group,
		Requester:     a.in.sender,
		RootMessageID: m.MessageID,
		Threads:       []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: a.now}},
		CCs:           []string{},
		Followers:     []string{},
		Tags:          []string{},
		Links:         []model.Link{},
		Language:      a.customerLanguage(mb),
		// Machine, bulk or spam-flagged mail, the null sender and a From
		// whose DMARC failed get no automatic mail, now or later (SPEC
		// 3.1): no acknowledgement, survey or rule's mail.
		NoAutoMail: m.SuppressAutoAnswer() || m.EnvelopeFrom == "" || a.in.verdict.DMARC == "fail",
	}
	if m.Class == threading.ClassAutoReply {
		tk.Tags = append(tk.Tags, "auto")
	}
	if d.Related != 0 {
		tk.Links = append(tk.Links, model.Link{Kind: model.LinkRelated, Ticket: d.Related})
	}
	if d.FollowUpOf != 0 {
		tk.Links = append(tk.Links, model.Link{Kind: model.LinkFollowUpOf, Ticket: d.FollowUpOf})
		if err := a.inherit(tk, d.FollowUpOf); err != nil {
			return err
		}
	}
	// The customer's tags (and their organization's) are on the ticket
	// before the triggers look at it.
	reqName := ""
	if tk.Requester == a.in.sender {
		reqName = m.From.Name
	}
	if err := a.requesterProfile(tk, reqName); err != nil {
		return err
	}
	if err := a.create(tk); err != nil {
		return err
	}
	if d.FollowUpOf != 0 {
		if err := a.followUpEvent(tk, d.FollowUpOf); err != nil {
			return err
		}
	}
	if _, err := a.ensureUser(a.in.sender, a.in.spelled, m.From.Name, true); err != nil {
		return err
	}
	c := a.inboundComment(0, model.Public)
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	a.markCustomer(tk, a.now, false)
	if err := a.addCustomerCCs(tk); err != nil {
		return err
	}
	if err := a.autoAssign(tk); err != nil {
		return err
	}
	if err := a.acknowledge(tk, c); err != nil {
		return err
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, model.DispTicket
	if d.FollowUpOf != 0 {
		if err := a.linkBack(d.FollowUpOf, model.LinkFollowUp, tk.ID); err != nil {
			return err
		}
	}
	if d.Related != 0 {
		// The agents of #N are told; the sender never is (SPEC 3.4).
		if err := a.tellRelated(d.Related, tk); err != nil {
			return err
		}
	}
	// The triggers' pass runs before the ticket is announced, so staff
	// hear of it where the rules put it (the group, the assignee).
	if err := a.pass(tk); err != nil {
		return err
	}
	if m.Class == threading.ClassAutoReply {
		return nil
	}
	return a.fanOut(tk, c, fanOpts{})
}

// replyToClosed handles an end user's reply to a closed ticket (SPEC
// 3.4): a bare acknowledgement is recorded on the closed ticket; a real
// reply joins the follow-up already open for it, or opens one.
func (a *applier) replyToClosed(d threading.Decision) error {
	closed, err := a.resolve(d.FollowUpOf)
	if err != nil {
		return a.newTicket(d)
	}
	if a.isAcknowledgement(a.bodyText()) {
		if _, err := a.ensureUser(a.in.sender, a.in.spelled, a.mail().From.Name, true); err != nil {
			return err
		}
		c := a.inboundComment(0, model.Public)
		if err := a.addComment(closed, c); err != nil {
			return err
		}
		a.markCustomer(closed, a.now, true)
		if err := a.event(closed, "acknowledgement recorded on the closed ticket; no follow-up opened"); err != nil {
			return err
		}
		if err := a.save(closed); err != nil {
			return err
		}
		a.res.Ticket, a.res.Disposition, a.res.Detail = closed.ID, model.DispComment, "acknowledgement to a closed ticket"
		return a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: closed.ID, Comment: c.ID})
	}
	if fu := a.openFollowUp(closed); fu != nil {
		if role := threading.RoleOf(a.in.sender, nil, ticketInfo(fu), nil); role == threading.RoleRequester || role == threading.RoleCC {
			return a.endUserComment(threading.Decision{Outcome: threading.OutPublicComment, Ticket: fu.ID, Role: role, Key: d.Key,
				Reason: fmt.Sprintf("reply to closed #%d joins its open follow-up #%d", closed.ID, fu.ID)})
		}
	}
	return a.newTicket(d)
}

// openFollowUp is the newest follow-up of tk that is not closed, if any.
func (a *applier) openFollowUp(tk *model.Ticket) *model.Ticket {
	for i := len(tk.Links) - 1; i >= 0; i-- {
		l := tk.Links[i]
		if l.Kind != model.LinkFollowUp {
			continue
		}
		if fu, err := a.resolve(l.Ticket); err == nil && fu.Status != model.StatusClosed && fu.ID != tk.ID {
			return fu
		}
	}
	return nil
}

// inherit gives a follow-up what the closed ticket had (SPEC 3.4):
// requester (the sender becomes a CC when a CC wrote), CCs, mailbox,
// group, type, tags, priority, and the assignee while still an available
// agent.
func (a *applier) inherit(tk *model.Ticket, from uint64) error {
	old, err := a.resolve(from)
	if err != nil {
		return nil // nothing to inherit from: an ordinary new ticket
	}
	sender := tk.Requester
	tk.Requester = old.Requester
	tk.CCs = append(tk.CCs, old.CCs...)
	if sender != old.Requester && !slices.Contains(tk.CCs, sender) {
		tk.CCs = append(tk.CCs, sender)
	}
	tk.Mailbox, tk.Group, tk.Type, tk.Priority = old.Mailbox, old.Group, old.Type, old.Priority
	for _, t := range old.Tags {
		if !slices.Contains(tk.Tags, t) {
			tk.Tags = append(tk.Tags, t)
		}
	}
	if ag := a.cfg.Agent(old.Assignee); ag != nil && ag.IsAgent() && !a.away(old.Assignee) {
		tk.Assignee = old.Assignee
	}
	return nil
}

// followUpEvent records what a follow-up took over from the closed ticket.
func (a *applier) followUpEvent(tk *model.Ticket, from uint64) error {
	text := fmt.Sprintf("follow-up of closed #%d: requester, CCs, group, tags and priority taken over", from)
	if tk.Assignee != "" {
		text += "; assigned to " + tk.Assignee + " as before"
	}
	return a.event(tk, text)
}

// inboundComment builds the comment of the mail being applied.
func (a *applier) inboundComment(thread uint32, vis string) *model.Comment {
	m := a.mail()
	var rcpts []string
	for _, r := range m.AllRecipients() {
		rcpts = append(rcpts, threading.NormalizeAddr(r.Addr))
	}
	author, name := a.in.sender, m.From.Name
	if a.staff != nil {
		author = a.staff.Email
		if a.in.agent.Name != "" {
			name = a.in.agent.Name
		}
	}
	a.inbound = &inboundRef{author: author, thread: thread}
	return &model.Comment{
		Thread: thread, Kind: model.KindComment, Author: author, AuthorName: name,
		Visibility: vis, Text: a.bodyText(), Message: a.msg.ID, MessageID: m.MessageID,
		Attachments: a.attachments(), Recipients: rcpts,
	}
}

// linkBack adds a link on another ticket pointing at this one.
func (a *applier) linkBack(other uint64, kind string, to uint64) error {
	o, err := a.ticket(other)
	if err != nil {
		return nil
	}
	o.Links = append(o.Links, model.Link{Kind: kind, Ticket: to})
	return a.save(o)
}

// tellRelated tells the agents of ticket n that a non-participant's mail
// that looked like a reply to it opened ticket tk.
func (a *applier) tellRelated(n uint64, tk *model.Ticket) error {
	rel, err := a.resolve(n)
	if err != nil {
		return nil
	}
	ev := &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk",
		Text: fmt.Sprintf("A mail from %s that looked like a reply to this ticket opened #%d (the sender is not a participant here).", tk.Requester, tk.ID)}
	if err := a.addComment(rel, ev); err != nil {
		return err
	}
	if err := a.save(rel); err != nil {
		return err
	}
	return a.notifyDecided(rel, audience.Event{Kind: audience.Notice}, func(*config.Agent) (string, string) {
		return "Possibly related: #" + fmt.Sprint(tk.ID), ev.Text
	})
}

// groupAgents are the agents (role agent or admin) of tk's group, or
// every agent when the group has none.
func (a *applier) groupAgents(tk *model.Ticket) []*config.Agent {
	var out []*config.Agent
	for _, g := range a.cfg.GroupAgents(tk.Group) {
		if g.IsAgent() {
			out = append(out, a.cfg.Agent(g.Email))
		}
	}
	if len(out) == 0 {
		// No group, or a group without agents: silence would mean nobody
		// knows the ticket exists, so every agent is told (check-config
		// warns of such a mailbox).
		for i := range a.cfg.Agents {
			if ag := &a.cfg.Agents[i]; ag.IsAgent() {
				out = append(out, a.cfg.Agent(ag.Email))
			}
		}
	}
	return out
}

// addCustomerCCs adds the addresses on an end user's To and Cc lines as
// ticket CCs (SPEC 3.7): never our own addresses, never staff, never the
// requester.
func (a *applier) addCustomerCCs(tk *model.Ticket) error {
	if !a.cfg.Threading.CustomerCC || a.staff != nil {
		return nil
	}
	var added []string
	for _, r := range a.mail().AllRecipients() {
		addr := a.e.normSender(a.cfg, r.Addr)
		if addr == "" || !strings.Contains(addr, "@") || a.cfg.IsOwnAddress(addr) || a.cfg.Agent(addr) != nil ||
			addr == tk.Requester || slices.Contains(tk.CCs, addr) {
			continue
		}
		if _, err := a.ensureUser(addr, a.e.spellSender(a.cfg, r.Addr), r.Name, false); err != nil {
			return err
		}
		tk.CCs = append(tk.CCs, addr)
		added = append(added, addr)
	}
	if len(added) > 0 {
		return a.event(tk, "CC added from the mail's recipients: "+strings.Join(added, ", "))
	}
	return nil
}

// event records a change on the ticket's audit trail.
func (a *applier) event(tk *model.Ticket, text string) error {
	author := "helpdesk" // a timer's change: no mail behind it
	var msg uint64
	if a.in != nil {
		author, msg = a.in.sender, a.msg.ID
	}
	if a.staff != nil {
		author = a.staff.Email
	}
	if a.rule != "" {
		author = "rule:" + a.rule
		if a.ruleWhat == "automation" {
			// Not "rule:": the triggers' pass sees an automation's
			// change as an update (event automation).
			author = "automation:" + a.rule
		}
	}
	c := &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: author, Text: text, Message: msg}
	if a.rule != "" {
		// A rule's events (its firing and what it changed) share one
		// stored record with the pass's events before them: a record per
		// firing was most of what rules cost a new ticket's commit
		// (issue 15). show --json lists each as before.
		if c.Created.IsZero() && !a.now.IsZero() {
			c.Created = a.now
		}
		return a.tx.AppendComment(tk, c)
	}
	return a.addComment(tk, c)
}

// autoAssign assigns a new ticket round-robin to the available agents of
// its group when the group asks for it (SPEC 7).
func (a *applier) autoAssign(tk *model.Ticket) error {
	g := a.cfg.Group(tk.Group)
	if g == nil || !g.AutoAssign || tk.Assignee != "" {
		return nil
	}
	avail := a.availableAgents(g.Name)
	if len(avail) == 0 {
		return nil // waits unassigned in the group
	}
	who, err := a.roundRobin(g.Name, avail)
	if err != nil {
		return err
	}
	tk.Assignee = who
	return a.event(tk, "assigned to "+tk.Assignee+" (round-robin)")
}

// availableAgents are the group's agents (not light agents) who are not
// #away, in config order: the candidates of round-robin.
func (a *applier) availableAgents(group string) []string {
	var avail []string
	for _, ag := range a.cfg.GroupAgents(group) {
		if email := staffEmail(&ag); ag.IsAgent() && !a.away(email) {
			avail = append(avail, email)
		}
	}
	return avail
}

// roundRobin picks the next of avail for the group (its counter is kept in
// the store, so the turn survives restarts).
func (a *applier) roundRobin(group string, avail []string) (string, error) {
	n, err := a.tx.Counter("rr:"+strings.ToLower(group), 1)
	if err != nil {
		return "", err
	}
	return avail[int((n-1)%uint64(len(avail)))], nil
}

// isAcknowledgement: a bare "thanks" that must not reopen a ticket (SPEC 3.4).
func (a *applier) isAcknowledgement(text string) bool {
	t := strings.ToLower(strings.TrimSpace(text))
	// Drop a trailing signature line or two ("Ken", "-- Ken").
	lines := strings.Split(t, "\n")
	var kept []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l == "--" || l == "-- " {
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) == 0 || len(kept) > 3 {
		return false
	}
	first := strings.Trim(kept[0], " !.,~^;:)(")
	first = strings.Join(strings.Fields(first), " ")
	for _, ack := range a.cfg.Threading.Acknowledgements {
		ack = strings.Trim(strings.ToLower(strings.TrimSpace(ack)), " !.,~^;:)(")
		if first == ack || strings.TrimSuffix(first, " so much") == ack || strings.TrimSuffix(first, " a lot") == ack {
			// The other lines may only be a short sign-off (a name).
			for _, l := range kept[1:] {
				if len(strings.Fields(l)) > 3 {
					return false
				}
			}
			return true
		}
	}
	return false
}

// endUserComment adds a requester's or CC's reply on the main thread.
func (a *applier) endUserComment(d threading.Decision) error {
	tk, err := a.resolve(d.Ticket)
	if err != nil {
		return err
	}
	if _, err := a.ensureUser(a.in.sender, a.in.spelled, a.mail().From.Name, true); err != nil {
		return err
	}
	c := a.inboundComment(0, model.Public)
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	ack := a.isAcknowledgement(c.Text)
	a.markCustomer(tk, a.now, ack)
	switch tk.Status {
	case model.StatusPending, model.StatusWaitingCustomer, model.StatusResolved:
		if ack {
			if err := a.event(tk, "acknowledgement recorded; status stays "+tk.Status); err != nil {
				return err
			}
		} else {
			if err := a.setStatus(tk, model.StatusOpen, "reopened by "+string(d.Role)+" reply"); err != nil {
				return err
			}
		}
	}
	if err := a.addCustomerCCs(tk); err != nil {
		return err
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, model.DispComment
	return a.fanOut(tk, c, fanOpts{})
}

// setStatus changes status and records it.
func (a *applier) setStatus(tk *model.Ticket, status, why string) error {
	if tk.Status == status {
		return nil
	}
	old := tk.Status
	tk.Status = status
	now := a.now
	tk.LogStatus(status, now)
	switch status {
	case model.StatusResolved:
		tk.ResolvedAt = &now
	case model.StatusClosed:
		tk.ClosedAt = &now
	case model.StatusOpen:
		tk.ResolvedAt, tk.ClosedAt = nil, nil
	}
	text := "status " + old + " → " + status
	if why != "" {
		text += " (" + why + ")"
	}
	return a.event(tk, text)
}

// sideMessage adds a private message to a side thread from a collaborator,
// the requester, a CC, a follower or a light agent; a done thread reopens.
func (a *applier) sideMessage(d threading.Decision) error {
	tk, err := a.resolve(d.Ticket)
	if err != nil {
		return err
	}
	th := threadByID(tk, d.Thread)
	if th == nil {
		return a.newTicket(threading.Decision{Outcome: threading.OutNewTicket, Related: tk.ID})
	}
	if a.staff == nil {
		if _, err := a.ensureUser(a.in.sender, a.in.spelled, a.mail().From.Name, true); err != nil {
			return err
		}
	}
	c := a.inboundComment(th.ID, model.Private)
	if a.staff != nil {
		c.Text = a.staffText()
	}
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	if th.Status == "done" {
		th.Status = "open"
		if err := a.event(tk, fmt.Sprintf("side thread %d reopened by a reply from %s", th.ID, a.in.sender)); err != nil {
			return err
		}
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID, Thread: th.ID, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, model.DispComment
	return a.fanOut(tk, c, fanOpts{})
}

func threadByID(tk *model.Ticket, id uint32) *model.Thread {
	for i := range tk.Threads {
		if tk.Threads[i].ID == id {
			return &tk.Threads[i]
		}
	}
	return nil
}

// staffText is a staff member's new text: quoted history removed and cut
// at the reply marker (SPEC 2), as Parse computed it.
func (a *applier) staffText() string {
	m := a.mail()
	if m.StaffText != "" || a.cfg.Threading.ReplyMarker != "" {
		return strings.TrimSpace(m.StaffText)
	}
	return strings.TrimSpace(m.NewText)
}

// staffEmail is the form of a staff member's address the engine stores
// and compares (tickets, followers, users, recipients). The config keeps
// an [[agent]] email as written, so it is lowercased here, in one place.
func staffEmail(ag *config.Agent) string { return strings.ToLower(strings.TrimSpace(ag.Email)) }
