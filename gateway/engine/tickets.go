package engine

import (
	"fmt"
	"maps"
	"slices"

	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Every ticket an applier reads or creates is kept in one object per id
// (an identity map), and written back once, when the apply is done: a
// ticket changed in several steps of one mail is encoded and stored once,
// and two parts of the engine never hold diverging copies of one ticket.

// ticket returns the ticket with this id as this write sees it.
func (a *applier) ticket(id uint64) (*model.Ticket, error) {
	if tk, ok := a.tickets[id]; ok {
		return tk, nil
	}
	tk, err := a.tx.Ticket(id)
	if err != nil {
		return nil, err
	}
	if a.tickets == nil {
		a.tickets = map[uint64]*model.Ticket{}
	}
	a.tickets[id] = tk
	a.remember(tk)
	if a.reportBefore == nil {
		a.reportBefore = map[uint64]report.State{}
	}
	a.reportBefore[id] = report.StateOf(tk)
	return tk, nil
}

// resolve follows merges to the ticket mail for id lands in.
func (a *applier) resolve(id uint64) (*model.Ticket, error) {
	tk, _, err := a.resolveThread(id, 0)
	return tk, err
}

// resolveThread follows merges for a ticket and thread (side threads are
// renumbered on merge).
func (a *applier) resolveThread(id uint64, thread uint32) (*model.Ticket, uint32, error) {
	return store.ResolveWith(a.ticket, id, thread)
}

// create assigns a new ticket its id; it is stored with the others.
func (a *applier) create(tk *model.Ticket) error {
	a.logComments()
	id, err := a.tx.AllocTicketID()
	if err != nil {
		return err
	}
	tk.ID = id
	if tk.Created.IsZero() {
		tk.Created = a.now
	}
	tk.Updated = tk.Created
	if a.tickets == nil {
		a.tickets = map[uint64]*model.Ticket{}
	}
	if a.created == nil {
		a.created = map[uint64]bool{}
	}
	a.tickets[id] = tk
	a.created[id] = true
	return a.save(tk)
}

// save marks a ticket changed; flush stores it.
func (a *applier) save(tk *model.Ticket) error {
	if cur, ok := a.tickets[tk.ID]; ok && cur != tk {
		return fmt.Errorf("engine: two copies of ticket %d in one write", tk.ID)
	}
	if a.tickets == nil {
		a.tickets = map[uint64]*model.Ticket{}
	}
	if a.dirty == nil {
		a.dirty = map[uint64]bool{}
	}
	a.tickets[tk.ID] = tk
	a.dirty[tk.ID] = true
	return nil
}

// flush stores every changed ticket, in id order.
func (a *applier) flush() error {
	for _, id := range slices.Sorted(maps.Keys(a.dirty)) {
		tk := a.tickets[id]
		a.autoBookkeeping(tk)
		var err error
		if a.created[id] {
			err = a.tx.InsertTicket(tk)
		} else {
			err = a.tx.PutTicket(tk)
		}
		if err != nil {
			return err
		}
		// The report index learns of the change in the same write
		// (issue 16): events and backlog moves from the ticket as first
		// read to the ticket as stored.
		responder := ""
		if a.staff != nil {
			responder = a.staff.Email
		}
		before, ok := a.reportBefore[id]
		if !ok && !a.created[id] {
			before = report.StateOf(tk) // not read through a.ticket: nothing known to have changed
		}
		after := report.StateOf(tk)
		if err := report.Record(a.tx, id, before, after, a.now, responder); err != nil {
			return fmt.Errorf("recording ticket %d for reports: %w", id, err)
		}
		// A second flush in this write records only what changed since.
		if a.reportBefore == nil {
			a.reportBefore = map[uint64]report.State{}
		}
		a.reportBefore[id] = after
	}
	// Each stored ticket's timers follow it in the same write.
	return a.armAll()
}

// Users get the same treatment as tickets: one object per address per
// write, stored once at the end.

// user returns the user with this address (store.ErrNotFound if none).
func (a *applier) user(addr string) (*model.User, error) {
	if u, ok := a.users[addr]; ok {
		return u, nil
	}
	u, err := a.tx.User(addr)
	if err != nil {
		return nil, err
	}
	a.cacheUser(u)
	return u, nil
}

// ensure returns the user for addr, creating it on first sight (SPEC 8).
func (a *applier) ensure(addr, name string) (*model.User, error) {
	u, err := a.user(addr)
	if err == nil {
		if name != "" && u.Name == "" {
			u.Name = name
			u.Updated = a.now
			return u, a.saveUser(u)
		}
		return u, nil
	}
	if err != store.ErrNotFound {
		return nil, err
	}
	// A new user is registered now and stored once, by flushUsers, with
	// whatever this write changes on it.
	u, err = a.tx.NewUser(addr, name)
	if err != nil {
		return nil, err
	}
	return u, a.saveUser(u)
}

// away reports a staff member marked away (#away), from this write's copy
// when it has one.
func (a *applier) away(addr string) bool {
	if u, ok := a.users[addr]; ok {
		return u.Away
	}
	away, err := a.tx.UserAway(addr)
	return err == nil && away
}

func (a *applier) cacheUser(u *model.User) {
	if a.users == nil {
		a.users = map[string]*model.User{}
	}
	a.users[u.Addr] = u
}

// saveUser marks a user changed; flush stores it.
func (a *applier) saveUser(u *model.User) error {
	a.cacheUser(u)
	if a.dirtyUsers == nil {
		a.dirtyUsers = map[string]bool{}
	}
	a.dirtyUsers[u.Addr] = true
	return nil
}

func (a *applier) flushUsers() error {
	for _, addr := range slices.Sorted(maps.Keys(a.dirtyUsers)) {
		if err := a.tx.PutUser(a.users[addr]); err != nil {
			return err
		}
	}
	return nil
}
