package engine

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"helpdesk/gateway/plan"
	"helpdesk/internal/testhook"
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
// write (it reads the whole store, writes once and compacts), so it runs
// after that write commits, and its own write consumes the code: a
// replayed mail finds none. The admin's transcript goes out afterwards,
// with the erasure record's counts and no personal data (it is the one
// mail about the customer that stays in the store). A daemon stopped
// between the two writes erases nothing and sends nothing: the code stays
// valid until it expires, so the admin sends the confirmation again.

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

// mailErase is a confirmed erase, run once the mail's write committed.
type mailErase struct {
	ticket  uint64
	addr    string
	hash    string
	by      string // the admin
	name    string // the admin's name
	mailbox string
	line    command.Command // the confirming command, echoed
	msgID   string          // the confirming mail's Message-ID
}

// errCodeUsed: the code was consumed between the confirming mail's write
// and the erase (two confirmations at once).
var errCodeUsed = errors.New("the confirmation code was used already (or replaced by a newer #customer erase): nothing more was erased")

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

// confirmErase records the confirmed erase for after the write.
func (a *applier) confirmErase(r *cmdRun, tk *model.Ticket, ch plan.ConfirmErase) error {
	job := &mailErase{ticket: tk.ID, addr: ch.Addr, hash: ch.Hash, by: a.staff.Email, name: a.in.agent.Name,
		mailbox: tk.Mailbox, msgID: a.mail().MessageID}
	if ch.Command < len(r.Block.Commands) {
		job.line = r.Block.Commands[ch.Command]
	}
	a.eraseJob = job
	return nil
}

// eraseByMail runs a confirmed erase and mails the admin its transcript.
func (e *Engine) eraseByMail(j *mailErase) {
	testhook.Hold("erase-confirmed")
	e.eraseMu.Lock()
	defer e.eraseMu.Unlock()
	res, err := e.erase(j.addr, j.by, "mail", false, func(tx store.Tx) error {
		tk, err := tx.Ticket(j.ticket)
		if err != nil {
			return fmt.Errorf("loading ticket %d: %w", j.ticket, err)
		}
		if tk.EraseRequest == nil || tk.EraseRequest.Hash != j.hash {
			return errCodeUsed
		}
		return nil
	})
	result := command.Result{Command: j.line}
	subject := "Customer erased"
	switch {
	case err == nil || (res != nil && res.Record.ID != 0):
		r := res.Record
		result.OK = true
		result.Message = fmt.Sprintf("the customer was erased (erasure record %d, `helpdesk erasures`): %d tickets left as shells; "+
			"%d comments with %d attachments emptied; %d raw mails (%d kept as files) deleted; %d outbound mails (%d outbox files), "+
			"%d quarantine entries, %d webhook deliveries, %d index entries and %d profile records removed; "+
			"on %d other people's tickets the address was replaced %d times (%d of their raw mails kept)",
			r.ID, r.Tickets, r.Comments, r.Attachments, r.Messages, r.Blobs, r.Outbound, r.OutboxFiles,
			r.Quarantine, r.Webhooks, r.IndexEntries, r.Profiles, r.OtherTickets, r.Replaced, r.KeptRaw)
		if err != nil {
			result.Message += ". Compacting the store afterwards FAILED: run helpdesk compact on the server (" + err.Error() + ")"
		} else {
			result.Message += fmt.Sprintf(". The store was compacted (%d to %d bytes), so no file keeps their data.", res.Compact.Before, res.Compact.After)
		}
		subject = fmt.Sprintf("Customer erased: erasure record %d", r.ID)
	default:
		result.Message = "nothing was erased: " + err.Error()
		subject = "Customer NOT erased"
	}
	if res == nil || res.Record.ID == 0 {
		e.log.Error("erase by mail failed", "by", j.by, "err", err)
	}
	cfg := e.Config()
	mb := cfg.Mailbox(j.mailbox)
	if mb == nil && len(cfg.Mailboxes) > 0 {
		mb = &cfg.Mailboxes[0]
	}
	var text strings.Builder
	text.WriteString(cfg.Threading.ReplyMarker)
	text.WriteString("\n\n")
	text.WriteString(command.FormatTranscript([]command.Result{result}, result.OK))
	text.WriteString("\n")
	queued := 0
	if err := e.update(func(tx store.Tx) error {
		a := &applier{e: e, cfg: cfg, tx: tx, now: tx.Now()}
		defer func() { queued = a.enqueued }()
		if err := a.enqueueSystem(j.by, j.name, "transcript", mb, subject, text.String(), j.msgID, nil); err != nil {
			return err
		}
		return a.finish()
	}); err != nil {
		e.log.Error("erase by mail: queueing the transcript", "by", j.by, "err", err)
		return
	}
	if queued > 0 && e.Wake != nil {
		e.Wake()
	}
}
