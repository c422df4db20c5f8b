package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("#forward <addr> with #subject <text> and #include none|last|all: the collaborator gets only the agent's text (and with last the newest public comment), never the requester, subject or notes; the answer reaches staff only; #done marks the side thread done",
	"TestCommandForwardIncludeSubjectDone")
var _ = claim("#merge <n> [cc]: the merged ticket is closed with a link, its comments move, both requesters are told, replies to the old ticket land in n; different requesters only with cc",
	"TestCommandMerge")
var _ = claim("#child <subject> opens a child ticket (same requester, nothing to the customer); #parent <n> links; a parent with open children cannot be resolved",
	"TestCommandParentChild")
var _ = claim("#ticket <n> in a fresh mail to the mailbox acts on ticket n (text a private note); an unknown n is refused",
	"TestCommandTicketInFreshMail")

// Outside-in tests of the #help card's SIDE THREADS and LINKED TICKETS
// commands, and #ticket.

// #forward with #subject and #include none: the collaborator gets only
// what the agent wrote, under the given subject; the answer reaches staff
// only; #done marks the thread done. #include last takes the newest public
// comment along.
func TestCommandForwardIncludeSubjectDone(t *testing.T) {
	e := Start(t, Options{})
	const (
		fin      = "finance@bank.example"
		partner  = "partner@vendor.example"
		request  = "Please issue a certificate for www.e-fun.example, the old one expires Friday."
		sideText = "Please confirm the budget for order CERT-7781."
	)
	n1 := e.Open(kenFr, "New SSL certificate", request, vic)
	e.Reply(vicFr, n1, "#assign me\n#forward "+fin+"\n#subject Budget check\n#include none\n"+sideText)
	fm := e.Count(fin, 1)
	if len(fm) != 1 {
		t.FailNow()
	}
	if s := fm[0].Header("Subject"); s != "[#1] Budget check" {
		t.Errorf("side-thread subject %q, want %q", s, "[#1] Budget check")
	}
	WantText(t, "side-thread mail", fm[0], sideText)
	NoneOf(t, "finance", fm[0], ken, "New SSL certificate", request, "#forward", "#subject", vic)
	tk := e.Show(1)
	if len(tk.Threads) != 2 || tk.Threads[1].Kind != "side" || !has(tk.Threads[1].Participants, fin) {
		t.Fatalf("threads %+v", tk.Threads)
	}

	// Finance answers the mail's reply address: a private message of the
	// side thread, mailed to the assignee; never to the customer.
	e.Customer(testkit.Mail{From: "Finance <" + fin + ">", To: []string{ReplyTo(fm[0])}, Subject: "Re: " + fm[0].Header("Subject"),
		InReplyTo: strings.Trim(fm[0].Header("Message-Id"), "<>"), Body: "Funds OK.\n\n> " + sideText})
	sideNote := e.Find(vic, "Funds OK")
	e.Count(ken, 1) // the acknowledgement only
	e.Count(fin, 1)

	e.Reply(vicFr, sideNote, "#done\n")
	if tk = e.Show(1); tk.Threads[1].Status != "done" {
		t.Errorf("side thread status %q after #done", tk.Threads[1].Status)
	}
	e.Count(fin, 1) // #done mails nobody

	// #include last: the newest public comment (Ken's request) goes along;
	// without #subject the subject is the default.
	e.Reply(vicFr, n1, "#forward "+partner+"\n#include last\nCan you install this for Ken?")
	pm := e.Count(partner, 1)
	if len(pm) == 1 {
		WantText(t, "forward with history", pm[0], "Can you install this for Ken?", "the old one expires Friday")
		NoneOf(t, "partner", pm[0], sideText, "Funds OK", vic)
	}
	// Without #include: nothing of the ticket, default subject.
	e.Reply(vicFr, n1, "#forward other@vendor.example\nA question without history.")
	om := e.Count("other@vendor.example", 1)
	if len(om) == 1 {
		if s := om[0].Header("Subject"); s != "[#1] Side conversation" {
			t.Errorf("default side-thread subject %q", s)
		}
		NoneOf(t, "other", om[0], request, "New SSL certificate", ken)
	}
	e.Count(ken, 1)

	// Refused: #include without #forward, #done outside a side thread.
	e.Reply(vicFr, n1, "#include all\n")
	IsTranscript(t, e.Last(vic), "#include all", "#forward")
	e.Reply(vicFr, n1, "#done\n")
	IsTranscript(t, e.Last(vic), "#done", "side thread")
	e.Reply(vicFr, n1, "#forward support@example.com\nloop")
	IsTranscript(t, e.Last(vic), "#forward support@example.com", "")
}

// #merge n (same requester) and #merge n cc (different requesters): the
// merged ticket is closed with a link, its comments move, both requesters
// are told, and later mail to the old ticket lands in the survivor.
func TestCommandMerge(t *testing.T) {
	e := Start(t, Options{})
	const ann = "ann@e-fun.example"
	e.Open(kenFr, "Certificate order", "We need a certificate for www.", vic)
	n2 := e.Open(kenFr, "Certificate order again", "Did you get my first mail?", vic)
	n3 := e.Open("Ann <ann@e-fun.example>", "Mail server certificate", "And one for mail, please.", vic)
	kenAck2 := e.Find(ken, "[#2]")
	annAck := e.Count(ann, 1)[0]

	e.Reply(vicFr, n2, "#merge 1\n")
	t2, t1 := e.Show(2), e.Show(1)
	if t2.Status != "closed" || !tkHasLink(t2, "merged-into", 1) || !tkHasLink(t1, "merged-from", 2) {
		t.Fatalf("merge 2 into 1: #2 %+v / #1 links %+v", t2, t1.Links)
	}
	if !tkHasComment(t1, "Did you get my first mail?") {
		t.Errorf("#2's comments did not move into #1")
	}

	// Different requesters need cc.
	e.Reply(vicFr, n3, "#merge 1\n")
	IsTranscript(t, e.Last(vic), "#merge 1", "#merge 1 cc")
	if e.Show(3).Status == "closed" {
		t.Fatal("refused merge applied")
	}
	e.Reply(vicFr, n3, "#merge 1 cc\n")
	if t1 = e.Show(1); !has(t1.CCs, ann) || !tkHasLink(e.Show(3), "merged-into", 1) {
		t.Fatalf("merge cc: #1 ccs %v, #3 %+v", t1.CCs, e.Show(3).Links)
	}
	// Both requesters are told, naming no staff.
	for _, who := range []string{ken, ann} {
		m := e.Find(who, "was merged into [#1]")
		NoneOf(t, who, m, vic, venkat, ada)
	}

	// Replies to the old tickets' acknowledgements land in #1.
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{ReplyTo(annAck)}, Subject: "Re: " + annAck.Header("Subject"),
		Body: "The mail server is mail.e-fun.example."})
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(kenAck2)}, Subject: "Re: " + kenAck2.Header("Subject"),
		Body: "Any update on this?"})
	var list []struct{ ID uint64 }
	e.JSON(&list, "tickets")
	if len(list) != 3 {
		t.Errorf("replies to merged tickets opened new ones: %d tickets", len(list))
	}
	if t1 = e.Show(1); !tkHasComment(t1, "mail.e-fun.example") || !tkHasComment(t1, "Any update on this?") {
		t.Errorf("replies did not land in #1")
	}
	// Ken (requester of #1) sees Ann's comment, Ann (now a CC) Ken's.
	e.Find(ken, "The mail server is mail.e-fun.example.")
	e.Find(ann, "Any update on this?")

	e.Reply(vicFr, n2, "#merge 99\n")
	IsTranscript(t, e.Last(vic), "#merge 99", "")
}

// #child opens a child ticket (same requester, nothing mailed to the
// customer); #parent links an existing ticket; the parent cannot be
// resolved while a child is open.
func TestCommandParentChild(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Certificates for three hosts", "www, mail and vpn.", vic)
	e.Reply(vicFr, n1, "#assign me\n")
	e.Reply(vicFr, n1, "#child Certificate for vpn.e-fun.example\nThe vpn host needs an EV certificate.")
	ch := e.Show(2)
	if ch.Requester != ken || ch.Subject != "Certificate for vpn.e-fun.example" || !tkHasLink(ch, "parent", 1) || !tkHasLink(e.Show(1), "child", 2) {
		t.Fatalf("child ticket: %+v", ch)
	}
	if c := tkLastComment(ch, "comment"); c == nil || c.Visibility != "private" || !strings.Contains(c.Text, "EV certificate") {
		t.Errorf("child's first comment %+v", c)
	}
	e.Count(ken, 1) // no acknowledgement, no public mail about the child

	n3 := e.Open(kenFr, "And the mail server", "mail.e-fun.example too", vic)
	e.Reply(vicFr, n3, "#parent 1\n")
	if !tkHasLink(e.Show(1), "child", 3) || !tkHasLink(e.Show(3), "parent", 1) {
		t.Errorf("#parent links: %+v / %+v", e.Show(1).Links, e.Show(3).Links)
	}
	e.Reply(vicFr, n1, "#status resolved\n")
	IsTranscript(t, e.Last(vic), "#status resolved", "#2")
	if st := e.Show(1).Status; st == "resolved" {
		t.Fatal("parent resolved while children are open")
	}
	e.Reply(vicFr, n1, "#parent 3\n")
	IsTranscript(t, e.Last(vic), "#parent 3", "cycle")
	e.Reply(vicFr, n1, "#child\n")
	IsTranscript(t, e.Last(vic), "#child", "subject")
	e.Count(ken, 2) // acknowledgements of #1 and #3
}

// #ticket N in a fresh mail to the mailbox acts on ticket N (the text is
// a private note); an unknown number is refused; no ticket is opened.
func TestCommandTicketInFreshMail(t *testing.T) {
	e := Start(t, Options{})
	e.Open(kenFr, "Wildcard", "Need a wildcard.", vic)
	e.Fresh(vicFr, "about the wildcard", "#ticket 1\n#priority urgent\nKen called: it is blocking their launch.")
	tk := e.Show(1)
	if tk.Priority != "urgent" {
		t.Errorf("#ticket 1: priority %q", tk.Priority)
	}
	if c := tkLastComment(tk, "comment"); c == nil || c.Visibility != "private" || !strings.Contains(c.Text, "blocking their launch") {
		t.Errorf("#ticket text %+v", c)
	}
	e.Fresh(vicFr, "about another", "#ticket #99\n#priority low\n")
	IsTranscript(t, e.Last(vic), "#ticket #99", "does not exist")
	var list []struct{ ID uint64 }
	e.JSON(&list, "tickets")
	if len(list) != 1 {
		t.Errorf("%d tickets, want 1", len(list))
	}
	e.Count(ken, 1)
	for _, m := range e.Mailbox(venkat) {
		if strings.Contains(m.Env.Text, "blocking their launch") && !strings.Contains(m.Env.Text, "PRIVATE") {
			t.Errorf("the note reached Venkat as public:\n%s", m.Env.Text)
		}
	}
}

func tkHasLink(tk *Ticket, kind string, n uint64) bool {
	for _, l := range tk.Links {
		if l.Kind == kind && l.Ticket == n {
			return true
		}
	}
	return false
}

func tkHasComment(tk *Ticket, sub string) bool {
	for _, c := range tk.Comments {
		if c.Kind == "comment" && strings.Contains(c.Text, sub) {
			return true
		}
	}
	return false
}

// tkLastComment is the newest comment of a kind.
func tkLastComment(tk *Ticket, kind string) *Comment {
	for i := len(tk.Comments) - 1; i >= 0; i-- {
		if tk.Comments[i].Kind == kind {
			return &tk.Comments[i]
		}
	}
	return nil
}
