package acceptance

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("SLA warnings and breach notices: each once per target, at the business instant it falls due (a Friday evening ticket before a Monday holiday waits for Tuesday's opening, across Berlin's fall-back), to the assignee (the group's agents while unassigned) and escalate_to, never twice across restarts (also when the daemon was down at the instant), re-armed when a priority change moves the deadline; each an event on the ticket naming the policy",
	"TestSLANoticesOnceAtTheRightInstant")

// slaBerlin: a Berlin office (Monday 2027-11-01 a holiday) with a policy
// per priority; urgent escalates to the team lead.
const slaBerlin = Staff + `
[[agent]]
name = "Lea Lead"
email = "lead@certs.example"
role = "admin"

[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
hours = ["mon-fri 09:00-17:00"]
holidays = ["2027-11-01", "2027-12-24"]

[[sla]]
name = "urgent"
priority = ["urgent"]
calendar = "berlin"
first_reply = "3h"
resolution = "8h"
escalate_to = "lead@certs.example"

[[sla]]
name = "normal"
priority = ["normal", "high", "low"]
calendar = "berlin"
first_reply = "4h"
next_reply = "4h"
resolution = "16h"

[testing]
clock = "manual"
`

const lead = "lead@certs.example"

// slaMails are the SLA notices addr received so far.
func slaMails(e *Env, addr string) []*testkit.Received {
	e.Settle()
	var out []*testkit.Received
	for _, m := range e.Mailbox(addr) {
		if strings.HasPrefix(strings.TrimPrefix(m.Header("Subject"), "[#1] "), "SLA ") || strings.Contains(m.Header("Subject"), "] SLA ") {
			out = append(out, m)
		}
	}
	return out
}

// firstReplyBreachWhileDown is the restart part of the urgent-ticket
// scenarios (ticket 1, its first-reply warning already in want):
// restarted at afterRestart, nothing is sent again; stopped while the
// breach falls due and started at whileDown, the breach goes out once to
// vic and lead; restarted again at afterAnother, nothing more.
func firstReplyBreachWhileDown(t *testing.T, e *Env, want map[string][]string, afterRestart, whileDown, afterAnother string) {
	t.Helper()
	e.Restart()
	e.MustCLI("clock", "set", afterRestart)
	wantSLAMails(t, e, "after a restart", want)
	e.Stop()
	e.MustCLI("clock", "set", whileDown)
	e.start()
	want[vic] = append(want[vic], "SLA breached: first reply overdue")
	want[lead] = append(want[lead], "SLA breached: first reply overdue")
	wantSLAMails(t, e, "breach while down", want)
	e.Restart()
	e.MustCLI("clock", "set", afterAnother)
	wantSLAMails(t, e, "after another restart", want)
}

// urgentResolutionAfterReopen: Ken answers Victoria's "renewing it now"
// at reopen, with 7.5h of the urgent policy's resolution left, due at
// due; at after, past it, vic and lead have had its warning and breach,
// and the target is breached by 30 minutes.
func urgentResolutionAfterReopen(t *testing.T, e *Env, want map[string][]string, reopen, due, after string) {
	t.Helper()
	e.MustCLI("clock", "set", reopen)
	answerAs(e, kenFr, e.Find(ken, "renewing it now"), "Still down here.\n")
	wantTarget(t, e, 1, "urgent", "resolution", due, 7*3600+1800, false, false, false)
	e.MustCLI("clock", "set", after)
	want[vic] = append(want[vic], "SLA warning: resolution due soon", "SLA breached: resolution overdue")
	want[lead] = append(want[lead], "SLA warning: resolution due soon", "SLA breached: resolution overdue")
	wantSLAMails(t, e, "resolution", want)
	wantTarget(t, e, 1, "urgent", "resolution", due, -1800, false, true, false)
}

func wantSLAMails(t *testing.T, e *Env, step string, want map[string][]string) {
	t.Helper()
	for _, addr := range []string{vic, venkat, ada, lead, ken} {
		got := slaMails(e, addr)
		var subj []string
		for _, m := range got {
			subj = append(subj, m.Header("Subject"))
		}
		// Mail is delivered in parallel: compare as sets.
		w := slices.Clone(want[addr])
		ok := len(got) == len(w)
		for _, s := range subj {
			i := slices.IndexFunc(w, func(x string) bool { return strings.Contains(s, x) })
			if i < 0 {
				ok = false
				break
			}
			w = slices.Delete(w, i, i+1)
		}
		if !ok {
			t.Errorf("%s: %s got SLA mails %q, want %q", step, addr, subj, w)
		}
	}
}

// slaEvents are the SLA events of ticket 1: text and instant.
func slaEvents(e *Env) []Comment {
	var out []Comment
	for _, c := range e.Show(1).Comments {
		if c.Kind == "event" && strings.HasPrefix(c.Text, "SLA ") {
			out = append(out, c)
		}
	}
	return out
}

// slaEvent is an SLA event ticket 1 should have: the start of its text
// and its instant (RFC 3339).
type slaEvent struct{ text, at string }

// wantSLAEvents fails unless ticket 1's SLA events are want, in order.
func wantSLAEvents(t *testing.T, e *Env, want []slaEvent) {
	t.Helper()
	evs := slaEvents(e)
	if len(evs) != len(want) {
		t.Fatalf("SLA events: %+v", evs)
	}
	for i, w := range want {
		at, _ := time.Parse(time.RFC3339, w.at)
		if !strings.HasPrefix(evs[i].Text, w.text) || !evs[i].Created.Equal(at) {
			t.Errorf("event %d: %q at %s, want %q at %s", i, evs[i].Text, evs[i].Created.UTC(), w.text, at.UTC())
		}
	}
}

func TestSLANoticesOnceAtTheRightInstant(t *testing.T) {
	e := Start(t, Options{Config: slaBerlin})
	cet := func(s string) string { return s + "+01:00" }
	// Friday 2027-10-29 18:00 CEST, after hours; Monday is a holiday and
	// the clocks fall back on Sunday.
	e.MustCLI("clock", "set", "2027-10-29T18:00:00+02:00")
	n1 := e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	// First reply 4h from Tuesday 09:00 CET: due 13:00, warning at 12:00.
	wantTarget(t, e, 1, "normal", "first-reply", cet("2027-11-02T13:00:00"), 4*3600, false, false, false)

	// The weekend and the holiday pass: nothing is due.
	e.MustCLI("clock", "set", cet("2027-11-02T09:30:00"))
	wantSLAMails(t, e, "Tuesday 09:30", nil)
	// Victoria takes it and sets it pending: the resolution pauses, the
	// first reply does not.
	e.Reply(vicFr, n1, "#assign me\n#pending\n")
	wantTarget(t, e, 1, "normal", "resolution", "", 16*3600-1800, true, false, false)

	// 11:00 the priority is raised: the urgent 3h first reply counts
	// from Tuesday 09:00 too: due 12:00, warning (75%) at 11:15.
	e.MustCLI("clock", "set", cet("2027-11-02T11:00:00"))
	e.Reply(vicFr, n1, "#priority urgent\n")
	wantTarget(t, e, 1, "urgent", "first-reply", cet("2027-11-02T12:00:00"), 3600, false, false, false)
	e.MustCLI("clock", "set", cet("2027-11-02T11:14:00"))
	wantSLAMails(t, e, "11:14", nil)
	e.MustCLI("clock", "set", cet("2027-11-02T11:15:00"))
	want := map[string][]string{vic: {"SLA warning: first reply due soon"}, lead: {"SLA warning: first reply due soon"}}
	wantSLAMails(t, e, "11:15 warning", want)
	w := slaMails(e, vic)[0]
	WantText(t, "the warning", w, `policy "urgent"`, "first reply due in 45m (business hours)", "Deadline: Tue 2027-11-02 12:00 CET")

	// A restart: the warning is not sent again. Down while the breach
	// falls due: it goes out once, at start.
	firstReplyBreachWhileDown(t, e, want, cet("2027-11-02T11:59:00"), cet("2027-11-02T12:10:00"), cet("2027-11-02T12:30:00"))

	// Victoria answers at 12:30: met, late; the breach stays recorded.
	e.Reply(vicFr, n1, "We are renewing it now.\n")
	wantTarget(t, e, 1, "urgent", "first-reply", cet("2027-11-02T12:00:00"), -1800, false, true, true)
	wantTarget(t, e, 1, "urgent", "resolution", "", 8*3600-1800, true, false, false)

	// Ken answers Wednesday 10:00 (reopens): 7.5h of resolution left, due
	// Thursday 09:30; warning (6h used) Wednesday 15:30.
	urgentResolutionAfterReopen(t, e, want, cet("2027-11-03T10:00:00"), cet("2027-11-04T09:30:00"), cet("2027-11-04T10:00:00"))

	// Each notice is an event naming the policy, at its own instant.
	wantSLAEvents(t, e, []slaEvent{
		{`SLA warning (policy "urgent"): first reply due in 45m`, cet("2027-11-02T11:15:00")},
		{`SLA breach (policy "urgent"): first reply breached just now`, cet("2027-11-02T12:00:00")},
		{`SLA warning (policy "urgent"): resolution due in 2h`, cet("2027-11-03T15:30:00")},
		{`SLA breach (policy "urgent"): resolution breached just now`, cet("2027-11-04T09:30:00")},
	})
	// #list overdue names it.
	e.Fresh(vicFr, "lists", "#list overdue\n")
	WantText(t, "#list overdue", e.Last(vic), "Tickets (overdue): 1", "resolution overdue by 30m (business hours)")
}

var _ = claim("an SLA warning of an unassigned ticket goes to the group's agents; warn_at = \"30m\" warns 30 business minutes before the deadline, after the weekend",
	"TestSLANoticeUnassignedGoesToGroup")

func TestSLANoticeUnassignedGoesToGroup(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[calendar]]
name = "berlin"
time_zone = "Europe/Berlin"
hours = ["mon-fri 09:00-17:00"]

[[sla]]
name = "all"
calendar = "berlin"
first_reply = "2h"
warn_at = "30m"

[testing]
clock = "manual"
`})
	// Friday 16:00: 1h on Friday, 1h on Monday: due Monday 10:00, the
	// warning at Monday 09:30.
	e.MustCLI("clock", "set", "2027-11-05T16:00:00+01:00")
	e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	e.MustCLI("clock", "set", "2027-11-08T09:29:00+01:00")
	wantSLAMails(t, e, "Monday 09:29", nil)
	e.MustCLI("clock", "set", "2027-11-08T09:45:00+01:00")
	w := []string{"SLA warning: first reply due soon"}
	wantSLAMails(t, e, "Monday 09:45", map[string][]string{vic: w, venkat: w, ada: w})
	evs := slaEvents(e)
	if len(evs) != 1 || !evs[0].Created.Equal(time.Date(2027, 11, 8, 8, 30, 0, 0, time.UTC)) || !strings.Contains(evs[0].Text, `policy "all"`) {
		t.Errorf("SLA events: %+v", evs)
	}
}

var _ = claim("a reload (SIGHUP) that changes an [[sla]] policy recomputes running targets from their original start and re-arms their notices",
	"TestSLAReloadRecomputesFromStart")

func TestSLAReloadRecomputesFromStart(t *testing.T) {
	const base = Staff + `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]

[[sla]]
name = "all"
calendar = "office"
first_reply = "4h"

[testing]
clock = "manual"
`
	e := Start(t, Options{Config: base})
	e.MustCLI("clock", "set", "2027-10-05T09:00:00+09:00")
	e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	wantTarget(t, e, 1, "all", "first-reply", "2027-10-05T13:00:00+09:00", 4*3600, false, false, false)
	e.MustCLI("clock", "set", "2027-10-05T09:30:00+09:00")
	text, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Config, []byte(strings.Replace(string(text), `first_reply = "4h"`, `first_reply = "1h"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Proc.Signal(syscall.SIGHUP)
	e.Eventually(20*time.Second, func() bool {
		v := e.sla(1)
		return v.SLA != nil && len(v.SLA.Targets) == 1 && v.SLA.Targets[0].Remaining == 1800
	}, func() string { return fmt.Sprintf("targets after the reload: %+v", e.sla(1).SLA) })
	wantTarget(t, e, 1, "all", "first-reply", "2027-10-05T10:00:00+09:00", 1800, false, false, false)
	// 75% of 1h from 09:00 is 09:45: the warning, then the breach at 10:00.
	e.MustCLI("clock", "set", "2027-10-05T10:30:00+09:00")
	w := []string{"SLA warning: first reply due soon", "SLA breached: first reply overdue"}
	wantSLAMails(t, e, "after the reload", map[string][]string{vic: w, venkat: w, ada: w})
}

var _ = claim("SLA notices that fall due while the calendar is closed wait for it to open; with notify_outside_hours = true they go out at once",
	"TestSLANotifyOutsideHours")

// Two policies on one office calendar, both with a first reply of 2h
// counted in calendar time, so that the breach falls on Friday evening
// with the office closed: Ken's policy sends outside hours, Quinn's
// waits for Monday's opening.
func TestSLANotifyOutsideHours(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[calendar]]
name = "office"
time_zone = "UTC"
hours = ["mon-fri 09:00-17:00"]

[[sla]]
name = "night-watch"
requester_domain = ["e-fun.example"]
calendar = "office"
first_reply = "2h"
calendar_time = ["first-reply"]
warn_at = "off"
notify_outside_hours = true

[[sla]]
name = "office-only"
requester_domain = ["q.example"]
calendar = "office"
first_reply = "2h"
calendar_time = ["first-reply"]
warn_at = "off"

[testing]
clock = "manual"
`})
	const quinn = "quinn@q.example"
	// Friday 18:00, after closing: both first replies are due at 20:00.
	e.MustCLI("clock", "set", "2027-01-08T18:00:00Z")
	e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	e.Open("Quinn <"+quinn+">", "Invoice missing", "Where is my invoice?", vic)
	e.MustCLI("clock", "set", "2027-01-08T19:59:00Z")
	wantSLAMails(t, e, "Friday 19:59", nil)

	// 20:00: Ken's breach notice goes out at once, Quinn's waits.
	e.MustCLI("clock", "set", "2027-01-08T20:01:00Z")
	b1 := []string{"[#1] SLA breached: first reply overdue"}
	wantSLAMails(t, e, "Friday 20:01", map[string][]string{vic: b1, venkat: b1, ada: b1})
	e.MustCLI("clock", "set", "2027-01-11T08:59:00Z")
	wantSLAMails(t, e, "Monday 08:59", map[string][]string{vic: b1, venkat: b1, ada: b1})

	// Monday 09:00 the office opens: Quinn's goes out.
	e.MustCLI("clock", "set", "2027-01-11T09:01:00Z")
	both := append(b1, "[#2] SLA breached: first reply overdue")
	wantSLAMails(t, e, "Monday 09:01", map[string][]string{vic: both, venkat: both, ada: both})
	if got := slaMails(e, quinn); len(got) != 0 {
		t.Errorf("Quinn got an SLA mail: %q", got[0].Header("Subject"))
	}
}
