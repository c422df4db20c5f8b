package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("#merge <n> cc of tickets with different requesters tells both, and the survivor's people learn nothing of the merged ticket's subject or text",
	"TestMergeCCNoticeKeepsTheOtherTicketPrivate")

// A found defect: after "#merge 14 cc", the survivor's requester and CCs
// were told "Your request [#15] <the stranger's subject> was merged".
func TestMergeCCNoticeKeepsTheOtherTicketPrivate(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Cc: []string{"Lee <lee@e-fun.example>"},
		Subject: "Certificate renewal", Body: "Please renew our certificate.\n"})
	n2 := e.Open("Quinn <quinn@q.example>", "Project Zeus launch", "Our Zeus launch needs a certificate too.\n", vic)
	e.Reply(vicFr, n2, "#merge 1 cc\n")
	if tk := e.Show(2); tk.Status != "closed" {
		t.Fatalf("ticket 2 is %s after the merge", tk.Status)
	}
	for _, who := range []string{ken, "lee@e-fun.example"} {
		for _, m := range e.Mailbox(who) {
			if strings.Contains(Text(m)+m.Header("Subject"), "Zeus") {
				t.Errorf("%s was told of the merged ticket's subject:\n%s", who, Text(m))
			}
		}
	}
	q := e.Find("quinn@q.example", "merged")
	if !strings.Contains(Text(q), "[#2]") || !strings.Contains(Text(q), "[#1]") {
		t.Errorf("Quinn's notice does not name both tickets:\n%s", Text(q))
	}
	k := e.Find(ken, "merged")
	if !strings.Contains(Text(k), "quinn@q.example") {
		t.Errorf("Ken is not told who joined the conversation:\n%s", Text(k))
	}
}
