// The webhook delivery queue (bucket webhooks: records and their due
// keys, laid out as the outbox's).

package bolt

import (
	"encoding/binary"
	"fmt"
	"time"

	"helpdesk/store"

	"go.etcd.io/bbolt"
	"helpdesk/store/model"
)

// hooks is the webhooks bucket; nil only in a read-only store written by
// a binary from before webhooks (nothing queued then).
func (t *Tx) hooks() *bbolt.Bucket { return t.b(bWebhooks) }

// EnqueueWebhook adds a delivery to the durable queue.
func (t *Tx) EnqueueWebhook(d *model.WebhookDelivery) error {
	b := t.hooks()
	if b == nil {
		return fmt.Errorf("the store has no webhook queue (open it writable once to upgrade)")
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	d.ID = seq
	if d.Created.IsZero() {
		d.Created = t.Now()
	}
	if d.NextAttempt.IsZero() {
		d.NextAttempt = d.Created
	}
	d.State = model.HookQueued
	if err := b.Put(dueKey(d.NextAttempt, d.ID), nil); err != nil {
		return err
	}
	return putJSON(b, u64(seq), d)
}

// WebhookDelivery loads one delivery.
func (t *Tx) WebhookDelivery(id uint64) (*model.WebhookDelivery, error) {
	b := t.hooks()
	if b == nil {
		return nil, fmt.Errorf("webhook delivery %d: %w", id, store.ErrNotFound)
	}
	var d model.WebhookDelivery
	if err := t.getJSON(b, u64(id), &d); err != nil {
		return nil, fmt.Errorf("webhook delivery %d: %w", id, err)
	}
	return &d, nil
}

// PutWebhook stores a changed delivery; prevDue is the NextAttempt it was
// indexed under.
func (t *Tx) PutWebhook(d *model.WebhookDelivery, prevDue time.Time) error {
	b := t.hooks()
	if b == nil {
		return fmt.Errorf("the store has no webhook queue")
	}
	if err := b.Delete(dueKey(prevDue, d.ID)); err != nil {
		return err
	}
	if d.State == model.HookQueued {
		if err := b.Put(dueKey(d.NextAttempt, d.ID), nil); err != nil {
			return err
		}
	}
	return putJSON(b, u64(d.ID), d)
}

// DueWebhooks returns queued deliveries due at or before now, oldest
// first, at most limit.
func (t *Tx) DueWebhooks(now time.Time, limit int) ([]*model.WebhookDelivery, error) {
	b := t.hooks()
	if b == nil {
		return nil, nil
	}
	var out []*model.WebhookDelivery
	c := b.Cursor()
	end := uint64(now.UnixNano())
	for k, _ := c.Seek([]byte{dueMark}); len(k) == 17 && k[0] == dueMark && len(out) < limit; k, _ = c.Next() {
		if binary.BigEndian.Uint64(k[1:9]) > end {
			break
		}
		d, err := t.WebhookDelivery(binary.BigEndian.Uint64(k[9:]))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// NextWebhookDue is the earliest next attempt of a queued delivery.
func (t *Tx) NextWebhookDue() time.Time {
	b := t.hooks()
	if b == nil {
		return time.Time{}
	}
	k, _ := b.Cursor().Seek([]byte{dueMark})
	if len(k) != 17 || k[0] != dueMark {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[1:9])))
}

// ForEachWebhook calls fn for every delivery, newest first.
func (t *Tx) ForEachWebhook(fn func(*model.WebhookDelivery) error) error {
	b := t.hooks()
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if len(k) != 8 {
			continue // a queue entry
		}
		var d model.WebhookDelivery
		if err := unmarshal(v, &d); err != nil {
			return err
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	return nil
}
