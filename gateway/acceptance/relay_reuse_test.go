package acceptance

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("a relay connection carries several mails with one EHLO: after a completed transaction the next mail goes straight to MAIL FROM (no RSET, no EHLO again); only a transaction that did not complete (a refused recipient) is aborted with RSET, and the next mail still goes out",
	"TestRelayConnectionCarriesMailsWithoutRsetOrEhlo", "TestRelayRefusedRecipientThenNextMailOnSameRound")
var _ = claim("a relay connection the relay closed (an idle timeout, a limit of mails per connection) is replaced without costing any mail an attempt, a retry or a failure record",
	"TestRelayClosedConnectionIsReplacedWithoutARetry")

// reuseStaff is a team of nine agents in one group: a new ticket queues
// the acknowledgement and nine notifications in one write, which one
// delivery round takes and spreads over its (at most four) relay
// connections, so at least one connection carries three mails or more.
func reuseStaff() (cfg string, agents []string) {
	var b strings.Builder
	b.WriteString("[[group]]\nname = \"support\"\n\n[[mailbox]]\naddress = \"support@example.com\"\nname = \"Certs Support\"\ngroup = \"support\"\n")
	for i := 1; i <= 9; i++ {
		a := fmt.Sprintf("agent%d@certs.example", i)
		agents = append(agents, a)
		fmt.Fprintf(&b, "\n[[agent]]\nname = \"Agent %d\"\nemail = %q\nrole = \"agent\"\ngroups = [\"support\"]\n", i, a)
	}
	return b.String(), agents
}

// verbs returns how often verb occurs in cmds.
func verbs(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if c == verb {
			n++
		}
	}
	return n
}

// newTicketMails sends one customer mail to the reuse team and checks
// that every recipient's mailbox holds exactly its one mail (refused:
// nothing); it returns the sink's sessions.
func newTicketMails(t *testing.T, e *Env, agents []string, subject string, refused string) {
	t.Helper()
	e.Customer(testkit.Mail{From: "Kim <kim@customer.example>", To: []string{"support@example.com"}, Subject: subject, Body: "The certificate expired.\n"})
	ack := e.Mailbox("kim@customer.example")
	if len(ack) != 1 || !strings.Contains(ack[0].Header("Subject"), subject) {
		t.Errorf("kim's mailbox holds %d mails, want the one acknowledgement of %q", len(ack), subject)
	}
	for _, a := range agents {
		got := e.Mailbox(a)
		if a == refused {
			if len(got) != 0 {
				t.Errorf("%s (refused by the relay) got %d mails", a, len(got))
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s's mailbox holds %d mails, want one notification", a, len(got))
			continue
		}
		if !strings.Contains(got[0].Header("Subject"), subject) || !strings.Contains(got[0].Env.Text, "The certificate expired.") {
			t.Errorf("%s got %q / %q, want the notification of %q with the customer's text", a, got[0].Header("Subject"), got[0].Env.Text, subject)
		}
		if len(got[0].To) != 1 || !strings.EqualFold(got[0].To[0], a) {
			t.Errorf("the mail for %s was addressed to %v", a, got[0].To)
		}
	}
}

// Three or more queued mails on one relay connection: EHLO once, then
// MAIL, RCPT, DATA per mail, no RSET and no second EHLO between them
// (go-smtp's Client.Reset used to send RSET and EHLO before every mail
// after the first).
func TestRelayConnectionCarriesMailsWithoutRsetOrEhlo(t *testing.T) {
	cfg, agents := reuseStaff()
	e := Start(t, Options{Config: cfg})
	newTicketMails(t, e, agents, "Expired certificate", "")
	sessions := e.Sink.Sessions()
	mails, most := 0, 0
	for i, cmds := range sessions {
		m := verbs(cmds, "MAIL")
		mails += m
		most = max(most, m)
		if n := verbs(cmds, "EHLO") + verbs(cmds, "HELO"); n != 1 {
			t.Errorf("connection %d: %d greetings for %d mails, want 1: %v", i, n, m, cmds)
		}
		if n := verbs(cmds, "RSET"); n != 0 {
			t.Errorf("connection %d: %d RSET between completed mails, want none: %v", i, n, cmds)
		}
		if verbs(cmds, "RCPT") != m || verbs(cmds, "DATA") != m {
			t.Errorf("connection %d: MAIL/RCPT/DATA do not pair up: %v", i, cmds)
		}
	}
	if mails != 10 {
		t.Errorf("the relay saw %d MAIL commands, want 10 (one acknowledgement, nine notifications): %v", mails, sessions)
	}
	if most < 3 {
		t.Errorf("no connection carried three mails (most: %d): %v", most, sessions)
	}
	ob := e.Outbox()
	for _, it := range ob.Items {
		if it.State != "sent" || it.Attempts != 1 || it.LastError != "" {
			t.Errorf("outbox item %d to %s: state %s, %d attempts, last error %q; want sent at the first attempt", it.ID, it.Rcpt, it.State, it.Attempts, it.LastError)
		}
	}
}

// A refused recipient leaves its transaction open: the next mail on that
// connection is preceded by RSET (and only it), and goes out; the refused
// mail fails once, nobody else's mail is touched.
func TestRelayRefusedRecipientThenNextMailOnSameRound(t *testing.T) {
	cfg, agents := reuseStaff()
	e := Start(t, Options{Config: cfg})
	refused := agents[0]
	e.Sink.SetRefuse(refused, true)
	newTicketMails(t, e, agents, "Refused colleague", refused)
	sessions := e.Sink.Sessions()
	mails, rsets := 0, 0
	for i, cmds := range sessions {
		mails += verbs(cmds, "MAIL")
		rsets += verbs(cmds, "RSET")
		// Every RSET follows a transaction that did not reach DATA.
		for j, c := range cmds {
			if c != "RSET" {
				continue
			}
			k := j - 1
			for k >= 0 && cmds[k] == "RCPT" {
				k--
			}
			if k < 0 || cmds[k] != "MAIL" {
				t.Errorf("connection %d: RSET at %d does not follow a MAIL whose RCPT was refused: %v", i, j, cmds)
			}
		}
		if n := verbs(cmds, "EHLO"); n != 1+verbs(cmds, "RSET") {
			t.Errorf("connection %d: %d EHLO with %d RSET: %v", i, n, verbs(cmds, "RSET"), cmds)
		}
	}
	if mails != 10 {
		t.Errorf("the relay saw %d MAIL commands, want 10: %v", mails, sessions)
	}
	if rsets > 1 {
		t.Errorf("%d RSET for one refused recipient: %v", rsets, sessions)
	}
	ob := e.Outbox()
	for _, it := range ob.Items {
		want := "sent"
		if it.Rcpt == refused {
			want = "failed"
		}
		if it.State != want || it.Attempts != 1 {
			t.Errorf("outbox item %d to %s: state %s after %d attempts, want %s after 1", it.ID, it.Rcpt, it.State, it.Attempts, want)
		}
	}
}

// A relay that drops a connection after each mail (as one closing idle
// connections, or limiting mails per connection, does): every mail still
// goes out at its first attempt, on a new connection, with no retry and
// no failure on record, and the relay is not reported failing.
func TestRelayClosedConnectionIsReplacedWithoutARetry(t *testing.T) {
	cfg, agents := reuseStaff()
	sink := testkit.StartSink(t)
	sink.SetCloseAfter(1)
	e := Start(t, Options{Config: cfg, Sink: sink})
	newTicketMails(t, e, agents, "Dropped connections", "")
	mails := 0
	for i, cmds := range e.Sink.Sessions() {
		if n := verbs(cmds, "DATA"); n > 1 {
			t.Errorf("connection %d carried %d mails, the sink allows 1: %v", i, n, cmds)
		}
		mails += verbs(cmds, "DATA")
	}
	if mails != 10 {
		t.Errorf("%d mails went out, want 10", mails)
	}
	ob := e.Outbox()
	for _, it := range ob.Items {
		if it.State != "sent" || it.Attempts != 1 || it.LastError != "" {
			t.Errorf("outbox item %d to %s: state %s, %d attempts, last error %q; want sent at the first attempt", it.ID, it.Rcpt, it.State, it.Attempts, it.LastError)
		}
	}
	if ob.Relay.State != "ok" {
		t.Errorf("relay state %q (%s), want ok", ob.Relay.State, ob.Relay.LastError)
	}
	if v := e.Metric("helpdesk_outbound_retries_total"); v != 0 {
		t.Errorf("helpdesk_outbound_retries_total = %v", v)
	}
}
