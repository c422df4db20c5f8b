package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var (
	_ = claim("[[automation]] (time-based rules: conditions on status, priority, group, assignee, tags, mailbox, sender domain and the time since created, updated, status changed, last customer comment, last response, resolved, in calendar or business time; actions are mail commands, notify/text to staff, requester_template, webhook) fire at most once per condition epoch: a rule that stays true after firing fires once, again only after an update found it false and a later one true; each firing is an event naming it; on the manual clock `clock advance` returns after it fired, stamped at its instant; across a restart nothing fires twice",
		"TestAutomationFiresOncePerEpoch")
	_ = claim("an automation on business time (\"created more than 4h ago in business time\") counts the ticket's calendar: a ticket opened Friday 16:00 in Seoul (Mon–Fri 09:00–18:00) fires Monday 11:00, not over the weekend",
		"TestAutomationBusinessTimeAcrossWeekend")
)

// staleAutomation mails Victoria and tags a ticket open for more than a
// day; the daemon runs on a manual clock.
const staleAutomation = Staff + `
[[automation]]
name = "stale"
all = ["status is open", "created more than 24h ago"]
actions = ["#tag stale"]
notify = ["victoria@certs.example"]
text = "Still open after a day."

[testing]
clock = "manual"
`

// autoMails are the mails of automation name in addr's mailbox.
func (e *Env) autoMails(addr, name string) int {
	n := 0
	for _, m := range e.Mailbox(addr) {
		if strings.Contains(m.Header("Subject"), name+": ") {
			n++
		}
	}
	return n
}

// autoFired counts the firing events of automation name on tk.
func autoFired(tk *Ticket, name string) []Comment {
	var out []Comment
	for _, c := range tk.Comments {
		if c.Kind == "event" && strings.HasPrefix(c.Text, fmt.Sprintf("automation %q fired", name)) {
			out = append(out, c)
		}
	}
	return out
}

// Issue 14 item 5: once per condition epoch, across a restart, at its
// instant on the manual clock.
func TestAutomationFiresOncePerEpoch(t *testing.T) {
	e := Start(t, Options{Config: staleAutomation})
	c0 := e.clock()
	n1 := e.Open(kenFr, "Renew our certificate", "It expires on Friday.", vic)
	e.Settle()
	kenHad := len(e.Mailbox(ken))
	if out := e.MustCLI("clock", "advance", "23h"); !strings.Contains(out, "0 fired") {
		t.Fatalf("23h: %q", out)
	}
	if out := e.MustCLI("clock", "advance", "2h"); !strings.Contains(out, "1 fired") {
		t.Fatalf("25h: %q", out)
	}
	tk := e.Show(1)
	fired := autoFired(tk, "stale")
	if len(fired) != 1 || !fired[0].Created.Equal(c0.Now.Add(24*time.Hour)) || !strings.Contains(fired[0].Text, "#tag stale") || !hasTag(tk.Tags, "stale") {
		t.Fatalf("after 25h: firings %+v (want one at created + 24h = %s), tags %v", fired, c0.Now.Add(24*time.Hour), tk.Tags)
	}
	e.Settle()
	if n := e.autoMails(vic, "stale"); n != 1 {
		t.Fatalf("victoria got %d 'stale' mails, want 1", n)
	}
	if m := e.Find(vic, "stale: "); m == nil || !strings.Contains(Text(m), "Still open after a day.") || !strings.Contains(Text(m), `(sent by the automation "stale")`) {
		t.Errorf("the automation's mail: %v", m)
	}
	// Still true: three more days and a restart fire nothing.
	e.Restart()
	if out := e.MustCLI("clock", "advance", "72h"); !strings.Contains(out, "0 fired") {
		t.Errorf("72h later: %q", out)
	}
	e.Settle()
	if n := e.autoMails(vic, "stale"); n != 1 || len(autoFired(e.Show(1), "stale")) != 1 {
		t.Fatalf("after a restart and 72h: %d mails, %d firings; want 1 each", n, len(autoFired(e.Show(1), "stale")))
	}
	// pending ends the epoch; open again begins a new one, which fires at
	// once (the condition holds).
	e.Reply(vicFr, n1, "#status pending\n")
	e.Reply(vicFr, n1, "#status open\n")
	e.Eventually(30*time.Second, func() bool { return len(autoFired(e.Show(1), "stale")) == 2 }, func() string { return e.MustCLI("show", "1") })
	e.Settle()
	if n := e.autoMails(vic, "stale"); n != 2 {
		t.Errorf("victoria got %d 'stale' mails, want 2 (one per epoch)", n)
	}
	if n := len(e.Mailbox(ken)); n != kenHad {
		t.Errorf("the automation mailed the customer: %d → %d", kenHad, n)
	}
}

const businessAutomation = Staff + `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]

[[mailbox]]
address = "support-office@example.com"
name = "Certs Office"
group = "support"
calendar = "office"

[[automation]]
name = "unanswered"
all = ["status is open", "created more than 4h ago in business time"]
notify = ["victoria@certs.example"]
text = "Four business hours without an answer."

[testing]
clock = "manual"
`

// Issue 14 item 5 with the calendars of item 1: business time over a
// weekend.
func TestAutomationBusinessTimeAcrossWeekend(t *testing.T) {
	e := Start(t, Options{Config: businessAutomation})
	e.MustCLI("clock", "set", "2027-01-08T16:00:00+09:00") // Friday 16:00 in Seoul
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support-office@example.com"}, Subject: "Friday question", Body: "Please help.\n"})
	for _, at := range []string{"2027-01-08T23:00:00+09:00", "2027-01-09T12:00:00+09:00", "2027-01-10T20:00:00+09:00", "2027-01-11T10:59:00+09:00"} {
		e.MustCLI("clock", "set", at)
		if f := autoFired(e.Show(1), "unanswered"); len(f) != 0 {
			t.Fatalf("fired by %s: %+v (2h on Friday and under 2h on Monday are under 4 business hours)", at, f)
		}
	}
	e.MustCLI("clock", "set", "2027-01-11T12:00:00+09:00")
	f := autoFired(e.Show(1), "unanswered")
	want := time.Date(2027, 1, 11, 2, 0, 0, 0, time.UTC) // Monday 11:00 in Seoul
	if len(f) != 1 || !f[0].Created.Equal(want) {
		t.Fatalf("firings %+v, want one at %s", f, want)
	}
	e.Settle()
	if n := e.autoMails(vic, "unanswered"); n != 1 {
		t.Errorf("victoria got %d 'unanswered' mails, want 1", n)
	}
}

var _ = claim("check-config refuses a bad [[automation]] with line, key and fix: an unknown key, a condition about an update (never holds on a timer), conditions that can never hold together, an action that is not a command an automation may take, the built-in name auto-close, a time without \"ago\"",
	"TestCheckConfigRefusesBadAutomation")

func TestCheckConfigRefusesBadAutomation(t *testing.T) {
	dir := t.TempDir()
	text := testkit.BaseConfig(dir, "", "127.0.0.1:53") + Staff + `
[[automation]]
name = "auto-close"
all = ["event is created", "status is open", "status is closed"]
actions = ["#frobnicate"]
notify = ["group"]
wait = "24h"

[[automation]]
name = "late"
all = ["created more than 4h in business time"]
notify = ["group"]
`
	p := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	lineOf := func(s string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, s) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", s)
		return 0
	}
	out, _, code := runIn(t, dir, nil, "check-config", "-config", p)
	if code == 0 {
		t.Fatalf("check-config accepted bad automations:\n%s", out)
	}
	for _, want := range [][]string{
		{fmt.Sprintf("helpdesk.toml:%d:", lineOf("wait =")), "wait", "fix:"},
		{fmt.Sprintf("helpdesk.toml:%d:", lineOf(`name = "auto-close"`)), "automation[0].name", "built-in automation", "fix:"},
		{"automation[0].all[0]", "event is created", "can never hold", "fix:"},
		{"automation[0].all[2]", "can never hold together", "fix:"},
		{fmt.Sprintf("helpdesk.toml:%d:", lineOf(`actions = ["#frobnicate"]`)), "automation[0].actions[0]", "#frobnicate", "fix:"},
		{fmt.Sprintf("helpdesk.toml:%d:", lineOf(`all = ["created more than 4h in business time"]`)), "automation[1].all[0]", "ago", "fix:"},
	} {
		ok := false
		for _, l := range strings.Split(out, "\n") {
			all := true
			for _, w := range want {
				all = all && strings.Contains(l, w)
			}
			ok = ok || all
		}
		if !ok {
			t.Errorf("no line of check-config has %q:\n%s", want, out)
		}
	}
}

var _ = claim("`helpdesk automations --dry-run [--at TIME] [--json]` lists the automations that would fire by TIME (ticket, instant, rule, its conditions and actions) and changes nothing",
	"TestAutomationsDryRun")

type automationPreview struct {
	Ticket     uint64    `json:"ticket"`
	Name       string    `json:"automation"`
	Due        time.Time `json:"due"`
	Conditions []string  `json:"conditions"`
	Actions    []string  `json:"actions"`
}

func TestAutomationsDryRun(t *testing.T) {
	e := Start(t, Options{Config: staleAutomation})
	c0 := e.clock()
	e.Open(kenFr, "Renew our certificate", "It expires on Friday.", vic)
	var now []automationPreview
	e.JSON(&now, "automations", "--dry-run")
	if len(now) != 0 {
		t.Errorf("due now: %+v, want none", now)
	}
	at := c0.Now.Add(25 * time.Hour).Format(time.RFC3339)
	var later []automationPreview
	e.JSON(&later, "automations", "--dry-run", "--at", at)
	if len(later) != 1 || later[0].Ticket != 1 || later[0].Name != "stale" || !later[0].Due.Equal(c0.Now.Add(24*time.Hour)) ||
		!slices.Contains(later[0].Conditions, "created more than 24h ago") || !slices.Contains(later[0].Actions, "#tag stale") {
		t.Errorf("by %s: %+v, want ticket 1's stale at %s", at, later, c0.Now.Add(24*time.Hour))
	}
	out := e.MustCLI("automations", "--dry-run", "--at", at)
	if !strings.Contains(out, `"stale"`) || !strings.Contains(out, "because: status is open; created more than 24h ago") || !strings.Contains(out, "nothing changed") {
		t.Errorf("text output:\n%s", out)
	}
	// Nothing changed.
	if tk := e.Show(1); len(autoFired(tk, "stale")) != 0 || hasTag(tk.Tags, "stale") {
		t.Errorf("the dry run changed the ticket: %+v", tk.Tags)
	}
	if v := e.clock(); !v.Now.Equal(c0.Now) {
		t.Errorf("the dry run moved the clock to %s", v.Now)
	}
	e.Settle()
	if n := e.autoMails(vic, "stale"); n != 0 {
		t.Errorf("the dry run mailed %d", n)
	}
	if _, errs, code := e.CLI("automations"); code != 2 || !strings.Contains(errs, "usage: helpdesk automations --dry-run") {
		t.Errorf("without --dry-run: exit %d, %q", code, errs)
	}
}
