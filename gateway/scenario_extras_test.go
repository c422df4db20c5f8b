package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

// Issue 5 extras: merge, parent/child, parallel side threads, a reply
// after #done, reply-all from a CC, and the leak guard.

// open has an end user open a ticket and returns the notification the
// given agent received for it.
func (w *world) open(from, subject, body, agent string) *testkit.Received {
	w.t.Helper()
	before := len(w.mails(agent))
	w.send(testkit.Mail{From: from, To: []string{"support@example.com"}, Subject: subject, Body: body})
	ms := w.mails(agent)
	if len(ms) != before+1 {
		w.t.Fatalf("%s got %d notifications for %q, want 1", agent, len(ms)-before, subject)
	}
	return ms[len(ms)-1]
}

// reply is a staff member's reply to a notification or transcript.
func (w *world) reply(from string, to *testkit.Received, body string) string {
	w.t.Helper()
	return w.staff(testkit.Mail{From: from, To: []string{replyTok(w.t, to)}, Subject: "Re: " + to.Header("Subject"),
		InReplyTo: midOf(to), Body: body})
}

func TestScenarioMerge(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Certificate order", "We need a certificate for www.", vic)
	w.open("Ann <ann@e-fun.example>", "Certificate for mail server", "And one for mail, please.", vic)
	annAck := w.expectCount("ann@e-fun.example", 1)[0]
	kenAck := w.expectCount(ken, 1)[0]
	w.reply("Victoria <"+vic+">", n1, "#assign me\n")
	n2 := w.mails(vic)[1]

	// Different requesters: refused without cc, with a transcript.
	w.reply("Victoria <"+vic+">", n2, "#merge 1\n")
	tr := w.last(vic)
	if !strings.HasPrefix(tr.Header("Subject"), "Commands not applied") || !strings.Contains(tr.Env.Text, "#merge 1 cc") {
		t.Fatalf("merge without cc not refused with a transcript: %q\n%s", tr.Header("Subject"), tr.Env.Text)
	}
	if tk2, _ := w.ticket(2); tk2.MergedInto != 0 {
		t.Fatalf("refused merge applied")
	}

	w.reply("Victoria <"+vic+">", n2, "#merge 1 cc\n")
	tk1, cs1 := w.ticket(1)
	tk2, _ := w.ticket(2)
	if tk2.MergedInto != 1 || tk2.Status != model.StatusClosed || !hasLink(tk2, model.LinkMergedInto, 1) || !hasLink(tk1, model.LinkMergedFrom, 2) {
		t.Fatalf("merge: #2 merged into %d status %s links %v; #1 links %v", tk2.MergedInto, tk2.Status, tk2.Links, tk1.Links)
	}
	if !inList(tk1.CCs, "ann@e-fun.example") {
		t.Fatalf("Ann is not a CC of #1: %v", tk1.CCs)
	}
	moved := false
	for _, c := range cs1 {
		if c.Kind == model.KindComment && strings.Contains(c.Text, "And one for mail, please.") {
			moved = true
		}
	}
	if !moved {
		t.Errorf("#2's comments did not move into #1")
	}
	// Both requesters are told.
	for _, who := range []string{ken, "ann@e-fun.example"} {
		m := w.expectCount(who, 2)[1]
		wantText(t, "merge notice to "+who, m, "was merged into [#1]")
		noneOf(t, who, m, vic, "venkat")
	}

	// Ann answers her old acknowledgement (ticket #2's token): it lands in #1.
	w.send(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{replyTok(t, annAck)}, Subject: "Re: " + annAck.Header("Subject"),
		Body: "The mail server is mail.e-fun.example."})
	// Ken answers his old ack by In-Reply-To only.
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Subject: "Re: " + kenAck.Header("Subject"),
		InReplyTo: midOf(kenAck), Body: "Any update on this?"})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("replies opened new tickets: %d tickets", n)
	}
	_, cs1 = w.ticket(1)
	var got []string
	for _, c := range cs1[len(cs1)-2:] {
		got = append(got, c.Author+": "+c.Text)
	}
	if want := []string{"ann@e-fun.example: The mail server is mail.e-fun.example.", ken + ": Any update on this?"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("last comments of #1 = %q, want %q", got, want)
	}
	_, cs2 := w.ticket(2)
	if c := cs2[len(cs2)-1]; c.Kind == model.KindComment && c.Author != vic {
		t.Errorf("a reply landed on the merged ticket: %+v", c)
	}
	// Ken received Ann's comment (a CC's comment goes to the requester).
	wantText(t, "Ann's comment to Ken", w.expectCount(ken, 3)[2], "The mail server is mail.e-fun.example.")
}

func TestScenarioParentChild(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Certificates for three hosts", "www, mail and vpn.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n")
	kenBefore := len(w.mails(ken))

	// #child opens a child ticket: same requester, no acknowledgement,
	// no public mail.
	w.reply("Victoria <"+vic+">", n1, "#child Certificate for vpn.e-fun.example\nThe vpn host needs an EV certificate.")
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("%d tickets after #child", n)
	}
	ch, chc := w.ticket(2)
	if ch.Requester != ken || ch.Subject != "Certificate for vpn.e-fun.example" {
		t.Errorf("child = requester %q subject %q", ch.Requester, ch.Subject)
	}
	if c := lastComment(chc, model.KindComment); c == nil || c.Visibility != model.Private || !strings.Contains(c.Text, "EV certificate") {
		t.Errorf("child's first comment = %+v", c)
	}
	if len(w.mails(ken)) != kenBefore {
		t.Errorf("the requester was mailed about the child ticket")
	}
	pv, cv := w.view(1), w.view(2)
	if !viewLink(pv.Links, model.LinkChild, 2) || !viewLink(cv.Links, model.LinkParent, 1) {
		t.Errorf("links: parent %v child %v", pv.Links, cv.Links)
	}

	// #parent links an existing ticket as a child.
	n3 := w.open("Ken <"+ken+">", "And the mail server", "mail.e-fun.example too", vic)
	w.reply("Victoria <"+vic+">", n3, "#parent 1\n")
	if !viewLink(w.view(1).Links, model.LinkChild, 3) || !viewLink(w.view(3).Links, model.LinkParent, 1) {
		t.Errorf("#parent links: %v / %v", w.view(1).Links, w.view(3).Links)
	}

	// The parent cannot be resolved while a child is open.
	w.reply("Victoria <"+vic+">", n1, "#status resolved\n")
	tr := w.last(vic)
	if tk, _ := w.ticket(1); tk.Status == model.StatusResolved {
		t.Fatalf("parent resolved with open children")
	}
	if !strings.Contains(tr.Env.Text, "> #status resolved") || !strings.Contains(tr.Env.Text, "#2") || tr.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("transcript for the refused resolve:\n%s", tr.Env.Text)
	}
	// Resolve both children with fresh mails (#ticket N), then the parent.
	for _, n := range []int{2, 3} {
		w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "children",
			Body: fmt.Sprintf("#ticket %d\n#status resolved\n", n)})
	}
	w.reply("Victoria <"+vic+">", n1, "#status resolved\n")
	for _, n := range []uint64{1, 2, 3} {
		if tk, _ := w.ticket(n); tk.Status != model.StatusResolved {
			t.Errorf("#%d status %s, want resolved", n, tk.Status)
		}
	}
}

func viewLink(ls []model.Link, kind string, to uint64) bool {
	for _, l := range ls {
		if l.Kind == kind && l.Ticket == to {
			return true
		}
	}
	return false
}

func TestScenarioParallelSideThreads(t *testing.T) {
	w := newWorld(t, "")
	const (
		pa    = "orders@partner-a.example"
		pb    = "billing@partner-b.example"
		toA   = "Partner A: please quote 5 wildcard certificates, item alpha-11."
		toB   = "Partner B: please check invoice beta-22 for the e-fun account."
		fromA = "Quote for alpha-11 is 500 EUR, valid until March."
		fromB = "Invoice beta-22 was paid on the 3rd."
	)
	n1 := w.open("Ken <"+ken+">", "Certificates", "Five wildcard certificates please.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#follower +venkat\n")
	w.reply("Victoria <"+vic+">", n1, "#forward "+pa+"\n"+toA)
	w.reply("Victoria <"+vic+">", n1, "#forward "+pb+"\n"+toB)
	ma, mb := w.expectCount(pa, 1)[0], w.expectCount(pb, 1)[0]
	noneOf(t, "partner A", ma, toB, pb, ken, "venkat")
	noneOf(t, "partner B", mb, toA, pa, ken, "venkat")

	// Each partner answers its own thread.
	w.send(testkit.Mail{From: pa, To: []string{replyTok(t, ma)}, Subject: "Re: " + ma.Header("Subject"), InReplyTo: midOf(ma), Body: fromA})
	w.send(testkit.Mail{From: pb, To: []string{replyTok(t, mb)}, Subject: "Re: " + mb.Header("Subject"), InReplyTo: midOf(mb), Body: fromB})
	tk, cs := w.ticket(1)
	if len(tk.Threads) != 3 {
		t.Fatalf("threads = %+v", tk.Threads)
	}
	for _, c := range cs {
		switch c.Text {
		case fromA:
			if c.Thread != 1 || c.Visibility != model.Private {
				t.Errorf("A's reply on thread %d (%s)", c.Thread, c.Visibility)
			}
		case fromB:
			if c.Thread != 2 || c.Visibility != model.Private {
				t.Errorf("B's reply on thread %d (%s)", c.Thread, c.Visibility)
			}
		}
	}
	vm := w.expectCount(vic, 3)
	sideA := vm[1]
	wantText(t, "A's reply to Victoria", sideA, fromA)
	wantText(t, "B's reply to Victoria", vm[2], fromB)
	vk := w.expectCount(venkat, 4) // two starts, two answers
	_ = vk

	// Victoria answers A: only A gets it.
	w.reply("Victoria <"+vic+">", sideA, "Thanks, please go ahead with alpha-11.")
	am := w.expectCount(pa, 2)
	w.expectCount(pb, 1)
	noneOf(t, "partner A", am[1], toB, fromB, pb, ken, "venkat", "Five wildcard")
	if am[1].Header("In-Reply-To") == "" {
		t.Errorf("the side-thread answer does not thread for the partner")
	}

	// A reply to thread A that contains thread B's text is held.
	w.reply("Victoria <"+vic+">", sideA, "FYI the other partner said: "+fromB)
	w.expectCount(pa, 2)
	held := w.last(vic)
	if !strings.HasPrefix(held.Header("Subject"), "Held:") || !strings.Contains(held.Env.Text, "side thread 2") {
		t.Errorf("leak across side threads not held: %q\n%s", held.Header("Subject"), held.Env.Text)
	}

	// #note in a reply to a side-thread notification is a private note
	// on the main thread (SPEC 3.4): staff only, not the partner.
	before := len(w.mails(venkat))
	w.reply("Victoria <"+vic+">", sideA, "#note\nInternal: partner A is usually slow, chase them on Monday.")
	w.expectCount(pa, 2)
	if len(w.mails(venkat)) != before+1 {
		t.Errorf("the internal side-thread note did not reach the follower")
	}
	_, cs = w.ticket(1)
	if c := lastComment(cs, model.KindComment); c == nil || !strings.Contains(c.Text, "partner A is usually slow") || c.Visibility != model.Private || c.Thread != 0 {
		t.Errorf("#note in a side thread: %+v", c)
	}

	// Done, then A writes again: it attaches and reopens thread A.
	w.reply("Victoria <"+vic+">", sideA, "#done\n")
	if tk, _ := w.ticket(1); tk.Threads[1].Status != "done" || tk.Threads[2].Status == "done" {
		t.Fatalf("thread states after #done: %+v", tk.Threads)
	}
	last := w.last(pa)
	w.send(testkit.Mail{From: pa, To: []string{replyTok(t, last)}, Subject: "Re: " + last.Header("Subject"), InReplyTo: midOf(last),
		Body: "Ordered; the certificates arrive tomorrow."})
	tk, cs = w.ticket(1)
	if tk.Threads[1].Status != "open" {
		t.Errorf("a collaborator reply after #done did not reopen the thread: %+v", tk.Threads[1])
	}
	if c := lastComment(cs, model.KindComment); c.Thread != 1 || c.Author != pa {
		t.Errorf("late reply = %+v", c)
	}
	wantText(t, "late reply to Victoria", w.last(vic), "the certificates arrive tomorrow")
	w.expectCount(pb, 1)
	// The requester never saw any of it.
	for _, m := range w.mails(ken) {
		noneOf(t, "Ken", m, pa, pb, toA, toB, fromA, fromB, "alpha-11", "beta-22")
	}
	// The light agent's footer on side-thread notifications does not
	// promise that his reply reaches the collaborators.
	vk = w.mails(venkat)
	if strings.Contains(vk[0].Env.Text, "A plain reply goes to the side thread's collaborators") {
		t.Errorf("light agent told his reply goes to collaborators:\n%s", vk[0].Env.Text)
	}
}

func TestScenarioReplyAllNoDuplicates(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("Ken <"+ken+">", "Renewal", "Please renew.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#cc +"+vendor+"\nHi Ken, I added your host as CC.")
	km, vm := w.expectCount(ken, 2), w.expectCount(vendor, 1)
	if len(km) != 2 || len(vm) != 1 {
		t.FailNow()
	}
	// The vendor answers all: our token in To, Ken in Cc.
	w.send(testkit.Mail{From: "Vendor <" + vendor + ">", To: []string{replyTok(t, vm[0])}, Cc: []string{"Ken <" + ken + ">"},
		Subject: "Re: " + vm[0].Header("Subject"), InReplyTo: midOf(vm[0]), Body: "The new key is installed on our side."})
	w.expectCount(ken, 2)    // Ken got the vendor's mail directly
	w.expectCount(vendor, 1) // the author is not mailed their own comment
	wantText(t, "vendor's comment to Victoria", w.last(vic), "The new key is installed")
	tk, cs := w.ticket(1)
	if tk.Requester != ken {
		t.Errorf("the CC's reply took over the requester: %s", tk.Requester)
	}
	if c := lastComment(cs, model.KindComment); c.Author != vendor || c.Visibility != model.Public {
		t.Errorf("vendor comment = %+v", c)
	}
	// Ken answers all: the vendor is in Cc and gets no second copy.
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, km[1])}, Cc: []string{vendor},
		Subject: "Re: " + km[1].Header("Subject"), Body: "Great, it works now."})
	w.expectCount(vendor, 1)
	w.expectCount(ken, 2)
	wantText(t, "Ken's comment to Victoria", w.last(vic), "Great, it works now.")
	// Ken answers only us: the vendor gets it from the helpdesk.
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, km[1])}, Subject: "Re: " + km[1].Header("Subject"),
		Body: "One more detail: the chain file was missing."})
	vm = w.expectCount(vendor, 2)
	if len(vm) == 2 {
		wantText(t, "Ken's comment to the vendor", vm[1], "the chain file was missing")
		noneOf(t, "vendor", vm[1], vic, "venkat")
	}
}

func TestScenarioLeakGuard(t *testing.T) {
	w := newWorld(t, "")
	const secret = "The customer account is flagged for a chargeback investigation"
	n1 := w.open("Ken <"+ken+">", "Refund", "I want my money back.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#follower +venkat\n")
	w.reply("Venkat <"+venkat+">", n1, secret+".")
	note := w.last(vic)
	if !strings.Contains(note.Env.Text, secret) || !strings.Contains(note.Env.Text, "PRIVATE") {
		t.Fatalf("note notification:\n%s", note.Env.Text)
	}
	kenBefore := len(w.mails(ken))

	// A public reply (#reply on the note's notification) that pastes the
	// note is held; the author gets a transcript.
	w.reply("Victoria <"+vic+">", note, "#reply\nHi Ken, about your refund: "+secret+". We will come back to you.")
	if len(w.mails(ken)) != kenBefore {
		t.Fatalf("a reply containing a private note reached the requester")
	}
	held := w.last(vic)
	if !strings.HasPrefix(held.Header("Subject"), "Held:") || !strings.Contains(held.Env.Text, "private note") ||
		held.Header("Auto-Submitted") != "auto-replied" {
		t.Fatalf("held transcript: %q\n%s", held.Header("Subject"), held.Env.Text)
	}
	_, cs := w.ticket(1)
	if c := lastComment(cs, model.KindHeld); c == nil || !c.Hidden {
		t.Fatalf("no hidden held record: %+v", c)
	}

	// A reply that has the note only below the reply marker (a client
	// that does not quote) is not held, and the note does not go out.
	w.reply("Victoria <"+vic+">", note, "#reply\nHi Ken, we are checking your refund.\n\n"+note.Env.Text)
	km := w.mails(ken)
	if len(km) != kenBefore+1 {
		t.Fatalf("the reply above the marker was not sent (%d mails)", len(km)-kenBefore)
	}
	wantText(t, "reply to Ken", km[len(km)-1], "we are checking your refund")
	noneOf(t, "Ken", km[len(km)-1], secret, "venkat", "Reply above this line")

	// #send in reply to the transcript releases the held reply.
	w.reply("Victoria <"+vic+">", held, "#send\n")
	km = w.mails(ken)
	if len(km) != kenBefore+2 {
		t.Fatalf("#send did not release the held reply (%d mails)", len(km)-kenBefore)
	}
	wantText(t, "released reply", km[len(km)-1], "We will come back to you.")
	_, cs = w.ticket(1)
	for _, c := range cs {
		if c.Kind == model.KindHeld && !c.Released {
			t.Errorf("held comment %d still held", c.ID)
		}
	}
}
