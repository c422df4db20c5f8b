package engine

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"helpdesk/gateway/plan"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading/command"
)

// Erase by mail (issue 16 item 2, SPEC 8). An admin's "#customer erase"
// on a ticket is answered with a confirmation code; a second mail that
// quotes it ("#customer erase confirm CODE") erases the requester as
// `helpdesk customer erase ADDR --yes` does, compaction included. The
// code is kept on the ticket as a hash, bound to the admin, the
// requester and plan.EraseCodeTTL on the ticket clock; the planner
// checks all of that. The erase cannot run inside the confirming mail's
// write (it reads the whole store, writes once and compacts), so that
// write consumes the code and records the pending erase (an erasure
// record in state model.ErasureConfirmed): a replayed mail finds no code,
// and a crash after the 250 loses nothing. The erase runs after that
// write commits, on the node that leads (RunErasures, erasures.go), and
// the admin's transcript goes out once its compaction is done, with the
// erasure record's counts and no personal data (it is the one mail about
// the customer that stays in the store). A daemon killed at any point in
// between resumes the erase when it starts (erasures.go).

// eraseCodeAlphabet has no 0/O, 1/I/L: codes are retyped.
const eraseCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newEraseCode is 8 random characters as XXXX-XXXX.
func newEraseCode() string {
	var b [8]byte
	rand.Read(b[:])
	var sb strings.Builder
	for i, x := range b {
		if i == 4 {
			sb.WriteByte('-')
		}
		sb.WriteByte(eraseCodeAlphabet[int(x)%len(eraseCodeAlphabet)])
	}
	return sb.String()
}

// errNoLongerPending: the erasure record moved on (or went) since it was
// read: another run (an earlier leader, the CLI) got there first.
var errNoLongerPending = errors.New("the erasure is no longer waiting for this step")

// requestErase makes the code of a #customer erase and keeps its hash on
// the ticket.
func (a *applier) requestErase(r *cmdRun, tk *model.Ticket, ch plan.RequestErase) error {
	code := newEraseCode()
	exp := a.now.Add(plan.EraseCodeTTL)
	tk.EraseRequest = &model.EraseRequest{Hash: plan.EraseCodeHash(code), By: a.staff.Email, Addr: tk.Requester, Expires: exp}
	r.Results[ch.Command] = fmt.Sprintf("erasing %s cannot be undone: their tickets become shells of figures, "+
		"and their mail, texts, attachments and profile are deleted, also from the disk.\n"+
		"To confirm, reply to this mail by %s with this line:\n\n"+
		"#customer erase confirm %s\n\n"+
		"The code works once, for you and this customer only; a newer #customer erase replaces it.",
		tk.Requester, exp.UTC().Format("2006-01-02 15:04 MST"), code)
	return a.event(tk, fmt.Sprintf("erase of the customer %s requested by %s (confirmation code valid until %s)", tk.Requester, a.staff.Email, exp.UTC().Format("15:04 MST")))
}

// confirmErase consumes the code and records the pending erase, in the
// confirming mail's write; the erase runs once it has committed.
func (a *applier) confirmErase(r *cmdRun, tk *model.Ticket, ch plan.ConfirmErase) error {
	line := ""
	if ch.Command < len(r.Block.Commands) {
		line = r.Block.Commands[ch.Command].Raw
	}
	rec := &model.Erasure{By: a.staff.Email, Via: "mail", State: model.ErasureConfirmed, Pending: &model.PendingErasure{
		Addr: ch.Addr, Ticket: tk.ID, ByName: a.in.agent.Name, Mailbox: tk.Mailbox, Line: line, MessageID: a.mail().MessageID}}
	if err := a.tx.AddErasure(rec); err != nil {
		return fmt.Errorf("recording the confirmed erase: %w", err)
	}
	tk.EraseRequest = nil // the code works once
	a.erasing = true
	return a.event(tk, fmt.Sprintf("erase of the requester confirmed by %s (erasure record %d)", a.staff.Email, rec.ID))
}

// eraseTranscript is the admin's transcript of an erase by mail: the
// record's counts (res: the erase's, or nil when it was refused by err).
func eraseTranscript(p *model.PendingErasure, r *model.Erasure, compact *store.CompactResult, err error) (subject, text string) {
	result := command.Result{Command: command.Command{Raw: p.Line}}
	if r == nil {
		result.Message = "nothing was erased: " + err.Error()
		return "Customer NOT erased", command.FormatTranscript([]command.Result{result}, false)
	}
	result.OK = true
	result.Message = fmt.Sprintf("the customer was erased (erasure record %d, `helpdesk erasures`): %d tickets left as shells; "+
		"%d comments with %d attachments emptied; %d raw mails (%d kept as files) deleted; %d outbound mails (%d outbox files), "+
		"%d quarantine entries, %d webhook deliveries, %d index entries and %d profile records removed; "+
		"on %d other people's tickets the address was replaced %d times (%d of their raw mails kept)",
		r.ID, r.Tickets, r.Comments, r.Attachments, r.Messages, r.Blobs, r.Outbound, r.OutboxFiles,
		r.Quarantine, r.Webhooks, r.IndexEntries, r.Profiles, r.OtherTickets, r.Replaced, r.KeptRaw)
	result.Message += fmt.Sprintf(". The store was compacted (%d to %d bytes), so no file keeps their data.", compact.Before, compact.After)
	return fmt.Sprintf("Customer erased: erasure record %d", r.ID), command.FormatTranscript([]command.Result{result}, true)
}

// queueEraseTranscript queues the admin's transcript in tx.
func (e *Engine) queueEraseTranscript(tx store.Tx, by string, p *model.PendingErasure, subject, body string) (int, error) {
	cfg := e.Config()
	mb := cfg.Mailbox(p.Mailbox)
	if mb == nil && len(cfg.Mailboxes) > 0 {
		mb = &cfg.Mailboxes[0]
	}
	var text strings.Builder
	text.WriteString(cfg.Threading.ReplyMarker)
	text.WriteString("\n\n")
	text.WriteString(body)
	text.WriteString("\n")
	a := &applier{e: e, cfg: cfg, tx: tx, now: tx.Now()}
	if err := a.enqueueSystem(by, p.ByName, "transcript", mb, subject, text.String(), p.MessageID, nil); err != nil {
		return 0, err
	}
	if err := a.finish(); err != nil {
		return 0, err
	}
	return a.enqueued, nil
}
