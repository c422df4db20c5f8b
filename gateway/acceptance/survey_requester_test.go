package acceptance

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("[survey]: the survey and its rating are the requester's: a CC of the ticket gets no survey, and a CC's token-less mail answering the survey (In-Reply-To names it, text \"1\") is no rating: the requester's rating stands and the mail is kept as ordinary mail",
	"TestSurveyIsTheRequesters")

// The survey is the requester's (SPEC 7: "the requester answers by
// replying with a rating"); the token-less path (tokenlessSurveyTicket)
// checks the sender, no test sent it a CC's mail.
func TestSurveyIsTheRequesters(t *testing.T) {
	const boss, bossFr = "boss@e-fun.example", "Boss <boss@e-fun.example>"
	e := Start(t, Options{Config: surveyConfig})
	e.MustCLI("clock", "set", "2027-01-04T09:00:00Z")
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Cc: []string{bossFr},
		Subject: "Cannot renew certificate", Body: "The renewal page fails with an error."})
	n := e.Find(vic, "Cannot renew certificate")
	e.Reply(vicFr, n, "#assign me\n#resolved\nDone.")
	e.MustCLI("clock", "advance", "25h")
	e.Eventually(20e9, func() bool { return len(e.surveys(ken)) == 1 },
		func() string { return fmt.Sprintf("ken has %d surveys", len(e.surveys(ken))) })
	sv := e.surveys(ken)[0]
	if got := e.surveys(boss); len(got) != 0 {
		t.Errorf("the CC got %d surveys, want none", len(got))
	}

	// Ken rates token-less; then the boss, who saw the survey forwarded,
	// answers it at the support address.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Re: " + sv.Header("Subject"), Body: "5"})
	if tk := e.Show(1); tk.CSAT == nil || tk.CSAT.Rating != 5 {
		t.Fatalf("Ken's token-less rating: csat %+v, want 5", tk.CSAT)
	}
	e.Customer(testkit.Mail{From: bossFr, To: []string{"support@example.com"}, Subject: "Re: " + sv.Header("Subject"),
		InReplyTo: strings.Trim(sv.Header("Message-Id"), "<> "), Body: "1\n\nThis took far too long."})
	tk := e.Show(1)
	if tk.CSAT == nil || tk.CSAT.Rating != 5 {
		t.Errorf("after the CC's answer to the survey: csat %+v, want Ken's 5", tk.CSAT)
	}
	if hasTag(tk.Tags, "bad-csat") {
		t.Errorf("the CC's mail counted as a bad rating: tags %v", tk.Tags)
	}
	kept := false
	for _, c := range tk.Comments {
		if strings.Contains(c.Text, "far too long") {
			kept = true
			if c.Reason != "" && strings.HasPrefix(c.Reason, "survey") {
				t.Errorf("the CC's mail is a survey record: %+v", c)
			}
		}
	}
	if !kept && ticketCount(t, e) != 2 {
		t.Errorf("the CC's mail is neither on ticket 1 nor a ticket of its own (%d tickets)", ticketCount(t, e))
	}
}
