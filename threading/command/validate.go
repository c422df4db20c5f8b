package command

import (
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"helpdesk/threading/safetext"
)

// Role is the sender's staff role; the values match config.Role*.
type Role string

// Roles. Any other value (including "") is treated as RoleLight: the least
// privilege.
const (
	RoleAgent Role = "agent"
	RoleLight Role = "light"
	RoleAdmin Role = "admin"
)

// Problem is one reason a block cannot be applied. Command is the line it
// is about (for a conflict, the later of the two lines).
type Problem struct {
	Command
	Message    string // complete human text, suggestion included
	Suggestion string // the suggested word alone ("assign", "high"), if any
}

func (p Problem) String() string { return p.Written() + ": " + p.Message }

// Names returns the canonical command names, in help-card order.
func Names() []string { return append([]string(nil), names...) }

var names = []string{
	"status", "assign", "group", "priority", "type", "tag", "cc",
	"follow", "unfollow", "follower", "reply", "note", "notify", "requester",
	"forward", "include", "subject", "done", "merge", "parent", "child",
	"macro", "available", "away", "ticket", "list", "spam", "send", "report",
	"customer", "help", "end",
}

// shortForms are the status short forms accepted as command names.
var shortForms = []string{"open", "pending", "waiting-customer", "waiting-third-party", "on-hold", "resolved", "solved", "closed"}

// commandCandidates are the names suggested for an unknown command.
var commandCandidates = append(append([]string(nil), names...), shortForms...)

// lightAllowed are the commands a light agent may use.
var lightAllowed = map[string]bool{
	"note": true, "notify": true, "follow": true, "unfollow": true,
	"list": true, "help": true, "end": true,
}

const lightList = "#note, #notify, #follow, #unfollow, #list and #help"

func known(name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// Validate checks every command of b for syntax, the sender's role and
// conflicts within the block. It knows nothing of agents, groups, tickets
// or macros: those checks are the engine's. Problems come in line order,
// block-level ones on the line they concern.
func Validate(b Block, role Role) []Problem {
	v := &validator{}
	if role != RoleAgent && role != RoleAdmin {
		role = RoleLight
	}
	valid := make([]bool, len(b.Commands))
	for i, c := range b.Commands {
		if i == MaxCommands {
			v.add(c, "", "too many commands in one mail (at most %d); nothing after this line was read", MaxCommands)
			break
		}
		n := len(v.problems)
		v.command(c, role)
		valid[i] = len(v.problems) == n
	}
	v.conflicts(b, valid)
	return v.problems
}

type validator struct {
	problems []Problem
}

func (v *validator) add(c Command, suggestion, format string, a ...any) {
	v.problems = append(v.problems, Problem{Command: c, Message: fmt.Sprintf(format, a...), Suggestion: suggestion})
}

// unknownValue reports an unknown enumerated value with a suggestion or
// the list of values.
func (v *validator) unknownValue(c Command, what, value string, values []string) {
	if s := suggestValue(what, value, values); s != "" {
		v.add(c, s, "unknown %s %q; did you mean %s?", what, value, s)
		return
	}
	v.add(c, "", "unknown %s %q; use %s", what, value, orList(values))
}

func orList(values []string) string {
	if len(values) <= 1 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

func (v *validator) command(c Command, role Role) {
	if !known(c.Name) {
		w := strings.TrimPrefix(c.Written(), "#")
		if s := Suggest(w, commandCandidates); s != "" {
			v.add(c, s, "unknown command %s; did you mean #%s?", c.Written(), s)
		} else {
			v.add(c, "", "unknown command %s; send #help for the list of commands", c.Written())
		}
		return
	}
	if role == RoleLight && !lightAllowed[c.Name] {
		v.add(c, "", "%s is not allowed for light agents (they may use %s)", c.Written(), lightList)
		return
	}
	if len(c.Args) > MaxArgs {
		v.add(c, "", "too many arguments (at most %d)", MaxArgs)
		return
	}
	w := c.Written()
	switch c.Name {
	case "status":
		if w != "#status" { // short form: the value is the name itself
			if len(c.Args) > 1 {
				v.add(c, "", "%s takes no arguments", w)
			}
			return
		}
		v.enum(c, "status", "a status", statuses, canonStatus)
	case "priority":
		v.enum(c, "priority", "a priority", priorities, nil)
	case "type":
		v.enum(c, "type", "a type", types, nil)
	case "include":
		v.enum(c, "include value", "a value", includes, nil)
	case "list":
		if len(c.Args) == 2 && c.Args[0] == "due" {
			// #list due 8h: targets due within that much business time.
			if d, err := time.ParseDuration(c.Args[1]); err != nil || d <= 0 {
				v.add(c, "", "#list due takes a business time such as 8h or 30m, not %q", c.Args[1])
			}
			return
		}
		v.enum(c, "list", "a list", lists, nil)
	case "assign":
		v.exactly(c, 1, "an agent (address, name or alias), me or none")
	case "group":
		v.exactly(c, 1, "a group name")
	case "macro":
		v.exactly(c, 1, "a macro name")
	case "tag":
		if v.atLeastOne(c, "tags (+add -remove)") {
			// A control or bidi character in a tag would act on the
			// terminal of whoever lists the tickets.
			v.items(c, "tag", func(s string) bool {
				return s != "" && utf8.RuneCountInString(s) <= 100 && !safetext.HasUnsafe(s)
			})
		}
	case "cc":
		if v.atLeastOne(c, "addresses (+add -remove)") {
			v.items(c, "address", func(s string) bool { _, ok := ParseAddr(s); return ok })
		}
	case "follower":
		if v.atLeastOne(c, "agents (+add -remove)") {
			v.items(c, "agent", func(s string) bool { return s != "" })
		}
	case "notify":
		v.atLeastOne(c, "agents to notify")
	case "forward":
		if v.atLeastOne(c, "one or more external addresses") {
			v.addrs(c)
		}
	case "requester":
		if v.exactly(c, 1, "an address") {
			v.addrs(c)
		}
	case "subject", "child":
		if c.Name == "subject" && len(c.Args) == 0 {
			v.add(c, "", "%s needs a subject", w)
		}
		if len(c.Args) == 1 && utf8.RuneCountInString(c.Args[0]) > MaxSubjectLen {
			v.add(c, "", "subject too long (at most %d characters)", MaxSubjectLen)
		}
		// A bare #child is checked with the block: #subject may give it.
	case "merge":
		if len(c.Args) == 0 {
			v.add(c, "", "%s needs a ticket number", w)
			return
		}
		v.number(c, c.Args[0])
		if len(c.Args) > 2 || (len(c.Args) == 2 && c.Args[1] != "cc") {
			v.add(c, "", "unexpected %q after the ticket number; only cc may follow", strings.Join(c.Args[1:], " "))
		}
	case "parent", "ticket":
		if v.exactly(c, 1, "a ticket number") {
			v.number(c, c.Args[0])
		}
	case "spam":
		switch {
		case len(c.Args) == 0:
		case len(c.Args) == 1 && c.Args[0] == "domain":
			if role != RoleAdmin {
				v.add(c, "", "#spam domain is for admins only")
			}
		case len(c.Args) == 1:
			if s := Suggest(c.Args[0], []string{"domain"}); s != "" {
				v.add(c, s, "unexpected %q; did you mean domain?", c.Args[0])
			} else {
				v.add(c, "", "unexpected %q; #spam takes nothing or domain", c.Args[0])
			}
		default:
			v.add(c, "", "too many arguments: #spam takes nothing or domain")
		}
	case "customer":
		v.customer(c)
	case "report":
		period, _, problem := ReportArgs(c.Args)
		switch problem {
		case "":
		case "period":
			if s := Suggest(period, periodKeywords); s != "" {
				v.add(c, s, "unknown period %q; did you mean %s?", period, s)
			} else {
				v.add(c, "", "unknown period %q; use %s", period, PeriodHelp)
			}
		default:
			v.add(c, "", "%s: #report takes a period (%s) and then agents, groups, mailboxes or tickets", problem, PeriodHelp)
		}
	default: // follow unfollow reply note done available away send help end
		if len(c.Args) > 0 {
			v.add(c, "", "%s takes no arguments", w)
		}
	}
}

// enum checks one enumerated value. canon, if set, maps aliases.
func (v *validator) enum(c Command, what, need string, values []string, canon func(string) string) {
	switch {
	case len(c.Args) == 0:
		v.add(c, "", "%s needs %s: %s", c.Written(), need, orList(values))
	case len(c.Args) > 1:
		// "#status pendng now" or "#status waiting for customer": suggest
		// for the words joined, else say there are too many.
		joined := strings.Join(c.Args, "-")
		if s := suggestValue(what, joined, values); s != "" {
			v.add(c, s, "unknown %s %q; did you mean %s?", what, strings.Join(c.Args, " "), s)
			return
		}
		v.add(c, "", "too many arguments: %s takes one of %s", c.Written(), orList(values))
	default:
		val := c.Args[0]
		if canon != nil {
			if cv := canon(val); cv != "" {
				val = cv
			}
		}
		for _, x := range values {
			if x == val {
				return
			}
		}
		v.unknownValue(c, what, c.Args[0], values)
	}
}

// suggestValue suggests a value for an unknown enumerated value; status
// aliases count as values.
func suggestValue(what, value string, values []string) string {
	if what == "status" {
		values = append(append([]string(nil), values...), "solved", "on-hold")
	}
	return Suggest(value, values)
}

func (v *validator) exactly(c Command, n int, need string) bool {
	switch {
	case len(c.Args) < n:
		v.add(c, "", "%s needs %s", c.Written(), need)
		return false
	case len(c.Args) > n:
		v.add(c, "", "too many arguments: %s takes %s", c.Written(), need)
		return false
	}
	return true
}

func (v *validator) atLeastOne(c Command, need string) bool {
	if len(c.Args) == 0 {
		v.add(c, "", "%s needs %s", c.Written(), need)
		return false
	}
	return true
}

// items checks +x/-x/x items; one problem names the bad ones.
func (v *validator) items(c Command, what string, ok func(string) bool) {
	var bad []string
	for _, a := range c.Args {
		s := a
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if !ok(s) {
			bad = append(bad, a)
		}
	}
	v.bad(c, what, bad)
}

func (v *validator) addrs(c Command) {
	var bad []string
	for _, a := range c.Args {
		if _, ok := ParseAddr(a); !ok {
			bad = append(bad, a)
		}
	}
	v.bad(c, "address", bad)
}

func (v *validator) bad(c Command, what string, bad []string) {
	if len(bad) == 0 {
		return
	}
	q := make([]string, 0, 3)
	for _, b := range bad[:min(3, len(bad))] {
		q = append(q, strconv.Quote(b))
	}
	msg := "invalid " + what
	if len(bad) > 1 {
		if strings.HasSuffix(what, "s") {
			msg += "es"
		} else {
			msg += "s"
		}
	}
	msg += " " + strings.Join(q, ", ")
	if len(bad) > 3 {
		msg += fmt.Sprintf(" and %d more", len(bad)-3)
	}
	v.add(c, "", "%s", msg)
}

func (v *validator) number(c Command, s string) {
	if _, ok := TicketNumber(s); !ok {
		v.add(c, "", "%q is not a ticket number", s)
	}
}

// single-valued commands: a second one with other arguments conflicts.
var single = map[string]bool{
	"status": true, "assign": true, "group": true, "priority": true,
	"type": true, "requester": true, "include": true, "subject": true,
	"merge": true, "parent": true, "ticket": true, "child": true,
}

// pairs of commands that cannot be combined, with the reason.
var pairs = []struct{ a, b, why string }{
	{"reply", "note", "a mail is either a public reply or a private note"},
	{"follow", "unfollow", ""},
	{"available", "away", ""},
	{"done", "forward", "#done closes a side thread, #forward starts one"},
	{"forward", "child", "send the side thread and the child ticket separately"},
	{"notify", "reply", "#notify is for private notes"},
	{"merge", "status", "#merge closes this ticket"},
	{"merge", "parent", ""},
	{"merge", "child", ""},
	{"spam", "status", "#spam closes the ticket"},
	{"spam", "merge", ""},
	{"spam", "reply", "#spam closes the ticket without a reply"},
	{"spam", "forward", ""},
}

func (v *validator) conflicts(b Block, valid []bool) {
	first := map[string]Command{}
	seen := func(name string) (Command, bool) { c, ok := first[name]; return c, ok }
	for i, c := range b.Commands {
		if i >= len(valid) || !valid[i] {
			continue
		}
		if f, ok := seen(c.Name); ok && single[c.Name] && strings.Join(f.Args, "\x00") != strings.Join(c.Args, "\x00") {
			v.add(c, "", "conflicts with %s on line %d", f.Raw, f.Line)
		}
		for _, p := range pairs {
			other := ""
			switch c.Name {
			case p.a:
				other = p.b
			case p.b:
				other = p.a
			default:
				continue
			}
			if f, ok := seen(other); ok {
				msg := fmt.Sprintf("conflicts with %s on line %d", f.Raw, f.Line)
				if p.why != "" {
					msg += ": " + p.why
				}
				v.add(c, "", "%s", msg)
			}
		}
		if _, ok := first[c.Name]; !ok {
			first[c.Name] = c
		}
		switch c.Name {
		case "tag", "cc", "follower":
			add, remove := PlusMinus(c.Args)
			in := map[string]bool{}
			for _, a := range add {
				in[strings.ToLower(a)] = true
			}
			for _, r := range remove {
				if in[strings.ToLower(r)] {
					v.add(c, "", "%q is both added and removed", r)
					break
				}
			}
		}
	}
	// Dependencies, checked against the whole block (order does not matter).
	for i, c := range b.Commands {
		if i >= len(valid) || !valid[i] {
			continue
		}
		switch c.Name {
		case "include":
			if !b.Has("forward") {
				v.add(c, "", "#include needs #forward in the same mail")
			}
		case "subject":
			switch {
			case !b.Has("forward") && !b.Has("child"):
				v.add(c, "", "#subject needs #forward or #child in the same mail")
			case childWithSubject(b):
				v.add(c, "", "#child already gives the subject")
			}
		case "child":
			if len(c.Args) == 0 && !b.Has("subject") {
				v.add(c, "", "#child needs a subject: #child <subject>, or #subject on its own line")
			}
		}
	}
	sortProblems(v.problems, b)
}

func childWithSubject(b Block) bool {
	c, ok := b.Find("child")
	return ok && len(c.Args) > 0
}

// sortProblems orders problems by the position of their command in b
// (stable, so per-line order is kept).
func sortProblems(ps []Problem, b Block) {
	index := make(map[commandKey]int, len(b.Commands))
	for i, c := range b.Commands {
		if _, ok := index[keyOf(c)]; !ok {
			index[keyOf(c)] = i
		}
	}
	pos := func(p Problem) int {
		if i, ok := index[keyOf(p.Command)]; ok {
			return i
		}
		return len(b.Commands)
	}
	slices.SortStableFunc(ps, func(x, y Problem) int { return pos(x) - pos(y) })
}

type commandKey struct {
	line       int
	raw, macro string
}

func keyOf(c Command) commandKey { return commandKey{c.Line, c.Raw, c.Macro} }

// ParseAddr checks one bare address (a@b, or <a@b>) and returns it.
func ParseAddr(s string) (string, bool) {
	s = stripAngle(s)
	if s == "" || strings.ContainsAny(s, " \t<>,;") || strings.Count(s, "@") != 1 {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	return a.Address, true
}

// TicketNumber parses a ticket number ("123" or "#123").
func TicketNumber(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "#")
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}
