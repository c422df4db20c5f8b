package acceptance

import (
	"strings"
	"testing"
)

var _ = claim("#notify <agent> makes the mail's text a private note (the named agents are mailed it); it never reaches the requester, CCs or a side thread's collaborators",
	"TestNotifyIsAlwaysPrivate")

// A found defect: #notify in a reply to a public notification sent the
// text to the customer (and, in a side thread, to the vendor), and the
// named agent got nothing.
func TestNotifyIsAlwaysPrivate(t *testing.T) {
	e := Start(t, Options{})
	n := e.Open(kenFr, "Invoice wrong", "The invoice total is wrong.\n", vic)
	e.Reply(vicFr, n, "#notify venkat\nCan you look at the billing system, Venkat?\n")
	before := len(e.Mailbox(ken))
	for _, m := range e.Mailbox(ken) {
		if strings.Contains(Text(m), "billing system") {
			t.Fatalf("the #notify text reached the customer:\n%s", Text(m))
		}
	}
	e.Find(venkat, "billing system")
	tk := e.Show(1)
	last := tk.Comments[len(tk.Comments)-1]
	if last.Visibility != "private" || !strings.Contains(last.Text, "billing system") {
		t.Errorf("stored as %s %q, want a private note", last.Visibility, last.Text)
	}

	// In a side thread: #notify keeps the text off the vendor.
	e.Reply(vicFr, n, "#forward parts@vendor.example\nDo you ship to Korea?\n")
	p := e.Find("parts@vendor.example", "ship to Korea")
	e.MustSend("parts@vendor.example", []string{ReplyTo(p)}, []byte("From: parts@vendor.example\r\nTo: "+ReplyTo(p)+"\r\nSubject: Re: "+p.Header("Subject")+"\r\nMessage-ID: <"+e.ID("v")+">\r\n\r\nYes, in 5 days.\r\n"))
	s := e.Find(vic, "in 5 days")
	vendorBefore := len(e.Mailbox("parts@vendor.example"))
	e.Reply(vicFr, s, "#notify venkat\nVenkat, is this vendor trustworthy?\n")
	if got := len(e.Mailbox("parts@vendor.example")); got != vendorBefore {
		t.Errorf("the vendor got %d mails from a #notify answer", got-vendorBefore)
	}
	e.Find(venkat, "trustworthy")
	if got := len(e.Mailbox(ken)); got != before {
		t.Errorf("the customer got %d more mails", got-before)
	}
}

var _ = claim("a mailbox with no group (or a group with no agent) is warned of by check-config, and every agent is told of its tickets: no ticket reaches nobody",
	"TestMailboxWithoutGroupStillTellsAgents")

// A found defect: a mailbox without a group opened tickets no agent heard
// of, and check-config said OK.
func TestMailboxWithoutGroupStillTellsAgents(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[mailbox]]
address = "ops@example.com"
name = "Ops"
`})
	out, _, _ := e.CLI("check-config")
	if !strings.Contains(out, "mailbox[1].group") || !strings.Contains(out, "ops@example.com has no group") {
		t.Errorf("check-config does not warn of the mailbox without a group:\n%s", out)
	}
	e.MustSend(ken, []string{"ops@example.com"}, []byte("From: Ken <ken@e-fun.example>\r\nTo: ops@example.com\r\nSubject: Disk full\r\nMessage-ID: <"+e.ID("c")+">\r\n\r\nThe disk of db1 is full.\r\n"))
	for _, ag := range []string{vic, venkat, ada} {
		e.Find(ag, "Disk full")
	}
	if n := len(e.Mailbox(lena)); n != 0 {
		t.Errorf("the light agent got %d mails", n)
	}
}
