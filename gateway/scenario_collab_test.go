package gateway_test

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

const (
	ken     = "ken@e-fun.example"
	vic     = "victoria@certs.example"
	bob     = "bob@certs.example"
	venkat  = "venkat@certs.example"
	finance = "finance@certs.example"
	vendor  = "vendor@service.example"
)

// Issue 5, SPEC 6 acceptance scenario: Ken, Victoria, Venkat (follower,
// light agent), a side thread with finance, a public reply with a CC, and
// an internal note. Then exactly who received what.
func TestScenarioAcceptanceCollaboration(t *testing.T) {
	w := newWorld(t, "")
	const (
		request   = "Please issue a new SSL certificate for www.e-fun.example, our old one expires on Friday."
		sideText  = "Hello finance, please confirm the budget for one wildcard certificate order, reference CERT-7781."
		fundsText = "funds OK"
		replyText = "Hi Ken, your certificate is ready: https://certs.example/orders/CERT-7781\n\nBest regards,\nVictoria"
		noteText  = "good job"
	)

	// 1. Ken writes to support.
	w.send(testkit.Mail{From: "Ken Adams <" + ken + ">", To: []string{"support@example.com"},
		Subject: "New SSL certificate", Body: request})
	w.expectCount(ken, 1)
	vn := w.expectCount(vic, 1)
	if len(vn) != 1 {
		t.FailNow()
	}

	// 2. Victoria takes it and makes Venkat a follower (commands only).
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, vn[0])}, Subject: "Re: " + vn[0].Header("Subject"),
		Body: "#assign me\n#follower +venkat\n"})
	tk, _ := w.ticket(1)
	if tk.Assignee != vic || len(tk.Followers) != 1 || tk.Followers[0] != venkat {
		t.Fatalf("assign/follower not applied: assignee %q followers %v", tk.Assignee, tk.Followers)
	}

	// 3. A side thread with finance, no ticket history.
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, vn[0])}, Subject: "Re: " + vn[0].Header("Subject"),
		Body: "#forward " + finance + "\n#include none\n" + sideText + "\n\nVictoria"})
	fm := w.expectCount(finance, 1)
	if len(fm) != 1 {
		t.FailNow()
	}
	toFinance := fm[0]
	wantText(t, "side-thread mail to finance", toFinance, sideText)

	// 4. Finance answers to the Reply-To of the mail it received.
	fin := w.signer.Sign(t, testkit.Mail{From: "Finance <" + finance + ">", To: []string{replyTok(t, toFinance)},
		Subject: "Re: " + toFinance.Header("Subject"), InReplyTo: midOf(toFinance), MessageID: w.id("fin"),
		Body: fundsText + "\n\nOn Tue, Victoria wrote:\n> " + sideText}.Build())
	w.raw(finance, []string{replyTok(t, toFinance)}, fin)
	vn = w.expectCount(vic, 2)
	sideNote := vn[len(vn)-1]
	wantText(t, "side-thread notification to Victoria", sideNote, fundsText)

	// 5. Victoria marks the side thread done.
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, sideNote)}, Subject: "Re: " + sideNote.Header("Subject"),
		Body: "#done\n"})
	tk, _ = w.ticket(1)
	if len(tk.Threads) != 2 || tk.Threads[1].Status != "done" {
		t.Fatalf("side thread not done: %+v", tk.Threads)
	}

	// 6. Her public reply to Ken, adding vendor@service as CC, answers the
	// notification of Ken's request (a public comment).
	w.staff(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, vn[0])}, Subject: "Re: " + vn[0].Header("Subject"),
		Body: "#cc +" + vendor + "\n" + replyText})

	// 7. Venkat replies to the notification of that public reply: a light
	// agent's mail is always a private note.
	vk := w.expectCount(venkat, 3)
	if len(vk) != 3 {
		t.FailNow()
	}
	w.staff(testkit.Mail{From: "Venkat <" + venkat + ">", To: []string{replyTok(t, vk[2])}, Subject: "Re: " + vk[2].Header("Subject"),
		Body: noteText + "\n\nVenkat"})
	w.settle()

	tk, cs := w.ticket(1)
	if n := lastComment(cs, model.KindComment); n == nil || n.Author != venkat || n.Visibility != model.Private {
		t.Fatalf("Venkat's mail is not a private note: %+v", n)
	}
	if !inList(tk.CCs, vendor) {
		t.Errorf("vendor not CC'd: %v", tk.CCs)
	}

	w.dump()
	// --- exactly who received what ---

	// Ken: acknowledgement and Victoria's reply; vendor CC'd.
	km := w.expectCount(ken, 2)
	// vendor: Victoria's reply only.
	vm := w.expectCount(vendor, 1)
	// finance: only what Victoria wrote to it.
	w.expectCount(finance, 1)
	// Venkat: the side thread (both messages) and the public reply.
	vk = w.expectCount(venkat, 3)
	// Victoria: Ken's request, finance's answer, Venkat's note.
	vn = w.expectCount(vic, 3)
	// Bob: only the new-ticket notification while the ticket was unassigned.
	w.expectCount(bob, 1)
	if len(km) != 2 || len(vm) != 1 || len(vk) != 3 || len(vn) != 3 {
		t.FailNow()
	}

	secrets := []string{"venkat", vic, bob, finance, sideText, fundsText, noteText, "side thread", "follower"}
	for _, m := range km {
		noneOf(t, "Ken", m, secrets...)
	}
	noneOf(t, "vendor", vm[0], secrets...)
	noneOf(t, "vendor", vm[0], request) // the vendor did not get Ken's mail
	if km[0].Header("Auto-Submitted") != "auto-replied" || !strings.Contains(km[0].Header("Subject"), "[#1]") {
		t.Errorf("Ken's first mail is not the acknowledgement: %q %q", km[0].Header("Subject"), km[0].Header("Auto-Submitted"))
	}
	for i, m := range []*testkit.Received{km[1], vm[0]} {
		wantText(t, "public reply", m, "https://certs.example/orders/CERT-7781")
		if !strings.Contains(m.Header("Cc"), vendor) || !strings.Contains(m.Header("To"), ken) {
			t.Errorf("public reply %d: To %q Cc %q, want Ken in To and vendor in Cc", i, m.Header("To"), m.Header("Cc"))
		}
		from := m.Header("From")
		if !strings.Contains(from, "Victoria") || !strings.Contains(from, "<support@example.com>") {
			t.Errorf("public reply From = %q", from)
		}
		if strings.Contains(m.Env.Text, "#cc") {
			t.Errorf("command line reached an end user: %q", m.Env.Text)
		}
	}

	// finance never sees Ken's request, subject or address, nor anyone
	// else of the ticket.
	noneOf(t, "finance", toFinance, ken, "e-fun", "Ken", "New SSL certificate", request, "venkat", vendor, bob, vic)
	if s := toFinance.Header("Subject"); s != "[#1] Side conversation" {
		t.Errorf("side-thread subject = %q", s)
	}
	if r := toFinance.Header("References") + toFinance.Header("In-Reply-To"); r != "" {
		t.Errorf("side-thread mail carries ticket references %q", r)
	}
	if !strings.Contains(toFinance.Header("From"), "support+") {
		t.Errorf("side-thread From is not the thread address: %q", toFinance.Header("From"))
	}

	// Venkat: every update, including the side thread.
	wantText(t, "Venkat #1", vk[0], sideText)
	wantText(t, "Venkat #2", vk[1], fundsText)
	wantText(t, "Venkat #3", vk[2], "https://certs.example/orders/CERT-7781")
	// Footers say how a plain reply is treated, for this recipient: a
	// light agent's reply is private even to a public comment.
	if !strings.Contains(vk[2].Env.Text, "PRIVATE") || strings.Contains(vk[2].Env.Text, "PUBLIC") {
		t.Errorf("light agent's footer on a public comment:\n%s", vk[2].Env.Text)
	}
	if !strings.Contains(vn[0].Env.Text, "A plain reply to this mail is PUBLIC") || !strings.Contains(vn[2].Env.Text, "A plain reply to this mail is PRIVATE") {
		t.Errorf("agent footers: public %q / private %q", vn[0].Env.Text, vn[2].Env.Text)
	}
	if n := sigLines(vn[0].Env.Text); n != 1 {
		t.Errorf("notification has %d signature separators:\n%s", n, vn[0].Env.Text)
	}
	// Victoria: everything, including Venkat's note.
	wantText(t, "Victoria #1", vn[0], request)
	wantText(t, "Victoria #2", vn[1], fundsText)
	wantText(t, "Victoria #3", vn[2], noteText)
	if !strings.Contains(vn[2].Env.Text, "private note") {
		t.Errorf("Venkat's note notification does not say it is private:\n%s", vn[2].Env.Text)
	}
	// Staff notifications come from the mailbox, never from a staff address.
	for _, m := range append(append([]*testkit.Received{}, vk...), vn...) {
		if !strings.Contains(m.Header("From"), "support@example.com") {
			t.Errorf("staff notification From = %q", m.Header("From"))
		}
	}
}

func inList(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// sigLines counts signature separator lines ("-- ").
func sigLines(text string) int {
	n := 0
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if l == "-- " {
			n++
		}
	}
	return n
}
