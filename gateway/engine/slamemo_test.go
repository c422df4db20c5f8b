package engine

import (
	"testing"
	"time"

	"helpdesk/gateway/sla"
	"helpdesk/store/model"
)

// A ticket's SLA targets are computed once per write (slaFor), and
// again whenever what they depend on changed in between: the result is
// always what sla.For gives for the ticket as it stands.
func TestSLATargetsOncePerWriteFollowTheTicket(t *testing.T) {
	h := newHarness(t, `
[[sla]]
name = "urgent"
priority = ["urgent"]
first_reply = "1h"

[[sla]]
name = "normal"
priority = ["normal", "high", "low"]
first_reply = "4h"
resolution = "16h"
`)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a := &applier{e: h.e, cfg: h.cfg, now: t0.Add(30 * time.Minute)}
	tk := &model.Ticket{ID: 7, Priority: "normal", Status: model.StatusOpen, Mailbox: "support@example.com",
		Requester: "ken@e-fun.example", Created: t0, Updated: t0, Tags: []string{"vip"}}
	tk.LogStatus(model.StatusOpen, t0)
	want := func(what string) {
		t.Helper()
		got, fresh := a.slaFor(tk), sla.For(a.cfg, tk, a.now)
		if got.Policy != fresh.Policy || len(got.Targets) != len(fresh.Targets) {
			t.Fatalf("%s: slaFor gives policy %q with %d targets, sla.For %q with %d", what, got.Policy, len(got.Targets), fresh.Policy, len(fresh.Targets))
		}
		for i := range got.Targets {
			g, f := got.Targets[i], fresh.Targets[i]
			if g.Kind != f.Kind || g.Remaining != f.Remaining || g.Breached != f.Breached || g.State != f.State || g.BreachRecorded != f.BreachRecorded {
				t.Errorf("%s: target %d: slaFor %+v, sla.For %+v", what, i, g, f)
			}
		}
	}
	want("first look")
	if a.slaFor(tk) != a.slaFor(tk) {
		t.Error("the same ticket, unchanged, was computed twice in one write")
	}
	tk.Priority = "urgent"
	want("priority raised")
	tk.Priority = "normal"
	tk.Tags[0] = "other" // changed in place
	want("tag changed in place")
	tk.LogStatus(model.StatusPending, t0.Add(10*time.Minute))
	tk.Status = model.StatusPending
	want("paused")
	r := t0.Add(20 * time.Minute)
	tk.FirstResponseAt, tk.LastResponseAt = &r, &r
	want("answered")
	tk.SLAMarks = append(tk.SLAMarks, model.SLAMark{Kind: "resolution", Start: t0.Unix()})
	want("mark added")
	tk.SLAMarks[0].Breached = t0.Add(25 * time.Minute).Unix() // recorded in place
	want("breach recorded in place")
	if !a.slaFor(tk).Targets[len(a.slaFor(tk).Targets)-1].BreachRecorded {
		t.Error("the recorded breach is not seen")
	}

	// Storing the ticket moves Updated, which sla.For does not read of
	// a ticket with a status log: not computed again (a new ticket's
	// staff mail and its timer read one computation).
	before := a.slaFor(tk)
	tk.Updated = tk.Updated.Add(3 * time.Millisecond)
	if a.slaFor(tk) != before {
		t.Error("computed again when only Updated moved")
	}
	want("Updated moved")

	// A ticket from before the status log, not open: its timeline takes
	// Updated for the status change, so a move of Updated counts.
	old := &model.Ticket{ID: 8, Priority: "normal", Status: model.StatusPending, Mailbox: "support@example.com",
		Requester: "ken@e-fun.example", Created: t0, Updated: t0.Add(10 * time.Minute)}
	first := a.slaFor(old)
	wantDue := func(what string, tk *model.Ticket) {
		t.Helper()
		got, fresh := a.slaFor(tk), sla.For(a.cfg, tk, a.now)
		for i := range got.Targets {
			g, f := got.Targets[i], fresh.Targets[i]
			if g.Remaining != f.Remaining || (g.Due == nil) != (f.Due == nil) || g.Due != nil && !g.Due.Equal(*f.Due) {
				t.Errorf("%s: target %d: slaFor %+v, sla.For %+v", what, i, g, f)
			}
		}
	}
	wantDue("a ticket without a status log", old)
	old.Updated = t0.Add(20 * time.Minute)
	if a.slaFor(old) == first {
		t.Error("a ticket without a status log: not computed again when Updated moved")
	}
	wantDue("a ticket without a status log, Updated moved", old)
}
