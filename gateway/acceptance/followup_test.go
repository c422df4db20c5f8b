package acceptance

import (
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("a reply to a closed ticket: a bare acknowledgement is recorded on it; the first real reply opens one follow-up that inherits requester, CCs, group, tags, priority and the active assignee, linked both ways, acknowledged with its number; later replies join it until it is closed",
	"TestFollowUpOfClosedTicket")

func ticketCount(t *testing.T, e *Env) int {
	t.Helper()
	var list []struct {
		ID uint64 `json:"id"`
	}
	e.JSON(&list, "tickets")
	return len(list)
}

func hasLink(tk *Ticket, kind string, id uint64) bool {
	for _, l := range tk.Links {
		if l.Kind == kind && l.Ticket == id {
			return true
		}
	}
	return false
}

func TestFollowUpOfClosedTicket(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"}, Cc: []string{"boss@e-fun.example"},
		Subject: "Mail server down", Body: "Our mail server does not start.\n"})
	ack := e.Find("ken@e-fun.example", "[#1]")
	n := e.Find("victoria@certs.example", "Mail server down")
	replyTo(e, n, "#assign me\n#priority high\n#tag +vip\nWe restarted it for you.\n")
	replyTo(e, n, "#closed\n")
	if tk := e.Show(1); tk.Status != "closed" {
		t.Fatalf("ticket 1 is %s, want closed", tk.Status)
	}
	answer := e.Find("ken@e-fun.example", "We restarted it")
	before := len(e.Mailbox("ken@e-fun.example"))

	// A bare thanks is recorded on the closed ticket.
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(answer)}, Subject: "Re: " + answer.Header("Subject"), Body: "감사합니다\n"})
	if n := ticketCount(t, e); n != 1 {
		t.Fatalf("a bare acknowledgement opened a ticket: %d tickets", n)
	}
	if tk := e.Show(1); tk.Status != "closed" || !strings.Contains(tk.Comments[len(tk.Comments)-1].Text+tk.Comments[len(tk.Comments)-2].Text, "감사합니다") {
		t.Errorf("the acknowledgement is not recorded on the closed ticket (status %s)", tk.Status)
	}
	if got := len(e.Mailbox("ken@e-fun.example")); got != before {
		t.Errorf("the customer got %d new mails for a thank-you", got-before)
	}

	// The first real reply opens one follow-up with everything inherited.
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(answer)}, Subject: "Re: " + answer.Header("Subject"), Body: "It is down again since this morning.\n"})
	if n := ticketCount(t, e); n != 2 {
		t.Fatalf("%d tickets after the first real reply, want 2", n)
	}
	fu := e.Show(2)
	if fu.Requester != "ken@e-fun.example" || !slices.Contains(fu.CCs, "boss@e-fun.example") || fu.Group != "support" ||
		!slices.Contains(fu.Tags, "vip") || fu.Priority != "high" || fu.Assignee != "victoria@certs.example" {
		t.Errorf("follow-up did not inherit: requester %s ccs %v group %s tags %v priority %s assignee %q",
			fu.Requester, fu.CCs, fu.Group, fu.Tags, fu.Priority, fu.Assignee)
	}
	if !hasLink(fu, "follow-up-of", 1) || !hasLink(e.Show(1), "follow-up", 2) {
		t.Errorf("follow-up links missing: %+v / %+v", fu.Links, e.Show(1).Links)
	}
	ack2 := e.Find("ken@e-fun.example", "[#2]")
	if !strings.Contains(Text(ack2), "[#2]") || !strings.Contains(Text(ack2), "[#1]") {
		t.Errorf("the follow-up's acknowledgement does not give the new number and the old one:\n%s", Text(ack2))
	}
	e.Find("victoria@certs.example", "It is down again")

	// A second reply to the closed ticket joins the follow-up.
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Also the web server is slow now.\n"})
	if n := ticketCount(t, e); n != 2 {
		t.Fatalf("%d tickets after a second reply to the closed ticket, want 2", n)
	}
	fu = e.Show(2)
	if !strings.Contains(fu.Comments[len(fu.Comments)-1].Text, "web server is slow") {
		t.Errorf("the second reply did not join the follow-up")
	}

	// Once the follow-up is closed, a new reply opens a new follow-up.
	n2 := e.Find("victoria@certs.example", "It is down again")
	replyTo(e, n2, "#closed\n")
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(answer)}, Subject: "Re: " + answer.Header("Subject"), Body: "Down once more.\n"})
	if n := ticketCount(t, e); n != 3 {
		t.Fatalf("%d tickets after the follow-up was closed, want 3", n)
	}
	if !hasLink(e.Show(3), "follow-up-of", 1) {
		t.Errorf("ticket 3 is not a follow-up of 1: %+v", e.Show(3).Links)
	}
}
