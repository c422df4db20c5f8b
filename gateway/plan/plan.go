package plan

import (
	"fmt"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/threading/command"
)

// Input is everything a plan is made from. It is read, never changed.
type Input struct {
	// Block is the command block as parsed (command.Parse); Commands
	// expands its macros.
	Block command.Block
	// Ticket is the ticket the commands act on; nil for a mail that
	// concerns no ticket (#list, #help, #available, #away alone).
	Ticket *Ticket
	// View reads other tickets and the held mail, read-only.
	View View
	// Config is the directory: staff, groups, macros and the rules the
	// commands obey (commands.confirm, tickets.parent_blocks_resolve).
	Config *config.Config
	Actor  Actor
	// Answering is where the mail's text goes unless a command says
	// otherwise: the visibility the answered notification announced, a
	// side thread.
	Answering Answering
	// NewTicket: the ticket is the one this mail opens (on someone's
	// behalf, SPEC 3.5); its ID is 0 and #requester already named its
	// requester.
	NewTicket bool
	// Text, when set, is the mail's text instead of the block's (a ticket
	// opened on someone's behalf keeps the agent's own words there).
	Text *string
	// Attachments is how many attachments the mail has (#forward may
	// send them alone).
	Attachments int
	// Replaying: the mail is a held mail #send applies now; a #send in
	// it does nothing.
	Replaying bool
	// Now is the time the plan is made for (the ticket clock): a
	// #customer erase code expires by it.
	Now time.Time
}

// Ticket is the read-only snapshot of a ticket a plan needs.
type Ticket struct {
	ID         uint64 // 0: the ticket this mail is about to open
	Requester  string
	CCs        []string
	Status     string
	MergedInto uint64
	Parent     uint64   // 0: none
	Children   []uint64 // as linked, in order
	// Erased: the ticket is the shell of an erased customer's ticket.
	Erased bool
	// Erase is the #customer erase waiting for its code (nil: none).
	Erase *PendingErase
}

// View is the part of the store a plan may read, read-only, as
// threading.Decide reads its View: the engine implements it over its
// write's snapshot, the tests over a map.
type View interface {
	// Ticket is ticket id as stored (merges not followed).
	Ticket(id uint64) (Ticket, bool)
	// Resolve is the ticket mail for n lands in: merges followed.
	Resolve(n uint64) (Ticket, bool)
	// HeldReply is the held reply a #send from the actor on the ticket
	// would release (the comment's sequence number).
	HeldReply() (uint32, bool)
}

// Answering is what the answered notification decided for the text.
type Answering struct {
	// Side: the mail answers a notification of side thread Thread.
	Side   bool
	Thread uint32
	// DefaultPrivate: a plain reply is a private note.
	DefaultPrivate bool
	// NoteOnly: the text is a private note whatever the commands say.
	NoteOnly bool
}

// Actor is who the commands come from.
type Actor struct {
	Email string // comparison form; "rule:NAME" for a rule
	Name  string
	Role  Role
}

// Role is the actor's role (SPEC 1).
type Role string

// Roles. Staff roles have the values of config.Role*.
const (
	Agent Role = config.RoleAgent
	Light Role = config.RoleLight
	Admin Role = config.RoleAdmin
	// End users and outsiders: their '#' lines are text, never commands.
	Requester    Role = "requester"
	CC           Role = "cc"
	Collaborator Role = "collaborator"
	Unknown      Role = "unknown"
	// Rule is a trigger's or automation's action list (issues 14, 15): an
	// agent's rights, but no person behind it.
	Rule Role = "rule"
)

// StaffRole is the role of a staff member with this configured role.
func StaffRole(configured string) Role {
	switch Role(configured) {
	case Agent, Admin:
		return Role(configured)
	}
	return Light // the least privilege, as command.Validate reads it
}

// commands reports whether '#' lines of this actor are commands.
func (r Role) commands() bool {
	switch r {
	case Agent, Light, Admin, Rule:
		return true
	}
	return false
}

// validateAs is the role command.Validate checks the block for.
func (r Role) validateAs() command.Role {
	switch r {
	case Agent, Rule:
		return command.RoleAgent
	case Admin:
		return command.RoleAdmin
	}
	return command.RoleLight
}

// Plan is what a block of commands will do, decided before anything is
// written.
type Plan struct {
	// Block is the block with its macros expanded: the lines of the
	// transcript.
	Block command.Block
	// Problems name every bad line and why. Any problem: nothing is
	// applied (Changes is nil) and the sender gets a transcript.
	Problems []command.Problem
	// Changes, in the order the engine applies them: the answers
	// (computed before anything changes, so a #list shows the tickets as
	// the mail found them), the ticket's changes in the order of the
	// commands, SendHeld, then the one change saying where the text goes
	// (Reply, Note, SideMessage, StartSideThread, OpenChild or NoComment;
	// none without a ticket), and Merge last.
	Changes []Change
	// Results is the transcript's text for each command (by index in
	// Block.Commands) on success.
	Results map[int]string
	// Confirm: a transcript is mailed on success too.
	Confirm bool
	// Text is the mail's text: the comment, the side thread's message or
	// the child ticket's first comment.
	Text string
}

// OK reports whether the plan may be applied.
func (p *Plan) OK() bool { return len(p.Problems) == 0 }

// planner is one Commands call under way.
type planner struct {
	in   Input
	cfg  *config.Config
	tk   *Ticket
	p    *Plan
	me   string
	role Role

	answers []Change
	changes []Change
	public  bool
	toMain  bool
	notify  []string
	forward *StartSideThread
	child   *OpenChild
	send    *SendHeld
	merge   *Merge
	// showCustomer: #customer alone, answered after the other changes.
	showCustomer bool
}

// Commands plans a staff mail's command block (or a macro's, or a rule's
// action list) against a ticket: SPEC 4's all-or-nothing check of every
// line, then the changes they make.
func Commands(in Input) *Plan {
	p := &Plan{Block: in.Block, Results: map[int]string{}, Text: in.Block.Text}
	if !in.Actor.Role.commands() {
		// SPEC 4: an end user's or collaborator's '#' lines are text.
		return p
	}
	cfg := in.Config
	var names []string
	for _, m := range cfg.Macros {
		names = append(names, m.Name)
	}
	b, mp := command.ExpandMacro(in.Block, func(name string) ([]string, string, bool) {
		m := cfg.Macro(name)
		if m == nil {
			return nil, "", false
		}
		return m.Commands, m.Text, true
	}, names...)
	p.Block, p.Text = b, b.Text
	if in.Text != nil {
		p.Text = *in.Text
	}
	p.Problems = append(p.Problems, mp...)
	for _, pr := range command.Validate(b, in.Actor.Role.validateAs()) {
		if pr.Name == "list" && len(pr.Args) == 1 && len(cfg.Views) > 0 {
			if isView(cfg, pr.Args[0]) {
				continue // #list NAME of a [[view]]: the syntax knows only the built-in lists
			}
			pr = viewProblem(cfg, pr)
		}
		p.Problems = append(p.Problems, pr)
	}
	if len(mp) > 0 {
		// The block could not be expanded: its lines are not what the
		// agent meant to run.
		return p
	}
	// Lines with a syntax or role problem are not planned; every other
	// line is checked against the ticket and config too, so one
	// transcript names every bad line (a syntax error elsewhere must not
	// make "#assign alise" look fine).
	bad := map[int]bool{}
	for _, pr := range p.Problems {
		bad[pr.Line] = true
	}
	r := &planner{in: in, cfg: cfg, tk: in.Ticket, p: p, me: in.Actor.Email, role: in.Actor.Role}
	light := r.role == Light
	side := in.Answering.Side
	r.toMain = side && (b.Has("reply") || b.Has("note") || b.Has("notify"))
	r.public = b.Public(!in.Answering.DefaultPrivate) && !light && (!side || r.toMain)
	if light || in.Answering.NoteOnly {
		r.public = false
	}
	if cfg.Commands.Confirm == "always" {
		p.Confirm = true
	}
	for i, c := range b.Commands {
		if i >= command.MaxCommands {
			break // Validate refused the block; later lines were not read
		}
		if c.Macro == "" && bad[c.Line] || c.Macro != "" && macroLineBad(p.Problems, c) {
			continue
		}
		r.command(i, c)
	}
	if len(p.Problems) > 0 {
		return p
	}
	r.customerShown()
	p.Changes = append(r.answers, r.changes...)
	if r.send != nil {
		p.Changes = append(p.Changes, *r.send)
	}
	if r.tk != nil {
		p.Changes = append(p.Changes, r.text())
	}
	if r.merge != nil {
		p.Changes = append(p.Changes, *r.merge)
	}
	return p
}

// command plans one command: the one switch from a command's name to the
// function that decides it.
func (r *planner) command(i int, c command.Command) {
	if r.role == Rule && needsPerson[c.Name] {
		r.fail(c, "%s acts for the person who sends it: a rule cannot use it", c.Written())
		return
	}
	switch c.Name {
	case "end", "include", "subject", "macro":
		// #include and #subject are read by #forward and #child; #macro
		// was expanded; #end only ends the block.
	case "reply", "note":
		r.visibility(i, c)
	case "notify":
		r.notifyStaff(i, c)
	case "status":
		r.status(i, c)
	case "assign":
		r.assign(i, c)
	case "group":
		r.group(i, c)
	case "priority":
		r.ok(i, "priority set to %s", arg(c, 0))
		r.add(SetPriority{arg(c, 0)})
	case "type":
		r.ok(i, "type set to %s", arg(c, 0))
		r.add(SetType{arg(c, 0)})
	case "tag":
		r.tags(i, c)
	case "cc":
		r.ccs(i, c)
	case "follow", "unfollow":
		r.follow(i, c)
	case "follower":
		r.followers(i, c)
	case "requester":
		r.requester(i, c)
	case "forward":
		r.forwardTo(i, c)
	case "done":
		r.done(i, c)
	case "merge":
		r.mergeInto(i, c)
	case "parent":
		r.parent(i, c)
	case "child":
		r.openChild(i, c)
	case "ticket":
		r.ticket(i, c)
	case "spam":
		r.spam(i, c)
	case "send":
		r.sendHeld(i, c)
	case "available", "away":
		r.availability(i, c)
	case "list":
		r.list(i, c)
	case "help":
		r.help(i, c)
	case "report":
		r.report(i, c)
	case "customer":
		r.customer(i, c)
	}
}

// needsPerson are the commands that act for their sender ("me").
var needsPerson = map[string]bool{
	"follow": true, "unfollow": true, "available": true, "away": true,
	"list": true, "help": true, "send": true, "report": true,
}

func (r *planner) fail(c command.Command, format string, args ...any) {
	r.p.Problems = append(r.p.Problems, command.Problem{Command: c, Message: fmt.Sprintf(format, args...)})
}

func (r *planner) ok(i int, format string, args ...any) {
	r.p.Results[i] = fmt.Sprintf(format, args...)
}

func (r *planner) add(c Change) { r.changes = append(r.changes, c) }

func arg(c command.Command, n int) string {
	if n < len(c.Args) {
		return c.Args[n]
	}
	return ""
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

// viewProblem names the views too when #list names neither a built-in
// list nor a view.
func viewProblem(cfg *config.Config, pr command.Problem) command.Problem {
	names := command.Lists()
	for _, v := range cfg.Views {
		names = append(names, v.Name)
	}
	if s := command.Suggest(strings.ToLower(pr.Args[0]), names); s != "" {
		pr.Message, pr.Suggestion = fmt.Sprintf("unknown list %q; did you mean %s?", pr.Args[0], s), s
		return pr
	}
	pr.Message, pr.Suggestion = fmt.Sprintf("unknown list %q; use %s", pr.Args[0], strings.Join(names, ", ")), ""
	return pr
}

// isView reports a [[view]] named name.
func isView(cfg *config.Config, name string) bool {
	for _, v := range cfg.Views {
		if strings.EqualFold(v.Name, name) {
			return true
		}
	}
	return false
}

// staffEmail is a staff member's address in comparison form.
func staffEmail(ag *config.Agent) string { return strings.ToLower(strings.TrimSpace(ag.Email)) }

// agentSuggestion is the "did you mean" for an unknown agent.
func (r *planner) agentSuggestion(v string) string {
	var cands []string
	for _, ag := range r.cfg.Agents {
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
