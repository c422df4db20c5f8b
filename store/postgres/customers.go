// Customer profiles (SPEC 8): tables customers, customer_addresses,
// customer_tickets, customer_activity; the backfill's progress in meta.

package postgres

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Customer loads a profile by id.
func (t *Tx) Customer(id uint64) (*model.Customer, error) {
	data, err := t.record(tCustomers, ks(id), "SELECT data FROM customers WHERE id = $1", int64(id))
	if err != nil {
		return nil, fmt.Errorf("customer %d: %w", id, err)
	}
	var c model.Customer
	return &c, unmarshal(data, &c)
}

// customerOf is the id of the customer an address belongs to (0: none).
func (t *Tx) customerOf(addr string) (uint64, error) {
	if r, ok := t.pendingRow(tCustAddr, addr); ok {
		if r.del {
			return 0, nil
		}
		return uint64(r.vals[1].(int64)), nil
	}
	var id int64
	_, err := t.lookup(&id, tCustAddr, addr, "SELECT customer FROM customer_addresses WHERE addr = $1", addr)
	return uint64(id), err
}

// CustomerByAddr finds the profile an address belongs to.
func (t *Tx) CustomerByAddr(addr string) (*model.Customer, error) {
	id, err := t.customerOf(addr)
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, fmt.Errorf("customer %s: %w", addr, store.ErrNotFound)
	}
	return t.Customer(id)
}

// NewCustomer gives c an id and stores it with its index entries.
func (t *Tx) NewCustomer(c *model.Customer) error {
	for _, a := range c.Addresses {
		if other, err := t.customerOf(a); err != nil {
			return err
		} else if other != 0 {
			return fmt.Errorf("new customer with %s: %w", a, store.ErrAddressTaken)
		}
	}
	id, err := t.nextID("customers")
	if err != nil {
		return err
	}
	c.ID = id
	now := t.Now()
	if c.Created.IsZero() {
		c.Created = now
	}
	if c.Updated.IsZero() {
		c.Updated = now
	}
	// The id is new, and so are the addresses (looked up above).
	return t.putCustomer(c, nil, true)
}

// PutCustomer stores a changed profile and keeps the indexes current.
func (t *Tx) PutCustomer(c *model.Customer) error {
	old, err := t.Customer(c.ID)
	if err != nil {
		return err
	}
	for _, a := range c.Addresses {
		if other, err := t.customerOf(a); err != nil {
			return err
		} else if other != 0 && other != c.ID {
			return fmt.Errorf("customer %d with %s: %w", c.ID, a, store.ErrAddressTaken)
		}
	}
	return t.putCustomer(c, old, false)
}

// putCustomer stores c (old: as stored; fresh: c is new, see putNew).
func (t *Tx) putCustomer(c, old *model.Customer, fresh bool) error {
	put := t.put
	if fresh {
		put = t.putNew
	}
	if old != nil {
		for _, a := range old.Addresses {
			if !c.HasAddress(a) {
				if err := t.remove(tCustAddr, a, a); err != nil {
					return err
				}
			}
		}
	}
	for _, a := range c.Addresses {
		if err := put(tCustAddr, a, a, int64(c.ID)); err != nil {
			return err
		}
	}
	if c.Addresses == nil {
		c.Addresses = []string{}
	}
	data, err := marshal(c)
	if err != nil {
		return err
	}
	return put(tCustomers, ks(c.ID), int64(c.ID), strings.ToLower(c.Organization), data)
}

// DeleteCustomer removes a profile with its index entries, ticket links
// and timeline.
func (t *Tx) DeleteCustomer(id uint64) error {
	c, err := t.Customer(id)
	if err != nil {
		return err
	}
	for _, a := range c.Addresses {
		if owner, err := t.customerOf(a); err != nil {
			return err
		} else if owner == id {
			if err := t.remove(tCustAddr, a, a); err != nil {
				return err
			}
		}
	}
	if err := t.remove(tCustomers, ks(id), int64(id)); err != nil {
		return err
	}
	if err := t.exec("DELETE FROM customer_tickets WHERE customer = $1", int64(id)); err != nil {
		return err
	}
	return t.exec("DELETE FROM customer_activity WHERE customer = $1", int64(id))
}

// CustomerIDs lists profiles, newest first, of one organization.
func (t *Tx) CustomerIDs(org string, limit int) []uint64 {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	if org == "" {
		return t.ids("SELECT id FROM customers ORDER BY id DESC LIMIT " + lim)
	}
	// organization <> '': the index holds only profiles with one.
	return t.ids("SELECT id FROM customers WHERE organization = $1 AND organization <> '' ORDER BY id DESC LIMIT "+lim, strings.ToLower(org))
}

func checkRole(role string) error {
	if role != model.CustomerRequester && role != model.CustomerCC {
		return fmt.Errorf("unknown customer role %q", role)
	}
	return nil
}

func linkKey(id, ticket uint64, role string) string { return ks(id) + "/" + role + "/" + ks(ticket) }

// LinkCustomerTicket records the customer's role on a ticket; false when
// it was recorded already.
func (t *Tx) LinkCustomerTicket(id, ticket uint64, role string) (bool, error) {
	if err := checkRole(role); err != nil {
		return false, err
	}
	k := linkKey(id, ticket, role)
	if r, ok := t.pendingRow(tCustTk, k); ok {
		if !r.del {
			return false, nil
		}
	} else if !t.newTicket(ticket) {
		var one int64
		found, err := t.lookup(&one, tCustTk, k, "SELECT 1::bigint FROM customer_tickets WHERE customer = $1 AND role = $2 AND ticket = $3", int64(id), role, int64(ticket))
		if err != nil {
			return false, err
		}
		if found {
			return false, nil
		}
	}
	// Not in the database (looked up, or the ticket is new).
	return true, t.putNew(tCustTk, k, int64(id), role, int64(ticket))
}

// UnlinkCustomerTicket removes such a link.
func (t *Tx) UnlinkCustomerTicket(id, ticket uint64, role string) error {
	if err := checkRole(role); err != nil {
		return err
	}
	return t.remove(tCustTk, linkKey(id, ticket, role), int64(id), role, int64(ticket))
}

// CustomerTickets lists the tickets the customer has role on, newest
// first.
func (t *Tx) CustomerTickets(id uint64, role string) []uint64 {
	if checkRole(role) != nil {
		return nil
	}
	return t.ids("SELECT ticket FROM customer_tickets WHERE customer = $1 AND role = $2 ORDER BY ticket DESC", int64(id), role)
}

// AddCustomerActivity adds an entry to the customer's timeline.
func (t *Tx) AddCustomerActivity(id uint64, a *model.CustomerActivity) error {
	if a.At.IsZero() {
		a.At = t.Now()
	}
	seq, err := t.nextID("customer_activity")
	if err != nil {
		return err
	}
	data, err := marshal(a)
	if err != nil {
		return err
	}
	return t.putNew(tCustAct, ks(id)+"/"+ks(seq), int64(id), a.At.UnixNano(), int64(seq), data)
}

// CustomerActivity lists the timeline newest first.
func (t *Tx) CustomerActivity(id uint64, skip, limit int) ([]*model.CustomerActivity, error) {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	datas, err := t.datas("SELECT data FROM customer_activity WHERE customer = $1 ORDER BY at_ns DESC, seq DESC OFFSET $2 LIMIT "+lim, int64(id), max(skip, 0))
	if err != nil {
		return nil, err
	}
	out := make([]*model.CustomerActivity, 0, len(datas))
	for _, d := range datas {
		var a model.CustomerActivity
		if err := unmarshal(d, &a); err != nil {
			return nil, fmt.Errorf("customer %d's timeline: %w", id, err)
		}
		out = append(out, &a)
	}
	return out, nil
}

// CustomerBackfill is the progress of building profiles for older
// tickets.
func (t *Tx) CustomerBackfill() (model.CustomerBackfill, error) {
	var p model.CustomerBackfill
	v, ok, err := t.metaValue("customer_backfill")
	if err != nil || !ok {
		return p, err
	}
	return p, json.Unmarshal([]byte(v), &p)
}

// SetCustomerBackfill records that progress.
func (t *Tx) SetCustomerBackfill(p model.CustomerBackfill) error {
	data, err := marshal(p)
	if err != nil {
		return err
	}
	return t.put(tMeta, "customer_backfill", "customer_backfill", string(data))
}
