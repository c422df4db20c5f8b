package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"helpdesk/store"
	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// Inject delivers a message file as if it had been received over SMTP
// (helpdesk inject: an MTA can pipe mail in). The envelope recipients are
// taken from To and Cc. Authentication-Results are believed only with
// trustAuthRes (SPEC 5).
func (e *Engine) Inject(ctx context.Context, raw []byte, trustAuthRes bool) (Result, error) {
	cfg := e.Config()
	sp := e.db.NewSpool(int64(cfg.SMTP.SpoolThreshold))
	defer sp.Close()
	if _, err := sp.Write(raw); err != nil {
		return Result{}, err
	}
	m := threading.Parse(bytes.NewReader(raw), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
	var rcpts []string
	for _, a := range m.AllRecipients() {
		if cfg.Mailbox(a.Addr) != nil {
			rcpts = append(rcpts, a.Addr)
		}
	}
	if len(rcpts) == 0 {
		rcpts = []string{cfg.Mailboxes[0].Address}
	}
	from := m.From.Addr
	if rp := m.Get("Return-Path"); rp != "" {
		from = threading.NormalizeAddr(rp)
	}
	return e.Deliver(ctx, Envelope{MailFrom: from, Rcpts: rcpts, TrustAuthRes: trustAuthRes, Via: "inject"}, sp)
}

// Release applies a quarantined mail as if the check that held it had
// passed (an admin vouches for it: SPEC 5).
func (e *Engine) Release(ctx context.Context, id uint64) (Result, error) {
	var q *store.Quarantine
	var msg *store.Message
	err := e.db.View(func(tx *store.Tx) error {
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
	err = e.db.Update(func(tx *store.Tx) error {
		a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now(), release: q}
		if err := a.run(); err != nil {
			return err
		}
		res, enq = a.res, a.enqueued
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	res.Outbound = enq
	e.ackLimited(res, in.env, in.mail.From.Addr)
	if enq > 0 && e.Wake != nil {
		e.Wake()
	}
	e.log.Info("quarantine released", "record", id, "ticket", res.Ticket, "disposition", res.Disposition)
	return res, nil
}
