package acceptance

import (
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of the #help card's TICKET commands: an agent's
// DKIM-signed reply to her notification, run by the binary; asserted on
// `helpdesk show N --json` and on every mailbox.

var _ = claim("#status with every value, aliases (solved, on-hold) and spaced words, and the short forms #open #pending #resolved #solved #closed #waiting-customer #waiting-third-party #on-hold; commands only reach no customer; a bad value is refused with a transcript",
	"TestCommandStatusAndShortForms")
var _ = claim("#assign <agent>|me|none (assignee told), #priority, #type, #tag +a -b c, #group <group>; unknown values refused with did-you-mean, nothing applied",
	"TestCommandAssignPriorityTypeTagGroup")
var _ = claim("#cc +addr -addr: an added CC gets public replies and is shown in Cc, a removed one nothing more; our own address refused",
	"TestCommandCC")
var _ = claim("#follow, #unfollow and #follower +agent -agent: followers get every update, public and private; the customer never sees them",
	"TestCommandFollowers")
var _ = claim("#requester <addr>: the new requester gets the public replies, the old one nothing more",
	"TestCommandRequester")

// #status with every value, its aliases and words separated by spaces,
// and every short form. A reply with text reaches the customer; a mail of
// commands only reaches nobody.
func TestCommandStatusAndShortForms(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "VPN certificate", "The VPN certificate is expired.", vic)
	e.Reply(vicFr, n1, "#status pending\nHi Ken, we are renewing it now.")
	if st := e.Show(1).Status; st != "pending" {
		t.Fatalf("status %q, want pending", st)
	}
	km := e.Count(ken, 2) // acknowledgement, reply
	WantText(t, "reply to Ken", km[1], "we are renewing it now")
	NoneOf(t, "Ken", km[1], "#status", vic, venkat, ada)

	for _, c := range []struct{ cmd, want string }{
		{"#waiting-customer", "waiting-customer"},
		{"#on-hold", "waiting-third-party"},
		{"#open", "open"},
		{"#waiting-third-party", "waiting-third-party"},
		{"#status waiting customer", "waiting-customer"},
		{"#pending", "pending"},
		{"#solved", "resolved"},
		{"#status open", "open"},
		{"#status on-hold", "waiting-third-party"},
		{"#resolved", "resolved"},
		{"#STATUS Solved", "resolved"},
		{"#status waiting-third-party", "waiting-third-party"},
		{"#closed", "closed"},
	} {
		e.Reply(vicFr, n1, c.cmd+"\n")
		if st := e.Show(1).Status; st != c.want {
			t.Errorf("%s: status %q, want %q", c.cmd, st, c.want)
		}
	}
	e.Count(ken, 2) // commands only: nothing to the customer

	// A bad value: nothing applied, a transcript with the choices.
	e.Reply(vicFr, n1, "#status pendnig\n#priority high\n")
	tk := e.Show(1)
	if tk.Status != "closed" || tk.Priority == "high" {
		t.Errorf("refused block applied: %+v", tk)
	}
	IsTranscript(t, e.Last(vic), "#status pendnig", "pending")
	e.Count(ken, 2)
}

// #assign (by name, me, none, unknown), #priority, #type, #tag and #group:
// applied together, the new assignee told, the customer told nothing.
func TestCommandAssignPriorityTypeTagGroup(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[[group]]\nname = \"tier2\"\n"})
	n1 := e.Open(kenFr, "Wildcard certificate", "We need a wildcard.", vic)
	e.Reply(vicFr, n1, "#assign venkat\n#priority urgent\n#type incident\n#tag +vip renewal, Q4\n")
	tk := e.Show(1)
	if tk.Assignee != venkat || tk.Priority != "urgent" || tk.Type != "incident" ||
		!slices.Equal(tk.Tags, []string{"vip", "renewal", "q4"}) {
		t.Fatalf("ticket after commands: %+v", tk)
	}
	if m := e.Find(venkat, "Assigned to you"); !strings.Contains(m.Header("Subject"), "[#1]") {
		t.Errorf("assignment notice subject %q", m.Header("Subject"))
	}

	e.Reply(vicFr, n1, "#tag -vip -q4\n#priority low\n#type task\n")
	if tk = e.Show(1); !slices.Equal(tk.Tags, []string{"renewal"}) || tk.Priority != "low" || tk.Type != "task" {
		t.Errorf("after #tag -vip -q4, #priority low, #type task: %+v", tk)
	}
	e.Reply(vicFr, n1, "#assign me\n")
	if tk = e.Show(1); tk.Assignee != vic {
		t.Errorf("#assign me: assignee %q", tk.Assignee)
	}
	e.Reply(vicFr, n1, "#assign none\n")
	if tk = e.Show(1); tk.Assignee != "" {
		t.Errorf("#assign none: assignee %q", tk.Assignee)
	}
	e.Reply(vicFr, n1, "#group tier2\n")
	if tk = e.Show(1); tk.Group != "tier2" {
		t.Errorf("#group tier2: group %q", tk.Group)
	}

	// Refused lines, one transcript each; nothing applied.
	for _, c := range []struct{ line, want string }{
		{"#assign venkatt", "did you mean"},
		{"#assign lena", "light agent"},
		{"#priority urgentt", "urgent"},
		{"#type questoin", "question"},
		{"#group tier3", "unknown group"},
	} {
		e.Reply(vicFr, n1, c.line+"\n#tag +refused\n")
		IsTranscript(t, e.Last(vic), c.line, c.want)
	}
	if tk = e.Show(1); slices.Contains(tk.Tags, "refused") || tk.Group != "tier2" || tk.Assignee != "" {
		t.Errorf("a refused block was applied: %+v", tk)
	}
	e.Count(ken, 1) // the acknowledgement only
	e.Count(lena, 0)
}

// #cc adds and removes public CCs: an added CC gets the public replies
// (and sees he is CC'd), a removed one gets nothing more; our own
// address cannot be a CC.
func TestCommandCC(t *testing.T) {
	e := Start(t, Options{})
	const boss = "boss@e-fun.example"
	n1 := e.Open(kenFr, "Certificate order", "Please order one.", vic)
	e.Reply(vicFr, n1, "#cc +boss@e-fun.example\nHi Ken, I copied your manager for the approval.")
	if tk := e.Show(1); !has(tk.CCs, boss) {
		t.Fatalf("ccs %v lack %s", tk.CCs, boss)
	}
	bm := e.Count(boss, 1)
	WantText(t, "reply to the CC", bm[0], "copied your manager")
	if !strings.Contains(bm[0].Header("Cc"), boss) && !strings.Contains(bm[0].Header("To"), boss) {
		t.Errorf("CC's mail is not addressed to him: To %q Cc %q", bm[0].Header("To"), bm[0].Header("Cc"))
	}
	NoneOf(t, "boss", bm[0], vic, "#cc")
	km := e.Count(ken, 2)
	if !strings.Contains(km[1].Header("Cc"), boss) {
		t.Errorf("Ken does not see that %s is CC'd: Cc %q", boss, km[1].Header("Cc"))
	}

	e.Reply(vicFr, n1, "#cc -boss@e-fun.example\nKen, the order is placed.")
	if tk := e.Show(1); has(tk.CCs, boss) {
		t.Errorf("ccs %v still hold %s", tk.CCs, boss)
	}
	e.Count(boss, 1)
	WantText(t, "second reply", e.Count(ken, 3)[2], "the order is placed")

	e.Reply(vicFr, n1, "#cc +support@example.com\n")
	IsTranscript(t, e.Last(vic), "#cc +support@example.com", "our own addresses")
	e.Count(ken, 3)
}

// #follow / #unfollow (oneself) and #follower +agent -agent: followers get
// every update, public and private, and the customer never sees them.
func TestCommandFollowers(t *testing.T) {
	e := Start(t, Options{})
	n1 := e.Open(kenFr, "Renewal", "Please renew www.", vic)
	e.Reply(vicFr, n1, "#assign me\n#follower +lena\n")
	if tk := e.Show(1); !slices.Equal(tk.Followers, []string{lena}) {
		t.Fatalf("followers %v, want [lena]", tk.Followers)
	}
	e.Count(lena, 0) // being added sends nothing

	// The customer writes: the follower is told.
	ack := e.Find(ken, "[#1]")
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"),
		Body: "It expires on Friday."})
	ln := e.Find(lena, "It expires on Friday")
	// A light agent's own #unfollow / #follow, in replies to that mail.
	e.Reply("Lena <lena@certs.example>", ln, "#unfollow\n")
	if tk := e.Show(1); len(tk.Followers) != 0 {
		t.Errorf("after Lena's #unfollow: followers %v", tk.Followers)
	}
	e.Reply("Lena <lena@certs.example>", ln, "#follow\n")
	if tk := e.Show(1); !slices.Equal(tk.Followers, []string{lena}) {
		t.Errorf("after Lena's #follow: followers %v", tk.Followers)
	}
	before := len(e.Mailbox(lena))
	// A private note: the follower gets it, the customer does not.
	e.Reply(vicFr, n1, "#note\nInternal: the CSR uses a 2048-bit key.")
	e.Find(lena, "2048-bit key")
	// A public reply: the follower gets it too.
	e.Reply(vicFr, n1, "Ken, the renewal is under way.")
	e.Find(lena, "renewal is under way")
	if got := len(e.Mailbox(lena)) - before; got != 2 {
		t.Errorf("follower got %d mails for 2 updates", got)
	}
	km := e.Count(ken, 2)
	for _, m := range km {
		NoneOf(t, "Ken", m, "lena", "2048-bit", "follower")
	}

	// #follower -lena: no more mail for her.
	e.Reply(vicFr, n1, "#follower -lena +venkat\n")
	if tk := e.Show(1); !slices.Equal(tk.Followers, []string{venkat}) {
		t.Errorf("followers %v, want [venkat]", tk.Followers)
	}
	n := len(e.Mailbox(lena))
	e.Reply(vicFr, n1, "#note\nA later note.")
	e.Find(venkat, "A later note")
	if got := len(e.Mailbox(lena)); got != n {
		t.Errorf("an ex-follower got %d more mails", got-n)
	}
	e.Reply(vicFr, n1, "#follower +nobody\n")
	IsTranscript(t, e.Last(vic), "#follower +nobody", "unknown agent")
}

// #requester moves the ticket to another end user: the new requester gets
// the public replies, the old one nothing more.
func TestCommandRequester(t *testing.T) {
	e := Start(t, Options{})
	const ann = "ann@e-fun.example"
	n1 := e.Open(kenFr, "Certificate for Ann", "Ann owns this domain, please deal with her.", vic)
	e.Reply(vicFr, n1, "#requester ann@e-fun.example\n")
	if tk := e.Show(1); tk.Requester != ann {
		t.Fatalf("requester %q, want %s", tk.Requester, ann)
	}
	e.Count(ann, 0) // commands only
	e.Reply(vicFr, n1, "Hello Ann, which names should the certificate cover?")
	WantText(t, "reply to the new requester", e.Count(ann, 1)[0], "which names should the certificate cover")
	e.Count(ken, 1) // his acknowledgement only
	e.Reply(vicFr, n1, "#requester support@example.com\n")
	IsTranscript(t, e.Last(vic), "#requester support@example.com", "our own addresses")
	if tk := e.Show(1); tk.Requester != ann {
		t.Errorf("requester %q after a refused #requester", tk.Requester)
	}
}
