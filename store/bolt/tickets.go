// Tickets and their comments (bucket tickets; index idx_status, and the
// requester keys of bucket users).

package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"helpdesk/store"
	"helpdesk/store/model"
)

func tkey(id uint64) []byte { return u64(id) }

// Ticket loads a ticket.
func (t *Tx) Ticket(id uint64) (*model.Ticket, error) {
	var tk model.Ticket
	if err := getJSON(t.b(bTickets), tkey(id), &tk); err != nil {
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
