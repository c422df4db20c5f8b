package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Outside-in tests of SLA policies (issue 14 items 2-4): targets in
// `show --json`, #list overdue|due|stale, `helpdesk sla N`, the SLA line
// of staff notifications, on a manual clock in a Seoul office.

var _ = claim("[[sla]]: the first matching policy's targets show in `show --json` as sla {policy, targets [{kind, due, remaining, paused, breached, met}]}: first reply and resolution in business hours on the policy's calendar (a Friday evening before a holiday waits for Tuesday), resolution paused in pending, recomputed from creation when the priority changes; staff notifications say \"first reply due in 4h (business hours)\"; `helpdesk sla N` explains each deadline (calendar, zone, holidays, stretches counted and paused)",
	"TestSLAVisibleEverywhere")
var _ = claim("#list overdue lists tickets with a breached SLA target still running (a ticket no policy matches never is), #list due [8h] the targets due within that business time (default 4h), #list stale the open or pending tickets with no change for 24 hours",
	"TestSLAVisibleEverywhere", "TestSLAListWithoutPolicy")

// slaOffice: Staff with a Seoul office calendar (Monday 2027-10-04 is a
// holiday) and a policy per priority on it, on a manual clock.
const slaOffice = Staff + `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays = ["2027-10-04", "2027-10-11"]

[[sla]]
name = "urgent"
priority = ["urgent"]
calendar = "office"
first_reply = "1h"
resolution = "9h"

[[sla]]
name = "normal"
priority = ["normal", "high", "low"]
calendar = "office"
first_reply = "4h"
next_reply = "4h"
resolution = "27h"

[testing]
clock = "manual"
`

// slaJSON is the sla object of `show --json`.
type slaJSON struct {
	SLA *struct {
		Policy  string `json:"policy"`
		Targets []struct {
			Kind      string     `json:"kind"`
			Due       *time.Time `json:"due"`
			Remaining int64      `json:"remaining"`
			Paused    bool       `json:"paused"`
			Breached  bool       `json:"breached"`
			Met       bool       `json:"met"`
		} `json:"targets"`
	} `json:"sla"`
}

func (e *Env) sla(n uint64) slaJSON {
	e.T.Helper()
	var v slaJSON
	e.JSON(&v, "show", fmt.Sprint(n))
	return v
}

// wantTarget fails unless ticket n's target kind is as described (due ""
// means null).
func wantTarget(t *testing.T, e *Env, n uint64, policy, kind, due string, remaining int64, paused, breached, met bool) {
	t.Helper()
	v := e.sla(n)
	if v.SLA == nil || v.SLA.Policy != policy {
		t.Errorf("ticket %d: sla = %+v, want policy %q", n, v.SLA, policy)
		return
	}
	for _, x := range v.SLA.Targets {
		if x.Kind != kind {
			continue
		}
		gotDue := ""
		if x.Due != nil {
			gotDue = x.Due.UTC().Format(time.RFC3339)
		}
		wantDue := ""
		if due != "" {
			d, _ := time.Parse(time.RFC3339, due)
			wantDue = d.UTC().Format(time.RFC3339)
		}
		if gotDue != wantDue || x.Remaining != remaining || x.Paused != paused || x.Breached != breached || x.Met != met {
			t.Errorf("ticket %d %s: due %s remaining %d paused %v breached %v met %v; want due %s remaining %d paused %v breached %v met %v",
				n, kind, gotDue, x.Remaining, x.Paused, x.Breached, x.Met, wantDue, remaining, paused, breached, met)
		}
		return
	}
	t.Errorf("ticket %d has no %s target: %+v", n, kind, v.SLA.Targets)
}

func TestSLAVisibleEverywhere(t *testing.T) {
	e := Start(t, Options{Config: slaOffice})
	// Friday 2027-10-01 17:00 in Seoul; Monday is a holiday.
	e.MustCLI("clock", "set", "2027-10-01T17:00:00+09:00")
	n1 := e.Open(kenFr, "Certificate expired", "Our certificate expired, the shop is down.", vic)
	WantText(t, "new-ticket notification", n1, `SLA "normal": first reply due in 4h (business hours); resolution due in 27h (business hours)`)
	// 1h on Friday, 3h on Tuesday; resolution: 1h + 9h + 9h + 8h.
	wantTarget(t, e, 1, "normal", "first-reply", "2027-10-05T12:00:00+09:00", 4*3600, false, false, false)
	wantTarget(t, e, 1, "normal", "resolution", "2027-10-07T17:00:00+09:00", 27*3600, false, false, false)
	if v := e.sla(1); len(v.SLA.Targets) != 2 {
		t.Errorf("targets before any response: %+v", v.SLA.Targets)
	}

	// Tuesday 10:30 (before the 75% warning at 11:00 touches the
	// ticket): due within 4h, not overdue, stale.
	e.MustCLI("clock", "set", "2027-10-05T10:30:00+09:00")
	e.Fresh(vicFr, "lists", "#list due\n")
	due := e.Last(vic)
	WantText(t, "#list due", due, "Tickets (due within 4h of business time): 1", "#1 ", "first reply due in 1h 30m (business hours)")
	e.Fresh(vicFr, "lists", "#list due 30m\n#list overdue\n#list stale\n")
	lists := e.Last(vic)
	WantText(t, "#list due 30m, overdue, stale", lists, "Tickets (due within 30m of business time): 0", "Tickets (overdue): 0", "Tickets (stale): 1")

	// Tuesday 12:30: the first reply is 30 minutes overdue.
	e.MustCLI("clock", "set", "2027-10-05T12:30:00+09:00")
	wantTarget(t, e, 1, "normal", "first-reply", "2027-10-05T12:00:00+09:00", -1800, false, true, false)
	e.Fresh(vicFr, "lists", "#list overdue\n")
	WantText(t, "#list overdue", e.Last(vic), "Tickets (overdue): 1", "#1 ", "first reply overdue by 30m (business hours)")

	// Victoria answers and sets it pending: first reply met late, the
	// resolution pauses (1h + 3.5h used).
	e.Reply(vicFr, n1, "#pending\nWe are on it: which server runs the shop?\n")
	wantTarget(t, e, 1, "normal", "first-reply", "2027-10-05T12:00:00+09:00", -1800, false, true, true)
	wantTarget(t, e, 1, "normal", "resolution", "", 27*3600-4*3600-1800, true, false, false)

	// Thursday 10:00 Ken answers (reopens): the next reply runs, the
	// resolution resumes with 22.5h left: Thu 8h, Fri 9h, Tue (Monday is
	// a holiday) 5.5h.
	e.MustCLI("clock", "set", "2027-10-07T10:00:00+09:00")
	answerAs(e, kenFr, e.Find(ken, "which server runs the shop"), "The one called www2.\n")
	wantTarget(t, e, 1, "normal", "next-reply", "2027-10-07T14:00:00+09:00", 4*3600, false, false, false)
	wantTarget(t, e, 1, "normal", "resolution", "2027-10-12T14:30:00+09:00", 22*3600+1800, false, false, false)

	// Priority raised at 11:00: the urgent policy's 9h resolution counts
	// from creation again (5.5h used): due at 14:30; no next-reply target.
	e.MustCLI("clock", "set", "2027-10-07T11:00:00+09:00")
	e.Reply(vicFr, e.Find(vic, "The one called www2."), "#priority urgent\n")
	wantTarget(t, e, 1, "urgent", "resolution", "2027-10-07T14:30:00+09:00", 3*3600+1800, false, false, false)
	if v := e.sla(1); len(v.SLA.Targets) != 2 {
		t.Errorf("urgent targets: %+v", v.SLA.Targets)
	}

	// helpdesk sla N says how.
	out := e.MustCLI("sla", "1")
	for _, want := range []string{`Policy "urgent"`, "Calendar office, zone Asia/Seoul", "2027-10-04", "pending", "paused, not counted",
		"resolution: 9h of business hours", "Due Thu 2027-10-07 14:30 KST", "first-reply", "Met at Tue 2027-10-05 12:30 KST", "BREACHED"} {
		if !strings.Contains(out, want) {
			t.Errorf("helpdesk sla 1 lacks %q:\n%s", want, out)
		}
	}
	var js struct {
		Ticket      uint64 `json:"ticket"`
		Explanation string `json:"explanation"`
		SLA         struct {
			Policy string `json:"policy"`
		} `json:"sla"`
	}
	e.JSON(&js, "sla", "1")
	if js.Ticket != 1 || js.SLA.Policy != "urgent" || !strings.Contains(js.Explanation, "Asia/Seoul") {
		t.Errorf("helpdesk sla 1 --json = %+v", js)
	}
	if _, errs, code := e.CLI("sla", "99"); code == 0 || !strings.Contains(errs, "ticket 99 not found") {
		t.Errorf("helpdesk sla 99: exit %d, %s", code, errs)
	}
}

// Without a policy nothing is ever overdue, however old; stale keeps
// the old meaning.
func TestSLAListWithoutPolicy(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[testing]\nclock = \"manual\"\n"})
	e.Open(kenFr, "Old question", "Hello?", vic)
	e.MustCLI("clock", "advance", "100h")
	e.Fresh(vicFr, "lists", "#list overdue\n#list stale\n#list due 100h\n")
	WantText(t, "lists without a policy", e.Last(vic), "Tickets (overdue): 0", "Tickets (stale): 1", "Tickets (due within 100h of business time): 0")
	if v := e.sla(1); v.SLA != nil {
		t.Errorf("show --json sla without a policy = %+v, want null", v.SLA)
	}
	if out := e.MustCLI("sla", "1"); !strings.Contains(out, "No [[sla]] policy matches this ticket") {
		t.Errorf("helpdesk sla 1 without a policy:\n%s", out)
	}
}
