package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/command"
)

// The command language (SPEC 4) runs in two phases inside the store write:
// plan validates every line (syntax, role, and against the ticket and
// config) and records each change as a closure; only when no line has a
// problem are the closures run. Any problem applies nothing: the mail is
// kept as a hidden rejected record and the sender gets a transcript.

// cmdRun is one staff mail's command block on its way to a ticket.
type cmdRun struct {
	a      *applier
	tk     *model.Ticket
	d      threading.Decision
	block  command.Block
	probs  []command.Problem
	msgs   map[int]string // command index -> result text on success
	ops    []func() error
	answer []string // extra text for the transcript (#list, #help, #report)
	files  []model.InlineFile

	public  bool
	notify  []string
	forward *forwardPlan
	child   *childPlan
	mergeTo *model.Ticket
	mergeCC bool
	noText  bool // the text went elsewhere (#child) or there is none
	// toMain: an answer to a side-thread notification that says #reply
	// or #note; its text goes to the main thread, not to the side
	// thread's collaborators (SPEC 3.4, 6).
	toMain   bool
	sendHeld *model.Comment
	confirm  bool // a transcript is wanted even on success
	// afterOps runs once the commands are applied, before the mail's
	// text is added and sent (a new ticket's assignment and announcement).
	afterOps func() error
}

type forwardPlan struct {
	addrs   []string
	include string
	subject string
}

type childPlan struct{ subject string }

func (r *cmdRun) fail(c command.Command, format string, args ...any) {
	r.probs = append(r.probs, command.Problem{Command: c, Message: fmt.Sprintf(format, args...)})
}

func (r *cmdRun) ok(i int, format string, args ...any) { r.msgs[i] = fmt.Sprintf(format, args...) }

func (r *cmdRun) op(f func() error) { r.ops = append(r.ops, f) }

// staffMail applies an authenticated staff member's mail to a ticket: the
// command block, then the text as a public reply, a private note or a
// side-thread message (SPEC 3.4, 4).
func (a *applier) staffMail(d threading.Decision) error {
	tk, err := a.resolve(d.Ticket)
	if err != nil {
		return err
	}
	return a.runCommands(tk, d, a.staffText())
}

// staffNewTicket handles a staff mail with no thread keys (SPEC 3.5): it
// acts on ticket N with #ticket N, else opens a ticket on someone's behalf.
func (a *applier) staffNewTicket(d threading.Decision) error {
	text := a.staffText()
	b := command.Parse(text)
	if c, ok := b.Find("ticket"); ok && len(c.Args) == 1 {
		if n, ok := command.TicketNumber(c.Args[0]); ok {
			if tk, err := a.resolve(n); err == nil {
				// A fresh mail acting on a ticket: its text is a
				// private note unless #reply says otherwise.
				return a.runCommands(tk, threading.Decision{Outcome: threading.OutStaff, Ticket: tk.ID, DefaultPrivate: true, Role: threading.RoleAgent}, text)
			}
		}
	}
	if ticketless(b) {
		// #list, #help, #report, #available, #away alone: answered by
		// mail, no ticket is opened.
		r := a.planCommands(nil, threading.Decision{Outcome: threading.OutStaff, DefaultPrivate: true, Role: threading.RoleAgent}, b, false)
		if len(r.probs) > 0 {
			return a.reject(nil, r)
		}
		for _, op := range r.ops {
			if err := op(); err != nil {
				return err
			}
		}
		a.res.Disposition, a.res.Detail = model.DispCommands, "commands without a ticket"
		if r.confirm {
			return a.transcript(nil, r, true)
		}
		return nil
	}
	if a.in.agent.IsLight() {
		// Light agents write private notes on existing tickets only.
		r := &cmdRun{a: a, block: b}
		r.probs = append(r.probs, command.Problem{Command: command.Command{Raw: "(new mail)"},
			Message: "light agents cannot open tickets: reply to a ticket notification to add a private note"})
		return a.reject(nil, r)
	}
	return a.onBehalfTicket(text, b)
}

// ticketless reports whether a block holds only commands that concern the
// sender rather than a ticket, and no text.
func ticketless(b command.Block) bool {
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

// onBehalfTicket opens a ticket for a customer from an agent's mail: the
// requester from #requester, or the original sender of a forwarded mail
// (whose content becomes the requester's first comment and the agent's
// own text a private note).
func (a *applier) onBehalfTicket(text string, b command.Block) error {
	m := a.mail()
	mb := a.mailbox()
	requester, reqName, reqSpelled := "", "", ""
	firstText := ""
	note := b.Text
	if c, ok := b.Find("requester"); ok && len(c.Args) == 1 {
		if addr, ok := command.ParseAddr(c.Args[0]); ok {
			requester, reqSpelled, reqName = threading.NormalizeAddr(addr), threading.SpellAddr(addr), c.Display
		}
	}
	if fw := m.Forwarded; fw != nil && fw.From.Addr != "" {
		if requester == "" {
			requester, reqName, reqSpelled = fw.From.Norm(), fw.From.Name, threading.SpellAddr(fw.From.Addr)
		}
		firstText = strings.TrimSpace(fw.Text)
		note = strings.TrimSpace(command.Parse(a.cutStaff(fw.Note)).Text)
	}
	if requester == "" {
		// Nobody named: the agent is the requester (an internal ticket).
		requester, reqName = a.staff.Email, a.in.agent.Name
	}
	subject := a.ticketSubject()
	if fw := m.Forwarded; fw != nil && fw.Subject != "" {
		subject = orDefault(threading.CleanSubject(fw.Subject, a.cfg.Threading.TagPrefix), subject)
	}
	tk := &model.Ticket{
		Subject: subject, Status: model.StatusOpen, Priority: "normal",
		Mailbox: strings.ToLower(mb.Address), Group: mb.Group, Requester: requester,
		// Not the agent's own Message-ID: it would show in the headers of
		// every public mail to the customer (it may name the agent).
		RootMessageID: "",
		Threads:       []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: a.now}},
		CCs:           []string{}, Followers: []string{}, Tags: []string{}, Links: []model.Link{},
	}
	// Validate the commands against the ticket-to-be before anything is
	// written: a rejected mail opens no ticket.
	r := a.planCommands(tk, threading.Decision{Outcome: threading.OutStaff, DefaultPrivate: true, Role: threading.RoleAgent}, b, true)
	if len(r.probs) > 0 {
		return a.reject(nil, r)
	}
	if err := a.create(tk); err != nil {
		return err
	}
	if err := a.nameUser(requester, reqSpelled, reqName, requesterName(b) != ""); err != nil {
		return err
	}
	var first *model.Comment
	if firstText != "" {
		first = &model.Comment{Kind: model.KindComment, Author: requester, AuthorName: reqName, Visibility: model.Public,
			Text: firstText, Message: a.msg.ID, MessageID: m.MessageID, Attachments: a.attachments()}
		if err := a.tx.AddComment(tk, first); err != nil {
			return err
		}
	}
	if err := a.event(tk, fmt.Sprintf("ticket opened by %s on behalf of %s", a.staff.Email, requester)); err != nil {
		return err
	}
	r.tk = tk
	r.block.Text = note
	if firstText == "" && !r.block.Has("reply") {
		// No forwarded content: the agent's text describes the request.
		r.public = false
	}
	r.afterOps = func() error { return a.announceOnBehalf(tk, r, first, requesterLabel(requester, reqName)) }
	if err := a.applyPlan(r); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, model.DispTicket
	return nil
}

// cutStaff cuts text at the reply marker.
func (a *applier) cutStaff(text string) string {
	return strings.TrimSpace(threading.CutAtMarker(text, a.cfg.Threading.ReplyMarker))
}

// runCommands plans and applies a staff mail's block on tk.
func (a *applier) runCommands(tk *model.Ticket, d threading.Decision, text string) error {
	b := command.Parse(text)
	r := a.planCommands(tk, d, b, false)
	if len(r.probs) > 0 {
		return a.reject(tk, r)
	}
	if err := a.applyPlan(r); err != nil {
		return err
	}
	if a.res.Disposition == "" {
		a.res.Disposition = model.DispComment
		if !r.hasText() {
			a.res.Disposition = model.DispCommands
		}
	}
	a.res.Ticket = r.tk.ID
	return nil
}

// inSide: the mail's text is a message of the side thread it answers
// (no #reply or #note moved it to the main thread).
func (r *cmdRun) inSide() bool { return r.d.Outcome == threading.OutStaffSide && !r.toMain }

func (r *cmdRun) hasText() bool { return !r.noText && strings.TrimSpace(r.block.Text) != "" }

// planCommands validates a block: syntax and role (package command), then
// everything that needs the ticket and the config.
func (a *applier) planCommands(tk *model.Ticket, d threading.Decision, b command.Block, newTicket bool) *cmdRun {
	r := &cmdRun{a: a, tk: tk, d: d, msgs: map[int]string{}}
	var names []string
	for _, m := range a.cfg.Macros {
		names = append(names, m.Name)
	}
	b, mp := command.ExpandMacro(b, func(name string) ([]string, string, bool) {
		m := a.cfg.Macro(name)
		if m == nil {
			return nil, "", false
		}
		return m.Commands, m.Text, true
	}, names...)
	r.block = b
	r.probs = append(r.probs, mp...)
	role := command.Role(a.in.agent.Role)
	r.probs = append(r.probs, command.Validate(b, role)...)
	if len(mp) > 0 {
		// The block could not be expanded: its lines are not what the
		// agent meant to run.
		return r
	}
	// Lines with a syntax or role problem are not planned; every other
	// line is checked against the ticket and config too, so one
	// transcript names every bad line (a syntax error elsewhere must not
	// make "#assign alise" look fine).
	bad := map[int]bool{}
	for _, p := range r.probs {
		bad[p.Line] = true
	}
	light := a.in.agent.IsLight()
	side := d.Outcome == threading.OutStaffSide
	r.toMain = side && (b.Has("reply") || b.Has("note") || b.Has("notify"))
	r.public = b.Public(!d.DefaultPrivate) && !light && (!side || r.toMain)
	if light || d.Outcome == threading.OutNote {
		r.public = false
	}
	if a.cfg.Commands.Confirm == "always" {
		r.confirm = true
	}
	for i, c := range b.Commands {
		if i >= command.MaxCommands {
			break // Validate refused the block; later lines were not read
		}
		if c.Macro == "" && bad[c.Line] || c.Macro != "" && macroLineBad(r.probs, c) {
			continue
		}
		a.planOne(r, i, c, newTicket)
	}
	return r
}

// macroLineBad reports whether a problem concerns this command expanded
// from a macro (its lines share the #macro line's number).
func macroLineBad(probs []command.Problem, c command.Command) bool {
	for _, p := range probs {
		if p.Line == c.Line && p.Raw == c.Raw && p.Macro == c.Macro {
			return true
		}
	}
	return false
}

// planOne validates one command and records its change.
func (a *applier) planOne(r *cmdRun, i int, c command.Command, newTicket bool) {
	tk := r.tk
	me := a.staff.Email
	arg := func(n int) string {
		if n < len(c.Args) {
			return c.Args[n]
		}
		return ""
	}
	switch c.Name {
	case "end", "include", "subject", "reply", "note":
		switch c.Name {
		case "reply":
			if r.toMain {
				r.ok(i, "this mail's text is a public reply to the requester and CCs on the main thread (side thread %d's collaborators do not get it)", r.d.Thread)
			} else {
				r.ok(i, "this mail's text is a public reply")
			}
		case "note":
			if r.toMain {
				r.ok(i, "this mail's text is a private note on the main thread, for staff only (side thread %d's collaborators do not get it)", r.d.Thread)
			} else {
				r.ok(i, "this mail's text is a private note")
			}
		}
	case "status":
		st := arg(0)
		if st == model.StatusResolved || st == model.StatusClosed {
			if open := a.openChildren(tk); len(open) > 0 && a.cfg.Tickets.ParentBlocksResolve {
				r.fail(c, "ticket #%d has open child tickets (%s); resolve them first", tk.ID, joinIDs(open))
				return
			}
		}
		r.ok(i, "status set to %s", st)
		r.op(func() error { return a.setStatus(tk, st, "by "+me) })
	case "assign":
		v := arg(0)
		switch strings.ToLower(v) {
		case "me":
			if a.in.agent.IsLight() {
				r.fail(c, "light agents cannot be assigned")
				return
			}
			r.ok(i, "assigned to you")
			r.op(func() error { return a.setAssignee(tk, me) })
		case "none":
			r.ok(i, "unassigned")
			r.op(func() error { return a.setAssignee(tk, "") })
		default:
			ag := a.cfg.AgentByNameOrAlias(v)
			if ag == nil {
				r.fail(c, "unknown agent %q%s", v, a.agentSuggestion(v))
				return
			}
			if !ag.IsAgent() {
				r.fail(c, "%s is a light agent and cannot be assigned", ag.Name)
				return
			}
			email := staffEmail(ag)
			r.ok(i, "assigned to %s", ag.Name)
			r.op(func() error { return a.setAssignee(tk, email) })
		}
	case "group":
		g := a.cfg.Group(arg(0))
		if g == nil {
			var gs []string
			for _, x := range a.cfg.Groups {
				gs = append(gs, x.Name)
			}
			r.fail(c, "unknown group %q%s", arg(0), didYouMean(arg(0), gs))
			return
		}
		name := g.Name
		r.ok(i, "group set to %s", name)
		r.op(func() error {
			if tk.Group == name {
				return nil
			}
			tk.Group = name
			if err := a.event(tk, "group set to "+name); err != nil {
				return err
			}
			return a.regroup(tk, r)
		})
	case "priority":
		v := arg(0)
		r.ok(i, "priority set to %s", v)
		r.op(func() error { return a.setField(tk, &tk.Priority, "priority", v) })
	case "type":
		v := arg(0)
		r.ok(i, "type set to %s", v)
		r.op(func() error { return a.setField(tk, &tk.Type, "type", v) })
	case "tag":
		add, remove := command.PlusMinus(c.Args)
		for j := range add {
			add[j] = strings.ToLower(add[j])
		}
		for j := range remove {
			remove[j] = strings.ToLower(remove[j])
		}
		r.ok(i, "tags: %s", describePlusMinus(add, remove))
		r.op(func() error {
			tk.Tags = applyPlusMinus(tk.Tags, add, remove)
			return a.event(tk, "tags: "+describePlusMinus(add, remove))
		})
	case "cc":
		add, remove := command.PlusMinus(c.Args)
		var adds, rems []string
		for _, x := range add {
			addr, _ := command.ParseAddr(x)
			addr = threading.NormalizeAddr(addr)
			if a.cfg.IsOwnAddress(addr) {
				r.fail(c, "%s is one of our own addresses and cannot be a CC", addr)
				return
			}
			adds = append(adds, addr)
		}
		for _, x := range remove {
			addr, _ := command.ParseAddr(x)
			rems = append(rems, threading.NormalizeAddr(addr))
		}
		r.ok(i, "CCs: %s", describePlusMinus(adds, rems))
		r.op(func() error {
			for _, x := range adds {
				if _, err := a.ensure(x, ""); err != nil {
					return err
				}
			}
			tk.CCs = applyPlusMinus(tk.CCs, adds, rems)
			return a.event(tk, "CCs: "+describePlusMinus(adds, rems))
		})
	case "follow", "unfollow":
		add := c.Name == "follow"
		if add {
			r.ok(i, "you follow this ticket")
		} else {
			r.ok(i, "you no longer follow this ticket")
		}
		r.op(func() error { return a.setFollower(tk, me, add) })
	case "follower":
		add, remove := command.PlusMinus(c.Args)
		var adds, rems []string
		for _, list := range []struct {
			in  []string
			out *[]string
		}{{add, &adds}, {remove, &rems}} {
			for _, x := range list.in {
				ag := a.cfg.AgentByNameOrAlias(x)
				if ag == nil {
					r.fail(c, "unknown agent %q%s", x, a.agentSuggestion(x))
					return
				}
				*list.out = append(*list.out, staffEmail(ag))
			}
		}
		r.ok(i, "followers: %s", describePlusMinus(adds, rems))
		r.op(func() error {
			for _, x := range adds {
				if err := a.setFollower(tk, x, true); err != nil {
					return err
				}
			}
			for _, x := range rems {
				if err := a.setFollower(tk, x, false); err != nil {
					return err
				}
			}
			return nil
		})
	case "notify":
		for _, x := range c.Args {
			ag := a.cfg.AgentByNameOrAlias(x)
			if ag == nil {
				r.fail(c, "unknown agent %q%s", x, a.agentSuggestion(x))
				return
			}
			r.notify = append(r.notify, staffEmail(ag))
		}
		if r.block.Has("note") {
			r.ok(i, "notifying %s", strings.Join(r.notify, ", "))
		} else {
			r.ok(i, "this mail's text is a private note; notifying %s", strings.Join(r.notify, ", "))
		}
	case "requester":
		addr, _ := command.ParseAddr(arg(0))
		addr = threading.NormalizeAddr(addr)
		if a.cfg.IsOwnAddress(addr) {
			r.fail(c, "%s is one of our own addresses", addr)
			return
		}
		r.ok(i, "requester set to %s", requesterLabel(addr, c.Display))
		if newTicket {
			return // used when the ticket was opened
		}
		name, spelled := c.Display, threading.SpellAddr(arg(0))
		r.op(func() error {
			if err := a.nameUser(addr, spelled, name, name != ""); err != nil {
				return err
			}
			if tk.Requester == addr {
				return nil
			}
			old := tk.Requester
			tk.Requester = addr
			tk.CCs = slices.DeleteFunc(tk.CCs, func(s string) bool { return s == addr })
			return a.event(tk, "requester "+old+" → "+addr)
		})
	case "forward":
		a.planForward(r, i, c)
	case "done":
		if r.d.Outcome != threading.OutStaffSide {
			r.fail(c, "#done closes a side thread: use it in a reply to a side-thread notification")
			return
		}
		th := r.d.Thread
		r.ok(i, "side thread %d marked done", th)
		r.op(func() error {
			if t := threadByID(tk, th); t != nil && t.Status != "done" {
				t.Status = "done"
				return a.event(tk, fmt.Sprintf("side thread %d marked done by %s", th, me))
			}
			return nil
		})
	case "merge":
		a.planMerge(r, i, c)
	case "parent":
		n, _ := command.TicketNumber(arg(0))
		p, err := a.resolve(n)
		if err != nil {
			r.fail(c, "ticket #%d does not exist", n)
			return
		}
		if p.ID == tk.ID || (tk.ID != 0 && a.isAncestor(tk.ID, p)) {
			r.fail(c, "#%d cannot be the parent of #%d (that would make a cycle)", p.ID, tk.ID)
			return
		}
		r.ok(i, "parent set to #%d", p.ID)
		r.op(func() error { return a.linkParent(p, tk) })
	case "child":
		subject := arg(0)
		if subject == "" {
			if s, ok := r.block.Find("subject"); ok {
				subject = s.Args[0]
			}
		}
		if subject == "" {
			r.fail(c, "#child needs a subject: #child <subject> or #subject <subject>")
			return
		}
		r.child = &childPlan{subject: subject}
		r.noText = true
		r.ok(i, "child ticket opened: %s", subject)
	case "macro":
		// Expanded by command.ExpandMacro; nothing left to do.
	case "available", "away":
		away := c.Name == "away"
		if away {
			r.ok(i, "you are away: no tickets are assigned to you automatically")
		} else {
			r.ok(i, "you are available for automatic assignment")
		}
		r.op(func() error {
			u, err := a.ensure(me, a.in.agent.Name)
			if err != nil {
				return err
			}
			u.Away = away
			if err := a.saveUser(u); err != nil || away {
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
				r.ok(i, "%s", msg)
				r.confirm = true
			}
			return nil
		})
	case "ticket":
		n, _ := command.TicketNumber(arg(0))
		named, err := a.resolve(n)
		if err != nil {
			r.fail(c, "ticket #%d does not exist", n)
			return
		}
		if tk.ID != 0 && named.ID != tk.ID {
			// In an answer to a notification the ticket is the one
			// answered; #ticket N belongs in a new mail. Guessing which
			// was meant could change the wrong ticket: refuse all.
			r.fail(c, "this mail answers a notification of ticket #%d; #ticket %d belongs in a new mail to the support address. Nothing was applied to either ticket", tk.ID, n)
			return
		}
		r.ok(i, "acting on ticket #%d", tk.ID)
	case "list":
		r.answer = append(r.answer, a.listTickets(arg(0)))
		r.ok(i, "list %s: see below", arg(0))
		r.confirm = true
	case "spam":
		if len(c.Args) > 0 && c.Args[0] == "domain" {
			if !a.in.agent.IsAdmin() {
				r.fail(c, "#spam domain is for admins")
				return
			}
		}
		if a.cfg.Agent(tk.Requester) != nil || a.cfg.IsOwnAddress(tk.Requester) {
			r.fail(c, "the requester %s is staff or one of our addresses and cannot be blocked", tk.Requester)
			return
		}
		domain := len(c.Args) > 0 && c.Args[0] == "domain"
		r.ok(i, "closed as spam; sender blocked")
		r.op(func() error { return a.markSpam(tk, domain) })
	case "send":
		if a.replaying {
			r.ok(i, "ignored (already sending a held mail)")
			return
		}
		held := a.heldComment(tk)
		if held == nil {
			r.fail(c, "nothing to send: #send releases a held reply; use it in a reply to the held-mail transcript")
			return
		}
		r.sendHeld = held
		r.ok(i, "held reply released")
	case "report":
		// Until reports exist this is an error line: a transcript may
		// never claim what was not done.
		r.fail(c, "reports are not available yet in this version of helpdesk: no report was made")
	case "help":
		r.answer = append(r.answer, command.HelpCard())
		r.ok(i, "command card: see below")
		r.confirm = true
	}
}

// planForward validates #forward (SPEC 6): external addresses only.
func (a *applier) planForward(r *cmdRun, i int, c command.Command) {
	if r.forward == nil {
		r.forward = &forwardPlan{include: "none"}
		if inc, ok := r.block.Find("include"); ok {
			r.forward.include = inc.Args[0]
		}
		if s, ok := r.block.Find("subject"); ok {
			r.forward.subject = s.Args[0]
		}
	}
	for _, x := range c.Args {
		addr, _ := command.ParseAddr(x)
		addr = threading.NormalizeAddr(addr)
		switch {
		case a.cfg.IsOwnAddress(addr):
			r.fail(c, "%s is one of our own mailboxes: a side thread goes to an outside address", addr)
			return
		case addr == r.tk.Requester || slices.Contains(r.tk.CCs, addr):
			r.fail(c, "%s is already on the ticket (requester or CC): answer them publicly instead", addr)
			return
		}
		if !slices.Contains(r.forward.addrs, addr) {
			r.forward.addrs = append(r.forward.addrs, addr)
		}
	}
	if strings.TrimSpace(r.block.Text) == "" && r.forward.include == "none" && len(a.mail().Attachments) == 0 {
		r.fail(c, "nothing to forward: write the message below the commands or use #include last|all")
		return
	}
	r.noText = true // the text goes to the side thread, not the main thread
	r.ok(i, "side thread started with %s", strings.Join(r.forward.addrs, ", "))
}

// planMerge validates #merge N [cc] (SPEC 4, 6).
func (a *applier) planMerge(r *cmdRun, i int, c command.Command) {
	tk := r.tk
	n, _ := command.TicketNumber(c.Args[0])
	into, err := a.resolve(n)
	if err != nil {
		r.fail(c, "ticket #%d does not exist", n)
		return
	}
	if into.ID == tk.ID || tk.ID == 0 {
		r.fail(c, "a ticket cannot be merged into itself")
		return
	}
	cc := len(c.Args) > 1 && c.Args[1] == "cc"
	if into.Requester != tk.Requester && !cc {
		r.fail(c, "#%d has another requester (%s); merge with \"#merge %d cc\" to add %s as a CC of #%d", into.ID, into.Requester, into.ID, tk.Requester, into.ID)
		return
	}
	r.mergeTo, r.mergeCC = into, cc
	r.ok(i, "merged into #%d", into.ID)
}

// applyPlan runs the recorded changes, adds the mail's text, and sends
// what the commands cause.
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
	for _, op := range r.ops {
		if err := op(); err != nil {
			return err
		}
	}
	if r.afterOps != nil {
		if err := r.afterOps(); err != nil {
			return err
		}
	}
	m := a.mail()
	if r.sendHeld != nil {
		if err := a.replayHeld(tk, r.sendHeld); err != nil {
			return err
		}
	}
	switch {
	case r.forward != nil:
		if err := a.startSideThread(tk, r); err != nil {
			return err
		}
	case r.child != nil:
		if err := a.openChild(tk, r); err != nil {
			return err
		}
	case r.hasText():
		vis := model.Private
		if r.public {
			vis = model.Public
		}
		var thread uint32
		side := r.inSide()
		if side {
			thread = r.d.Thread
		}
		// A light agent's text stays on the side thread for staff: it is
		// never mailed to the collaborators (SPEC 1).
		toCollaborators := side && !a.in.agent.IsLight()
		c := a.inboundComment(thread, vis)
		c.Text = r.block.Text
		if err := a.tx.AddComment(tk, c); err != nil {
			return err
		}
		if toCollaborators {
			if th := threadByID(tk, thread); th != nil && th.Status == "done" && !r.block.Has("done") {
				th.Status = "open"
			}
		}
		if err := a.save(tk); err != nil {
			return err
		}
		if err := a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Thread: thread, Comment: c.ID}); err != nil {
			return err
		}
		if err := a.fanOut(tk, c, fanOpts{notify: r.notify, toCollaborators: toCollaborators}); err != nil {
			return err
		}
	default:
		if err := a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID}); err != nil {
			return err
		}
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if r.mergeTo != nil {
		if err := a.merge(tk, r.mergeTo, r.mergeCC); err != nil {
			return err
		}
	}
	if r.confirm {
		return a.transcript(tk, r, true)
	}
	return nil
}

// outgoing is the message a plan would send to end users or
// collaborators (nil if none), for the guards, and whether it goes to a
// side thread.
func (a *applier) outgoing(tk *model.Ticket, r *cmdRun) (*model.Comment, bool) {
	switch {
	case r.forward != nil:
		var maxID uint32
		for _, th := range tk.Threads {
			maxID = max(maxID, th.ID)
		}
		c := a.inboundComment(maxID+1, model.Private)
		c.Text = r.block.Text
		return c, true
	case r.child != nil || !r.hasText():
		return nil, false
	}
	side := r.inSide()
	if side && !a.in.agent.IsLight() {
		c := a.inboundComment(r.d.Thread, model.Private)
		c.Text = r.block.Text
		return c, true
	}
	if !side && r.public {
		c := a.inboundComment(0, model.Public)
		c.Text = r.block.Text
		return c, false
	}
	return nil, false
}

// reject keeps a refused staff mail as a hidden record on the ticket and
// mails the sender a transcript (SPEC 4): nothing else happens.
func (a *applier) reject(tk *model.Ticket, r *cmdRun) error {
	a.res.Disposition = model.DispRejected
	results := command.Results(r.block, r.probs)
	transcript := command.FormatTranscript(results, false)
	if tk != nil {
		c := &model.Comment{Kind: model.KindRejected, Author: a.staff.Email, AuthorName: a.in.agent.Name,
			Visibility: model.Private, Hidden: true, Text: a.staffText(), Message: a.msg.ID, MessageID: a.mail().MessageID,
			Reason: "commands refused; nothing applied:\n" + transcript}
		if err := a.tx.AddComment(tk, c); err != nil {
			return err
		}
		if err := a.save(tk); err != nil {
			return err
		}
		a.res.Ticket = tk.ID
	}
	a.res.Detail = "commands refused: " + firstProblem(r.probs)
	return a.sendTranscript(tk, results, false, nil, nil)
}

func firstProblem(p []command.Problem) string {
	if len(p) == 0 {
		return ""
	}
	return p[0].String()
}

// transcript answers a successful block when configured or asked for.
func (a *applier) transcript(tk *model.Ticket, r *cmdRun, applied bool) error {
	results := command.Results(r.block, nil)
	for i := range results {
		if msg, ok := r.msgs[i]; ok {
			results[i].Message = msg
		}
	}
	return a.sendTranscript(tk, results, applied, r.answer, r.files)
}

// sendTranscript mails the sender the debbugs-style transcript, In-Reply-To
// their mail, Auto-Submitted: auto-replied (SPEC 4).
func (a *applier) sendTranscript(tk *model.Ticket, results []command.Result, applied bool, extra []string, files []model.InlineFile) error {
	m := a.mail()
	var b strings.Builder
	b.WriteString(a.cfg.Threading.ReplyMarker)
	b.WriteString("\n\n")
	if applied {
		b.WriteString("Your commands were processed:\n\n")
	} else {
		b.WriteString("Your mail was NOT applied: nothing was changed and nothing was sent to the customer.\nIt is kept as a hidden record on the ticket. Fix the lines marked ERROR and send again.\n\n")
	}
	b.WriteString(command.FormatTranscript(results, applied))
	for _, x := range extra {
		b.WriteString("\n")
		b.WriteString(x)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	b.WriteString(a.staffFooter(true, nil, a.in.agent))
	subject := a.answerSubject("Re: ", tk)
	if !applied {
		subject = a.answerSubject("Commands not applied: ", tk)
	}
	o := out{tk: tk, kind: "transcript", rcpt: a.staff.Email, rcptName: a.in.agent.Name, private: true, staffTok: true,
		subject: subject, text: b.String(), inReplyTo: m.MessageID, autoSub: "auto-replied", files: files}
	if tk != nil {
		o.seq = tk.LastSeq
		o.fromName = a.mailboxOf(tk).Name
	} else {
		o.mb = a.mailbox()
		o.fromName = o.mb.Name
	}
	if m.MessageID != "" {
		o.refs = []string{m.MessageID}
	}
	return a.enqueue(o)
}

// ---- effects ----

func (a *applier) setAssignee(tk *model.Ticket, email string) error {
	if tk.Assignee == email {
		return nil
	}
	old := orDefault(tk.Assignee, "nobody")
	tk.Assignee = email
	if err := a.event(tk, "assignee "+old+" → "+orDefault(email, "nobody")); err != nil {
		return err
	}
	// Someone else assigned it: tell the new assignee (a ticket this
	// mail opened is announced with everything at once instead).
	if ag := a.cfg.Agent(email); ag != nil && a.staff != nil && email != a.staff.Email && !a.created[tk.ID] {
		return a.notifyStaffEvent(tk, ag, "Assigned to you: "+tk.Subject,
			fmt.Sprintf("%s assigned ticket #%d \"%s\" to you.", orDefault(a.in.agent.Name, a.staff.Email), tk.ID, tk.Subject))
	}
	return nil
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

func describePlusMinus(add, remove []string) string {
	var parts []string
	for _, x := range add {
		parts = append(parts, "+"+x)
	}
	for _, x := range remove {
		parts = append(parts, "-"+x)
	}
	return strings.Join(parts, " ")
}

func (a *applier) agentSuggestion(v string) string {
	var cands []string
	for _, ag := range a.cfg.Agents {
		cands = append(cands, strings.ToLower(ag.Name), staffEmail(&ag))
		if at := strings.IndexByte(ag.Email, '@'); at > 0 {
			cands = append(cands, strings.ToLower(ag.Email[:at]))
		}
		cands = append(cands, ag.Aliases...)
		if f := strings.Fields(ag.Name); len(f) > 0 {
			cands = append(cands, strings.ToLower(f[0]))
		}
	}
	return didYouMean(strings.ToLower(v), cands)
}

func didYouMean(v string, cands []string) string {
	if s := command.Suggest(v, cands); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

func joinIDs(ids []uint64) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("#%d", id))
	}
	return strings.Join(parts, ", ")
}

// openChildren lists tk's children that are not resolved or closed.
func (a *applier) openChildren(tk *model.Ticket) []uint64 {
	var out []uint64
	for _, l := range tk.Links {
		if l.Kind != model.LinkChild {
			continue
		}
		if ch, err := a.ticket(l.Ticket); err == nil && ch.Status != model.StatusResolved && ch.Status != model.StatusClosed && ch.MergedInto == 0 {
			out = append(out, ch.ID)
		}
	}
	return out
}

// isAncestor reports whether id is p or one of p's ancestors.
func (a *applier) isAncestor(id uint64, p *model.Ticket) bool {
	seen := map[uint64]bool{}
	for cur := p; cur != nil && !seen[cur.ID]; {
		if cur.ID == id {
			return true
		}
		seen[cur.ID] = true
		var next *model.Ticket
		for _, l := range cur.Links {
			if l.Kind == model.LinkParent {
				next, _ = a.ticket(l.Ticket)
			}
		}
		cur = next
	}
	return false
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
func (a *applier) openChild(parent *model.Ticket, r *cmdRun) error {
	ch := &model.Ticket{
		Subject: r.child.subject, Status: model.StatusOpen, Priority: parent.Priority, Mailbox: parent.Mailbox,
		Group: parent.Group, Requester: parent.Requester, Type: parent.Type,
		Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: a.now}},
		CCs:     []string{}, Followers: []string{a.staff.Email}, Tags: []string{}, Links: []model.Link{},
	}
	if err := a.create(ch); err != nil {
		return err
	}
	if strings.TrimSpace(r.block.Text) != "" {
		c := a.inboundComment(0, model.Private)
		c.Text = r.block.Text
		if err := a.tx.AddComment(ch, c); err != nil {
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
	return a.announceChild(parent, ch, strings.TrimSpace(r.block.Text))
}

// startSideThread opens a side thread with outside collaborators and
// mails them the agent's text (SPEC 6).
func (a *applier) startSideThread(tk *model.Ticket, r *cmdRun) error {
	var maxID uint32
	for _, th := range tk.Threads {
		maxID = max(maxID, th.ID)
	}
	th := model.Thread{ID: maxID + 1, Kind: model.ThreadSide, Subject: r.forward.subject, Collaborators: r.forward.addrs,
		Status: "open", StartedBy: a.staff.Email, Created: a.now}
	tk.Threads = append(tk.Threads, th)
	for _, addr := range r.forward.addrs {
		if _, err := a.ensure(addr, ""); err != nil {
			return err
		}
	}
	c := a.inboundComment(th.ID, model.Private)
	c.Text = r.block.Text
	if err := a.tx.AddComment(tk, c); err != nil {
		return err
	}
	if err := a.event(tk, fmt.Sprintf("side thread %d started with %s (include %s)", th.ID, strings.Join(th.Collaborators, ", "), r.forward.include)); err != nil {
		return err
	}
	var include []*model.Comment
	if r.forward.include != "none" {
		cs, err := a.tx.Comments(tk.ID)
		if err != nil {
			return err
		}
		for _, x := range cs {
			if x.Kind == model.KindComment && x.Visibility == model.Public && x.Thread == 0 && !x.Hidden {
				include = append(include, x)
			}
		}
		if r.forward.include == "last" && len(include) > 1 {
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
func (a *applier) merge(tk, into *model.Ticket, cc bool) error {
	into, err := a.ticket(into.ID) // reload: ops above may have changed it
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
		if err := a.tx.AddComment(into, &nc); err != nil {
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
	tag, intoTag := threading.Tag(a.cfg.Threading.TagPrefix, tk.ID), threading.Tag(a.cfg.Threading.TagPrefix, into.ID)
	text := fmt.Sprintf("Your request %s \"%s\" was merged into %s \"%s\"; the conversation continues here.", tag, tk.Subject, intoTag, into.Subject)
	if tk.Requester != into.Requester {
		// Another requester's ticket: the survivor's people learn who
		// joins, never what the merged ticket was about.
		who := tk.Requester
		if u, err := a.user(tk.Requester); err == nil && u.Name != "" {
			who = u.Name + " <" + tk.Requester + ">"
		}
		text = fmt.Sprintf("Request %s from %s was merged into %s \"%s\"; %s is now copied on this conversation, which continues here.",
			tag, who, intoTag, into.Subject, who)
	}
	note := &model.Comment{Kind: model.KindComment, Author: a.staff.Email, AuthorName: a.in.agent.Name, Visibility: model.Public,
		Reason: fmt.Sprintf("%s notice that #%d was merged here", mergeMark, tk.ID), Text: text}
	if err := a.tx.AddComment(into, note); err != nil {
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
func (a *applier) listTickets(which string) string {
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
	var b strings.Builder
	n := 0
	for _, id := range ids {
		tk, err := a.ticket(id)
		if err != nil || tk.MergedInto != 0 {
			continue
		}
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
		case "overdue":
			// No SLA policies yet: overdue means open or pending with
			// no change for more than 24 hours.
			keep = (tk.Status == model.StatusOpen || tk.Status == model.StatusPending) && a.now.Sub(tk.Updated) > 24*hour
		}
		if !keep {
			continue
		}
		n++
		if n <= 100 {
			fmt.Fprintf(&b, "  #%-6d %-20s %-8s %-28s %s\n", tk.ID, tk.Status, tk.Priority, orDash(tk.Assignee), tk.Subject)
		}
	}
	head := fmt.Sprintf("Tickets (%s): %d", which, n)
	if n > 100 {
		head += " (first 100 shown)"
	}
	if n == 0 {
		return head + "\n  (none)"
	}
	return head + "\n" + b.String()
}
