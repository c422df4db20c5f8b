package acceptance

import (
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of the satisfaction survey (issue 15 item 3, SPEC 7),
// on a manual ticket clock: the survey goes out [survey] delay after a
// resolution, once, in the customer's language, and a reply to it is a
// rating that never reopens the ticket.

var _ = claim("[survey]: the requester gets one satisfaction survey `delay` after resolution (not before, never twice for one resolution), in the customer's language (English, Korean), with a reply address of its own; a reply to it within 28 days is a rating (1-5, good/bad, 좋아요/별로/...) with the rest as comment, recorded as `show --json` \"csat\" (a later one replaces it), whatever the ticket's status: it never reopens the ticket, opens no follow-up or new ticket and mails nobody; a reply without a rating is a private survey comment the assignee is told of; after 28 days a reply is ordinary mail again",
	"TestSurveyRatingsNeverReopen")
var _ = claim("[survey]: no survey for a ticket marked spam, merged into another, opened by bulk/machine mail, or whose requester's address bounced (the ticket says why)",
	"TestSurveyNotForSpamMergedBouncedOrMachine")
var _ = claim("[[trigger]] events \"rating\" and \"bad-rating\" (2 or less): a survey rating is a ticket update the triggers' pass sees, a bad one can tag the ticket and mail its assignee",
	"TestSurveyRatingsNeverReopen")

const surveyConfig = Staff + `
[survey]
delay = "24h"

[[trigger]]
name = "rated"
all = ["event is rating"]
actions = ["#tag rated"]

[[trigger]]
name = "bad rating"
all = ["event is bad-rating"]
actions = ["#tag bad-csat"]
notify = ["assignee"]
text = "The customer rated this ticket badly."

[testing]
clock = "manual"
`

// surveys are the survey mails addr received.
func (e *Env) surveys(addr string) []*testkit.Received {
	var out []*testkit.Received
	for _, m := range e.Mailbox(addr) {
		if strings.Contains(m.Env.Text, "How did we do?") || strings.Contains(m.Env.Text, "만족하셨나요") {
			out = append(out, m)
		}
	}
	return out
}

// answer is the customer's reply to a mail he received, quoting it.
func (e *Env) answer(from string, to *testkit.Received, body string) {
	e.T.Helper()
	quoted := "> " + strings.ReplaceAll(strings.TrimSpace(Text(to)), "\n", "\n> ")
	e.Customer(testkit.Mail{From: from, To: []string{ReplyTo(to)}, Subject: "Re: " + to.Header("Subject"),
		InReplyTo: strings.Trim(to.Header("Message-Id"), "<> "), Body: body + "\n\nOn Monday, Support wrote:\n" + quoted + "\n"})
}

func TestSurveyRatingsNeverReopen(t *testing.T) {
	e := Start(t, Options{Config: surveyConfig})
	e.MustCLI("clock", "set", "2027-01-04T09:00:00Z")
	n1 := e.Open(kenFr, "Cannot renew certificate", "The renewal page fails with an error.", vic)
	n2 := e.Open(kimFr, "인증서 갱신이 안 됩니다", "갱신 페이지에서 오류가 납니다. 도와주세요.", vic)
	e.Reply(vicFr, n1, "#assign me\n#resolved\nWe fixed the renewal page.")
	e.Reply(vicFr, n2, "#assign me\n#resolved\n갱신 페이지를 고쳤습니다.")
	if tk := e.Show(1); tk.Status != "resolved" {
		t.Fatalf("ticket 1 is %s, want resolved", tk.Status)
	}

	// Not before the delay.
	e.MustCLI("clock", "advance", "23h")
	if s := e.surveys(ken); len(s) != 0 {
		t.Fatalf("a survey came %s after resolution, before the delay of 24h", "23h")
	}
	// Once after it.
	e.MustCLI("clock", "advance", "2h")
	var sv1, sv2 *testkit.Received
	e.Eventually(20e9, func() bool { return len(e.surveys(ken)) == 1 && len(e.surveys(kim)) == 1 },
		func() string {
			return fmt.Sprintf("ken has %d surveys, kim %d", len(e.surveys(ken)), len(e.surveys(kim)))
		})
	sv1, sv2 = e.surveys(ken)[0], e.surveys(kim)[0]
	WantText(t, "Ken's survey", sv1, "#1", "Cannot renew certificate", "1 (poor) to 5 (excellent)")
	WantText(t, "Kim's survey (Korean)", sv2, "#2", "만족하셨나요", "좋아요")
	NoneOf(t, kim, sv2, "How did we do", "victoria@certs.example")
	for _, m := range []*testkit.Received{sv1, sv2} {
		if m.Header("Auto-Submitted") != "auto-generated" || !strings.HasPrefix(ReplyTo(m), "support+") {
			t.Errorf("survey %q: Auto-Submitted %q, Reply-To %q", m.Header("Subject"), m.Header("Auto-Submitted"), ReplyTo(m))
		}
	}
	if ReplyTo(sv1) == ReplyTo(e.Find(ken, "We fixed the renewal page")) {
		t.Error("the survey's reply address is the one of the agent's reply: a survey needs its own")
	}
	for _, who := range []string{vic, venkat, ada} {
		if s := e.surveys(who); len(s) != 0 {
			t.Errorf("staff %s got a survey", who)
		}
	}
	vicBefore, kenBefore, kimBefore := len(e.Mailbox(vic)), len(e.Mailbox(ken)), len(e.Mailbox(kim))

	// The ratings: a digit with a comment, a Korean word.
	e.answer(kenFr, sv1, "5\nGreat help, thanks!")
	e.answer(kimFr, sv2, "좋아요! 빨리 해결해 주셔서 감사합니다")
	for _, c := range []struct {
		n       uint64
		comment string
	}{{1, "Great help, thanks!"}, {2, "빨리 해결해 주셔서 감사합니다"}} {
		tk := e.Show(c.n)
		if tk.Status != "resolved" {
			t.Errorf("ticket %d is %s after its rating, want resolved (a rating never reopens)", c.n, tk.Status)
		}
		if tk.CSAT == nil || tk.CSAT.Rating != 5 || tk.CSAT.Comment != c.comment || tk.CSAT.At.IsZero() {
			t.Errorf("ticket %d csat = %+v, want rating 5 comment %q", c.n, tk.CSAT, c.comment)
		}
		if !hasTag(tk.Tags, "rated") || hasTag(tk.Tags, "bad-csat") {
			t.Errorf("ticket %d tags %v: want the rating trigger's tag only", c.n, tk.Tags)
		}
		last := tk.Comments[len(tk.Comments)-1]
		for _, cm := range tk.Comments {
			if cm.Reason == "survey rating 5" {
				last = cm
			}
		}
		if last.Visibility != "private" || last.Reason != "survey rating 5" {
			t.Errorf("ticket %d: the survey reply is recorded as %+v, want a private survey comment", c.n, last)
		}
	}
	if n := ticketCount(t, e); n != 2 {
		t.Errorf("%d tickets after the ratings, want 2 (a rating opens none)", n)
	}
	e.Count(vic, vicBefore)
	e.Count(ken, kenBefore)
	e.Count(kim, kimBefore)

	// Closed after auto-close, a later rating replaces the first; a bad
	// one fires the bad-rating trigger (its assignee is told), and still
	// no follow-up opens.
	e.MustCLI("clock", "advance", "120h")
	if tk := e.Show(1); tk.Status != "closed" {
		t.Fatalf("ticket 1 is %s after auto_close_after, want closed", tk.Status)
	}
	e.answer(kenFr, sv1, "1 - it broke again")
	tk := e.Show(1)
	if tk.Status != "closed" || tk.CSAT == nil || tk.CSAT.Rating != 1 || tk.CSAT.Comment != "it broke again" {
		t.Errorf("after a second rating: status %s csat %+v, want closed, rating 1 'it broke again'", tk.Status, tk.CSAT)
	}
	if !hasTag(tk.Tags, "bad-csat") || fired(tk, "bad rating") != 1 || fired(tk, "rated") != 2 {
		t.Errorf("bad rating: tags %v, fired bad rating %d, rated %d; want bad-csat, 1, 2", tk.Tags, fired(tk, "bad rating"), fired(tk, "rated"))
	}
	if n := ticketCount(t, e); n != 2 {
		t.Errorf("%d tickets after a rating of a closed ticket, want 2 (no follow-up)", n)
	}
	WantText(t, "Victoria's bad-rating mail", e.Find(vic, "bad rating"), "The customer rated this ticket badly.")
	e.Count(ken, kenBefore)

	// Never a second survey for the same resolution.
	e.MustCLI("clock", "advance", "240h")
	if s := e.surveys(ken); len(s) != 1 {
		t.Errorf("Ken got %d surveys for one resolution, want 1", len(s))
	}

	// A reply without a rating: kept, private, the assignee told.
	vicBefore = len(e.Mailbox(vic))
	e.answer(kenFr, sv1, "Who can I talk to about our invoices?")
	tk = e.Show(1)
	if tk.CSAT == nil || tk.CSAT.Rating != 1 || tk.Status != "closed" {
		t.Errorf("a reply without a rating changed csat %+v or status %s", tk.CSAT, tk.Status)
	}
	c := tk.Comments[len(tk.Comments)-1]
	if c.Visibility != "private" || c.Reason != "survey reply without a rating" || !strings.Contains(c.Text, "invoices") {
		t.Errorf("the unrated reply is %+v, want a private survey comment", c)
	}
	told := e.Count(vic, vicBefore+1)
	WantText(t, "Victoria's notice of an unrated survey reply", told[len(told)-1], "without a rating", "invoices")
	if n := ticketCount(t, e); n != 2 {
		t.Errorf("%d tickets, want 2", n)
	}
	e.Count(ken, kenBefore)

	// After 28 days the survey's address is an ordinary reply address:
	// a reply to the closed ticket opens its follow-up.
	e.MustCLI("clock", "advance", "480h")
	e.answer(kenFr, sv1, "5")
	if n := ticketCount(t, e); n != 3 {
		t.Errorf("%d tickets after a reply 31 days after the survey, want 3 (the follow-up)", n)
	}
	if tk := e.Show(1); tk.CSAT == nil || tk.CSAT.Rating != 1 {
		t.Errorf("a reply after 28 days rated the ticket: %+v", tk.CSAT)
	}
}

// dsn is an RFC 3464 report that rcpt's mail (orig) bounced.
func dsn(rcpt string, orig *testkit.Received) []byte {
	return []byte(strings.ReplaceAll(fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.e-fun.example>
To: %s
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-%s@mx.e-fun.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"

--BOUND
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered.

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.e-fun.example

Final-Recipient: rfc822; %s
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--BOUND
Content-Type: text/rfc822-headers

Message-ID: %s
Subject: %s

--BOUND--
`, ReplyTo(orig), strings.ReplaceAll(rcpt, "@", "."), rcpt, orig.Header("Message-Id"), orig.Header("Subject")), "\n", "\r\n"))
}

func TestSurveyNotForSpamMergedBouncedOrMachine(t *testing.T) {
	e := Start(t, Options{Config: surveyConfig})
	e.MustCLI("clock", "set", "2027-01-04T09:00:00Z")
	const (
		spammer = "promo@spam.example"
		bo      = "bo@gone.example"
		news    = "news@lists.example"
	)
	n1 := e.Open(kenFr, "Renewal question", "When does my certificate expire?", vic) // 1: surveyed
	n2 := e.Open("Promo <"+spammer+">", "Cheap watches", "Buy now.", vic)            // 2: spam
	n3 := e.Open(kenFr, "Second question", "Also, the invoice.", vic)                // 3: merged into 4
	e.Open(kenFr, "Third question", "And the address change.", vic)                  // 4: stays open
	n5 := e.Open("Bo <"+bo+">", "Help", "Please help.", vic)                         // 5: bounces
	// 6: bulk mail (a newsletter): no automatic answer, now or later.
	e.Customer(testkit.Mail{From: "News <" + news + ">", To: []string{"support@example.com"}, Subject: "Our January news",
		Body: "News of the month.", Headers: []string{"Precedence: bulk", "List-Id: <news.lists.example>"}})
	n6 := e.Find(vic, "Our January news")
	if len(e.Mailbox(news)) != 0 {
		t.Fatalf("the newsletter was answered")
	}
	// Bo's acknowledgement bounces: his address is marked bouncing.
	if err := e.Send("", []string{ReplyTo(e.Last(bo))}, dsn(bo, e.Last(bo))); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testkit.Received{n1, n2, n3, n5, n6} {
		e.Reply(vicFr, n, "#resolved")
	}
	e.Reply(vicFr, n2, "#spam")
	e.Reply(vicFr, n3, "#merge 4")
	for id, want := range map[uint64]string{1: "resolved", 2: "closed", 5: "resolved", 6: "resolved"} {
		if tk := e.Show(id); tk.Status != want {
			t.Fatalf("ticket %d is %s, want %s", id, tk.Status, want)
		}
	}
	if tk := e.Show(3); tk.Status == "open" {
		t.Fatalf("ticket 3 was not merged: %+v", tk.Links)
	}

	e.MustCLI("clock", "advance", "25h")
	e.Eventually(20e9, func() bool { return len(e.surveys(ken)) >= 1 }, func() string { return "ken got no survey" })
	e.MustCLI("clock", "advance", "200h")
	if s := e.surveys(ken); len(s) != 1 || !strings.Contains(s[0].Header("Subject"), "#1]") {
		var subj []string
		for _, m := range s {
			subj = append(subj, m.Header("Subject"))
		}
		t.Errorf("Ken's surveys: %q, want one, for #1 (none for the merged #3)", subj)
	}
	for _, who := range []string{spammer, bo, news} {
		if s := e.surveys(who); len(s) != 0 {
			t.Errorf("%s got a survey", who)
		}
	}
	found := false
	for _, c := range e.Show(5).Comments {
		found = found || strings.Contains(c.Text, "satisfaction survey not sent") && strings.Contains(c.Text, "bounces")
	}
	if !found {
		t.Errorf("ticket 5 does not say why no survey went out: %q", events(e.Show(5)))
	}
}

var _ = claim("[survey]: a reply that lost the survey's reply address is still a rating and never reopens: an answer to the survey mail sent to the plain support address (In-Reply-To/References name the survey), or a new mail from the requester quoting the ticket's subject tag whose text begins with a rating (\"5\", \"매우 만족\", \"excellent\", \"별로\"), within 28 days of the survey, on a resolved or closed ticket; a token-less mail without a rating is ordinary mail (it reopens as before)",
	"TestSurveyRepliesWithoutTheirToken")

// TestSurveyRepliesWithoutTheirToken: customers' mail programs drop the
// survey's Reply-To, and customers write a new mail quoting the survey's
// subject: in Korean and English, such replies are ratings too.
func TestSurveyRepliesWithoutTheirToken(t *testing.T) {
	e := Start(t, Options{Config: surveyConfig})
	e.MustCLI("clock", "set", "2027-01-04T09:00:00Z")
	n1 := e.Open(kenFr, "Cannot renew certificate", "The renewal page fails with an error.", vic)
	n2 := e.Open(kimFr, "인증서 갱신이 안 됩니다", "갱신 페이지에서 오류가 납니다. 도와주세요.", vic)
	n3 := e.Open(kenFr, "Invoice address", "Please change our invoice address.", vic)
	for _, n := range []*testkit.Received{n1, n2, n3} {
		e.Reply(vicFr, n, "#assign me\n#resolved\nDone.")
	}
	e.MustCLI("clock", "advance", "25h")
	e.Eventually(20e9, func() bool { return len(e.surveys(ken)) == 2 && len(e.surveys(kim)) == 1 },
		func() string {
			return fmt.Sprintf("ken has %d surveys, kim %d", len(e.surveys(ken)), len(e.surveys(kim)))
		})
	var sv1, sv3 *testkit.Received
	for _, m := range e.surveys(ken) {
		if strings.Contains(m.Header("Subject"), "Invoice") {
			sv3 = m
		} else {
			sv1 = m
		}
	}
	sv2 := e.surveys(kim)[0]
	vicBefore, kenBefore, kimBefore := len(e.Mailbox(vic)), len(e.Mailbox(ken)), len(e.Mailbox(kim))

	// Ken's mail program answers the survey at its From address, the
	// plain support address: In-Reply-To names the survey.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Re: " + sv1.Header("Subject"),
		InReplyTo: strings.Trim(sv1.Header("Message-Id"), "<> "), Body: "Excellent, thank you\n\n> " + strings.ReplaceAll(Text(sv1), "\n", "\n> ")})
	// Kim writes a new mail quoting the survey's subject.
	e.Customer(testkit.Mail{From: kimFr, To: []string{"support@example.com"}, Subject: "Re: " + sv2.Header("Subject"), Body: "매우 만족"})
	// Ken answers the other survey, token-less, with no rating: it is
	// still his answer to the survey (a private survey comment).
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Re: " + sv3.Header("Subject"),
		InReplyTo: strings.Trim(sv3.Header("Message-Id"), "<> "), Body: "Who do I ask about the contract?"})
	for _, c := range []struct {
		n       uint64
		rating  int
		comment string
	}{{1, 5, "thank you"}, {2, 5, ""}} {
		tk := e.Show(c.n)
		if tk.Status != "resolved" {
			t.Errorf("ticket %d is %s after a token-less rating, want resolved (a rating never reopens)", c.n, tk.Status)
		}
		if tk.CSAT == nil || tk.CSAT.Rating != c.rating || tk.CSAT.Comment != c.comment {
			t.Errorf("ticket %d csat = %+v, want rating %d comment %q", c.n, tk.CSAT, c.rating, c.comment)
		}
		if !hasTag(tk.Tags, "rated") {
			t.Errorf("ticket %d tags %v: the rating trigger did not fire", c.n, tk.Tags)
		}
	}
	tk := e.Show(3)
	if tk.Status != "resolved" || tk.CSAT != nil {
		t.Errorf("ticket 3: status %s csat %+v after an unrated answer to its survey, want resolved and no rating", tk.Status, tk.CSAT)
	}
	if c := tk.Comments[len(tk.Comments)-1]; c.Visibility != "private" || c.Reason != "survey reply without a rating" || !strings.Contains(c.Text, "contract") {
		t.Errorf("the unrated token-less answer is %+v, want a private survey comment", c)
	}
	if n := ticketCount(t, e); n != 3 {
		t.Errorf("%d tickets after token-less ratings, want 3 (none opened)", n)
	}
	told := e.Count(vic, vicBefore+1) // the unrated answer only
	WantText(t, "Victoria's notice of the unrated answer", told[len(told)-1], "without a rating", "contract")
	e.Count(ken, kenBefore)
	e.Count(kim, kimBefore)

	// Closed by auto-close: a new mail with a bad rating replaces the
	// rating and opens no follow-up.
	e.MustCLI("clock", "advance", "120h")
	if tk := e.Show(2); tk.Status != "closed" {
		t.Fatalf("ticket 2 is %s after auto_close_after, want closed", tk.Status)
	}
	e.Customer(testkit.Mail{From: kimFr, To: []string{"support@example.com"}, Subject: "Re: " + sv2.Header("Subject"), Body: "별로 - 또 오류가 납니다"})
	if tk := e.Show(2); tk.Status != "closed" || tk.CSAT == nil || tk.CSAT.Rating != 1 || tk.CSAT.Comment != "또 오류가 납니다" || !hasTag(tk.Tags, "bad-csat") {
		t.Errorf("ticket 2 after a token-less bad rating: status %s csat %+v tags %v, want closed, rating 1 '또 오류가 납니다', bad-csat", tk.Status, tk.CSAT, tk.Tags)
	}
	if n := ticketCount(t, e); n != 3 {
		t.Errorf("%d tickets after a token-less rating of a closed ticket, want 3 (no follow-up)", n)
	}

	// A token-less mail that is no rating is ordinary mail: on the
	// closed ticket it opens the follow-up, as before.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Re: " + sv1.Header("Subject"), Body: "The renewal page fails again."})
	if n := ticketCount(t, e); n != 4 {
		t.Errorf("%d tickets after a token-less mail without a rating on a closed ticket, want 4 (its follow-up)", n)
	}
	if tk := e.Show(1); tk.CSAT == nil || tk.CSAT.Rating != 5 {
		t.Errorf("ticket 1 csat %+v: ordinary mail changed the rating", tk.CSAT)
	}

	// After 28 days a rating-like mail is ordinary mail again.
	e.MustCLI("clock", "advance", "600h")
	e.Customer(testkit.Mail{From: kimFr, To: []string{"support@example.com"}, Subject: "Re: " + sv2.Header("Subject"), Body: "5"})
	if tk := e.Show(2); tk.CSAT == nil || tk.CSAT.Rating != 1 {
		t.Errorf("a token-less rating 31 days after the survey rated the ticket: %+v", tk.CSAT)
	}
	if n := ticketCount(t, e); n != 5 {
		t.Errorf("%d tickets after a rating-like mail 31 days after the survey, want 5 (a follow-up)", n)
	}
}
