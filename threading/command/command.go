package command

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits. A mail exceeding them is rejected with a problem.
const (
	MaxCommands   = 100 // command lines in one block (after macro expansion)
	MaxArgs       = 100 // arguments of one command
	MaxSubjectLen = 250 // characters of a #subject or #child subject
)

// Command is one command line.
type Command struct {
	Line  int      // 1-based line number in the text given to Parse
	Raw   string   // the line as written, trailing space removed
	Name  string   // canonical name: "status" for #solved, lowercase
	Args  []string // canonical arguments (see the package doc)
	Macro string   // set on commands expanded from "#macro <Macro>"
	// Display is the display name written with #requester's address
	// ("Quinn <quinn@q.example>", "\"Quinn Q.\" <quinn@q.example>").
	Display string
}

// Block is the result of Parse.
type Block struct {
	Commands []Command
	Text     string // the rest of the mail, command lines removed, trimmed
}

// Has reports whether the block holds a command with this canonical name.
func (b Block) Has(name string) bool {
	_, ok := b.Find(name)
	return ok
}

// Find returns the first command with this canonical name.
func (b Block) Find(name string) (Command, bool) {
	for _, c := range b.Commands {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// Public reports whether this mail's text is a public reply: #reply makes it
// public, #note or #notify private, and otherwise def (the visibility the notification
// being answered announced in its Footer). A light agent's mail is always
// private; that rule is the engine's.
func (b Block) Public(def bool) bool {
	switch {
	case b.Has("reply"):
		return true
	case b.Has("note"), b.Has("notify"):
		// #notify is for a note: the staff it names are told of text
		// that must never reach end users or collaborators.
		return false
	}
	return def
}

// Written is the command name as the sender wrote it, with its '#'
// ("#solved" for a command canonicalised to status).
func (c Command) Written() string {
	body := strings.TrimPrefix(c.Raw, "#")
	if i := strings.IndexFunc(body, unicode.IsSpace); i >= 0 {
		body = body[:i]
	}
	if i := strings.IndexByte(body, ':'); i > 0 {
		body = body[:i]
	}
	return "#" + strings.ToLower(body)
}

// Parse reads the command block at the top of text. It never fails; what is
// wrong is for Validate to say.
func Parse(text string) Block {
	text = normalise(text)
	var b Block
	pos, line := 0, 0
	textStart := len(text)
	for pos < len(text) {
		end := strings.IndexByte(text[pos:], '\n')
		next := len(text)
		l := text[pos:]
		if end >= 0 {
			l = text[pos : pos+end]
			next = pos + end + 1
		}
		line++
		if isBlank(l) {
			pos = next
			continue
		}
		if !isCommandLine(l) {
			textStart = pos
			break
		}
		pos = next
		// Keep one command past the limit so Validate can point at it;
		// later lines are still consumed (none of them lands in Text) but
		// not parsed beyond looking for #end.
		if len(b.Commands) > MaxCommands {
			if isEndLine(l) {
				textStart = pos
				break
			}
			continue
		}
		c := parseLine(l, line)
		b.Commands = append(b.Commands, c)
		if c.Name == "end" {
			textStart = pos
			break
		}
	}
	b.Text = trimText(text[textStart:])
	return b
}

// ParseLine parses one command line ("#status pending" or, for macro
// definitions, "status pending"). ok is false when the line is not a command.
func ParseLine(s string) (Command, bool) {
	s = strings.TrimSpace(normalise(s))
	if strings.ContainsRune(s, '\n') {
		return Command{}, false
	}
	if !strings.HasPrefix(s, "#") {
		s = "#" + s
	}
	if !isCommandLine(s) {
		return Command{}, false
	}
	return parseLine(s, 0), true
}

func normalise(s string) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return s
}

// isEndLine reports whether a command line is #end (any case, any
// arguments), without allocating.
func isEndLine(l string) bool {
	if len(l) < 4 || !strings.EqualFold(l[1:4], "end") {
		return false
	}
	if len(l) == 4 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(l[4:])
	return unicode.IsSpace(r) || r == ':'
}

func isBlank(l string) bool {
	return strings.TrimFunc(l, unicode.IsSpace) == ""
}

// isCommandLine: '#' in column 0 followed by a letter.
func isCommandLine(l string) bool {
	if len(l) < 2 || l[0] != '#' {
		return false
	}
	r, _ := utf8.DecodeRuneInString(l[1:])
	return unicode.IsLetter(r)
}

// trimText drops leading blank lines and trailing white space; indentation
// of the first line of prose is kept.
func trimText(s string) string {
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 || !isBlank(s[:i]) {
			break
		}
		s = s[i+1:]
	}
	s = strings.TrimRightFunc(s, unicode.IsSpace)
	if isBlank(s) {
		return ""
	}
	return s
}

// statusValues maps every accepted spelling (after joining words with '-')
// to the canonical status.
var statusValues = map[string]string{
	"open":                "open",
	"pending":             "pending",
	"waiting-customer":    "waiting-customer",
	"waiting-third-party": "waiting-third-party",
	"resolved":            "resolved",
	"closed":              "closed",
	"solved":              "resolved",
	"on-hold":             "waiting-third-party",
}

// Canonical value sets, in the order the help card and messages show them.
var (
	statuses   = []string{"open", "pending", "waiting-customer", "waiting-third-party", "resolved", "closed"}
	priorities = []string{"low", "normal", "high", "urgent"}
	types      = []string{"question", "incident", "problem", "task"}
	includes   = []string{"none", "last", "all"}
	lists      = []string{"mine", "unassigned", "group", "open", "overdue", "due", "stale"}
)

// Statuses, Priorities, Types, Includes and Lists return the canonical
// values of the enumerated arguments.
func Statuses() []string   { return append([]string(nil), statuses...) }
func Priorities() []string { return append([]string(nil), priorities...) }
func Types() []string      { return append([]string(nil), types...) }
func Includes() []string   { return append([]string(nil), includes...) }
func Lists() []string      { return append([]string(nil), lists...) }

// canonStatus maps a spelling to its status ("" if unknown). Words may be
// joined with '-', '_' or spaces.
func canonStatus(s string) string {
	s = strings.ReplaceAll(strings.ToLower(s), "_", "-")
	return statusValues[s]
}

func parseLine(l string, line int) Command {
	raw := strings.TrimRightFunc(l, unicode.IsSpace)
	body := raw[1:]
	name, rest := body, ""
	if i := strings.IndexFunc(body, unicode.IsSpace); i >= 0 {
		name, rest = body[:i], body[i:]
	}
	if i := strings.IndexByte(name, ':'); i > 0 {
		rest = name[i+1:] + " " + rest
		name = name[:i]
	}
	rest = strings.TrimFunc(rest, unicode.IsSpace)
	name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
	c := Command{Line: line, Raw: raw, Name: name}
	if st := canonStatus(name); st != "" {
		c.Name = "status"
		c.Args = append([]string{st}, lowerAll(strings.Fields(rest))...)
		return c
	}
	switch name {
	case "status":
		f := lowerAll(strings.Fields(rest))
		if st := canonStatus(strings.Join(f, "-")); st != "" {
			f = []string{st}
		}
		c.Args = f
	case "priority":
		f := lowerAll(strings.Fields(rest))
		if len(f) == 1 && f[0] == "medium" {
			f[0] = "normal"
		}
		c.Args = f
	case "type", "include", "list", "spam":
		c.Args = lowerAll(strings.Fields(rest))
	case "report":
		f := lowerAll(strings.Fields(rest))
		if len(f) > 1 && isPeriodKeyword(f[0]+"-"+f[1]) {
			f = append([]string{f[0] + "-" + f[1]}, f[2:]...)
		}
		c.Args = f
	case "assign", "group", "macro":
		if r := strings.Join(strings.Fields(rest), " "); r != "" {
			if l := strings.ToLower(r); name == "assign" && (l == "me" || l == "none") {
				r = l
			}
			c.Args = []string{r}
		}
	case "subject", "child":
		if rest != "" {
			c.Args = []string{rest}
		}
	case "tag", "follower", "notify":
		c.Args = splitList(rest)
	case "requester":
		// One address, possibly with a display name: read as an RFC 5322
		// address first, so the name's spaces do not split it into
		// "arguments"; anything else is a list (and "too many" when it
		// holds several addresses).
		if a, err := mail.ParseAddress(rest); err == nil && strings.TrimSpace(a.Name) != "" {
			c.Args, c.Display = []string{a.Address}, strings.TrimSpace(a.Name)
			return c
		}
		c.Args = splitList(rest)
		for i, a := range c.Args {
			c.Args[i] = stripAngle(a)
		}
	case "cc", "forward":
		c.Args = splitList(rest)
		for i, a := range c.Args {
			sign := ""
			if name == "cc" && a != "" && (a[0] == '+' || a[0] == '-') {
				sign, a = a[:1], a[1:]
			}
			c.Args[i] = sign + stripAngle(a)
		}
	case "customer":
		c.Args = parseCustomer(rest)
	case "merge", "parent", "ticket":
		f := strings.Fields(rest)
		for i := range f {
			if i == 0 {
				f[i] = strings.TrimPrefix(f[i], "#")
			} else {
				f[i] = strings.ToLower(f[i])
			}
		}
		c.Args = f
	default:
		c.Args = strings.Fields(rest)
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	return c
}

func lowerAll(f []string) []string {
	for i := range f {
		f[i] = strings.ToLower(f[i])
	}
	return f
}

// splitList splits on white space, commas and semicolons.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == ';'
	})
}

func stripAngle(s string) string {
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		return s[1 : len(s)-1]
	}
	return s
}

// PlusMinus splits "+a -b c" style arguments (#tag, #cc, #follower) into
// the items to add (a, c) and to remove (b), signs stripped.
func PlusMinus(args []string) (add, remove []string) {
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-"):
			remove = append(remove, a[1:])
		case strings.HasPrefix(a, "+"):
			add = append(add, a[1:])
		default:
			add = append(add, a)
		}
	}
	return add, remove
}
