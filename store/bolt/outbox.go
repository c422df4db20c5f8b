// The outbound queue (bucket outbox: records and their due keys).

package bolt

import (
	"encoding/binary"
	"time"

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
	if err := t.b(iDue).Put(dueKey(o.NextAttempt, o.ID), nil); err != nil {
		return err
	}
	return putJSON(t.b(bOutbox), u64(seq), o)
}

// Outbound loads a queue item.
func (t *Tx) Outbound(id uint64) (*model.Outbound, error) {
	var o model.Outbound
	if err := getJSON(t.b(bOutbox), u64(id), &o); err != nil {
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
		if err := t.b(iDue).Put(dueKey(o.NextAttempt, o.ID), nil); err != nil {
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
