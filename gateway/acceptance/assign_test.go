package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of "nobody is told" (issue 12): in a helpdesk driven
// only by mail, an agent who is not mailed does not know a ticket exists.
// Every test asserts who got mail and who got nothing.

var _ = claim("a ticket an agent opens (forwarded customer mail, or #requester) is assigned as customer mail is (round-robin) and the assignee, or the group's agents while unassigned, are told; the opener is not, the customer gets nothing; #requester accepts a display name",
	"TestOnBehalfTicketIsAssignedAndTold", "TestOnBehalfTicketUnassignedTellsGroup")
var _ = claim("#child <subject>: the child's assignee (round-robin), or its group's agents, get a notice naming the parent",
	"TestChildAssigneeIsTold")
var _ = claim("#group <group>: an assignee in the new group keeps the ticket; otherwise it is unassigned, the new group's round-robin applies, and the new assignee or every agent of the group is told",
	"TestGroupChangeReassignsAndTells")

// Team is a staff with round-robin in support and sales, and a billing
// group without auto-assignment (its own mailbox).
const Team = `
[[group]]
name = "support"
auto_assign = true

[[group]]
name = "billing"

[[group]]
name = "sales"
auto_assign = true

[[mailbox]]
address = "support@example.com"
name = "Certs Support"
group = "support"

[[mailbox]]
address = "billing@example.com"
name = "Certs Billing"
group = "billing"

[[agent]]
name = "Victoria"
email = "victoria@certs.example"
role = "agent"
groups = ["support"]

[[agent]]
name = "Venkat"
email = "venkat@certs.example"
role = "agent"
groups = ["support", "billing"]

[[agent]]
name = "Bill"
email = "bill@certs.example"
role = "agent"
groups = ["billing"]

[[agent]]
name = "Bea"
email = "bea@certs.example"
role = "agent"
groups = ["billing"]

[[agent]]
name = "Sam"
email = "sam@certs.example"
role = "agent"
groups = ["sales"]

[[agent]]
name = "Sue"
email = "sue@certs.example"
role = "agent"
groups = ["sales"]

[[agent]]
name = "Lena"
email = "lena@certs.example"
role = "light"
groups = ["support"]
`

const (
	bill   = "bill@certs.example"
	bea    = "bea@certs.example"
	sam    = "sam@certs.example"
	sue    = "sue@certs.example"
	quinn  = "quinn@q.example"
	billFr = "Bill <bill@certs.example>"
)

// forwarded is an agent's mail forwarding a customer's mail inline.
func forwarded(note, from, subject, body string) string {
	return note + "\n\n---------- Forwarded message ---------\nFrom: " + from +
		"\nDate: Mon, Dec 7, 2026 at 9:00 AM\nSubject: " + subject + "\nTo: <victoria@certs.example>\n\n" + body + "\n"
}

func TestOnBehalfTicketIsAssignedAndTold(t *testing.T) {
	e := Start(t, Options{Config: Team})
	// Ticket 1 from a customer takes the first turn of support's
	// round-robin (Victoria), so the next one goes to Venkat.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "VPN down", Body: "The VPN is down."})
	if tk := e.Show(1); tk.Assignee != vic {
		t.Fatalf("ticket 1 assignee %q, want %s (round-robin)", tk.Assignee, vic)
	}
	vicBefore := len(e.Mailbox(vic))

	// 2: Victoria forwards Quinn's mail to the support address.
	e.Fresh(vicFr, "Fwd: Invoice missing", forwarded("Quinn called about this too.", "Quinn <quinn@q.example>",
		"Invoice missing", "I never got the invoice for order 77."))
	tk := e.Show(2)
	if tk.Requester != quinn || tk.Group != "support" || tk.Assignee != venkat {
		t.Fatalf("on-behalf ticket: requester %q group %q assignee %q, want %s support %s", tk.Requester, tk.Group, tk.Assignee, quinn, venkat)
	}
	n := e.Find(venkat, "I never got the invoice")
	WantText(t, "the assignee's notice", n, "I never got the invoice for order 77.", "on behalf of", "assigned to you")
	NoneOf(t, "Venkat", n, "---------- Forwarded message")
	if got := len(e.Mailbox(vic)); got != vicBefore {
		t.Errorf("the agent who opened the ticket got %d mails about it", got-vicBefore)
	}
	e.Count(quinn, 0) // no acknowledgement, no internal notice

	// A plain reply to that notice is public: it reaches Quinn.
	e.Reply("Venkat <venkat@certs.example>", n, "Hi Quinn, the invoice is attached now.")
	WantText(t, "the reply to Quinn", e.Count(quinn, 1)[0], "the invoice is attached now")

	// 3: #requester with a display name; Venkat opens it, the turn is
	// Victoria's: she gets the note with the notice, Venkat nothing.
	venkatBefore := len(e.Mailbox(venkat))
	e.Fresh("Venkat <venkat@certs.example>", "Certificate renewal for Quinn", "#requester Quinn <quinn@q.example>\nQuinn asked by phone for the renewal.")
	tk = e.Show(3)
	if tk.Requester != quinn || tk.Assignee != vic {
		t.Fatalf("#requester with a display name: requester %q assignee %q", tk.Requester, tk.Assignee)
	}
	WantText(t, "Victoria's notice", e.Find(vic, "[#3]"), "Quinn asked by phone for the renewal.", "on behalf of", "assigned to you")
	if got := len(e.Mailbox(venkat)); got != venkatBefore {
		t.Errorf("the opener got %d mails about his own ticket", got-venkatBefore)
	}
	e.Count(quinn, 1)

	// 4: a quoted display name, with a public reply: the customer's mail
	// is addressed with the stored name; the assignee (Venkat) is told.
	e.Fresh(vicFr, "Your order", "#requester \"Quinn Q.\" <quinn2@q.example>\n#reply\nHello Quinn, we opened this for your order.")
	tk = e.Show(4)
	if tk.Requester != "quinn2@q.example" || tk.Assignee != venkat {
		t.Fatalf("ticket 4: requester %q assignee %q", tk.Requester, tk.Assignee)
	}
	m := e.Count("quinn2@q.example", 1)
	if len(m) == 1 && !strings.Contains(m[0].Header("To"), "Quinn Q.") {
		t.Errorf("the requester's name was not kept: To %q", m[0].Header("To"))
	}
	NoneOf(t, "Quinn", m[0], "on behalf of", vic, venkat)
	WantText(t, "Venkat's notice", e.Find(venkat, "[#4]"), "on behalf of", "assigned to you")
}

func TestOnBehalfTicketUnassignedTellsGroup(t *testing.T) {
	e := Start(t, Options{Config: Team})
	// billing has no auto-assignment: the ticket waits in the group and
	// every agent of billing but the opener is told.
	e.Agent(testkit.Mail{From: billFr, To: []string{"billing@example.com"}, Subject: "Fwd: Refund",
		Body: forwarded("", "Quinn <quinn@q.example>", "Refund", "Please refund order 78.")})
	tk := e.Show(1)
	if tk.Requester != quinn || tk.Group != "billing" || tk.Assignee != "" {
		t.Fatalf("ticket 1: requester %q group %q assignee %q", tk.Requester, tk.Group, tk.Assignee)
	}
	for _, who := range []string{bea, venkat} {
		WantText(t, "notice to "+who, e.Find(who, "[#1]"), "Please refund order 78.", "unassigned", "billing")
	}
	e.Count(bill, 0)
	e.Count(quinn, 0)
	e.Count(vic, 0)
	e.Count(sam, 0)
}

func TestChildAssigneeIsTold(t *testing.T) {
	e := Start(t, Options{Config: Team})
	n := e.Open(kenFr, "Office move", "We move offices next week.", vic) // 1, Victoria's
	e.Reply(vicFr, n, "#child Move the VPN appliance\nThe appliance must be moved on Friday.")
	ch := e.Show(2)
	if ch.Assignee != venkat || ch.Group != "support" {
		t.Fatalf("child: assignee %q group %q, want %s support", ch.Assignee, ch.Group, venkat)
	}
	m := e.Find(venkat, "[#2]")
	WantText(t, "the child's assignee's notice", m, "#1", "Office move", "The appliance must be moved on Friday.", "assigned to you")
	e.Count(ken, 1) // the acknowledgement of #1 only
	for _, x := range e.Mailbox(vic) {
		if strings.Contains(x.Header("Subject"), "[#2]") {
			t.Errorf("the agent who opened the child got %q", x.Header("Subject"))
		}
	}
}

func TestGroupChangeReassignsAndTells(t *testing.T) {
	e := Start(t, Options{Config: Team})
	n := e.Open(kenFr, "Invoice wrong", "The invoice shows the wrong VAT.", vic) // 1, Victoria's
	if tk := e.Show(1); tk.Assignee != vic {
		t.Fatalf("ticket 1 assignee %q", tk.Assignee)
	}

	// Victoria is not in billing: the ticket is unassigned there and every
	// billing agent is told.
	e.Reply(vicFr, n, "#group billing\n")
	tk := e.Show(1)
	if tk.Group != "billing" || tk.Assignee != "" {
		t.Fatalf("after #group billing: group %q assignee %q, want billing, unassigned", tk.Group, tk.Assignee)
	}
	for _, who := range []string{bill, bea, venkat} {
		WantText(t, "billing notice to "+who, e.Find(who, "[#1]"), "billing", "unassigned", "Victoria")
	}
	e.Count(sam, 0)
	e.Count(ken, 1)

	// Bill takes it, then moves it to sales (round-robin): Sam gets it and
	// is told.
	bn := e.Find(bill, "[#1]")
	e.Reply(billFr, bn, "#assign me\n")
	e.Reply(billFr, bn, "#group sales\n")
	tk = e.Show(1)
	if tk.Group != "sales" || tk.Assignee != sam {
		t.Fatalf("after #group sales: group %q assignee %q, want sales %s", tk.Group, tk.Assignee, sam)
	}
	WantText(t, "Sam's notice", e.Find(sam, "[#1]"), "sales", "assigned to you")
	e.Count(sue, 0)

	// Sam moves it to support with an agent of both: an assignee in the
	// new group keeps it. Venkat (support and billing) is assigned, the
	// ticket goes to billing and stays his.
	sn := e.Find(sam, "[#1]")
	e.Reply("Sam <sam@certs.example>", sn, "#assign venkat\n#group billing\n")
	tk = e.Show(1)
	if tk.Group != "billing" || tk.Assignee != venkat {
		t.Fatalf("after #assign venkat #group billing: group %q assignee %q", tk.Group, tk.Assignee)
	}
	billBefore := len(e.Mailbox(bill))
	vn := e.Find(venkat, "Assigned to you")
	e.Reply("Venkat <venkat@certs.example>", vn, "#group support\n")
	if tk = e.Show(1); tk.Group != "support" || tk.Assignee != venkat {
		t.Fatalf("after #group support: group %q assignee %q, want support, %s kept", tk.Group, tk.Assignee, venkat)
	}
	e.Count(bill, billBefore)
	e.Count(ken, 1) // never an internal notice for the customer
}

var _ = claim("#available: the open tickets that waited unassigned in the agent's auto-assigning groups are assigned round-robin to the group's available agents, oldest first, and each agent who got some receives one digest listing them (number, subject, requester, age); customers get nothing",
	"TestAvailableAssignsWaitingTickets")

func TestAvailableAssignsWaitingTickets(t *testing.T) {
	e := Start(t, Options{Config: Team})
	e.Fresh(vicFr, "away", "#away\n")
	e.Fresh("Venkat <venkat@certs.example>", "away", "#away\n")
	for _, s := range []string{"First waiting", "Second waiting", "Third waiting"} {
		e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: s, Body: s + " request."})
	}
	// A billing ticket (no auto-assignment there) waits too, untouched.
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"billing@example.com"}, Subject: "Billing waiting", Body: "Invoice?"})
	for n := uint64(1); n <= 4; n++ {
		if tk := e.Show(n); tk.Assignee != "" {
			t.Fatalf("ticket %d assigned to %s while everyone was away", n, tk.Assignee)
		}
	}
	// Ticket 3 is pending: not waiting for an agent's turn.
	e.Reply(vicFr, e.Find(vic, "Third waiting"), "#pending\n")
	vicBefore, venkatBefore := len(e.Mailbox(vic)), len(e.Mailbox(venkat))

	e.Fresh("Venkat <venkat@certs.example>", "back", "#available\n")
	for _, n := range []uint64{1, 2} {
		if tk := e.Show(n); tk.Assignee != venkat {
			t.Errorf("ticket %d: assignee %q after #available, want %s", n, tk.Assignee, venkat)
		}
	}
	if tk := e.Show(3); tk.Assignee != "" {
		t.Errorf("pending ticket 3 was assigned to %s", tk.Assignee)
	}
	if tk := e.Show(4); tk.Assignee != "" || tk.Group != "billing" {
		t.Errorf("billing ticket 4: assignee %q group %q", tk.Assignee, tk.Group)
	}
	ms := e.Mailbox(venkat)[venkatBefore:]
	var digests []int
	for i, m := range ms {
		if strings.Contains(m.Env.Text, "First waiting") {
			digests = append(digests, i)
		}
	}
	if len(digests) != 1 {
		t.Fatalf("Venkat got %d mails naming the waiting tickets, want one digest: %d mails", len(digests), len(ms))
	}
	d := ms[digests[0]]
	WantText(t, "the digest", d, "#1", "First waiting", "#2", "Second waiting", ken, "waited")
	NoneOf(t, "Venkat", d, "Third waiting", "Billing waiting")
	if got := len(e.Mailbox(vic)); got != vicBefore {
		t.Errorf("Victoria (away) got %d mails", got-vicBefore)
	}
	e.Count(ken, 3) // the acknowledgements only
	e.Count("ann@e-fun.example", 1)

	// Nothing waits any more: a second #available assigns nothing.
	venkatBefore = len(e.Mailbox(venkat))
	e.Fresh(vicFr, "back", "#available\n")
	if got := len(e.Mailbox(venkat)); got != venkatBefore {
		t.Errorf("Venkat got %d more mails after Victoria's #available", got-venkatBefore)
	}
	if tk := e.Show(1); tk.Assignee != venkat {
		t.Errorf("ticket 1 moved to %q", tk.Assignee)
	}
}
