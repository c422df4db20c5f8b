package engine

import (
	"fmt"
	"time"

	"helpdesk/config"
	"helpdesk/store/model"
)

// Auto-close (SPEC 7): a resolved ticket closes tickets.auto_close_after
// after it was resolved. It is a timer source (timers.go): the timer is
// armed when the ticket is resolved and fires at that instant.

// kindAutoClose is auto-close's timer kind.
const kindAutoClose = "auto-close"

func init() {
	registerTimer(timerSource{
		kind:  kindAutoClose,
		stamp: func(cfg *config.Config) string { return cfg.Tickets.AutoCloseAfter.D().String() },
		next:  autoCloseNext,
		fire:  autoCloseFire,
	})
}

func autoCloseNext(a *applier, tk *model.Ticket) (time.Time, bool) {
	after := a.cfg.Tickets.AutoCloseAfter.D()
	if after <= 0 || tk.Status != model.StatusResolved || tk.ResolvedAt == nil {
		return time.Time{}, false
	}
	return tk.ResolvedAt.Add(after), true
}

func autoCloseFire(a *applier, tk *model.Ticket, _ time.Time) error {
	at, ok := autoCloseNext(a, tk)
	if !ok || at.After(a.now) {
		return nil // reopened, or resolved again later, since it was armed
	}
	after := a.cfg.Tickets.AutoCloseAfter.D()
	tk.Status = model.StatusClosed
	t := a.now
	tk.ClosedAt = &t
	tk.LogStatus(model.StatusClosed, t)
	// An applier with no mail: the triggers' pass sees the change as an
	// automation's, and its effects are stored with it.
	if err := a.tx.AddComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk",
		Text: fmt.Sprintf("status resolved → closed (automatically, %s after resolution)", after)}); err != nil {
		return err
	}
	a.e.log.Debug("auto-closed a resolved ticket", "ticket", tk.ID)
	return a.save(tk)
}
