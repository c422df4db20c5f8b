package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Helpers of the command tests: the people of Staff and a customer.
const (
	ken    = "ken@e-fun.example"
	vic    = "victoria@certs.example"
	venkat = "venkat@certs.example"
	lena   = "lena@certs.example" // light agent
	ada    = "ada@certs.example"  // admin
	kenFr  = "Ken <ken@e-fun.example>"
	vicFr  = "Victoria <victoria@certs.example>"
)

// Open sends a customer's first mail and returns the notification agent
// received about it (the agents of the mailbox's group are told).
func (e *Env) Open(from, subject, body, agent string) *testkit.Received {
	e.T.Helper()
	before := len(e.Mailbox(agent))
	e.Customer(testkit.Mail{From: from, To: []string{"support@example.com"}, Subject: subject, Body: body})
	ms := e.Mailbox(agent)
	if len(ms) != before+1 {
		e.T.Fatalf("%s got %d notifications for %q, want 1", agent, len(ms)-before, subject)
	}
	return ms[len(ms)-1]
}

// Reply is a staff member's DKIM-signed reply to a mail they received
// (a notification or transcript): to its reply address, In-Reply-To its
// Message-ID. It returns the reply's Message-ID.
func (e *Env) Reply(from string, to *testkit.Received, body string) string {
	e.T.Helper()
	return e.Agent(testkit.Mail{From: from, To: []string{ReplyTo(to)}, Subject: "Re: " + to.Header("Subject"),
		InReplyTo: strings.Trim(to.Header("Message-Id"), "<> "), Body: body})
}

// Fresh is a staff member's new mail to the mailbox (no thread keys).
func (e *Env) Fresh(from, subject, body string) string {
	e.T.Helper()
	return e.Agent(testkit.Mail{From: from, To: []string{"support@example.com"}, Subject: subject, Body: body})
}

// Count fails unless addr received exactly n mails so far; it returns them.
func (e *Env) Count(addr string, n int) []*testkit.Received {
	e.T.Helper()
	ms := e.Mailbox(addr)
	if len(ms) != n {
		var subj []string
		for _, m := range ms {
			subj = append(subj, m.Header("Subject"))
		}
		e.T.Errorf("%s received %d mails, want %d: %q", addr, len(ms), n, subj)
	}
	return ms
}

// Last is the newest mail to addr; it fails when there is none.
func (e *Env) Last(addr string) *testkit.Received {
	e.T.Helper()
	ms := e.Mailbox(addr)
	if len(ms) == 0 {
		e.T.Fatalf("%s received nothing", addr)
	}
	return ms[len(ms)-1]
}

// Seen is everything a recipient can see of a mail, lowercased: the raw
// header block, the decoded text and HTML.
func Seen(m *testkit.Received) string {
	s := string(m.Raw)
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s + "\n" + m.Header("Subject") + "\n" + m.Env.Text + "\n" + m.Env.HTML)
}

// NoneOf fails when any forbidden string shows in what m's recipient sees.
func NoneOf(t *testing.T, who string, m *testkit.Received, forbidden ...string) {
	t.Helper()
	all := Seen(m)
	for _, f := range forbidden {
		if strings.Contains(all, strings.ToLower(f)) {
			t.Errorf("mail to %s (%q) shows %q:\n%s", who, m.Header("Subject"), f, m.Env.Text)
		}
	}
}

// WantText fails unless m's text holds every sub.
func WantText(t *testing.T, what string, m *testkit.Received, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(m.Env.Text, s) {
			t.Errorf("%s (%q) lacks %q:\n%s", what, m.Header("Subject"), s, m.Env.Text)
		}
	}
}

// IsTranscript fails unless m is a transcript of refused commands naming
// line and want.
func IsTranscript(t *testing.T, m *testkit.Received, line, want string) {
	t.Helper()
	if m.Header("Auto-Submitted") != "auto-replied" || !strings.Contains(m.Env.Text, "> "+line) ||
		!strings.Contains(m.Env.Text, "ERROR") || !strings.Contains(m.Env.Text, want) {
		t.Errorf("not a transcript for %q with %q: %q\n%s", line, want, m.Header("Subject"), m.Env.Text)
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Dump logs every mail of the sink (for writing tests).
func (e *Env) Dump() {
	e.Settle()
	for i, m := range e.Sink.All() {
		e.T.Logf("=== %d to %v: %s\n%s", i, m.To, m.Header("Subject"), m.Env.Text)
	}
}
