package config

import (
	"slices"
	"strings"
)

// index holds O(1) lookup maps over a Config. Values are positions in the
// Config's slices; -1 marks an ambiguous name. It remembers which slices it
// was built from, so a Config copied and then changed in code never answers
// from a stale index (lookups then fall back to a fresh one).
type index struct {
	agents    []Agent // the slices indexed (identity check)
	mailboxes []Mailbox
	groups    []Group
	macros    []Macro

	agentAddr  map[string]int   // email and aliases, lower case
	agentName  map[string]int   // full name, lower case
	agentFirst map[string]int   // first word of the name
	agentLocal map[string]int   // local part of email and aliases
	mailbox    map[string]int   // address, lower case
	group      map[string]int   // name, lower case
	groupAgent map[string][]int // group name → agents in file order
	macro      map[string]int   // name, lower case
}

// BuildIndex (re)builds the lookup maps. Load and Parse call it; call it
// yourself after building or changing a Config in code, otherwise lookups
// still work but cost O(n) each.
func (c *Config) BuildIndex() { c.idx = newIndex(c) }

func (c *Config) index() *index {
	ix := c.idx
	if ix == nil || !sameSlice(ix.agents, c.Agents) || !sameSlice(ix.mailboxes, c.Mailboxes) ||
		!sameSlice(ix.groups, c.Groups) || !sameSlice(ix.macros, c.Macros) {
		return newIndex(c)
	}
	return ix
}

func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// put records k → i, marking k ambiguous (-1) when another i has it.
func put(m map[string]int, k string, i int) {
	if k == "" {
		return
	}
	if j, ok := m[k]; ok && j != i {
		m[k] = -1
		return
	}
	m[k] = i
}

func localPart(addr string) string {
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		return addr[:at]
	}
	return addr
}

func newIndex(c *Config) *index {
	ix := &index{
		agents: c.Agents, mailboxes: c.Mailboxes, groups: c.Groups, macros: c.Macros,
		agentAddr: map[string]int{}, agentName: map[string]int{}, agentFirst: map[string]int{},
		agentLocal: map[string]int{}, mailbox: map[string]int{}, group: map[string]int{},
		groupAgent: map[string][]int{}, macro: map[string]int{},
	}
	for i, a := range c.Agents {
		for _, addr := range append([]string{a.Email}, a.Aliases...) {
			k := lower(addr)
			if _, dup := ix.agentAddr[k]; !dup && k != "" {
				ix.agentAddr[k] = i // the first declaration wins
			}
			put(ix.agentLocal, localPart(k), i)
		}
		name := lower(a.Name)
		put(ix.agentName, name, i)
		if f := strings.Fields(name); len(f) > 1 {
			put(ix.agentFirst, f[0], i)
		}
		seen := map[string]bool{}
		for _, g := range a.Groups {
			if k := lower(g); !seen[k] {
				seen[k] = true
				ix.groupAgent[k] = append(ix.groupAgent[k], i)
			}
		}
	}
	for i, m := range c.Mailboxes {
		if k := lower(m.Address); k != "" {
			if _, dup := ix.mailbox[k]; !dup {
				ix.mailbox[k] = i
			}
		}
	}
	for i, g := range c.Groups {
		if k := lower(g.Name); k != "" {
			if _, dup := ix.group[k]; !dup {
				ix.group[k] = i
			}
		}
	}
	for i, m := range c.Macros {
		if k := lower(m.Name); k != "" {
			if _, dup := ix.macro[k]; !dup {
				ix.macro[k] = i
			}
		}
	}
	return ix
}

// bareAddress strips "Name <addr>" and angle brackets and lower-cases.
func bareAddress(addr string) string {
	a := strings.TrimSpace(addr)
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		a = a[i+1:]
		if j := strings.IndexByte(a, '>'); j >= 0 {
			a = a[:j]
		}
	}
	return strings.ToLower(strings.TrimSpace(a))
}

// stripPlus removes a "+tag" from the local part ("ken+x@a" → "ken@a").
func stripPlus(addr string) (string, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, false
	}
	p := strings.IndexByte(addr[:at], '+')
	if p <= 0 {
		return addr, false
	}
	return addr[:p] + addr[at:], true
}

// Agent returns the staff member whose email or alias is addr (case-
// insensitive; "Name <addr>" is accepted), or nil. With
// threading.ignore_plus_tags, "vic+phone@x" also finds vic@x.
func (c *Config) Agent(addr string) *Agent {
	ix := c.index()
	a := bareAddress(addr)
	if i, ok := ix.agentAddr[a]; ok {
		return &c.Agents[i]
	}
	if c.Threading.IgnorePlusTags {
		if b, ok := stripPlus(a); ok {
			if i, ok := ix.agentAddr[b]; ok {
				return &c.Agents[i]
			}
		}
	}
	return nil
}

// AgentByNameOrAlias finds a staff member the way "#assign" names one, first
// match wins: an email or alias address (as Agent); the full name; the first
// word of a name; the local part of an email or alias ("alice" for
// alice@example.com). All case-insensitive; a name, first name or local part
// shared by two agents matches nobody. Returns nil when nothing matches.
func (c *Config) AgentByNameOrAlias(s string) *Agent {
	if a := c.Agent(s); a != nil {
		return a
	}
	ix := c.index()
	k := lower(s)
	k = strings.Join(strings.Fields(k), " ")
	for _, m := range []map[string]int{ix.agentName, ix.agentFirst, ix.agentLocal} {
		if i, ok := m[k]; ok {
			if i < 0 {
				return nil
			}
			return &c.Agents[i]
		}
	}
	return nil
}

// Mailbox returns the mailbox addr is addressed to, or nil: its address, or
// a sub-address of it, "support+xyz@example.com" (also "support-xyz@" when
// threading.token_separator is "-"). Case-insensitive; "Name <addr>" is
// accepted.
func (c *Config) Mailbox(addr string) *Mailbox {
	m, _ := c.MailboxTag(addr)
	return m
}

// MailboxTag is Mailbox that also returns the text after the separator
// ("xyz" for "support+xyz@example.com", "" for the plain address). The
// separators are "+" and threading.token_separator; when a mailbox's own
// local part contains one, the longest matching mailbox wins.
func (c *Config) MailboxTag(addr string) (*Mailbox, string) {
	a := bareAddress(addr)
	if i, ok := c.index().mailbox[a]; ok {
		return &c.Mailboxes[i], ""
	}
	return c.subAddressOf(a)
}

// subAddressOf finds the mailbox the lower-case address a is a sub-address
// of (never a's own mailbox), and the tag.
func (c *Config) subAddressOf(a string) (*Mailbox, string) {
	ix := c.index()
	at := strings.LastIndexByte(a, '@')
	if at <= 0 {
		return nil, ""
	}
	local, domain := a[:at], a[at:]
	sep := c.Threading.TokenSeparator
	for p := len(local) - 2; p > 0; p-- {
		if local[p] != '+' && string(local[p]) != sep {
			continue
		}
		if i, ok := ix.mailbox[local[:p]+domain]; ok {
			return &c.Mailboxes[i], local[p+1:]
		}
	}
	return nil, ""
}

// IsOwnAddress reports whether addr is one of our mailboxes or a
// sub-address of one (reply tokens included).
func (c *Config) IsOwnAddress(addr string) bool { return c.Mailbox(addr) != nil }

// Group returns the [[group]] named name (case-insensitive), or nil.
func (c *Config) Group(name string) *Group {
	if i, ok := c.index().group[lower(name)]; ok {
		return &c.Groups[i]
	}
	return nil
}

// GroupAgents returns the staff of every role whose groups include name
// (case-insensitive), in file order; nil for an unknown or empty group.
// The slice is a copy.
func (c *Config) GroupAgents(name string) []Agent {
	is := c.index().groupAgent[lower(name)]
	if len(is) == 0 {
		return nil
	}
	out := make([]Agent, len(is))
	for j, i := range is {
		out[j] = c.Agents[i]
		out[j].Groups = slices.Clone(out[j].Groups)
		out[j].Aliases = slices.Clone(out[j].Aliases)
	}
	return out
}

// Macro returns the [[macro]] named name (case-insensitive), or nil.
func (c *Config) Macro(name string) *Macro {
	if i, ok := c.index().macro[lower(name)]; ok {
		return &c.Macros[i]
	}
	return nil
}

// Role helpers.

// IsAgent reports role agent or admin: full command rights.
func (a *Agent) IsAgent() bool { return a != nil && (a.Role == RoleAgent || a.Role == RoleAdmin) }

// IsLight reports role light.
func (a *Agent) IsLight() bool { return a != nil && a.Role == RoleLight }

// IsAdmin reports role admin.
func (a *Agent) IsAdmin() bool { return a != nil && a.Role == RoleAdmin }
