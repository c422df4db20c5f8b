package engine

import (
	"strings"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

const staleRule = `
[[automation]]
name = "stale"
all = ["status is open", "created more than 24h ago"]
actions = ["#tag stale"]
notify = ["victoria@certs.example"]
text = "Still open after a day."
`

func (h *harness) ticket(id uint64) *model.Ticket {
	h.t.Helper()
	var tk *model.Ticket
	h.db.View(func(tx store.Tx) error {
		var err error
		tk, err = tx.Ticket(id)
		if err != nil {
			h.t.Fatal(err)
		}
		return nil
	})
	return tk
}

// ruleMails are the queued mails a rule sent staff.
func (h *harness) ruleMails(name string) []*model.Outbound {
	var out []*model.Outbound
	for _, o := range h.outbox("") {
		if strings.Contains(o.Subject, name+": ") {
			out = append(out, o)
		}
	}
	return out
}

// A rule whose condition stays true after it fired (its own action does
// not end it) fires once per condition epoch: not again while it holds,
// again once an update found it false and a later one true.
func TestAutomationFiresOncePerEpoch(t *testing.T) {
	h := newHarness(t, staleRule)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	if next, ok, _ := h.e.NextTimer(); !ok || !next.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("NextTimer %s %v, want created + 24h", next, ok)
	}
	h.setClock(t0.Add(24 * time.Hour))
	if n, err := h.e.RunTimers(); err != nil || n != 1 {
		t.Fatalf("RunTimers at 24h = %d, %v", n, err)
	}
	tk := h.ticket(1)
	if len(tk.Tags) != 1 || tk.Tags[0] != "stale" || tk.Auto == nil || !tk.Auto.Fired["stale"].Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("after firing: tags %v auto %+v", tk.Tags, tk.Auto)
	}
	if n := h.events(1, `automation "stale" fired: #tag stale`); n != 1 {
		t.Fatalf("%d firing events", n)
	}
	if ms := h.ruleMails("stale"); len(ms) != 1 || ms[0].Rcpt != "victoria@certs.example" {
		t.Fatalf("rule mail: %+v", ms)
	}
	// Still true a week later: no second firing, no timer.
	h.setClock(t0.Add(7 * 24 * time.Hour))
	if n, _ := h.e.RunTimers(); n != 0 {
		t.Fatalf("fired again while the condition held: %d", n)
	}
	if _, ok, _ := h.e.NextTimer(); ok {
		t.Error("a timer is armed while the fired rule keeps holding")
	}
	// An update that finds it false ends the epoch...
	h.mustApply(mailFrom(vicFrom, "Re: Invoice", "#ticket 1\n#status pending\nLooking."), staffVerdict)
	if tk := h.ticket(1); tk.Auto != nil && len(tk.Auto.Fired) > 0 {
		t.Fatalf("epoch not ended: %+v", tk.Auto)
	}
	if n, _ := h.e.RunTimers(); n != 0 {
		t.Fatal("fired while false")
	}
	// ... and one that finds it true again begins a new one: it fires
	// at once (the timer is due now).
	h.mustApply(mailFrom(vicFrom, "Re: Invoice 2", "#ticket 1\n#status open\nBack."), staffVerdict)
	if next, ok, _ := h.e.NextTimer(); !ok || next.After(t0.Add(7*24*time.Hour)) {
		t.Fatalf("NextTimer %s %v, want now", next, ok)
	}
	if n, _ := h.e.RunTimers(); n != 1 {
		t.Fatalf("the new epoch fired %d", n)
	}
	if n := h.events(1, `automation "stale" fired`); n != 2 {
		t.Errorf("%d firing events, want 2", n)
	}
	if ms := h.ruleMails("stale"); len(ms) != 2 {
		t.Errorf("%d rule mails, want 2", len(ms))
	}
}

// An automation's own change does not count as "updated": a rule on
// "updated more than 24h ago" fires once per quiet spell, not every 24h.
func TestAutomationOnUpdatedFiresOncePerQuietSpell(t *testing.T) {
	h := newHarness(t, `
[[automation]]
name = "quiet"
all = ["status is open", "updated more than 24h ago"]
actions = ["#priority high"]
`)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	h.setClock(t0.Add(30 * 24 * time.Hour))
	for i := 0; i < 3; i++ {
		h.e.RunTimers()
	}
	if n := h.events(1, `automation "quiet" fired`); n != 1 {
		t.Errorf("after 30 quiet days: %d firings, want 1", n)
	}
	if tk := h.ticket(1); tk.Priority != "high" {
		t.Errorf("priority %s", tk.Priority)
	}
	// A customer's mail is activity: the rule may fire again 24h after it.
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Re: Invoice", "#ticket 1 means nothing to me"), nil)
}

// A timer counted from a status change falls due at the change's
// instant plus the age, to the nanosecond: the status log once kept
// whole seconds, so "status changed more than 10s ago" fell due up to a
// second before its instant.
func TestStatusChangedTimerNotBeforeItsInstant(t *testing.T) {
	h := newHarness(t, `
[[automation]]
name = "pending nudge"
all = ["status is pending", "status changed more than 10s ago"]
actions = ["#tag nudged"]
`)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	h.setClock(t0)
	h.mustApply(mailFrom("Ken <ken@e-fun.example>", "Invoice", "Hello."), nil)
	changed := t0.Add(5*time.Second + 900*time.Millisecond)
	h.setClock(changed)
	h.mustApply(mailFrom(vicFrom, "Re: Invoice", "#ticket 1\n#status pending\nWaiting for the bank."), staffVerdict)
	if at := h.timers(1)[kindAutomation]; !at.Equal(changed.Add(10 * time.Second)) {
		t.Fatalf("armed at %s, want %s (the change + 10s)", at, changed.Add(10*time.Second))
	}
	h.setClock(changed.Add(10*time.Second - time.Nanosecond))
	if n, err := h.e.RunTimers(); err != nil || n != 0 {
		t.Fatalf("1ns before the instant RunTimers fired %d (%v)", n, err)
	}
	h.setClock(changed.Add(10 * time.Second))
	if n, err := h.e.RunTimers(); err != nil || n != 1 {
		t.Fatalf("at the instant RunTimers fired %d (%v), want 1", n, err)
	}
}
