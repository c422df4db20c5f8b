package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SLA is one [[sla]] policy (SPEC 7, issue 14 item 2): the first policy
// in file order whose conditions hold for a ticket sets its targets.
// Targets are business time on the ticket's calendar (or the policy's
// own), except those listed in CalendarTime, which count elapsed time.
type SLA struct {
	Name string `toml:"name"`
	// Matching: every non-empty list must contain the ticket's value
	// (priority, mailbox address, group); Tags: the ticket has one of
	// them; RequesterDomains: the requester's domain is one of them.
	Priorities       []string `toml:"priority"`
	Mailboxes        []string `toml:"mailbox"`
	Groups           []string `toml:"group"`
	Tags             []string `toml:"tag"`
	RequesterDomains []string `toml:"requester_domain"`
	// Calendar overrides the ticket's calendar (group's, else mailbox's).
	Calendar string `toml:"calendar"`

	// Targets; 0 (absent) means the policy sets none of that kind.
	FirstReply     Duration `toml:"first_reply"`
	NextReply      Duration `toml:"next_reply"`
	PeriodicUpdate Duration `toml:"periodic_update"`
	Resolution     Duration `toml:"resolution"`
	// CalendarTime lists target kinds counted in elapsed (calendar) time
	// rather than business time: "first-reply", "next-reply",
	// "periodic-update", "resolution".
	CalendarTime []string `toml:"calendar_time"`
	// PauseThirdParty: targets also pause in waiting-third-party (they
	// always pause in pending and waiting-customer).
	PauseThirdParty bool `toml:"pause_waiting_third_party"`

	// WarnAt is when the warning goes out: "75%" of the target, or a
	// duration before the deadline ("30m"). "" = "75%"; "off" = none.
	WarnAt string `toml:"warn_at"`
	// Escalate is a staff member ([[agent]] address) who gets every
	// warning and breach notice too (a team lead).
	Escalate string `toml:"escalate_to"`
	// NotifyOutsideHours sends notices when they fall due even while the
	// calendar is closed; by default they wait for it to open (a point
	// at closing time counts as open: gateway/sla wait).
	NotifyOutsideHours bool `toml:"notify_outside_hours"`
}

// SLA target kinds, as show --json names them.
const (
	TargetFirstReply     = "first-reply"
	TargetNextReply      = "next-reply"
	TargetPeriodicUpdate = "periodic-update"
	TargetResolution     = "resolution"
)

// TargetKinds lists the kinds in the order they are reported.
var TargetKinds = []string{TargetFirstReply, TargetNextReply, TargetPeriodicUpdate, TargetResolution}

// Target returns the policy's target of a kind (0: none).
func (p *SLA) Target(kind string) time.Duration {
	switch kind {
	case TargetFirstReply:
		return p.FirstReply.D()
	case TargetNextReply:
		return p.NextReply.D()
	case TargetPeriodicUpdate:
		return p.PeriodicUpdate.D()
	case TargetResolution:
		return p.Resolution.D()
	}
	return 0
}

// Elapsed reports whether the kind is counted in calendar time.
func (p *SLA) Elapsed(kind string) bool {
	return slices.ContainsFunc(p.CalendarTime, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), kind) })
}

// Warn parses WarnAt: a fraction of the target (0 < frac < 1), or a
// duration before the deadline; off when no warning is wanted.
func (p *SLA) Warn() (frac float64, before time.Duration, off bool) {
	frac, before, off, _ = parseWarn(p.WarnAt)
	return
}

// DefaultWarnAt is the warning point of a policy without warn_at.
const DefaultWarnAt = "75%"

func parseWarn(s string) (frac float64, before time.Duration, off bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultWarnAt
	}
	if strings.EqualFold(s, "off") || strings.EqualFold(s, "none") {
		return 0, 0, true, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || f <= 0 || f >= 100 {
			return 0, 0, false, fmt.Errorf("%q is not a percentage between 0 and 100 (exclusive)", s)
		}
		return f / 100, 0, false, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, 0, false, fmt.Errorf("%q is neither a percentage of the target nor a positive duration before the deadline", s)
	}
	return 0, d, false, nil
}

// SLAFor returns the first policy matching a ticket (nil: none). tags
// and the requester's domain compare case-insensitively.
func (c *Config) SLAFor(priority, mailbox, group string, tags []string, requester string) *SLA {
	domain := ""
	if i := strings.LastIndexByte(requester, '@'); i >= 0 {
		domain = strings.ToLower(requester[i+1:])
	}
	in := func(list []string, v string) bool {
		return len(list) == 0 || slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), v) })
	}
	for i := range c.SLAs {
		p := &c.SLAs[i]
		if !in(p.Priorities, priority) || !in(p.Mailboxes, mailbox) || !in(p.Groups, group) || !in(p.RequesterDomains, domain) {
			continue
		}
		if len(p.Tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return in(p.Tags, t) }) {
			continue
		}
		return p
	}
	return nil
}

// SLANamed returns the policy of that name (nil: none).
func (c *Config) SLANamed(name string) *SLA {
	for i := range c.SLAs {
		if strings.EqualFold(c.SLAs[i].Name, name) {
			return &c.SLAs[i]
		}
	}
	return nil
}

var slaPriorities = []string{"low", "normal", "high", "urgent"}

// validateSLAs checks every [[sla]] (after the calendars are built).
func (c *Config) validateSLAs(v *validator) {
	seen := map[string]string{}
	for i, p := range c.SLAs {
		key := fmt.Sprintf("sla[%d]", i)
		switch {
		case strings.TrimSpace(p.Name) == "":
			v.add(key+".name", "missing: warnings, breach events and show --json name the policy", `name the policy, e.g. name = "urgent"`)
		case seen[lower(p.Name)] != "":
			v.add(key+".name", fmt.Sprintf("%q is already the name of %s", p.Name, seen[lower(p.Name)]), "give each [[sla]] its own name")
		default:
			seen[lower(p.Name)] = key
		}
		for j, pr := range p.Priorities {
			if !slices.Contains(slaPriorities, strings.ToLower(strings.TrimSpace(pr))) {
				fix := "use low, normal, high or urgent"
				if s := closest(pr, slaPriorities); s != "" {
					fix = fmt.Sprintf("did you mean %q? ", s) + fix
				}
				v.add(fmt.Sprintf("%s.priority[%d]", key, j), fmt.Sprintf("%q is not a priority", pr), fix)
			}
		}
		for j, m := range p.Mailboxes {
			if c.Mailbox(m) == nil {
				v.add(fmt.Sprintf("%s.mailbox[%d]", key, j), fmt.Sprintf("%q is not a [[mailbox]] address, so the policy can never match", m), "use the address of one of the [[mailbox]] entries")
			}
		}
		for j, g := range p.Groups {
			if c.Group(g) == nil {
				v.add(fmt.Sprintf("%s.group[%d]", key, j), fmt.Sprintf("no [[group]] is named %q, so the policy can never match", g), "use the name of one of the [[group]] entries")
			}
		}
		for j, d := range p.RequesterDomains {
			if d = strings.TrimSpace(d); d == "" || strings.Contains(d, "@") {
				v.add(fmt.Sprintf("%s.requester_domain[%d]", key, j), fmt.Sprintf("%q is not a domain", d), `write the domain alone, e.g. "e-fun.example"`)
			}
		}
		if p.Calendar != "" && c.CalendarNamed(p.Calendar) == nil {
			v.add(key+".calendar", fmt.Sprintf("no [[calendar]] is named %q", p.Calendar), `declare it, use "24/7", or remove calendar to use the ticket's (group's, else mailbox's)`)
		}
		any := false
		for _, k := range TargetKinds {
			d := p.Target(k)
			if d < 0 {
				v.add(key+"."+strings.ReplaceAll(k, "-", "_"), fmt.Sprintf("%s is negative", d), `write a positive duration, e.g. "4h"`)
			}
			any = any || d > 0
		}
		if !any {
			v.add(key, "sets no target, so it only hides the policies after it", `set at least one of first_reply, next_reply, periodic_update, resolution (e.g. first_reply = "4h"), or remove the policy`)
		}
		for j, k := range p.CalendarTime {
			if !slices.Contains(TargetKinds, strings.ToLower(strings.TrimSpace(k))) {
				v.add(fmt.Sprintf("%s.calendar_time[%d]", key, j), fmt.Sprintf("%q is not a target kind", k), "use first-reply, next-reply, periodic-update or resolution")
			}
		}
		frac, before, off, err := parseWarn(p.WarnAt)
		if err != nil {
			v.add(key+".warn_at", err.Error(), `write a share of the target such as "75%", a time before the deadline such as "30m", or "off"`)
		} else if !off && frac == 0 {
			for _, k := range TargetKinds {
				if d := p.Target(k); d > 0 && before >= d {
					v.add(key+".warn_at", fmt.Sprintf("%s before the deadline is not inside the %s target of %s: that warning would come at the start", before, k, d),
						`use a shorter time, or a share such as "75%"`)
					break
				}
			}
		}
		if p.Escalate != "" && c.Agent(p.Escalate) == nil {
			// Notices carry staff-only ticket details: they go to staff only.
			v.add(key+".escalate_to", fmt.Sprintf("%q is not an [[agent]] address: SLA notices carry staff-only ticket details and go to staff only", p.Escalate),
				`add the team lead as an [[agent]] (e.g. role = "admin"), or use one of the [[agent]] addresses`)
		}
	}
}
