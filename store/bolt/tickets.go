// Tickets and their comments (bucket tickets; index idx_status, and the
// requester keys of bucket users).

package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/klauspost/compress/s2"

	"helpdesk/store"
	"helpdesk/store/internal/recjson"
	"helpdesk/store/model"
)

func tkey(id uint64) []byte { return u64(id) }

// Ticket loads a ticket.
func (t *Tx) Ticket(id uint64) (*model.Ticket, error) {
	var tk model.Ticket
	if err := t.getJSON(t.b(bTickets), tkey(id), &tk); err != nil {
		if err == store.ErrNotFound {
			return nil, fmt.Errorf("ticket %d: %w", id, store.ErrNotFound)
		}
		return nil, err
	}
	return &tk, nil
}

// Routing reads only a ticket's routing fields: cheaper than Ticket for
// a scan that skips most tickets (no slices, maps or texts are built).
func (t *Tx) Routing(id uint64) (model.TicketRouting, error) {
	var r model.TicketRouting
	if err := t.getJSON(t.b(bTickets), tkey(id), &r); err != nil {
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
	return store.ResolveWith(t.Ticket, id, thread)
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
	if err := t.getJSON(t.b(bTickets), tkey(tk.ID), &old); err != nil {
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

func ckey(ticket uint64, id uint32) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, ticket)
	binary.BigEndian.PutUint32(b[8:], id)
	return b
}

// AddComment appends a comment to tk (assigning its id from tk.LastSeq)
// and stores it. The caller stores tk afterwards.
func (t *Tx) AddComment(tk *model.Ticket, c *model.Comment) error {
	t.number(tk, c)
	return putJSON(t.b(bComments), ckey(tk.ID, c.ID), c)
}

// number gives c its id and defaults as the next comment of tk.
func (t *Tx) number(tk *model.Ticket, c *model.Comment) {
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
}

// A comment group is one stored value holding consecutive comments of a
// ticket (AppendComment: a trigger pass's events), under the key of the
// first: valGroup, then S2 of, per comment, its length (uvarint) and its
// record as marshal writes it. A pass's six events (three firings and
// what they changed, alike but for names and texts) then cost one key
// and a third of their bytes (issue 15: the bytes, not the keys, made
// the page writes). While the write that makes a group runs, the group
// is stored uncompressed (valGroupRaw, the same entries), and the commit
// compresses it once (sealGroups) instead of at each append; readers take
// both. Values of a single comment (every comment before groups existed,
// and every comment AddComment stores) stay as they were: readers take
// those too.
const (
	valGroup    = 0x03
	valGroupRaw = 0x04
)

type commentGroup struct {
	key  []byte
	last uint32 // the id of its last comment
	val  []byte // valGroupRaw and the entries
}

// groupValue is the stored value of a group's entries.
func groupValue(raw []byte) []byte {
	// Compressed into scratch space, then copied to a slice of its size
	// (as marshal does).
	sp := s2Bufs.Get().(*[]byte)
	defer putS2Buf(sp)
	if n := s2.MaxEncodedLen(len(raw)); cap(*sp) < n {
		*sp = make([]byte, n)
	}
	c := s2.Encode((*sp)[:cap(*sp)], raw)
	return append(append(make([]byte, 0, 1+len(c)), valGroup), c...)
}

// AppendComment appends a comment to tk as AddComment does, stored in
// the group the previous comment of tk started when AppendComment added
// that one in this transaction.
func (t *Tx) AppendComment(tk *model.Ticket, c *model.Comment) error {
	t.number(tk, c)
	g := t.groups[tk.ID]
	if g == nil || g.last+1 != c.ID {
		g = &commentGroup{key: ckey(tk.ID, c.ID), val: append(make([]byte, 0, 2048), valGroupRaw)}
		if t.groups == nil {
			t.groups = map[uint64]*commentGroup{}
		}
		t.groups[tk.ID] = g
	}
	// Appending in place never changes the bytes bbolt holds from the
	// Put before (up to that value's length). The record is not
	// compressed on its own: the group is, when sealed.
	val, err := appendRecord(g.val, c)
	if err != nil {
		return err
	}
	g.val = val
	g.last = c.ID
	return t.b(bComments).Put(g.key, g.val)
}

// appendRecord appends v's JSON record, after its length (uvarint), to dst.
func appendRecord(dst []byte, v any) ([]byte, error) {
	buf := recjson.Buffer()
	defer recjson.Release(buf)
	rec, err := recjson.Encode(buf, v)
	if err != nil {
		return nil, err
	}
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	return append(dst, rec...), nil
}

// sealGroups stores the groups this transaction wrote compressed, once
// its writes are done (before its commit).
func (t *Tx) sealGroups() error {
	for _, g := range t.groups {
		if err := t.b(bComments).Put(g.key, groupValue(g.val[1:])); err != nil {
			return fmt.Errorf("storing comment group %x: %w", g.key, err)
		}
	}
	t.groups = nil
	return nil
}

// splitGroup returns the records of a group value.
func splitGroup(v []byte) ([][]byte, error) {
	raw := v[1:]
	if v[0] == valGroup {
		var err error
		if raw, err = s2.Decode(nil, raw); err != nil {
			return nil, fmt.Errorf("decompressing a comment group: %w", err)
		}
	}
	var recs [][]byte
	for len(raw) > 0 {
		n, w := binary.Uvarint(raw)
		if w <= 0 || uint64(len(raw)-w) < n {
			return nil, fmt.Errorf("a damaged comment group")
		}
		recs = append(recs, raw[w:w+int(n)])
		raw = raw[w+int(n):]
	}
	return recs, nil
}

func isGroup(v []byte) bool { return len(v) > 0 && (v[0] == valGroup || v[0] == valGroupRaw) }

// decodeComments decodes a stored comment value: one comment, or a group.
func decodeComments(v []byte) ([]*model.Comment, error) {
	if !isGroup(v) {
		var c model.Comment
		if err := unmarshal(v, &c); err != nil {
			return nil, err
		}
		return []*model.Comment{&c}, nil
	}
	recs, err := splitGroup(v)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Comment, len(recs))
	for i, r := range recs {
		var c model.Comment
		if err := unmarshal(r, &c); err != nil {
			return nil, err
		}
		out[i] = &c
	}
	return out, nil
}

// commentValue finds the stored value holding comment id of a ticket:
// under its own key, or in a group under an earlier one. The key is nil
// when there is none.
func (t *Tx) commentValue(ticket uint64, id uint32) (key, val []byte) {
	b := t.b(bComments)
	k := ckey(ticket, id)
	if v := t.get(b, k); v != nil {
		return k, v
	}
	c := t.cursor(b)
	gk, gv := c.Seek(k)
	if gk == nil {
		gk, gv = c.Last()
	} else {
		gk, gv = c.Prev()
	}
	if len(gk) != 12 || binary.BigEndian.Uint64(gk) != ticket || !isGroup(gv) || binary.BigEndian.Uint32(gk[8:]) > id {
		return nil, nil
	}
	return gk, gv
}

// PutComment rewrites an existing comment (e.g. a released hold), in its
// group when it is in one.
func (t *Tx) PutComment(c *model.Comment) error {
	k, v := t.commentValue(c.Ticket, c.ID)
	if k == nil || !isGroup(v) {
		return putJSON(t.b(bComments), ckey(c.Ticket, c.ID), c)
	}
	recs, err := splitGroup(v)
	if err != nil {
		return fmt.Errorf("comment %d of ticket %d: %w", c.ID, c.Ticket, err)
	}
	first := binary.BigEndian.Uint32(k[8:])
	if int(c.ID-first) >= len(recs) {
		return putJSON(t.b(bComments), ckey(c.Ticket, c.ID), c) // after the group: a comment of its own
	}
	raw := []byte{valGroupRaw}
	for i, r := range recs {
		if uint32(i) == c.ID-first {
			if raw, err = appendRecord(raw, c); err != nil {
				return err
			}
			continue
		}
		raw = binary.AppendUvarint(raw, uint64(len(r)))
		raw = append(raw, r...)
	}
	if g := t.groups[c.Ticket]; g != nil && bytes.Equal(g.key, k) {
		// A group of this transaction: appended to and sealed from the
		// rewritten value.
		g.val = raw
		return t.b(bComments).Put(g.key, g.val)
	}
	return t.b(bComments).Put(bytes.Clone(k), groupValue(raw[1:]))
}

// Comment loads one comment.
func (t *Tx) Comment(ticket uint64, id uint32) (*model.Comment, error) {
	k, v := t.commentValue(ticket, id)
	if k == nil {
		return nil, store.ErrNotFound
	}
	cs, err := decodeComments(v)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, store.ErrNotFound
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
		cs, err := decodeComments(v)
		if err != nil {
			return nil, fmt.Errorf("comment %x: %w", k, err)
		}
		out = append(out, cs...)
	}
	return out, nil
}
