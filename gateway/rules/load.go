package rules

import (
	"fmt"
	"slices"
	"strings"

	"helpdesk/config"
	"helpdesk/gateway/plan"
	"helpdesk/threading/command"
)

// Set is the compiled [[trigger]] and [[view]] tables of one
// configuration: compiled once per load (the engine keeps it per config),
// never per mail.
type Set struct {
	Triggers []Trigger
	Views    []View
	// Automations are the [[automation]] tables, in file order, then the
	// built-in auto-close (when tickets.auto_close_after is set).
	Automations []AutomationRule
}

// Trigger is one compiled [[trigger]].
type Trigger struct {
	Name    string
	Cond    *Conditions
	Actions command.Block // the action lines, parsed (no text)
	Notify  []string      // staff addresses (comparison form), "assignee", "group"
	Text    string
	Webhook string // a [[webhook]] name, "" for none
	// RequesterTemplate names the template mailed to the requester ("" none).
	RequesterTemplate string
	// What the rule is, in events and mail: "trigger" or "automation".
	What string
}

// AutomationRule is one compiled [[automation]] (issue 14 item 5): a rule
// looked at whenever its ticket changes and at the instants its time
// conditions may change (Conditions.Instants), firing at most once per
// condition epoch.
type AutomationRule struct {
	Trigger
	// Builtin names a built-in action taken instead of Actions
	// (BuiltinAutoClose).
	Builtin string
}

// BuiltinAutoClose is the name and action of the built-in automation of
// tickets.auto_close_after: a resolved ticket closes that long after it
// was resolved.
const BuiltinAutoClose = "auto-close"

// FindAutomation returns the automation with this name, or nil.
func (s *Set) FindAutomation(name string) *AutomationRule {
	if s == nil {
		return nil
	}
	for i := range s.Automations {
		if s.Automations[i].Name == name {
			return &s.Automations[i]
		}
	}
	return nil
}

// View is one compiled [[view]].
type View struct {
	Name string
	Cond *Conditions
	Sort string // created, created desc, updated, updated desc, priority
}

// View returns the view with this name (any case), or nil.
func (s *Set) View(name string) *View {
	if s == nil {
		return nil
	}
	for i := range s.Views {
		if strings.EqualFold(s.Views[i].Name, name) {
			return &s.Views[i]
		}
	}
	return nil
}

// ActionCommands are the commands a trigger's actions may use: they
// change the ticket's fields. Text, side threads, merges and the
// commands that act for their sender are not a rule's.
var ActionCommands = []string{"status", "assign", "group", "priority", "type", "tag", "follower", "cc"}

// Sorts are the values of a view's sort.
var Sorts = []string{"created", "created desc", "updated", "updated desc", "priority"}

func init() {
	config.AddCheck(func(c *config.Config) []config.Problem {
		_, probs := Load(c)
		return probs
	})
}

// Load compiles the triggers and views of cfg. Problems name the key
// (trigger[2].all[1]) as config's validation does.
func Load(cfg *config.Config) (*Set, []config.Problem) {
	s := &Set{}
	var probs []config.Problem
	add := func(key, msg, fix string) { probs = append(probs, config.Problem{Key: key, Msg: msg, Fix: fix}) }
	conds := func(k string, all, any []string) *Conditions {
		c, ps := Compile(all, any, cfg)
		for _, p := range ps {
			key := fmt.Sprintf("%s.%s", k, p.List)
			if p.Index >= 0 {
				key = fmt.Sprintf("%s[%d]", key, p.Index)
			}
			add(key, p.Msg, p.Fix)
		}
		return c
	}
	names := map[string]string{}
	name := func(k, kind, n string) {
		switch {
		case strings.TrimSpace(n) == "":
			add(k+".name", "missing", fmt.Sprintf(`name the %s, e.g. name = "route dns"; each firing is recorded on the ticket under it`, kind))
		case names[kind+"\x00"+strings.ToLower(n)] != "":
			add(k+".name", fmt.Sprintf("%q is already %s", n, names[kind+"\x00"+strings.ToLower(n)]), "give each one its own name")
		default:
			names[kind+"\x00"+strings.ToLower(n)] = k + ".name"
		}
	}
	// rule compiles what triggers and automations share.
	rule := func(k, what string, t config.Trigger) Trigger {
		name(k, what, t.Name)
		tr := Trigger{Name: t.Name, Cond: conds(k, t.All, t.Any), Text: t.Text, What: what}
		tr.Actions, probs = actions(cfg, k, t, probs)
		for j, n := range t.Notify {
			nk := fmt.Sprintf("%s.notify[%d]", k, j)
			switch low := strings.ToLower(strings.TrimSpace(n)); {
			case low == "assignee" || low == "group":
				tr.Notify = append(tr.Notify, low)
			case cfg.Agent(low) != nil:
				tr.Notify = append(tr.Notify, strings.ToLower(strings.TrimSpace(cfg.Agent(low).Email)))
			case cfg.AgentByNameOrAlias(low) != nil:
				tr.Notify = append(tr.Notify, strings.ToLower(strings.TrimSpace(cfg.AgentByNameOrAlias(low).Email)))
			default:
				add(nk, fmt.Sprintf("%q is not a staff member", n), fmt.Sprintf(`use "assignee", "group", or an [[agent]]'s email, name or alias (a %s mails staff only)`, what))
			}
		}
		tr.Webhook = strings.TrimSpace(t.Webhook)
		tr.RequesterTemplate = strings.TrimSpace(t.RequesterTemplate)
		if len(t.Actions) == 0 && len(t.Notify) == 0 && tr.Webhook == "" && tr.RequesterTemplate == "" {
			add(k, "has neither actions nor notify nor webhook nor requester_template, so it does nothing", `add actions = ["#group dns"], notify = ["assignee"], webhook = "NAME" and/or requester_template = "NAME"`)
		}
		if strings.TrimSpace(t.Text) != "" && len(t.Notify) == 0 {
			add(k+".text", "is mailed to nobody", `add notify = ["assignee"] (or "group", or an agent), or remove text`)
		}
		return tr
	}
	for i, t := range cfg.Triggers {
		s.Triggers = append(s.Triggers, rule(fmt.Sprintf("trigger[%d]", i), "trigger", t))
	}
	for i, au := range cfg.Automations {
		k := fmt.Sprintf("automation[%d]", i)
		if strings.EqualFold(strings.TrimSpace(au.Name), BuiltinAutoClose) {
			add(k+".name", fmt.Sprintf("%q is the built-in automation of tickets.auto_close_after", au.Name),
				"choose another name; to change auto-close, set tickets.auto_close_after")
		}
		tr := rule(k, "automation", config.Trigger(au))
		for _, l := range []struct {
			list  string
			lines []string
		}{{"all", au.All}, {"any", au.Any}} {
			for j, c := range l.lines {
				low := strings.ToLower(strings.Join(strings.Fields(c), " "))
				if strings.HasPrefix(low, "event ") || strings.HasSuffix(low, " changed") {
					add(fmt.Sprintf("%s.%s[%d]", k, l.list, j), fmt.Sprintf("%q is about what an update did, and an automation looks at tickets over time: it can never hold", c),
						`remove it (a [[trigger]] reacts to updates); for the time since a change write e.g. "status changed more than 24h ago"`)
				}
			}
		}
		s.Automations = append(s.Automations, AutomationRule{Trigger: tr})
	}
	if d := cfg.Tickets.AutoCloseAfter.D(); d > 0 {
		c, _ := Compile([]string{"status is resolved", fmt.Sprintf("resolved more than %s ago", d)}, nil, cfg)
		s.Automations = append(s.Automations, AutomationRule{Trigger: Trigger{Name: BuiltinAutoClose, Cond: c, What: "automation"}, Builtin: BuiltinAutoClose})
	}
	builtin := command.Lists()
	for i, v := range cfg.Views {
		k := fmt.Sprintf("view[%d]", i)
		name(k, "view", v.Name)
		if slices.Contains(builtin, strings.ToLower(v.Name)) {
			add(k+".name", fmt.Sprintf("%q is a built-in list of #list", v.Name), "choose another name")
		} else if strings.IndexFunc(v.Name, func(r rune) bool { return r == ' ' || r == '\t' }) >= 0 {
			add(k+".name", fmt.Sprintf("%q contains spaces", v.Name), `use one word, e.g. "unassigned-old", as written after #list`)
		}
		vw := View{Name: v.Name, Cond: conds(k, v.All, v.Any), Sort: strings.ToLower(strings.Join(strings.Fields(v.Sort), " "))}
		if vw.Sort == "" {
			vw.Sort = "created"
		}
		if !slices.Contains(Sorts, vw.Sort) {
			add(k+".sort", fmt.Sprintf("unknown sort %q", v.Sort), "use one of: "+strings.Join(Sorts, ", "))
		}
		for j, c := range v.All {
			if ev := strings.ToLower(strings.TrimSpace(c)); strings.HasPrefix(ev, "event ") || strings.HasSuffix(ev, " changed") {
				add(fmt.Sprintf("%s.all[%d]", k, j), fmt.Sprintf("%q is about an update, and a view lists tickets: it can never hold", c), "remove it; views match the tickets' fields, tags and times")
			}
		}
		s.Views = append(s.Views, vw)
	}
	return s, probs
}

// actions parses a trigger's action lines and plans them, as a rule,
// against an open ticket, so a line that is no command, a command a
// rule may not use, or an unknown agent or group is found here.
func actions(cfg *config.Config, k string, t config.Trigger, probs []config.Problem) (command.Block, []config.Problem) {
	add := func(key, msg, fix string) { probs = append(probs, config.Problem{Key: key, Msg: msg, Fix: fix}) }
	var lines []string
	var index []int // index[n]: the entry of block line n+1
	for j, l := range t.Actions {
		ak := fmt.Sprintf("%s.actions[%d]", k, j)
		l = strings.TrimSpace(l)
		b := command.Parse(l)
		switch {
		case strings.ContainsAny(l, "\r\n"):
			add(ak, "contains a line break", "put each command in its own list entry")
		case len(b.Commands) != 1 || b.Text != "":
			add(ak, fmt.Sprintf("%q is not a command", l), `write one command of the mail language per entry, e.g. "#group dns"`)
		case !slices.Contains(ActionCommands, b.Commands[0].Name):
			add(ak, fmt.Sprintf("%s is not an action a %s can take", b.Commands[0].Written(), strings.SplitN(k, "[", 2)[0]),
				"use #"+strings.Join(ActionCommands, ", #")+`; to mail staff use notify = [...]`)
		default:
			lines = append(lines, l)
			index = append(index, j)
		}
	}
	// Only the lines that are commands a rule may use are kept (and
	// planned, so an unknown agent or group is found too).
	block := command.Parse(strings.Join(lines, "\n"))
	if len(lines) == 0 {
		return block, probs
	}
	p := plan.Commands(plan.Input{
		Block:  block,
		Ticket: &plan.Ticket{ID: 1, Status: "open", CCs: []string{}},
		View:   noView{}, Config: cfg,
		Actor: plan.Actor{Email: "rule:" + t.Name, Name: t.Name, Role: plan.Rule},
	})
	for _, pr := range p.Problems {
		key := k + ".actions"
		if pr.Line >= 1 && pr.Line <= len(index) {
			key = fmt.Sprintf("%s[%d]", key, index[pr.Line-1])
		}
		fix := "correct the command; send #help to the helpdesk for the command card"
		if pr.Suggestion != "" {
			fix = "did you mean " + pr.Suggestion + "?"
		}
		add(key, fmt.Sprintf("%q: %s", pr.Raw, pr.Message), fix)
	}
	return block, probs
}

// noView: at check time there are no other tickets.
type noView struct{}

func (noView) Ticket(uint64) (plan.Ticket, bool)  { return plan.Ticket{}, false }
func (noView) Resolve(uint64) (plan.Ticket, bool) { return plan.Ticket{}, false }
func (noView) HeldReply() (uint32, bool)          { return 0, false }
