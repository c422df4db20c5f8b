package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// Inject delivers a message file as if it had been received over SMTP
// (helpdesk inject: an MTA can pipe mail in). The envelope recipients are
// taken from To and Cc. Authentication-Results are believed only with
// trustAuthRes (SPEC 5).
func (e *Engine) Inject(ctx context.Context, raw []byte, trustAuthRes bool) (Result, error) {
	return e.InjectEnvelope(ctx, raw, InjectOptions{TrustAuthRes: trustAuthRes})
}

// InjectOptions is the envelope of an injected mail, as an MTA's pipe
// transport passes it (Postfix: ${sender} and ${recipient}).
type InjectOptions struct {
	TrustAuthRes bool
	// Rcpts are the envelope recipients; each must be one of our
	// addresses, as RCPT TO requires. Without them, our addresses on the
	// To and Cc lines stand in (which misses a mailbox that was only a
	// Bcc); with none there, the mail is refused (ErrNoRecipient).
	Rcpts []string
	// Sender is the envelope sender (MAIL FROM; "" is the null sender
	// <>), used when HasSender; otherwise Return-Path or From stands in.
	Sender    string
	HasSender bool
}

// ErrNoRecipient is an injected mail with no envelope recipient and none
// of our addresses on its To or Cc line.
var ErrNoRecipient = errors.New("none of our addresses is on the To or Cc line and no envelope recipient was given: pass it with --rcpt (Postfix's pipe: --rcpt ${recipient}); nothing was stored")

// ErrNoSuchMailbox is an envelope recipient that is none of our
// addresses (SMTP's 550 5.1.1).
var ErrNoSuchMailbox = errors.New("no such mailbox here")

// InjectEnvelope delivers raw as if received by SMTP with the envelope
// in opt.
func (e *Engine) InjectEnvelope(ctx context.Context, raw []byte, opt InjectOptions) (Result, error) {
	cfg := e.Config()
	env, err := envelopeOf(cfg, raw, opt)
	if err != nil {
		return Result{}, err
	}
	sp := e.db.NewSpool(int64(cfg.SMTP.SpoolThreshold))
	defer sp.Close()
	if _, err := sp.Write(raw); err != nil {
		return Result{}, err
	}
	return e.Deliver(ctx, env, sp)
}

// envelopeOf is the envelope of an injected (or explained) mail: opt's,
// with our addresses on To and Cc and the Return-Path or From standing in
// for what opt lacks.
func envelopeOf(cfg *config.Config, raw []byte, opt InjectOptions) (Envelope, error) {
	for _, r := range opt.Rcpts {
		if cfg.Mailbox(r) == nil {
			return Envelope{}, fmt.Errorf("recipient %s: %w", r, ErrNoSuchMailbox)
		}
	}
	rcpts := append([]string(nil), opt.Rcpts...)
	// "<>" and "" are the null sender; "<addr>" is addr.
	from := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(opt.Sender), "<"), ">")
	if len(rcpts) == 0 || !opt.HasSender {
		m := threading.Parse(bytes.NewReader(raw), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
		if len(rcpts) == 0 {
			for _, a := range m.AllRecipients() {
				if cfg.Mailbox(a.Addr) != nil {
					rcpts = append(rcpts, a.Addr)
				}
			}
			if len(rcpts) == 0 {
				// Guessing a mailbox would misroute a mail that reached us
				// as a Bcc or through an alias (and make the To addresses
				// CCs of a ticket they never wrote to). The MTA keeps the
				// mail while the pipe's arguments are fixed.
				return Envelope{}, ErrNoRecipient
			}
		}
		if !opt.HasSender {
			from = m.From.Addr
			if rp := m.Get("Return-Path"); rp != "" {
				from = threading.NormalizeAddr(rp)
			}
		}
	}
	return Envelope{MailFrom: from, Rcpts: rcpts, TrustAuthRes: opt.TrustAuthRes, Via: "inject"}, nil
}

// Release applies a quarantined mail as if the check that held it had
// passed (an admin vouches for it: SPEC 5).
func (e *Engine) Release(ctx context.Context, id uint64) (Result, error) {
	var q *model.Quarantine
	var msg *model.Message
	err := e.db.View(func(tx store.Tx) error {
		var err error
		if q, err = tx.QuarantineRecord(id); err != nil {
			return fmt.Errorf("quarantine record %d: %w", id, err)
		}
		msg, err = tx.Message(q.Message)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if q.Released {
		return Result{}, fmt.Errorf("quarantine record %d was already released", id)
	}
	rc, err := e.db.OpenRaw(msg)
	if err != nil {
		return Result{}, err
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return Result{}, err
	}
	cfg := e.Config()
	in := &inbound{env: Envelope{MailFrom: msg.MailFrom, Rcpts: msg.Rcpts, Via: "release"}, size: msg.Size, started: e.now()}
	in.mail = threading.Parse(bytes.NewReader(raw), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
	in.mail.EnvelopeFrom = msg.MailFrom
	machine.Classify(in.mail)
	e.identify(cfg, in)
	e.verifyTokens(cfg, in)
	var res Result
	var enq int
	var erase bool
	err = e.update(func(tx store.Tx) error {
		a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now(), release: q}
		if err := a.run(); err != nil {
			return err
		}
		res, enq, erase = a.res, a.enqueued, a.erasing
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	if erase {
		e.WakeErasures()
	}
	res.Outbound = enq
	e.ackLimited(res, in.env, in.mail.From.Addr)
	if enq > 0 && e.Wake != nil {
		e.Wake()
	}
	e.log.Info("quarantine released", "record", id, "ticket", res.Ticket, "disposition", res.Disposition)
	return res, nil
}
