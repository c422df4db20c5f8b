// The outbound queue (bucket outbox: records and their due keys).

package bolt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// dueMark starts the queue keys in the outbox bucket; record keys (ids
// below 2^56) all start with 0x00 and sort before them.
const dueMark = 0xf0

func dueKey(at time.Time, id uint64) []byte {
	b := make([]byte, 17)
	b[0] = dueMark
	binary.BigEndian.PutUint64(b[1:], uint64(at.UnixNano()))
	binary.BigEndian.PutUint64(b[9:], id)
	return b
}

// Enqueue adds an outbound mail to the durable queue.
func (t *Tx) Enqueue(o *model.Outbound) error {
	seq, err := t.b(bOutbox).NextSequence()
	if err != nil {
		return err
	}
	o.ID = seq
	if o.Created.IsZero() {
		o.Created = t.Now()
	}
	if o.NextAttempt.IsZero() {
		o.NextAttempt = o.Created
	}
	o.State = model.OutQueued
	h := t.handoff.Claim(o, t.Now())
	if err := t.b(iDue).Put(dueKey(o.NextAttempt, o.ID), leaseValue(o)); err != nil {
		return err
	}
	if err := putJSON(t.b(bOutbox), u64(seq), o); err != nil {
		return err
	}
	if h {
		c := o.Clone()
		t.handed = append(t.handed, &c)
	}
	return nil
}

// Outbound loads a queue item.
func (t *Tx) Outbound(id uint64) (*model.Outbound, error) {
	var o model.Outbound
	if err := t.getJSON(t.b(bOutbox), u64(id), &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// PutOutbound stores a changed queue item; prevDue is the NextAttempt it
// was indexed under.
func (t *Tx) PutOutbound(o *model.Outbound, prevDue time.Time) error {
	if err := t.b(iDue).Delete(dueKey(prevDue, o.ID)); err != nil {
		return err
	}
	if o.State == model.OutQueued {
		if err := t.b(iDue).Put(dueKey(o.NextAttempt, o.ID), leaseValue(o)); err != nil {
			return err
		}
	}
	return putJSON(t.b(bOutbox), u64(o.ID), o)
}

// Due returns queued items whose next attempt is at or before now, oldest
// first, at most limit.
func (t *Tx) Due(now time.Time, limit int) ([]*model.Outbound, error) {
	var out []*model.Outbound
	c := t.b(iDue).Cursor()
	end := uint64(now.UnixNano())
	for k, _ := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark && len(out) < limit; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[1:9]) > end {
			break
		}
		o, err := t.Outbound(binary.BigEndian.Uint64(k[9:]))
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// NextDue is the earliest next attempt of a queued item (zero: none).
func (t *Tx) NextDue() time.Time {
	k, _ := t.b(iDue).Cursor().Seek([]byte{dueMark})
	if k == nil || len(k) != 17 || k[0] != dueMark {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[1:9])))
}

// QueueDepth is the number of queued (not yet sent) mails.
func (t *Tx) QueueDepth() int {
	n := 0
	c := t.b(iDue).Cursor()
	for k, _ := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark; k, _ = c.Next() {
		n++
	}
	return n
}

// OldestQueued is the queued (not yet sent) mail enqueued first, or nil.
// Queue ids grow with every enqueue, so it is the lowest id in the due
// index; only keys are read, and that one item.
func (t *Tx) OldestQueued() (*model.Outbound, error) {
	var first uint64
	c := t.b(iDue).Cursor()
	for k, _ := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark; k, _ = c.Next() {
		if id := binary.BigEndian.Uint64(k[9:]); first == 0 || id < first {
			first = id
		}
	}
	if first == 0 {
		return nil, nil
	}
	return t.Outbound(first)
}

// ForEachOutbound calls fn for every queue item, newest first.
func (t *Tx) ForEachOutbound(fn func(*model.Outbound) error) error {
	c := t.b(bOutbox).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if len(k) != 8 {
			continue // a queue entry
		}
		var o model.Outbound
		if err := unmarshal(v, &o); err != nil {
			return err
		}
		if err := fn(&o); err != nil {
			return err
		}
	}
	return nil
}

// A lease lives in the item's record (LeaseHolder, LeaseUntil) and, for
// the queue's own checks, in the value of its due key (LeaseUntil in unix
// nanoseconds, then the holder; empty: no lease), so claiming and
// settling decode no record they do not change. The due key stays at
// NextAttempt: Claim skips the leased items it meets (as many as the
// workers have in flight), and an expired lease needs no sweep.

// leaseValue is the due key's value for o.
func leaseValue(o *model.Outbound) []byte {
	if o.LeaseHolder == "" {
		return nil
	}
	v := make([]byte, 8, 8+len(o.LeaseHolder))
	binary.BigEndian.PutUint64(v, uint64(o.LeaseUntil.UnixNano()))
	return append(v, o.LeaseHolder...)
}

// leaseOf decodes a due key's value: who holds the item, until when.
func leaseOf(v []byte) (holder string, until int64) {
	if len(v) < 8 {
		return "", 0
	}
	return string(v[8:]), int64(binary.BigEndian.Uint64(v))
}

// Claim leases up to n due items that no unexpired lease holds.
func (t *Tx) Claim(holder string, now time.Time, n int, lease time.Duration, start bool) ([]*model.Outbound, error) {
	if holder == "" {
		return nil, fmt.Errorf("claiming outbound mail: no holder named")
	}
	var keys [][]byte
	c := t.cursor(t.b(iDue))
	end := uint64(now.UnixNano())
	for k, v := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark && len(keys) < n; k, v = c.Next() {
		if binary.BigEndian.Uint64(k[1:9]) > end {
			break
		}
		if h, until := leaseOf(v); h != "" && until > now.UnixNano() {
			continue // a delivery under way (this worker's or another's)
		}
		keys = append(keys, slices.Clone(k))
	}
	// Written after the scan: a Put into the bucket a cursor walks may
	// move it.
	out := make([]*model.Outbound, 0, len(keys))
	for _, k := range keys {
		o, err := t.Outbound(binary.BigEndian.Uint64(k[9:]))
		if err != nil {
			return nil, err
		}
		// The caller gets the item as it was (Started set: an earlier
		// attempt was cut short), with the lease.
		x := *o
		x.LeaseHolder, x.LeaseUntil = holder, now.Add(lease)
		o.LeaseHolder, o.LeaseUntil = x.LeaseHolder, x.LeaseUntil
		if start {
			x.Started = now
		}
		if err := t.b(iDue).Put(k, leaseValue(&x)); err != nil {
			return nil, err
		}
		if err := putJSON(t.b(bOutbox), u64(x.ID), &x); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// heldKey finds the due key of an item holder holds a lease on, as
// queued at due.
func (t *Tx) heldKey(holder string, id uint64, due time.Time) ([]byte, error) {
	k := dueKey(due, id)
	v := t.get(t.b(iDue), k)
	if h, _ := leaseOf(v); v == nil || h != holder || holder == "" {
		return nil, fmt.Errorf("outbound %d is not held by %q: %w", id, holder, store.ErrLeaseLost)
	}
	return k, nil
}

// Extend moves holder's lease on id to until.
func (t *Tx) Extend(holder string, id uint64, until time.Time) error {
	o, err := t.Outbound(id)
	if err != nil {
		return fmt.Errorf("outbound %d: %w", id, err)
	}
	k, err := t.heldKey(holder, id, o.NextAttempt)
	if err != nil {
		return err
	}
	o.LeaseUntil = until
	if err := t.b(iDue).Put(k, leaseValue(o)); err != nil {
		return err
	}
	return putJSON(t.b(bOutbox), u64(o.ID), o)
}

// Settle records a claimed item's outcome and ends the lease.
func (t *Tx) Settle(holder string, o *model.Outbound, prevDue time.Time) error {
	if _, err := t.heldKey(holder, o.ID, prevDue); err != nil {
		return err
	}
	o.LeaseHolder, o.LeaseUntil = "", time.Time{}
	return t.PutOutbound(o, prevDue)
}

// ReleaseLeases ends every lease holder holds on a queued item.
func (t *Tx) ReleaseLeases(holder string) (int, error) {
	if holder == "" {
		return 0, nil
	}
	var keys [][]byte
	c := t.b(iDue).Cursor()
	for k, v := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark; k, v = c.Next() {
		if h, _ := leaseOf(v); h == holder {
			keys = append(keys, slices.Clone(k))
		}
	}
	for _, k := range keys {
		o, err := t.Outbound(binary.BigEndian.Uint64(k[9:]))
		if err != nil {
			return 0, err
		}
		o.LeaseHolder, o.LeaseUntil = "", time.Time{}
		if err := t.b(iDue).Put(k, nil); err != nil {
			return 0, err
		}
		if err := putJSON(t.b(bOutbox), u64(o.ID), o); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
