package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("acknowledgement limits per SMTP client and in total ([tickets] ack_per_ip_per_hour, ack_per_hour): forged senders get at most the limit, every ticket still opens, counted and logged once; a trusted relay is exempt from the per-client limit",
	"TestAckLimitPerClientIP", "TestAckLimitGlobalAndTrustedRelay")

// forgedBurst sends n mails with n different (forged, unsigned) From
// addresses from one SMTP client address and returns the addresses.
func forgedBurst(e *Env, clientIP, tag string, n int) []string {
	e.T.Helper()
	var froms []string
	for i := 0; i < n; i++ {
		from := fmt.Sprintf("%s%d@target%d.example", tag, i, i)
		froms = append(froms, from)
		m := testkit.Mail{From: from, To: []string{"support@example.com"}, MessageID: e.ID("forged"),
			Subject: fmt.Sprintf("Buy cheap pills at spam.example %d", i), Body: "Visit spam.example now.\n"}
		if err := e.SendFrom(clientIP, from, []string{"support@example.com"}, m.Build()); err != nil {
			e.T.Fatalf("mail %d from %s via %s: %v", i, from, clientIP, err)
		}
	}
	e.Settle()
	return froms
}

// acksTo counts the acknowledgements in the sink addressed to any of addrs
// (the forged senders) and fails on any other mail to them.
func acksTo(e *Env, addrs []string) int {
	e.T.Helper()
	n := 0
	for _, a := range addrs {
		for _, m := range e.Mailbox(a) {
			if m.Header("Auto-Submitted") != "auto-replied" || !strings.Contains(m.Env.Text, "opened ticket") {
				e.T.Errorf("%s got a mail that is not an acknowledgement: %q", a, m.Header("Subject"))
				continue
			}
			n++
		}
	}
	return n
}

// waitTickets polls `helpdesk tickets --json` until n tickets exist.
func waitTickets(e *Env, n int) {
	e.T.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list []struct{ ID uint64 }
		e.JSON(&list, "tickets", "--limit", "1000")
		if len(list) == n {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("%d tickets, want %d", len(list), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Reflection through forged senders (issue 11, item 12): 50 mails from one
// SMTP client, each with another forged From, open 50 tickets, but only
// ack_per_ip_per_hour of them are acknowledged; the rest are counted and
// logged once (rate-limited), and the per-sender limit is untouched.
func TestAckLimitPerClientIP(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[tickets]\nack_per_ip_per_hour = 10\n"})
	froms := forgedBurst(e, "127.0.0.2", "victim", 50)
	waitTickets(e, 50)
	if n := acksTo(e, froms); n != 10 {
		t.Errorf("%d acknowledgements reached the forged senders, want exactly 10", n)
	}
	if v := e.Metric(`helpdesk_acks_suppressed_total{limit="ip"}`); v != 40 {
		t.Errorf(`helpdesk_acks_suppressed_total{limit="ip"} = %v, want 40`, v)
	}
	if n := strings.Count(e.Logs(), "acknowledgement limit reached"); n != 1 {
		t.Errorf("%d log lines about the limit, want 1 (rate-limited):\n%s", n, e.Logs())
	}
	// Another client is not affected by the first one's limit.
	other := forgedBurst(e, "127.0.0.3", "other", 2)
	if n := acksTo(e, other); n != 2 {
		t.Errorf("%d acknowledgements for a second client's 2 mails, want 2", n)
	}
	// Staff still hear of every ticket.
	if tk := e.Show(50); tk.Requester != "victim49@target49.example" {
		t.Errorf("ticket 50: %+v", tk)
	}
}

// The global limit holds whatever the client address; a trusted relay
// (the front MTA: 127.0.0.1 in these tests) is not "the client" and is
// exempt from the per-IP limit, so a front end does not starve every
// customer of acknowledgements after ack_per_ip_per_hour mails.
func TestAckLimitGlobalAndTrustedRelay(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[tickets]\nack_per_ip_per_hour = 3\nack_per_hour = 10\n"})
	froms := forgedBurst(e, "127.0.0.1", "a", 6)
	if n := acksTo(e, froms); n != 6 {
		t.Fatalf("%d acknowledgements for 6 mails through the trusted relay, want 6 (relay exempt from the per-IP limit of 3)", n)
	}
	more := forgedBurst(e, "127.0.0.1", "b", 5)
	more = append(more, forgedBurst(e, "127.0.0.4", "c", 3)...)
	waitTickets(e, 14)
	if n := acksTo(e, append(froms, more...)); n != 10 {
		t.Errorf("%d acknowledgements for 14 tickets, want exactly 10 (ack_per_hour)", n)
	}
	if v := e.Metric(`helpdesk_acks_suppressed_total{limit="global"}`); v != 4 {
		t.Errorf(`helpdesk_acks_suppressed_total{limit="global"} = %v, want 4`, v)
	}
}
