package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"helpdesk/store/model"
)

// Tx is a store transaction with typed accessors. Values returned are
// copies: they stay valid after the transaction.
type Tx struct {
	tx *bolt.Tx
	db *DB
	// users holds the users this transaction decoded or stored, by id:
	// one commit groups many mails, and each mail of a new ticket looks up
	// the same agents several times. Callers get copies.
	users map[uint64]*model.User
}

func (t *Tx) b(name []byte) *bolt.Bucket {
	b := t.tx.Bucket(name)
	if t.tx.Writable() && appendOnly[string(name)] {
		b.FillPercent = 0.9
	}
	return b
}

// Writable reports whether this is a write transaction.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// Now is the store clock.
func (t *Tx) Now() time.Time { return t.db.now() }

// ---- meta ----

// Keys returns the reply-token key ring, as stored.
func (t *Tx) Keys() ([]model.TokenKey, error) {
	var keys []model.TokenKey
	err := getJSON(t.b(bMeta), []byte("token_keys"), &keys)
	return keys, err
}

// RotateKey retires the current token key and adds a new one; old tokens
// keep verifying for the configured grace period.
func (t *Tx) RotateKey(grace time.Duration) error {
	keys, err := t.Keys()
	if err != nil {
		return err
	}
	now := t.Now()
	used := map[uint8]bool{}
	kept := keys[:0]
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = now
		}
		if now.Sub(k.Retired) > grace {
			continue // past its grace period: it verifies nothing any more
		}
		used[k.ID] = true
		kept = append(kept, k)
	}
	id := uint8(0)
	for cand := 1; cand <= 255; cand++ {
		if !used[uint8(cand)] {
			id = uint8(cand)
			break
		}
	}
	if id == 0 {
		return fmt.Errorf("255 token secrets still within their grace period: wait before rotating again")
	}
	k, err := newKey(id, now)
	if err != nil {
		return err
	}
	return putJSON(t.b(bMeta), []byte("token_keys"), append(kept, k))
}

// Counter adds delta to a named counter in the meta bucket and returns the
// new value (round-robin positions and the like).
func (t *Tx) Counter(name string, delta uint64) (uint64, error) {
	k := []byte("counter:" + name)
	var v uint64
	if raw := t.b(bMeta).Get(k); len(raw) == 8 {
		v = binary.BigEndian.Uint64(raw)
	}
	v += delta
	return v, t.b(bMeta).Put(k, u64(v))
}

// ---- tickets ----

func tkey(id uint64) []byte { return u64(id) }

// Ticket loads a ticket.
func (t *Tx) Ticket(id uint64) (*model.Ticket, error) {
	var tk model.Ticket
	if err := getJSON(t.b(bTickets), tkey(id), &tk); err != nil {
		if err == ErrNotFound {
			return nil, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &tk, nil
}

// Routing reads only a ticket's routing fields: cheaper than Ticket for
// a scan that skips most tickets (no slices, maps or texts are built).
func (t *Tx) Routing(id uint64) (model.TicketRouting, error) {
	var r model.TicketRouting
	if err := getJSON(t.b(bTickets), tkey(id), &r); err != nil {
		return r, fmt.Errorf("ticket %d: %w", id, err)
	}
	return r, nil
}

// Resolve follows merges: the ticket that mail for id lands in.
func (t *Tx) Resolve(id uint64) (*model.Ticket, error) {
	tk, _, err := t.ResolveThread(id, 0)
	return tk, err
}

// ResolveThread follows merges for a ticket and thread: a merged ticket's
// Message-IDs and reply tokens keep naming it, and land in the survivor's
// matching thread (side threads are renumbered on merge).
func (t *Tx) ResolveThread(id uint64, thread uint32) (*model.Ticket, uint32, error) {
	return ResolveWith(t.Ticket, id, thread)
}

// ResolveWith follows merges from ticket id and thread, loading tickets
// with load (the engine passes its own per-write copies).
func ResolveWith(load func(uint64) (*model.Ticket, error), id uint64, thread uint32) (*model.Ticket, uint32, error) {
	for i := 0; i < 64; i++ {
		tk, err := load(id)
		if err != nil {
			return nil, 0, err
		}
		if tk.MergedInto == 0 {
			return tk, thread, nil
		}
		if nt, ok := tk.MergedThreads[thread]; ok {
			thread = nt
		} else if thread != 0 {
			thread = 0
		}
		id = tk.MergedInto
	}
	return nil, 0, fmt.Errorf("ticket %d: merge chain too long", id)
}

// NewTicket assigns the next sequential id and stores the ticket.
func (t *Tx) NewTicket(tk *model.Ticket) error {
	seq, err := t.b(bTickets).NextSequence()
	if err != nil {
		return err
	}
	tk.ID = seq
	if tk.Created.IsZero() {
		tk.Created = t.Now()
	}
	tk.Updated = tk.Created
	return t.putTicket(tk, nil)
}

// AllocTicketID assigns the next ticket id without storing anything yet
// (the caller stores the ticket with InsertTicket in the same write).
func (t *Tx) AllocTicketID() (uint64, error) { return t.b(bTickets).NextSequence() }

// InsertTicket stores a ticket whose id came from AllocTicketID.
func (t *Tx) InsertTicket(tk *model.Ticket) error {
	if tk.Created.IsZero() {
		tk.Created = t.Now()
	}
	tk.Updated = t.Now()
	return t.putTicket(tk, nil)
}

// PutTicket stores a changed ticket and keeps its indexes current.
func (t *Tx) PutTicket(tk *model.Ticket) error {
	// Only the indexed fields of the stored record are needed: decode
	// just those (much cheaper than the whole ticket).
	var old ticketIndex
	if err := getJSON(t.b(bTickets), tkey(tk.ID), &old); err != nil {
		return fmt.Errorf("ticket %d: %w", tk.ID, err)
	}
	tk.Updated = t.Now()
	if old.Status != tk.Status {
		if err := t.b(iStatus).Delete(statusKey(old.Status, tk.ID)); err != nil {
			return err
		}
	}
	if old.Requester != tk.Requester {
		if err := t.b(iRequester).Delete(addrKey(old.Requester, tk.ID)); err != nil {
			return err
		}
	}
	return t.putTicket(tk, &old)
}

// ticketIndex is the part of a stored ticket its indexes are built from.
type ticketIndex struct {
	Status    string `json:"status"`
	Requester string `json:"requester"`
}

func (t *Tx) putTicket(tk *model.Ticket, old *ticketIndex) error {
	if tk.Status == "" {
		tk.Status = model.StatusOpen
	}
	if err := putJSON(t.b(bTickets), tkey(tk.ID), tk); err != nil {
		return err
	}
	if old == nil || old.Status != tk.Status {
		if err := t.b(iStatus).Put(statusKey(tk.Status, tk.ID), nil); err != nil {
			return err
		}
	}
	if tk.Requester != "" && (old == nil || old.Requester != tk.Requester) {
		if err := t.b(iRequester).Put(addrKey(tk.Requester, tk.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

func statusKey(status string, id uint64) []byte {
	return append(append([]byte(status), 0), u64(id)...)
}

func addrKey(addr string, id uint64) []byte {
	return append(append([]byte(addr), 0), u64(id)...)
}

// TicketIDs lists ticket ids, newest first, optionally by status ("" = all),
// at most limit (0 = no limit).
func (t *Tx) TicketIDs(status string, limit int) []uint64 {
	var ids []uint64
	if status == "" {
		c := t.b(bTickets).Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if len(k) != 8 {
				continue // a comment
			}
			ids = append(ids, binary.BigEndian.Uint64(k))
			if limit > 0 && len(ids) >= limit {
				break
			}
		}
		return ids
	}
	prefix := append([]byte(status), 0)
	c := t.b(iStatus).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	return ids
}

// TicketsOfRequester lists the tickets an address requested, newest first.
func (t *Tx) TicketsOfRequester(addr string) []uint64 {
	prefix := append([]byte(addr), 0)
	var ids []uint64
	c := t.b(iRequester).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[len(prefix):]))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	return ids
}

// TicketCount is the number of tickets.
func (t *Tx) TicketCount() int { return int(t.b(bTickets).Sequence()) }

// ---- comments ----

func ckey(ticket uint64, id uint32) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, ticket)
	binary.BigEndian.PutUint32(b[8:], id)
	return b
}

// AddComment appends a comment to tk (assigning its id from tk.LastSeq)
// and stores it. The caller stores tk afterwards.
func (t *Tx) AddComment(tk *model.Ticket, c *model.Comment) error {
	tk.LastSeq++
	c.ID = tk.LastSeq
	c.Ticket = tk.ID
	if c.Created.IsZero() {
		c.Created = t.Now()
	}
	if c.Kind == "" {
		c.Kind = model.KindComment
	}
	if c.Kind == model.KindComment && c.Visibility == model.Public && c.Thread == 0 && !c.Hidden {
		tk.LastPublicSeq = c.ID
	}
	return putJSON(t.b(bComments), ckey(tk.ID, c.ID), c)
}

// PutComment rewrites an existing comment (e.g. a released hold).
func (t *Tx) PutComment(c *model.Comment) error {
	return putJSON(t.b(bComments), ckey(c.Ticket, c.ID), c)
}

// Comment loads one comment.
func (t *Tx) Comment(ticket uint64, id uint32) (*model.Comment, error) {
	var c model.Comment
	if err := getJSON(t.b(bComments), ckey(ticket, id), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Comments lists a ticket's comments, oldest first.
func (t *Tx) Comments(ticket uint64) ([]*model.Comment, error) {
	var out []*model.Comment
	prefix := u64(ticket)
	c := t.b(bComments).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != 12 {
			continue // the ticket itself
		}
		var cm model.Comment
		if err := unmarshal(v, &cm); err != nil {
			return nil, fmt.Errorf("comment %x: %w", k, err)
		}
		out = append(out, &cm)
	}
	return out, nil
}

// ---- messages ----

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
	if m.MessageID != "" && m.BodyHash != "" {
		if err := t.b(iDedupe).Put(dedupeKey(m.MessageID, m.BodyHash), u64(seq)); err != nil {
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
	if err := getJSON(t.b(bMessages), u64(id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// RawInline returns the raw bytes of a message kept in the database (nil
// when it was spooled to a blob).
func (t *Tx) RawInline(id uint64) []byte {
	v := t.b(bRaw).Get(rawKey(id))
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
	v := t.b(iDedupe).Get(dedupeKey(msgID, hash))
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

// ---- Message-ID index ----

func normID(id string) []byte { return []byte(strings.ToLower(strings.Trim(id, "<> "))) }

// IndexMessageID records where a Message-ID (inbound or ours) belongs. An
// existing entry is kept: the first ticket to see an id owns it.
func (t *Tx) IndexMessageID(id string, ref model.Ref) error {
	if id == "" {
		return nil
	}
	k := normID(id)
	if t.b(iMsgID).Get(k) != nil {
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
	if err := getJSON(t.b(iMsgID), normID(id), &r); err != nil {
		return r, false
	}
	return r, true
}

// ---- users ----

// User finds a user by normalized address.
func (t *Tx) User(addr string) (*model.User, error) {
	v := t.b(iUserAddr).Get([]byte(addr))
	if v == nil {
		return nil, ErrNotFound
	}
	return t.UserByID(binary.BigEndian.Uint64(v))
}

// UserAway reports whether the user with this address is marked away
// (false when there is none): round-robin assignment asks it of every
// agent of a group for every new ticket.
func (t *Tx) UserAway(addr string) (bool, error) {
	v := t.b(iUserAddr).Get([]byte(addr))
	if v == nil {
		return false, nil
	}
	u, err := t.userByID(binary.BigEndian.Uint64(v))
	if err != nil {
		return false, err
	}
	return u.Away, nil
}

// UserByID loads a user.
func (t *Tx) UserByID(id uint64) (*model.User, error) {
	u, err := t.userByID(id)
	if err != nil {
		return nil, err
	}
	return cloneUser(u), nil
}

// userByID returns the transaction's own copy of a user (not to be
// changed).
func (t *Tx) userByID(id uint64) (*model.User, error) {
	if u, ok := t.users[id]; ok {
		return u, nil
	}
	var u model.User
	if err := getJSON(t.b(bUsers), u64(id), &u); err != nil {
		return nil, err
	}
	t.keepUser(&u)
	return &u, nil
}

func (t *Tx) keepUser(u *model.User) {
	if t.users == nil {
		t.users = map[uint64]*model.User{}
	}
	t.users[u.ID] = u
}

// cloneUser copies a user deeply enough that changing the copy (its
// fields, its AckTimes) leaves the original alone.
func cloneUser(u *model.User) *model.User {
	c := *u
	c.AckTimes = append([]int64(nil), u.AckTimes...)
	return &c
}

// EnsureUser returns the user for addr, creating it on first sight (SPEC 8:
// end users are created the first time they write). A known name is kept
// unless name is new information.
func (t *Tx) EnsureUser(addr, name string) (*model.User, error) {
	if addr == "" {
		return nil, fmt.Errorf("EnsureUser: empty address")
	}
	if u, err := t.User(addr); err == nil {
		if name != "" && u.Name == "" && t.Writable() {
			u.Name = name
			u.Updated = t.Now()
			return u, t.PutUser(u)
		}
		return u, nil
	} else if err != ErrNotFound {
		return nil, err
	}
	u, err := t.NewUser(addr, name)
	if err != nil {
		return nil, err
	}
	return u, t.PutUser(u)
}

// NewUser registers a user for addr, which must not have one yet: it
// gives the user an id and indexes the address, and the caller stores
// the record with PutUser in the same write (once, after its changes).
func (t *Tx) NewUser(addr, name string) (*model.User, error) {
	if addr == "" {
		return nil, fmt.Errorf("NewUser: empty address")
	}
	seq, err := t.b(bUsers).NextSequence()
	if err != nil {
		return nil, err
	}
	now := t.Now()
	u := &model.User{ID: seq, Addr: addr, Name: name, Created: now, Updated: now}
	if err := t.b(iUserAddr).Put([]byte(addr), u64(seq)); err != nil {
		return nil, err
	}
	return u, nil
}

// PutUser stores a changed user.
func (t *Tx) PutUser(u *model.User) error {
	if err := putJSON(t.b(bUsers), u64(u.ID), u); err != nil {
		return err
	}
	t.keepUser(cloneUser(u))
	return nil
}

// ---- outbox ----

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

// ---- quarantine ----

// AddQuarantine stores a quarantined record.
func (t *Tx) AddQuarantine(q *model.Quarantine) error {
	seq, err := t.b(bQuarantine).NextSequence()
	if err != nil {
		return err
	}
	q.ID = seq
	if q.Created.IsZero() {
		q.Created = t.Now()
	}
	return putJSON(t.b(bQuarantine), u64(seq), q)
}

// QuarantineRecord loads one record.
func (t *Tx) QuarantineRecord(id uint64) (*model.Quarantine, error) {
	var q model.Quarantine
	if err := getJSON(t.b(bQuarantine), u64(id), &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// PutQuarantine stores a changed record.
func (t *Tx) PutQuarantine(q *model.Quarantine) error { return putJSON(t.b(bQuarantine), u64(q.ID), q) }

// Quarantined lists records, newest first.
func (t *Tx) Quarantined(limit int) ([]*model.Quarantine, error) {
	var out []*model.Quarantine
	c := t.b(bQuarantine).Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var q model.Quarantine
		if err := unmarshal(v, &q); err != nil {
			return nil, err
		}
		out = append(out, &q)
	}
	return out, nil
}

// ---- rate limits ----

// RateAllow is a sliding-window limiter kept in the store so limits hold
// across restarts: it records an event for key and reports whether at most
// limit events (including this one) fell within window. A refused event is
// not recorded.
func (t *Tx) RateAllow(key string, window time.Duration, limit int) (bool, error) {
	return t.RateAllowAt(key, t.Now(), window, limit)
}

// RateAllowAt is RateAllow at the caller's time (the engine's clock).
func (t *Tx) RateAllowAt(key string, now time.Time, window time.Duration, limit int) (bool, error) {
	b := t.b(bRate)
	r := loadRate(b.Get([]byte(key)), now, window)
	if r.count() >= limit {
		return false, nil
	}
	r.add(now)
	return true, b.Put([]byte(key), r.encode())
}

// RateAllowEach records one event under every key when each stays within
// its limit over the window ending at now; otherwise it records nothing
// and returns the index of the first key at its limit. Each record is read
// and written once (checking, then counting, read them twice).
func (t *Tx) RateAllowEach(now time.Time, window time.Duration, keys []string, limits []int) (int, error) {
	b := t.b(bRate)
	recs := make([]*rateRecord, len(keys))
	for i, k := range keys {
		recs[i] = loadRate(b.Get([]byte(k)), now, window)
		if recs[i].count() >= limits[i] {
			return i, nil
		}
	}
	for i, k := range keys {
		recs[i].add(now)
		if err := b.Put([]byte(k), recs[i].encode()); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// RateCountAt returns how many events for key fell within the window
// ending at now (the engine's clock), without recording one.
func (t *Tx) RateCountAt(key string, now time.Time, window time.Duration) int {
	return loadRate(t.b(bRate).Get([]byte(key)), now, window).count()
}

// rateBuckets is how many parts a rate window is counted in: a record is
// at most that many counters whatever the limit (a list of one stamp per
// event, as kept before, was encoded again with every event: quadratic
// for a limit of thousands). The window slides by 1/rateBuckets of itself.
const rateBuckets = 60

// rateRecord counts events per bucket of Width nanoseconds; Counts[i] is
// bucket First+i (bucket n covers [n*Width, (n+1)*Width)).
type rateRecord struct {
	Width  int64    `json:"w"`
	First  int64    `json:"f"`
	Counts []uint32 `json:"c"`
}

// loadRate decodes a record for a window ending at now, dropping buckets
// that left the window. A list of stamps (the earlier format) is counted
// into buckets; a record of another window width starts afresh.
func loadRate(v []byte, now time.Time, window time.Duration) *rateRecord {
	width := max(int64(window)/rateBuckets, 1)
	r := &rateRecord{Width: width, First: now.UnixNano()/width - rateBuckets + 1}
	if len(v) > 0 {
		var old rateRecord
		var stamps []int64
		switch {
		case v[0] == rateBinary:
			if d, ok := decodeRate(v); ok && d.Width == width {
				r = d
			}
		case unmarshal(v, &stamps) == nil:
			for _, s := range stamps {
				r.addAt(s)
			}
		case unmarshal(v, &old) == nil && old.Width == width:
			r = &old
		}
	}
	r.slide(now.UnixNano() / width)
	return r
}

// slide drops the buckets before the window whose last bucket is cur.
func (r *rateRecord) slide(cur int64) {
	oldest := cur - rateBuckets + 1
	if r.First < oldest {
		drop := min(oldest-r.First, int64(len(r.Counts)))
		r.Counts = r.Counts[drop:]
		r.First = oldest
	}
}

// rateBinary marks a rate record in its binary form (a JSON value, the
// earlier forms, starts with '[' or '{'): it is read and written with
// every acknowledgement, so it is kept cheap to decode.
const rateBinary = 0x01

// encode is marker, Width, First, then the counters, little-endian.
func (r *rateRecord) encode() []byte {
	b := make([]byte, 17, 17+4*len(r.Counts))
	b[0] = rateBinary
	binary.LittleEndian.PutUint64(b[1:], uint64(r.Width))
	binary.LittleEndian.PutUint64(b[9:], uint64(r.First))
	for _, c := range r.Counts {
		b = binary.LittleEndian.AppendUint32(b, c)
	}
	return b
}

func decodeRate(v []byte) (*rateRecord, bool) {
	if len(v) < 17 || (len(v)-17)%4 != 0 {
		return nil, false
	}
	r := &rateRecord{Width: int64(binary.LittleEndian.Uint64(v[1:])), First: int64(binary.LittleEndian.Uint64(v[9:]))}
	for i := 17; i < len(v); i += 4 {
		r.Counts = append(r.Counts, binary.LittleEndian.Uint32(v[i:]))
	}
	return r, r.Width > 0
}

func (r *rateRecord) count() int {
	n := 0
	for _, c := range r.Counts {
		n += int(c)
	}
	return n
}

// add counts an event at now, sliding the window there first.
func (r *rateRecord) add(now time.Time) {
	r.slide(now.UnixNano() / r.Width)
	r.addAt(now.UnixNano())
}

// addAt counts an event at unix nanoseconds ns.
func (r *rateRecord) addAt(ns int64) {
	i := ns/r.Width - r.First
	if i < 0 {
		return // before the window
	}
	for int64(len(r.Counts)) <= i {
		r.Counts = append(r.Counts, 0)
	}
	r.Counts[i]++
}
