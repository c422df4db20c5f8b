package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("#reply and #note override the notification's default on the main thread: a #reply to a note notification reaches the customer, a #note to a public one does not",
	"TestCommandReplyNoteNotify")
var _ = claim("#notify <agent> with a note mails that agent (who otherwise gets no note); the customer gets nothing",
	"TestCommandReplyNoteNotify")
var _ = claim("#end ends the command block: the lines after it are text, even when they start with #",
	"TestCommandEnd")
var _ = claim("#macro <name> applies the configured commands and text; an unknown macro is refused",
	"TestCommandMacro")
var _ = claim("#available / #away: an away agent gets no automatic assignment, an available one does again",
	"TestCommandAvailableAway")
var _ = claim("#list mine|unassigned|group|open|overdue mails back a list (also to a light agent) and opens no ticket; #help mails back the command card",
	"TestCommandListAndHelp")
var _ = claim("#spam closes the ticket as spam and blocks its sender (later mail is quarantined, unanswered); #spam domain blocks the domain, admins only",
	"TestCommandSpam")
var _ = claim("#send in a reply to a held-mail transcript releases the held reply to the customer; with nothing held it is refused",
	"TestCommandSend")
var _ = claim("a bad command line gets a transcript with a did-you-mean, nothing applied, the mail kept as a hidden rejected record",
	"TestCommandTypoTranscript")
var _ = claim("light agent limits: only #note #notify #follow #unfollow #list #help #end; anything else refused with a transcript; a light agent's mail is always a private note",
	"TestLightAgentLimits")

// #reply / #note on the main thread, and #notify with a note.
func TestCommandReplyNoteNotify(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Key length", "Which key length do you need?", vic)
	e.Reply(vicFr, n1, "#assign me\n")
	// #note on a public notification: private, nobody outside staff.
	e.Reply(vicFr, n1, "#note\nInternal: check the CSR before answering.")
	tk := e.Show(1)
	if c := tkLastComment(tk, "comment"); c == nil || c.Visibility != "private" || !strings.Contains(c.Text, "check the CSR") {
		t.Fatalf("#note stored as %+v", c)
	}
	e.Count(ken, 1)
	e.Count(lena, 0) // not a follower, not notified
	// #notify: Lena gets this note, Ken nothing.
	e.Reply(vicFr, n1, "#note\n#notify lena\nLena, can you look at the key length?")
	ln := e.Find(lena, "can you look at the key length")
	WantText(t, "note to Lena", ln, "PRIVATE")
	e.Count(lena, 1)
	e.Count(ken, 1)
	// #reply on the notification of a private note: public. Venkat is
	// notified of a note and answers it with #reply.
	e.Reply(vicFr, n1, "#note\n#notify venkat\nVenkat, the key length is 2048, can you answer Ken?")
	vn := e.Find(venkat, "can you answer Ken?")
	WantText(t, "note to Venkat", vn, "A plain reply to this mail is PRIVATE")
	e.Reply("Venkat <venkat@certs.example>", vn, "#reply\nHi Ken, 2048 bits is fine.")
	km := e.Count(ken, 2)
	if len(km) == 2 {
		WantText(t, "#reply to Ken", km[1], "2048 bits is fine")
		NoneOf(t, "Ken", km[1], "check the CSR", "key length?", "can you answer", "lena", venkat, "#reply")
	}
	e.Reply(vicFr, n1, "#reply\n#note\nBoth?")
	IsTranscript(t, e.Last(vic), "#note", "")
	e.Count(ken, 2)
}

// #end: what follows is text.
func TestCommandEnd(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Hashtags", "How do I tag my order?", vic)
	e.Reply(vicFr, n1, "#priority high\n#end\n#tag your order with your name\nThat is all, Ken.")
	tk := e.Show(1)
	if tk.Priority != "high" || len(tk.Tags) != 0 {
		t.Errorf("priority %q tags %v, want high and none", tk.Priority, tk.Tags)
	}
	km := e.Count(ken, 2)
	if len(km) == 2 {
		WantText(t, "reply after #end", km[1], "#tag your order with your name", "That is all, Ken.")
		NoneOf(t, "Ken", km[1], "#priority", "#end")
	}
}

// #macro: the configured commands and text.
func TestCommandMacro(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[macro]]
name = "need-info"
commands = ["#reply", "#status waiting-customer", "#tag +need-info"]
text = """
Please send us the certificate signing request (CSR).
"""
`})
	n1 := e.Open(kenFr, "Certificate", "Please issue one.", vic)
	e.Reply(vicFr, n1, "#macro need-info\nHello Ken,")
	tk := e.Show(1)
	if tk.Status != "waiting-customer" || !has(tk.Tags, "need-info") {
		t.Errorf("macro not applied: status %q tags %v", tk.Status, tk.Tags)
	}
	km := e.Count(ken, 2)
	if len(km) == 2 {
		WantText(t, "macro reply", km[1], "Hello Ken,", "certificate signing request (CSR)")
		NoneOf(t, "Ken", km[1], "#macro", "#status", "need-info")
	}
	e.Reply(vicFr, n1, "#macro need-inf\n")
	IsTranscript(t, e.Last(vic), "#macro need-inf", "need-info")
	e.Count(ken, 2)
}

// #away / #available with round-robin assignment.
func TestCommandAvailableAway(t *testing.T) {
	cfg := strings.Replace(Staff, "name = \"support\"\n", "name = \"support\"\nauto_assign = true\n", 1)
	e := Start(t, Options{Config: cfg})
	n1 := e.Open(kenFr, "First", "one", vic)
	tk := e.Show(1)
	if tk.Assignee == "" {
		t.Fatalf("auto_assign did not assign: %+v", tk)
	}
	// Victoria goes away: the next tickets go to the others.
	note := n1
	if tk.Assignee != vic {
		note = e.Last(vic)
	}
	e.Reply(vicFr, note, "#away\n")
	for i := 2; i <= 7; i++ {
		e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Away test", Body: "more"})
		if a := e.Show(uint64(i)).Assignee; a == vic || a == "" {
			t.Errorf("ticket %d assigned to %q while Victoria is away", i, a)
		}
	}
	e.Reply(vicFr, note, "#available\n")
	got := false
	for i := 8; i <= 10; i++ {
		e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, Subject: "Back test", Body: "more"})
		if e.Show(uint64(i)).Assignee == vic {
			got = true
		}
	}
	if !got {
		t.Errorf("Victoria available again but none of 3 round-robin tickets went to her")
	}
	e.Reply(vicFr, note, "#away\n#available\n")
	IsTranscript(t, e.Last(vic), "#available", "")
}

// #list and #help, from agents and a light agent, in fresh mails.
func TestCommandListAndHelp(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Wildcard", "Need a wildcard.", vic)
	e.Open("Ann <ann@e-fun.example>", "Mail server", "And mail.", vic)
	e.Reply(vicFr, n1, "#assign me\n")
	for _, c := range []struct{ which, want, title string }{
		{"mine", "Wildcard", "Tickets (mine): 1"},
		{"unassigned", "Mail server", "Tickets (unassigned): 1"},
		{"open", "Wildcard", "Tickets (open): 2"},
		{"group", "Mail server", ""},
		{"overdue", "", "Tickets (overdue): 0"},
	} {
		e.Fresh(vicFr, "list", "#list "+c.which+"\n")
		m := e.Last(vic)
		if m.Header("Auto-Submitted") != "auto-replied" || !strings.Contains(m.Env.Text, c.want) || !strings.Contains(m.Env.Text, c.title) {
			t.Errorf("#list %s answer: %q\n%s", c.which, m.Header("Subject"), m.Env.Text)
		}
	}
	e.Fresh("Lena <lena@certs.example>", "list", "#list open\n")
	WantText(t, "light agent's #list open", e.Last(lena), "Tickets (open): 2")
	e.Fresh(vicFr, "help", "#help\n")
	help := e.Last(vic)
	if help.Header("Auto-Submitted") != "auto-replied" {
		t.Errorf("#help answer Auto-Submitted %q", help.Header("Auto-Submitted"))
	}
	WantText(t, "#help answer", help, "HELPDESK COMMANDS", "#forward", "#merge", "WHO MAY USE WHAT")
	e.Fresh(vicFr, "list", "#list everything\n")
	IsTranscript(t, e.Last(vic), "#list everything", "")
	var list []struct{ ID uint64 }
	e.JSON(&list, "tickets")
	if len(list) != 2 {
		t.Errorf("#list / #help opened tickets: %d", len(list))
	}
	e.Count(ken, 1)
	e.Count("ann@e-fun.example", 1)
}

// #spam and #spam domain.
func TestCommandSpam(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open("Spammer <win@prizes.example>", "You won", "Claim your prize.", vic)
	e.Reply(vicFr, n1, "#spam\n")
	tk := e.Show(1)
	if tk.Status != "closed" || !has(tk.Tags, "spam") {
		t.Fatalf("#spam: %+v", tk)
	}
	e.Count("win@prizes.example", 1) // the acknowledgement of the first mail only
	e.Customer(testkit.Mail{From: "Spammer <win@prizes.example>", To: []string{"support@example.com"}, Subject: "You won again", Body: "Claim it."})
	e.Count("win@prizes.example", 1)
	var list []struct{ ID uint64 }
	e.JSON(&list, "tickets")
	if len(list) != 1 {
		t.Errorf("a blocked sender opened a ticket: %d tickets", len(list))
	}
	if q := e.MustCLI("quarantine"); !strings.Contains(q, "win@prizes.example") {
		t.Errorf("the blocked sender's mail is not in quarantine:\n%s", q)
	}

	// #spam domain is for admins.
	n2 := e.Open("Bulk <a@bulk.example>", "Offer", "Buy now.", vic)
	e.Reply(vicFr, n2, "#spam domain\n")
	IsTranscript(t, e.Last(vic), "#spam domain", "admins")
	e.Reply("Ada <ada@certs.example>", e.Find(ada, "Buy now."), "#spam domain\n")
	if tk = e.Show(2); tk.Status != "closed" {
		t.Errorf("#spam domain by the admin: %+v", tk)
	}
	e.Customer(testkit.Mail{From: "b@bulk.example", To: []string{"support@example.com"}, Subject: "Other offer", Body: "Buy."})
	e.Count("b@bulk.example", 0)
	e.JSON(&list, "tickets")
	if len(list) != 2 {
		t.Errorf("mail from a blocked domain opened a ticket: %d tickets", len(list))
	}
	// A customer of another domain is unaffected.
	e.Open(kenFr, "Real request", "Hello.", vic)
	e.Count(ken, 1)
}

// #send releases a reply the collision guard held.
func TestCommandSend(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Install", "Please install it.", vic)
	vn := e.Find(venkat, "Please install it.")
	e.Reply(vicFr, n1, "Hi Ken, we are on it.")
	e.Count(ken, 2)
	// Venkat answers the older notification: held, he sees what was said.
	e.Reply("Venkat <venkat@certs.example>", vn, "Ken, it is installed.")
	held := e.Last(venkat)
	if !strings.HasPrefix(held.Header("Subject"), "Held:") || !strings.Contains(held.Env.Text, "we are on it") {
		t.Fatalf("collision not held: %q\n%s", held.Header("Subject"), held.Env.Text)
	}
	e.Count(ken, 2)
	e.Reply("Venkat <venkat@certs.example>", held, "#send\n")
	km := e.Count(ken, 3)
	if len(km) == 3 {
		WantText(t, "released reply", km[2], "it is installed")
		NoneOf(t, "Ken", km[2], venkat, "#send", "Held")
	}
	e.Reply(vicFr, n1, "#send\n")
	IsTranscript(t, e.Last(vic), "#send", "nothing to send")
	e.Count(ken, 3)
}

// A typo: did-you-mean, nothing applied, a hidden rejected record.
func TestCommandTypoTranscript(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Typo", "Hello.", vic)
	id := e.Reply(vicFr, n1, "#asign venkat\n#status pending\nAll done, Ken!")
	tr := e.Last(vic)
	IsTranscript(t, tr, "#asign venkat", "did you mean #assign?")
	if tr.Header("In-Reply-To") != "<"+id+">" {
		t.Errorf("transcript In-Reply-To %q, want <%s>", tr.Header("In-Reply-To"), id)
	}
	tk := e.Show(1)
	if tk.Status != "open" || tk.Assignee != "" {
		t.Errorf("something was applied: %+v", tk)
	}
	if c := tkLastComment(tk, "rejected"); c == nil || !strings.Contains(c.Text, "All done, Ken!") {
		t.Errorf("no rejected record with the text: %+v", tk.Comments)
	}
	e.Count(ken, 1)
	e.Count(venkat, 1) // the new-ticket notification only
}

// Light agents: limited commands, always private.
func TestLightAgentLimits(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Light", "Hello.", vic)
	e.Reply(vicFr, n1, "#assign me\n#follower +lena\n")
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(e.Find(ken, "[#1]"))}, Subject: "Re: [#1] Light", Body: "Any news?"})
	ln := e.Find(lena, "Any news?")
	for _, line := range []string{"#status closed", "#assign me", "#reply", "#tag +x", "#forward x@vendor.example"} {
		e.Reply("Lena <lena@certs.example>", ln, line+"\nClosing this.")
		IsTranscript(t, e.Last(lena), line, "light agent")
	}
	tk := e.Show(1)
	if tk.Status != "open" || tk.Assignee != vic || len(tk.Tags) != 0 || len(tk.Threads) != 1 {
		t.Errorf("a light agent's command was applied: %+v", tk)
	}
	// A plain reply to a public-comment notification: a private note.
	e.Reply("Lena <lena@certs.example>", ln, "Ken should renew the domain first.")
	if c := tkLastComment(e.Show(1), "comment"); c == nil || c.Author != lena || c.Visibility != "private" {
		t.Errorf("light agent's mail stored as %+v", c)
	}
	e.Find(vic, "renew the domain first")
	e.Count(ken, 1)
	e.Count("x@vendor.example", 0)
}
