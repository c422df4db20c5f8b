package acceptance

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("[[trigger]]: each firing of a pass, and each change it made, is listed by `show --json` as its own event naming the rule, in order, with ids that number every record of the ticket once; unchanged by a restart (bbolt stores a pass's events as one record, issue 15)",
	"TestTriggerFiringsListedOneByOne")

func TestTriggerFiringsListedOneByOne(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[trigger]]
name = "match-0"
all = ["event is created", "subject matches (?i)\\bprinter\\b"]
actions = ["#tag service:printer"]

[[trigger]]
name = "match-1"
all = ["event is created", "body contains queue"]
actions = ["#priority high"]

[[trigger]]
name = "never"
all = ["event is created", "subject contains refund"]
actions = ["#tag refund"]

[[trigger]]
name = "match-2"
all = ["event is created", "sender domain is e-fun.example"]
actions = ["#tag customer"]

[[trigger]]
name = "on reply"
all = ["event is customer-comment", "body contains still"]
actions = ["#tag replied", "#priority urgent"]
`})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Printer queue stuck", Body: "The queue is stuck again."})
	ack := e.Last(ken)
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Still stuck."})
	want := []string{
		`rule:match-0: trigger "match-0" fired: #tag service:printer`,
		`rule:match-0: tags: +service:printer`,
		`rule:match-1: trigger "match-1" fired: #priority high`,
		`rule:match-1: priority normal → high`,
		`rule:match-2: trigger "match-2" fired: #tag customer`,
		`rule:match-2: tags: +customer`,
		`rule:on reply: trigger "on reply" fired: #tag replied; #priority urgent`,
		`rule:on reply: tags: +replied`,
		`rule:on reply: priority high → urgent`,
	}
	check := func(when string) string {
		tk := e.Show(1)
		var rules, all []string
		for i, c := range tk.Comments {
			all = append(all, fmt.Sprintf("%d %s %s %s: %s", c.ID, c.Kind, c.Visibility, c.Author, c.Text))
			if c.ID != uint64(i+1) {
				t.Errorf("%s: comment %d has id %d; all: %q", when, i+1, c.ID, all)
			}
			if strings.HasPrefix(c.Author, "rule:") {
				if c.Kind != "event" || c.Visibility != "private" || c.Created.IsZero() {
					t.Errorf("%s: a rule's record %+v, want a private event", when, c)
				}
				rules = append(rules, c.Author+": "+c.Text)
			}
		}
		if strings.Join(rules, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the rules' events\n%s\nwant\n%s\nall:\n%s", when, strings.Join(rules, "\n"), strings.Join(want, "\n"), strings.Join(all, "\n"))
		}
		if tk.Priority != "urgent" || !hasTag(tk.Tags, "service:printer") || !hasTag(tk.Tags, "customer") || !hasTag(tk.Tags, "replied") || hasTag(tk.Tags, "refund") {
			t.Errorf("%s: priority %q tags %q", when, tk.Priority, tk.Tags)
		}
		return strings.Join(all, "\n")
	}
	before := check("stored")
	e.Restart()
	if after := check("after a restart"); after != before {
		t.Errorf("show --json changed across a restart:\n%s\nbefore:\n%s", after, before)
	}
	// The customer saw none of it.
	for _, m := range e.Mailbox(ken) {
		NoneOf(t, "Ken", m, "match-", "on reply", "trigger")
	}
}
