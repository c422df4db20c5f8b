package acceptance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// The held-out check of issue 15: a Freshdesk team's three default rules
// (assign to the group and agent of the ticket's service, announce in the
// team's Slack channel, mail the agent) fire once each when a ticket is
// created and once each when its service changes.

var _ = claim("[[trigger]] + [[webhook]] format slack: the three default rules of a Freshdesk team (assign the group and agent of the service tag, announce in Slack through a local receiver, mail the agent) fire once each on create and once each on a service change: one Slack POST and one agent mail each time, naming the agent of the moment; a customer's reply fires none",
	"TestDefaultRulesWithSlackFireOnceEach")
var _ = claim("a hanging webhook receiver's delivery is retried after its timeout (listed with the error) while new mail keeps getting its 250 at once",
	"TestWebhookHangingReceiverIsRetried")

func TestDefaultRulesWithSlackFireOnceEach(t *testing.T) {
	slack := newReceiver(t, nil, false)
	e := Start(t, Options{Config: strings.Replace(Services, `
[[trigger]]
name = "route dns"`, fmt.Sprintf(`
[[webhook]]
name = "team channel"
url = %q
format = "slack"
allow_private = true
`, slack.URL)+`
[[trigger]]
name = "route dns"`, 1) + `
[[trigger]]
name = "announce in slack"
all = ["tags include service:dns, service:mail"]
any = ["event is created", "tags changed"]
webhook = "team channel"

[[trigger]]
name = "mail the agent"
all = ["assignee is not none"]
any = ["event is created", "tags changed"]
notify = ["assignee"]
text = "Ticket assigned to you by its service."
`})
	slackTexts := func() []string {
		var out []string
		for _, q := range slack.got() {
			var m map[string]string
			if err := json.Unmarshal(q.Body, &m); err != nil {
				t.Fatalf("a Slack POST is not Slack's JSON: %v: %s", err, q.Body)
			}
			out = append(out, m["text"])
		}
		return out
	}
	ruleMails := func(who string) int {
		n := 0
		for _, m := range e.Mailbox(who) {
			if strings.Contains(m.Env.Text, "Ticket assigned to you by its service.") {
				n++
			}
		}
		return n
	}

	// Create: the service tag from the subject routes it to dns (Dana).
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "DNS zone not updating", Body: "Our zone example.org has old records."})
	tk := e.Show(1)
	if tk.Group != "dns" || tk.Assignee != dana {
		t.Fatalf("after create: group %q assignee %q, want dns %s; events %q", tk.Group, tk.Assignee, dana, events(tk))
	}
	for name, want := range map[string]int{"route dns": 1, "route mail": 0, "announce in slack": 1, "mail the agent": 1} {
		if got := fired(tk, name); got != want {
			t.Errorf("on create %q fired %d times, want %d; events %q", name, got, want, events(tk))
		}
	}
	e.Eventually(30*time.Second, func() bool { return len(slack.got()) >= 1 }, func() string { return "Slack got nothing" })
	e.Settle()
	if got := slackTexts(); len(got) != 1 || !strings.Contains(got[0], "Ticket #1: DNS zone not updating") || !strings.Contains(got[0], "Assignee: Dana") ||
		strings.Contains(got[0], ken) || strings.Contains(got[0], dana) {
		t.Errorf("Slack after create: %q, want one post of ticket #1 naming Dana (no addresses)", got)
	}
	if n := ruleMails(dana); n != 1 {
		t.Errorf("Dana got %d rule mails on create, want 1", n)
	}

	// A customer's reply is an update that fires none of them.
	ack := e.Last(ken)
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Any news?"})

	// The service changes: each rule fires once more, for Mia.
	e.Reply("Dana <dana@certs.example>", e.Find(dana, "Any news?"), "#tag -service:dns service:mail\n#note\nThis is about mail, not DNS.")
	tk = e.Show(1)
	if tk.Group != "mail" || tk.Assignee != mia {
		t.Fatalf("after the service change: group %q assignee %q, want mail %s; events %q", tk.Group, tk.Assignee, mia, events(tk))
	}
	for name, want := range map[string]int{"route dns": 1, "route mail": 1, "announce in slack": 2, "mail the agent": 2} {
		if got := fired(tk, name); got != want {
			t.Errorf("after the service change %q fired %d times in all, want %d; events %q", name, got, want, events(tk))
		}
	}
	e.Eventually(30*time.Second, func() bool { return len(slack.got()) >= 2 }, func() string { return "Slack got no second post" })
	e.Settle()
	if got := slackTexts(); len(got) != 2 || !strings.Contains(got[1], "Assignee: Mia") || !strings.Contains(got[1], "service:mail") {
		t.Errorf("Slack after the service change: %q, want a second post naming Mia", got)
	}
	if d, m := ruleMails(dana), ruleMails(mia); d != 1 || m != 1 {
		t.Errorf("rule mails: Dana %d, Mia %d, want 1 each", d, m)
	}
	for _, x := range e.Mailbox(ken) {
		NoneOf(t, "Ken", x, "Ticket assigned to you", "announce in slack")
	}
}

func TestWebhookHangingReceiverIsRetried(t *testing.T) {
	r := newReceiver(t, nil, true)
	e := Start(t, Options{Config: webhookConfig(r.URL, "slack", `allow_private = true
timeout = "1s"`)})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Hanging receiver", Body: "Hello."})
	// The attempt times out, is listed with its error, and is tried
	// again (same delivery id), while new mail is answered at once.
	start := time.Now()
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Meanwhile", Body: "Hello."})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a mail took %s to be taken in while the receiver hangs", d)
	}
	e.Eventually(60*time.Second, func() bool {
		ids := map[string]int{}
		for _, q := range r.got() {
			ids[q.Header.Get("X-Helpdesk-Delivery")]++
		}
		for _, n := range ids {
			if n >= 2 {
				return true
			}
		}
		return false
	}, func() string {
		return fmt.Sprintf("%d requests, none retried\n%s", len(r.got()), e.MustCLI("webhooks"))
	})
	v := e.hooks()
	retried := false
	for _, it := range v.Items {
		if it.Attempts >= 1 && it.State == "queued" && it.LastError != "" {
			retried = true
		}
	}
	if !retried {
		t.Errorf("no delivery is listed as queued again with its last error: %+v", v.Items)
	}
	if got := e.Metric("helpdesk_webhook_retries_total"); got < 1 {
		t.Errorf("helpdesk_webhook_retries_total %v, want at least 1", got)
	}
}
