package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/rules"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Automations (SPEC 7, issue 14 item 5): [[automation]] rules, and the
// built-in auto-close of tickets.auto_close_after, are one timer source
// (kind "automation", timers.go). Their conditions are looked at
//
//   - whenever the ticket is stored (any event of it: endEpochs, in the
//     write's flush), which ends the condition epoch of every rule found
//     false; and
//   - at the instants their time conditions may change
//     (rules.Conditions.Instants): the ticket's automation timer is the
//     earliest instant at which a rule not fired in its epoch holds, or
//     a fired one stops holding.
//
// A rule fires at most once per condition epoch: the epoch begins when
// it is found true and it fires then (an event naming it, its commands
// planned as role Rule, its mail and webhook: the triggers' machinery),
// recorded in Ticket.Auto.Fired under its name, so a reload keeping the
// name keeps it; the epoch ends at the first look that finds it false.
// A rule true at once (no time condition left to wait for) fires a
// moment after the write that made it true, from the scheduler, in a
// write of its own: an automation's change is a ticket update like any
// other, and the triggers' pass sees it as event "automation".

// kindAutomation is the automations' timer kind.
const kindAutomation = "automation"

func init() {
	registerTimer(timerSource{kind: kindAutomation, stamp: automationStamp, next: automationNext, fire: automationFire})
}

// automationStamp names what the automations' instants depend on: the
// rules, auto_close_after, the calendars and which mailbox or group
// uses which.
func automationStamp(cfg *config.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%#v\x00%#v", cfg.Tickets.AutoCloseAfter, cfg.Automations, cfg.Calendars)
	for _, m := range cfg.Mailboxes {
		fmt.Fprintf(h, "\x00m %s %s %s", m.Address, m.Group, m.Calendar)
	}
	for _, g := range cfg.Groups {
		fmt.Fprintf(h, "\x00g %s %s", g.Name, g.Calendar)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// automations are the compiled automations of the write's configuration.
func (a *applier) automations() []rules.AutomationRule {
	return a.e.Rules(a.cfg).Automations
}

// autoFacts are what automations match for tk at now.
func (a *applier) autoFacts(tk *model.Ticket, now time.Time) *rules.Facts {
	f := &rules.Facts{Now: now}
	a.ticketFacts(f, tk)
	// "sender" of an automation is the requester: no mail is behind a
	// timer.
	f.Sender = tk.Requester
	f.StatusChanged = tk.Created
	if n := len(tk.StatusLog); n > 0 {
		f.StatusChanged = tk.StatusLog[n-1].Time()
	}
	if tk.LastCustomerAt != nil {
		f.LastCustomer = *tk.LastCustomerAt
	}
	if tk.LastResponseAt != nil {
		f.LastResponse = *tk.LastResponseAt
	}
	for _, m := range tk.SLAMarks {
		if b := time.Unix(m.Breached, 0).UTC(); m.Breached != 0 && b.After(f.SLABreached) {
			f.SLABreached = b
		}
	}
	if st := tk.Auto; st != nil && !st.Activity.IsZero() {
		f.Updated = st.Activity
	}
	if cal := a.cfg.CalendarFor(tk.Mailbox, tk.Group); cal != nil && !cal.IsAlways() {
		f.Calendar = cal
	}
	return f
}

func fired(tk *model.Ticket, name string) bool {
	if tk.Auto == nil {
		return false
	}
	_, ok := tk.Auto.Fired[name]
	return ok
}

func autoState(tk *model.Ticket) *model.AutoState {
	if tk.Auto == nil {
		tk.Auto = &model.AutoState{}
	}
	return tk.Auto
}

// nextLook is the first instant from f.Now on at which rule au needs
// looking at: for a rule not fired in its epoch, when it holds; for a
// fired one, when it stops holding (its epoch then ends). ok is false
// when that never comes without an update of the ticket.
func nextLook(au *rules.AutomationRule, f *rules.Facts, isFired bool) (time.Time, bool) {
	now := f.Now
	defer func() { f.Now = now }()
	if !isFired && au.Cond.Match(f) {
		return now, true
	}
	for _, t := range au.Cond.Instants(f) {
		f.Now = t
		if au.Cond.Match(f) != isFired {
			return t, true
		}
	}
	return time.Time{}, false
}

func automationNext(a *applier, tk *model.Ticket) (time.Time, bool) {
	aus := a.automations()
	if len(aus) == 0 {
		return time.Time{}, false
	}
	f := a.autoFacts(tk, a.now)
	var best time.Time
	found := false
	for i := range aus {
		if at, ok := nextLook(&aus[i], f, fired(tk, aus[i].Name)); ok && (!found || at.Before(best)) {
			best, found = at, true
		}
	}
	return best, found
}

func automationFire(a *applier, tk *model.Ticket, _ time.Time) error {
	return a.runAutomations(tk)
}

// runAutomations looks at every automation for tk at a.now, in file
// order: a fired one found false ends its epoch, one not fired found true
// fires. Later rules see what earlier ones changed.
func (a *applier) runAutomations(tk *model.Ticket) error {
	aus := a.automations()
	f := a.autoFacts(tk, a.now)
	changed := false
	for i := range aus {
		au := &aus[i]
		holds, was := au.Cond.Match(f), fired(tk, au.Name)
		switch {
		case was && !holds:
			delete(tk.Auto.Fired, au.Name)
			changed = true
		case !was && holds:
			st := autoState(tk)
			if st.Activity.IsZero() {
				// The last update by a person stays what "updated"
				// measures from; storing the ticket moves Updated.
				st.Activity = tk.Updated
			}
			if st.Fired == nil {
				st.Fired = map[string]time.Time{}
			}
			st.Fired[au.Name] = a.now
			changed = true
			if err := a.fireAutomation(tk, au); err != nil {
				return fmt.Errorf("automation %q on ticket %d: %w", au.Name, tk.ID, err)
			}
			f = a.autoFacts(tk, a.now)
		}
	}
	if !changed {
		return nil
	}
	return a.save(tk)
}

// fireAutomation takes one automation's actions.
func (a *applier) fireAutomation(tk *model.Ticket, au *rules.AutomationRule) error {
	a.trace.fired(tk, au.Name)
	if au.Builtin == rules.BuiltinAutoClose {
		after := a.cfg.Tickets.AutoCloseAfter.D()
		tk.Status = model.StatusClosed
		t := a.now
		tk.ClosedAt = &t
		tk.LogStatus(model.StatusClosed, t)
		// By "helpdesk", as before automations: the triggers' pass sees
		// it as event automation.
		return a.addComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk",
			Text: fmt.Sprintf("status resolved → closed (automatically, %s after resolution)", after)})
	}
	return a.fire(tk, &au.Trigger, []string{rules.Automation})
}

// autoBookkeeping keeps, before tk is stored, what automations measure
// from (a person's activity) and ends the epoch of every
// automation that no longer holds: any event of the ticket is a look at
// its automations.
func (a *applier) autoBookkeeping(tk *model.Ticket) {
	if a.in != nil && tk.Auto != nil {
		// A person's (or a mail's) update: "updated" is Ticket.Updated
		// again.
		tk.Auto.Activity = time.Time{}
	}
	if tk.Auto != nil && len(tk.Auto.Fired) > 0 {
		set := a.e.Rules(a.cfg)
		var f *rules.Facts
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range tk.Auto.Fired {
				if !yield(n) {
					return
				}
			}
		}) {
			au := set.FindAutomation(name)
			if au != nil {
				if f == nil {
					f = a.autoFacts(tk, a.now)
					if a.in != nil {
						// A person's update: the store moves Updated to now
						// when it writes tk, after this look; "updated ... ago"
						// must see that move, or its epoch never ends.
						f.Updated = a.now
					}
				}
				if au.Cond.Match(f) {
					continue
				}
			}
			// Removed from the configuration, or found false: the
			// epoch ends.
			delete(tk.Auto.Fired, name)
		}
	}
	if st := tk.Auto; st != nil && st.Activity.IsZero() && len(st.Fired) == 0 {
		tk.Auto = nil
	}
}

// AutomationPreview is one automation that would fire (helpdesk
// automations --dry-run).
type AutomationPreview struct {
	Ticket  uint64 `json:"ticket"`
	Subject string `json:"subject"`
	Name    string `json:"automation"`
	// Due is the first instant, from the clock's on, at which its
	// condition holds (when it would fire).
	Due time.Time `json:"due"`
	// Conditions are its condition lines (why); Actions what it does.
	Conditions []string `json:"conditions"`
	Actions    []string `json:"actions"`
}

// PreviewAutomations lists the automations that would fire up to at,
// each ticket staying as it is now, in due order, changing nothing: the
// tickets whose automation timer is due by then are looked at (every
// ticket, when the timer index is not built for these settings yet).
func (e *Engine) PreviewAutomations(at time.Time) ([]AutomationPreview, error) {
	cfg := e.Config()
	now := e.now()
	var out []AutomationPreview
	err := e.db.View(func(tx store.Tx) error {
		var ids []uint64
		stamp, err := tx.TimerStamp()
		if err != nil {
			return err
		}
		if stamp == timerStampOf(cfg) {
			due, err := tx.DueTimers(at, 0)
			if err != nil {
				return err
			}
			for _, tm := range due {
				if tm.Kind == kindAutomation {
					ids = append(ids, tm.Ticket)
				}
			}
		} else {
			ids = tx.TicketIDs("", 0)
		}
		a := &applier{e: e, cfg: cfg, tx: tx, now: now}
		aus := a.automations()
		for _, id := range ids {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if tk.MergedInto != 0 {
				continue
			}
			f := a.autoFacts(tk, now)
			for i := range aus {
				au := &aus[i]
				if fired(tk, au.Name) {
					continue
				}
				due, ok := nextLook(au, f, false)
				if !ok || due.After(at) {
					continue
				}
				p := AutomationPreview{Ticket: tk.ID, Subject: tk.Subject, Name: au.Name, Due: due, Conditions: au.Cond.Lines()}
				for _, c := range au.Actions.Commands {
					p.Actions = append(p.Actions, c.Raw)
				}
				if au.Builtin == rules.BuiltinAutoClose {
					p.Actions = []string{"#status closed (auto-close)"}
				}
				for _, n := range au.Notify {
					p.Actions = append(p.Actions, "mail "+n)
				}
				if au.Webhook != "" {
					p.Actions = append(p.Actions, "webhook "+au.Webhook)
				}
				if au.RequesterTemplate != "" {
					p.Actions = append(p.Actions, "mail the requester (template "+au.RequesterTemplate+")")
				}
				out = append(out, p)
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(x, y AutomationPreview) int {
		if c := x.Due.Compare(y.Due); c != 0 {
			return c
		}
		return int(x.Ticket) - int(y.Ticket)
	})
	return out, err
}
