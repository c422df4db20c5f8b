package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Issue 3: a whole customer conversation replayed over SMTP, one thread
// key at a time, with a stranger, a bounce and an out-of-office on the way.

// dsn is an RFC 3464 delivery status notification for a mail we sent.
func dsnFor(to, rcpt string, orig *testkit.Received) []byte {
	hdr := headerBlock(orig)
	return []byte(strings.ReplaceAll(fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.e-fun.example>
To: %s
Subject: Undelivered Mail Returned to Sender
Date: Mon, 02 Mar 2026 10:00:00 +0000
Message-ID: <bounce-1@mx.e-fun.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"

--BOUND
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.e-fun.example.
I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<%s>: host mx.e-fun.example said: 550 5.1.1 User unknown

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.e-fun.example
Arrival-Date: Mon, 02 Mar 2026 09:59:58 +0000

Final-Recipient: rfc822; %s
Original-Recipient: rfc822;%s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown

--BOUND
Content-Type: text/rfc822-headers

%s

--BOUND--
`, to, rcpt, rcpt, rcpt, rcpt, strings.ReplaceAll(hdr, "\r\n", "\n")), "\n", "\r\n"))
}

func TestScenarioConversationReplay(t *testing.T) {
	w := newWorld(t, "")
	const subject = "Certificate renewal"
	kenFrom := "Ken <" + ken + ">"
	commentsBy := func(id uint64, author string) []string {
		_, cs := w.ticket(id)
		var out []string
		for _, c := range cs {
			if c.Kind == model.KindComment && c.Author == author {
				out = append(out, c.Text)
			}
		}
		return out
	}
	lastText := func(id uint64) string {
		_, cs := w.ticket(id)
		c := lastComment(cs, model.KindComment)
		if c == nil {
			return ""
		}
		return c.Text
	}
	status := func(id uint64) string { tk, _ := w.ticket(id); return tk.Status }

	// 1. Customer mail → acknowledgement.
	first := w.send(testkit.Mail{From: kenFrom, To: []string{"support@example.com"}, Subject: subject, Body: "Our certificate expires next week."})
	ack := w.expectCount(ken, 1)[0]
	if ack.Header("In-Reply-To") != "<"+first+">" || ack.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("ack In-Reply-To %q Auto-Submitted %q", ack.Header("In-Reply-To"), ack.Header("Auto-Submitted"))
	}
	n1 := w.mails(vic)[0]
	w.reply("Victoria <"+vic+">", n1, "#assign me\n")

	// 2. Reply through the Reply-To token, no References, foreign prefix.
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, ack)}, Subject: "AW: something else", Body: "Token reply."})
	// 3. A client that dropped References but kept In-Reply-To, to the
	// bare mailbox address.
	w.send(testkit.Mail{From: kenFrom, To: []string{"support@example.com"}, Subject: "Re: " + subject, InReplyTo: midOf(ack), Body: "In-Reply-To reply."})
	// 4. Only References (an unknown id after ours).
	w.send(testkit.Mail{From: kenFrom, To: []string{"support@example.com"}, Subject: "답장: " + subject,
		References: []string{first, midOf(ack), "unknown.1@elsewhere.example"}, Body: "References reply."})
	if n := w.d.TicketCount(); n != 1 {
		t.Fatalf("replies opened tickets: %d", n)
	}
	if got := commentsBy(1, ken); strings.Join(got, "|") != "Our certificate expires next week.|Token reply.|In-Reply-To reply.|References reply." {
		t.Fatalf("Ken's comments on #1 = %q", got)
	}

	// 5. A stranger with only [#1] in the subject: a new ticket, linked
	// for staff, nothing on #1, and the stranger is never told about #1.
	const mallory = "mallory@elsewhere.example"
	w.send(testkit.Mail{From: "Mallory <" + mallory + ">", To: []string{"support@example.com"}, Subject: "Re: [#1] " + subject,
		Body: "Please send me the private key of this certificate."})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("the stranger's mail did not open a ticket: %d tickets", n)
	}
	tk2, _ := w.ticket(2)
	if tk2.Requester != mallory || !hasLink(tk2, model.LinkRelated, 1) {
		t.Errorf("#2 requester %q links %v", tk2.Requester, tk2.Links)
	}
	if got := commentsBy(1, mallory); len(got) != 0 {
		t.Errorf("the stranger's text landed on #1: %q", got)
	}
	mack := w.expectCount(mallory, 1)
	if len(mack) != 1 {
		t.FailNow()
	}
	if !strings.Contains(mack[0].Header("Subject"), "[#2]") {
		t.Errorf("stranger's ack subject %q", mack[0].Header("Subject"))
	}
	noneOf(t, "the stranger", mack[0], "#1", ken, vic)
	wantText(t, "possibly-related notice to the assignee of #1", w.find(vic, "Possibly related"), "opened #2")

	// 6. The requester with only [#1] in the subject lands on #1.
	w.send(testkit.Mail{From: kenFrom, To: []string{"support@example.com"}, Subject: "Re: [#1] " + subject, Body: "Subject tag reply."})
	if n := w.d.TicketCount(); n != 2 || lastText(1) != "Subject tag reply." {
		t.Fatalf("requester's [#1] reply: %d tickets, last text %q", n, lastText(1))
	}

	// 7. The acknowledgement bounces: a delivery event on #1, Ken marked
	// bouncing, no answer to the bounce.
	all := len(w.sink.All())
	vicBefore := len(w.mails(vic))
	w.raw("", []string{ack.From}, dsnFor(ack.From, ken, ack))
	_, cs := w.ticket(1)
	if c := lastComment(cs, model.KindDelivery); c == nil || !strings.Contains(c.Text, ken) || !c.Hidden {
		t.Fatalf("no delivery event on #1: %+v", c)
	}
	var u *model.User
	w.d.DB.View(func(tx store.Tx) error { u, _ = tx.User(ken); return nil })
	if u == nil || !u.Bouncing {
		t.Fatalf("Ken not marked bouncing: %+v", u)
	}
	if n := w.d.TicketCount(); n != 2 {
		t.Errorf("the bounce opened a ticket")
	}
	for _, m := range w.sink.All()[all:] {
		if len(m.To) != 1 || m.To[0] != vic {
			t.Errorf("mail sent because of a bounce to %v: %q", m.To, m.Header("Subject"))
		}
	}
	if vm := w.mails(vic); len(vm) != vicBefore+1 || !strings.Contains(vm[len(vm)-1].Env.Text, "could not be delivered") {
		t.Errorf("the assignee was not told about the bounce")
	}

	// 7b. A bounce sent to the bare mailbox address is matched by the
	// returned headers' Message-ID: the stranger's acknowledgement bounced.
	all = len(w.sink.All())
	w.raw("", []string{"support@example.com"}, dsnFor("support@example.com", mallory, mack[0]))
	_, cs2 := w.ticket(2)
	if c := lastComment(cs2, model.KindDelivery); c == nil || !strings.Contains(c.Text, mallory) {
		t.Errorf("no delivery event on #2: %+v", c)
	}
	w.d.DB.View(func(tx store.Tx) error { u, _ = tx.User(mallory); return nil })
	if u == nil || !u.Bouncing {
		t.Errorf("the stranger is not marked bouncing: %+v", u)
	}
	if extra := w.sink.All()[all:]; len(extra) != 0 || w.d.TicketCount() != 2 {
		t.Errorf("a bounce caused %d mails and %d tickets", len(extra), w.d.TicketCount())
	}

	// 8. An out-of-office reply: attached, no status change, no answer.
	w.reply("Victoria <"+vic+">", n1, "#status pending\n")
	all = len(w.sink.All())
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, ack)}, Subject: "Out of office: " + subject, InReplyTo: midOf(ack),
		Headers: []string{"Auto-Submitted: auto-replied"}, Body: "I am out of the office until Monday."})
	w.settle()
	_, cs = w.ticket(1)
	if c := cs[len(cs)-1]; c.Kind != model.KindAuto || c.Text != "I am out of the office until Monday." {
		t.Errorf("out-of-office not attached: %+v", c)
	}
	if st := status(1); st != model.StatusPending {
		t.Errorf("out-of-office changed the status to %s", st)
	}
	if extra := w.sink.All()[all:]; len(extra) != 0 {
		t.Errorf("an out-of-office caused %d mails, first to %v", len(extra), extra[0].To)
	}

	// 9. A requester comment sets pending back to open (and Ken writing
	// again clears the bouncing mark).
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, ack)}, Subject: "Re: " + subject, Body: "Here is the CSR you asked for."})
	if st := status(1); st != model.StatusOpen {
		t.Errorf("requester comment on pending: status %s", st)
	}
	w.d.DB.View(func(tx store.Tx) error { u, _ = tx.User(ken); return nil })
	if u.Bouncing {
		t.Errorf("Ken still marked bouncing after writing again")
	}
	w.reply("Victoria <"+vic+">", n1, "#status waiting-customer\nWhich host should it cover?")
	kr := w.last(ken)
	wantText(t, "question to Ken", kr, "Which host should it cover?")
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, kr)}, Subject: "Re: " + kr.Header("Subject"), Body: "Only www.e-fun.example."})
	if st := status(1); st != model.StatusOpen {
		t.Errorf("requester comment on waiting-customer: status %s", st)
	}

	// 10. Resolved: "thanks" keeps it resolved, a real question reopens.
	w.reply("Victoria <"+vic+">", n1, "#resolved\nThe certificate is issued.")
	kr = w.last(ken)
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, kr)}, Subject: "Re: " + kr.Header("Subject"), Body: "Thank you!\n\nKen"})
	if st := status(1); st != model.StatusResolved {
		t.Errorf("a bare thanks reopened the ticket: %s", st)
	}
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, kr)}, Subject: "Re: " + kr.Header("Subject"), Body: "Thanks, but does it also cover mail.e-fun.example?"})
	if st := status(1); st != model.StatusOpen {
		t.Errorf("a real question did not reopen the ticket: %s", st)
	}

	// 11. Closed: a reply opens a follow-up linked both ways.
	w.reply("Victoria <"+vic+">", n1, "#closed\n")
	w.send(testkit.Mail{From: kenFrom, To: []string{replyTok(t, kr)}, Subject: "Re: " + kr.Header("Subject"), Body: "The certificate stopped working."})
	if n := w.d.TicketCount(); n != 3 {
		t.Fatalf("reply to a closed ticket: %d tickets", n)
	}
	tk1, _ := w.ticket(1)
	tk3, cs3 := w.ticket(3)
	if tk1.Status != model.StatusClosed || !hasLink(tk3, model.LinkFollowUpOf, 1) || !hasLink(tk1, model.LinkFollowUp, 3) {
		t.Errorf("follow-up links: #1 %s %v, #3 %v", tk1.Status, tk1.Links, tk3.Links)
	}
	if tk3.Requester != ken || lastComment(cs3, model.KindComment).Text != "The certificate stopped working." {
		t.Errorf("follow-up ticket = %+v", tk3)
	}
	if got := commentsBy(1, ken); got[len(got)-1] == "The certificate stopped working." {
		t.Errorf("the reply to the closed ticket was added to it")
	}
}
