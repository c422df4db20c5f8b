// Accepted mail: message records, raw bytes kept inline, the duplicate
// check and the Message-ID index (buckets messages, idx_msgid).

package bolt

import (
	"encoding/binary"
	"fmt"
	"strings"

	"helpdesk/store"
	"helpdesk/store/model"
)

// AddMessage stores an accepted mail's record and, when it was not spooled
// to a blob, its raw bytes.
func (t *Tx) AddMessage(m *model.Message, raw []byte) error {
	if m.Blob == "" {
		return t.AddPackedMessage(m, packRaw(raw))
	}
	return t.AddPackedMessage(m, nil)
}

// AddPackedMessage is AddMessage with the raw bytes already packed by
// PackRaw.
func (t *Tx) AddPackedMessage(m *model.Message, packed []byte) error {
	if err := t.ReserveMessage(m, packed); err != nil {
		return err
	}
	return t.PutMessage(m)
}

// ReserveMessage gives m its id and stores its raw bytes (packed by
// PackRaw, unless m.Blob names a spooled file) and its dedupe key, but
// not the record itself: the caller stores it with PutMessage in the same
// write, once its ticket and disposition are known (one record write per
// mail instead of two).
func (t *Tx) ReserveMessage(m *model.Message, packed []byte) error {
	// The identity is checked first: nothing of a refused message is
	// written (its id is not taken either).
	var dk []byte
	if m.MessageID != "" && m.BodyHash != "" {
		dk = dedupeKey(m.MessageID, m.BodyHash)
		if t.get(t.b(iDedupe), dk) != nil {
			return fmt.Errorf("message %s: %w", m.MessageID, store.ErrDuplicate)
		}
	}
	seq, err := t.b(bMessages).NextSequence()
	if err != nil {
		return err
	}
	m.ID = seq
	if m.Blob == "" {
		if err := t.b(bRaw).Put(rawKey(seq), packed); err != nil {
			return err
		}
	}
	if dk != nil {
		if err := t.b(iDedupe).Put(dk, u64(seq)); err != nil {
			return err
		}
	}
	return nil
}

// PutMessage rewrites a message record (disposition, ticket).
func (t *Tx) PutMessage(m *model.Message) error { return putJSON(t.b(bMessages), u64(m.ID), m) }

// Message loads a message record.
func (t *Tx) Message(id uint64) (*model.Message, error) {
	var m model.Message
	if err := t.getJSON(t.b(bMessages), u64(id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RawInline returns the raw bytes of a message kept in the database (nil
// when it was spooled to a blob).
func (t *Tx) RawInline(id uint64) []byte {
	v := t.get(t.b(bRaw), rawKey(id))
	if v == nil {
		return nil
	}
	raw, err := unpackRaw(v)
	if err != nil {
		return nil
	}
	return raw
}

// dedupeKey sits next to the Message-ID's own index entry (same bucket,
// same prefix).
func dedupeKey(msgID, hash string) []byte {
	return append(append(normID(msgID), 0), hash...)
}

// Duplicate returns the message already stored with this Message-ID and
// body hash (SPEC 3.6), or nil.
func (t *Tx) Duplicate(msgID, hash string) (*model.Message, error) {
	if msgID == "" || hash == "" {
		return nil, nil
	}
	v := t.get(t.b(iDedupe), dedupeKey(msgID, hash))
	if v == nil {
		return nil, nil
	}
	return t.Message(binary.BigEndian.Uint64(v))
}

// MessageCount is the number of stored messages.
func (t *Tx) MessageCount() int { return int(t.b(bMessages).Sequence()) }

// rawKey sits right after the message record's key.
func rawKey(id uint64) []byte { return append(u64(id), 'r') }

// ForEachMessage calls fn for every message record in order.
func (t *Tx) ForEachMessage(fn func(*model.Message) error) error {
	return t.b(bMessages).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil // raw bytes
		}
		var m model.Message
		if err := unmarshal(v, &m); err != nil {
			return err
		}
		return fn(&m)
	})
}

func normID(id string) []byte { return []byte(strings.ToLower(strings.Trim(id, "<> "))) }

// IndexMessageID records where a Message-ID (inbound or ours) belongs. An
// existing entry is kept: the first ticket to see an id owns it.
func (t *Tx) IndexMessageID(id string, ref model.Ref) error {
	if id == "" {
		return nil
	}
	k := normID(id)
	if t.get(t.b(iMsgID), k) != nil {
		return nil
	}
	return putJSON(t.b(iMsgID), k, ref)
}

// LookupMessageID finds where a Message-ID belongs.
func (t *Tx) LookupMessageID(id string) (model.Ref, bool) {
	var r model.Ref
	if id == "" {
		return r, false
	}
	if err := t.getJSON(t.b(iMsgID), normID(id), &r); err != nil {
		return r, false
	}
	return r, true
}
