package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("quoted history is stripped from replies written on phones (an attribution above an unquoted original); a forwarded message is content and stays",
	"TestPhoneReplyKeepsOnlyNewText")

// A customer answering from a phone: Gmail for Android puts "On <date>,
// <name> <addr> wrote:" above the original without ">" marks. The ticket
// keeps only the new text, and the agent's notification carries only it;
// a forwarded message in a customer's mail is content and stays.
func TestPhoneReplyKeepsOnlyNewText(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Certificate", Body: "Please issue a certificate.\n"})
	ack := e.Find("ken@e-fun.example", "[#1]")
	orig := strings.TrimSpace(ack.Env.Text)
	body := "Thanks, that fixed it.\n\nOn Mon, Dec 7, 2026, 3:04 PM Certs Support <support@example.com> wrote:\n\n" + orig + "\n"
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(ack)},
		Subject: "Re: " + ack.Header("Subject"), Body: body})
	tk := e.Show(1)
	last := tk.Comments[len(tk.Comments)-1]
	if last.Text != "Thanks, that fixed it." {
		t.Fatalf("stored text %q, want only the new text", last.Text)
	}
	if tk.Assignee != "" {
		n := e.Find(tk.Assignee, "Thanks, that fixed it.")
		if strings.Contains(n.Env.Text, "wrote:") {
			t.Errorf("the agent's notification carries the quoted history:\n%s", n.Env.Text)
		}
	}

	fwd := "Please look at the error our bank sent.\n\n---------- Forwarded message ---------\nFrom: Bank <noreply@bank.example>\nDate: Mon, Dec 7, 2026 at 9:00 AM\nSubject: Payment failed\nTo: <ken@e-fun.example>\n\nYour payment of 120 EUR failed.\n"
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(ack)},
		Subject: "Re: " + ack.Header("Subject"), Body: fwd})
	tk = e.Show(1)
	last = tk.Comments[len(tk.Comments)-1]
	if !strings.Contains(last.Text, "Your payment of 120 EUR failed.") {
		t.Fatalf("a forwarded message was cut from the customer's text: %q", last.Text)
	}
}
