// The roles' operations over the tables of schema.go.

package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/internal/keyring"
	"helpdesk/store/model"
)

func ks(id uint64) string { return strconv.FormatUint(id, 10) }

func unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// --- Tickets and comments.

// Ticket loads a ticket.
func (t *Tx) Ticket(id uint64) (*model.Ticket, error) {
	var tk model.Ticket
	if err := t.getTicket(id, &tk); err != nil {
		return nil, err
	}
	return &tk, nil
}

func (t *Tx) getTicket(id uint64, v any) error {
	data, err := t.record(tTickets, ks(id), "SELECT data FROM tickets WHERE id = $1", int64(id))
	if err != nil {
		return fmt.Errorf("ticket %d: %w", id, err)
	}
	return unmarshal(data, v)
}

// Routing reads a ticket's routing fields.
func (t *Tx) Routing(id uint64) (model.TicketRouting, error) {
	var r model.TicketRouting
	err := t.getTicket(id, &r)
	return r, err
}

// Resolve follows merges.
func (t *Tx) Resolve(id uint64) (*model.Ticket, error) {
	tk, _, err := t.ResolveThread(id, 0)
	return tk, err
}

// ResolveThread follows merges for a ticket and thread.
func (t *Tx) ResolveThread(id uint64, thread uint32) (*model.Ticket, uint32, error) {
	return store.ResolveWith(t.Ticket, id, thread)
}

// NewTicket assigns the next id and stores the ticket.
func (t *Tx) NewTicket(tk *model.Ticket) error {
	id, err := t.nextID("tickets")
	if err != nil {
		return err
	}
	tk.ID = id
	if tk.Created.IsZero() {
		tk.Created = t.Now()
	}
	tk.Updated = tk.Created
	return t.putTicket(tk, true)
}

// AllocTicketID assigns the next ticket id.
func (t *Tx) AllocTicketID() (uint64, error) { return t.nextID("tickets") }

// InsertTicket stores a ticket whose id came from AllocTicketID.
func (t *Tx) InsertTicket(tk *model.Ticket) error {
	if tk.Created.IsZero() {
		tk.Created = t.Now()
	}
	tk.Updated = t.Now()
	return t.putTicket(tk, true)
}

// PutTicket stores a changed ticket.
func (t *Tx) PutTicket(tk *model.Ticket) error {
	tk.Updated = t.Now()
	return t.putTicket(tk, false)
}

// putTicket stores tk; fresh: its id is new (see putNew).
func (t *Tx) putTicket(tk *model.Ticket, fresh bool) error {
	if tk.Status == "" {
		tk.Status = model.StatusOpen
	}
	data, err := marshal(tk)
	if err != nil {
		return err
	}
	if fresh {
		return t.putNew(tTickets, ks(tk.ID), int64(tk.ID), tk.Status, tk.Requester, data)
	}
	return t.put(tTickets, ks(tk.ID), int64(tk.ID), tk.Status, tk.Requester, data)
}

// TicketIDs lists ticket ids, newest first.
func (t *Tx) TicketIDs(status string, limit int) []uint64 {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	if status == "" {
		return t.ids("SELECT id FROM tickets ORDER BY id DESC LIMIT " + lim)
	}
	return t.ids("SELECT id FROM tickets WHERE status = $1 ORDER BY id DESC LIMIT "+lim, status)
}

// TicketsOfRequester lists the tickets an address requested, newest first.
func (t *Tx) TicketsOfRequester(addr string) []uint64 {
	if addr == "" {
		return nil
	}
	return t.ids("SELECT id FROM tickets WHERE requester = $1 ORDER BY id DESC", addr)
}

// TicketCount is the number of ticket ids given.
func (t *Tx) TicketCount() int {
	v, _ := t.seqValue("tickets")
	return int(v)
}

func ckey(ticket uint64, id uint32) string {
	return ks(ticket) + "/" + strconv.FormatUint(uint64(id), 10)
}

// AddComment appends c to tk and stores it.
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
	// The comment's id is the ticket's next: new.
	return t.putComment(c, true)
}

// AppendComment is AddComment: a row per comment here (the grouping is
// bbolt's, whose page writes it saves).
func (t *Tx) AppendComment(tk *model.Ticket, c *model.Comment) error { return t.AddComment(tk, c) }

// PutComment rewrites a comment.
func (t *Tx) PutComment(c *model.Comment) error { return t.putComment(c, false) }

func (t *Tx) putComment(c *model.Comment, fresh bool) error {
	data, err := marshal(c)
	if err != nil {
		return err
	}
	put := t.put
	if fresh {
		put = t.putNew
	}
	return put(tComments, ckey(c.Ticket, c.ID), int64(c.Ticket), int32(c.ID), data)
}

// Comment loads one comment.
func (t *Tx) Comment(ticket uint64, id uint32) (*model.Comment, error) {
	data, err := t.record(tComments, ckey(ticket, id), "SELECT data FROM comments WHERE ticket = $1 AND id = $2", int64(ticket), int32(id))
	if err != nil {
		return nil, fmt.Errorf("comment %d of ticket %d: %w", id, ticket, err)
	}
	var c model.Comment
	return &c, unmarshal(data, &c)
}

// Comments lists a ticket's comments, oldest first.
func (t *Tx) Comments(ticket uint64) ([]*model.Comment, error) {
	datas, err := t.datas("SELECT data FROM comments WHERE ticket = $1 ORDER BY id", int64(ticket))
	if err != nil {
		return nil, err
	}
	out := make([]*model.Comment, 0, len(datas))
	for _, d := range datas {
		var c model.Comment
		if err := unmarshal(d, &c); err != nil {
			return nil, fmt.Errorf("a comment of ticket %d: %w", ticket, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// --- Messages.

func normID(id string) string { return strings.ToLower(strings.Trim(id, "<> ")) }

// PackRaw prepares raw bytes for AddPackedMessage: a copy (PostgreSQL
// compresses large values itself, and the raw mail stays readable).
func (db *DB) PackRaw(raw []byte) []byte { return append(make([]byte, 0, len(raw)), raw...) }

// AddMessage stores a mail's record and, unless spooled, its raw bytes.
func (t *Tx) AddMessage(m *model.Message, raw []byte) error {
	if m.Blob == "" {
		return t.AddPackedMessage(m, t.db.PackRaw(raw))
	}
	return t.AddPackedMessage(m, nil)
}

// AddPackedMessage is AddMessage with packed raw bytes.
func (t *Tx) AddPackedMessage(m *model.Message, packed []byte) error {
	if err := t.ReserveMessage(m, packed); err != nil {
		return err
	}
	return t.PutMessage(m)
}

func idKey(msgID, hash string) string { return normID(msgID) + "\x00" + hash }

// ReserveMessage gives m its id and stores its raw bytes and identity:
// the message's row, with the record as it stands (PutMessage rewrites
// it and leaves the raw bytes and identity as they are).
func (t *Tx) ReserveMessage(m *model.Message, packed []byte) error {
	hasID := m.MessageID != "" && m.BodyHash != ""
	if hasID {
		d, err := t.identity(m.MessageID, m.BodyHash)
		if err != nil {
			return err
		}
		if d != 0 {
			return fmt.Errorf("message %s: %w", m.MessageID, store.ErrDuplicate)
		}
	}
	id, err := t.nextID("messages")
	if err != nil {
		return err
	}
	m.ID = id
	var raw, msgID, hash any // NULL: spooled to a blob; no identity
	if m.Blob == "" {
		if packed == nil {
			packed = []byte{}
		}
		raw = packed
	}
	if hasID {
		n := normID(m.MessageID)
		msgID, hash = n, m.BodyHash
		// For this transaction's duplicate checks (the row itself is
		// the message's): new, or the write fails, since the unique
		// index messages_identity is what keeps a mail that reached
		// two daemons at once from being stored twice (writeErr:
		// store.ErrDuplicate).
		if err := t.putNew(tIdentity, idKey(m.MessageID, m.BodyHash), n, m.BodyHash, int64(id)); err != nil {
			return err
		}
	}
	data, err := marshal(m)
	if err != nil {
		return err
	}
	return t.putNew(tMessages, ks(id), int64(id), int64(m.Ticket), raw, msgID, hash, data)
}

// identity is the id of the message stored with this identity (0: none).
func (t *Tx) identity(msgID, hash string) (uint64, error) {
	if r, ok := t.pendingRow(tIdentity, idKey(msgID, hash)); ok && !r.del {
		return uint64(r.vals[2].(int64)), nil
	}
	var id int64
	_, err := t.lookup(&id, tIdentity, idKey(msgID, hash), "SELECT id FROM messages WHERE message_id = $1 AND body_hash = $2", normID(msgID), hash)
	return uint64(id), err
}

// PutMessage rewrites a message record. Its raw bytes and identity stay
// as stored (ReserveMessage, DeleteRaw): the row not sent yet keeps
// them, and the upsert leaves the database's (tMessages).
func (t *Tx) PutMessage(m *model.Message) error {
	data, err := marshal(m)
	if err != nil {
		return err
	}
	vals := []any{int64(m.ID), int64(m.Ticket), nil, nil, nil, data}
	if r, ok := t.pendingRow(tMessages, ks(m.ID)); ok && !r.del {
		copy(vals[2:5], r.vals[2:5])
	}
	return t.put(tMessages, ks(m.ID), vals...)
}

// Message loads a message record.
func (t *Tx) Message(id uint64) (*model.Message, error) {
	data, err := t.record(tMessages, ks(id), "SELECT data FROM messages WHERE id = $1", int64(id))
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", id, err)
	}
	var m model.Message
	return &m, unmarshal(data, &m)
}

// RawInline returns the raw bytes of a message kept inline (nil when
// spooled to a blob).
func (t *Tx) RawInline(id uint64) []byte {
	if r, ok := t.pendingRow(tMessages, ks(id)); ok && (r.del || r.fresh) {
		// A new row holds its raw bytes (a rewrite of a stored one
		// does not: the database's stay).
		raw, _ := r.vals[2].([]byte)
		if r.del || len(raw) == 0 {
			return nil
		}
		return append([]byte(nil), raw...)
	}
	var raw []byte
	if _, err := t.scalar(&raw, "SELECT raw FROM messages WHERE id = $1", int64(id)); err != nil || len(raw) == 0 {
		return nil
	}
	return raw
}

// Duplicate returns the message stored with this identity, or nil.
func (t *Tx) Duplicate(msgID, hash string) (*model.Message, error) {
	if msgID == "" || hash == "" {
		return nil, nil
	}
	id, err := t.identity(msgID, hash)
	if err != nil || id == 0 {
		return nil, err
	}
	return t.Message(id)
}

// MessageCount is the number of message ids given.
func (t *Tx) MessageCount() int {
	v, _ := t.seqValue("messages")
	return int(v)
}

// page is how many records a walk reads per query (a walk's callback may
// use the transaction between pages).
const page = 500

// ForEachMessage calls fn for every message record in order.
func (t *Tx) ForEachMessage(fn func(*model.Message) error) error {
	var after int64
	for {
		datas, err := t.datas("SELECT data FROM messages WHERE id > $1 ORDER BY id LIMIT $2", after, page)
		if err != nil {
			return err
		}
		for _, d := range datas {
			var m model.Message
			if err := unmarshal(d, &m); err != nil {
				return err
			}
			after = int64(m.ID)
			if err := fn(&m); err != nil {
				return err
			}
		}
		if len(datas) < page {
			return nil
		}
	}
}

// IndexMessageID records where a Message-ID belongs; the first owner
// wins.
func (t *Tx) IndexMessageID(id string, ref model.Ref) error {
	if id == "" {
		return nil
	}
	if t.dbErr != nil {
		return t.dbErr
	}
	n := normID(id)
	if v, ok := t.read[pkey{tRefs, n}]; ok && v != nil {
		return nil
	}
	if _, ok := t.pendingRow(tRefs, n); ok {
		if _, ok := t.LookupMessageID(id); ok {
			return nil
		}
	}
	data, err := marshal(ref)
	if err != nil {
		return err
	}
	// No lookup first: most ids indexed are new (the mail's own, the
	// replies' it sends), so the row is inserted unless the database
	// has one, in the write's batch.
	return t.putIfAbsent(tRefs, n, n, int64(ref.Ticket), data)
}

// LookupMessageID finds where a Message-ID belongs.
func (t *Tx) LookupMessageID(id string) (model.Ref, bool) {
	var r model.Ref
	if id == "" {
		return r, false
	}
	n := normID(id)
	data, err := t.record(tRefs, n, "SELECT data FROM message_refs WHERE message_id = $1", n)
	if err != nil || unmarshal(data, &r) != nil {
		return r, false
	}
	return r, true
}

// --- Users.

// userID finds the id of the user with this address (0: none).
func (t *Tx) userID(addr string) (uint64, error) {
	if k, ok := t.userAddr[addr]; ok {
		if r, ok := t.pending[k]; ok && !r.del && r.vals[1].(string) == addr {
			return uint64(r.vals[0].(int64)), nil
		}
	}
	id, ok := t.userIDs[addr]
	if !ok {
		var v int64
		if _, err := t.scalar(&v, "SELECT id FROM users WHERE addr = $1", addr); err != nil {
			return 0, err
		}
		id = uint64(v)
		t.cacheUserID(addr, id)
	}
	// The database's user of addr may have been given another address
	// (or deleted) in this transaction: addr has none then (addresses
	// are unique).
	if r, ok := t.pending[pkey{tUsers, ks(id)}]; id != 0 && ok && (r.del || r.vals[1].(string) != addr) {
		return 0, nil
	}
	return id, nil
}

// User finds a user by normalized address.
func (t *Tx) User(addr string) (*model.User, error) {
	id, err := t.userID(addr)
	if err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, store.ErrNotFound
	}
	return t.UserByID(id)
}

// UserAway reports whether the user at addr is marked away.
func (t *Tx) UserAway(addr string) (bool, error) {
	u, err := t.User(addr)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return u.Away, nil
}

// UserByID loads a user (a copy of its own).
func (t *Tx) UserByID(id uint64) (*model.User, error) {
	data, err := t.record(tUsers, ks(id), "SELECT data FROM users WHERE id = $1", int64(id))
	if err != nil {
		return nil, err
	}
	var u model.User
	return &u, unmarshal(data, &u)
}

// EnsureUser returns the user for addr, creating it on first sight.
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
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	u, err := t.NewUser(addr, name)
	if err != nil {
		return nil, err
	}
	return u, t.PutUser(u)
}

// NewUser registers a user for an address that has none.
func (t *Tx) NewUser(addr, name string) (*model.User, error) {
	if addr == "" {
		return nil, fmt.Errorf("NewUser: empty address")
	}
	id, err := t.nextID("users")
	if err != nil {
		return nil, err
	}
	now := t.Now()
	u := &model.User{ID: id, Addr: addr, Name: name, Created: now, Updated: now}
	// The row holds the address from now on (the caller's PutUser
	// stores the record as it made it).
	return u, t.putUser(u, true)
}

// PutUser stores a changed user.
func (t *Tx) PutUser(u *model.User) error { return t.putUser(u, false) }

func (t *Tx) putUser(u *model.User, fresh bool) error {
	data, err := marshal(u)
	if err != nil {
		return err
	}
	put := t.put
	if fresh {
		put = t.putNew
	}
	if err := put(tUsers, ks(u.ID), int64(u.ID), u.Addr, data); err != nil {
		return err
	}
	t.userAddr[u.Addr] = pkey{tUsers, ks(u.ID)}
	return nil
}

// --- The outbound queue.

func (t *Tx) putOutbound(o *model.Outbound) error {
	_, err := t.putOutboundData(o)
	return err
}

// putOutboundData is putOutbound, returning the record's text.
func (t *Tx) putOutboundData(o *model.Outbound) ([]byte, error) {
	data, err := marshal(o)
	if err != nil {
		return nil, err
	}
	var until int64
	if !o.LeaseUntil.IsZero() {
		until = o.LeaseUntil.UnixNano()
	}
	return data, t.put(tOutbound, ks(o.ID), int64(o.ID), o.State, o.NextAttempt.UnixNano(), o.LeaseHolder, until, nil, data)
}

// outProgress is what claiming and settling change of a queue item.
// Stored as the row's progress, its fields override the record's
// (outData): the record (the mail, a kilobyte or more) is written when
// it is queued, and its claim and outcome as these fields and the
// columns, a smaller row version and WAL record (issue 18 item 6).
type outProgress struct {
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error"`
	Done        time.Time `json:"done"`
	Started     time.Time `json:"started"`
	LeaseHolder string    `json:"lease_holder"`
	LeaseUntil  time.Time `json:"lease_until"`
}

// outData reads an outbound row's record as it stands: data, with the
// progress's fields after it when a claim or settling changed them
// (encoding/json keeps the last of duplicate keys).
const outData = "CASE WHEN progress IS NULL THEN data::text ELSE left(data::text, -1) || ',' || substr(progress, 2) END"

// progressSQL sets the queue columns and progress of rows by id (one
// statement for a commit's claims and outcomes).
const progressSQL = `UPDATE outbound o SET state = v.s, due_ns = v.d, lease_holder = v.h, lease_until_ns = v.u, progress = v.p
FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS v(id, s, d, h, u, p) WHERE o.id = v.id`

// sameMail reports whether a and b differ at most in outProgress's
// fields. Their other times are compared as instants: a record read back
// has them without a monotonic clock reading and in UTC or a fixed zone,
// the one a worker was handed as it was queued (store.Handoff) as the
// engine made it; reflect.DeepEqual told them apart, and each such
// settle rewrote the whole record.
func sameMail(a, b *model.Outbound) bool {
	x, y := *a, *b
	for _, o := range []*model.Outbound{&x, &y} {
		o.State, o.Attempts, o.NextAttempt, o.LastError, o.Done, o.Started, o.LeaseHolder, o.LeaseUntil =
			"", 0, time.Time{}, "", time.Time{}, time.Time{}, "", time.Time{}
		o.Created, o.Requeued = o.Created.Round(0).UTC(), o.Requeued.Round(0).UTC()
	}
	return reflect.DeepEqual(x, y)
}

// putProgress stores o, whose row reads text (its record as read, with
// any earlier progress) and which differs from that record at most in
// outProgress's fields: this transaction and the read cache read o
// whole, the database gets the queue columns and the progress. The
// record o reads as is text with the new progress after it (as outData
// reads a row), not o encoded again: a claim of 128 items re-encoded
// 128 records of a kilobyte or more in the writer. When was is given,
// o is checked against it, and written whole if the mail itself changed
// (a Settle may change anything); a claim, a lease's extension or
// release change only the progress by construction.
func (t *Tx) putProgress(o, was *model.Outbound, text []byte) error {
	if was != nil && !sameMail(o, was) {
		return t.putOutbound(o)
	}
	if r, ok := t.pendingRow(tOutbound, ks(o.ID)); (ok && r.progress == nil) || len(text) < 2 || text[len(text)-1] != '}' {
		// The row itself is not sent yet (it goes out whole), or the
		// text is not a record to extend.
		return t.putOutbound(o)
	}
	p, err := marshal(outProgress{o.State, o.Attempts, o.NextAttempt, o.LastError, o.Done, o.Started, o.LeaseHolder, o.LeaseUntil})
	if err != nil {
		return err
	}
	data := make([]byte, 0, len(text)+len(p))
	data = append(append(append(data, text[:len(text)-1]...), ','), p[1:]...)
	var until int64
	if !o.LeaseUntil.IsZero() {
		until = o.LeaseUntil.UnixNano()
	}
	due := o.NextAttempt.UnixNano()
	if err := t.write(tOutbound, ks(o.ID), &prow{
		vals:     []any{int64(o.ID), o.State, due, o.LeaseHolder, until, nil, data},
		progress: []any{int64(o.ID), o.State, due, o.LeaseHolder, until, string(p)},
	}); err != nil {
		return err
	}
	t.db.outMemo.remember(o, data)
	return nil
}

// outMemo holds the records of the queue items the writer queued,
// claimed or extended, decoded, by the text their rows then read: the
// claim and the settle that follow find their items' rows reading that
// text and take the records from here instead of decoding them again in
// the single writer. A text decodes to one record, so an entry is right
// whatever happened to its write (rolled back, its id taken again by
// another record, rewritten by another daemon): a row that reads
// otherwise is decoded. Only the writer's goroutine uses it.
type outMemo map[uint64]*memoOut

type memoOut struct {
	text []byte
	o    model.Outbound
}

// maxMemo bounds outMemo (about 3 KB an entry): it is emptied when full.
// Queued items take at most half of it: in a backlog the claims take the
// oldest first, whose entries stay; the newer are decoded when claimed.
// (Items claimed or settled by another daemon stay until it is emptied.)
const maxMemo = 2048

// rememberQueued keeps a record just queued, as its row reads.
func (m outMemo) rememberQueued(o *model.Outbound, text []byte) {
	if len(m) < maxMemo/2 {
		m[o.ID] = &memoOut{text: text, o: o.Clone()}
	}
}

// decodedText is the record text decodes to (decoded unless the memo
// holds it under the id the text begins with).
func (m outMemo) decodedText(text []byte) (*model.Outbound, error) {
	const prefix = `{"id":`
	if rest, ok := bytes.CutPrefix(text, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, ','); i > 0 {
			if id, err := strconv.ParseUint(string(rest[:i]), 10, 64); err == nil {
				return m.decoded(id, text)
			}
		}
	}
	var o model.Outbound
	return &o, unmarshal(text, &o)
}

// remember keeps o as the record its row reads as text while a lease
// holds it (a settled or released item is read rarely again).
func (m outMemo) remember(o *model.Outbound, text []byte) {
	if o.LeaseHolder == "" {
		delete(m, o.ID)
		return
	}
	if len(m) >= maxMemo {
		clear(m)
	}
	m[o.ID] = &memoOut{text: text, o: o.Clone()}
}

// decoded is the record text decodes to, from the memo when it holds
// it (a copy the caller may change), else decoded.
func (m outMemo) decoded(id uint64, text []byte) (*model.Outbound, error) {
	if e := m[id]; e != nil && bytes.Equal(e.text, text) {
		o := e.o.Clone()
		return &o, nil
	}
	var o model.Outbound
	return &o, unmarshal(text, &o)
}

// Enqueue adds an outbound mail.
func (t *Tx) Enqueue(o *model.Outbound) error {
	id, err := t.nextID("outbound")
	if err != nil {
		return err
	}
	o.ID = id
	if o.Created.IsZero() {
		o.Created = t.Now()
	}
	if o.NextAttempt.IsZero() {
		o.NextAttempt = o.Created
	}
	o.State = model.OutQueued
	h := t.handoff.Claim(o, t.Now())
	data, err := t.putOutboundData(o)
	if err != nil {
		return err
	}
	t.db.outMemo.rememberQueued(o, data)
	if h {
		c := o.Clone()
		t.handed = append(t.handed, &c)
	}
	return nil
}

// Outbound loads a queue item.
func (t *Tx) Outbound(id uint64) (*model.Outbound, error) {
	o, _, err := t.outbound(id)
	return o, err
}

// outbound loads a queue item and its record's text.
func (t *Tx) outbound(id uint64) (*model.Outbound, []byte, error) {
	data, err := t.record(tOutbound, ks(id), "SELECT "+outData+" FROM outbound WHERE id = $1", int64(id))
	if err != nil {
		return nil, nil, fmt.Errorf("outbound %d: %w", id, err)
	}
	var o model.Outbound
	if err := unmarshal(data, &o); err != nil {
		return nil, nil, err
	}
	return &o, data, nil
}

// PutOutbound stores a changed item.
func (t *Tx) PutOutbound(o *model.Outbound, prevDue time.Time) error { return t.putOutbound(o) }

func (t *Tx) outbounds(sql string, args ...any) ([]*model.Outbound, error) {
	out, _, err := t.outboundTexts(sql, args...)
	return out, err
}

// outboundTexts is outbounds with each record's text.
func (t *Tx) outboundTexts(sql string, args ...any) ([]*model.Outbound, [][]byte, error) {
	return t.decodeOutbounds(t.datas(sql, args...))
}

// decodeOutbounds decodes queue records read as texts.
func (t *Tx) decodeOutbounds(datas [][]byte, err error) ([]*model.Outbound, [][]byte, error) {
	if err != nil {
		return nil, nil, err
	}
	out := make([]*model.Outbound, 0, len(datas))
	for _, d := range datas {
		var o model.Outbound
		if err := unmarshal(d, &o); err != nil {
			return nil, nil, err
		}
		out = append(out, &o)
	}
	return out, datas, nil
}

// Due returns queued items due at or before now, oldest first.
func (t *Tx) Due(now time.Time, limit int) ([]*model.Outbound, error) {
	out, _, err := t.decodeOutbounds(t.inDueOrder(dueSQL, now.UnixNano(), limit))
	return out, err
}

// The queues' reads in due order: the first items of the partial index
// outbound_due (webhooks_due). dueOrder is set around them (inDueOrder) so the planner
// reads that index in order and stops at the limit: with its statistics
// behind a queue that grew in a burst (thousands queued since the last
// analyze), it took the queued rows for a few hundred and chose a
// bitmap scan of all of them, sorted (on disk: 18 MB for 16,000 items),
// to return 128 (67-234 ms per claim, inside the writer, holding the
// write lock). BenchmarkOutboundClaimBacklog.
const (
	dueSQL = "SELECT " + outData + " FROM outbound WHERE state = 'queued' AND due_ns <= $1 ORDER BY due_ns, id LIMIT $2"
	// The webhook deliveries' queue is read as the outbound queue is.
	dueHooksSQL = "SELECT data FROM webhooks WHERE state = 'queued' AND due_ns <= $1 ORDER BY due_ns, id LIMIT $2"
	claimSQL    = "SELECT " + outData + ` FROM outbound
		WHERE state = 'queued' AND due_ns <= $1 AND (lease_holder = '' OR lease_until_ns <= $1)
		ORDER BY due_ns, id LIMIT $2 FOR UPDATE SKIP LOCKED`
)

var (
	dueOrder    = []string{"SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_sort = off"}
	dueOrderEnd = []string{"RESET enable_bitmapscan", "RESET enable_sort"}
)

// inDueOrder runs a query of queue records (dueSQL, claimSQL, dueHooksSQL) with
// dueOrder set, in one round trip with this transaction's pending writes
// (which it must see), and returns the records' texts.
func (t *Tx) inDueOrder(sql string, args ...any) ([][]byte, error) {
	if t.dbErr != nil {
		return nil, t.dbErr
	}
	b := &pgx.Batch{}
	writes := len(t.pending) > 0
	if writes {
		t.queuePending(b)
		t.flushedInRequest = true
	} else {
		t.order = t.order[:0]
	}
	for _, s := range dueOrder {
		b.Queue(s)
	}
	var out [][]byte
	b.Queue(sql, args...).Query(func(rows pgx.Rows) (err error) {
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
			var v []byte
			err := r.Scan(&v)
			return v, err
		})
		return err
	})
	for _, s := range dueOrderEnd {
		b.Queue(s)
	}
	if err := t.q.SendBatch(t.ctx, b).Close(); err != nil {
		if writes {
			t.dbErr = writeErr(err)
			return nil, t.dbErr
		}
		return nil, t.fail("reading the outbound queue", err)
	}
	return out, nil
}

// NextDue is the earliest next attempt of a queued item.
func (t *Tx) NextDue() time.Time {
	return t.minDue("SELECT min(due_ns) FROM outbound WHERE state = 'queued'")
}

func (t *Tx) minDue(sql string) time.Time {
	if t.flush() != nil {
		return time.Time{}
	}
	var ns *int64
	if _, err := t.scalar(&ns, sql); err != nil || ns == nil {
		return time.Time{}
	}
	return time.Unix(0, *ns)
}

// QueueDepth is the number of queued items.
func (t *Tx) QueueDepth() int {
	if t.flush() != nil {
		return 0
	}
	var n int64
	t.scalar(&n, "SELECT count(*) FROM outbound WHERE state = 'queued'")
	return int(n)
}

// OldestQueued is the queued item enqueued first.
func (t *Tx) OldestQueued() (*model.Outbound, error) {
	os, err := t.outbounds("SELECT " + outData + " FROM outbound WHERE state = 'queued' ORDER BY id LIMIT 1")
	if err != nil || len(os) == 0 {
		return nil, err
	}
	return os[0], nil
}

// ForEachOutbound calls fn for every item, newest first.
func (t *Tx) ForEachOutbound(fn func(*model.Outbound) error) error {
	after := int64(1) << 62
	for {
		os, err := t.outbounds("SELECT "+outData+" FROM outbound WHERE id < $1 ORDER BY id DESC LIMIT $2", after, page)
		if err != nil {
			return err
		}
		for _, o := range os {
			after = int64(o.ID)
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(os) < page {
			return nil
		}
	}
}

// Claim leases up to n due items that no unexpired lease holds. The rows
// are locked FOR UPDATE SKIP LOCKED: the write lock already serializes
// writers, and a future writer that does not take it still never hands
// one item to two workers.
func (t *Tx) Claim(holder string, now time.Time, n int, lease time.Duration, start bool) ([]*model.Outbound, error) {
	if holder == "" {
		return nil, fmt.Errorf("claiming outbound mail: no holder named")
	}
	if !t.writable {
		return nil, fmt.Errorf("claiming outbound mail: %w", errReadOnly)
	}
	ns := now.UnixNano()
	texts, err := t.inDueOrder(claimSQL, ns, n)
	if err != nil {
		return nil, err
	}
	os := make([]*model.Outbound, len(texts))
	for i, text := range texts {
		if os[i], err = t.db.outMemo.decodedText(text); err != nil {
			return nil, err
		}
	}
	for i, o := range os {
		x := *o
		x.LeaseHolder, x.LeaseUntil = holder, now.Add(lease)
		o.LeaseHolder, o.LeaseUntil = x.LeaseHolder, x.LeaseUntil
		if start {
			x.Started = now
		}
		if err := t.putProgress(&x, nil, texts[i]); err != nil {
			return nil, err
		}
	}
	return os, nil
}

// held loads an item holder holds a lease on, as queued at due (any due
// when due is zero).
func (t *Tx) held(holder string, id uint64, due time.Time, anyDue bool) (*model.Outbound, []byte, error) {
	var o *model.Outbound
	text, err := t.record(tOutbound, ks(id), "SELECT "+outData+" FROM outbound WHERE id = $1", int64(id))
	if err == nil && t.writable {
		o, err = t.db.outMemo.decoded(id, text)
	} else if err == nil {
		o = new(model.Outbound)
		err = unmarshal(text, o)
	} else {
		err = fmt.Errorf("outbound %d: %w", id, err)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if err != nil || holder == "" || o.State != model.OutQueued || o.LeaseHolder != holder ||
		(!anyDue && o.NextAttempt.UnixNano() != due.UnixNano()) {
		return nil, nil, fmt.Errorf("outbound %d is not held by %q: %w", id, holder, store.ErrLeaseLost)
	}
	return o, text, nil
}

// Extend moves holder's lease on id to until.
func (t *Tx) Extend(holder string, id uint64, until time.Time) error {
	o, text, err := t.held(holder, id, time.Time{}, true)
	if err != nil {
		return err
	}
	o.LeaseUntil = until
	return t.putProgress(o, nil, text)
}

// Settle records a claimed item's outcome and ends the lease.
func (t *Tx) Settle(holder string, o *model.Outbound, prevDue time.Time) error {
	was, text, err := t.held(holder, o.ID, prevDue, false)
	if err != nil {
		return err
	}
	o.LeaseHolder, o.LeaseUntil = "", time.Time{}
	return t.putProgress(o, was, text)
}

// ReleaseLeases ends every lease holder holds on a queued item.
func (t *Tx) ReleaseLeases(holder string) (int, error) {
	if holder == "" {
		return 0, nil
	}
	os, texts, err := t.outboundTexts("SELECT "+outData+" FROM outbound WHERE state = 'queued' AND lease_holder = $1 ORDER BY id", holder)
	if err != nil {
		return 0, err
	}
	for i, o := range os {
		o.LeaseHolder, o.LeaseUntil = "", time.Time{}
		if err := t.putProgress(o, nil, texts[i]); err != nil {
			return 0, err
		}
	}
	return len(os), nil
}

// --- Webhook deliveries.

func (t *Tx) putWebhook(d *model.WebhookDelivery) error {
	data, err := marshal(d)
	if err != nil {
		return err
	}
	return t.put(tWebhooks, ks(d.ID), int64(d.ID), d.State, d.NextAttempt.UnixNano(), data)
}

// EnqueueWebhook adds a delivery.
func (t *Tx) EnqueueWebhook(d *model.WebhookDelivery) error {
	id, err := t.nextID("webhooks")
	if err != nil {
		return err
	}
	d.ID = id
	if d.Created.IsZero() {
		d.Created = t.Now()
	}
	if d.NextAttempt.IsZero() {
		d.NextAttempt = d.Created
	}
	d.State = model.HookQueued
	return t.putWebhook(d)
}

// WebhookDelivery loads one.
func (t *Tx) WebhookDelivery(id uint64) (*model.WebhookDelivery, error) {
	data, err := t.record(tWebhooks, ks(id), "SELECT data FROM webhooks WHERE id = $1", int64(id))
	if err != nil {
		return nil, fmt.Errorf("webhook delivery %d: %w", id, err)
	}
	var d model.WebhookDelivery
	return &d, unmarshal(data, &d)
}

// PutWebhook stores a changed delivery.
func (t *Tx) PutWebhook(d *model.WebhookDelivery, prevDue time.Time) error { return t.putWebhook(d) }

func (t *Tx) webhooks(sql string, args ...any) ([]*model.WebhookDelivery, error) {
	return decodeWebhooks(t.datas(sql, args...))
}

func decodeWebhooks(datas [][]byte, err error) ([]*model.WebhookDelivery, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*model.WebhookDelivery, 0, len(datas))
	for _, b := range datas {
		var d model.WebhookDelivery
		if err := unmarshal(b, &d); err != nil {
			return nil, err
		}
		out = append(out, &d)
	}
	return out, nil
}

// DueWebhooks returns queued deliveries due at or before now.
func (t *Tx) DueWebhooks(now time.Time, limit int) ([]*model.WebhookDelivery, error) {
	return decodeWebhooks(t.inDueOrder(dueHooksSQL, now.UnixNano(), limit))
}

// NextWebhookDue is the earliest next attempt of a queued delivery.
func (t *Tx) NextWebhookDue() time.Time {
	return t.minDue("SELECT min(due_ns) FROM webhooks WHERE state = 'queued'")
}

// ForEachWebhook calls fn for every delivery, newest first.
func (t *Tx) ForEachWebhook(fn func(*model.WebhookDelivery) error) error {
	after := int64(1) << 62
	for {
		ds, err := t.webhooks("SELECT data FROM webhooks WHERE id < $1 ORDER BY id DESC LIMIT $2", after, page)
		if err != nil {
			return err
		}
		for _, d := range ds {
			after = int64(d.ID)
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(ds) < page {
			return nil
		}
	}
}

// --- Quarantine.

// AddQuarantine stores a quarantined record.
func (t *Tx) AddQuarantine(q *model.Quarantine) error {
	id, err := t.nextID("quarantine")
	if err != nil {
		return err
	}
	q.ID = id
	if q.Created.IsZero() {
		q.Created = t.Now()
	}
	return t.PutQuarantine(q)
}

// QuarantineRecord loads one record.
func (t *Tx) QuarantineRecord(id uint64) (*model.Quarantine, error) {
	data, err := t.record(tQuarantin, ks(id), "SELECT data FROM quarantine WHERE id = $1", int64(id))
	if err != nil {
		return nil, fmt.Errorf("quarantine record %d: %w", id, err)
	}
	var q model.Quarantine
	return &q, unmarshal(data, &q)
}

// PutQuarantine stores a changed record.
func (t *Tx) PutQuarantine(q *model.Quarantine) error {
	data, err := marshal(q)
	if err != nil {
		return err
	}
	return t.put(tQuarantin, ks(q.ID), int64(q.ID), data)
}

// Quarantined lists records, newest first.
func (t *Tx) Quarantined(limit int) ([]*model.Quarantine, error) {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	datas, err := t.datas("SELECT data FROM quarantine ORDER BY id DESC LIMIT " + lim)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Quarantine, 0, len(datas))
	for _, d := range datas {
		var q model.Quarantine
		if err := unmarshal(d, &q); err != nil {
			return nil, err
		}
		out = append(out, &q)
	}
	return out, nil
}

// --- Keys, the manual clock, counters (table meta and counters).

func (t *Tx) metaValue(key string) (string, bool, error) {
	if r, ok := t.pendingRow(tMeta, key); ok {
		return r.vals[1].(string), !r.del, nil
	}
	var v string
	found, err := t.lookup(&v, tMeta, key, "SELECT value FROM meta WHERE key = $1", key)
	return v, found, err
}

// Keys returns the key ring as stored.
func (t *Tx) Keys() ([]model.TokenKey, error) {
	v, ok, err := t.metaValue("token_keys")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	var keys []model.TokenKey
	return keys, unmarshal([]byte(v), &keys)
}

// RotateKey retires the current key and adds a new one.
func (t *Tx) RotateKey(grace time.Duration) error {
	keys, err := t.Keys()
	if err != nil {
		return err
	}
	ring, err := keyring.Rotate(keys, t.Now(), grace)
	if err != nil {
		return err
	}
	data, err := marshal(ring)
	if err != nil {
		return err
	}
	return t.put(tMeta, "token_keys", "token_keys", string(data))
}

// FirstStart is when the store was first opened.
func (t *Tx) FirstStart() (time.Time, error) {
	keys, err := t.Keys()
	if err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, k := range keys {
		if first.IsZero() || k.Created.Before(first) {
			first = k.Created
		}
	}
	if first.IsZero() {
		return time.Time{}, errors.New("the store records no start")
	}
	return first.UTC(), nil
}

// ManualClock returns the stored instant of the manual clock.
func (t *Tx) ManualClock() (time.Time, bool, error) {
	v, ok, err := t.metaValue("manual_clock")
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the manual clock: %w", err)
	}
	return at.UTC(), true, nil
}

// SetManualClock stores the instant of the manual clock.
func (t *Tx) SetManualClock(at time.Time) error {
	return t.put(tMeta, "manual_clock", "manual_clock", at.UTC().Format(time.RFC3339Nano))
}

// Counter adds delta to a named counter and returns the new value.
func (t *Tx) Counter(name string, delta uint64) (uint64, error) {
	var v int64
	if r, ok := t.pendingRow(tCounters, name); ok {
		v = r.vals[1].(int64)
	} else if _, err := t.lookup(&v, tCounters, name, "SELECT value FROM counters WHERE name = $1", name); err != nil {
		return 0, err
	}
	if delta == 0 {
		return uint64(v), nil
	}
	v += int64(delta)
	return uint64(v), t.put(tCounters, name, name, v)
}
