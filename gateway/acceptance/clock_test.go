package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var (
	_ = claim("`helpdesk clock` prints the ticket clock; with [testing] clock = \"manual\" it starts at the store's first start, and `helpdesk clock advance DURATION` returns only after every timer due on the way has fired, in order, at its own instant, and committed: a resolved ticket is closed at resolution + auto_close_after, nobody is mailed for it, and the customer's next reply opens a follow-up",
		"TestManualClockAdvancePastAutoClose")
	_ = claim("`helpdesk clock set TIME` (RFC 3339) moves a manual clock, never backwards (clear error, clock unchanged); the manual clock is kept in the store across restarts and new tickets take its time",
		"TestManualClockSetSurvivesRestart")
	_ = claim("[testing] clock = \"manual\" is refused by `helpdesk check-config` and `helpdesk serve` unless every listen address is loopback (key, line and fix); a daemon on the wall clock refuses `helpdesk clock set|advance`",
		"TestManualClockRefusedOffLoopback")
)

// manualClock is the config of a daemon on a manual clock that closes
// resolved tickets after a day.
const manualClock = Staff + `
[tickets]
auto_close_after = "24h"

[testing]
clock = "manual"
`

type clockView struct {
	Now   time.Time `json:"now"`
	Mode  string    `json:"mode"`
	Fired int       `json:"fired"`
}

func (e *Env) clock() clockView {
	e.T.Helper()
	var v clockView
	e.JSON(&v, "clock")
	return v
}

// Issue 14 item 7: advancing the manual clock past auto_close_after closes
// the ticket before the command returns, stamped at the instant it fell
// due.
func TestManualClockAdvancePastAutoClose(t *testing.T) {
	began := time.Now()
	e := Start(t, Options{Config: manualClock})
	c0 := e.clock()
	if c0.Mode != "manual" || c0.Now.Before(began.Add(-time.Minute)) || c0.Now.After(time.Now().Add(time.Minute)) {
		t.Fatalf("a new store's manual clock = %+v, want the wall-clock instant of its first start (~%s)", c0, began.UTC())
	}
	n1 := e.Open(kenFr, "Renew our certificate", "It expires on Friday.", vic)
	e.Reply(vicFr, n1, "#status resolved\nDone: the new certificate is installed.\n")
	tk := e.Show(1)
	if tk.Status != "resolved" || !tk.Created.Equal(c0.Now) {
		t.Fatalf("ticket 1: status %s created %s, want resolved, created at the manual clock's %s", tk.Status, tk.Created, c0.Now)
	}
	answer := e.Find(ken, "new certificate is installed")
	kenHad, vicHad := len(e.Mailbox(ken)), len(e.Mailbox(vic))

	out := e.MustCLI("clock", "advance", "23h")
	if !strings.Contains(out, c0.Now.Add(23*time.Hour).Format(time.RFC3339Nano)) || !strings.Contains(out, "0 fired") {
		t.Errorf("clock advance 23h printed %q", out)
	}
	if st := e.Show(1).Status; st != "resolved" {
		t.Fatalf("23h after resolution the ticket is %s", st)
	}

	out = e.MustCLI("clock", "advance", "2h")
	if !strings.Contains(out, c0.Now.Add(25*time.Hour).Format(time.RFC3339Nano)) || !strings.Contains(out, "1 fired") {
		t.Errorf("clock advance 2h printed %q", out)
	}
	// No waiting: the command returned after the close was committed.
	tk = e.Show(1)
	if tk.Status != "closed" {
		t.Fatalf("25h after resolution, right after the advance returned, the ticket is %s", tk.Status)
	}
	closeEv := tk.Comments[len(tk.Comments)-1]
	if closeEv.Kind != "event" || !strings.Contains(closeEv.Text, "automatically") || !closeEv.Created.Equal(c0.Now.Add(24*time.Hour)) {
		t.Errorf("the close event %+v, want one stamped at resolution + 24h = %s", closeEv, c0.Now.Add(24*time.Hour))
	}
	if v := e.clock(); !v.Now.Equal(c0.Now.Add(25 * time.Hour)) {
		t.Errorf("clock after advancing 25h = %s", v.Now)
	}
	// Closing tells nobody.
	e.Settle()
	if k, v := len(e.Mailbox(ken)), len(e.Mailbox(vic)); k != kenHad || v != vicHad {
		t.Errorf("auto-close mailed someone: ken %d→%d, victoria %d→%d", kenHad, k, vicHad, v)
	}
	// The close is real: Ken's next reply opens a follow-up, acknowledged,
	// at the clock's time.
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(answer)}, Subject: "Re: " + answer.Header("Subject"), Body: "The old certificate is still served.\n"})
	fu := e.Show(2)
	if !hasLink(fu, "follow-up-of", 1) || !fu.Created.Equal(c0.Now.Add(25*time.Hour)) {
		t.Errorf("follow-up: links %+v created %s", fu.Links, fu.Created)
	}
	if e.Find(ken, "[#2]") == nil {
		t.Error("no acknowledgement of the follow-up")
	}
}

// Issue 14 item 7: set never goes backwards; the clock survives a restart.
func TestManualClockSetSurvivesRestart(t *testing.T) {
	e := Start(t, Options{Config: manualClock})
	at := "2027-01-04T09:00:00+09:00" // a Monday morning in Seoul
	want := time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)
	if out := e.MustCLI("clock", "set", at); !strings.HasPrefix(out, "2027-01-04T00:00:00Z (manual clock)") {
		t.Errorf("clock set printed %q", out)
	}
	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"clock", "set", "2026-01-01T00:00:00Z"}, 1, "never goes backwards"},
		{[]string{"clock", "advance", "1x"}, 2, `"1x" is not a duration (Go syntax, or whole days such as 31d)`},
		{[]string{"clock", "set", "2027-01-05 09:00"}, 2, "not an RFC 3339 time"},
		{[]string{"clock", "rewind"}, 2, "usage: helpdesk clock"},
	} {
		out, errs, code := e.CLI(bad.args...)
		if code != bad.code || !strings.Contains(errs, bad.msg) {
			t.Errorf("helpdesk %v: exit %d, stderr %q, stdout %q; want exit %d saying %q", bad.args, code, errs, out, bad.code, bad.msg)
		}
	}
	e.Restart()
	if v := e.clock(); v.Mode != "manual" || !v.Now.Equal(want) {
		t.Fatalf("after a restart the clock is %+v, want %s", v, want)
	}
	e.Open(kenFr, "After the holidays", "Back at work: where is our certificate?", vic)
	if tk := e.Show(1); !tk.Created.Equal(want) {
		t.Errorf("a ticket opened after the restart was created at %s, want the manual clock's %s", tk.Created, want)
	}
	// Without the daemon the CLI reads the same clock from the store.
	e.Stop()
	if out := e.MustCLI("clock"); !strings.HasPrefix(out, "2027-01-04T00:00:00Z (manual clock)") {
		t.Errorf("helpdesk clock without the daemon printed %q", out)
	}
}

// Issue 14 item 7: a manual clock only on loopback.
func TestManualClockRefusedOffLoopback(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(testkit.BaseConfig(dir, "", "127.0.0.1:53"), "[smtp]\nlisten = \"127.0.0.1:0\"", "[smtp]\nlisten = \"0.0.0.0:0\"", 1) + manualClock
	path := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 0
	for i, l := range strings.Split(text, "\n") {
		if l == `clock = "manual"` {
			line = i + 1
		}
	}
	want := regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf(`%s:%d: testing.clock: "manual" needs every listen address on loopback, and smtp.listen is "0.0.0.0:0"`, path, line)) + `.*\(fix: set smtp.listen to a loopback address`)
	out, errs, code := runIn(t, dir, nil, "check-config", "-config", path)
	if code != 1 || !want.MatchString(out) {
		t.Errorf("check-config: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	out, errs, code = runIn(t, dir, nil, "serve", "-config", path)
	if code != 1 || !want.MatchString(errs) || strings.Contains(out, "SMTP on") {
		t.Errorf("serve: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "helpdesk.db")); err == nil {
		t.Error("serve created a store before refusing")
	}

	// A daemon on the wall clock cannot be moved.
	e := Start(t, Options{})
	if v := e.clock(); v.Mode != "wall" || time.Since(v.Now).Abs() > time.Minute {
		t.Errorf("helpdesk clock on the wall clock = %+v", v)
	}
	_, errs, code = e.CLI("clock", "advance", "26h")
	if code != 1 || !strings.Contains(errs, `the ticket clock is the wall clock, which nobody moves: set clock = "manual" in [testing]`) {
		t.Errorf("clock advance on the wall clock: exit %d, stderr %q", code, errs)
	}
}
