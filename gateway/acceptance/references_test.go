package acceptance

import (
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("mail a person wrote (an agent's public reply, a side-thread message) carries no Auto-Submitted header; acknowledgements, notifications and transcripts do",
	"TestHumanMailHasNoAutoSubmitted")
var _ = claim("every outbound mail carries a References chain for its recipient (first Message-ID kept, newest ones, the whole line within 998 characters), so clients show one conversation per ticket",
	"TestReferencesChainPerRecipient")

func refsOf(m *testkit.Received) []string {
	var out []string
	for _, f := range strings.Fields(m.Header("References")) {
		out = append(out, strings.Trim(f, "<>"))
	}
	return out
}

func TestHumanMailHasNoAutoSubmitted(t *testing.T) {
	e := Start(t, Options{})
	n := openTicket(t, e, "Ken <ken@e-fun.example>", "Printer jam")
	if got := n.Header("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("notification Auto-Submitted %q, want auto-generated", got)
	}
	ack := e.Find("ken@e-fun.example", "[#1]")
	if got := ack.Header("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("acknowledgement Auto-Submitted %q, want auto-replied", got)
	}
	replyTo(e, n, "Please open the front cover and remove the paper.\n")
	reply := e.Find("ken@e-fun.example", "front cover")
	if h := reply.Header("Auto-Submitted"); h != "" {
		t.Errorf("the agent's reply carries Auto-Submitted: %s", h)
	}
	replyTo(e, n, "#forward parts@vendor.example\nDo you have a roller for the P-100?\n")
	side := e.Find("parts@vendor.example", "roller")
	if h := side.Header("Auto-Submitted"); h != "" {
		t.Errorf("the side-thread message carries Auto-Submitted: %s", h)
	}
	replyTo(e, n, "#priorty high\n")
	tr := e.Find("victoria@certs.example", "Commands not applied")
	if got := tr.Header("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("transcript Auto-Submitted %q, want auto-replied", got)
	}
}

func TestReferencesChainPerRecipient(t *testing.T) {
	e := Start(t, Options{})
	root := e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"}, Subject: "VPN drops", Body: "The VPN drops every hour.\n"})
	ack := e.Find("ken@e-fun.example", "[#1]")
	n1 := e.Find("victoria@certs.example", "VPN drops")

	replyTo(e, n1, "Which client version do you use?\n")
	r1 := e.Find("ken@e-fun.example", "client version")
	for _, id := range []string{root, msgID(ack)} {
		if !slices.Contains(refsOf(r1), id) {
			t.Errorf("the agent's reply to the customer does not reference %s: %v", id, refsOf(r1))
		}
	}
	if refsOf(r1)[0] != root {
		t.Errorf("References does not start with the customer's first Message-ID: %v", refsOf(r1))
	}

	kenReply := e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{ReplyTo(r1)}, Subject: "Re: " + r1.Header("Subject"),
		InReplyTo: msgID(r1), References: append(refsOf(r1), msgID(r1)), Body: "Version 5.2.\n"})
	n2 := e.Find("victoria@certs.example", "Version 5.2")
	if !slices.Contains(refsOf(n2), msgID(n1)) {
		t.Errorf("the agent's second notification does not reference the first (%s): %v", msgID(n1), refsOf(n2))
	}

	replyTo(e, n2, "Please update to 5.3.\n")
	r2 := e.Find("ken@e-fun.example", "update to 5.3")
	for _, id := range []string{root, msgID(ack), msgID(r1), kenReply} {
		if !slices.Contains(refsOf(r2), id) {
			t.Errorf("the second reply does not reference %s: %v", id, refsOf(r2))
		}
	}
	if got := strings.Trim(r2.Header("In-Reply-To"), "<>"); got != kenReply {
		t.Errorf("In-Reply-To %q, want the customer's latest mail %q", got, kenReply)
	}
	for _, m := range append(e.Mailbox(ken), e.Mailbox(vic)...) {
		refs := refsOf(m)
		if irt := strings.Trim(m.Header("In-Reply-To"), "<>"); irt != "" && len(refs) > 0 && refs[len(refs)-1] != irt {
			t.Errorf("%q: In-Reply-To %s is not the last of References %v", m.Header("Subject"), irt, refs)
		}
	}

	// A long conversation: the line stays within 998 characters and keeps
	// the first Message-ID and the newest.
	for i := 0; i < 25; i++ {
		replyTo(e, n2, "Update "+strings.Repeat("x", i)+" done?\n")
	}
	ms := e.Mailbox("ken@e-fun.example")
	last, prev := ms[len(ms)-1], ms[len(ms)-2]
	refs := refsOf(last)
	if refs[0] != root || !slices.Contains(refs, msgID(prev)) {
		t.Errorf("long chain lost the first or the newest: first %s, want %s; has previous %v", refs[0], root, slices.Contains(refs, msgID(prev)))
	}
	for _, l := range strings.Split(string(last.Raw), "\r\n") {
		if len(l) > 998 {
			t.Errorf("a header line of %d characters", len(l))
		}
	}
	if len("References: "+last.Header("References")) > 998 {
		t.Errorf("References is %d characters long unfolded", len(last.Header("References")))
	}
}
