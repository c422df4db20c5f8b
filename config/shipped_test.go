package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpdesk/config/calendar"
)

const shipped = "../helpdesk.toml"

func TestShippedConfigHasNoProblems(t *testing.T) {
	c, err := Load(shipped)
	if err != nil {
		t.Fatalf("shipped helpdesk.toml: %v", err)
	}
	// SPEC section 10: runs as is on one machine.
	if c.SMTP.Listen != "127.0.0.1:2525" || c.DataDir != "./data" || c.Outbound.Relay != "" || c.HTTP.Listen != "127.0.0.1:2526" {
		t.Errorf("shipped defaults changed: smtp %q data %q relay %q http %q", c.SMTP.Listen, c.DataDir, c.Outbound.Relay, c.HTTP.Listen)
	}
	if c.Mailbox("support@example.com") == nil || len(c.Groups) == 0 || len(c.Macros) == 0 {
		t.Error("shipped config lacks the example mailbox, group or macro")
	}
	roles := map[string]bool{}
	for _, a := range c.Agents {
		roles[a.Role] = true
	}
	if !roles[RoleAgent] || !roles[RoleLight] {
		t.Errorf("shipped config should have an agent and a light agent, has %v", roles)
	}
	// It runs as is, and its one warning says what to set before mail
	// leaves this machine: hostname, in every Message-ID.
	report, ok := Check(shipped)
	lines := strings.Split(report, "\n")
	if !ok || len(lines) != 2 || !strings.Contains(lines[0], "OK") || !regexp.MustCompile(`^warning: \.\./helpdesk\.toml:\d+: hostname: `).MatchString(lines[1]) {
		t.Errorf("Check(shipped) = %q, %v", report, ok)
	}
}

// structKeys lists every key of Config as "table.key" ("" table for the top
// level; arrays of tables without index: "agent.role").
func structKeys(t reflect.Type, prefix string, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != sizeType && ft != durationType:
			structKeys(ft, tag, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			structKeys(ft.Elem(), tag, out)
		default:
			out[prefix+"."+tag] = true
		}
	}
}

var (
	headerRE = regexp.MustCompile(`^\[\[?([a-z_]+)\]\]?\s*$`)
	keyRE    = regexp.MustCompile(`^([a-z_]+)\s*=`)
)

// documentedKeys lists "table.key" for every key line of the file, whether
// active or commented out ("# relay = ...").
func documentedKeys(t *testing.T, text string) map[string]int {
	t.Helper()
	out := map[string]int{}
	table := ""
	for n, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(l, "#"); ok {
			rest = strings.TrimSpace(rest)
			if !headerRE.MatchString(rest) && !keyRE.MatchString(rest) {
				continue // prose
			}
			l = rest
		}
		if m := headerRE.FindStringSubmatch(l); m != nil {
			table = m[1]
			continue
		}
		if m := keyRE.FindStringSubmatch(l); m != nil {
			if _, seen := out[table+"."+m[1]]; !seen {
				out[table+"."+m[1]] = n + 1
			}
		}
	}
	return out
}

func TestShippedConfigDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	structKeys(reflect.TypeFor[Config](), "", want)
	if len(want) < 60 {
		t.Fatalf("struct walk found only %d keys", len(want))
	}
	have := documentedKeys(t, string(b))
	var missing, extra []string
	for k := range want {
		if _, ok := have[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k, line := range have {
		if !want[k] {
			extra = append(extra, k+" (line "+strconv.Itoa(line)+")")
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("keys of Config not in helpdesk.toml (add them, commented out if optional): %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("helpdesk.toml documents keys Config does not have: %v", extra)
	}
	// Every key line is explained by a comment: on the line before (or the
	// block of comments above), or at the end of the line.
	lines := strings.Split(string(b), "\n")
	for k, n := range have {
		if n < 2 || !strings.HasPrefix(strings.TrimSpace(lines[n-2]), "#") && !strings.Contains(lines[n-1], " # ") {
			t.Errorf("%s (line %d) has no comment above it", k, n)
		}
	}
}

// Uncommenting the optional keys of the shipped file (and setting a relay)
// must give valid TOML with the right types and known names; only the
// example DKIM key file, TLS certificate and CA files and the example
// folders (relative to the repository's root, not to this test's
// directory) do not exist.
func TestShippedConfigCommentedKeysAreValid(t *testing.T) {
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	c, errs := uncommented(t, string(b))
	for _, p := range errs {
		// The example key file and directories do not exist.
		if p.Key != "outbound.dkim_private_key_file" && p.Key != "knowledge_base.dir" && p.Key != "templates.dir" &&
			p.Key != "smtp.tls_cert_file" && p.Key != "outbound.tls_ca_file" {
			t.Errorf("uncommented shipped config: %s", p)
		}
	}
	if c == nil {
		t.Fatal("uncommented shipped config did not parse")
	}
	// The example calendar is the one of the example mailbox's tickets,
	// and it knows the Korean holidays it lists: Chuseok 2026 is Thursday
	// to Saturday, so from Wednesday 17:00 to Monday 10:00 is 2 business
	// hours.
	kst := time.FixedZone("KST", 9*3600)
	cal := c.CalendarFor("support@example.com", "support")
	if cal.Name != "seoul-office" {
		t.Fatalf("calendar of the example mailbox = %q", cal.Name)
	}
	a := time.Date(2026, 9, 23, 17, 0, 0, 0, kst)
	if got := cal.Between(a, time.Date(2026, 9, 28, 10, 0, 0, 0, kst)); got != 2*time.Hour {
		t.Errorf("business time over Chuseok 2026 = %v, want 2h", got)
	}
	if got := len(cal.Holidays()); got != 41 {
		t.Errorf("the example has %d holidays, want 40 listed and 1 from the file", got)
	}
	if !cal.IsHoliday(calendar.Date{Year: 2026, Month: 12, Day: 31}) {
		t.Error("the holiday of holidays_file is not one")
	}
	// A policy per priority on the office's calendar (the first, with
	// every condition uncommented, needs its tag and domain too).
	for _, tc := range []struct {
		priority string
		tags     []string
		want     string
		first    time.Duration
	}{{"urgent", []string{"vip"}, "urgent", time.Hour}, {"high", nil, "high", 2 * time.Hour}, {"normal", nil, "normal", 4 * time.Hour}, {"low", nil, "low", 9 * time.Hour}} {
		p := c.SLAFor(tc.priority, "support@example.com", "support", tc.tags, "ken@e-fun.example")
		if p == nil || p.Name != tc.want || p.FirstReply.D() != tc.first || c.CalendarNamed(p.Calendar) != cal {
			t.Errorf("policy of a %s ticket = %+v, want %q with first reply %s on seoul-office", tc.priority, p, tc.want, tc.first)
		}
	}
}

// uncommented parses the shipped text with every commented-out key, table
// header and multi-line value uncommented (and a relay set, which
// credentials need); it returns the config and its problems.
func uncommented(t *testing.T, text string) (*Config, []Problem) {
	t.Helper()
	var out []string
	inValue := false
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		rest, commented := strings.CutPrefix(l, "# ")
		switch {
		case commented && keyRE.MatchString(rest):
			line = rest
			inValue = strings.HasSuffix(strings.TrimSpace(rest), "[")
		case commented && headerRE.MatchString(rest):
			line = rest
		case inValue && (strings.HasPrefix(l, "#  ") || l == "# ]"):
			line = strings.TrimPrefix(l, "# ")
			inValue = l != "# ]"
		}
		if l == `relay = ""` {
			line = `relay = "smtp.example.com:587"`
		}
		if strings.HasPrefix(line, "holidays_file = ") {
			// An .ics file with one more day: the office's year-end closure.
			ics := filepath.Join(t.TempDir(), "holidays.ics")
			os.WriteFile(ics, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261231\r\nSUMMARY:closed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), 0o644)
			line = "holidays_file = " + strconv.Quote(ics)
		}
		out = append(out, line)
	}
	c, err := Parse(strings.Join(out, "\n"))
	if err == nil {
		return c, nil
	}
	errs, ok := err.(*Errors)
	if !ok {
		t.Fatal(err)
	}
	return c, errs.List
}
