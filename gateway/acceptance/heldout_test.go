package acceptance

import (
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// Held-out checks of issue 14 played from the outside: what a new user
// tried with the built binary on a manual clock, and found wrong.

var _ = claim("an automation on \"updated more than 2h ago\" fires once per condition epoch: a customer's comment (an update) ends the epoch, so it fires again 2h after it; meanwhile its own tag and the days that pass fire nothing",
	"TestAutomationUpdatedEpochEndsOnUpdate")

const staleUpdated = Staff + `
[[automation]]
name = "stale-open"
all = ["status is open", "updated more than 2h ago"]
actions = ["#tag stale"]
notify = ["victoria@certs.example"]
text = "No update for 2 hours."

[testing]
clock = "manual"
`

func TestAutomationUpdatedEpochEndsOnUpdate(t *testing.T) {
	e := Start(t, Options{Config: staleUpdated})
	e.MustCLI("clock", "set", "2027-04-05T07:00:00Z")
	e.Open(kenFr, "Renew our certificate", "It expires on Friday.", vic)
	// 2h after creation: the first epoch's firing; 3 more days fire nothing
	// (the rule's own #tag is no update).
	if out := e.MustCLI("clock", "set", "2027-04-05T09:01:00Z"); !strings.Contains(out, "1 fired") {
		t.Fatalf("09:01: %q", out)
	}
	if out := e.MustCLI("clock", "advance", "72h"); !strings.Contains(out, "0 fired") {
		t.Fatalf("72h later: %q", out)
	}
	// Thursday 09:01: Ken writes again (an update: the condition is
	// false, the epoch ends); 2h later it holds again: a new epoch fires.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Re: [#1] Renew our certificate", Body: "Any news?"})
	if tk := e.Show(1); tk.Comments[len(tk.Comments)-1].Text != "Any news?" {
		t.Fatalf("Ken's comment did not land on #1: %s", e.MustCLI("show", "1"))
	}
	e.MustCLI("clock", "advance", "1h59m")
	if got := autoFired(e.Show(1), "stale-open"); len(got) != 1 {
		t.Fatalf("1h59m after Ken's comment: %d firings, want 1", len(got))
	}
	e.MustCLI("clock", "advance", "2m")
	fired := autoFired(e.Show(1), "stale-open")
	want := time.Date(2027, 4, 8, 11, 1, 0, 0, time.UTC)
	if len(fired) != 2 || !fired[1].Created.Equal(want) {
		t.Fatalf("after Ken's comment: firings %+v, want a second at %s (2h after his comment)", fired, want)
	}
	e.Settle()
	if got := e.autoMails(vic, "stale-open"); got != 2 {
		t.Errorf("victoria got %d stale-open mails, want 2 (one per epoch)", got)
	}
}

var _ = claim("SLA notices are no update for automations: \"updated more than 2h ago\" counts from the last person's or mail's update, not from a warning or breach notice the SLA timers wrote",
	"TestAutomationUpdatedIgnoresSLANotices")

func TestAutomationUpdatedIgnoresSLANotices(t *testing.T) {
	e := Start(t, Options{Config: staleUpdated + `
[[sla]]
name = "all"
first_reply = "1h"
`})
	e.MustCLI("clock", "set", "2027-04-05T07:00:00Z")
	e.Open(kenFr, "Renew our certificate", "It expires on Friday.", vic)
	// Warning at 07:45, breach at 08:00, the automation at 09:00.
	e.MustCLI("clock", "set", "2027-04-05T09:00:00Z")
	tk := e.Show(1)
	fired := autoFired(tk, "stale-open")
	want := time.Date(2027, 4, 5, 9, 0, 0, 0, time.UTC)
	if len(fired) != 1 || !fired[0].Created.Equal(want) {
		t.Fatalf("firings %+v, want one at %s (2h after Ken's mail; the SLA notices at 07:45 and 08:00 are no update)\n%s", fired, want, e.MustCLI("show", "1"))
	}
}
