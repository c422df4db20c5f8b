// Package outbound drains the durable outbound queue outside any store
// transaction: it renders each queued mail, DKIM-signs it when a key is
// configured, and either relays it over SMTP (STARTTLS and AUTH PLAIN
// optional) or, with no relay, writes it as an .eml file under
// <data_dir>/outbox/. Delivery is at least once (SPEC 11): an attempt is
// recorded as started before the relay is contacted, so a crash between
// the relay's acceptance and our record is detected and logged as a
// possible duplicate on the next attempt.
package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/gateway/auth"
	"helpdesk/store"
)

// Worker delivers queued mail.
type Worker struct {
	db     *store.DB
	cfg    func() *config.Config
	log    *slog.Logger
	signer *auth.Signer
	now    func() time.Time
	wake   chan struct{}

	// Parallel is how many mails are delivered at once (default 4).
	Parallel int

	// inflight claims queue items being delivered, so Run and Drain (or
	// two drains) never attempt the same item at once.
	mu       sync.Mutex
	inflight map[uint64]bool

	Metrics Metrics
}

// Metrics are delivery counters.
type Metrics struct {
	Sent       atomic.Int64
	Retried    atomic.Int64
	Failed     atomic.Int64
	Duplicates atomic.Int64
}

// New creates a worker. signer may be nil (no DKIM signing).
func New(db *store.DB, cfg func() *config.Config, log *slog.Logger, signer *auth.Signer) *Worker {
	return &Worker{db: db, cfg: cfg, log: log, signer: signer, now: time.Now, wake: make(chan struct{}, 1), Parallel: 4, inflight: map[uint64]bool{}}
}

// Wake makes the worker look at the queue now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run drains the queue until ctx ends; an attempt under way is finished.
func (w *Worker) Run(ctx context.Context) {
	for {
		n, next := w.drainOnce()
		if n > 0 {
			continue // more may be due
		}
		wait := time.Minute
		if !next.IsZero() {
			if d := next.Sub(w.now()); d < wait {
				wait = d
			}
		}
		if wait < 10*time.Millisecond {
			wait = 10 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain delivers everything due now and returns how many were attempted
// (tests and the CLI use it).
func (w *Worker) Drain() int {
	total := 0
	for {
		n, _ := w.drainOnce()
		total += n
		if n == 0 {
			return total
		}
	}
}

func (w *Worker) drainOnce() (int, time.Time) {
	var due []*store.Outbound
	var next time.Time
	err := w.db.View(func(tx *store.Tx) error {
		var err error
		due, err = tx.Due(w.now(), 256)
		if len(due) == 0 {
			next = tx.NextDue()
		}
		return err
	})
	if err != nil {
		w.log.Error("reading outbound queue", "err", err)
		return 0, w.now().Add(5 * time.Second)
	}
	if len(due) == 0 {
		return 0, next
	}
	par := w.Parallel
	if par < 1 {
		par = 1
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	claimed := 0
	for _, o := range due {
		if !w.claim(o.ID) {
			continue
		}
		claimed++
		sem <- struct{}{}
		wg.Add(1)
		go func(o *store.Outbound) {
			defer wg.Done()
			defer func() { <-sem }()
			defer w.unclaim(o.ID)
			w.deliver(o)
		}(o)
	}
	wg.Wait()
	if claimed == 0 {
		// Everything due is being delivered by another drain: wait
		// for it rather than spin.
		return 0, w.now().Add(20 * time.Millisecond)
	}
	return claimed, time.Time{}
}

func (w *Worker) claim(id uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight[id] {
		return false
	}
	w.inflight[id] = true
	return true
}

func (w *Worker) unclaim(id uint64) {
	w.mu.Lock()
	delete(w.inflight, id)
	w.mu.Unlock()
}

// permanentError is a refusal that retrying will not change.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func (w *Worker) deliver(o *store.Outbound) {
	// Re-read under the claim: another drain may have delivered this item
	// since our snapshot of the queue was taken.
	var cur *store.Outbound
	if err := w.db.View(func(tx *store.Tx) error {
		var err error
		cur, err = tx.Outbound(o.ID)
		return err
	}); err != nil || cur.State != store.OutQueued || cur.NextAttempt.After(w.now()) {
		return
	}
	o = cur
	cfg := w.cfg()
	relay := cfg.Outbound.Relay != ""
	if !o.Started.IsZero() {
		// The previous attempt was cut (crash or kill) after it was
		// recorded as started: the relay may have the mail already.
		w.Metrics.Duplicates.Add(1)
		w.log.Warn("outbound: previous attempt was interrupted; this delivery may duplicate it", "id", o.ID, "rcpt", o.Rcpt, "message_id", o.MessageID)
	}
	if relay {
		started := w.now()
		if err := w.update(o.ID, func(x *store.Outbound) { x.Started = started }); err != nil {
			w.log.Error("outbound: recording attempt", "id", o.ID, "err", err)
			return
		}
	}
	data, err := Render(o, w.openRaw, w.now())
	if err == nil && w.signer != nil {
		var signed bytes.Buffer
		if err = w.signer.Sign(&signed, bytes.NewReader(data)); err == nil {
			data = signed.Bytes()
		}
	}
	if err == nil {
		if relay {
			err = w.sendRelay(cfg, o, data)
		} else {
			err = w.writeOutbox(cfg, o, data)
		}
	}
	now := w.now()
	if err == nil {
		w.Metrics.Sent.Add(1)
		w.log.Info("outbound sent", "id", o.ID, "kind", o.Kind, "ticket", o.Ticket, "rcpt", o.Rcpt, "relay", relay)
		if uerr := w.update(o.ID, func(x *store.Outbound) {
			x.State, x.Done, x.Started, x.LastError = store.OutSent, now, time.Time{}, ""
			x.Attempts++
		}); uerr != nil {
			w.log.Error("outbound: recording delivery (it may be sent again)", "id", o.ID, "err", uerr)
		}
		return
	}
	var perm permanentError
	giveUp := errors.As(err, &perm) || now.Sub(o.Created) > cfg.Outbound.GiveUpAfter.D()
	attempts := o.Attempts + 1
	backoff := cfg.Outbound.RetryInitial.D() << min(attempts-1, 20)
	if max := cfg.Outbound.RetryMax.D(); backoff > max || backoff <= 0 {
		backoff = max
	}
	if giveUp {
		w.Metrics.Failed.Add(1)
		w.log.Error("outbound failed permanently", "id", o.ID, "rcpt", o.Rcpt, "err", err)
	} else {
		w.Metrics.Retried.Add(1)
		w.log.Warn("outbound attempt failed; will retry", "id", o.ID, "rcpt", o.Rcpt, "err", err, "retry_in", backoff)
	}
	if uerr := w.update(o.ID, func(x *store.Outbound) {
		x.Attempts = attempts
		x.LastError = err.Error()
		x.Started = time.Time{}
		if giveUp {
			x.State, x.Done = store.OutFailed, now
		} else {
			x.NextAttempt = now.Add(backoff)
		}
	}); uerr != nil {
		w.log.Error("outbound: recording failure", "id", o.ID, "err", uerr)
	}
}

// update reloads an item and changes it in one write.
func (w *Worker) update(id uint64, fn func(*store.Outbound)) error {
	return w.db.Update(func(tx *store.Tx) error {
		x, err := tx.Outbound(id)
		if err != nil {
			return err
		}
		prev := x.NextAttempt
		fn(x)
		return tx.PutOutbound(x, prev)
	})
}

func (w *Worker) openRaw(id uint64) (rc io.ReadCloser, err error) {
	var m *store.Message
	err = w.db.View(func(tx *store.Tx) error {
		m, err = tx.Message(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return w.db.OpenRaw(m)
}

// writeOutbox writes the mail to <data_dir>/outbox/<id>.eml durably: a
// temporary file, fsync, rename, fsync of the directory. The name is
// fixed per queue item, so a retry after a crash rewrites the same file
// rather than adding a second one.
func (w *Worker) writeOutbox(cfg *config.Config, o *store.Outbound, data []byte) error {
	dir := filepath.Join(cfg.DataDir, "outbox")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%08d.eml", o.ID))
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// The envelope, for whoever picks the file up.
	fmt.Fprintf(tmp, "X-Envelope-From: <%s>\r\nX-Envelope-To: <%s>\r\n", o.MailFrom, o.Rcpt)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// sendRelay delivers one mail to the configured relay.
func (w *Worker) sendRelay(cfg *config.Config, o *store.Outbound, data []byte) error {
	oc := cfg.Outbound
	c, err := dialRelay(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if oc.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", oc.Username, oc.Password)); err != nil {
			return classify(fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := c.Mail(o.MailFrom, nil); err != nil {
		return classify(fmt.Errorf("MAIL FROM: %w", err))
	}
	if err := c.Rcpt(o.Rcpt, nil); err != nil {
		return classify(fmt.Errorf("RCPT TO: %w", err))
	}
	wc, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	if _, err := wc.Write(data); err != nil {
		return fmt.Errorf("sending data: %w", err)
	}
	if err := wc.Close(); err != nil {
		return classify(fmt.Errorf("end of data: %w", err))
	}
	c.Quit()
	return nil
}

// dialRelay connects to the relay, with STARTTLS when offered (or
// required) unless starttls = "none".
func dialRelay(cfg *config.Config) (*smtp.Client, error) {
	oc := cfg.Outbound
	dial := func() (net.Conn, error) {
		conn, err := net.DialTimeout("tcp", oc.Relay, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("connecting to relay %s: %w", oc.Relay, err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Minute))
		return conn, nil
	}
	if oc.StartTLS != "none" {
		conn, err := dial()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(oc.Relay)
		c, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host, InsecureSkipVerify: oc.TLSInsecureSkipVerify})
		if err == nil {
			return c, nil
		}
		if oc.StartTLS == "required" || !strings.Contains(err.Error(), "support STARTTLS") {
			return nil, fmt.Errorf("STARTTLS with relay %s: %w", oc.Relay, err)
		}
		// Opportunistic: the relay offers no STARTTLS; go on in the clear.
	}
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(cfg.Hostname); err != nil {
		c.Close()
		return nil, classify(fmt.Errorf("EHLO: %w", err))
	}
	return c, nil
}

// classify marks 5xx answers as permanent.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return permanentError{err}
	}
	return err
}
