package gateway_test

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

// Issue 4: agents working tickets by mail with the command language.

const aliceAgent = `
[[agent]]
email = "alice@certs.example"
name = "Alice"
role = "agent"
groups = ["support"]
`

func TestScenarioAgentCommands(t *testing.T) {
	w := newWorld(t, aliceAgent)
	n1 := w.open("Ken <"+ken+">", "VPN certificate", "The VPN certificate is expired.", vic)

	// One mail, three commands and a text: one update, one mail to the
	// customer from the mailbox address.
	w.reply("Victoria <"+vic+">", n1, "#status pending\n#assign bob\n#priority high\nHi Ken, we are renewing it now.\n\nVictoria")
	tk, cs := w.ticket(1)
	if tk.Status != model.StatusPending || tk.Assignee != bob || tk.Priority != "high" {
		t.Fatalf("status %s assignee %s priority %s", tk.Status, tk.Assignee, tk.Priority)
	}
	km := w.expectCount(ken, 2)
	reply := km[len(km)-1]
	wantText(t, "reply to Ken", reply, "we are renewing it now")
	noneOf(t, "Ken", reply, vic, bob, "#status", "#assign", "#priority", "Bob Builder")
	if f := reply.Header("From"); !strings.Contains(f, "<support@example.com>") {
		t.Errorf("From = %q", f)
	}
	if c := lastComment(cs, model.KindComment); c.Visibility != model.Public || c.Text != "Hi Ken, we are renewing it now.\n\nVictoria" {
		t.Errorf("stored reply = %+v", c)
	}
	nComments := len(cs)

	// Typos: nothing applied, nothing to the customer, a hidden record and
	// a transcript naming the line with a suggestion.
	for _, typo := range []struct{ line, want string }{
		{"#asign bob", "did you mean #assign?"},
		{"#assign alise", "did you mean alice?"},
	} {
		id := w.reply("Victoria <"+vic+">", n1, "#status resolved\n"+typo.line+"\nAll done, Ken!")
		tk, cs = w.ticket(1)
		if tk.Status != model.StatusPending || tk.Assignee != bob {
			t.Errorf("%s: something was applied: status %s assignee %s", typo.line, tk.Status, tk.Assignee)
		}
		w.expectCount(ken, 2)
		rej := cs[len(cs)-1]
		if rej.Kind != model.KindRejected || !rej.Hidden || !strings.Contains(rej.Text, "All done, Ken!") {
			t.Errorf("%s: no hidden rejected record: %+v", typo.line, rej)
		}
		if len(cs) != nComments+1 {
			t.Errorf("%s: %d comments added, want 1 (the rejected record)", typo.line, len(cs)-nComments)
		}
		nComments = len(cs)
		tr := w.last(vic)
		if tr.Header("Auto-Submitted") != "auto-replied" || tr.Header("In-Reply-To") != "<"+id+">" {
			t.Errorf("%s: transcript Auto-Submitted %q In-Reply-To %q", typo.line, tr.Header("Auto-Submitted"), tr.Header("In-Reply-To"))
		}
		if !strings.Contains(tr.Env.Text, "> "+typo.line) || !strings.Contains(tr.Env.Text, typo.want) || !strings.Contains(tr.Env.Text, "ERROR") {
			t.Errorf("%s: transcript lacks the line or %q:\n%s", typo.line, typo.want, tr.Env.Text)
		}
	}

	// A light agent may not close a ticket.
	w.reply("Venkat <"+venkat+">", n1, "#status closed\nClosing this, it is a duplicate.")
	if tk, _ = w.ticket(1); tk.Status != model.StatusPending {
		t.Errorf("light agent closed the ticket: %s", tk.Status)
	}
	tr := w.last(venkat)
	if !strings.Contains(tr.Env.Text, "> #status closed") || !strings.Contains(tr.Env.Text, "ERROR") {
		t.Errorf("light agent transcript:\n%s", tr.Env.Text)
	}
	w.expectCount(ken, 2)

	// The same agent mail delivered twice applies once.
	dup := w.signer.Sign(t, testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, n1)}, Subject: "Re: " + n1.Header("Subject"),
		MessageID: "twice@certs.example", Body: "#tag +vip\nThe new certificate is attached to the next mail."}.Build())
	w.raw(vic, []string{replyTok(t, n1)}, dup)
	w.raw(vic, []string{replyTok(t, n1)}, dup)
	w.expectCount(ken, 3)
	tk, cs = w.ticket(1)
	n := 0
	for _, c := range cs {
		if c.MessageID == "twice@certs.example" {
			n++
		}
	}
	if n != 1 || len(tk.Tags) != 1 {
		t.Errorf("duplicate delivery: %d comments, tags %v", n, tk.Tags)
	}

	// A reply to a private-note notification defaults to private.
	w.reply("Venkat <"+venkat+">", n1, "Please double-check the key length.")
	note := w.last(bob) // bob is the assignee now
	if !strings.Contains(note.Env.Text, "A plain reply to this mail is PRIVATE") {
		t.Errorf("note notification footer:\n%s", note.Env.Text)
	}
	w.staff(testkit.Mail{From: "Bob Builder <" + bob + ">", To: []string{replyTok(t, note)}, Subject: "Re: " + note.Header("Subject"),
		Body: "Checked: 4096 bits."})
	w.expectCount(ken, 3)
	_, cs = w.ticket(1)
	if c := lastComment(cs, model.KindComment); c.Author != bob || c.Visibility != model.Private {
		t.Errorf("reply to a note = %+v", c)
	}
	// A reply to a public-comment notification is public. Bob answers
	// the notification of Ken's request, which is older than Victoria's
	// public replies: the collision guard holds it and shows him what was
	// said meanwhile; #send releases it.
	pubNote := w.mails(bob)[0]
	if !strings.Contains(pubNote.Env.Text, "A plain reply to this mail is PUBLIC") {
		t.Fatalf("public-comment notification footer:\n%s", pubNote.Env.Text)
	}
	w.staff(testkit.Mail{From: "Bob Builder <" + bob + ">", To: []string{replyTok(t, pubNote)}, Subject: "Re: " + pubNote.Header("Subject"),
		Body: "Ken, the certificate is installed."})
	w.expectCount(ken, 3)
	held := w.last(bob)
	if !strings.HasPrefix(held.Header("Subject"), "Held:") || !strings.Contains(held.Env.Text, "we are renewing it now") {
		t.Fatalf("collision not held: %q\n%s", held.Header("Subject"), held.Env.Text)
	}
	w.staff(testkit.Mail{From: "Bob Builder <" + bob + ">", To: []string{replyTok(t, held)}, Subject: "Re: " + held.Header("Subject"), Body: "#send\n"})
	km = w.expectCount(ken, 4)
	wantText(t, "Bob's public reply", km[len(km)-1], "the certificate is installed")
	noneOf(t, "Ken", km[len(km)-1], bob, "Bob Builder <")
}

func TestScenarioAgentFreshMail(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Wildcard", "Need a wildcard.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n")

	// #ticket N in a fresh mail acts on N.
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "about the wildcard",
		Body: "#ticket 1\n#priority urgent\nKen called: it is blocking their launch."})
	tk, cs := w.ticket(1)
	if w.d.TicketCount() != 1 || tk.Priority != "urgent" {
		t.Fatalf("#ticket: %d tickets, priority %s", w.d.TicketCount(), tk.Priority)
	}
	if c := lastComment(cs, model.KindComment); c.Visibility != model.Private || !strings.Contains(c.Text, "blocking their launch") {
		t.Errorf("#ticket text = %+v", c)
	}
	w.expectCount(ken, 1)

	// #list mine and #help mail back, and open no ticket.
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "my tickets", Body: "#list mine\n"})
	lst := w.last(vic)
	if !strings.Contains(lst.Env.Text, "Tickets (mine): 1") || !strings.Contains(lst.Env.Text, "Wildcard") {
		t.Errorf("#list mine answer:\n%s", lst.Env.Text)
	}
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "help", Body: "#help\n"})
	help := w.last(vic)
	if !strings.Contains(help.Env.Text, "#forward") || !strings.Contains(help.Env.Text, "#merge") || help.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("#help answer:\n%s", help.Env.Text)
	}
	// A light agent's fresh #list is answered too.
	w.staff(testkit.Mail{From: "Venkat <" + venkat + ">", To: []string{"support@example.com"}, Subject: "list", Body: "#list open\n"})
	if lst := w.last(venkat); !strings.Contains(lst.Env.Text, "Tickets (open): 1") {
		t.Errorf("light agent's #list open answer:\n%s", lst.Env.Text)
	}
	if n := w.d.TicketCount(); n != 1 {
		t.Errorf("#list / #help opened tickets: %d", n)
	}

	// An agent forwards a customer's mail: a ticket for the original
	// sender, the forwarded text as their comment, the agent's note private.
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "Fwd: Printer certificate",
		Body: "Carol called about this as well, please handle it this week.\n\n" +
			"---------- Forwarded message ---------\n" +
			"From: Carol Jones <carol@customer.example>\n" +
			"Date: Mon, 2 Mar 2026 at 09:12\n" +
			"Subject: Printer certificate\n" +
			"To: Victoria <victoria@certs.example>\n\n" +
			"Our printer rejects the new certificate, can you help?\n\nCarol\n"})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("forward: %d tickets", n)
	}
	tk2, cs2 := w.ticket(2)
	if tk2.Requester != "carol@customer.example" || tk2.Subject != "Printer certificate" {
		t.Errorf("forwarded ticket requester %q subject %q", tk2.Requester, tk2.Subject)
	}
	var pub, priv *model.Comment
	for _, c := range cs2 {
		if c.Kind != model.KindComment {
			continue
		}
		if c.Visibility == model.Public && pub == nil {
			pub = c
		}
		if c.Visibility == model.Private {
			priv = c
		}
	}
	if pub == nil || pub.Author != "carol@customer.example" || !strings.HasPrefix(pub.Text, "Our printer rejects the new certificate") ||
		strings.Contains(pub.Text, "Forwarded message") || strings.Contains(pub.Text, "please handle it") {
		t.Errorf("requester's first comment = %+v", pub)
	}
	if priv == nil || priv.Author != vic || priv.Text != "Carol called about this as well, please handle it this week." {
		t.Errorf("agent's note = %+v", priv)
	}
	w.dump()
	for _, m := range w.mails("carol@customer.example") {
		noneOf(t, "Carol", m, "please handle it", vic, "Forwarded message")
	}
}

func TestScenarioConfirmAlways(t *testing.T) {
	w := newWorld(t, "\n[commands]\nconfirm = \"always\"\n")
	n1 := w.open("Ken <"+ken+">", "Confirm", "Please confirm.", vic)
	id := w.reply("Victoria <"+vic+">", n1, "#assign me\n#tag +renewal\nWe are on it.")
	tr := w.last(vic)
	if !strings.Contains(tr.Env.Text, "Your commands were processed") || !strings.Contains(tr.Env.Text, "> #tag +renewal") ||
		tr.Header("In-Reply-To") != "<"+id+">" || tr.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("confirmation transcript: %q\n%s", tr.Header("In-Reply-To"), tr.Env.Text)
	}
	tk, _ := w.ticket(1)
	if tk.Assignee != vic || len(tk.Tags) != 1 {
		t.Errorf("commands not applied: %+v", tk)
	}
	wantText(t, "reply to Ken", w.last(ken), "We are on it.")
}
