package acceptance

import (
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

// Staff authentication (SPEC 5) for the commands on customer data (SPEC
// 8) and reports (SPEC 9): a mail that only says it is from an admin
// reads and changes nothing of either.

var _ = claim("a mail that claims an admin's address but fails staff authentication runs none of #customer, #customer erase or #report: the profile is unchanged, no erase code is issued, no report is mailed to anyone; it is quarantined, the customer gets nothing, and the admin gets the one notice, which carries no attachment and no profile data; the same lines signed by the admin do run",
	"TestForgedStaffMailRunsNoCustomerOrReportCommand")

func TestForgedStaffMailRunsNoCustomerOrReportCommand(t *testing.T) {
	e := Start(t, Options{})
	e.Open(kenFr, "Certificate renewal", "Please renew www.e-fun.example.", vic)
	had := map[string]int{}
	for _, who := range []string{ken, vic, venkat, lena, ada} {
		had[who] = len(e.Mailbox(who))
	}

	// Unsigned: nothing but the From line says Ada.
	e.Customer(testkit.Mail{From: "Ada <ada@certs.example>", To: []string{"support@example.com"}, Subject: "profile",
		Body: "#ticket 1\n#customer tag +forged\n#customer note forged note\n#customer lang ko\n#customer erase\n#report week\n#customer\n"})

	qs := quarantined(e)
	if len(qs) != 1 || qs[0].Reason != model.QAuth || qs[0].From != ada {
		t.Fatalf("helpdesk quarantine: %+v, want the forged mail as failed staff authentication", qs)
	}
	if p := e.Profile(ken); len(p.Tags) != 0 || len(p.Notes) != 0 || p.Language != "" {
		t.Errorf("the forged mail changed Ken's profile: %+v", p)
	}
	if tk := e.Show(1); len(tk.Comments) != 1 {
		t.Errorf("the forged mail reached ticket 1: %d comments", len(tk.Comments))
	}
	var erasures []model.Erasure
	e.JSON(&erasures, "erasures")
	if len(erasures) != 0 {
		t.Errorf("erasures after the forged mail: %+v", erasures)
	}
	for _, who := range []string{ken, vic, venkat, lena} {
		if ms := e.Mailbox(who); len(ms) != had[who] {
			t.Errorf("%s got %d mails after the forged one, want none: %q", who, len(ms)-had[who], ms[len(ms)-1].Header("Subject"))
		}
	}
	ms := e.Count(ada, had[ada]+1)
	if len(ms) == had[ada]+1 {
		notice := ms[len(ms)-1]
		WantText(t, "Ada's notice", notice, "not accepted")
		if len(notice.Env.Attachments) != 0 {
			t.Errorf("the notice carries %d attachments", len(notice.Env.Attachments))
		}
		NoneOf(t, "Ada's notice", notice, "erase confirm", "report by", "Customer Ken", "Tickets requested")
	}

	// Signed by Ada, the same kind of lines run.
	e.Fresh("Ada <ada@certs.example>", "profile", "#ticket 1\n#customer tag +vip\n#report week\n")
	if p := e.Profile(ken); !slices.Equal(p.Tags, []string{"vip"}) {
		t.Errorf("Ada's signed #customer tag: profile tags %q", p.Tags)
	}
	tr := e.Last(ada)
	if len(tr.Env.Attachments) != 1 || !strings.HasPrefix(tr.Env.Attachments[0].FileName, "report-") {
		t.Errorf("Ada's signed #report: %d attachments in %q", len(tr.Env.Attachments), tr.Header("Subject"))
	}
}
