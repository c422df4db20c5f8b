// Deleting for good (erasure and retention, store.Erasing) and the
// erasure records (table erasures, schema version 3).

package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
)

// dropBlobUnlessShared deletes a large body kept in table blobs unless a
// message other than except still names it (bodies are content-addressed:
// two messages with the same bytes share one row). The engine removes
// blob files under data_dir itself; this engine's bodies are rows, so
// they go here, in the same write.
func (t *Tx) dropBlobUnlessShared(name string, except uint64) error {
	if !strings.HasPrefix(name, blobPrefix) {
		return nil
	}
	return t.exec(`DELETE FROM blobs WHERE name = $1 AND NOT EXISTS
		(SELECT 1 FROM messages WHERE data->>'blob' = $1 AND id <> $2)`, name, int64(except))
}

// DeleteMessage removes a message record, its raw bytes (inline or in
// table blobs when no other message shares them) and its duplicate-check
// entry.
func (t *Tx) DeleteMessage(id uint64) error {
	m, err := t.Message(id)
	if err != nil {
		return err
	}
	if m.MessageID != "" && m.BodyHash != "" {
		if err := t.remove(tIdentity, idKey(m.MessageID, m.BodyHash), normID(m.MessageID), m.BodyHash); err != nil {
			return err
		}
	}
	if err := t.remove(tMessages, ks(id), int64(id)); err != nil {
		return err
	}
	return t.dropBlobUnlessShared(m.Blob, id)
}

// DeleteRaw removes the raw bytes of a message, keeping its record: the
// inline bytes, and its body in table blobs unless shared (the caller
// clears Message.Blob).
func (t *Tx) DeleteRaw(id uint64) error {
	k := ks(id)
	if r, ok := t.pendingRow(tMessages, k); ok && r.fresh && !r.del {
		// Not sent yet: the row goes without them.
		vals := append([]any(nil), r.vals...)
		vals[2] = nil
		if err := t.putNew(tMessages, k, vals...); err != nil {
			return err
		}
	} else if err := t.exec("UPDATE messages SET raw = NULL WHERE id = $1", int64(id)); err != nil {
		return err
	}
	m, err := t.Message(id)
	if err != nil {
		return nil // no record: nothing names a body
	}
	return t.dropBlobUnlessShared(m.Blob, id)
}

// DeleteOutbound removes a queue item in any state.
func (t *Tx) DeleteOutbound(id uint64) error {
	if _, err := t.Outbound(id); err != nil {
		return err
	}
	return t.remove(tOutbound, ks(id), int64(id))
}

// DeleteQuarantine removes a quarantine record.
func (t *Tx) DeleteQuarantine(id uint64) error {
	return t.remove(tQuarantin, ks(id), int64(id))
}

// DeleteWebhook removes a webhook delivery in any state.
func (t *Tx) DeleteWebhook(id uint64) error {
	if _, err := t.WebhookDelivery(id); err != nil {
		return err
	}
	return t.remove(tWebhooks, ks(id), int64(id))
}

// DeleteUser removes the user at addr. The deletion is sent at once: the
// lookup by address (userID) reads the database, not pending rows.
func (t *Tx) DeleteUser(addr string) error {
	id, err := t.userID(addr)
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("user %s: %w", addr, store.ErrNotFound)
	}
	if err := t.remove(tUsers, ks(id), int64(id)); err != nil {
		return err
	}
	delete(t.userIDs, addr)
	return t.flush()
}

// ForgetMessageIDs removes the Message-ID index entries of ids and of
// tickets and returns how many (duplicate-check entries are another
// table's and go with their messages).
func (t *Tx) ForgetMessageIDs(tickets map[uint64]bool, ids []string) (int, error) {
	n := 0
	drop := func(msgID string) error {
		if _, err := t.record(tRefs, msgID, "SELECT data FROM message_refs WHERE message_id = $1", msgID); err != nil {
			return nil // not indexed, or named twice
		}
		n++
		return t.remove(tRefs, msgID, msgID)
	}
	for _, id := range ids {
		if err := drop(normID(id)); err != nil {
			return n, err
		}
	}
	if len(tickets) == 0 {
		return n, nil
	}
	tks := make([]int64, 0, len(tickets))
	for id := range tickets {
		tks = append(tks, int64(id))
	}
	rows, err := t.query("SELECT message_id FROM message_refs WHERE ticket = ANY($1) ORDER BY message_id", tks)
	if err != nil {
		return n, err
	}
	msgIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return n, t.fail("reading Message-ID index entries", err)
	}
	for _, id := range msgIDs {
		if err := drop(id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// SettledOutbound returns up to limit sent or failed items settled before
// before, oldest first. Ids grow with time, so the walk stops at the
// first item created after before.
func (t *Tx) SettledOutbound(before time.Time, limit int) ([]*model.Outbound, error) {
	var out []*model.Outbound
	var after int64
	for len(out) < limit {
		os, err := t.outbounds("SELECT "+outData+" FROM outbound WHERE id > $1 AND state <> 'queued' ORDER BY id LIMIT $2", after, page)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			after = int64(o.ID)
			if !o.Created.Before(before) {
				return out, nil
			}
			if !o.Done.IsZero() && o.Done.Before(before) {
				out = append(out, o)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if len(os) < page {
			break
		}
	}
	return out, nil
}

// OldQuarantine returns up to limit records created before before, oldest
// first.
func (t *Tx) OldQuarantine(before time.Time, limit int) ([]*model.Quarantine, error) {
	var out []*model.Quarantine
	var after int64
	for len(out) < limit {
		datas, err := t.datas("SELECT data FROM quarantine WHERE id > $1 ORDER BY id LIMIT $2", after, page)
		if err != nil {
			return nil, err
		}
		for _, d := range datas {
			var q model.Quarantine
			if err := unmarshal(d, &q); err != nil {
				return nil, err
			}
			after = int64(q.ID)
			if !q.Created.Before(before) {
				return out, nil
			}
			out = append(out, &q)
			if len(out) == limit {
				return out, nil
			}
		}
		if len(datas) < page {
			break
		}
	}
	return out, nil
}

// AddErasure stores an erasure record. Its instant, who and how are
// columns of their own, so the table reads as a log in psql.
func (t *Tx) AddErasure(r *model.Erasure) error {
	id, err := t.nextID("erasures")
	if err != nil {
		return err
	}
	r.ID = id
	if r.At.IsZero() {
		r.At = t.Now()
	}
	data, err := marshal(r)
	if err != nil {
		return err
	}
	return t.put(tErasures, ks(id), int64(id), r.At, r.By, r.Via, int32(r.Tickets), data)
}

// Erasures lists the erasure records, oldest first.
func (t *Tx) Erasures() ([]*model.Erasure, error) {
	datas, err := t.datas("SELECT data FROM erasures ORDER BY id")
	if err != nil {
		return nil, err
	}
	out := make([]*model.Erasure, 0, len(datas))
	for _, d := range datas {
		var r model.Erasure
		if err := unmarshal(d, &r); err != nil {
			return nil, fmt.Errorf("an erasure record: %w", err)
		}
		out = append(out, &r)
	}
	return out, nil
}

// erasureExists reports ErrNotFound for an erasure record id not stored.
func (t *Tx) erasureExists(id uint64) error {
	if _, err := t.record(tErasures, ks(id), "SELECT data FROM erasures WHERE id = $1", int64(id)); err != nil {
		return fmt.Errorf("erasure record %d: %w", id, err)
	}
	return nil
}

// PutErasure rewrites a stored erasure record.
func (t *Tx) PutErasure(r *model.Erasure) error {
	if err := t.erasureExists(r.ID); err != nil {
		return err
	}
	data, err := marshal(r)
	if err != nil {
		return err
	}
	return t.put(tErasures, ks(r.ID), int64(r.ID), r.At, r.By, r.Via, int32(r.Tickets), data)
}

// DeleteErasure removes an erasure record.
func (t *Tx) DeleteErasure(id uint64) error {
	if err := t.erasureExists(id); err != nil {
		return err
	}
	return t.remove(tErasures, ks(id), int64(id))
}
