package acceptance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of a trigger's mail to the requester (issue 15 items 1
// and 5) and of explain's webhook lines (item 7).

var _ = claim("[[trigger]] requester_template: a firing mails the ticket's requester a template of [templates] dir in the customer's language (Korean for a Korean mail), showing public fields only; staff get no copy; never for bulk or machine mail (the ticket says why)",
	"TestTriggerMailsRequesterFromTemplate")
var _ = claim("`helpdesk check-config` refuses a requester_template with no file, a built-in template's name, or one reaching a private or unknown field, naming the key or the file and line",
	"TestCheckConfigRefusesBadRequesterTemplate")
var _ = claim("`helpdesk explain` lists the webhooks the firing triggers would call (name, format, host; not sent): nothing reaches the receiver and `helpdesk webhooks` stays empty",
	"TestExplainListsWebhooksWithoutSending")

// Kim writes in Korean.
const (
	kim   = "kim@e-fun.example"
	kimFr = "김민지 <kim@e-fun.example>"
)

// writeTemplates writes files (relative path → text) into a new folder.
func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTriggerMailsRequesterFromTemplate(t *testing.T) {
	dir := writeTemplates(t, map[string]string{
		"en/dns_received.txt": "Hello{{with .Requester.Name}} {{.}}{{end}},\n\nyour request {{.Ticket.Tag}} \"{{.Ticket.Subject}}\" went to our DNS team (status {{.Ticket.Status}}).\n",
		"ko/dns_received.txt": "{{.Ticket.Tag}} \"{{.Ticket.Subject}}\" 문의를 DNS 담당 팀에 전달했습니다.\n",
	})
	e := Start(t, Options{Config: Staff + fmt.Sprintf(`
[templates]
dir = %q

[[trigger]]
name = "tell the customer"
all = ["event is created", "subject contains dns"]
actions = ["#assign victoria"]
requester_template = "dns_received"
`, dir)})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "DNS zone broken", Body: "Our zone has old records."})
	e.Customer(testkit.Mail{From: kimFr, To: []string{"support@example.com"}, Subject: "DNS 설정 문의", Body: "도메인 설정이 반영되지 않습니다. 확인 부탁드립니다."})
	e.Customer(testkit.Mail{From: "News <news@lists.example>", To: []string{"support@example.com"}, Subject: "DNS news of January",
		Body: "News of the month.", Headers: []string{"Precedence: bulk", "List-Id: <news.lists.example>"}})

	m := e.Find(ken, "went to our DNS team")
	if m == nil {
		t.Fatalf("Ken got no rule mail: %d mails", len(e.Mailbox(ken)))
	}
	WantText(t, "Ken's rule mail", m, "Hello Ken,", `your request [#1] "DNS zone broken" went to our DNS team (status open).`)
	NoneOf(t, ken, m, vic, "victoria", "Our zone has old records")
	if m.Header("Auto-Submitted") != "auto-generated" || !strings.Contains(m.Header("Subject"), "#1") {
		t.Errorf("rule mail: Auto-Submitted %q, subject %q", m.Header("Auto-Submitted"), m.Header("Subject"))
	}
	k := e.Find(kim, "DNS 담당 팀에 전달했습니다")
	if k == nil {
		t.Fatalf("Kim got no Korean rule mail")
	}
	WantText(t, "Kim's rule mail", k, `[#2] "DNS 설정 문의" 문의를 DNS 담당 팀에 전달했습니다.`)
	NoneOf(t, kim, k, "went to our DNS team")
	if n := len(e.Mailbox("news@lists.example")); n != 0 {
		t.Errorf("the newsletter got %d mails", n)
	}
	found := false
	for _, c := range e.Show(3).Comments {
		found = found || strings.Contains(c.Text, "no mail to the requester") && strings.Contains(c.Text, "no automatic answer")
	}
	if !found {
		t.Errorf("ticket 3 does not say why no mail went out: %q", events(e.Show(3)))
	}
	for _, who := range []string{vic, venkat, ada} {
		for _, x := range e.Mailbox(who) {
			NoneOf(t, who, x, "went to our DNS team", "DNS 담당 팀에 전달했습니다")
		}
	}
	if tk := e.Show(1); fired(tk, "tell the customer") != 1 || tk.Assignee != vic {
		t.Errorf("ticket 1: fired %d, assignee %q", fired(tk, "tell the customer"), tk.Assignee)
	}
}

func TestCheckConfigRefusesBadRequesterTemplate(t *testing.T) {
	dir := t.TempDir()
	tdir := writeTemplates(t, map[string]string{
		"en/leaky.txt": "Hello\n{{.Ticket.Tag}}\n{{.Ticket.Assignee}}\n",
	})
	text := testkit.BaseConfig(dir, "", "127.0.0.1:53") + Staff + fmt.Sprintf(`
[templates]
dir = %q

[[trigger]]
name = "missing"
all = ["event is created"]
requester_template = "nowhere"

[[trigger]]
name = "builtin"
all = ["event is created"]
requester_template = "ack"

[[trigger]]
name = "leaky"
all = ["event is created"]
requester_template = "leaky"
`, tdir)
	p := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runIn(t, dir, nil, "check-config", "-config", p)
	if code == 0 {
		t.Fatalf("check-config accepted bad requester templates:\n%s", out)
	}
	for _, want := range [][]string{
		{"trigger[0].requester_template", "nowhere.txt", "fix:"},
		{"trigger[1].requester_template", "built-in template"},
		{filepath.Join("en", "leaky.txt") + ":3", "Assignee", "public fields"},
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

func TestExplainListsWebhooksWithoutSending(t *testing.T) {
	rcv := newReceiver(t, nil, false)
	e := Start(t, Options{Config: webhookConfig(rcv.URL, "slack", "allow_private = true")})
	raw := testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Explain me", Body: "Hello."}.Build()
	x, human := explain(e, raw)
	_ = x
	var hooks struct {
		Webhooks []struct {
			Ticket  uint64 `json:"ticket"`
			Trigger string `json:"trigger"`
			Name    string `json:"name"`
			Format  string `json:"format"`
			Host    string `json:"host"`
		} `json:"webhooks"`
	}
	f := filepath.Join(e.Dir, "explain.eml")
	if err := json.Unmarshal([]byte(e.MustCLI("explain", f, "--json")), &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks.Webhooks) != 1 || hooks.Webhooks[0].Name != "hook" || hooks.Webhooks[0].Format != "slack" ||
		hooks.Webhooks[0].Trigger != "announce" || !strings.HasPrefix(hooks.Webhooks[0].Host, "127.0.0.1:") {
		t.Errorf("explain --json webhooks = %+v, want hook (slack) from trigger announce", hooks.Webhooks)
	}
	if !strings.Contains(human, `webhooks:  "hook" (slack, to 127.0.0.1:`) || !strings.Contains(human, "(not sent)") {
		t.Errorf("explain's text does not list the webhook:\n%s", human)
	}
	if len(rcv.got()) != 0 {
		t.Errorf("explain called the receiver %d times", len(rcv.got()))
	}
	if v := e.hooks(); len(v.Items) != 0 {
		t.Errorf("explain queued webhook deliveries: %+v", v.Items)
	}
	// A mail no trigger matches calls none.
	e2 := Start(t, Options{})
	_, human = explain(e2, raw)
	if !strings.Contains(human, "webhooks:  none") {
		t.Errorf("explain without webhooks:\n%s", human)
	}
}
