// Deleting for good (erasure and retention) and the erasure records
// (bucket erasures).

package bolt

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

var bErasures = []byte("erasures") // id -> Erasure

// DeleteMessage removes a message record, its inline raw bytes and its
// duplicate-check entry.
func (t *Tx) DeleteMessage(id uint64) error {
	m, err := t.Message(id)
	if err != nil {
		return fmt.Errorf("message %d: %w", id, err)
	}
	if m.MessageID != "" && m.BodyHash != "" {
		if err := t.b(iDedupe).Delete(dedupeKey(m.MessageID, m.BodyHash)); err != nil {
			return err
		}
	}
	if err := t.b(bRaw).Delete(rawKey(id)); err != nil {
		return err
	}
	return t.b(bMessages).Delete(u64(id))
}

// DeleteRaw removes the inline raw bytes of a message, keeping its record.
func (t *Tx) DeleteRaw(id uint64) error { return t.b(bRaw).Delete(rawKey(id)) }

// DeleteOutbound removes a queue item and its due key.
func (t *Tx) DeleteOutbound(id uint64) error {
	o, err := t.Outbound(id)
	if err != nil {
		return fmt.Errorf("outbound %d: %w", id, err)
	}
	if err := t.b(iDue).Delete(dueKey(o.NextAttempt, id)); err != nil {
		return err
	}
	return t.b(bOutbox).Delete(u64(id))
}

// DeleteQuarantine removes a quarantine record.
func (t *Tx) DeleteQuarantine(id uint64) error { return t.b(bQuarantine).Delete(u64(id)) }

// DeleteWebhook removes a webhook delivery and its due key.
func (t *Tx) DeleteWebhook(id uint64) error {
	d, err := t.WebhookDelivery(id)
	if err != nil {
		return err
	}
	b := t.hooks()
	if err := b.Delete(dueKey(d.NextAttempt, id)); err != nil {
		return err
	}
	return b.Delete(u64(id))
}

// DeleteUser removes a user record and its address key.
func (t *Tx) DeleteUser(addr string) error {
	v := t.get(t.b(iUserAddr), []byte(addr))
	if v == nil {
		return fmt.Errorf("user %s: %w", addr, store.ErrNotFound)
	}
	id := binary.BigEndian.Uint64(v)
	delete(t.users, id)
	if err := t.b(bUsers).Delete(u64(id)); err != nil {
		return err
	}
	return t.b(iUserAddr).Delete([]byte(addr))
}

// ForgetMessageIDs removes the Message-ID index entries of tickets and of
// ids. Duplicate-check entries (Message-ID \0 hash) go with their
// messages (DeleteMessage).
func (t *Tx) ForgetMessageIDs(tickets map[uint64]bool, ids []string) (int, error) {
	b := t.b(iMsgID)
	var drop [][]byte
	for _, id := range ids {
		if k := normID(id); b.Get(k) != nil {
			drop = append(drop, k)
		}
	}
	if len(tickets) > 0 {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if slices.Contains(k, 0) {
				continue // a duplicate-check entry
			}
			var r model.Ref
			if err := unmarshal(v, &r); err != nil {
				return 0, fmt.Errorf("Message-ID index entry %q: %w", k, err)
			}
			if tickets[r.Ticket] {
				drop = append(drop, slices.Clone(k))
			}
		}
	}
	n := 0
	for _, k := range drop {
		if b.Get(k) == nil {
			continue // named twice
		}
		if err := b.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SettledOutbound returns sent or failed items settled before before,
// oldest first. Ids grow with time, so the scan stops at the first item
// created after before.
func (t *Tx) SettledOutbound(before time.Time, limit int) ([]*model.Outbound, error) {
	var out []*model.Outbound
	c := t.b(bOutbox).Cursor()
	for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
		if len(k) != 8 {
			break // the queue's due keys sort after every record
		}
		var o model.Outbound
		if err := unmarshal(v, &o); err != nil {
			return nil, err
		}
		if !o.Created.Before(before) {
			break
		}
		if o.State != model.OutQueued && !o.Done.IsZero() && o.Done.Before(before) {
			out = append(out, &o)
		}
	}
	return out, nil
}

// OldQuarantine returns records created before before, oldest first.
func (t *Tx) OldQuarantine(before time.Time, limit int) ([]*model.Quarantine, error) {
	var out []*model.Quarantine
	c := t.b(bQuarantine).Cursor()
	for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
		var q model.Quarantine
		if err := unmarshal(v, &q); err != nil {
			return nil, err
		}
		if !q.Created.Before(before) {
			break
		}
		out = append(out, &q)
	}
	return out, nil
}

// erasures is the erasures bucket; nil in a read-only store written by a
// binary from before erasures.
func (t *Tx) erasures() *bbolt.Bucket { return t.b(bErasures) }

// AddErasure stores an erasure record.
func (t *Tx) AddErasure(r *model.Erasure) error {
	b := t.erasures()
	if b == nil {
		return fmt.Errorf("the store has no erasures bucket (open it writable once to upgrade)")
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	r.ID = seq
	if r.At.IsZero() {
		r.At = t.Now()
	}
	return putJSON(b, u64(seq), r)
}

// Erasures lists the erasure records, oldest first.
func (t *Tx) Erasures() ([]*model.Erasure, error) {
	b := t.erasures()
	if b == nil {
		return nil, nil
	}
	var out []*model.Erasure
	err := b.ForEach(func(k, v []byte) error {
		var r model.Erasure
		if err := unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, &r)
		return nil
	})
	return out, err
}

// PutErasure rewrites a stored erasure record.
func (t *Tx) PutErasure(r *model.Erasure) error {
	b := t.erasures()
	if b == nil || b.Get(u64(r.ID)) == nil {
		return fmt.Errorf("erasure record %d: %w", r.ID, store.ErrNotFound)
	}
	return putJSON(b, u64(r.ID), r)
}

// DeleteErasure removes an erasure record.
func (t *Tx) DeleteErasure(id uint64) error {
	b := t.erasures()
	if b == nil || b.Get(u64(id)) == nil {
		return fmt.Errorf("erasure record %d: %w", id, store.ErrNotFound)
	}
	return b.Delete(u64(id))
}
