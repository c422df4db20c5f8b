// Customer profiles (bucket customers, SPEC 8). One bucket holds the
// records and their indexes, told apart by a one-byte prefix, so a
// profile's change touches the pages of one bucket:
//
//	'c' id                      -> Customer
//	'a' address                 -> id (each address belongs to one customer)
//	'o' lower(org) 0x00 id      -> nil (customers --org)
//	't' id role ticket          -> nil (role 'r' requester, 'c' CC)
//	'e' id at(ns) seq           -> CustomerActivity (the timeline, by time)
//	"m.backfill"                -> CustomerBackfill

package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

var (
	bCustomers = []byte("customers")

	keyBackfill = []byte("m.backfill")
)

const (
	custRec  = 'c'
	custAddr = 'a'
	custOrg  = 'o'
	custTk   = 't'
	custAct  = 'e'
)

// customers is the bucket; nil only in a read-only store written by a
// binary from before profiles (none exist then).
func (t *Tx) customers() *bbolt.Bucket { return t.b(bCustomers) }

func (t *Tx) customersW() (*bbolt.Bucket, error) {
	b := t.customers()
	if b == nil {
		return nil, fmt.Errorf("the store has no customer profiles yet (open it writable once to upgrade)")
	}
	return b, nil
}

func custKey(prefix byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := append(make([]byte, 0, n), prefix)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func roleByte(role string) (byte, error) {
	switch role {
	case model.CustomerRequester:
		return 'r', nil
	case model.CustomerCC:
		return 'c', nil
	}
	return 0, fmt.Errorf("unknown customer role %q", role)
}

func orgKey(org string, id uint64) []byte {
	return custKey(custOrg, []byte(strings.ToLower(org)), []byte{0}, u64(id))
}

// Customer loads a profile.
func (t *Tx) Customer(id uint64) (*model.Customer, error) {
	b := t.customers()
	if b == nil {
		return nil, fmt.Errorf("customer %d: %w", id, store.ErrNotFound)
	}
	var c model.Customer
	if err := getJSON(b, custKey(custRec, u64(id)), &c); err != nil {
		return nil, fmt.Errorf("customer %d: %w", id, err)
	}
	return &c, nil
}

// CustomerByAddr finds the profile an address belongs to.
func (t *Tx) CustomerByAddr(addr string) (*model.Customer, error) {
	b := t.customers()
	if b == nil {
		return nil, fmt.Errorf("customer %s: %w", addr, store.ErrNotFound)
	}
	v := b.Get(custKey(custAddr, []byte(addr)))
	if len(v) != 8 {
		// Bare: every new ticket's requester is looked up, and most
		// first mails find none.
		return nil, store.ErrNotFound
	}
	return t.Customer(binary.BigEndian.Uint64(v))
}

// NewCustomer stores a new profile.
func (t *Tx) NewCustomer(c *model.Customer) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	for _, a := range c.Addresses {
		if v := b.Get(custKey(custAddr, []byte(a))); v != nil {
			return fmt.Errorf("new customer with %s: %w", a, store.ErrAddressTaken)
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	c.ID = seq
	now := t.Now()
	if c.Created.IsZero() {
		c.Created = now
	}
	if c.Updated.IsZero() {
		c.Updated = now
	}
	return t.putCustomer(b, c, nil)
}

// PutCustomer stores a changed profile and moves its index entries.
func (t *Tx) PutCustomer(c *model.Customer) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	var old model.Customer
	if err := getJSON(b, custKey(custRec, u64(c.ID)), &old); err != nil {
		return fmt.Errorf("customer %d: %w", c.ID, err)
	}
	for _, a := range c.Addresses {
		if v := b.Get(custKey(custAddr, []byte(a))); v != nil && binary.BigEndian.Uint64(v) != c.ID {
			return fmt.Errorf("customer %d with %s: %w", c.ID, a, store.ErrAddressTaken)
		}
	}
	return t.putCustomer(b, c, &old)
}

// putCustomer writes the record and the index entries that changed
// from old (nil: a new profile).
func (t *Tx) putCustomer(b *bbolt.Bucket, c *model.Customer, old *model.Customer) error {
	if old != nil {
		for _, a := range old.Addresses {
			if !c.HasAddress(a) {
				if err := b.Delete(custKey(custAddr, []byte(a))); err != nil {
					return err
				}
			}
		}
		if !strings.EqualFold(old.Organization, c.Organization) && old.Organization != "" {
			if err := b.Delete(orgKey(old.Organization, c.ID)); err != nil {
				return err
			}
		}
	}
	for _, a := range c.Addresses {
		if err := b.Put(custKey(custAddr, []byte(a)), u64(c.ID)); err != nil {
			return err
		}
	}
	if c.Organization != "" {
		if err := b.Put(orgKey(c.Organization, c.ID), nil); err != nil {
			return err
		}
	}
	if c.Addresses == nil {
		c.Addresses = []string{}
	}
	return putJSON(b, custKey(custRec, u64(c.ID)), c)
}

// DeleteCustomer removes a profile and everything keyed by it.
func (t *Tx) DeleteCustomer(id uint64) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	c, err := t.Customer(id)
	if err != nil {
		return err
	}
	for _, a := range c.Addresses {
		if v := b.Get(custKey(custAddr, []byte(a))); v != nil && binary.BigEndian.Uint64(v) == id {
			if err := b.Delete(custKey(custAddr, []byte(a))); err != nil {
				return err
			}
		}
	}
	if c.Organization != "" {
		if err := b.Delete(orgKey(c.Organization, id)); err != nil {
			return err
		}
	}
	for _, prefix := range [][]byte{custKey(custTk, u64(id)), custKey(custAct, u64(id))} {
		if err := deletePrefix(b, prefix); err != nil {
			return err
		}
	}
	return b.Delete(custKey(custRec, u64(id)))
}

func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// CustomerIDs lists profiles newest first, of one organization or all.
func (t *Tx) CustomerIDs(org string, limit int) []uint64 {
	b := t.customers()
	if b == nil {
		return nil
	}
	var prefix []byte
	if org == "" {
		prefix = []byte{custRec}
	} else {
		prefix = custKey(custOrg, []byte(strings.ToLower(org)), []byte{0})
	}
	var out []uint64
	c := b.Cursor()
	// The last key with the prefix: seek past it, step back.
	end := append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	k, _ := c.Seek(end)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
		if len(k) != len(prefix)+8 {
			continue
		}
		out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	return out
}

// LinkCustomerTicket records a customer's role on a ticket. A link
// already there is not written again: every mail on a ticket asks, and
// a Put of the same key would still dirty its page.
func (t *Tx) LinkCustomerTicket(id, ticket uint64, role string) (bool, error) {
	b, err := t.customersW()
	if err != nil {
		return false, err
	}
	r, err := roleByte(role)
	if err != nil {
		return false, err
	}
	k := custKey(custTk, u64(id), []byte{r}, u64(ticket))
	if got, _ := b.Cursor().Seek(k); bytes.Equal(got, k) {
		return false, nil
	}
	return true, b.Put(k, nil)
}

// UnlinkCustomerTicket removes a customer's role on a ticket.
func (t *Tx) UnlinkCustomerTicket(id, ticket uint64, role string) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	r, err := roleByte(role)
	if err != nil {
		return err
	}
	return b.Delete(custKey(custTk, u64(id), []byte{r}, u64(ticket)))
}

// CustomerTickets lists the tickets of a role, newest first.
func (t *Tx) CustomerTickets(id uint64, role string) []uint64 {
	b := t.customers()
	r, err := roleByte(role)
	if b == nil || err != nil {
		return nil
	}
	prefix := custKey(custTk, u64(id), []byte{r})
	var out []uint64
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// AddCustomerActivity adds a timeline entry, keyed by its time (so a
// merged profile's entries interleave by time) and a sequence (so entries
// of one instant keep the order they were added in).
func (t *Tx) AddCustomerActivity(id uint64, a *model.CustomerActivity) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	if a.At.IsZero() {
		a.At = t.Now()
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	// Offset so instants before 1970 still sort below later ones.
	at := uint64(a.At.UnixNano()) ^ (1 << 63)
	return putJSON(b, custKey(custAct, u64(id), u64(at), u64(seq)), a)
}

// CustomerActivity lists a timeline newest first.
func (t *Tx) CustomerActivity(id uint64, skip, limit int) ([]*model.CustomerActivity, error) {
	b := t.customers()
	if b == nil {
		return nil, nil
	}
	prefix := custKey(custAct, u64(id))
	c := b.Cursor()
	k, v := c.Seek(custKey(custAct, u64(id+1)))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var out []*model.CustomerActivity
	for ; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		if skip > 0 {
			skip--
			continue
		}
		var a model.CustomerActivity
		if err := unmarshal(v, &a); err != nil {
			return nil, fmt.Errorf("customer %d's timeline: %w", id, err)
		}
		out = append(out, &a)
	}
	return out, nil
}

// CustomerBackfill is the backfill's progress.
func (t *Tx) CustomerBackfill() (model.CustomerBackfill, error) {
	var p model.CustomerBackfill
	b := t.customers()
	if b == nil {
		return p, nil
	}
	if err := getJSON(b, keyBackfill, &p); err != nil && err != store.ErrNotFound {
		return p, err
	}
	return p, nil
}

// SetCustomerBackfill records the backfill's progress.
func (t *Tx) SetCustomerBackfill(p model.CustomerBackfill) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	return putJSON(b, keyBackfill, p)
}
