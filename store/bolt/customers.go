// Customer profiles (bucket customers, SPEC 8). One bucket holds the
// records and their indexes, told apart by a one-byte prefix, so a
// profile's change touches the pages of one bucket. A profile's ticket
// links and timeline sit right after its record, under the same 'c' id
// prefix (schema 4): a new ticket's profile, link and timeline entry are
// neighbours (a new customer's at the end of the records), so a commit
// of several new tickets dirties one leaf for them instead of three.
//
//	'c' id                      -> Customer
//	'c' id 't' role ticket      -> nil (role 'r' requester, 'c' CC)
//	'c' id 'x' at(ns) seq       -> CustomerActivity (the timeline, by time)
//	'o' lower(org) 0x00 id      -> nil (customers --org)
//	"m.backfill"                -> CustomerBackfill
//
// The address index is in bucket users, beside the user's own keys of
// the same address (address -> user id, address 0x00 ticket):
//
//	address 0x01                -> customer id (each address belongs to one customer)
//
// A new requester's user and profile are written by the same mail, and
// an address lands on a random page: one page for both instead of two.
// Schema 3 had the address index in this bucket ('a' address), the
// links under 't' id and the timeline under 'e' id (migrateCustomerKeys
// moves them).

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
	custRec    = 'c'
	custAddrV3 = 'a'
	custOrg    = 'o'
	// After 'c' id: a ticket link, a timeline entry.
	custTk  = 't'
	custAct = 'x'
	// Schema 3's prefixes of links and timeline entries.
	custTkV3  = 't'
	custActV3 = 'e'
)

// The address index: bucket users, address 0x01 (schema 3: bucket
// customers, 'a' address).
func (t *Tx) custAddrs() (*bbolt.Bucket, func(string) []byte) {
	if t.db.custV3 {
		return t.customers(), func(a string) []byte { return custKey(custAddrV3, []byte(a)) }
	}
	return t.b(iCustAddr), custAddrKey
}

func custAddrKey(a string) []byte { return append([]byte(a), 1) }

// customerOf is the id of the profile addr belongs to (0: none).
func (t *Tx) customerOf(addr string) uint64 {
	if t.custMiss != "" && addr == t.custMiss {
		// Looked up and not found in this transaction, and no address
		// key was written since (putCustomer clears custMiss): the
		// engine's language look-up and its ensure both ask for a new
		// requester.
		return 0
	}
	b, key := t.custAddrs()
	if b == nil {
		return 0
	}
	if v := t.get(b, key(addr)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	t.custMiss = addr
	return 0
}

// linkPrefix is the prefix of a profile's links of one role (role 0:
// every link), actPrefix of its timeline entries.
func (t *Tx) linkPrefix(id uint64, role byte) []byte {
	var r []byte
	if role != 0 {
		r = []byte{role}
	}
	if t.db.custV3 {
		return custKey(custTkV3, u64(id), r)
	}
	return custSub(id, custTk, r)
}

func (t *Tx) actPrefix(id uint64) []byte {
	if t.db.custV3 {
		return custKey(custActV3, u64(id))
	}
	return custSub(id, custAct)
}

// custSub is the key of a profile's link or timeline entry: 'c' id sub
// parts... (one allocation: a new ticket builds several).
func custSub(id uint64, sub byte, parts ...[]byte) []byte {
	n := 10
	for _, p := range parts {
		n += len(p)
	}
	k := append(binary.BigEndian.AppendUint64(append(make([]byte, 0, n), custRec), id), sub)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

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
	if err := t.getJSON(b, custKey(custRec, u64(id)), &c); err != nil {
		return nil, fmt.Errorf("customer %d: %w", id, err)
	}
	return &c, nil
}

// CustomerByAddr finds the profile an address belongs to.
func (t *Tx) CustomerByAddr(addr string) (*model.Customer, error) {
	id := t.customerOf(addr)
	if id == 0 {
		// Bare: every new ticket's requester is looked up, and most
		// first mails find none.
		return nil, store.ErrNotFound
	}
	return t.Customer(id)
}

// NewCustomer stores a new profile.
func (t *Tx) NewCustomer(c *model.Customer) error {
	b, err := t.customersW()
	if err != nil {
		return err
	}
	for _, a := range c.Addresses {
		if (t.custMiss == "" || a != t.custMiss) && t.customerOf(a) != 0 {
			return fmt.Errorf("new customer with %s: %w", a, store.ErrAddressTaken)
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	c.ID = seq
	t.custNew, t.custNewLinked = seq, false
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
	if err := t.getJSON(b, custKey(custRec, u64(c.ID)), &old); err != nil {
		return fmt.Errorf("customer %d: %w", c.ID, err)
	}
	for _, a := range c.Addresses {
		if id := t.customerOf(a); id != 0 && id != c.ID {
			return fmt.Errorf("customer %d with %s: %w", c.ID, a, store.ErrAddressTaken)
		}
	}
	return t.putCustomer(b, c, &old)
}

// putCustomer writes the record and the index entries that changed
// from old (nil: a new profile).
func (t *Tx) putCustomer(b *bbolt.Bucket, c *model.Customer, old *model.Customer) error {
	ab := t.b(iCustAddr)
	t.custMiss = ""
	if old != nil {
		for _, a := range old.Addresses {
			if !c.HasAddress(a) {
				if err := ab.Delete(custAddrKey(a)); err != nil {
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
	// Index entries already there are not written again: a Put of the
	// same key and value still dirties its page (an address key is on a
	// random one). A new profile's are not there (NewCustomer checked,
	// a restore starts empty): no look.
	for _, a := range c.Addresses {
		if k := custAddrKey(a); old == nil || !bytes.Equal(t.get(ab, k), u64(c.ID)) {
			if err := ab.Put(k, u64(c.ID)); err != nil {
				return err
			}
		}
	}
	if c.Organization != "" && (old == nil || !strings.EqualFold(old.Organization, c.Organization)) {
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
		if t.customerOf(a) == id {
			if err := t.b(iCustAddr).Delete(custAddrKey(a)); err != nil {
				return err
			}
		}
	}
	if c.Organization != "" {
		if err := b.Delete(orgKey(c.Organization, id)); err != nil {
			return err
		}
	}
	// The record and its links and timeline entries.
	return deletePrefix(b, custKey(custRec, u64(id)))
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
	if org == "" {
		return lastRecords(b, limit)
	}
	prefix := custKey(custOrg, []byte(strings.ToLower(org)), []byte{0})
	var out []uint64
	c := b.Cursor()
	k, _ := c.Seek(prefixEnd(prefix))
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

// prefixEnd is a key above every key with prefix (and below the next
// prefix's keys of the same length or shorter).
func prefixEnd(prefix []byte) []byte {
	return append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

// prefixSucc is the least key above every key with prefix (nil: none).
func prefixSucc(prefix []byte) []byte {
	k := append([]byte(nil), prefix...)
	for i := len(k) - 1; i >= 0; i-- {
		if k[i]++; k[i] != 0 {
			return k[:i+1]
		}
	}
	return nil
}

// lastRecords lists the ids of the newest profiles, newest first: from
// the end of the 'c' keys back, one seek per profile over its links and
// timeline entries.
func lastRecords(b *bbolt.Bucket, limit int) []uint64 {
	var out []uint64
	c := b.Cursor()
	k, _ := c.Seek([]byte{custRec + 1})
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for k != nil && k[0] == custRec && len(k) >= 9 && (limit <= 0 || len(out) < limit) {
		rec := k[:9]
		if len(k) != 9 {
			// A link or timeline entry: its record is the greatest key
			// at or below 'c' id.
			rec = append([]byte(nil), rec...)
			k, _ = c.Seek(rec)
			if !bytes.Equal(k, rec) {
				k, _ = c.Prev()
				continue
			}
		}
		out = append(out, binary.BigEndian.Uint64(k[1:9]))
		k, _ = c.Prev()
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
	k := custSub(id, custTk, []byte{r}, u64(ticket))
	if id == t.custNew && !t.custNewLinked {
		// The first link of a profile this transaction created: its
		// id is new (a sequence's), so no link of it can be there.
		t.custNewLinked = true
		return true, b.Put(k, nil)
	}
	if got, _ := t.cursor(b).Seek(k); bytes.Equal(got, k) {
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
	return b.Delete(custSub(id, custTk, []byte{r}, u64(ticket)))
}

// CustomerTickets lists the tickets of a role, newest first.
func (t *Tx) CustomerTickets(id uint64, role string) []uint64 {
	b := t.customers()
	r, err := roleByte(role)
	if b == nil || err != nil {
		return nil
	}
	prefix := t.linkPrefix(id, r)
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
	return putJSON(b, custSub(id, custAct, u64(at), u64(seq)), a)
}

// CustomerActivity lists a timeline newest first.
func (t *Tx) CustomerActivity(id uint64, skip, limit int) ([]*model.CustomerActivity, error) {
	b := t.customers()
	if b == nil {
		return nil, nil
	}
	prefix := t.actPrefix(id)
	c := b.Cursor()
	k, v := c.Seek(prefixSucc(prefix))
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
	if err := t.getJSON(b, keyBackfill, &p); err != nil && err != store.ErrNotFound {
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

// moveCustomerKeysV3 moves up to max (0: all) of schema 3's keys of
// bucket customers to schema 4's places, values unchanged: the address
// index ('a' address) to bucket users (address 0x01), the links ('t' id
// role ticket) and timeline entries ('e' id at seq) under their
// profile's record ('c' id 't' ..., 'c' id 'x' ...). It returns how many
// it moved (0: none left). Keys are read before they are moved: a bbolt
// cursor must not walk a bucket that is being changed.
func moveCustomerKeysV3(tx *bbolt.Tx, max int) (int, error) {
	b := tx.Bucket(bCustomers)
	users := tx.Bucket(iCustAddr)
	if b == nil || users == nil {
		return 0, nil
	}
	// Keys go in in order of their profile: pages filled before splitting.
	b.FillPercent = 0.9
	moved := 0
	for _, m := range []struct {
		old byte
		n   int
		to  func(k []byte) (*bbolt.Bucket, []byte)
	}{
		{custAddrV3, 0, func(k []byte) (*bbolt.Bucket, []byte) { return users, custAddrKey(string(k[1:])) }},
		{custTkV3, 18, func(k []byte) (*bbolt.Bucket, []byte) {
			return b, custSub(binary.BigEndian.Uint64(k[1:9]), custTk, k[9:])
		}},
		{custActV3, 25, func(k []byte) (*bbolt.Bucket, []byte) {
			return b, custSub(binary.BigEndian.Uint64(k[1:9]), custAct, k[9:])
		}},
	} {
		for max <= 0 || moved < max {
			var keys, vals [][]byte
			c := b.Cursor()
			for k, v := c.Seek([]byte{m.old}); k != nil && k[0] == m.old && len(keys) < 10000 && (max <= 0 || moved+len(keys) < max); k, v = c.Next() {
				keys, vals = append(keys, append([]byte(nil), k...)), append(vals, append([]byte(nil), v...))
			}
			if len(keys) == 0 {
				break
			}
			for i, k := range keys {
				if m.n != 0 && len(k) != m.n || len(k) < 2 {
					return moved, fmt.Errorf("customer key %x: damaged", k)
				}
				if err := b.Delete(k); err != nil {
					return moved, err
				}
				to, nk := m.to(k)
				if err := to.Put(nk, vals[i]); err != nil {
					return moved, fmt.Errorf("moving customer key %x: %w", k, err)
				}
			}
			moved += len(keys)
		}
	}
	return moved, nil
}
