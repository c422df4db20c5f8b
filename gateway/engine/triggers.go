package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/plan"
	"helpdesk/gateway/rules"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// Triggers (SPEC 7, issue 15): after a mail (or a timer: the
// auto-close, event "automation") has updated its tickets, and inside
// the same store write, each updated ticket gets one pass over the
// [[trigger]] rules, in file order, each at most once. A firing trigger's
// changes are seen by the triggers after it, but raise no events of their
// own and start no new pass, and a pass is started only by what a person's
// mail did (never by mail the system sent: auto-replies, delivery reports
// and our own mail coming back raise no event), so rules cannot loop.

// ruleCache keeps the compiled rules of the current configuration:
// compiled once per load, not per mail.
type ruleCache struct {
	mu  sync.Mutex
	cfg *config.Config
	set *rules.Set
}

// Rules returns the compiled triggers and views of cfg.
func (e *Engine) Rules(cfg *config.Config) *rules.Set {
	e.rules.mu.Lock()
	defer e.rules.mu.Unlock()
	if e.rules.cfg != cfg {
		// The config was checked when it was loaded; a rule with a
		// problem is still compiled as far as it goes.
		e.rules.set, _ = rules.Load(cfg)
		e.rules.cfg = cfg
	}
	return e.rules.set
}

// before is a ticket as this write first saw it: what an update changed
// is the difference.
type before struct {
	seq                                    uint32
	status, priority, typ, group, assignee string
	tags                                   []string
	mergedInto                             uint64
	links                                  int
}

// remember notes a ticket as the write first loads it (only when
// triggers are configured: the hot path pays nothing otherwise).
func (a *applier) remember(tk *model.Ticket) {
	if len(a.cfg.Triggers) == 0 {
		return
	}
	a.logComments()
	if a.before == nil {
		a.before = map[uint64]before{}
	}
	a.before[tk.ID] = before{seq: tk.LastSeq, status: tk.Status, priority: tk.Priority, typ: tk.Type, group: tk.Group,
		assignee: tk.Assignee, tags: slices.Clone(tk.Tags), mergedInto: tk.MergedInto, links: len(tk.Links)}
}

// commentLog is a write's transaction that also keeps the comments the
// write adds, by ticket: the triggers' pass reads the update's records
// from it instead of decoding them back from the store (a new ticket's
// first comment holds the whole mail text).
type commentLog struct {
	store.Tx
	added map[uint64][]*model.Comment // in the order added (id order)
}

func (l *commentLog) AddComment(tk *model.Ticket, c *model.Comment) error {
	if err := l.Tx.AddComment(tk, c); err != nil {
		return err
	}
	l.added[tk.ID] = append(l.added[tk.ID], c)
	return nil
}

func (l *commentLog) AppendComment(tk *model.Ticket, c *model.Comment) error {
	if err := l.Tx.AppendComment(tk, c); err != nil {
		return err
	}
	l.added[tk.ID] = append(l.added[tk.ID], c)
	return nil
}

// logComments makes the write keep the comments it adds from now on
// (when triggers are configured; before any ticket is read or created).
func (a *applier) logComments() {
	if len(a.cfg.Triggers) == 0 {
		return
	}
	if _, ok := a.tx.(*commentLog); !ok {
		a.tx = &commentLog{Tx: a.tx, added: map[uint64][]*model.Comment{}}
	}
}

// commentAt is comment seq of a ticket: as this write added it, else as
// stored.
func (a *applier) commentAt(ticket uint64, seq uint32) (*model.Comment, error) {
	if l, ok := a.tx.(*commentLog); ok {
		for _, c := range l.added[ticket] {
			if c.ID == seq {
				return c, nil
			}
		}
	}
	return a.tx.Comment(ticket, seq)
}

// triggers runs one pass over the triggers for every ticket this write
// updated, in ticket order.
func (a *applier) triggers() error {
	if len(a.cfg.Triggers) == 0 {
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(a.dirty)) {
		if err := a.pass(a.tickets[id]); err != nil {
			return err
		}
	}
	return nil
}

// pass runs the triggers once for a ticket: a second call in the same
// write does nothing (a new ticket has its pass before it is announced).
func (a *applier) pass(tk *model.Ticket) error {
	if len(a.cfg.Triggers) == 0 || a.passed[tk.ID] {
		return nil
	}
	if a.passed == nil {
		a.passed = map[uint64]bool{}
	}
	a.passed[tk.ID] = true
	f, err := a.facts(tk)
	if err != nil || len(f.Events) == 0 {
		return err
	}
	set := a.e.Rules(a.cfg)
	for i := range set.Triggers {
		tr := &set.Triggers[i]
		if !tr.Cond.Match(f) {
			continue
		}
		a.trace.fired(tk, tr.Name)
		if err := a.fire(tk, tr, f.Events); err != nil {
			return fmt.Errorf("trigger %q on ticket %d: %w", tr.Name, tk.ID, err)
		}
		// The next trigger sees the ticket as this one left it; the
		// update's events and changed fields stay what the mail did.
		a.ticketFacts(f, tk)
	}
	return nil
}

// finish ends a write with no mail (a timer's): the triggers' pass, then
// everything the write changed is stored.
func (a *applier) finish() error {
	if err := a.triggers(); err != nil {
		return err
	}
	if err := a.flushIntros(); err != nil {
		return err
	}
	if err := a.flush(); err != nil {
		return err
	}
	return a.flushUsers()
}

// prepareRules lowercases the mail's text and builds its gram set for
// the triggers' text conditions before the write, in the mail's own
// goroutine: the pass in the store's single writer then only compares
// (issue 15). The pass uses it only for a field whose value it is.
func prepareRules(cfg *config.Config, in *inbound) {
	if len(cfg.Triggers) > 0 {
		in.prep = rules.Prepare(bodyText(in.mail))
	}
}

// facts are the update's facts for a ticket: its events, from the
// records this write added to it, and what it changed.
func (a *applier) facts(tk *model.Ticket) (*rules.Facts, error) {
	f := &rules.Facts{Now: a.now}
	if a.in != nil {
		f.Prepared = a.in.prep
	}
	switch {
	case a.staff != nil:
		f.Sender = a.staff.Email
	case a.in != nil:
		f.Sender = a.in.sender
	}
	a.ticketFacts(f, tk)
	ev := map[string]bool{}
	b, known := a.before[tk.ID]
	if a.created[tk.ID] {
		ev[rules.Created] = true
		b, known = before{}, false
	}
	for seq := b.seq + 1; seq <= tk.LastSeq; seq++ {
		c, err := a.commentAt(tk.ID, seq)
		if err != nil {
			return nil, fmt.Errorf("reading comment %d of ticket %d: %w", seq, tk.ID, err)
		}
		switch {
		case c.Reason == surveySent:
			// The survey going out is no update by anyone.
		case c.Kind == model.KindComment && strings.HasPrefix(c.Reason, "survey "):
			rated, bad := surveyEvents(c)
			ev[rules.Rating] = ev[rules.Rating] || rated
			ev[rules.BadRating] = ev[rules.BadRating] || bad
			f.Body = c.Text
		case c.Kind == model.KindEvent && strings.HasPrefix(c.Author, "rule:"):
		case c.Kind == model.KindEvent && c.Author == slaAuthor:
			ev[c.Reason] = true // rules.SLAWarning or rules.SLABreach (slatimer.go)
		case c.Kind == model.KindEvent && a.in == nil:
			ev[rules.Automation] = true // a timer's change (auto-close)
		case c.Kind == model.KindEvent && a.staff != nil && c.Author == a.staff.Email:
			ev[rules.Command] = true
		case c.Kind != model.KindComment || c.Hidden || strings.HasPrefix(c.Reason, mergeMark):
			// Held, rejected, delivery and auto-reply records, and
			// history a merge moved, are no update by a person.
		case c.Thread != 0:
			ev[rules.SideMessage] = true
			f.Body = c.Text
		case c.Visibility == model.Private:
			ev[rules.Note] = true
			f.Body = c.Text
		case a.cfg.Agent(c.Author) != nil:
			ev[rules.Response] = true
			f.Body = c.Text
		default:
			ev[rules.CustomerComment] = true
			f.Body = c.Text
		}
	}
	if known && (tk.MergedInto != b.mergedInto || len(tk.Links) != b.links && slices.ContainsFunc(tk.Links[b.links:], func(l model.Link) bool { return l.Kind == model.LinkMergedFrom })) {
		ev[rules.Merge] = true
	}
	for _, e := range rules.Events {
		if ev[e] {
			f.Events = append(f.Events, e)
		}
	}
	if known {
		for _, c := range []struct {
			field    string
			was, now string
		}{{"status", b.status, tk.Status}, {"priority", b.priority, tk.Priority}, {"type", b.typ, tk.Type},
			{"group", b.group, tk.Group}, {"assignee", b.assignee, tk.Assignee}} {
			if c.was != c.now {
				f.Changed = append(f.Changed, c.field)
			}
		}
		if !sameSet(b.tags, tk.Tags) {
			f.Changed = append(f.Changed, "tags")
		}
	}
	return f, nil
}

// ticketFacts copies the ticket's fields into f.
func (a *applier) ticketFacts(f *rules.Facts, tk *model.Ticket) {
	f.Mailbox, f.Subject, f.Status, f.Priority, f.Type = tk.Mailbox, tk.Subject, tk.Status, tk.Priority, tk.Type
	f.Group, f.Assignee, f.Tags, f.Created, f.Updated = strings.ToLower(tk.Group), tk.Assignee, tk.Tags, tk.Created, tk.Updated
	f.Resolved = time.Time{}
	if tk.ResolvedAt != nil {
		f.Resolved = *tk.ResolvedAt
	}
	f.InHours = inHours(a.cfg, tk) // the write's settings, as f.Calendar
	a.customerFacts(tk, f)
}

// InHours is the business-hours predicate of a ticket's calendar (its
// group's, else its mailbox's, config.CalendarFor); nil for the 24/7
// calendar, which the rules read as always inside.
func (e *Engine) InHours(tk *model.Ticket) func(time.Time) bool { return inHours(e.Config(), tk) }

func inHours(cfg *config.Config, tk *model.Ticket) func(time.Time) bool {
	cal := cfg.CalendarFor(tk.Mailbox, tk.Group)
	if cal == nil || cal.IsAlways() {
		return nil
	}
	return cal.IsOpen
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// fire applies one trigger to the ticket: the event naming it, its
// actions (planned by package plan as role Rule, applied here) and its
// mail to staff.
func (a *applier) fire(tk *model.Ticket, tr *rules.Trigger, events []string) error {
	prev, prevWhat := a.rule, a.ruleWhat
	a.rule, a.ruleWhat = tr.Name, ruleWord(tr)
	defer func() { a.rule, a.ruleWhat = prev, prevWhat }()
	snap := snapshot(tk)
	p := plan.Commands(plan.Input{
		Block: tr.Actions, Ticket: &snap, View: &planView{a: a, tk: tk}, Config: a.cfg,
		Actor: plan.Actor{Email: "rule:" + tr.Name, Name: tr.Name, Role: plan.Rule}, Now: a.now,
	})
	if !p.OK() {
		// The configuration changed under the ticket (an agent left):
		// say so on the ticket instead of half-applying.
		var why []string
		for _, pr := range p.Problems {
			why = append(why, pr.String())
		}
		a.e.log.Warn("trigger not applied", "trigger", tr.Name, "ticket", tk.ID, "problems", strings.Join(why, "; "))
		return a.event(tk, fmt.Sprintf("%s %q matched but was not applied: %s", ruleWord(tr), tr.Name, strings.Join(why, "; ")))
	}
	text := fmt.Sprintf("%s %q fired", ruleWord(tr), tr.Name)
	if len(tr.Actions.Commands) > 0 {
		var lines []string
		for _, c := range tr.Actions.Commands {
			lines = append(lines, c.Raw)
		}
		text += ": " + strings.Join(lines, "; ")
	}
	if err := a.event(tk, text); err != nil {
		return err
	}
	for _, ch := range p.Changes {
		if err := a.applyRule(tk, ch); err != nil {
			return err
		}
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.ruleWebhook(tk, tr, events); err != nil {
		return err
	}
	if err := a.ruleMail(tk, tr); err != nil {
		return err
	}
	return a.ruleRequesterMail(tk, tr)
}

// ruleRequesterMail mails the ticket's requester the trigger's
// requester_template, in the customer's language, from the ticket's
// public fields. It is automatic mail (SPEC 3.1): never for a ticket
// whose mail asked for none, never in answer to such mail, never to
// staff, a bouncing or blocked address or our own, and at most
// tickets.ack_per_sender_per_hour an hour per requester, so that a
// responder that does not say it is one cannot keep a rule talking.
func (a *applier) ruleRequesterMail(tk *model.Ticket, tr *rules.Trigger) error {
	if tr.RequesterTemplate == "" {
		return nil
	}
	ev := audience.Event{Kind: audience.RuleMail}
	d := audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg})
	why := ""
	switch {
	case tk.NoAutoMail:
		why = "the mail that opened the ticket asked for no automatic answer"
	case a.in != nil && (a.mail().SuppressAutoAnswer() || a.mail().EnvelopeFrom == ""):
		why = "the mail that caused the update asked for no automatic answer"
	case a.cfg.IsOwnAddress(tk.Requester):
		why = "the requester is one of our own addresses"
	case len(d.Recipients) == 0:
		why = "the requester " + tk.Requester + " " + string(d.Why(tk.Requester))
	}
	if why == "" {
		ok, err := a.tx.RateAllow("rule-mail:"+tk.Requester, hour, a.cfg.Tickets.AckPerSenderPerHour)
		if err != nil {
			return fmt.Errorf("counting the rule's mail to the requester: %w", err)
		}
		if !ok {
			why = fmt.Sprintf("the requester already got %d automatic mails from rules this hour", a.cfg.Tickets.AckPerSenderPerHour)
		}
	}
	if why != "" {
		return a.event(tk, fmt.Sprintf("%s %q: no mail to the requester (%s)", ruleWord(tr), tr.Name, why))
	}
	rcpt := d.Recipients[0].Addr
	name := ""
	if u, err := a.user(rcpt); err == nil {
		name = u.Name
	}
	mb := a.mailboxOf(tk)
	text, err := a.e.texts().Templates.Render(mb.Address, a.ticketLanguage(tk), tr.RequesterTemplate, a.publicData(tk, mb, name))
	if err != nil {
		return fmt.Errorf("rendering requester_template %q of %s %q: %w", tr.RequesterTemplate, ruleWord(tr), tr.Name, err)
	}
	if err := a.event(tk, fmt.Sprintf("%s %q mailed the requester %s (template %s)", ruleWord(tr), tr.Name, rcpt, tr.RequesterTemplate)); err != nil {
		return err
	}
	return a.enqueue(out{
		tk: tk, kind: "rule", rcpt: rcpt, rcptName: name, seq: tk.LastSeq, mb: mb, fromName: mb.Name,
		subject: threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " " + tk.Subject, text: text,
	})
}

// ruleWord is what the rule is called in events and mail: "trigger" or
// "automation".
func ruleWord(tr *rules.Trigger) string {
	if tr.What == "" {
		return "trigger"
	}
	return tr.What
}

// applyRule makes one change a rule planned. Only field changes reach
// here (rules.ActionCommands); the mail's text is not a rule's.
func (a *applier) applyRule(tk *model.Ticket, ch plan.Change) error {
	switch ch := ch.(type) {
	case plan.SetStatus:
		return a.setStatus(tk, ch.Status, "by rule "+a.rule)
	case plan.Assign:
		return a.setField(tk, &tk.Assignee, "assignee", ch.Agent)
	case plan.Unassign:
		return a.setField(tk, &tk.Assignee, "assignee", "")
	case plan.SetGroup:
		if tk.Group == ch.Group {
			return nil
		}
		tk.Group = ch.Group
		if err := a.event(tk, "group set to "+ch.Group); err != nil {
			return err
		}
		if !ch.KeepAssignee && tk.Assignee != "" && !a.inGroup(tk.Assignee, tk.Group) {
			if err := a.setField(tk, &tk.Assignee, "assignee", ""); err != nil {
				return err
			}
		}
		// The group's automatic assignment applies, as for a new ticket.
		return a.autoAssign(tk)
	case plan.SetPriority, plan.SetType:
		return a.applyShared(tk, ch)
	case plan.Tags:
		before := slices.Clone(tk.Tags)
		tk.Tags = applyPlusMinus(tk.Tags, ch.Add, ch.Remove)
		if sameSet(before, tk.Tags) {
			return nil
		}
		return a.event(tk, "tags: "+plan.DescribePlusMinus(ch.Add, ch.Remove))
	case plan.CCs, plan.Followers:
		return a.applyShared(tk, ch)
	case plan.NoComment:
		// A rule has no text.
	default:
		return fmt.Errorf("engine: a rule cannot apply %T", ch)
	}
	return nil
}

// ruleMail mails the trigger's text to the staff its notify names: the
// assignee (as the trigger left the ticket), the group's agents, or
// agents by address.
func (a *applier) ruleMail(tk *model.Ticket, tr *rules.Trigger) error {
	ev := audience.Event{Kind: audience.Trigger, Targets: tr.Notify}
	text := strings.TrimSpace(tr.Text)
	if text == "" {
		text = fmt.Sprintf("Rule %q matched ticket #%d.", tr.Name, tk.ID)
	}
	text += fmt.Sprintf("\n\n(sent by the %s %q)", ruleWord(tr), tr.Name)
	return a.notifyDecided(tk, ev, func(*config.Agent) (string, string) { return tr.Name + ": " + tk.Subject, text })
}

// listView renders #list NAME for a [[view]]: its tickets as the mail
// found them, at most 100 shown.
func (a *applier) listView(v *rules.View) string {
	var all []*model.Ticket
	for _, st := range rules.ViewStatuses {
		for _, id := range a.tx.TicketIDs(st, 0) {
			if tk, err := a.ticket(id); err == nil {
				all = append(all, tk)
			}
		}
	}
	list := v.Select(all, a.now, a.e.InHours, a.customerFacts)
	var b strings.Builder
	fmt.Fprintf(&b, "Tickets (%s): %d", v.Name, len(list))
	if len(list) > 100 {
		b.WriteString(" (first 100 shown)")
	}
	if len(list) == 0 {
		return b.String() + "\n  (none)"
	}
	b.WriteString("\n")
	for i, tk := range list {
		if i == 100 {
			break
		}
		fmt.Fprintf(&b, "  #%-6d %-20s %-8s %-28s %s\n", tk.ID, tk.Status, tk.Priority, orDash(tk.Assignee), tk.Subject)
	}
	return b.String()
}
