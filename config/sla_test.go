package config

import (
	"strings"
	"testing"
	"time"
)

// check-config names each bad [[sla]] key with its line and a fix.
func TestSLAProblems(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		key        string
		line       int
		msg, fix   string
	}{
		{"unknown priority", `
[[sla]]
name = "urgent"
priority = ["urgnet"]
first_reply = "1h"
`, "sla[0].priority[0]", 4, `"urgnet" is not a priority`, `did you mean "urgent"?`},
		{"no target", `
[[sla]]
name = "urgent"
priority = ["urgent"]
`, "sla[0]", 2, "sets no target", "first_reply"},
		{"unknown calendar", `
[[sla]]
name = "urgent"
calendar = "office"
first_reply = "1h"
`, "sla[0].calendar", 4, `no [[calendar]] is named "office"`, "24/7"},
		{"bad warn_at", `
[[sla]]
name = "urgent"
first_reply = "1h"
warn_at = "120%"
`, "sla[0].warn_at", 5, `"120%" is not a percentage`, `"75%"`},
		{"warn_at longer than a target", `
[[sla]]
name = "urgent"
first_reply = "1h"
resolution = "9h"
warn_at = "2h"
`, "sla[0].warn_at", 6, "not inside the first-reply target of 1h0m0s", "shorter"},
		{"unknown mailbox: can never match", `
[[sla]]
name = "sales"
mailbox = ["sales@example.com"]
first_reply = "1h"
`, "sla[0].mailbox[0]", 4, "can never match", "[[mailbox]]"},
		{"unknown group", `
[[sla]]
name = "sales"
group = ["sales"]
first_reply = "1h"
`, "sla[0].group[0]", 4, `no [[group]] is named "sales"`, "[[group]]"},
		{"bad calendar_time kind", `
[[sla]]
name = "p"
first_reply = "1h"
calendar_time = ["first_reply"]
`, "sla[0].calendar_time[0]", 5, `"first_reply" is not a target kind`, "first-reply"},
		{"duplicate name", `
[[sla]]
name = "p"
first_reply = "1h"
[[sla]]
name = "P"
first_reply = "2h"
`, "sla[1].name", 6, "already the name of sla[0]", "own name"},
		{"escalate_to not staff", `
[[sla]]
name = "p"
first_reply = "1h"
escalate_to = "boss@elsewhere.example"
`, "sla[0].escalate_to", 5, "not an [[agent]] address", "[[agent]]"},
		{"bad duration", `
[[sla]]
name = "p"
first_reply = "4 hours"
`, "sla[0].first_reply", 4, "not a duration", `"10m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := people + tc.text
			base := strings.Count(people, "\n")
			ps := problems(t, text)
			if len(ps) < 1 {
				t.Fatalf("no problems, want one on %s", tc.key)
			}
			p := ps[0]
			for _, q := range ps {
				if q.Key == tc.key {
					p = q
				}
			}
			if len(ps) != 1 && tc.key != "sla[0].first_reply" {
				t.Fatalf("problems = %v, want one on %s", ps, tc.key)
			}
			if p.Key != tc.key || p.Line != base+tc.line || !strings.Contains(p.Msg, tc.msg) || !strings.Contains(p.Fix, tc.fix) {
				t.Errorf("problem = %s (line %d); want key %s, line %d, msg ~ %q, fix ~ %q", p, p.Line, tc.key, base+tc.line, tc.msg, tc.fix)
			}
		})
	}
}

// The first policy in file order whose conditions all hold wins.
func TestSLAFor(t *testing.T) {
	c, err := Parse(people + `
[[sla]]
name = "vip"
tag = ["vip"]
requester_domain = ["e-fun.example"]
first_reply = "30m"
[[sla]]
name = "urgent support"
priority = ["urgent", "high"]
group = ["support"]
first_reply = "1h"
[[sla]]
name = "billing"
mailbox = ["support@example.com"]
group = ["billing"]
first_reply = "2h"
[[sla]]
name = "rest"
first_reply = "8h"
warn_at = "30m"
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		priority, group string
		tags            []string
		requester, want string
	}{
		{"low", "support", []string{"x", "VIP"}, "ken@E-Fun.example", "vip"},
		{"low", "support", []string{"vip"}, "ken@other.example", "rest"},
		{"urgent", "support", nil, "ken@other.example", "urgent support"},
		{"high", "billing", nil, "ken@other.example", "billing"},
		{"normal", "support", nil, "ken@other.example", "rest"},
	} {
		p := c.SLAFor(tc.priority, "support@example.com", tc.group, tc.tags, tc.requester)
		if p == nil || p.Name != tc.want {
			t.Errorf("SLAFor(%s, %s, %v, %s) = %v, want %s", tc.priority, tc.group, tc.tags, tc.requester, p, tc.want)
		}
	}
	if frac, before, off := c.SLANamed("rest").Warn(); frac != 0 || before != 30*time.Minute || off {
		t.Errorf("warn_at 30m = %v %v %v", frac, before, off)
	}
	if frac, _, _ := c.SLANamed("vip").Warn(); frac != 0.75 {
		t.Errorf("default warn_at = %v", frac)
	}
}
