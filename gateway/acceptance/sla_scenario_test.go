package acceptance

import (
	"testing"
	"time"
)

var _ = claim("the issue's check as one scenario, in New York (spring-forward on the way): a ticket opened Friday evening before a Monday holiday waits for Tuesday's opening, pauses in pending, its priority raised mid-way moves its deadlines (recomputed from the start), the daemon restarts while a warning is due and is down when a breach falls due: each notice once, at its business instant, to the assignee and escalate_to only, the JSON and the events matching; an automation that stays true (\"priority is urgent\") fires once per condition epoch across days and restarts",
	"TestSLAHeldOutScenarioNewYork")

// slaNewYork: a New York office (Monday 2027-03-15, the day after the
// clocks spring forward, a holiday), a policy per priority, urgent
// escalating to the team lead, and an automation whose condition holds
// for as long as the ticket is urgent.
const slaNewYork = Staff + `
[[agent]]
name = "Lea Lead"
email = "lead@certs.example"
role = "admin"

[[calendar]]
name = "ny"
time_zone = "America/New_York"
hours = ["mon-fri 09:00-17:00"]
holidays = ["2027-03-15"]

[[sla]]
name = "urgent"
priority = ["urgent"]
calendar = "ny"
first_reply = "2h"
resolution = "8h"
escalate_to = "lead@certs.example"

[[sla]]
name = "normal"
priority = ["normal", "high", "low"]
calendar = "ny"
first_reply = "4h"
resolution = "16h"

[[automation]]
name = "urgent open"
all = ["priority is urgent"]
actions = ["#tag escalated"]
notify = ["lead@certs.example"]
text = "An urgent ticket needs you."

[testing]
clock = "manual"
`

func TestSLAHeldOutScenarioNewYork(t *testing.T) {
	e := Start(t, Options{Config: slaNewYork})
	est := func(s string) string { return s + "-05:00" }
	edt := func(s string) string { return s + "-04:00" }

	// Friday 2027-03-12 18:30 EST, after hours; Sunday the clocks spring
	// forward, Monday is a holiday. Unassigned.
	e.MustCLI("clock", "set", est("2027-03-12T18:30:00"))
	n1 := e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	// First reply 4h from Tuesday 09:00 EDT: due 13:00 EDT.
	wantTarget(t, e, 1, "normal", "first-reply", edt("2027-03-16T13:00:00"), 4*3600, false, false, false)
	wantTarget(t, e, 1, "normal", "resolution", edt("2027-03-17T17:00:00"), 16*3600, false, false, false)

	// The weekend, the spring-forward and the holiday pass: nothing.
	e.MustCLI("clock", "set", edt("2027-03-16T09:30:00"))
	wantSLAMails(t, e, "Tuesday 09:30", nil)

	// Victoria takes it and sets it pending: the resolution pauses after
	// 30 business minutes, the first reply does not (a status change is
	// not a reply).
	e.Reply(vicFr, n1, "#assign me\n#pending\n")
	wantTarget(t, e, 1, "normal", "resolution", "", 16*3600-1800, true, false, false)
	wantTarget(t, e, 1, "normal", "first-reply", edt("2027-03-16T13:00:00"), 3*3600+1800, false, false, false)

	// 10:00 the priority is raised: urgent's 2h first reply counts from
	// Tuesday 09:00 too: due 11:00, its warning (75%) at 10:30. The
	// automation fires at once, and only once.
	e.MustCLI("clock", "set", edt("2027-03-16T10:00:00"))
	e.Reply(vicFr, n1, "#priority urgent\n")
	wantTarget(t, e, 1, "urgent", "first-reply", edt("2027-03-16T11:00:00"), 3600, false, false, false)
	e.Eventually(30*time.Second, func() bool { return len(firedAt(e, 1, "urgent open")) == 1 }, func() string { return e.MustCLI("show", "1") })
	wantInstants(t, "the raise", `"urgent open"`, firedAt(e, 1, "urgent open"), "2027-03-16T14:00:00Z")

	// A restart while the warning is due (a minute later); then the
	// clock passes it: it goes out once, at 10:30.
	e.MustCLI("clock", "set", edt("2027-03-16T10:29:00"))
	wantSLAMails(t, e, "10:29", nil)
	e.Restart()
	e.MustCLI("clock", "set", edt("2027-03-16T10:45:00"))
	w := []string{"SLA warning: first reply due soon"}
	want := map[string][]string{vic: w, lead: slicesClone(w)}
	wantSLAMails(t, e, "10:45 warning", want)
	if ms := slaMails(e, vic); len(ms) == 1 {
		WantText(t, "the warning", ms[0], `policy "urgent"`, "first reply due in 30m (business hours)", "Deadline: Tue 2027-03-16 11:00 EDT")
	}
	// Down while the breach falls due (11:00): once, when it runs again.
	firstReplyBreachWhileDown(t, e, want, edt("2027-03-16T10:50:00"), edt("2027-03-16T11:10:00"), edt("2027-03-16T11:10:00"))

	// Victoria answers at 11:10: met, 10 minutes late; the breach stays.
	// The resolution stays paused (pending) with 7.5h left.
	e.Reply(vicFr, n1, "We are renewing it now.\n")
	wantTarget(t, e, 1, "urgent", "first-reply", edt("2027-03-16T11:00:00"), -600, false, true, true)
	wantTarget(t, e, 1, "urgent", "resolution", "", 8*3600-1800, true, false, false)

	// Ken answers Wednesday 10:00 (it reopens): 7.5h left, due Thursday
	// 09:30; the warning (6h used) Wednesday 15:30.
	urgentResolutionAfterReopen(t, e, want, edt("2027-03-17T10:00:00"), edt("2027-03-18T09:30:00"), edt("2027-03-18T10:00:00"))

	// Each notice an event naming the policy, at its own instant.
	wantSLAEvents(t, e, []slaEvent{
		{`SLA warning (policy "urgent"): first reply due in 30m`, edt("2027-03-16T10:30:00")},
		{`SLA breach (policy "urgent"): first reply breached just now`, edt("2027-03-16T11:00:00")},
		{`SLA warning (policy "urgent"): resolution due in 2h`, edt("2027-03-17T15:30:00")},
		{`SLA breach (policy "urgent"): resolution breached just now`, edt("2027-03-18T09:30:00")},
	})

	// The automation stayed true for two days and three restarts: one
	// firing. Lowering the priority ends its epoch; raising it again
	// begins a new one, which fires once more.
	wantInstants(t, "Thursday", `"urgent open"`, firedAt(e, 1, "urgent open"), "2027-03-16T14:00:00Z")
	e.Reply(vicFr, n1, "#priority normal\n")
	e.MustCLI("clock", "set", edt("2027-03-18T10:01:00"))
	e.Reply(vicFr, n1, "#priority urgent\n")
	e.Eventually(30*time.Second, func() bool { return len(firedAt(e, 1, "urgent open")) == 2 }, func() string {
		return e.MustCLI("automations", "--dry-run") + e.MustCLI("clock") + e.MustCLI("show", "--json", "1")
	})
	wantInstants(t, "a new epoch", `"urgent open"`, firedAt(e, 1, "urgent open"), "2027-03-16T14:00:00Z", "2027-03-18T14:01:00Z")
	e.MustCLI("clock", "set", edt("2027-03-18T10:05:00"))
	e.Settle()
	if n := e.autoMails(lead, "urgent open"); n != 2 {
		t.Errorf("lead got %d 'urgent open' mails, want 2 (one per epoch)", n)
	}
	// Nobody else heard of the SLA: the group's other agents (it was
	// assigned before the first notice) and the customer.
	wantSLAMails(t, e, "the end", want)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
