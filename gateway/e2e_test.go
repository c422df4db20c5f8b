package gateway_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

const agents = `
[[group]]
name = "support"
[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
[[agent]]
email = "bob@certs.example"
name = "Bob Builder"
role = "agent"
groups = ["support"]
[[agent]]
email = "venkat@certs.example"
name = "Venkat"
role = "light"
groups = ["support"]
`

var tokenRe = regexp.MustCompile(`support\+[a-z2-7]+@example\.com`)

// replyAddr is the signed Reply-To of a received mail.
func replyAddr(t *testing.T, m *testkit.Received) string {
	t.Helper()
	rt := m.Header("Reply-To")
	a := tokenRe.FindString(rt)
	if a == "" {
		t.Fatalf("no reply token in Reply-To %q", rt)
	}
	return a
}

// The spine: a customer mail opens a ticket, the acknowledgement reaches
// the relay with the headers SPEC 2 asks for, the customer's reply through
// the token lands on the ticket, and an authenticated agent's reply with
// commands reaches the customer from the mailbox address only.
func TestEndToEndTicketLifecycle(t *testing.T) {
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents})

	d.MustSend("ken@e-fun.example", []string{"support@example.com"}, testkit.Mail{
		From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "New SSL certificate", MessageID: "ken-1@e-fun.example",
		Body: "Please issue a certificate for www.e-fun.example.",
	}.Build())

	acks := sink.WaitCount(t, "ken@e-fun.example", 1, 5*time.Second)
	ack := acks[0]
	if got := ack.Header("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("ack Auto-Submitted = %q", got)
	}
	if !strings.Contains(ack.Header("Subject"), "[#1]") {
		t.Errorf("ack subject %q lacks [#1]", ack.Header("Subject"))
	}
	if ack.Header("X-Helpdesk-Loop") != d.DB.InstallationID() {
		t.Errorf("loop header %q, want installation id", ack.Header("X-Helpdesk-Loop"))
	}
	if !strings.Contains(ack.Header("From"), "support@example.com") {
		t.Errorf("ack From = %q", ack.Header("From"))
	}
	if ack.Header("Message-Id") == "" || ack.Header("In-Reply-To") != "<ken-1@e-fun.example>" {
		t.Errorf("ack ids: Message-Id %q In-Reply-To %q", ack.Header("Message-Id"), ack.Header("In-Reply-To"))
	}
	token := replyAddr(t, ack)
	if !strings.HasPrefix(ack.From, "support+") {
		t.Errorf("envelope sender %q is not a VERP token address", ack.From)
	}

	// The customer replies through the token, with no References.
	d.MustSend("ken@e-fun.example", []string{token}, testkit.Mail{
		From: "Ken <ken@e-fun.example>", To: []string{token}, Subject: "Re: whatever",
		Body: "Any news?\n\nOn Mon, Victoria wrote:\n> old text",
	}.Build())
	_, cs := d.Ticket(1)
	if d.TicketCount() != 1 {
		t.Fatalf("reply opened a new ticket: %d tickets", d.TicketCount())
	}
	last := cs[len(cs)-1]
	if last.Author != "ken@e-fun.example" || last.Visibility != model.Public || last.Text != "Any news?" {
		t.Errorf("reply comment = %+v", last)
	}

	// Victoria (DKIM-signed) replies to her notification with commands.
	notes := sink.WaitCount(t, "victoria@certs.example", 1, 5*time.Second)
	vtoken := replyAddr(t, notes[len(notes)-1])
	signer := d.DKIM(t, "certs.example")
	raw := signer.Sign(t, testkit.Mail{
		From: "Victoria <victoria@certs.example>", To: []string{vtoken}, Subject: "Re: [#1] New SSL certificate",
		Body: "#status pending\n#assign bob\n#priority high\nHi Ken, the certificate is on its way.\n\n-- \nVictoria\nvictoria@certs.example",
	}.Build())
	before := len(sink.To("ken@e-fun.example"))
	d.MustSend("victoria@certs.example", []string{vtoken}, raw)
	tk, _ := d.Ticket(1)
	if tk.Status != model.StatusPending || tk.Assignee != "bob@certs.example" || tk.Priority != "high" {
		t.Fatalf("commands not applied: status %s assignee %s priority %s", tk.Status, tk.Assignee, tk.Priority)
	}
	got := sink.WaitCount(t, "ken@e-fun.example", before+1, 5*time.Second)
	reply := got[len(got)-1]
	if !strings.Contains(reply.Env.Text, "the certificate is on its way") {
		t.Errorf("customer mail text = %q", reply.Env.Text)
	}
	if strings.Contains(reply.Env.Text, "#status") {
		t.Errorf("command lines leaked to the customer: %q", reply.Env.Text)
	}
	// No staff address anywhere in what the customer receives, except
	// what the agent typed herself (her signature).
	hdrs := string(reply.Raw[:strings.Index(string(reply.Raw), "\r\n\r\n")])
	if strings.Contains(hdrs, "victoria@certs.example") || strings.Contains(hdrs, "bob@certs.example") {
		t.Errorf("staff address in headers to the customer:\n%s", hdrs)
	}
	if !strings.Contains(reply.Header("From"), "Victoria") || !strings.Contains(reply.Header("From"), "support@example.com") {
		t.Errorf("From = %q", reply.Header("From"))
	}
}

// A forged agent mail (no valid DKIM) runs nothing, reaches no ticket, is
// quarantined, and the real agent gets one notice.
func TestForgedAgentQuarantined(t *testing.T) {
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents})
	d.DKIM(t, "certs.example") // the domain publishes DMARC p=reject
	d.MustSend("ken@e-fun.example", []string{"support@example.com"}, testkit.Mail{
		From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Help", Body: "hello",
	}.Build())
	for i := 0; i < 2; i++ {
		d.MustSend("victoria@certs.example", []string{"support@example.com"}, testkit.Mail{
			From: "Victoria <victoria@certs.example>", To: []string{"support@example.com"}, Subject: "Re: [#1] Help",
			Body: "#status closed\n#spam\nclosing",
		}.Build())
	}
	tk, _ := d.Ticket(1)
	if tk.Status != model.StatusOpen {
		t.Fatalf("forged commands ran: status %s", tk.Status)
	}
	if n := d.TicketCount(); n != 1 {
		t.Fatalf("forged mail opened a ticket: %d tickets", n)
	}
	var qs []*model.Quarantine
	d.DB.View(func(tx store.Tx) error { qs, _ = tx.Quarantined(0); return nil })
	if len(qs) != 2 || qs[0].Reason != model.QAuth {
		t.Fatalf("quarantine = %+v", qs)
	}
	notices := sink.WaitCount(t, "victoria@certs.example", 1, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	d.Flush()
	n := 0
	for _, m := range sink.To("victoria@certs.example") {
		if strings.Contains(m.Header("Subject"), "not accepted") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d notices to the real agent, want exactly 1 (rate-limited); first: %q", n, notices[0].Header("Subject"))
	}
}
