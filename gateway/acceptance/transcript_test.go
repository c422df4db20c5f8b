package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("transcript and held-mail subjects carry one prefix and the ticket's subject",
	"TestTranscriptSubjectsDoNotSnowball")

var _ = claim("#ticket <n> belongs in a new mail; in an answer about another ticket the whole mail is refused and neither ticket changes",
	"TestTicketCommandInAnswerToAnotherTicketIsRefused")

var _ = claim("all or nothing: every bad line of a block is named in one transcript with its did-you-mean, syntax and context errors alike; nothing is applied, nothing reaches the customer",
	"TestTranscriptNamesEveryBadLine")

// openTicket has Ken open a ticket and returns the notification Victoria
// got for it (the group's agents are told when nobody is assigned).
func openTicket(t *testing.T, e *Env, from, subject string) *testkit.Received {
	t.Helper()
	e.Customer(testkit.Mail{From: from, To: []string{"support@example.com"}, Subject: subject, Body: "Please help with " + subject + ".\n"})
	return e.Find("victoria@certs.example", subject)
}

// replyTo sends Victoria's DKIM-signed answer to a notification.
func replyTo(e *Env, n *testkit.Received, body string) {
	e.Agent(testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{ReplyTo(n)},
		Subject: "Re: " + n.Header("Subject"), InReplyTo: strings.Trim(n.Header("Message-ID"), "<>"), Body: body})
}

// Every bad line of a block is reported, with its did-you-mean, even when
// another line has a syntax error; nothing is applied (issue 12 item 7).
func TestTranscriptNamesEveryBadLine(t *testing.T) {
	e := Start(t, Options{})
	n := openTicket(t, e, "Ken <ken@e-fun.example>", "Broken certificate")
	replyTo(e, n, "#assign victorai\n#priority hihg\n#group suport\n#status pending\nWe are on it.\n")
	tr := e.Find("victoria@certs.example", "Commands not applied")
	for _, want := range []string{
		"> #assign victorai\nERROR: unknown agent \"victorai\"; did you mean victoria?",
		"> #priority hihg\nERROR: unknown priority \"hihg\"; did you mean high?",
		"> #group suport\nERROR: unknown group \"suport\"; did you mean support?",
		"> #status pending\nok",
	} {
		if !strings.Contains(Text(tr), want) {
			t.Errorf("transcript lacks %q:\n%s", want, Text(tr))
		}
	}
	tk := e.Show(1)
	if tk.Status != "open" || tk.Priority != "normal" || tk.Assignee != "" {
		t.Errorf("something was applied: status %s priority %s assignee %q", tk.Status, tk.Priority, tk.Assignee)
	}
	if got := len(e.Mailbox("ken@e-fun.example")); got != 1 {
		t.Errorf("the customer got %d mails, want only the acknowledgement", got)
	}
}

// #ticket N in an answer to a notification of ticket M (N != M) refuses
// the whole mail: nothing is applied to either ticket (item 6).
func TestTicketCommandInAnswerToAnotherTicketIsRefused(t *testing.T) {
	e := Start(t, Options{})
	n1 := openTicket(t, e, "Ken <ken@e-fun.example>", "First problem")
	openTicket(t, e, "Quinn <quinn@q.example>", "Second problem")
	replyTo(e, n1, "#ticket 2\n#status pending\n#priority urgent\nDone on our side.\n")
	tr := e.Find("victoria@certs.example", "Commands not applied")
	if !strings.Contains(Text(tr), "> #ticket 2\nERROR: ") || !strings.Contains(Text(tr), "new mail") {
		t.Errorf("transcript does not say that #ticket belongs in a new mail:\n%s", Text(tr))
	}
	for _, id := range []uint64{1, 2} {
		tk := e.Show(id)
		if tk.Status != "open" || tk.Priority != "normal" {
			t.Errorf("ticket %d changed: status %s priority %s", id, tk.Status, tk.Priority)
		}
	}
	for _, c := range []string{"ken@e-fun.example", "quinn@q.example"} {
		if got := len(e.Mailbox(c)); got != 1 {
			t.Errorf("%s got %d mails, want only the acknowledgement", c, got)
		}
	}
	// The same #ticket naming the ticket answered is harmless.
	replyTo(e, n1, "#ticket 1\n#priority high\n")
	if tk := e.Show(1); tk.Priority != "high" {
		t.Errorf("#ticket 1 in an answer about ticket 1: priority %s, want high", tk.Priority)
	}
}

// Transcript and hold subjects carry one prefix and the ticket's subject,
// however often an agent answers them (item 9).
func TestTranscriptSubjectsDoNotSnowball(t *testing.T) {
	e := Start(t, Options{})
	n := openTicket(t, e, "Ken <ken@e-fun.example>", "Slow server")
	replyTo(e, n, "#priorty high\n")
	tr := e.Find("victoria@certs.example", "Commands not applied")
	for i := 0; i < 2; i++ {
		replyTo(e, tr, "#priorty urgent\n")
		tr = e.Mailbox("victoria@certs.example")[len(e.Mailbox("victoria@certs.example"))-1]
	}
	if got, want := tr.Header("Subject"), "Commands not applied: [#1] Slow server"; got != want {
		t.Errorf("third transcript subject %q, want %q", got, want)
	}

	// A held reply (it repeats a private note) answered again stays
	// "Held: [#1] ...".
	replyTo(e, n, "#note\nThe customer's server runs an unpatched kernel from 2019 and we should not tell them.\n")
	leak := "Hello Ken, the customer's server runs an unpatched kernel from 2019 and we should not tell them.\n"
	replyTo(e, n, "#reply\n"+leak)
	held := e.Find("victoria@certs.example", "HELD")
	replyTo(e, held, "#reply\n"+leak)
	ms := e.Mailbox("victoria@certs.example")
	last := ms[len(ms)-1]
	if got, want := last.Header("Subject"), "Held: [#1] Slow server"; got != want {
		t.Errorf("second hold subject %q, want %q", got, want)
	}
	for _, m := range e.Mailbox("ken@e-fun.example") {
		if strings.Contains(Text(m), "unpatched") {
			t.Errorf("the held text reached the customer")
		}
	}
}
