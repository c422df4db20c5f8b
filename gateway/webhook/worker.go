package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/lograte"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Metrics are the worker's counters for /metrics.
type Metrics struct {
	Delivered atomic.Int64 // deliveries a receiver answered 2xx
	Retried   atomic.Int64 // failed attempts that will be retried
	Failed    atomic.Int64 // deliveries given up on
}

// Worker delivers queued webhook deliveries: each in its own goroutine
// (at most Parallel at once), so a hanging receiver holds one slot for its
// timeout and nothing else. One webhook holds at most PerWebhook slots,
// and a failing one (its last attempt timed out or was refused) a single
// probe while its other deliveries wait for its retry: receivers that
// answer keep their slots while another hangs, as a mail queue keeps
// delivering to other destinations while one is down.
type Worker struct {
	db      store.Store
	cfg     func() *config.Config
	log     *slog.Logger
	Metrics Metrics
	// Poll is how often the queue is looked at; the store's read
	// transactions do not block its writer.
	Poll time.Duration
	// Parallel bounds the attempts under way; PerWebhook those of one
	// webhook.
	Parallel, PerWebhook int

	mu       sync.Mutex
	inflight map[uint64]bool
	hooks    map[string]*hookState
	wg       sync.WaitGroup

	// logs keeps a store that fails on every poll (PostgreSQL down) from
	// writing a line per poll: one line, a summary per interval, and one
	// when it answers again.
	logs *lograte.Limiter
}

// logInterval bounds how often one store failure is logged.
const logInterval = 10 * time.Second

// hookState is what the worker knows of one webhook's receiver (in
// memory: a restart tries every receiver afresh).
type hookState struct {
	inflight int
	// failing: the last attempt ended in a retryable failure, lastErr;
	// until then (its retry) the webhook's other deliveries wait.
	failing bool
	until   time.Time
	lastErr string
}

// New makes a worker over db; cfg returns the configuration in force.
func New(db store.Store, cfg func() *config.Config, log *slog.Logger) *Worker {
	return &Worker{db: db, cfg: cfg, log: log, Poll: 200 * time.Millisecond, Parallel: 16, PerWebhook: 8,
		inflight: map[uint64]bool{}, hooks: map[string]*hookState{}, logs: lograte.New(logInterval)}
}

func (w *Worker) hook(name string) *hookState {
	st := w.hooks[name]
	if st == nil {
		st = &hookState{}
		w.hooks[name] = st
	}
	return st
}

// Run delivers until ctx ends, then waits for the attempts under way
// (each bounded by its webhook's timeout).
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	defer w.wg.Wait()
	for {
		w.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round starts an attempt for every due delivery not under way that its
// webhook's bound allows, and moves the due deliveries of failing
// webhooks to their retry.
func (w *Worker) round(ctx context.Context) {
	w.mu.Lock()
	full := len(w.inflight) >= w.Parallel
	w.mu.Unlock()
	if full {
		// Nothing could start: spare the read and decoding of the due
		// deliveries (with receivers hanging, every round until one of
		// them times out).
		return
	}
	now := time.Now()
	var due []*model.WebhookDelivery
	if err := w.db.View(func(tx store.Tx) error {
		var err error
		due, err = tx.DueWebhooks(now, 4*w.Parallel)
		return err
	}); err != nil {
		w.logs.Log(w.log, slog.LevelError, "read", "reading the webhook queue", "err", err)
		return
	}
	w.logs.Ok(w.log, "read", "reading the webhook queue works again")
	cfg := w.cfg()
	var wait []waiting
	for _, d := range due {
		w.mu.Lock()
		st := w.hook(d.Webhook)
		switch {
		case w.inflight[d.ID]:
			w.mu.Unlock()
			continue
		case st.failing && (st.inflight > 0 || now.Before(st.until)):
			// Its probe is under way or its retry not yet due: the
			// delivery waits for the retry (or, while the probe runs,
			// for as long as the probe can take), out of the due
			// deliveries the next rounds read.
			until := st.until
			if st.inflight > 0 {
				until = now.Add(attemptTimeout(cfg, d.Webhook))
			}
			wait = append(wait, waiting{d, until, st.lastErr})
			w.mu.Unlock()
			continue
		case st.inflight >= max(w.PerWebhook, 1) || st.failing && st.inflight > 0 || len(w.inflight) >= w.Parallel:
			w.mu.Unlock()
			continue
		}
		w.inflight[d.ID] = true
		st.inflight++
		w.mu.Unlock()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.attempt(ctx, d, st)
		}()
	}
	if len(wait) > 0 {
		w.postpone(cfg, now, wait)
	}
}

// waiting is a due delivery of a failing webhook, to be tried at until.
type waiting struct {
	d       *model.WebhookDelivery
	until   time.Time
	lastErr string
}

// attemptTimeout is the timeout of the named webhook's attempts.
func attemptTimeout(cfg *config.Config, name string) time.Duration {
	if wh := cfg.WebhookNamed(name); wh != nil {
		return wh.AttemptTimeout()
	}
	return config.DefaultWebhookTimeout
}

// postpone moves waiting deliveries to their webhook's retry, without
// counting an attempt, or gives them up once give_up_after has passed
// since they were queued (as a failed attempt would).
func (w *Worker) postpone(cfg *config.Config, now time.Time, wait []waiting) {
	gaveUp := 0
	err := w.db.Update(func(tx store.Tx) error {
		gaveUp = 0
		for _, x := range wait {
			d, err := tx.WebhookDelivery(x.d.ID)
			if err != nil || d.State != model.HookQueued || !d.NextAttempt.Equal(x.d.NextAttempt) {
				continue // gone (an erase), or changed since it was read
			}
			prev := d.NextAttempt
			if now.Sub(d.Created) >= cfg.Outbound.GiveUpAfter.D() {
				d.State, d.Done = model.HookFailed, now
				d.LastError = fmt.Sprintf("given up: webhook %q kept failing: %s", d.Webhook, x.lastErr)
				gaveUp++
			} else {
				d.NextAttempt = x.until
				d.LastError = fmt.Sprintf("not attempted: webhook %q is failing (%s); waits for its retry", d.Webhook, x.lastErr)
			}
			if err := tx.PutWebhook(d, prev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.logs.Log(w.log, slog.LevelError, "postpone", "postponing the deliveries of failing webhooks", "err", err)
		return
	}
	w.Metrics.Failed.Add(int64(gaveUp))
}

// permanent is a failure retrying cannot change (a refused destination,
// a redirect, a webhook no longer configured).
type permanent struct{ error }

// attempt POSTs one delivery, records the outcome and what it tells of
// the webhook's receiver.
func (w *Worker) attempt(ctx context.Context, d *model.WebhookDelivery, st *hookState) {
	cfg := w.cfg()
	prevDue := d.NextAttempt
	err := w.post(ctx, cfg, d)
	if ctx.Err() != nil && err != nil {
		w.done(d, st, nil)
		return // shutting down: the delivery stays due, and is sent after the restart
	}
	now := time.Now()
	d.Attempts++
	var perm permanent
	defer func() { w.done(d, st, err) }()
	switch {
	case err == nil:
		d.State, d.Done, d.LastError = model.HookDelivered, now, ""
		w.Metrics.Delivered.Add(1)
		w.log.Info("webhook delivered", "id", d.ID, "webhook", d.Webhook, "ticket", d.Ticket, "attempts", d.Attempts)
	case errors.As(err, &perm) || now.Sub(d.Created) >= cfg.Outbound.GiveUpAfter.D():
		d.State, d.Done, d.LastError = model.HookFailed, now, err.Error()
		w.Metrics.Failed.Add(1)
		w.log.Warn("webhook given up", "id", d.ID, "webhook", d.Webhook, "ticket", d.Ticket, "attempts", d.Attempts, "err", err)
	default:
		backoff := min(cfg.Outbound.RetryInitial.D()<<min(d.Attempts-1, 20), cfg.Outbound.RetryMax.D())
		d.NextAttempt, d.LastError = now.Add(backoff), err.Error()
		w.Metrics.Retried.Add(1)
		w.log.Warn("webhook attempt failed; will retry", "id", d.ID, "webhook", d.Webhook, "err", err, "retry_in", backoff)
	}
	if err := w.db.Update(func(tx store.Tx) error { return tx.PutWebhook(d, prevDue) }); err != nil {
		// The delivery stays due as it was: it is attempted again (at
		// least once; the receiver deduplicates by X-Helpdesk-Delivery).
		w.log.Error("recording a webhook attempt", "id", d.ID, "err", err)
	}
}

// done ends an attempt: its slot is free, and a retryable failure makes
// the webhook failing until the delivery's retry, a success healthy.
// (Recorded after the attempt's write, so a round that sees the webhook
// healthy again reads the delivery as it now is.)
func (w *Worker) done(d *model.WebhookDelivery, st *hookState, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, d.ID)
	st.inflight--
	var perm permanent
	switch {
	case err == nil && d.State == model.HookDelivered:
		st.failing, st.until, st.lastErr = false, time.Time{}, ""
	case err != nil && !errors.As(err, &perm) && d.State == model.HookQueued:
		st.failing, st.until, st.lastErr = true, d.NextAttempt, err.Error()
	}
}

// post makes one attempt.
func (w *Worker) post(ctx context.Context, cfg *config.Config, d *model.WebhookDelivery) error {
	wh := cfg.WebhookNamed(d.Webhook)
	if wh == nil {
		return permanent{fmt.Errorf("no [[webhook]] is named %q any more", d.Webhook)}
	}
	ctx, cancel := context.WithTimeout(ctx, wh.AttemptTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(d.Body))
	if err != nil {
		return permanent{fmt.Errorf("building the request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "helpdesk-webhook")
	req.Header.Set("X-Helpdesk-Delivery", strconv.FormatUint(d.ID, 10))
	if wh.Secret != "" {
		req.Header.Set("X-Helpdesk-Signature", Sign(wh.Secret, d.Body))
	}
	resp, err := client(wh.AllowPrivate).Do(req)
	if err != nil {
		var ref *refusedError
		if errors.As(err, &ref) {
			return permanent{ref}
		}
		return fmt.Errorf("POST %s: %w", wh.URL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return permanent{fmt.Errorf("HTTP %d redirect to %q not followed: set url to the final address", resp.StatusCode, resp.Header.Get("Location"))}
	}
	return fmt.Errorf("HTTP %d from %s", resp.StatusCode, wh.URL)
}

// Sign is the X-Helpdesk-Signature value of body: sha256=<hex HMAC-SHA256>.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// refusedError is a destination refused by policy.
type refusedError struct{ addr netip.Addr }

func (e *refusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: a private, loopback or link-local address (set allow_private = true on the webhook to allow it)", e.addr)
}

var clients [2]*http.Client

func init() {
	for i := range clients {
		allow := i == 1
		d := &net.Dialer{Timeout: 30 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
			// Called with the address actually connected to, after DNS:
			// a name that resolves to a private address is refused
			// just as a literal one is.
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: unexpected dial address %q: %w", address, err)
			}
			if !allow && Private(ap.Addr()) {
				return &refusedError{ap.Addr().Unmap()}
			}
			return nil
		}}
		clients[i] = &http.Client{
			Transport: &http.Transport{
				// No proxy from the environment: the check above must see
				// the receiver's address.
				Proxy:               nil,
				DialContext:         d.DialContext,
				ForceAttemptHTTP2:   true,
				TLSHandshakeTimeout: 10 * time.Second,
				MaxIdleConnsPerHost: 2,
				IdleConnTimeout:     90 * time.Second,
			},
			// Redirects are not followed: a receiver could send us to an
			// address the policy refuses, or leak the signed body.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
}

func client(allowPrivate bool) *http.Client {
	if allowPrivate {
		return clients[1]
	}
	return clients[0]
}

// cgnat is the shared address space (RFC 6598), private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Private reports whether a webhook may not connect to a without
// allow_private: loopback, private (RFC 1918, fc00::/7), link-local,
// unspecified, multicast and shared (CGNAT) addresses.
func Private(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}
