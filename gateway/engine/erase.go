package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/testhook"
	"helpdesk/threading"
)

// ErasedMark stands for an erased address where other people's tickets
// keep a trace of it (a comment's author, a text that named it).
const ErasedMark = "[erased]"

// EraseResult is what an erasure did (or, dry, would do), and the
// compaction that took the deleted bytes off the disk.
type EraseResult struct {
	Record  model.Erasure       `json:"record"`
	Dry     bool                `json:"dry_run,omitempty"`
	Compact store.CompactResult `json:"compact"`
}

// ErrNothingToErase is an address the store knows nothing of.
var ErrNothingToErase = errors.New("the store holds nothing of this address")

// erasePlan is what the scan found, by id.
type erasePlan struct {
	own      map[uint64]bool // the person's tickets (requester)
	others   map[uint64]bool // other tickets that name the address
	messages []uint64        // raw mails to delete
	blobs    []string        // blob files only those messages name
	keptRaw  int             // raw mails of other tickets that stay
	outbound []uint64        // queue items to delete
	rewrite  []uint64        // queue items of other tickets to rewrite
	quarant  []uint64        // quarantine records to delete
	hooks    []uint64        // webhook deliveries to delete
	rehooks  []uint64        // webhook payloads of other tickets to rewrite
	msgIDs   []string        // Message-IDs of the deleted mail
	user     bool
}

// Erase erases a customer (GDPR, issue 16 item 2): their tickets become
// shells (number, dates, status, assignee and figures stay, marked
// erased), and their raw mail, blobs, comment texts and attachments,
// outbound mail (queued and sent, and its .eml copies), quarantine
// entries, webhook payloads, index entries and user record go. Other
// people's tickets that name the address (a CC) keep their texts with
// the address replaced by ErasedMark and lose it from their lists; the
// raw mail of those tickets is the other people's and stays (counted in
// the record). The deletion and the record commit in one write; then the
// store is compacted so that no freed page keeps the bytes. dry only
// counts. by is who asked (an admin's address, or "cli"), via how.
//
// The record is written in the erase's write in state
// model.ErasureErased, naming the files to remove; it is complete once
// the compaction is done. A daemon killed before that finishes the
// erasure when it starts again (RunErasures).
func (e *Engine) Erase(addr, by, via string, dry bool) (*EraseResult, error) {
	if dry {
		return e.erase(addr, by, via, true, nil)
	}
	e.eraseMu.Lock()
	defer e.eraseMu.Unlock()
	res, err := e.erase(addr, by, via, false, nil)
	if err != nil {
		return nil, err
	}
	res.Compact, err = e.completeErasure(res.Record.ID, &res.Record)
	if err != nil {
		return res, fmt.Errorf("erase: the records are deleted, but compacting the store failed (the daemon tries again, also when it starts; or run helpdesk compact): %w", err)
	}
	return res, nil
}

// refusedError is an erase refused for what was asked (not an address,
// staff, nothing stored): asking again later cannot succeed.
type refusedError struct{ error }

func (r refusedError) Unwrap() error { return r.error }

// erase is Erase's scan and write (dry: the scan only). job, when set, is
// the record of an erase confirmed by mail: the write checks it is still
// waiting (errNoLongerPending otherwise) and moves it on instead of
// adding a record.
func (e *Engine) erase(addr, by, via string, dry bool, job *model.Erasure) (*EraseResult, error) {
	addr = threading.NormalizeAddr(addr)
	cfg := e.Config()
	if !strings.Contains(addr, "@") {
		return nil, refusedError{fmt.Errorf("erase: %q is not an address", addr)}
	}
	if cfg.Agent(addr) != nil {
		return nil, refusedError{fmt.Errorf("erase: %s is a staff member: remove them from [[agent]] first (erasure is for customers)", addr)}
	}
	if cfg.Mailbox(addr) != nil {
		return nil, refusedError{fmt.Errorf("erase: %s is one of our mailboxes", addr)}
	}
	// The person is the profile (SPEC 8) when there is one: every
	// address of it is erased, and the profile goes.
	addrs := []string{addr}
	var plans []*erasePlan
	var profile uint64
	if err := e.db.View(func(tx store.Tx) error {
		if c, err := tx.CustomerByAddr(addr); err == nil {
			profile = c.ID
			for _, a := range c.Addresses {
				if a = threading.NormalizeAddr(a); a != addr && cfg.Agent(a) == nil && cfg.Mailbox(a) == nil {
					addrs = append(addrs, a)
				}
			}
		}
		for _, a := range addrs {
			p, err := scanErase(tx, a)
			if err != nil {
				return err
			}
			plans = append(plans, p)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("erase: finding what names the address: %w", err)
	}
	res := &EraseResult{Dry: dry}
	r := &res.Record
	empty := profile == 0
	for _, p := range plans {
		r.Tickets, r.OtherTickets, r.Messages, r.Blobs = r.Tickets+len(p.own), r.OtherTickets+len(p.others), r.Messages+len(p.messages), r.Blobs+len(p.blobs)
		r.Outbound, r.Quarantine, r.Webhooks, r.KeptRaw = r.Outbound+len(p.outbound), r.Quarantine+len(p.quarant), r.Webhooks+len(p.hooks), r.KeptRaw+p.keptRaw
		if p.user {
			r.Profiles++
		}
		if len(p.own) > 0 || len(p.others) > 0 || len(p.messages) > 0 || len(p.outbound) > 0 || len(p.quarant) > 0 || p.user {
			empty = false
		}
	}
	if profile != 0 {
		r.Profiles++
	}
	if dry {
		return res, nil
	}
	if empty {
		return nil, refusedError{fmt.Errorf("erase %s: %w", addr, ErrNothingToErase)}
	}
	err := e.db.Update(func(tx store.Tx) error {
		if job != nil {
			if cur, err := erasureRecord(tx, job.ID); err != nil || cur.State != model.ErasureConfirmed {
				return errNoLongerPending
			}
		}
		*r = model.Erasure{By: by, Via: via}
		for i, p := range plans {
			if err := applyErase(tx, addrs[i], p, r); err != nil {
				return err
			}
		}
		// The files go once this commits; the record counts them now.
		for _, p := range plans {
			r.Blobs += len(p.blobs)
			for _, id := range p.outbound {
				if _, err := os.Stat(outboxFile(cfg.DataDir, id)); err == nil {
					r.OutboxFiles++
				}
			}
		}
		if profile != 0 {
			if err := tx.DeleteCustomer(profile); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("deleting the customer profile: %w", err)
			}
			r.Profiles++
		}
		// Until the compaction is done: the files this write orphaned
		// (names of no one), and for an erase by mail what its transcript
		// needs; the address leaves the record here.
		p := &model.PendingErasure{}
		if job != nil && job.Pending != nil {
			*p = *job.Pending
			p.Addr = ""
		}
		for _, pl := range plans {
			p.Blobs = append(p.Blobs, pl.blobs...)
			p.Outbox = append(p.Outbox, pl.outbound...)
		}
		r.State, r.Pending = model.ErasureErased, p
		if job != nil {
			r.ID, r.At = job.ID, tx.Now()
			return tx.PutErasure(r)
		}
		return tx.AddErasure(r)
	})
	if err != nil {
		if errors.Is(err, errNoLongerPending) {
			return nil, err
		}
		return nil, fmt.Errorf("erase: %w", err)
	}
	testhook.Hold("erase-erased")
	return res, nil
}

// completeErasure finishes erasure record id once its write committed:
// it removes the files the write orphaned, compacts the store, and in
// one write marks the record complete and, for an erase by mail, queues
// the admin's transcript. Each step may run again after a crash: a file
// already gone is no error, a second compaction finds nothing more, and
// the last write does nothing for a record already complete. done, when
// set, gets the record as completed.
func (e *Engine) completeErasure(id uint64, done *model.Erasure) (store.CompactResult, error) {
	var c store.CompactResult
	var rec *model.Erasure
	if err := e.db.View(func(tx store.Tx) error {
		var err error
		rec, err = erasureRecord(tx, id)
		return err
	}); err != nil {
		return c, fmt.Errorf("erase: reading erasure record %d: %w", id, err)
	}
	if rec.State != model.ErasureErased {
		return c, nil
	}
	cfg := e.Config()
	removeOutbox := func() {
		for _, o := range rec.Pending.Outbox {
			if err := os.Remove(outboxFile(cfg.DataDir, o)); err != nil && !errors.Is(err, os.ErrNotExist) {
				e.log.Error("erase: removing an outbox file", "err", err)
			}
		}
	}
	if rec.Pending != nil {
		for _, b := range rec.Pending.Blobs {
			if err := os.Remove(filepath.Join(cfg.DataDir, filepath.Clean(b))); err != nil && !errors.Is(err, os.ErrNotExist) {
				e.log.Error("erase: removing a blob file", "err", err)
			}
		}
		removeOutbox()
	}
	var err error
	c, err = e.db.Compact()
	if err != nil {
		return c, err
	}
	if rec.Pending != nil {
		// A delivery under way when the items went may have written its
		// copy since.
		removeOutbox()
	}
	queued, completed := 0, false
	if err := e.update(func(tx store.Tx) error {
		queued, completed = 0, false
		cur, err := erasureRecord(tx, id)
		if err != nil {
			return err
		}
		if cur.State != model.ErasureErased {
			*rec = *cur
			return nil // completed by another run
		}
		p := cur.Pending
		cur.State, cur.Pending = "", nil
		if err := tx.PutErasure(cur); err != nil {
			return err
		}
		*rec, completed = *cur, true
		if cur.Via != "mail" || p == nil || p.Line == "" {
			return nil
		}
		subject, text := eraseTranscript(p, cur, &c, nil)
		queued, err = e.queueEraseTranscript(tx, cur.By, p, subject, text)
		return err
	}); err != nil {
		return c, fmt.Errorf("erase: completing erasure record %d: %w", id, err)
	}
	if queued > 0 && e.Wake != nil {
		e.Wake()
	}
	if done != nil {
		*done = *rec
	}
	if !completed {
		return c, nil
	}
	r := rec
	e.log.Info("customer erased", "erasure", r.ID, "by", r.By, "via", r.Via, "tickets", r.Tickets, "messages", r.Messages,
		"outbound", r.Outbound, "other_tickets", r.OtherTickets, "store_bytes_before", c.Before, "store_bytes_after", c.After)
	return c, nil
}

// erasureRecord reads erasure record id (ErrNotFound: none).
func erasureRecord(tx store.Tx, id uint64) (*model.Erasure, error) {
	rs, err := tx.Erasures()
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("erasure record %d: %w", id, store.ErrNotFound)
}

// outboxFile is where the outbound worker writes item id without a relay.
func outboxFile(dataDir string, id uint64) string {
	return filepath.Join(dataDir, "outbox", fmt.Sprintf("%08d.eml", id))
}

// mentions reports whether a ticket's own fields name addr.
func mentions(tk *model.Ticket, addr string) bool {
	if slices.Contains(tk.CCs, addr) || slices.Contains(tk.Followers, addr) {
		return true
	}
	for _, th := range tk.Threads {
		if slices.Contains(th.Collaborators, addr) {
			return true
		}
	}
	for k := range tk.Refs {
		if strings.HasPrefix(k, addr+"|") {
			return true
		}
	}
	if _, ok := tk.FanTimes[addr]; ok {
		return true
	}
	return strings.Contains(strings.ToLower(tk.Subject), addr)
}

// scanErase finds, in a read, everything that names addr. Other tickets
// are found by their own fields (a CC, a side-thread collaborator, a
// References chain or loop-guard entry of the address): whoever wrote or
// was written on a ticket has one of those.
func scanErase(tx store.Tx, addr string) (*erasePlan, error) {
	p := &erasePlan{own: map[uint64]bool{}, others: map[uint64]bool{}}
	for _, id := range tx.TicketsOfRequester(addr) {
		p.own[id] = true
	}
	for _, id := range tx.TicketIDs("", 0) {
		if p.own[id] {
			continue
		}
		tk, err := tx.Ticket(id)
		if err != nil {
			return nil, err
		}
		if tk.Erased == nil && mentions(tk, addr) {
			p.others[id] = true
		}
	}
	if _, err := tx.User(addr); err == nil {
		p.user = true
	}
	gone := map[uint64]bool{}
	blobRefs := map[string]int{} // remaining references
	var blobsOfGone []string
	if err := tx.ForEachMessage(func(m *model.Message) error {
		if p.own[m.Ticket] || threading.NormalizeAddr(m.MailFrom) == addr {
			gone[m.ID] = true
			p.messages = append(p.messages, m.ID)
			if m.MessageID != "" {
				p.msgIDs = append(p.msgIDs, m.MessageID)
			}
			if m.Blob != "" {
				blobsOfGone = append(blobsOfGone, m.Blob)
			}
			return nil
		}
		if m.Blob != "" {
			blobRefs[m.Blob]++
		}
		if p.others[m.Ticket] {
			p.keptRaw++
		}
		return nil
	}); err != nil {
		return nil, err
	}
	qs, err := tx.Quarantined(0)
	if err != nil {
		return nil, err
	}
	for _, q := range qs {
		if threading.NormalizeAddr(q.From) == addr || gone[q.Message] {
			p.quarant = append(p.quarant, q.ID)
			if !gone[q.Message] && q.Message != 0 && !q.Released {
				if m, err := tx.Message(q.Message); err == nil {
					gone[m.ID] = true
					p.messages = append(p.messages, m.ID)
					if m.Blob != "" {
						blobRefs[m.Blob]--
						blobsOfGone = append(blobsOfGone, m.Blob)
					}
				}
			}
		}
	}
	for _, b := range blobsOfGone {
		if blobRefs[b] <= 0 && !slices.Contains(p.blobs, b) {
			p.blobs = append(p.blobs, b)
		}
	}
	if err := tx.ForEachOutbound(func(o *model.Outbound) error {
		switch {
		case p.own[o.Ticket] || threading.NormalizeAddr(o.Rcpt) == addr:
			p.outbound = append(p.outbound, o.ID)
		case outboundNames(o, addr):
			p.rewrite = append(p.rewrite, o.ID)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := tx.ForEachWebhook(func(d *model.WebhookDelivery) error {
		if p.own[d.Ticket] {
			p.hooks = append(p.hooks, d.ID)
		} else if strings.Contains(strings.ToLower(string(d.Body)), addr) {
			p.rehooks = append(p.rehooks, d.ID)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// outboundNames reports whether a queue item's texts or headers name addr.
func outboundNames(o *model.Outbound, addr string) bool {
	for _, s := range append(append([]string{o.From, o.ReplyTo, o.Subject, o.Text, o.TextAfter}, o.To...), o.Cc...) {
		if strings.Contains(strings.ToLower(s), addr) {
			return true
		}
	}
	return false
}

// replacer replaces addr, in any case, with ErasedMark and counts.
type replacer struct {
	re *regexp.Regexp
	n  int
}

func newReplacer(addr string) *replacer {
	return &replacer{re: regexp.MustCompile(`(?i)` + regexp.QuoteMeta(addr))}
}

func (r *replacer) s(s string) string {
	if !r.re.MatchString(s) {
		return s
	}
	r.n += len(r.re.FindAllStringIndex(s, -1))
	return r.re.ReplaceAllLiteralString(s, ErasedMark)
}

func (r *replacer) list(l []string) []string {
	for i := range l {
		l[i] = r.s(l[i])
	}
	return l
}

// without removes addr from a list, counting.
func (r *replacer) without(l []string, addr string) []string {
	out := l[:0]
	for _, x := range l {
		if strings.EqualFold(x, addr) {
			r.n++
			continue
		}
		out = append(out, x)
	}
	return out
}

// applyErase does, in one write, what the scan planned.
func applyErase(tx store.Tx, addr string, p *erasePlan, r *model.Erasure) error {
	now := tx.Now()
	for id := range p.own {
		tk, err := tx.Ticket(id)
		if err != nil {
			return err
		}
		cs, err := tx.Comments(id)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Text != "" || len(c.Attachments) > 0 {
				r.Comments++
			}
			r.Attachments += len(c.Attachments)
			if strings.EqualFold(c.Author, addr) {
				c.Author = ErasedMark
			}
			c.Text, c.Attachments, c.AuthorName, c.Recipients, c.Reason, c.MessageID, c.Message = "", nil, "", nil, "", "", 0
			if err := tx.PutComment(c); err != nil {
				return err
			}
		}
		// A shell: the figures stay (number, dates, status, priority,
		// type, mailbox, group, assignee, tags, links, and whatever the
		// service levels and ratings keep), the person's words go.
		tk.Subject, tk.Requester, tk.CCs, tk.RootMessageID = "", "", nil, ""
		tk.Refs, tk.FanTimes, tk.Suggestions = nil, nil, nil
		if tk.CSAT != nil {
			tk.CSAT.Comment = "" // the rating is a figure; the words are theirs
		}
		for i := range tk.Threads {
			th := &tk.Threads[i]
			th.Subject, th.Collaborators, th.LastMessageID = "", nil, ""
		}
		t := now
		tk.Erased, tk.EraseRequest = &t, nil // a pending code goes with the rest (single use)
		if err := tx.PutTicket(tk); err != nil {
			return err
		}
		r.Tickets++
		r.IndexEntries++ // the requester's key of this ticket
	}
	rep := newReplacer(addr)
	gone := map[uint64]bool{}
	for _, m := range p.messages {
		gone[m] = true
	}
	for id := range p.others {
		tk, err := tx.Ticket(id)
		if err != nil {
			return err
		}
		tk.CCs = rep.without(tk.CCs, addr)
		tk.Followers = rep.without(tk.Followers, addr)
		for i := range tk.Threads {
			tk.Threads[i].Collaborators = rep.without(tk.Threads[i].Collaborators, addr)
		}
		for k := range tk.Refs {
			if strings.HasPrefix(k, addr+"|") {
				delete(tk.Refs, k)
				rep.n++
			}
		}
		if _, ok := tk.FanTimes[addr]; ok {
			delete(tk.FanTimes, addr)
			rep.n++
		}
		tk.Subject = rep.s(tk.Subject)
		cs, err := tx.Comments(id)
		if err != nil {
			return err
		}
		for _, c := range cs {
			before := rep.n
			if strings.EqualFold(c.Author, addr) {
				c.Author, c.AuthorName = ErasedMark, ""
				rep.n++
			}
			c.Text, c.Reason = rep.s(c.Text), rep.s(c.Reason)
			c.Recipients = rep.list(c.Recipients)
			changed := rep.n != before
			if c.Message != 0 && gone[c.Message] {
				// Their own mail's raw bytes go; its attachments lived there.
				c.Message, c.Attachments, changed = 0, nil, true
			}
			if changed {
				if err := tx.PutComment(c); err != nil {
					return err
				}
			}
		}
		if err := tx.PutTicket(tk); err != nil {
			return err
		}
		r.OtherTickets++
	}
	for _, id := range p.rewrite {
		o, err := tx.Outbound(id)
		if err != nil {
			continue // settled and gone meanwhile
		}
		o.From, o.ReplyTo, o.Subject, o.Text, o.TextAfter = rep.s(o.From), rep.s(o.ReplyTo), rep.s(o.Subject), rep.s(o.Text), rep.s(o.TextAfter)
		o.To, o.Cc = rep.list(o.To), rep.list(o.Cc)
		if err := tx.PutOutbound(o, o.NextAttempt); err != nil {
			return err
		}
	}
	r.KeptRaw = p.keptRaw
	for _, id := range p.messages {
		if err := tx.DeleteMessage(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Messages++
	}
	for _, id := range p.outbound {
		if err := tx.DeleteOutbound(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Outbound++
	}
	for _, id := range p.quarant {
		if err := tx.DeleteQuarantine(id); err != nil {
			return err
		}
		r.Quarantine++
	}
	for _, id := range p.hooks {
		if err := tx.DeleteWebhook(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Webhooks++
	}
	for _, id := range p.rehooks {
		d, err := tx.WebhookDelivery(id)
		if err != nil {
			continue
		}
		d.Body = []byte(rep.s(string(d.Body)))
		if err := tx.PutWebhook(d, d.NextAttempt); err != nil {
			return err
		}
	}
	r.Replaced = rep.n
	n, err := tx.ForgetMessageIDs(p.own, p.msgIDs)
	if err != nil {
		return err
	}
	r.IndexEntries += n
	if p.user {
		if err := tx.DeleteUser(addr); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.IndexEntries++
		r.Profiles++
	}
	return nil
}
