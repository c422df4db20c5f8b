package gateway_test

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

// A mail with the null envelope sender gets no acknowledgement (RFC 3834
// section 2), whichever way it came in: SMTP, helpdesk inject (its
// Return-Path) or a quarantine release.
func TestNullSenderNeverAcknowledged(t *testing.T) {
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents})
	w := &world{t: t, sink: sink, d: d}
	mail := func(subject string) []byte {
		return testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Subject: subject,
			Body: "Please call me back about the invoice."}.Build()
	}

	// SMTP, MAIL FROM:<>.
	w.raw("", []string{"support@example.com"}, mail("By SMTP"))
	// helpdesk inject of a stored mail whose Return-Path is <>.
	res, err := d.Engine.Inject(t.Context(), append([]byte("Return-Path: <>\r\n"), mail("By inject")...), false)
	if err != nil || res.Disposition != model.DispTicket {
		t.Fatalf("inject: %+v %v", res, err)
	}
	// A blocked sender's null-sender mail, released from quarantine.
	w.d.DB.Update(func(tx store.Tx) error {
		u, err := tx.EnsureUser("ann@e-fun.example", "")
		if err != nil {
			return err
		}
		u.Blocked = true
		return tx.PutUser(u)
	})
	w.raw("", []string{"support@example.com"}, testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Released", Body: "Please call me back."}.Build())
	var qs []*model.Quarantine
	d.DB.View(func(tx store.Tx) error { qs, _ = tx.Quarantined(0); return nil })
	if len(qs) != 1 || qs[0].Reason != model.QBlocked {
		t.Fatalf("quarantine = %+v", qs)
	}
	if res, err := d.Engine.Release(t.Context(), qs[0].ID); err != nil || res.Disposition != model.DispTicket {
		t.Fatalf("release: %+v %v", res, err)
	}
	w.settle()
	if n := d.TicketCount(); n != 3 {
		t.Fatalf("%d tickets, want 3", n)
	}
	for _, who := range []string{ken, "ann@e-fun.example"} {
		if ms := sink.To(who); len(ms) != 0 {
			t.Errorf("%s got %d mails for null-sender mail (first: %q)", who, len(ms), ms[0].Header("Subject"))
		}
	}
}

// Mail to a reply-token address skips the DMARC check (the token
// decides the ticket). When it still opens a ticket (a stranger, or a
// forged From), no acknowledgement goes out: an automatic answer needs a
// sender that was checked and did not fail DMARC (SPEC 3.1).
func TestNoAckWithoutDMARCCheck(t *testing.T) {
	w := newWorld(t, "")
	w.d.DNS.SetTXT("_dmarc.victim.example", "v=DMARC1; p=reject")
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Subject: "Help", Body: "My certificate expired."})
	ack := w.expectCount(ken, 1)[0]

	// A forged From (its domain publishes p=reject, the mail is
	// unsigned) sent to Ken's reply address: a new ticket, no answer.
	const forged = "ceo@victim.example"
	w.send(testkit.Mail{From: "CEO <" + forged + ">", To: []string{replyTok(t, ack)}, Subject: "Re: " + ack.Header("Subject"),
		Body: "Please wire the money today."})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}
	tk2, _ := w.ticket(2)
	if tk2.Requester != forged || !hasLink(tk2, model.LinkRelated, 1) {
		t.Fatalf("ticket #2: requester %s links %v", tk2.Requester, tk2.Links)
	}
	if ms := w.mails(forged); len(ms) != 0 {
		t.Errorf("the unchecked sender on a token address got %d mails (%q)", len(ms), ms[0].Header("Subject"))
	}

	// The same sender to the bare mailbox is checked, fails DMARC and
	// gets nothing either; a checked sender that passes is acknowledged.
	w.send(testkit.Mail{From: "CEO <" + forged + ">", To: []string{"support@example.com"}, Subject: "Wire", Body: "Please wire the money today."})
	if ms := w.mails(forged); len(ms) != 0 {
		t.Errorf("a sender failing DMARC got %d mails", len(ms))
	}
	w.send(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, Subject: "Question", Body: "Do you sell wildcards?"})
	w.expectCount("ann@e-fun.example", 1)
}

// SPEC 3.4 and 7: the requester replying through his reply address to a
// closed ticket opens a follow-up and is told its number, although token
// mail skips the DMARC check (the token was issued to him).
func TestFollowUpAcknowledgedThroughToken(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Certificate order", "We need a certificate.", vic)
	ack := w.expectCount(ken, 1)[0]
	w.reply("Victoria <"+vic+">", n1, "#status closed\nDone, Ken.")
	if tk, _ := w.ticket(1); tk.Status != model.StatusClosed {
		t.Fatalf("#1 is %s", tk.Status)
	}
	before := len(w.mails(ken))
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, ack)}, Subject: "Re: " + ack.Header("Subject"),
		Body: "One more thing: the renewal."})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("%d tickets, want a follow-up", n)
	}
	got := w.expectCount(ken, before+1)
	last := got[len(got)-1]
	if !strings.Contains(last.Header("Subject"), "[#2]") || last.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("follow-up acknowledgement: subject %q, Auto-Submitted %q", last.Header("Subject"), last.Header("Auto-Submitted"))
	}
}
