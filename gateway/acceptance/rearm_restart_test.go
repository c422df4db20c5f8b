package acceptance

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("a change of timer settings re-arms every ticket in the background, in writes that record their progress: a daemon killed (kill -9) in the middle of the re-arming resumes after the last ticket done when it starts again, and every ticket's SLA warning and breach then reach each of the group's agents exactly once, also across a further restart",
	"TestRearmResumesAfterAKill")

// Five tickets opened while no SLA policy exists; then a policy is
// added and the daemon started on it: it re-arms every ticket, two per
// write ([testing] rearm_chunk), and is held after its first write
// (HELPDESK_TEST_HOLD=timers-rearm, store/testhook) and killed there.
// Started again, it resumes with the third ticket; the notices of all
// five go out once.
func TestRearmResumesAfterAKill(t *testing.T) {
	const base = Staff + `
[testing]
clock = "manual"
rearm_chunk = 2
`
	const policy = `
[[sla]]
name = "all"
first_reply = "4h"
`
	e := Start(t, Options{Config: base})
	e.MustCLI("clock", "set", "2027-10-05T09:00:00Z")
	const tickets = 5
	for i := 1; i <= tickets; i++ {
		e.Customer(testkit.Mail{From: fmt.Sprintf("Customer %d <cust%d@e-fun.example>", i, i), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("Order %d is late", i), Body: "Where is it?\n"})
	}
	if tk := e.Show(tickets); tk.Subject != fmt.Sprintf("Order %d is late", tickets) {
		t.Fatalf("ticket %d: %+v", tickets, tk)
	}
	e.Stop()

	text, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Config, append(text, policy...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.StartAgain("HELPDESK_TEST_HOLD=timers-rearm")
	e.Eventually(2*time.Minute, func() bool { return strings.Contains(e.Logs(), "holding at timers-rearm") },
		func() string { return "the daemon never held in the re-arming:\n" + e.Logs() })
	e.Crash()

	e.StartAgain()
	resumed := regexp.MustCompile(`"resuming the re-arming of the timers where it stopped","after_ticket":2,"done":2,"left":3`)
	e.Eventually(2*time.Minute, func() bool {
		return resumed.MatchString(e.Logs()) && strings.Contains(e.Logs(), "timers re-armed for the current settings")
	}, func() string { return "the re-arming did not resume after ticket 2 and finish:\n" + e.Logs() })
	for i := 1; i <= tickets; i++ {
		wantTarget(t, e, uint64(i), "all", "first-reply", "2027-10-05T13:00:00Z", 4*3600, false, false, false)
	}

	// Warnings at 12:00 (75%), breaches at 13:00; a restart after them
	// sends none again.
	e.MustCLI("clock", "set", "2027-10-05T13:30:00Z")
	e.Restart()
	e.MustCLI("clock", "advance", "2h")
	e.Settle()
	for _, addr := range []string{vic, venkat, ada} {
		count := map[string]int{}
		var subj []string
		for _, m := range e.Mailbox(addr) {
			s := m.Header("Subject")
			if strings.Contains(s, "SLA ") {
				count[s]++
				subj = append(subj, s)
			}
		}
		for i := 1; i <= tickets; i++ {
			for _, what := range []string{"SLA warning: first reply due soon", "SLA breached: first reply overdue"} {
				n := 0
				for s, k := range count {
					if strings.Contains(s, fmt.Sprintf("[#%d]", i)) && strings.Contains(s, what) {
						n += k
					}
				}
				if n != 1 {
					t.Errorf("%s got %d of ticket %d's %q, want exactly 1 (SLA mails: %q)", addr, n, i, what, subj)
				}
			}
		}
		if len(subj) != 2*tickets {
			t.Errorf("%s got %d SLA mails, want %d: %q", addr, len(subj), 2*tickets, subj)
		}
	}
	// Nobody else: the customers get none.
	for i := 1; i <= tickets; i++ {
		for _, m := range e.Mailbox(fmt.Sprintf("cust%d@e-fun.example", i)) {
			if strings.Contains(m.Header("Subject"), "SLA") {
				t.Errorf("customer %d got %q", i, m.Header("Subject"))
			}
		}
	}
}
