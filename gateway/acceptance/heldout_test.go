package acceptance

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
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

var _ = claim("an SLA deadline that uses the day's last business minute (a resolution of whole business days, due at closing time) is breached at that instant: the breach notice goes out then, matching show --json, not at the next morning's opening; a kill -9 while a warning falls due, with the clock moved while the daemon is down, still sends that warning once",
	"TestSLABreachAtClosingGoesOutThen")

// Berlin, the week the clocks fall back, a Friday-evening ticket before
// the Monday holiday (slaBerlin): "normal" has 4h first reply and 16h
// (two business days) resolution, counted from Tuesday 09:00 CET.
func TestSLABreachAtClosingGoesOutThen(t *testing.T) {
	e := Start(t, Options{Config: slaBerlin})
	cet := func(s string) string { return s + "+01:00" }
	e.MustCLI("clock", "set", "2027-10-29T18:00:00+02:00")
	n1 := e.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	wantTarget(t, e, 1, "normal", "first-reply", cet("2027-11-02T13:00:00"), 4*3600, false, false, false)
	wantTarget(t, e, 1, "normal", "resolution", cet("2027-11-03T17:00:00"), 16*3600, false, false, false)
	e.MustCLI("clock", "set", cet("2027-11-02T11:59:00"))
	wantSLAMails(t, e, "Tuesday 11:59", nil)

	// kill -9 a minute before the first reply's warning (12:00); the
	// clock passes it while the daemon is down; it goes out once, to the
	// group's agents (unassigned).
	e.Crash()
	e.MustCLI("clock", "set", cet("2027-11-02T12:05:00"))
	e.StartAgain()
	w := []string{"SLA warning: first reply due soon"}
	want := map[string][]string{vic: w, venkat: slicesClone(w), ada: slicesClone(w)}
	wantSLAMails(t, e, "warning across a kill -9", want)

	// Victoria takes it and answers: first reply met. A restart sends
	// nothing again.
	e.Reply(vicFr, n1, "#assign me\nWe are renewing it now.\n")
	e.Restart()
	e.MustCLI("clock", "set", cet("2027-11-02T12:30:00"))
	wantSLAMails(t, e, "after a restart", want)

	// Wednesday 17:00 the resolution's 16 business hours are used up, as
	// the office closes: at 17:01 the JSON says breached, and so does
	// Victoria's mailbox (the warning at 13:00, 12h used, came before).
	e.MustCLI("clock", "set", cet("2027-11-03T17:01:00"))
	wantTarget(t, e, 1, "normal", "resolution", cet("2027-11-03T17:00:00"), 0, false, true, false)
	want[vic] = append(want[vic], "SLA warning: resolution due soon", "SLA breached: resolution overdue")
	wantSLAMails(t, e, "Wednesday 17:01", want)
	wantSLAEvents(t, e, []slaEvent{
		{`SLA warning (policy "normal"): first reply due in 1h`, cet("2027-11-02T12:00:00")},
		{`SLA warning (policy "normal"): resolution due in 4h`, cet("2027-11-03T13:00:00")},
		{`SLA breach (policy "normal"): resolution breached just now`, cet("2027-11-03T17:00:00")},
	})
	// Thursday's opening brings nothing more.
	e.Restart()
	e.MustCLI("clock", "set", cet("2027-11-04T09:30:00"))
	wantSLAMails(t, e, "Thursday 09:30", want)
}

var _ = claim("helpdesk migrate's verification table agrees with its copy counts: a kind counted differently (a report backlog move compared key by key) is labelled with what it counts",
	"TestMigrateCountsAgree")

// A new user migrating a store saw "backlog_move 1658" in the copy and
// "backlog_move 7756 7756 equal" in the verification and wondered what
// was lost.
func TestMigrateCountsAgree(t *testing.T) {
	a := Start(t, Options{Store: "bbolt"})
	n1 := a.Open(kenFr, "Invoice 4711 is wrong", "The total is off by 10 EUR.", vic)
	a.Open("Amy <amy@e-fun.example>", "VPN down", "The VPN is down.", vic)
	a.Reply(vicFr, n1, "#assign me\n#pending\nWe are checking it.")
	a.Stop()
	dsn := pgtest.NewDB(t)
	out, code := migrateCLI(t, a.Config, "--from", "bbolt", "--to", "postgres", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, "the stores are equal") {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	copied := map[string]string{}
	inTable := false
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "verifying"):
			inTable = true
		case !inTable && len(f) == 2 && strings.HasPrefix(l, "  "):
			copied[f[0]] = f[1]
		case inTable && len(f) == 4 && f[3] == "equal":
			rows++
			if n, ok := copied[f[0]]; ok && n != f[1] {
				t.Errorf("kind %s: the copy printed %s, the verification %s (source) with the same name\n%s", f[0], n, f[1], out)
			}
		}
	}
	if rows == 0 || copied["backlog_move"] == "" {
		t.Fatalf("no verification rows or no backlog moves copied:\n%s", out)
	}
	if !strings.Contains(out, "backlog_move keys") {
		t.Errorf("the backlog moves' verification row does not say it counts keys:\n%s", out)
	}
}

var _ = claim("helpdesk bench -addr drives running daemons (several, comma-separated: two daemons on one PostgreSQL database), every mail it counts as accepted is a ticket; against a daemon without the bench's mailbox it says which [[mailbox]] to add",
	"TestBenchAddrDrivesRunningDaemons")

func TestBenchAddrDrivesRunningDaemons(t *testing.T) {
	bench := func(addr string) (string, int) {
		cmd := exec.Command(bin, "bench", "-addr", addr, "-n", "200", "-runs", "1", "-no-reference", "-q", "-json")
		out, err := cmd.CombinedOutput()
		code := 0
		if x, ok := err.(*exec.ExitError); ok {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	// A new user points it at their daemon: refused, and told why.
	d := Start(t, Options{})
	if out, code := bench(d.SMTP); code == 0 || !strings.Contains(out, `[[mailbox]] address = "support@bench.example"`) {
		t.Errorf("bench -addr at a daemon without the bench's mailbox: exit %d\n%s", code, out)
	}
	d.Stop()

	// Two daemons on one database, the load spread over both.
	dsn := pgtest.NewDB(t)
	mbox := "\n[[mailbox]]\naddress = \"support@bench.example\"\ngroup = \"support\"\n"
	a := Start(t, Options{Config: Staff + mbox + pgConfig(dsn, "mx1")})
	b := Start(t, Options{Config: Staff + mbox + pgConfig(dsn, "mx2"), Sink: a.Sink})
	out, code := bench(a.SMTP + "," + b.SMTP)
	if code != 0 {
		t.Fatalf("bench -addr A,B: exit %d\n%s", code, out)
	}
	var reps []struct {
		Runs []struct {
			Target     string
			OK, Failed int
		}
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &reps); err != nil || len(reps) != 1 || len(reps[0].Runs) != 1 {
		t.Fatalf("bench -json: %v\n%s", err, out)
	}
	rep := reps[0]
	var list []struct{ ID uint64 }
	a.JSON(&list, "tickets", "--limit", "1000")
	if r := rep.Runs[0]; r.OK+r.Failed != 200 || r.OK == 0 || len(list) != r.OK {
		t.Errorf("bench counted %d accepted, %d failed; the database holds %d tickets", r.OK, r.Failed, len(list))
	}
	for _, e := range []*Env{a, b} {
		if !strings.Contains(e.Logs(), `"accepted"`) {
			t.Errorf("daemon %s got none of the load", e.SMTP)
		}
	}
}

var _ = claim("two daemons on one PostgreSQL database with a manual clock: when the leader is killed (kill -9) between an SLA warning and its breach, the other daemon sends the breach, once; the restarted daemon sends nothing again",
	"TestPostgresSLANoticesOnceAcrossLeaderKill")

func TestPostgresSLANoticesOnceAcrossLeaderKill(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a := Start(t, Options{Config: slaBerlin + pgConfig(dsn, "mx1")})
	b := Start(t, Options{Config: slaBerlin + pgConfig(dsn, "mx2"), Sink: a.Sink})
	cet := func(s string) string { return s + "+01:00" }
	leader, other := a, b
	if !strings.Contains(a.Logs(), "this node leads") {
		leader, other = b, a
	}
	// The clock is moved, and the mail sent, through the daemon that
	// does not lead (each daemon keeps its own copy of the manual clock:
	// config's doc, "The ticket clock and timers").
	other.MustCLI("clock", "set", "2027-10-29T18:00:00+02:00")
	other.Open(kenFr, "Shop is down", "Our certificate expired.", vic)
	wantTarget(t, other, 1, "normal", "first-reply", cet("2027-11-02T13:00:00"), 4*3600, false, false, false)
	other.MustCLI("clock", "set", cet("2027-11-02T12:05:00"))
	w := []string{"SLA warning: first reply due soon"}
	want := map[string][]string{vic: w, venkat: slicesClone(w), ada: slicesClone(w)}
	wantSLAMails(t, other, "the warning", want)

	// The leader dies; the breach (13:00) is sent by the other, once.
	leader.Crash()
	other.MustCLI("clock", "set", cet("2027-11-02T13:05:00"))
	for _, addr := range []string{vic, venkat, ada} {
		want[addr] = append(want[addr], "SLA breached: first reply overdue")
	}
	other.Eventually(60*time.Second, func() bool { return len(slaMails(other, vic)) == 2 }, func() string { return other.MustCLI("show", "1") })
	wantSLAMails(t, other, "the breach after the leader's kill -9", want)
	leader.StartAgain()
	leader.MustCLI("clock", "set", cet("2027-11-02T16:00:00"))
	wantSLAMails(t, other, "the old leader back", want)
	wantSLAEvents(t, other, []slaEvent{
		{`SLA warning (policy "normal"): first reply due in 1h`, cet("2027-11-02T12:00:00")},
		{`SLA breach (policy "normal"): first reply breached just now`, cet("2027-11-02T13:00:00")},
	})
}
