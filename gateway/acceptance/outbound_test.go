package acceptance

import (
	"net/mail"
	"strings"
	"testing"

	"helpdesk/gateway/testkit"
)

// rcptArg returns the mails whose RCPT TO argument was exactly arg.
func rcptArg(s *testkit.Sink, arg string) []*testkit.Received {
	var out []*testkit.Received
	for _, m := range s.All() {
		for _, a := range m.RcptArgs {
			if a == arg {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// A quoted local part containing "@" and ">" goes out quoted (RFC 5321
// Quoted-string) in RCPT TO and in the To header, so a lenient relay
// cannot read it as another address; a mixed-case local part keeps its
// case on the wire while identity stays case-insensitive.
func TestOutboundAddressesQuotedAndCaseKept(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: `Eve <"evil@attacker.example>"@e-fun.example>`, To: []string{"support@example.com"},
		Subject: "Quoted local part", Body: "Hello from a quoted local part.\n"})
	e.Customer(testkit.Mail{From: "Ken Smith <Ken.Smith@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Mixed case", Body: "Hello from Ken.\n"})

	const quoted = `"evil@attacker.example>"@e-fun.example`
	got := rcptArg(e.Sink, quoted)
	if len(got) != 1 {
		var args []string
		for _, m := range e.Sink.All() {
			args = append(args, m.RcptArgs...)
		}
		t.Fatalf("want one mail with RCPT TO:<%s>, got %d; RCPT arguments seen: %q\n%s", quoted, len(got), args, e.MustCLI("outbox"))
	}
	ack := got[0]
	if !strings.Contains(ack.Header("Subject"), "[#1]") {
		t.Errorf("mail to the quoted address is not the acknowledgement of #1: %q", ack.Header("Subject"))
	}
	to, err := mail.ParseAddress(ack.Header("To"))
	if err != nil || to.Address != "evil@attacker.example>@e-fun.example" {
		t.Errorf("acknowledgement To %q does not parse back to the customer's address: %v %v", ack.Header("To"), to, err)
	}
	if m := rcptArg(e.Sink, "evil@attacker.example"); len(m) != 0 {
		t.Errorf("%d mails went to evil@attacker.example", len(m))
	}

	kens := rcptArg(e.Sink, "Ken.Smith@e-fun.example")
	if len(kens) != 1 {
		t.Fatalf("want the acknowledgement at RCPT TO:<Ken.Smith@e-fun.example> (case kept), got %d", len(kens))
	}
	if h := kens[0].Header("To"); !strings.Contains(h, "<Ken.Smith@e-fun.example>") {
		t.Errorf("acknowledgement To %q lost the local part's case", h)
	}
	if tk := e.Show(2); tk.Requester != "ken.smith@e-fun.example" {
		t.Errorf("requester of #2 is %q; identity should stay the comparison form", tk.Requester)
	}
	// Identity stays case-insensitive: another spelling lands on #2.
	e.Customer(testkit.Mail{From: "KEN.SMITH@E-FUN.EXAMPLE", To: []string{"support@example.com"},
		Subject: "Re: [#2] Mixed case", Body: "Same person.\n"})
	if n := len(e.Show(2).Comments); n < 2 {
		t.Errorf("a reply spelled in capitals did not land on #2 (%d comments)", n)
	}
}
