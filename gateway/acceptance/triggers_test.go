package acceptance

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of triggers (issue 15 item 1, SPEC 7): [[trigger]]
// rules run after every ticket update, in file order, each at most once
// per pass; each firing is an event on the ticket naming the rule.

var _ = claim("[[trigger]]: the default rules (tag by subject, assign the group of the service tag, mail the agent) fire once on create and once on a service change, each firing an event naming the rule in `show --json`; a customer's reply fires none of them; a new ticket's pass runs before it is announced, so only the group the rules chose hears of it",
	"TestTriggersRouteByServiceTag")
var _ = claim("[[trigger]]: a pair of triggers that would ping-pong fires once each per update; a later trigger sees the ticket as earlier ones changed it; their changes start no new pass",
	"TestTriggersPingPongFiresOnce")
var _ = claim("`helpdesk check-config` refuses a bad [[trigger]] or [[view]] with key, line and fix: unknown field, bad regexp, a condition that can never hold, an action that is not a valid command or not a rule's",
	"TestCheckConfigRefusesBadRules")

// Services is Staff plus two service groups and the default rules of a
// Freshdesk team's guide, written in the rule vocabulary.
const Services = Staff + `
[[group]]
name = "dns"
auto_assign = true

[[group]]
name = "mail"
auto_assign = true

[[agent]]
name = "Dana"
email = "dana@certs.example"
role = "agent"
groups = ["dns"]

[[agent]]
name = "Mia"
email = "mia@certs.example"
role = "agent"
groups = ["mail"]

[[trigger]]
name = "service from subject"
all = ["event is created", "subject matches (?i)\\bdns\\b|도메인"]
actions = ["#tag service:dns"]

[[trigger]]
name = "route dns"
all = ["tags include service:dns"]
any = ["event is created", "tags changed"]
actions = ["#group dns"]
notify = ["assignee"]
text = "A DNS ticket is yours."

[[trigger]]
name = "route mail"
all = ["tags include service:mail"]
any = ["event is created", "tags changed"]
actions = ["#group mail"]
notify = ["assignee"]
text = "A mail ticket is yours."
`

const (
	dana = "dana@certs.example"
	mia  = "mia@certs.example"
)

// fired counts the firing events of trigger name on a ticket.
func fired(tk *Ticket, name string) int {
	n := 0
	for _, c := range tk.Comments {
		if c.Kind == "event" && c.Author == "rule:"+name && strings.HasPrefix(c.Text, "trigger \""+name+"\" fired") {
			n++
		}
	}
	return n
}

func TestTriggersRouteByServiceTag(t *testing.T) {
	e := Start(t, Options{Config: Services})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "DNS zone not updating", Body: "Our zone example.org has old records."})
	tk := e.Show(1)
	if tk.Group != "dns" || tk.Assignee != dana || !hasTag(tk.Tags, "service:dns") {
		t.Fatalf("after create: group %q assignee %q tags %q, want dns %s [service:dns]", tk.Group, tk.Assignee, tk.Tags, dana)
	}
	for name, want := range map[string]int{"service from subject": 1, "route dns": 1, "route mail": 0} {
		if got := fired(tk, name); got != want {
			t.Errorf("on create %q fired %d times, want %d; events %q", name, got, want, events(tk))
		}
	}
	m := e.Find(dana, "route dns")
	WantText(t, "the trigger's mail to Dana", m, "A DNS ticket is yours.", "#1")
	NoneOf(t, "Dana", m, ken+" wrote") // staff mail, not a copy of the customer's
	for _, x := range e.Mailbox(mia) {
		t.Errorf("Mia got %q", x.Header("Subject"))
	}
	// The pass ran before the new ticket was announced: support's agents
	// never hear of it, Dana gets the customer's mail as its assignee.
	for _, who := range []string{vic, venkat, ada} {
		for _, x := range e.Mailbox(who) {
			t.Errorf("%s (support) got %q", who, x.Header("Subject"))
		}
	}
	WantText(t, "Dana's new-ticket notice", e.Find(dana, "Our zone example.org"), "Our zone example.org has old records.")

	// A customer's reply is an update, but no trigger's condition holds.
	ack := e.Last(ken)
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Any news?"})
	tk = e.Show(1)
	if got := fired(tk, "route dns"); got != 1 {
		t.Errorf("after a customer reply route dns fired %d times in all, want 1", got)
	}

	// The service changes by Dana's command: route mail fires once.
	n := e.Find(dana, "Any news?")
	e.Reply("Dana <dana@certs.example>", n, "#tag -service:dns service:mail\n#note\nThis is about mail, not DNS.")
	tk = e.Show(1)
	if tk.Group != "mail" || tk.Assignee != mia {
		t.Fatalf("after the service change: group %q assignee %q, want mail %s; events %q", tk.Group, tk.Assignee, mia, events(tk))
	}
	for name, want := range map[string]int{"service from subject": 1, "route dns": 1, "route mail": 1} {
		if got := fired(tk, name); got != want {
			t.Errorf("after the service change %q fired %d times in all, want %d", name, got, want)
		}
	}
	WantText(t, "the trigger's mail to Mia", e.Find(mia, "route mail"), "A mail ticket is yours.")
	if got := len(e.Mailbox(mia)); got != 1 {
		t.Errorf("Mia got %d mails, want 1 (the trigger's)", got)
	}
	// Ken saw none of it: the acknowledgement only (the agent's note is private).
	for _, x := range e.Mailbox(ken) {
		NoneOf(t, "Ken", x, "route dns", "route mail", "trigger")
	}

	// A Korean subject is matched as well.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "도메인 연결이 안 됩니다", Body: "도와주세요."})
	if tk := e.Show(2); tk.Group != "dns" || fired(tk, "route dns") != 1 {
		t.Errorf("Korean subject: group %q, route dns fired %d", tk.Group, fired(tk, "route dns"))
	}
}

func TestTriggersPingPongFiresOnce(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[trigger]]
name = "ping"
all = ["status is open", "subject contains ping"]
actions = ["#status pending", "#tag pinged"]

[[trigger]]
name = "pong"
all = ["status is pending", "subject contains ping"]
actions = ["#status open", "#priority high"]
`})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "ping test", Body: "Hello."})
	tk := e.Show(1)
	if fired(tk, "ping") != 1 || fired(tk, "pong") != 1 {
		t.Fatalf("ping fired %d, pong %d, want 1 each; events %q", fired(tk, "ping"), fired(tk, "pong"), events(tk))
	}
	// pong saw the ticket as ping left it (pending), and nothing ran again.
	if tk.Status != "open" || tk.Priority != "high" || !hasTag(tk.Tags, "pinged") {
		t.Errorf("status %q priority %q tags %q, want open high [pinged]", tk.Status, tk.Priority, tk.Tags)
	}
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "something else", Body: "Hello."})
	if tk := e.Show(2); fired(tk, "ping")+fired(tk, "pong") != 0 {
		t.Errorf("unrelated ticket: events %q", events(tk))
	}
}

func TestCheckConfigRefusesBadRules(t *testing.T) {
	dir := t.TempDir()
	text := testkit.BaseConfig(dir, "", "127.0.0.1:53") + Staff + `
[[trigger]]
name = "bad"
all = ["colour is red", "subject matches (unclosed", "status is open", "status is closed"]
actions = ["#reply thanks", "#assign nobodyatall", "no hash here"]

[[trigger]]
name = "bad"
all = ["inside business hours"]
notify = ["stranger@example.org"]

[[view]]
name = "old"
all = ["created more than 1d ago"]
sort = "random"
colour = "red"
`
	p := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runIn(t, dir, nil, "check-config", "-config", p)
	if code == 0 {
		t.Fatalf("check-config accepted bad rules:\n%s", out)
	}
	line := func(sub string) string {
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, sub) {
				return ":" + strconv.Itoa(i+1) + ":"
			}
		}
		t.Fatalf("no line has %q", sub)
		return ""
	}
	for _, want := range [][]string{
		{line(`all = ["colour`), "trigger[0].all[0]", `unknown field "colour"`, "fix:"},
		{"trigger[0].all[1]", "bad regular expression", "RE2"},
		{"trigger[0].all[3]", "can never hold together"},
		{line(`actions = ["#reply`), "trigger[0].actions[0]", "#reply is not an action a trigger can take"},
		{"trigger[0].actions[1]", "nobodyatall"},
		{"trigger[0].actions[2]", "is not a command"},
		{"trigger[1].name", "already"},
		{"trigger[1].notify[0]", "not a staff member"},
		{"view[0].sort", "unknown sort"},
		{"view[0]", "colour"},
	} {
		found := false
		for _, l := range strings.Split(out, "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("check-config output has no line with %q:\n%s", want, out)
		}
	}
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func events(tk *Ticket) []string {
	var out []string
	for _, c := range tk.Comments {
		if c.Kind == "event" {
			out = append(out, c.Author+": "+c.Text)
		}
	}
	return out
}

var _ = claim("[[trigger]] events: a customer's comment, an agent's reply, note, commands and a merge each start a pass that sees what the update did; an auto-reply (mail a system sent) starts none",
	"TestTriggerEventsOfEachUpdate")

func TestTriggerEventsOfEachUpdate(t *testing.T) {
	rules := ""
	for _, ev := range []string{"created", "customer-comment", "response", "note", "command", "merge"} {
		rules += "\n[[trigger]]\nname = \"on " + ev + "\"\nall = [\"event is " + ev + "\"]\nactions = [\"#tag seen-" + ev + "\"]\n"
	}
	e := Start(t, Options{Config: Staff + rules})
	tags := func(n uint64) string { return strings.Join(e.Show(n).Tags, " ") }
	n := e.Open(kenFr, "Certificate", "Please renew.", vic)
	if got := tags(1); got != "seen-created seen-customer-comment" {
		t.Fatalf("after create: tags %q", got)
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() { e.Reply(vicFr, n, "#reply\nRenewed.") }, "seen-response"},
		{func() { e.Reply(vicFr, n, "#note\nInternal.") }, "seen-note"},
		{func() { e.Reply(vicFr, n, "#priority high") }, "seen-command"},
		{func() {
			ack := e.Last(ken)
			e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Thanks, one more thing."})
		}, ""},
		{func() {
			ack := e.Last(ken)
			e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Out of office", Body: "I am away.",
				Headers: []string{"Auto-Submitted: auto-replied"}})
		}, "none"},
	}
	for i, s := range steps {
		before := e.Show(1)
		s.do()
		after := e.Show(1)
		added := []string{}
		for _, x := range after.Tags {
			if !hasTag(before.Tags, x) {
				added = append(added, x)
			}
		}
		switch {
		case s.want == "none":
			if len(after.Comments) == len(before.Comments) || len(events(after)) != len(events(before)) {
				t.Errorf("step %d (auto-reply): comments %d→%d, events %d→%d (want one more comment, no event)", i, len(before.Comments), len(after.Comments), len(events(before)), len(events(after)))
			}
		case s.want == "":
			// The customer's comment: its trigger already tagged the
			// ticket, so the tag stays and one more firing is recorded.
			if fired(after, "on customer-comment") != 2 {
				t.Errorf("step %d: on customer-comment fired %d times in all, want 2", i, fired(after, "on customer-comment"))
			}
		case len(added) != 1 || added[0] != s.want:
			t.Errorf("step %d: tags added %q, want [%s]; events %q", i, added, s.want, events(after))
		}
	}
	// A merge is an update of the survivor.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Same certificate", Body: "Again."})
	n2 := e.Find(vic, "Same certificate")
	e.Reply(vicFr, n2, "#merge 1")
	if tk := e.Show(1); !hasTag(tk.Tags, "seen-merge") {
		t.Errorf("survivor after merge: tags %q; events %q", tk.Tags, events(tk))
	}
}

var _ = claim("[[trigger]] \"inside business hours\" / \"outside business hours\" read the ticket's calendar (its group's, else its mailbox's [[calendar]]; 24/7 without one) at the ticket clock's instant",
	"TestTriggerOutsideBusinessHours")

// afterHours is Staff plus a second mailbox on a Seoul office calendar
// and a trigger that tags tickets opened outside its hours; the daemon
// runs on a manual clock so the test picks the instant.
const afterHours = Staff + `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]

[[mailbox]]
address = "support-night@example.com"
name = "Certs Night Desk"
group = "support"
calendar = "office"

[[trigger]]
name = "after hours"
all = ["event is created", "outside business hours"]
actions = ["#tag after-hours"]

[testing]
clock = "manual"
`

// Issue 15 item 1 with issue 14 item 1: the business-hours condition of
// the rule vocabulary uses the calendar of the ticket's mailbox.
func TestTriggerOutsideBusinessHours(t *testing.T) {
	e := Start(t, Options{Config: afterHours})
	var n uint64
	open := func(at, subject string) *Ticket {
		t.Helper()
		e.MustCLI("clock", "set", at)
		n++
		e.Customer(testkit.Mail{From: kenFr, To: []string{"support-night@example.com"}, Subject: subject, Body: "Please help.\n"})
		return e.Show(n)
	}
	// Saturday noon in Seoul: outside the office's hours.
	sat := open("2027-01-09T12:00:00+09:00", "Saturday question")
	// Monday 10:00 in Seoul: inside.
	mon := open("2027-01-11T10:00:00+09:00", "Monday question")
	// Monday 18:30 in Seoul: after closing.
	eve := open("2027-01-11T18:30:00+09:00", "Monday evening question")
	for _, c := range []struct {
		tk   *Ticket
		want bool
	}{{sat, true}, {mon, false}, {eve, true}} {
		got := fired(c.tk, "after hours") == 1 && hasTag(c.tk.Tags, "after-hours")
		if got != c.want || (!c.want && fired(c.tk, "after hours") != 0) {
			t.Errorf("ticket %d %q created %s: fired %d, tags %v; want fired=%v", c.tk.ID, c.tk.Subject, c.tk.Created, fired(c.tk, "after hours"), c.tk.Tags, c.want)
		}
	}
	// A ticket on the shipped mailbox (no calendar: 24/7) is never outside.
	e.MustCLI("clock", "set", "2027-01-16T12:00:00+09:00")
	n++
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Weekend question", Body: "Please help.\n"})
	if tk := e.Show(n); fired(tk, "after hours") != 0 {
		t.Errorf("a 24/7 mailbox's ticket fired the after-hours trigger: %v", tk.Tags)
	}
}
