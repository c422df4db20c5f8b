package acceptance

import (
	"os"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("in an answer to a side-thread notification (#forward) a plain reply goes to the thread's collaborators only; #reply is a public reply to the requester on the main thread (the collaborator gets nothing of it); #note a private note on the main thread that reaches nobody outside staff; the side-thread footer and the transcript say so",
	"TestSideThreadAnswerReplyNoteAndPlain")

var _ = claim("a collaborator's side-thread reply reaches the assignee, the agent who started the thread and the followers, even on an unassigned ticket; the group's agents when nobody else is there",
	"TestSideThreadReplyOnUnassignedTicketReachesStarter", "TestSideThreadReplyReachesGroupWhenNobodyElse")

// vendor is a side thread's outside collaborator (the staff and Ken:
// commands_helpers_test.go).
const vendor = "orders@vendor.example"

// answerAs replies to a received mail the way a mail client does: to its
// Reply-To, In-Reply-To its Message-ID. Staff answers are DKIM-signed.
func answerAs(e *Env, from string, to *testkit.Received, body string) string {
	e.T.Helper()
	m := testkit.Mail{From: from, To: []string{ReplyTo(to)}, Subject: "Re: " + to.Header("Subject"),
		InReplyTo: msgID(to), Body: body}
	if strings.HasSuffix(Addr(from), "@certs.example") {
		return e.Agent(m)
	}
	if m.MessageID == "" {
		m.MessageID = e.ID("o")
	}
	e.MustSend(Addr(from), []string{ReplyTo(to)}, m.Build())
	return m.MessageID
}

func msgID(m *testkit.Received) string { return strings.Trim(m.Header("Message-Id"), "<> ") }

// count is how many mails addr holds whose text contains sub.
func count(e *Env, addr, sub string) int {
	n := 0
	for _, m := range e.Mailbox(addr) {
		if strings.Contains(m.Env.Text, sub) || strings.Contains(string(m.Raw), sub) {
			n++
		}
	}
	return n
}

// sideThreadSetup opens ticket 1 from Ken; Victoria (assigned when
// assign is set) starts a side thread with the vendor, who answers.
// It returns the side-thread notification Victoria received.
func sideThreadSetup(t *testing.T, e *Env, assign bool) *testkit.Received {
	t.Helper()
	e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	n1 := e.Find(vic, "Need a new SSL certificate")
	cmds := "#forward " + vendor + "\n"
	if assign {
		cmds = "#assign me\n" + cmds
	}
	answerAs(e, "Victoria <"+vic+">", n1, cmds+"Can you check the payment for the SSL order?\n")
	v1 := e.Find(vendor, "check the payment")
	answerAs(e, "Orders <"+vendor+">", v1, "Funds OK, payment arrived yesterday.\n")
	return e.Find(vic, "Funds OK")
}

// SPEC 3.4, 6: in an answer to a side-thread notification, a plain reply
// goes to the thread's collaborators, #reply is a public reply to the
// requester on the main thread, #note a private note on the main thread.
// The side-thread footer and the transcript say so.
func TestSideThreadAnswerReplyNoteAndPlain(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[commands]\nconfirm = \"always\"\n"})
	s1 := sideThreadSetup(t, e, true)
	// The footer of the side-thread notification says what each form does.
	foot := s1.Env.Text
	if i := strings.LastIndex(foot, "A plain reply"); i >= 0 {
		foot = foot[i:]
	}
	for _, want := range []string{vendor, "#reply", "requester", "#note", "private note"} {
		if !strings.Contains(foot, want) {
			t.Errorf("side-thread notification footer lacks %q:\n%s", want, foot)
		}
	}
	vendorBefore := len(e.Mailbox(vendor))

	// #reply: Ken gets it, the vendor nothing.
	const public = "Hi Ken, your certificate is being issued today."
	answerAs(e, "Victoria <"+vic+">", s1, "#reply\n"+public+"\n")
	if count(e, ken, public) != 1 {
		t.Errorf("Ken got %d mails with the #reply text, want 1", count(e, ken, public))
	}
	if count(e, vendor, public) != 0 || len(e.Mailbox(vendor)) != vendorBefore {
		t.Errorf("the vendor got the #reply meant for Ken (%d mails before, %d now)", vendorBefore, len(e.Mailbox(vendor)))
	}
	tr := e.Find(vic, "Your commands were processed")
	if !strings.Contains(tr.Env.Text, "public reply") || !strings.Contains(tr.Env.Text, "main thread") {
		t.Errorf("#reply transcript does not say the text went to the requester on the main thread:\n%s", tr.Env.Text)
	}

	// Plain: the vendor gets it, Ken nothing.
	const plain = "Please send the invoice for order 4711."
	answerAs(e, "Victoria <"+vic+">", s1, plain+"\n")
	if count(e, vendor, plain) != 1 {
		t.Errorf("the vendor got %d mails with the plain answer, want 1", count(e, vendor, plain))
	}
	if count(e, ken, plain) != 0 {
		t.Error("Ken got the plain side-thread answer")
	}

	// #note: nobody outside staff.
	const note = "Vendor is slow this month, chase them."
	answerAs(e, "Victoria <"+vic+">", s1, "#note\n"+note+"\n")
	for _, m := range e.Sink.All() {
		if strings.Contains(string(m.Raw), note) || strings.Contains(m.Env.Text, note) {
			for _, to := range m.To {
				if !strings.HasSuffix(to, "@certs.example") {
					t.Errorf("the #note text reached %s", to)
				}
			}
		}
	}

	tk := e.Show(1)
	want := map[string]struct {
		thread int
		vis    string
	}{public: {0, "public"}, plain: {1, "private"}, note: {0, "private"}}
	for text, w := range want {
		found := false
		for _, c := range tk.Comments {
			if strings.Contains(c.Text, text) {
				found = true
				if c.Thread != w.thread || c.Visibility != w.vis {
					t.Errorf("comment %q: thread %d visibility %s, want thread %d %s", text, c.Thread, c.Visibility, w.thread, w.vis)
				}
			}
		}
		if !found {
			t.Errorf("show --json has no comment %q", text)
		}
	}
}

// SPEC 3.4, 6: a collaborator's side-thread reply on an unassigned ticket
// reaches the agent who started the thread and the followers; agents
// outside that circle get nothing, and neither does the requester.
func TestSideThreadReplyOnUnassignedTicketReachesStarter(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	n1 := e.Find(vic, "Need a new SSL certificate")
	answerAs(e, "Victoria <"+vic+">", n1, "#follower +ada@certs.example\n#forward "+vendor+"\nCan you check the payment for the SSL order?\n")
	v1 := e.Find(vendor, "check the payment")
	answerAs(e, "Orders <"+vendor+">", v1, "Funds OK, payment arrived yesterday.\n")
	if tk := e.Show(1); tk.Assignee != "" {
		t.Fatalf("test setup: ticket is assigned to %s", tk.Assignee)
	}
	const reply = "Funds OK, payment arrived yesterday."
	if count(e, vic, reply) != 1 {
		t.Errorf("the agent who started the side thread got %d mails with the vendor's reply, want 1", count(e, vic, reply))
	}
	if count(e, ada, reply) != 1 {
		t.Errorf("the follower got %d mails with the vendor's reply, want 1", count(e, ada, reply))
	}
	if count(e, venkat, reply) != 0 || count(e, ken, reply) != 0 {
		t.Errorf("the vendor's reply reached Venkat (%d) or Ken (%d)", count(e, venkat, reply), count(e, ken, reply))
	}
}

// SPEC 3.4, 6: when nobody else is there (unassigned, no followers, the
// agent who started the thread no longer staff), a collaborator's reply
// goes to the group's agents.
func TestSideThreadReplyReachesGroupWhenNobodyElse(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	n1 := e.Find(vic, "Need a new SSL certificate")
	answerAs(e, "Victoria <"+vic+">", n1, "#forward "+vendor+"\nCan you check the payment for the SSL order?\n")
	v1 := e.Find(vendor, "check the payment")

	// Victoria leaves the team: her [[agent]] entry goes.
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	entry := "[[agent]]\nname = \"Victoria\"\nemail = \"victoria@certs.example\"\nrole = \"agent\"\ngroups = [\"support\"]\n"
	if !strings.Contains(string(cfg), entry) {
		t.Fatal("test setup: Victoria's entry not found in the config")
	}
	if err := os.WriteFile(e.Config, []byte(strings.Replace(string(cfg), entry, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Restart()

	answerAs(e, "Orders <"+vendor+">", v1, "Funds OK, payment arrived yesterday.\n")
	const reply = "Funds OK, payment arrived yesterday."
	for _, ag := range []string{venkat, ada} {
		if count(e, ag, reply) != 1 {
			t.Errorf("group agent %s got %d mails with the vendor's reply, want 1", ag, count(e, ag, reply))
		}
	}
	if count(e, vic, reply) != 0 || count(e, ken, reply) != 0 {
		t.Errorf("the vendor's reply reached the former agent (%d) or Ken (%d)", count(e, vic, reply), count(e, ken, reply))
	}
}
