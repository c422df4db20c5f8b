package gateway_test

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

// After a merge, the comments moved into the survivor get new ids there.
// The collision guard must neither read a reply to the merged ticket's
// notification against the survivor's comment numbers, nor count the
// moved history (or the merge notice) as a reply written meanwhile.
func TestScenarioGuardAfterMerge(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Certificate order", "We need a certificate for www.", vic)
	n2 := w.open("Ken <"+ken+">", "Certificate order again", "Did you get my order?", vic)
	b2 := w.mails(bob)[1]
	if !strings.Contains(b2.Header("Subject"), "[#2]") {
		t.Fatalf("Bob's notification of #2: %q", b2.Header("Subject"))
	}
	// Bob answers #2 publicly, then merges #2 into #1 (same requester).
	w.reply("Bob Builder <"+bob+">", b2, "Ken, we are on it: the order is in.")
	bobReply := w.last(ken)
	wantText(t, "Bob's reply to Ken", bobReply, "the order is in")
	w.reply("Bob Builder <"+bob+">", b2, "#merge 1\n")
	if tk2, _ := w.ticket(2); tk2.MergedInto != 1 {
		t.Fatalf("#2 not merged into #1: merged into %d", tk2.MergedInto)
	}
	_, cs1 := w.ticket(1)
	movedBob := false
	for _, c := range cs1 {
		if c.Author == bob && c.Kind == model.KindComment && strings.Contains(c.Text, "the order is in") {
			movedBob = true
		}
	}
	if !movedBob {
		t.Fatal("Bob's public reply did not move into #1")
	}

	// Ken answers Bob's old mail of #2: a normal public comment on #1.
	kenBefore := len(w.mails(ken))
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, bobReply)}, Subject: "Re: " + bobReply.Header("Subject"),
		InReplyTo: midOf(bobReply), Body: "Great, the CSR is attached to my first mail."})
	_, cs1 = w.ticket(1)
	if c := cs1[len(cs1)-1]; c.Kind != model.KindComment || c.Author != ken || c.Visibility != model.Public || c.Hidden ||
		!strings.Contains(c.Text, "the CSR is attached") {
		t.Fatalf("Ken's reply to a #2 mail on #1 = %+v", c)
	}

	// Victoria answers her old notification of #2 (a token of the merged
	// ticket, whose comment numbers mean nothing on #1): not held.
	w.reply("Victoria <"+vic+">", n2, "Hi Ken, your certificate will be issued today.")
	if h := lastComment(mustComments(w, 1), model.KindHeld); h != nil {
		t.Fatalf("reply to a notification of the merged ticket held: %s", h.Reason)
	}
	km := w.mails(ken)
	if len(km) != kenBefore+1 {
		t.Fatalf("Ken got %d mails for Victoria's reply, want 1", len(km)-kenBefore)
	}
	wantText(t, "Victoria's reply via #2", km[len(km)-1], "issued today")

	// Victoria answers her notification of Ken's first mail on #1: the
	// history moved in by the merge and the merge notice came after it,
	// but Ken's reply and her own are all that was said meanwhile.
	w.reply("Victoria <"+vic+">", n1, "Ken, the certificate is attached now.")
	if h := lastComment(mustComments(w, 1), model.KindHeld); h != nil {
		t.Fatalf("moved history or the merge notice counted as a collision: %s", h.Reason)
	}
	wantText(t, "Victoria's reply via #1", w.last(ken), "attached now")

	// The guard still holds a real collision: Bob replies publicly on
	// #1, then Victoria answers the same old notification again.
	w.staff(testkit.Mail{From: "Bob Builder <" + bob + ">", To: []string{"support@example.com"}, Subject: "Intermediate",
		Body: "#ticket 1\n#reply\nKen, I also renewed the intermediate."})
	wantText(t, "Bob's fresh reply", w.last(ken), "renewed the intermediate")
	before := len(w.mails(ken))
	w.reply("Victoria <"+vic+">", n1, "Ken, one more thing about the chain.")
	if len(w.mails(ken)) != before {
		t.Fatal("a reply colliding with Bob's newer public reply reached the customer")
	}
	h := lastComment(mustComments(w, 1), model.KindHeld)
	if h == nil || !strings.Contains(h.Reason, "renewed the intermediate") || strings.Contains(h.Reason, "the order is in") {
		t.Fatalf("collision held record = %+v", h)
	}
}

func mustComments(w *world, id uint64) []*model.Comment {
	_, cs := w.ticket(id)
	return cs
}

// A side-thread message that reaches no collaborator (the address
// bounces) must not forget the thread's last Message-ID: the next mail
// to the collaborator still answers the last one they received.
func TestScenarioSideThreadKeepsLastMessageID(t *testing.T) {
	w := newWorld(t, "")
	const partner = "orders@partner-a.example"
	n1 := w.open("Ken <"+ken+">", "Certificates", "Five wildcard certificates please.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#forward "+partner+"\nPlease quote five wildcard certificates.")
	p1 := w.expectCount(partner, 1)[0]
	w.send(testkit.Mail{From: partner, To: []string{replyTok(t, p1)}, Subject: "Re: " + p1.Header("Subject"), InReplyTo: midOf(p1), Body: "500 EUR."})
	s1 := w.find(vic, "500 EUR")

	// The partner's address starts to bounce; Victoria's answer goes to
	// nobody.
	w.raw("", []string{p1.From}, dsnFor(p1.From, partner, p1))
	w.reply("Victoria <"+vic+">", s1, "Thanks, we order at that price.")
	w.expectCount(partner, 1)
	tk, _ := w.ticket(1)
	if th := tk.Threads[1]; th.LastMessageID != midOf(p1) {
		t.Fatalf("side thread LastMessageID after a message sent to nobody = %q, want %q", th.LastMessageID, midOf(p1))
	}

	// The partner writes again (no longer bouncing); Victoria's answer
	// is In-Reply-To the last mail the partner got from us.
	w.send(testkit.Mail{From: partner, To: []string{replyTok(t, p1)}, Subject: "Re: " + p1.Header("Subject"), InReplyTo: midOf(p1), Body: "Any news on the order?"})
	s2 := w.find(vic, "Any news")
	w.reply("Victoria <"+vic+">", s2, "Yes: order CERT-9 is placed.")
	p2 := w.expectCount(partner, 2)[1]
	wantText(t, "second mail to the partner", p2, "CERT-9")
	if got := strings.Trim(p2.Header("In-Reply-To"), "<> "); got != midOf(p1) {
		t.Errorf("second mail to the partner In-Reply-To %q, want %q", got, midOf(p1))
	}
	if tk, _ := w.ticket(1); tk.Threads[1].LastMessageID != midOf(p2) {
		t.Errorf("side thread LastMessageID = %q, want %q", tk.Threads[1].LastMessageID, midOf(p2))
	}
}

// The leak check still knows a private note after a merge moved it into
// the survivor (its stored text then starts with "[from #N] ").
func TestScenarioLeakGuardAfterMerge(t *testing.T) {
	w := newWorld(t, "")
	const secret = "Ken still owes us 500 EUR from the March invoice"
	n1 := w.open("Ken <"+ken+">", "Certificate order", "We need a certificate.", vic)
	n2 := w.open("Ken <"+ken+">", "Certificate order again", "Did you get my order?", vic)
	w.reply("Victoria <"+vic+">", n2, "#note\n"+secret)
	w.reply("Victoria <"+vic+">", n2, "#merge 1\n")
	if tk2, _ := w.ticket(2); tk2.MergedInto != 1 {
		t.Fatalf("#2 not merged into #1")
	}
	kenBefore := len(w.mails(ken))
	w.reply("Victoria <"+vic+">", n1, "Hi Ken, "+secret+", please pay first.")
	if len(w.mails(ken)) != kenBefore {
		t.Fatal("a reply quoting a moved private note reached the customer")
	}
	h := lastComment(mustComments(w, 1), model.KindHeld)
	if h == nil || !strings.Contains(h.Reason, "private note") {
		t.Fatalf("no held record for the leak: %+v", h)
	}
}

// A note moved by two merges carries two "[from #N] " prefixes: the leak
// check still compares it by its own text.
func TestScenarioLeakGuardAfterTwoMerges(t *testing.T) {
	w := newWorld(t, "")
	const secret = "Ken still owes us 500 EUR from the March invoice"
	n1 := w.open("Ken <"+ken+">", "Certificate order", "We need a certificate.", vic)
	n2 := w.open("Ken <"+ken+">", "Certificate order again", "Did you get my order?", vic)
	n3 := w.open("Ken <"+ken+">", "Certificate order, third time", "Hello?", vic)
	w.reply("Victoria <"+vic+">", n3, "#note\n"+secret)
	w.reply("Victoria <"+vic+">", n3, "#merge 2\n")
	w.reply("Victoria <"+vic+">", n2, "#merge 1\n")
	if tk3, _ := w.ticket(3); tk3.MergedInto != 2 {
		t.Fatalf("#3 not merged into #2")
	}
	if tk2, _ := w.ticket(2); tk2.MergedInto != 1 {
		t.Fatalf("#2 not merged into #1")
	}
	moved := false
	for _, c := range mustComments(w, 1) {
		moved = moved || strings.Count(c.Text, "[from #") == 2 && strings.Contains(c.Text, secret)
	}
	if !moved {
		t.Fatal("the note did not reach #1 through two merges")
	}
	kenBefore := len(w.mails(ken))
	w.reply("Victoria <"+vic+">", n1, "Hi Ken, "+secret+", please pay first.")
	if len(w.mails(ken)) != kenBefore {
		t.Fatal("a reply quoting a twice-moved private note reached the customer")
	}
	if h := lastComment(mustComments(w, 1), model.KindHeld); h == nil || !strings.Contains(h.Reason, "private note") {
		t.Fatalf("no held record for the leak: %+v", h)
	}
}
