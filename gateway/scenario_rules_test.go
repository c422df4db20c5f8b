package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

// SPEC rules that had no test of their own, each end to end: the real
// daemon over SMTP, outbound mail caught by the sink.

// newWorldConfig is newWorld with a config of the test's own (no
// default staff).
func newWorldConfig(t *testing.T, config string) *world {
	t.Helper()
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: config})
	return &world{t: t, sink: sink, d: d, signer: d.DKIM(t, "certs.example")}
}

func (w *world) user(addr string) *model.User {
	w.t.Helper()
	var u *model.User
	w.d.DB.View(func(tx store.Tx) error { u, _ = tx.User(addr); return nil })
	return u
}

func (w *world) quarantined() []*model.Quarantine {
	w.t.Helper()
	var qs []*model.Quarantine
	w.d.DB.View(func(tx store.Tx) error { qs, _ = tx.Quarantined(0); return nil })
	return qs
}

func hasEvent(cs []*model.Comment, sub string) bool {
	for _, c := range cs {
		if c.Kind == model.KindEvent && strings.Contains(c.Text, sub) {
			return true
		}
	}
	return false
}

// SPEC 3.7: more than 10 comments an hour from one address on one ticket
// stop automatic fan-out for that address and flag the ticket; other
// addresses on the ticket are not affected.
func TestRuleFanoutLoopGuard(t *testing.T) {
	w := newWorld(t, "")
	const ann = "ann@e-fun.example"
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Cc: []string{"Ann <" + ann + ">"},
		Subject: "Printer", Body: "The printer is broken."})
	ack := w.expectCount(ken, 1)[0]
	if tk, _ := w.ticket(1); !inList(tk.CCs, ann) {
		t.Fatalf("Ann not a CC: %v", tk.CCs)
	}
	// Ken's first mail and 9 replies: 10 comments, each mailed out.
	for i := 1; i <= 9; i++ {
		w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, ack)}, Subject: "Re: " + ack.Header("Subject"),
			Body: fmt.Sprintf("Still broken (%d).", i)})
	}
	if n := len(w.mails(vic)); n != 10 {
		t.Fatalf("Victoria got %d notifications for 10 comments", n)
	}
	if tk, _ := w.ticket(1); slices.Contains(tk.Flags, "fanout-limited") {
		t.Fatalf("flagged after 10 comments: %v", tk.Flags)
	}
	annBefore := len(w.mails(ann))
	// The 11th and 12th comments are stored but mailed to nobody.
	for i := 10; i <= 11; i++ {
		w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{replyTok(t, ack)}, Subject: "Re: " + ack.Header("Subject"),
			Body: fmt.Sprintf("Still broken (%d).", i)})
	}
	tk, cs := w.ticket(1)
	if !slices.Contains(tk.Flags, "fanout-limited") || !hasEvent(cs, "notifications for this address stopped") {
		t.Errorf("ticket not flagged fanout-limited: flags %v", tk.Flags)
	}
	if c := lastComment(cs, model.KindComment); c == nil || c.Text != "Still broken (11)." {
		t.Errorf("the limited comment was not stored: %+v", c)
	}
	if n := len(w.mails(vic)); n != 10 {
		t.Errorf("Victoria got %d notifications, want 10 (fan-out stopped)", n)
	}
	if n := len(w.mails(ann)); n != annBefore {
		t.Errorf("the CC got %d more mails after the limit", n-annBefore)
	}
	// Another address on the same ticket still reaches staff.
	w.send(testkit.Mail{From: "Ann <" + ann + ">", To: []string{replyTok(t, w.last(ann))}, Subject: "Re: [#1] Printer", Body: "It is the paper tray."})
	if n := len(w.mails(vic)); n != 11 {
		t.Errorf("the CC's comment was not fanned out: Victoria has %d notifications, want 11", n)
	}
}

// SPEC 3.1: mail an upstream marked as spam gets no automatic answer; it
// still opens a ticket staff see.
func TestRuleSpamFlagNoAutoAnswer(t *testing.T) {
	w := newWorld(t, "")
	for i, h := range []string{"X-Spam-Flag: YES", "X-Spam-Status: Yes, score=7.3 required=5.0"} {
		from := fmt.Sprintf("user%d@e-fun.example", i)
		w.send(testkit.Mail{From: from, To: []string{"support@example.com"}, Subject: fmt.Sprintf("Offer %d", i),
			Body: "Cheap certificates for you.", Headers: []string{h}})
		if n := w.d.TicketCount(); n != i+1 {
			t.Fatalf("%q: %d tickets, want %d", h, n, i+1)
		}
		if ms := w.mails(from); len(ms) != 0 {
			t.Errorf("%q: the sender got %d mails (%q)", h, len(ms), ms[0].Header("Subject"))
		}
		if tk, _ := w.ticket(uint64(i + 1)); tk.AckSent {
			t.Errorf("%q: ticket marked acknowledged", h)
		}
	}
	if n := len(w.mails(vic)); n != 2 {
		t.Errorf("Victoria got %d notifications, want 2", n)
	}
	// The same mail without the flag is acknowledged.
	w.send(testkit.Mail{From: "user9@e-fun.example", To: []string{"support@example.com"}, Subject: "Offer 9", Body: "Cheap certificates for you."})
	w.expectCount("user9@e-fun.example", 1)
}

// SPEC 4 #spam: closes the ticket as spam and blocks its sender, whose
// later mail is quarantined as blocked with no effect and no answer;
// "#spam domain" is for admins and blocks the whole domain.
func TestRuleSpamCommand(t *testing.T) {
	w := newWorld(t, `
[[agent]]
email = "ada@certs.example"
name = "Ada Admin"
role = "admin"
groups = ["support"]
`)
	const spammer = "deals@spam.example"
	n1 := w.open("Deals <"+spammer+">", "Cheap watches", "Buy now.", vic)
	w.expectCount(spammer, 1) // the acknowledgement, before anyone knew
	w.reply("Victoria <"+vic+">", n1, "#spam\n")
	tk, cs := w.ticket(1)
	if tk.Status != model.StatusClosed || !inList(tk.Tags, "spam") || !hasEvent(cs, "blocked "+spammer) {
		t.Fatalf("#spam: status %s tags %v", tk.Status, tk.Tags)
	}
	if u := w.user(spammer); u == nil || !u.Blocked {
		t.Fatalf("sender not blocked: %+v", u)
	}
	if n := len(w.mails(spammer)); n != 1 {
		t.Errorf("#spam mailed the spammer (%d mails)", n)
	}

	// Later mail from the blocked sender: quarantined, nothing else.
	all := len(w.sink.All())
	w.send(testkit.Mail{From: spammer, To: []string{"support@example.com"}, Subject: "Cheap watches again", Body: "Buy now!"})
	ack := w.mails(spammer)[0]
	w.send(testkit.Mail{From: spammer, To: []string{replyTok(t, ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "Last chance."})
	qs := w.quarantined()
	if len(qs) != 2 || qs[0].Reason != model.QBlocked || qs[1].Reason != model.QBlocked {
		t.Fatalf("quarantine = %+v", qs)
	}
	if n := w.d.TicketCount(); n != 1 {
		t.Errorf("a blocked sender's mail opened a ticket (%d tickets)", n)
	}
	if _, cs2 := w.ticket(1); len(cs2) != len(cs) {
		t.Errorf("a blocked sender's reply changed the spam ticket")
	}
	if extra := w.sink.All()[all:]; len(extra) != 0 {
		t.Errorf("a blocked sender's mail caused %d outbound mails", len(extra))
	}
	// The rest of the domain is not blocked by #spam.
	w.send(testkit.Mail{From: "other@spam.example", To: []string{"support@example.com"}, Subject: "Hello", Body: "A real question."})
	if n := w.d.TicketCount(); n != 2 {
		t.Fatalf("mail from the spammer's domain: %d tickets, want 2", n)
	}

	// "#spam domain": refused for an agent, with a transcript...
	n3 := w.open("Promo <promo@spam.example>", "Watches", "Buy!", vic)
	w.reply("Victoria <"+vic+">", n3, "#spam domain\n")
	tr := w.last(vic)
	if !strings.HasPrefix(tr.Header("Subject"), "Commands not applied") || !strings.Contains(tr.Env.Text, "#spam domain is for admins") {
		t.Fatalf("#spam domain by an agent: %q\n%s", tr.Header("Subject"), tr.Env.Text)
	}
	if tk3, _ := w.ticket(3); tk3.Status == model.StatusClosed {
		t.Fatal("#spam domain by an agent was applied")
	}
	if u := w.user("@spam.example"); u != nil && u.Blocked {
		t.Fatal("domain blocked by an agent")
	}
	// ... applied for an admin: the whole domain is quarantined from then on.
	w.reply("Ada Admin <ada@certs.example>", w.find("ada@certs.example", "Watches"), "#spam domain\n")
	if tk3, _ := w.ticket(3); tk3.Status != model.StatusClosed || !inList(tk3.Tags, "spam") {
		t.Fatalf("#spam domain by an admin: status %s tags %v", tk3.Status, tk3.Tags)
	}
	w.send(testkit.Mail{From: "third@spam.example", To: []string{"support@example.com"}, Subject: "Hi", Body: "Anything."})
	if n := w.d.TicketCount(); n != 3 {
		t.Errorf("mail from a blocked domain opened a ticket (%d tickets)", n)
	}
	if qs := w.quarantined(); len(qs) != 3 || qs[0].Reason != model.QBlocked || !strings.Contains(qs[0].Detail, "domain") { // newest first
		t.Errorf("quarantine after #spam domain = %+v", qs)
	}
}

// SPEC 7: a group with auto_assign assigns new tickets round-robin to its
// available agents (light agents never); #away and #available, sent alone
// in a fresh mail, change that without opening a ticket; with nobody
// available a ticket waits unassigned in the group.
func TestRuleRoundRobinAndAvailability(t *testing.T) {
	const (
		alice = "alice@certs.example"
		carol = "carol@certs.example"
	)
	w := newWorldConfig(t, `
[[group]]
name = "support"
auto_assign = true
[[agent]]
email = "Alice@Certs.example"
name = "Alice"
role = "agent"
groups = ["support"]
[[agent]]
email = "carol@certs.example"
name = "Carol"
role = "agent"
groups = ["support"]
[[agent]]
email = "venkat@certs.example"
name = "Venkat"
role = "light"
groups = ["support"]
`)
	n := 0
	newTicket := func() *model.Ticket {
		t.Helper()
		n++
		w.send(testkit.Mail{From: fmt.Sprintf("c%d@e-fun.example", n), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("Request %d", n), Body: "Please help."})
		tk, _ := w.ticket(uint64(n))
		return tk
	}
	availability := func(who, cmd string) {
		t.Helper()
		before := w.d.TicketCount()
		w.staff(testkit.Mail{From: who, To: []string{"support@example.com"}, Subject: "availability", Body: cmd + "\n"})
		if w.d.TicketCount() != before {
			t.Fatalf("%s by %s opened a ticket", cmd, who)
		}
	}
	want := func(tk *model.Ticket, assignee string) {
		t.Helper()
		if tk.Assignee != assignee || tk.Group != "support" {
			t.Errorf("ticket #%d: assignee %q group %q, want %q", tk.ID, tk.Assignee, tk.Group, assignee)
		}
	}
	want(newTicket(), alice)
	want(newTicket(), carol)
	want(newTicket(), alice)
	// The assignee alone is notified of the new ticket.
	if a, c := len(w.mails(alice)), len(w.mails(carol)); a != 2 || c != 1 {
		t.Errorf("notifications: alice %d carol %d, want 2 and 1", a, c)
	}
	if n := len(w.mails(venkat)); n != 0 {
		t.Errorf("the light agent got %d notifications", n)
	}

	availability(alice, "#away")
	if u := w.user(alice); u == nil || !u.Away {
		t.Fatalf("#away not recorded: %+v", u)
	}
	want(newTicket(), carol)
	want(newTicket(), carol)
	availability(carol, "#away")
	want(newTicket(), "") // nobody available: waits in the group
	availability(alice, "#available")
	want(newTicket(), alice)
	want(newTicket(), alice)
}

// SPEC 3.4: a bare acknowledgement in Korean does not reopen a solved
// ticket; a real question in Korean does.
func TestRuleKoreanAcknowledgement(t *testing.T) {
	w := newWorld(t, "")
	n1 := w.open("김철수 <"+ken+">", "인증서 갱신", "인증서를 갱신해 주세요.", vic)
	w.reply("Victoria <"+vic+">", n1, "#solved\n갱신했습니다.")
	kenMail := w.last(ken)
	wantText(t, "the solution", kenMail, "갱신했습니다")
	if tk, _ := w.ticket(1); tk.Status != model.StatusResolved {
		t.Fatalf("status %s, want resolved", tk.Status)
	}
	for _, body := range []string{"감사합니다", "고맙습니다!\n\n김철수", "감사합니다~"} {
		w.send(testkit.Mail{From: "김철수 <" + ken + ">", To: []string{replyTok(t, kenMail)}, Subject: "Re: " + kenMail.Header("Subject"), Body: body})
		tk, cs := w.ticket(1)
		if tk.Status != model.StatusResolved {
			t.Fatalf("%q reopened the ticket: status %s", body, tk.Status)
		}
		if c := lastComment(cs, model.KindComment); c == nil || c.Author != ken || c.Text != strings.TrimSpace(body) {
			t.Errorf("%q not recorded as a comment: %+v", body, c)
		}
		if !hasEvent(cs, "acknowledgement recorded") {
			t.Errorf("%q: no acknowledgement event", body)
		}
	}
	w.send(testkit.Mail{From: "김철수 <" + ken + ">", To: []string{replyTok(t, kenMail)}, Subject: "Re: " + kenMail.Header("Subject"),
		Body: "감사합니다. 그런데 새 인증서가 아직 작동하지 않습니다."})
	if tk, _ := w.ticket(1); tk.Status != model.StatusOpen {
		t.Errorf("a real question did not reopen the ticket: status %s", tk.Status)
	}
}

// SPEC 5 token check: a reply token proves the mail was a reply to the
// notification of the staff member it was issued to, never to another.
func TestRuleStaffTokenBelongsToItsHolder(t *testing.T) {
	w := newWorld(t, "")
	cfg := *w.d.Engine.Config()
	cfg.Auth.Staff = []string{"token"}
	if err := w.d.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	w.send(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Subject: "Help", Body: "Please help."})
	bobNote := w.expectCount(bob, 1)[0]
	vicNote := w.expectCount(vic, 1)[0]

	// Unsigned mail from Victoria's address to Bob's token: no staff.
	vicBefore := len(w.mails(vic))
	w.send(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, bobNote)}, Subject: "Re: " + bobNote.Header("Subject"),
		Body: "#priority urgent\nHi Ken, done."})
	tk, cs := w.ticket(1)
	if tk.Priority != "normal" {
		t.Errorf("commands ran on another agent's token: priority %s", tk.Priority)
	}
	if c := lastComment(cs, model.KindComment); c.Author == vic {
		t.Errorf("text added on another agent's token: %+v", c)
	}
	if qs := w.quarantined(); len(qs) != 1 || qs[0].Reason != model.QAuth {
		t.Fatalf("quarantine = %+v", qs)
	}
	if ms := w.mails(vic)[vicBefore:]; len(ms) != 1 || !strings.Contains(ms[0].Header("Subject"), "not accepted") {
		t.Errorf("Victoria was not told her mail was not accepted")
	}
	if n := len(w.mails(ken)); n != 1 {
		t.Errorf("Ken got %d mails, want only the acknowledgement", n)
	}

	// The same mail to her own token is hers.
	w.send(testkit.Mail{From: "Victoria <" + vic + ">", To: []string{replyTok(t, vicNote)}, Subject: "Re: " + vicNote.Header("Subject"),
		Body: "#priority urgent\nHi Ken, done."})
	if tk, _ := w.ticket(1); tk.Priority != "urgent" {
		t.Errorf("her own token did not authenticate her: priority %s", tk.Priority)
	}
	wantText(t, "Victoria's reply", w.last(ken), "Hi Ken, done.")
}

// SPEC 5 / RFC 7489 6.6.1: a mail with two From addresses never counts as
// staff, even DKIM-signed by the staff domain and sent to a staff token.
func TestRuleTwoFromNeverStaff(t *testing.T) {
	w := newWorld(t, "")
	cfg := *w.d.Engine.Config()
	cfg.Auth.Staff = []string{"dmarc", "token"}
	if err := w.d.Reload(&cfg); err != nil {
		t.Fatal(err)
	}
	n1 := w.open("Ken <"+ken+">", "Help", "Please help.", vic)
	cases := []testkit.Mail{
		// Two From header fields, staff first.
		{From: "Victoria <" + vic + ">", Headers: []string{"From: Mallory <mallory@e-fun.example>"}},
		// Two From header fields, staff second.
		{From: "Mallory <mallory@e-fun.example>", Headers: []string{"From: Victoria <" + vic + ">"}},
		// One From field with two addresses.
		{From: "Victoria <" + vic + ">, Mallory <mallory@e-fun.example>"},
	}
	queries := w.d.DNS.TotalQueries()
	for i, m := range cases {
		m.To = []string{replyTok(t, n1)}
		m.Subject = "Re: " + n1.Header("Subject")
		m.InReplyTo = midOf(n1)
		m.Body = fmt.Sprintf("#priority urgent\n#status closed\nCase %d.", i)
		w.raw(vic, []string{replyTok(t, n1)}, w.signer.Sign(t, m.Build()))
		tk, cs := w.ticket(1)
		if tk.Priority != "normal" || tk.Status != model.StatusOpen {
			t.Errorf("case %d: commands ran: priority %s status %s", i, tk.Priority, tk.Status)
		}
		for _, c := range cs {
			if c.Author == vic {
				t.Errorf("case %d: a comment by staff: %+v", i, c)
			}
		}
	}
	if q := w.d.DNS.TotalQueries() - queries; q != 0 {
		t.Errorf("%d DNS queries for mail that fails on its From count alone", q)
	}
	// A single From, signed, to her token: staff (the control).
	w.reply("Victoria <"+vic+">", n1, "#priority high\n")
	if tk, _ := w.ticket(1); tk.Priority != "high" {
		t.Errorf("control: priority %s, want high", tk.Priority)
	}
}
