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
	"helpdesk/threading"
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
	// Busy, when set, reports that mail is coming in. A round then waits
	// for a pause of up to YieldMax, unless the oldest queued mail has
	// waited YieldAge already: the 250 to senders goes first, outbound
	// mail lags by seconds at most during a burst.
	Busy     func() bool
	YieldMax time.Duration
	YieldAge time.Duration
	// Gather is how long the worker waits after being woken, so mail
	// enqueued by a stream of commits goes out in one round with one
	// store write for its results (default 50ms). Outbound latency, not
	// ingest, pays for it: the 250 never waits for the worker.
	Gather time.Duration

	// round serializes drain rounds (Run and Drain), so no two rounds
	// ever attempt the same item and a round's snapshot of the queue
	// stays true until it records its results.
	round sync.Mutex

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
	return &Worker{db: db, cfg: cfg, log: log, signer: signer, now: time.Now, wake: make(chan struct{}, 1), Parallel: 4, Gather: 50 * time.Millisecond, YieldMax: time.Second, YieldAge: 10 * time.Second}
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
		n, next := w.drain(true)
		if ctx.Err() != nil {
			// Shutting down: the rest stays queued (durably) for the
			// next start; only the round under way was finished.
			return
		}
		if n >= batchMax {
			continue // a backlog: go on at once
		}
		if n > 0 {
			// Let more mail gather before the next round: each round
			// costs two store writes whatever its size.
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.Gather):
			}
			continue
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
			if w.Gather > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(w.Gather):
				}
			}
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

// staffKinds are the queued mails that only ever go to staff.
var staffKinds = map[string]bool{"notification": true, "transcript": true, "notice": true}

// batchMax is how many queue items one drain round takes: their state
// changes are recorded in one store write before and one after delivery.
const batchMax = 128

func (w *Worker) drainOnce() (int, time.Time) {
	return w.drain(false)
}

func (w *Worker) drain(yield bool) (int, time.Time) {
	w.round.Lock()
	defer w.round.Unlock()
	var ready []*store.Outbound
	var next time.Time
	now := w.now()
	err := w.db.View(func(tx *store.Tx) error {
		var err error
		ready, err = tx.Due(now, batchMax)
		if len(ready) == 0 {
			next = tx.NextDue()
		}
		return err
	})
	if err != nil {
		w.log.Error("reading outbound queue", "err", err)
		return 0, now.Add(5 * time.Second)
	}
	if len(ready) == 0 {
		return 0, next
	}
	if yield && w.Busy != nil && now.Sub(ready[0].NextAttempt) < w.YieldAge {
		// Ingest first (the items are oldest-due first).
		for end := time.Now().Add(w.YieldMax); w.Busy() && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		if w.Busy() && len(ready) > busyBatch {
			// Still no pause: a small round, so progress does not
			// stall ingest for long.
			ready = ready[:busyBatch]
		}
	}
	cfg := w.cfg()
	relay := cfg.Outbound.Relay != ""
	for _, o := range ready {
		if !o.Started.IsZero() {
			// The previous attempt was cut (crash or kill) after it was
			// recorded as started: the relay may have the mail already.
			w.Metrics.Duplicates.Add(1)
			w.log.Warn("outbound: previous attempt was interrupted; this delivery may duplicate it", "id", o.ID, "rcpt", o.Rcpt, "message_id", o.MessageID)
		}
	}
	if relay {
		// Record the attempts as started, in one write: a crash between
		// the relay's acceptance and the results below is then detected
		// and logged as a possible duplicate (SPEC 11).
		err := w.db.Update(func(tx *store.Tx) error {
			for _, o := range ready {
				x := *o
				x.Started = now
				if err := tx.PutOutbound(&x, o.NextAttempt); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			w.log.Error("outbound: recording attempts", "err", err)
			return 0, now.Add(time.Second)
		}
	}
	par := min(max(w.Parallel, 1), len(ready))
	var wg sync.WaitGroup
	for g := 0; g < par; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var conn *relayConn
			defer func() {
				if conn != nil {
					conn.close()
				}
			}()
			// Results are recorded every few mails (the writes of the
			// connections share commits): a crash then repeats at most
			// that many deliveries, each logged (SPEC 11).
			var done []*store.Outbound
			var errs []error
			for i := g; i < len(ready); i += par {
				done = append(done, ready[i])
				errs = append(errs, w.attempt(cfg, ready[i], relay, &conn))
				if len(done) == recordEvery {
					w.record(cfg, done, errs, relay)
					done, errs = done[:0], errs[:0]
				}
			}
			if len(done) > 0 {
				w.record(cfg, done, errs, relay)
			}
		}(g)
	}
	wg.Wait()
	return len(ready), time.Time{}
}

// busyBatch is the size of a round that runs while mail keeps coming in.
const busyBatch = 16

// recordEvery is how many deliveries a connection makes before their
// results are written.
const recordEvery = 8

// permanentError is a refusal that retrying will not change.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// attempt renders, signs and sends one mail; *conn is the round's relay
// connection, opened on first use and reused.
func (w *Worker) attempt(cfg *config.Config, o *store.Outbound, relay bool, conn **relayConn) error {
	if staffKinds[o.Kind] && cfg.Agent(o.Rcpt) == nil {
		// Removed from the staff since it was queued: a removed staff
		// member receives nothing from then on (SPEC 1).
		return permanentError{fmt.Errorf("%s is no longer staff; not sent", o.Rcpt)}
	}
	o, err := w.recoverAttachments(o)
	if err != nil {
		return err
	}
	data, err := Render(o, w.openRaw, w.commentText, w.now())
	if err == nil && w.signer != nil {
		var signed bytes.Buffer
		if err = w.signer.Sign(&signed, bytes.NewReader(data)); err == nil {
			data = signed.Bytes()
		}
	}
	if err != nil {
		return err
	}
	if !relay {
		return w.writeOutbox(cfg, o, data)
	}
	if *conn != nil && !(*conn).reset() {
		(*conn).close()
		*conn = nil
	}
	if *conn == nil {
		c, err := openRelay(cfg)
		if err != nil {
			return err
		}
		*conn = c
	}
	err = (*conn).send(o, data)
	if err != nil && !isSMTPReply(err) {
		// The connection is in an unknown state: do not reuse it.
		(*conn).close()
		*conn = nil
	}
	return err
}

// record stores the results of a round in one write: sent, retried with
// backoff, or given up.
func (w *Worker) record(cfg *config.Config, items []*store.Outbound, errs []error, relay bool) {
	now := w.now()
	type outcome struct {
		giveUp  bool
		backoff time.Duration
	}
	outs := make([]outcome, len(items))
	for i, o := range items {
		err := errs[i]
		if err == nil {
			w.Metrics.Sent.Add(1)
			w.log.Info("outbound sent", "id", o.ID, "kind", o.Kind, "ticket", o.Ticket, "rcpt", o.Rcpt, "relay", relay)
			continue
		}
		var perm permanentError
		giveUp := errors.As(err, &perm) || now.Sub(o.Created) > cfg.Outbound.GiveUpAfter.D()
		backoff := cfg.Outbound.RetryInitial.D() << min(o.Attempts, 20)
		if max := cfg.Outbound.RetryMax.D(); backoff > max || backoff <= 0 {
			backoff = max
		}
		outs[i] = outcome{giveUp, backoff}
		if giveUp {
			w.Metrics.Failed.Add(1)
			w.log.Error("outbound failed permanently", "id", o.ID, "rcpt", o.Rcpt, "err", err)
		} else {
			w.Metrics.Retried.Add(1)
			w.log.Warn("outbound attempt failed; will retry", "id", o.ID, "rcpt", o.Rcpt, "err", err, "retry_in", backoff)
		}
	}
	err := w.db.Update(func(tx *store.Tx) error {
		for i, o := range items {
			// The round holds these items: nobody else changes them, so
			// the snapshot is current (no need to read them back).
			x := *o
			prev := x.NextAttempt
			x.Attempts++
			x.Started = time.Time{}
			if errs[i] == nil {
				x.State, x.Done, x.LastError = store.OutSent, now, ""
			} else {
				x.LastError = errs[i].Error()
				if outs[i].giveUp {
					x.State, x.Done = store.OutFailed, now
				} else {
					x.NextAttempt = now.Add(outs[i].backoff)
				}
			}
			if err := tx.PutOutbound(&x, prev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The mails went out; not recording it means they go out again
		// (at least once, SPEC 11), flagged by Started as duplicates.
		w.log.Error("outbound: recording results (mails may be sent again)", "count", len(items), "err", err)
	}
}

func (w *Worker) commentText(ticket uint64, id uint32) (string, error) {
	var text string
	err := w.db.View(func(tx *store.Tx) error {
		c, err := tx.Comment(ticket, id)
		if err == nil {
			text = c.Text
		}
		return err
	})
	return text, err
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
	fmt.Fprintf(tmp, "X-Envelope-From: <%s>\r\nX-Envelope-To: <%s>\r\n", threading.EnvelopePath(o.MailFrom), threading.EnvelopePath(o.Rcpt))
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

// relayConn is one SMTP connection to the relay, authenticated.
type relayConn struct{ c *smtp.Client }

func openRelay(cfg *config.Config) (*relayConn, error) {
	oc := cfg.Outbound
	c, err := dialRelay(cfg)
	if err != nil {
		return nil, err
	}
	if oc.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", oc.Username, oc.Password)); err != nil {
			c.Close()
			return nil, classify(fmt.Errorf("AUTH: %w", err))
		}
	}
	return &relayConn{c: c}, nil
}

// reset readies a used connection for the next mail (RSET).
func (r *relayConn) reset() bool { return r.c.Reset() == nil }

func (r *relayConn) close() {
	r.c.Quit()
	r.c.Close()
}

// send delivers one mail on the connection.
func (r *relayConn) send(o *store.Outbound, data []byte) error {
	c := r.c
	// The queue holds addresses as net/mail reads them (local part
	// unquoted); on the wire a local part that needs it is quoted.
	if err := c.Mail(threading.EnvelopePath(o.MailFrom), nil); err != nil {
		return classify(fmt.Errorf("MAIL FROM: %w", err))
	}
	if err := c.Rcpt(threading.EnvelopePath(o.Rcpt), nil); err != nil {
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
	return nil
}

// isSMTPReply reports an error that is the relay's answer (the session
// is still in step), not a broken connection.
func isSMTPReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
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
		// Opportunistic: the relay offers no STARTTLS. A password never
		// goes out in the clear, except to a relay on this machine: a man
		// in the middle could have stripped the STARTTLS offer.
		if oc.Username != "" && !loopbackHost(host) {
			return nil, fmt.Errorf("relay %s offers no STARTTLS; not sending the password in the clear (set starttls = \"none\" only for a relay on a trusted network)", oc.Relay)
		}
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

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// classify marks 5xx answers as permanent.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return permanentError{err}
	}
	return err
}
