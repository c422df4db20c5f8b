package gateway_test

// Hostile input: autoresponders answering every mail.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// autoResponder is a naive autoresponder on the relay: it answers every mail
// it receives for its address by sending a reply back into the daemon.
type autoResponder struct {
	addr string
	// mode: "token" replies to Reply-To with Auto-Submitted: auto-replied,
	// "naive" replies to Reply-To with no auto headers, "fresh" writes a
	// new mail to the From address with a new subject every time.
	mode string

	handled int // mails answered
	errs    []error
}

func (r *autoResponder) answer(daemonAddr string, m *testkit.Received, n int) error {
	var to string
	mail := testkit.Mail{From: "Auto <" + r.addr + ">", Body: "I am out of the office until next year.\n(automatic reply)"}
	switch r.mode {
	case "token", "naive":
		to = tokenRe.FindString(m.Header("Reply-To"))
		if to == "" {
			return fmt.Errorf("no reply token in %q", m.Header("Reply-To"))
		}
		mail.Subject = "Re: " + m.Header("Subject")
		mail.InReplyTo = strings.Trim(m.Header("Message-Id"), "<>")
		if r.mode == "token" {
			mail.Subject = "Auto: " + m.Header("Subject")
			mail.Headers = []string{"Auto-Submitted: auto-replied", "X-Autoreply: yes"}
		}
	case "fresh":
		to = "support@example.com"
		mail.Subject = fmt.Sprintf("Away notice %d", n)
	}
	mail.To = []string{to}
	return testkit.SendMail(daemonAddr, r.addr, []string{to}, mail.Build())
}

// A mail loop with autoresponders that answer every mail stops by itself:
// the daemon sends each of them at most the acknowledgement rate limit
// (5 per sender per hour), whatever headers they use.
func TestHostileAutoresponderLoop(t *testing.T) {
	sink := testkit.StartSink(t)
	d := startHD(t, hopts{relay: sink, extra: `[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
`})
	const ackLimit = 5 // [tickets] ack_per_sender_per_hour default
	const maxAnswers = 40
	rs := []*autoResponder{
		{addr: "vacation@loop.example", mode: "token"},
		{addr: "naive@loop.example", mode: "naive"},
		{addr: "fresh@loop.example", mode: "fresh"},
	}
	// Each autoResponder's owner writes once; then the responders take over.
	for _, r := range rs {
		if err := testkit.SendMail(d.SMTPAddr, r.addr, []string{"support@example.com"}, testkit.Mail{
			From: r.addr, To: []string{"support@example.com"}, Subject: "Question from " + r.addr, Body: "How do I renew?",
		}.Build()); err != nil {
			t.Fatal(err)
		}
	}
	// The responders run in this goroutine, interleaved with the daemon's
	// outbound worker, until the loop is quiet: every mail each autoResponder
	// got is answered, the daemon's queue is empty, and so nothing more
	// can come. A cap bounds a loop that does not stop.
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := false
		for _, r := range rs {
			got := sink.To(r.addr)
			for r.handled < len(got) && r.handled < maxAnswers {
				if err := r.answer(d.SMTPAddr, got[r.handled], r.handled); err != nil {
					r.errs = append(r.errs, err)
				}
				r.handled++
				busy = true
			}
		}
		if !busy && d.queueDepth() == 0 {
			quiet := true
			for _, r := range rs {
				quiet = quiet && r.handled == len(sink.To(r.addr))
			}
			if quiet {
				break
			}
		}
		capped := false
		for _, r := range rs {
			capped = capped || r.handled >= maxAnswers
		}
		if capped || time.Now().After(deadline) {
			for _, r := range rs {
				t.Logf("%s (%s): %d mails from the daemon", r.addr, r.mode, len(sink.To(r.addr)))
			}
			t.Fatal("the mail loop did not stop by itself")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, r := range rs {
		n := len(sink.To(r.addr))
		t.Logf("%s (%s): %d mails from the daemon, %d answers", r.addr, r.mode, n, r.handled)
		for _, err := range r.errs {
			t.Errorf("%s: sending an answer: %v", r.addr, err)
		}
		if n == 0 {
			t.Errorf("%s got no acknowledgement at all", r.addr)
		}
		if n > ackLimit {
			t.Errorf("%s got %d mails from the daemon, more than the acknowledgement limit %d", r.addr, n, ackLimit)
		}
		for _, m := range sink.To(r.addr) {
			if m.Header("Auto-Submitted") == "" || m.Header("Auto-Submitted") == "no" {
				t.Errorf("mail to the autoResponder %q lacks Auto-Submitted", m.Header("Subject"))
			}
		}
	}
	// Every answer that got a 250 was stored.
	answers := 0
	for _, r := range rs {
		answers += r.handled + 1
	}
	if n := len(d.messages()); n != answers {
		t.Errorf("%d messages stored, %d sent", n, answers)
	}
}
