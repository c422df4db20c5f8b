package engine

import (
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/token"
)

// view adapts a store transaction to threading.View: lookups resolve
// merged tickets to the survivor.
type view struct{ tx store.Tx }

func (v view) LookupMessageID(id string) (threading.MsgRef, bool) {
	r, ok := v.tx.LookupMessageID(id)
	if !ok {
		return threading.MsgRef{}, false
	}
	tk, th, err := v.tx.ResolveThread(r.Ticket, r.Thread)
	if err != nil || tk.Erased != nil {
		return threading.MsgRef{}, false
	}
	return threading.MsgRef{Ticket: tk.ID, Thread: th, Private: r.Private}, true
}

func (v view) Ticket(id uint64) (*threading.TicketInfo, bool) {
	tk, err := v.tx.Resolve(id)
	if err != nil || tk.Erased != nil {
		// An erased requester's ticket takes no mail: what names it
		// starts afresh.
		return nil, false
	}
	return ticketInfo(tk), true
}

func (v view) ResolveToken(t token.Token) (uint64, uint32, bool) {
	tk, th, err := v.tx.ResolveThread(t.Ticket, t.Thread)
	if err != nil || tk.Erased != nil {
		return 0, 0, false
	}
	return tk.ID, th, true
}

func ticketInfo(tk *model.Ticket) *threading.TicketInfo {
	ti := &threading.TicketInfo{
		ID:        tk.ID,
		Closed:    tk.Status == model.StatusClosed,
		Requester: tk.Requester,
		CCs:       tk.CCs,
		Assignee:  tk.Assignee,
		Followers: tk.Followers,
	}
	for _, th := range tk.Threads {
		ti.Threads = append(ti.Threads, threading.ThreadInfo{ID: th.ID, Side: th.Kind == model.ThreadSide, Collaborators: th.Collaborators})
	}
	return ti
}
