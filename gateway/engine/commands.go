package engine

import (
	"fmt"
	"strings"

	"helpdesk/gateway/plan"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/command"
)

// A staff mail's command block (SPEC 4) is decided by the pure planner,
// package gateway/plan: it checks every line (syntax, role, and against
// the ticket and config) and returns the changes as values, or the
// problems. Only when no line has a problem does the engine apply the
// changes (changes.go); any problem applies nothing: the mail is kept as
// a hidden rejected record and the sender gets a transcript (this file).

// cmdRun is one staff mail's plan on its way to a ticket.
type cmdRun struct {
	*plan.Plan
	tk   *model.Ticket
	d    threading.Decision
	view *planView
	// answer is extra text for the transcript (#list, #help); files are
	// its attachments (#report).
	answer []string
	files  []model.InlineFile
	// afterFields runs once the ticket's fields are changed, before the
	// mail's text is added and sent (a new ticket's assignment and
	// announcement).
	afterFields func() error
}

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

// staffNewTicket handles a staff mail with no thread keys (SPEC 3.5), as
// plan.NewMail decides: it acts on ticket N with #ticket N, answers
// commands about the sender alone, refuses a light agent, or opens a
// ticket on someone's behalf.
func (a *applier) staffNewTicket(d threading.Decision) error {
	text := a.staffText()
	b := command.Parse(text)
	kind, n, problem := plan.NewMail(b, plan.StaffRole(a.in.agent.Role), &planView{a: a})
	switch kind {
	case plan.OnTicket:
		tk, err := a.ticket(n)
		if err != nil {
			return err
		}
		// A fresh mail acting on a ticket: its text is a private note
		// unless #reply says otherwise.
		return a.runCommands(tk, threading.Decision{Outcome: threading.OutStaff, Ticket: tk.ID, DefaultPrivate: true, Role: threading.RoleAgent}, text)
	case plan.NoTicket:
		// #list, #help, #report, #available, #away alone: answered by
		// mail, no ticket is opened.
		r := a.planCommands(nil, threading.Decision{Outcome: threading.OutStaff, DefaultPrivate: true, Role: threading.RoleAgent}, b, false, nil)
		if !r.OK() {
			return a.reject(nil, r)
		}
		for _, ch := range r.Changes {
			if err := a.apply(r, ch); err != nil {
				return err
			}
		}
		a.res.Disposition, a.res.Detail = model.DispCommands, "commands without a ticket"
		if r.Confirm {
			return a.transcript(nil, r, true)
		}
		return nil
	case plan.Refused:
		return a.reject(nil, &cmdRun{Plan: &plan.Plan{Block: b, Problems: []command.Problem{problem}}})
	}
	return a.onBehalfTicket(text, b)
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
		Mailbox: strings.ToLower(mb.Address), Group: mb.Group, Requester: requester, OnBehalf: true,
		// Not the agent's own Message-ID: it would show in the headers of
		// every public mail to the customer (it may name the agent).
		RootMessageID: "",
		Threads:       []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: a.now}},
		CCs:           []string{}, Followers: []string{}, Tags: []string{}, Links: []model.Link{},
	}
	// Validate the commands against the ticket-to-be before anything is
	// written: a rejected mail opens no ticket.
	r := a.planCommands(tk, threading.Decision{Outcome: threading.OutStaff, DefaultPrivate: true, Role: threading.RoleAgent}, b, true, &note)
	if !r.OK() {
		return a.reject(nil, r)
	}
	if err := a.create(tk); err != nil {
		return err
	}
	if err := a.nameUser(requester, reqSpelled, reqName, requesterName(b) != ""); err != nil {
		return err
	}
	if err := a.requesterProfile(tk, reqName); err != nil {
		return err
	}
	var first *model.Comment
	if firstText != "" {
		first = &model.Comment{Kind: model.KindComment, Author: requester, AuthorName: reqName, Visibility: model.Public,
			Text: firstText, Message: a.msg.ID, MessageID: m.MessageID, Attachments: a.attachments()}
		if err := a.addComment(tk, first); err != nil {
			return err
		}
		a.markCustomer(tk, a.now, false)
	}
	if err := a.event(tk, fmt.Sprintf("ticket opened by %s on behalf of %s", a.staff.Email, requester)); err != nil {
		return err
	}
	r.tk = tk
	r.afterFields = func() error { return a.announceOnBehalf(tk, r, first, plan.RequesterLabel(requester, reqName)) }
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
	r := a.planCommands(tk, d, b, false, nil)
	if !r.OK() {
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

// planCommands plans a block on tk (nil: a mail about no ticket). text,
// when set, is the mail's text instead of the block's.
func (a *applier) planCommands(tk *model.Ticket, d threading.Decision, b command.Block, newTicket bool, text *string) *cmdRun {
	r := &cmdRun{tk: tk, d: d, view: &planView{a: a, tk: tk}}
	in := plan.Input{
		Block:  b,
		View:   r.view,
		Config: a.cfg,
		Actor:  plan.Actor{Email: a.staff.Email, Name: a.in.agent.Name, Role: plan.StaffRole(a.in.agent.Role)},
		Answering: plan.Answering{Side: d.Outcome == threading.OutStaffSide, Thread: d.Thread,
			DefaultPrivate: d.DefaultPrivate, NoteOnly: d.Outcome == threading.OutNote},
		NewTicket:   newTicket,
		Text:        text,
		Attachments: len(a.mail().Attachments),
		Replaying:   a.replaying,
		Now:         a.now,
	}
	if tk != nil {
		snap := snapshot(tk)
		in.Ticket = &snap
	}
	r.Plan = plan.Commands(in)
	a.trace.planned(tk, r.Plan)
	return r
}

// planView is what the planner may read of this write: other tickets
// (merges followed or not) and the held mail a #send releases.
type planView struct {
	a    *applier
	tk   *model.Ticket
	held *model.Comment // found by HeldReply, released by SendHeld
}

func (v *planView) Ticket(id uint64) (plan.Ticket, bool) {
	tk, err := v.a.ticket(id)
	if err != nil {
		return plan.Ticket{}, false
	}
	return snapshot(tk), true
}

func (v *planView) Resolve(n uint64) (plan.Ticket, bool) {
	tk, err := v.a.resolve(n)
	if err != nil {
		return plan.Ticket{}, false
	}
	return snapshot(tk), true
}

func (v *planView) HeldReply() (uint32, bool) {
	v.held = v.a.heldComment(v.tk)
	if v.held == nil {
		return 0, false
	}
	return v.held.ID, true
}

// snapshot is what the planner sees of a ticket.
func snapshot(tk *model.Ticket) plan.Ticket {
	s := plan.Ticket{ID: tk.ID, Requester: tk.Requester, CCs: tk.CCs, Status: tk.Status, MergedInto: tk.MergedInto, Erased: tk.Erased != nil}
	if q := tk.EraseRequest; q != nil {
		s.Erase = &plan.PendingErase{Hash: q.Hash, By: q.By, Addr: q.Addr, Expires: q.Expires}
	}
	for _, l := range tk.Links {
		switch l.Kind {
		case model.LinkParent:
			s.Parent = l.Ticket
		case model.LinkChild:
			s.Children = append(s.Children, l.Ticket)
		}
	}
	return s
}

// reject keeps a refused staff mail as a hidden record on the ticket and
// mails the sender a transcript (SPEC 4): nothing else happens.
func (a *applier) reject(tk *model.Ticket, r *cmdRun) error {
	a.res.Disposition = model.DispRejected
	results := command.Results(r.Block, r.Problems)
	transcript := command.FormatTranscript(results, false)
	if tk != nil {
		c := &model.Comment{Kind: model.KindRejected, Author: a.staff.Email, AuthorName: a.in.agent.Name,
			Visibility: model.Private, Hidden: true, Text: a.staffText(), Message: a.msg.ID, MessageID: a.mail().MessageID,
			Reason: "commands refused; nothing applied:\n" + transcript}
		if err := a.addComment(tk, c); err != nil {
			return err
		}
		if err := a.save(tk); err != nil {
			return err
		}
		a.res.Ticket = tk.ID
	}
	a.res.Detail = "commands refused: " + firstProblem(r.Problems)
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
	results := command.Results(r.Block, nil)
	for i := range results {
		if msg, ok := r.Results[i]; ok {
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
	// Who gets it: audience.Decide (the sender, while he is staff).
	r, ok := a.transcriptTo()
	if !ok {
		return nil
	}
	o := out{tk: tk, kind: "transcript", rcpt: r.Addr, rcptName: r.Name, private: true, staffTok: true,
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
