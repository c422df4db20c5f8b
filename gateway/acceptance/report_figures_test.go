package acceptance

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
)

var (
	_ = claim("a report's sla_breaches_* columns count the SLA breaches recorded in the period, and csat_count and csat_good_percent the ratings given in it (each ticket's latest; good is 4 or 5), in #report's CSV and in `helpdesk report`",
		"TestReportCountsBreachesAndRatings")
	_ = claim("[[trigger]] event sla-breach: an SLA breach is a ticket update the triggers' pass sees (a trigger on \"event is sla-breach\" tags the breached ticket only)",
		"TestReportCountsBreachesAndRatings")
)

// reportBreachesAndRatings: a 24/7 first-reply target of an hour, a
// survey an hour after resolution, a trigger on the breach event.
const reportBreachesAndRatings = Staff + `
[survey]
delay = "1h"

[[sla]]
name = "standard"
first_reply = "1h"
warn_at = "off"

[[trigger]]
name = "breached"
all = ["event is sla-breach"]
actions = ["#tag breached"]

[testing]
clock = "manual"
`

// Three tickets on one morning: Lee's gets no answer and breaches its
// first-reply target; Ken's and Kim's are answered and resolved at once,
// rated from their surveys (Ken changes his mind: 1, then 5; Kim gives
// 2). The report of the day counts one first-reply breach and two
// ratings, half of them good.
func TestReportCountsBreachesAndRatings(t *testing.T) {
	e := Start(t, Options{Config: reportBreachesAndRatings})
	const lee, leeFr = "lee@e-fun.example", "Lee <lee@e-fun.example>"
	e.MustCLI("clock", "set", "2027-01-04T09:00:00Z")
	e.Open(leeFr, "Printer says PC LOAD LETTER", "What does it mean?", vic)
	n2 := e.Open(kenFr, "Cannot renew certificate", "The renewal page fails.", vic)
	n3 := e.Open(kimFr, "인증서 갱신 오류", "갱신이 안 됩니다.", vic)
	e.Reply(vicFr, n2, "#assign me\n#resolved\nWe fixed the renewal page.")
	e.Reply(vicFr, n3, "#assign me\n#resolved\n갱신 페이지를 고쳤습니다.")

	// One minute before the deadline nothing is breached.
	e.MustCLI("clock", "advance", "59m")
	wantSLAMails(t, e, "09:59", nil)
	if tk := e.Show(1); hasTag(tk.Tags, "breached") {
		t.Fatalf("ticket 1 tagged breached before its deadline: %q", tk.Tags)
	}

	// At 10:00 ticket 1's first reply is breached: a notice to the
	// group's agents (it is unassigned), none to any customer; the
	// trigger sees the breach event of that ticket only. The surveys of
	// tickets 2 and 3 fall due at the same minute.
	e.MustCLI("clock", "advance", "2m")
	breach := []string{"SLA breach"}
	wantSLAMails(t, e, "10:01", map[string][]string{vic: breach, venkat: breach, ada: breach})
	for _, who := range []string{lee, ken, kim} {
		if got := slaMails(e, who); len(got) != 0 {
			t.Errorf("customer %s got an SLA mail: %q", who, got[0].Header("Subject"))
		}
	}
	for n, want := range map[uint64]bool{1: true, 2: false, 3: false} {
		if tk := e.Show(n); hasTag(tk.Tags, "breached") != want || (fired(tk, "breached") == 1) != want {
			t.Errorf("ticket %d: tags %q, trigger fired %d times; want breached %v", n, tk.Tags, fired(tk, "breached"), want)
		}
	}

	e.Eventually(20e9, func() bool { return len(e.surveys(ken)) == 1 && len(e.surveys(kim)) == 1 },
		func() string { return "the surveys of tickets 2 and 3 did not arrive" })
	e.answer(kenFr, e.surveys(ken)[0], "1\nStill broken.")
	e.answer(kenFr, e.surveys(ken)[0], "5\nIt works now, my mistake.")
	e.answer(kimFr, e.surveys(kim)[0], "2\n느렸어요.")
	if r2, r3 := e.Show(2).CSAT, e.Show(3).CSAT; r2 == nil || r2.Rating != 5 || r3 == nil || r3.Rating != 2 {
		t.Fatalf("ratings: ticket 2 %+v, ticket 3 %+v; want 5 and 2", r2, r3)
	}

	// The admin asks by mail for the day by mailboxes, a minute later
	// (today's report ends at the clock's now, exclusive: on a manual
	// clock that has not moved, the ratings' own instant).
	e.MustCLI("clock", "advance", "1m")
	e.Fresh("Ada <ada@certs.example>", "numbers", "#report today mailboxes\n")
	_, data := attachment(t, e.Find(ada, "report by mailboxes"))
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("report by mailboxes (%v): %d records, want a header and one row\n%s", err, len(recs), data)
	}
	col := func(name string) string {
		i := slices.Index(recs[0], name)
		if i < 0 {
			t.Fatalf("no column %q in %q", name, recs[0])
		}
		return recs[1][i]
	}
	for name, want := range map[string]string{
		"key": "support@example.com", "received": "3", "resolved": "2",
		"sla_breaches_first_reply": "1", "sla_breaches_next_reply": "0",
		"sla_breaches_periodic_update": "0", "sla_breaches_resolution": "0",
		"csat_count": "2", "csat_good_percent": "50.0",
	} {
		if got := col(name); got != want {
			t.Errorf("report by mailboxes: %s = %q, want %q", name, got, want)
		}
	}
	// The CLI prints the same CSV.
	if out := e.MustCLI("report", "--period", "today", "--by", "mailboxes"); out != string(data) {
		t.Errorf("helpdesk report --period today --by mailboxes:\n%q\nthe mailed CSV:\n%q", out, data)
	}
	// Nobody but the admin got the report.
	for _, who := range []string{vic, venkat, lee, ken, kim} {
		for _, m := range e.Mailbox(who) {
			if len(m.Env.Attachments) != 0 {
				t.Errorf("%s got a mail with an attachment: %q", who, m.Header("Subject"))
			}
		}
	}
}
