package engine

import (
	"fmt"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Sweep runs the time-based lifecycle rules (SPEC 7): resolved tickets
// close automatically after tickets.auto_close_after. It returns how many
// tickets it changed.
func (e *Engine) Sweep() (int, error) {
	cfg := e.Config()
	after := cfg.Tickets.AutoCloseAfter.D()
	if after <= 0 {
		return 0, nil
	}
	now := e.now()
	var due []uint64
	err := e.db.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs(model.StatusResolved, 0) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if tk.ResolvedAt != nil && now.Sub(*tk.ResolvedAt) >= after {
				due = append(due, id)
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	n, queued := 0, 0
	err = e.db.Update(func(tx store.Tx) error {
		n = 0
		// An applier with no mail: the triggers' pass sees the change
		// as an automation's, and its effects are stored with it.
		a := &applier{e: e, cfg: cfg, tx: tx, now: now}
		defer func() { queued = a.enqueued }()
		for _, id := range due {
			tk, err := a.ticket(id)
			if err != nil {
				return err
			}
			if tk.Status != model.StatusResolved || tk.ResolvedAt == nil || now.Sub(*tk.ResolvedAt) < after {
				continue // changed since the scan
			}
			tk.Status = model.StatusClosed
			t := now
			tk.ClosedAt = &t
			if err := tx.AddComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk",
				Text: fmt.Sprintf("status resolved → closed (automatically, %s after resolution)", after)}); err != nil {
				return err
			}
			if err := a.save(tk); err != nil {
				return err
			}
			n++
		}
		return a.finish()
	})
	if err == nil && queued > 0 && e.Wake != nil {
		e.Wake() // a trigger mailed staff
	}
	if err == nil && n > 0 {
		e.log.Info("auto-closed resolved tickets", "count", n)
	}
	return n, err
}

// NextTimer returns the earliest instant of the ticket clock at which a
// time-based rule falls due (today: a resolved ticket's auto-close); ok is
// false when none is pending. A manual clock steps to each such instant
// in turn (gateway/clock), so effects carry the instant they fell due.
func (e *Engine) NextTimer() (at time.Time, ok bool, err error) {
	after := e.Config().Tickets.AutoCloseAfter.D()
	if after <= 0 {
		return time.Time{}, false, nil
	}
	err = e.db.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs(model.StatusResolved, 0) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if tk.ResolvedAt == nil {
				continue
			}
			if due := tk.ResolvedAt.Add(after); !ok || due.Before(at) {
				at, ok = due, true
			}
		}
		return nil
	})
	return at, ok, err
}

// RunTimers fires every time-based rule due at the ticket clock's instant
// and returns how many tickets it changed.
func (e *Engine) RunTimers() (int, error) { return e.Sweep() }
