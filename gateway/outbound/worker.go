package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/gateway/auth"
	"helpdesk/gateway/lograte"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// Worker delivers queued mail.
type Worker struct {
	// settingsGen counts RetryWaiting calls: a round that started before
	// one schedules its failed mail for now, not after a backoff (its
	// attempts used the settings that were just fixed).
	settingsGen atomic.Int64

	db     store.Store
	cfg    func() *config.Config
	log    *slog.Logger
	signer *auth.Signer
	now    func() time.Time
	wake   chan struct{}

	// Parallel is how many mails are delivered at once (default 4): the
	// number of relay connections.
	Parallel int
	// Busy, when set, reports that mail is coming in. A round then waits
	// for a pause of up to YieldMax, unless the oldest queued mail has
	// waited YieldAge already: the 250 to senders goes first, outbound
	// mail lags by seconds at most during a burst.
	Busy     func() bool
	YieldMax time.Duration
	YieldAge time.Duration
	// Holder names this worker in the queue's leases (default: the host
	// name): a worker starting again releases what the same name held
	// when it died. Workers sharing a store need names of their own.
	Holder string
	// Lease is how long a claimed item stays this worker's without being
	// renewed (default 10 minutes; renewed every third of it while its
	// delivery is under way): another worker takes it over only after
	// that.
	Lease time.Duration
	// Gather is how long the worker waits after being woken, so mail
	// enqueued by a stream of commits goes out in one round with one
	// store write for its results (default 50ms). Outbound latency, not
	// ingest, pays for it: the 250 never waits for the worker.
	Gather time.Duration

	// round serializes taking items from the queue (drain rounds,
	// Requeue) in this process; across workers and processes, the queue's
	// leases keep two rounds from attempting the same item, and an item's
	// record stays what its round read until the round records results.
	round sync.Mutex
	// inflight are the items taken by a round and not yet recorded. A
	// round returns once every item is taken by a connection, so one
	// hung delivery holds only its own item and connection slot, not
	// the queue.
	inflight map[uint64]bool
	inflMu   sync.Mutex
	// handed are the items the store queued claimed by this worker and
	// handed over once their write committed (store.Handoff), not yet
	// taken by a round; unsure those whose write's outcome was unknown,
	// read back before they are taken. lastLook is when a round last
	// looked for claimable items or, handed ones waiting, claimed.
	handMu   sync.Mutex
	handed   []*model.Outbound
	unsure   []*model.Outbound
	lastLook time.Time
	// slots bounds the connections open at once to Parallel.
	slots  chan struct{}
	active sync.WaitGroup // rounds with deliveries under way

	relayMu sync.Mutex
	relay   RelayStatus

	// logs keeps a store that fails on every round (PostgreSQL down) from
	// writing a line per round: one line, a summary per interval, and one
	// when the queue answers again.
	logs *lograte.Limiter

	Metrics Metrics
}

// logInterval bounds how often one store failure is logged.
const logInterval = 10 * time.Second

// Metrics are delivery counters.
type Metrics struct {
	Sent       atomic.Int64
	Retried    atomic.Int64
	Failed     atomic.Int64
	Duplicates atomic.Int64
}

// RelayStatus is what the worker knows about the relay: shown by
// `helpdesk outbox` and /healthz.
type RelayStatus struct {
	// Relay is host:port ("" with no relay: mail goes to .eml files).
	Relay string `json:"relay"`
	// State is "unknown" (nothing tried since start), "ok" or "failing":
	// the relay could not be used (connection, TLS, AUTH, a timeout),
	// whatever mail was tried. Failing mail stays queued and is retried.
	State string `json:"state"`
	// Since is when the state began.
	Since time.Time `json:"since,omitzero"`
	// LastError is the newest relay failure, LastErrorAt its time, Hint
	// what usually cures it.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Hint        string    `json:"hint,omitempty"`
	// Failures counts relay failures since the last success.
	Failures int `json:"failures,omitempty"`

	kind string // of LastError: a new kind is logged, a repeat not
}

// New creates a worker. signer may be nil (no DKIM signing).
func New(db store.Store, cfg func() *config.Config, log *slog.Logger, signer *auth.Signer) *Worker {
	holder, _ := os.Hostname()
	if holder == "" {
		holder = "helpdesk"
	}
	return &Worker{db: db, cfg: cfg, log: log, signer: signer, now: time.Now, wake: make(chan struct{}, 1), Parallel: 4,
		Holder: holder, Lease: 10 * time.Minute,
		Gather: 50 * time.Millisecond, YieldMax: time.Second, YieldAge: 10 * time.Second,
		inflight: map[uint64]bool{}, relay: RelayStatus{State: "unknown"}, logs: lograte.New(logInterval)}
}

// Wake makes the worker look at the queue now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run drains the queue until ctx ends; deliveries under way are
// finished (each relay command waits at most command_timeout).
func (w *Worker) Run(ctx context.Context) {
	defer w.active.Wait()
	// What this worker held when it last stopped (a crash, a kill) goes
	// out now rather than when those leases run out; Started still marks
	// the attempts that may have reached the relay.
	var released int
	err := w.db.Update(func(tx store.Tx) (err error) {
		released, err = tx.ReleaseLeases(w.Holder)
		return err
	})
	if err != nil {
		w.log.Error("outbound: releasing the leases of an earlier run", "err", err)
	} else if released > 0 {
		w.log.Info("outbound: released the leases of an earlier run", "count", released, "holder", w.Holder)
	}
	// From now on (not before the release above, which would end their
	// leases) mail queued by this process is born claimed by this worker
	// and handed to it in memory: no claim per round for it.
	if stop := w.handOff(); stop != nil {
		defer w.returnHanded()
		defer stop()
	}
	for {
		n, next := w.drain(true)
		if ctx.Err() != nil {
			// Shutting down: the rest stays queued (durably) for the
			// next start; only the rounds under way are finished.
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
		w.active.Wait()
		total += n
		if n == 0 {
			return total
		}
	}
}

// handOff makes the store queue this process's mail claimed by this
// worker and hand it over (store.Handoff); stop ends that. nil when the
// store does not, or hands to another worker already.
func (w *Worker) handOff() (stop func()) {
	hs, ok := w.db.(store.HandsOff)
	if !ok {
		return nil
	}
	w.handMu.Lock()
	w.lastLook = w.now()
	w.handMu.Unlock()
	return hs.SetHandoff(&store.Handoff{Holder: w.Holder, Lease: w.Lease, Hand: w.hand, Take: w.take})
}

// maxHanded bounds the handed items waiting for a round (a few KB each):
// in a burst the worker yields to ingest, and mail queued beyond them is
// queued unclaimed, to be claimed by a round as before.
const maxHanded = 2048

// take says whether mail being queued is born claimed by this worker,
// and whether its attempt is recorded as started (store.Handoff.Take).
func (w *Worker) take() (claim, start bool) {
	w.handMu.Lock()
	n := len(w.handed) + len(w.unsure)
	w.handMu.Unlock()
	return n < maxHanded, w.cfg().Outbound.Relay != ""
}

// hand takes the items a write queued claimed by this worker
// (store.Handoff.Hand).
func (w *Worker) hand(items []*model.Outbound, committed bool) {
	w.handMu.Lock()
	if committed {
		w.handed = append(w.handed, items...)
	} else {
		w.unsure = append(w.unsure, items...)
	}
	w.handMu.Unlock()
	w.Wake()
}

// confirmUnsure reads back the items handed with an unknown outcome of
// their write: those stored as they were handed (queued, under the same
// lease; an id of a write that did not commit may have been taken again
// by another item) join the handed ones, the others are forgotten.
func (w *Worker) confirmUnsure() {
	w.handMu.Lock()
	unsure := w.unsure
	w.unsure = nil
	w.handMu.Unlock()
	if len(unsure) == 0 {
		return
	}
	var found []*model.Outbound
	err := w.db.View(func(tx store.Tx) error {
		found = found[:0]
		for _, o := range unsure {
			got, err := tx.Outbound(o.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if got.State == model.OutQueued && got.LeaseHolder == o.LeaseHolder && got.LeaseUntil.Equal(o.LeaseUntil) &&
				got.MessageID == o.MessageID && got.NextAttempt.Equal(o.NextAttempt) {
				found = append(found, o)
			}
		}
		return nil
	})
	w.handMu.Lock()
	defer w.handMu.Unlock()
	if err != nil {
		// Not readable now (the database restarting): again next round;
		// once their lease has run out they are claimed as usual.
		w.unsure = append(unsure, w.unsure...)
		w.logs.Log(w.log, slog.LevelWarn, "read", "outbound: reading back mail whose write's outcome was unknown", "count", len(unsure), "err", err)
		return
	}
	w.handed = append(w.handed, found...)
}

// takeHanded takes up to limit handed items, oldest first. An item whose
// lease has less than half of it left is left to be claimed when it runs
// out: a round renews its leases only after a third of one.
func (w *Worker) takeHanded(now time.Time, limit int) []*model.Outbound {
	w.handMu.Lock()
	defer w.handMu.Unlock()
	var out []*model.Outbound
	i := 0
	for ; i < len(w.handed) && len(out) < limit; i++ {
		if o := w.handed[i]; o.LeaseUntil.Sub(now) >= w.Lease/2 {
			out = append(out, o)
		}
	}
	w.handed = slices.Delete(w.handed, 0, i)
	return out
}

// returnHanded ends the leases of handed items no round took (the worker
// is stopping): other workers claim them at once, not when the leases
// run out. Their attempts did not start.
func (w *Worker) returnHanded() {
	w.handMu.Lock()
	items := w.handed
	w.handed = nil
	w.handMu.Unlock()
	if len(items) == 0 {
		return
	}
	hints := &store.Hints{Outbound: make([]uint64, len(items))}
	for i, o := range items {
		hints.Outbound[i] = o.ID
	}
	err := w.update(hints, func(tx store.Tx) error {
		for _, o := range items {
			x := *o
			x.Started = time.Time{}
			if err := tx.Settle(w.Holder, &x, o.NextAttempt); err != nil && !errors.Is(err, store.ErrLeaseLost) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.log.Warn("outbound: ending the leases of mail not taken before stopping (they run out instead)", "count", len(items), "err", err)
	}
}

// staffKinds are the queued mails that only ever go to staff.
var staffKinds = map[string]bool{"notification": true, "transcript": true, "notice": true}

// batchMax is how many queue items one drain round takes: their state
// changes are recorded in one store write before and a few after delivery.
const batchMax = 128

func (w *Worker) drainOnce() (int, time.Time) {
	return w.drain(false)
}

// drain takes a round of due items and hands them to the relay
// connections; it returns when every item is taken (not delivered), with
// the number taken, or, when none was due, when the next one is.
func (w *Worker) drain(yield bool) (int, time.Time) {
	w.round.Lock()
	defer w.round.Unlock()
	w.confirmUnsure()
	now := w.now()
	// Mail this process queued is handed over claimed already (see
	// Run); the rest (retries, mail another process queued or whose
	// worker died) is claimed from the queue.
	w.handMu.Lock()
	handed := len(w.handed)
	var oldest time.Time
	if handed > 0 {
		oldest = w.handed[0].NextAttempt
	}
	// While handed mail keeps coming, the rest (retries, mail other
	// processes queued or left) is claimed once a second, without a look
	// first: the look reads due items in due order, leased or not, and
	// the handed ones (thousands in a burst) came first, each a record
	// decoded (8% of the daemon's CPU in a bench burst). The claim skips
	// leased items in the store.
	look := handed == 0
	claimable := handed > 0 && now.Sub(w.lastLook) >= time.Second
	if look || claimable {
		w.lastLook = now
	}
	w.handMu.Unlock()
	// A look first: claiming is a write, and most rounds find nothing
	// due. Items under a lease (this worker's deliveries under way, or
	// another's) are due but not claimable.
	w.inflMu.Lock()
	busy := len(w.inflight)
	w.inflMu.Unlock()
	var next time.Time
	if look {
		err := w.db.View(func(tx store.Tx) error {
			// Each item read is a record decoded, and the look needs only
			// the first claimable one. At most busy of the due items are
			// under this worker's leases, so one of the first busy+1 is
			// claimable unless other workers hold leases too; only then is
			// the whole window read. (Reading the whole window every round
			// decoded 128 records or more to claim 16 while ingest was busy.)
			due, err := tx.Due(now, busy+1)
			if err == nil && len(due) == busy+1 && !anyClaimable(due, now) {
				due, err = tx.Due(now, batchMax+busy)
			}
			for _, o := range due {
				if !o.LeaseUntil.After(now) {
					claimable = true
					if oldest.IsZero() || o.NextAttempt.Before(oldest) {
						oldest = o.NextAttempt
					}
					break
				}
			}
			if !claimable {
				next = tx.NextDue()
				if len(due) > 0 && next.Before(now.Add(time.Second)) {
					// Only mail under way is due: look again soon (its
					// round wakes the worker when it records results).
					next = now.Add(time.Second)
				}
			}
			return err
		})
		if err != nil {
			w.logs.Log(w.log, slog.LevelError, "read", "reading outbound queue", "err", err)
			if handed == 0 {
				return 0, now.Add(5 * time.Second)
			}
			claimable = false
		} else {
			w.logs.Ok(w.log, "read", "reading outbound queue works again")
		}
	}
	if !claimable && handed == 0 {
		return 0, next
	}
	limit := batchMax
	if yield && w.Busy != nil && now.Sub(oldest) < w.YieldAge {
		// Ingest first (the items are oldest-due first).
		for end := time.Now().Add(w.YieldMax); w.Busy() && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		if w.Busy() {
			// Still no pause: a small round, so progress does not
			// stall ingest for long.
			limit = busyBatch
		}
	}
	cfg := w.cfg()
	gen := w.settingsGen.Load()
	relay := cfg.Outbound.Relay != ""
	var ready []*model.Outbound
	if claimable {
		// Claim the round's other items: leased to this worker, so no
		// other round or worker takes them until they are settled
		// (record) or the lease runs out. With a relay, the attempts
		// are recorded as started in the same write: a crash between
		// the relay's acceptance and the results is then detected and
		// logged as a possible duplicate (SPEC 11).
		var claimed []*model.Outbound
		err := w.db.Update(func(tx store.Tx) error {
			n := limit
			if handed > 0 {
				n = max(limit/2, 1) // the rest of the round for handed mail
			}
			got, err := tx.Claim(w.Holder, now, n, w.Lease, relay)
			if err != nil {
				return fmt.Errorf("claim outbox items: %w", err)
			}
			claimed = claimed[:0] // the function may run again (group retry)
			w.inflMu.Lock()
			for _, o := range got {
				// Still being delivered by a round whose lease ran out:
				// that round settles it.
				if !w.inflight[o.ID] {
					claimed = append(claimed, o)
				}
			}
			w.inflMu.Unlock()
			return nil
		})
		if err != nil {
			w.logs.Log(w.log, slog.LevelError, "claim", "outbound: claiming mail to deliver", "err", err)
			claimed = nil
		} else {
			w.logs.Ok(w.log, "claim", "outbound: claiming mail to deliver works again")
		}
		for _, o := range claimed {
			if !o.Started.IsZero() {
				// Its worker stopped (a crash, a kill) after the mail was
				// claimed for an attempt, or queued claimed and handed
				// to it, and before recording an outcome: the attempt
				// may have started, and the relay may have the mail.
				w.Metrics.Duplicates.Add(1)
				w.log.Warn("outbound: an earlier delivery may have reached the relay before its worker stopped; this delivery may duplicate it",
					"id", o.ID, "rcpt", o.Rcpt, "message_id", o.MessageID, "started", o.Started)
			}
		}
		ready = claimed
	}
	ready = append(ready, w.takeHanded(w.now(), limit-len(ready))...)
	if len(ready) == 0 {
		return 0, now.Add(time.Second) // another worker was quicker
	}
	w.inflMu.Lock()
	for _, o := range ready {
		w.inflight[o.ID] = true
	}
	w.inflMu.Unlock()
	texts := w.includedTexts(ready)
	if w.slots == nil || cap(w.slots) != max(w.Parallel, 1) {
		w.slots = make(chan struct{}, max(w.Parallel, 1))
	}
	slots := w.slots
	par := min(max(w.Parallel, 1), len(ready))
	// Connections take the next item when they are free, so a hung
	// one holds only its own item. The first failure of the relay
	// itself stops the round: the rest is deferred, not tried again now.
	var (
		taken    atomic.Int64
		down     atomic.Pointer[relayError]
		allTaken = make(chan struct{})
		once     sync.Once
		pending  sync.WaitGroup
	)
	w.active.Add(1)
	pending.Add(par)
	roundDone := make(chan struct{})
	go func() {
		pending.Wait()
		close(roundDone)
		w.active.Done()
	}()
	go w.renewLeases(ready, roundDone)
	for g := 0; g < par; g++ {
		go func() {
			defer pending.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			var conn *relayConn
			defer func() {
				if conn != nil {
					conn.close()
				}
			}()
			// Results are recorded every few mails (the writes of the
			// connections share commits): a crash then repeats at most
			// that many deliveries, each logged (SPEC 11).
			var done []*model.Outbound
			var errs []error
			flush := func() {
				if len(done) > 0 {
					w.record(cfg, done, errs, relay, gen)
					done, errs = done[:0], errs[:0]
				}
			}
			defer flush()
			for {
				i := int(taken.Add(1)) - 1
				if i >= len(ready)-1 {
					once.Do(func() { close(allTaken) })
				}
				if i >= len(ready) {
					return
				}
				var err error
				if d := down.Load(); d != nil {
					err = deferredError{d}
				} else {
					err = w.attempt(cfg, ready[i], relay, &conn, texts)
					var re *relayError
					if errors.As(err, &re) {
						down.CompareAndSwap(nil, re)
						w.relayFailed(cfg, re)
					} else if relay && (err == nil || isSMTPReply(err)) {
						w.relayOK(cfg)
					}
				}
				done = append(done, ready[i])
				errs = append(errs, err)
				if len(done) == recordEvery {
					flush()
				}
			}
		}()
	}
	<-allTaken
	return len(ready), time.Time{}
}

// anyClaimable reports whether one of due is under no unexpired lease.
func anyClaimable(due []*model.Outbound, now time.Time) bool {
	for _, o := range due {
		if !o.LeaseUntil.After(now) {
			return true
		}
	}
	return false
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

// relayError is a failure of the relay itself rather than of one mail:
// connecting, TLS (certificates included), the greeting, EHLO, AUTH, a
// command that timed out, a broken connection, or an answer saying our
// credentials or security are not good enough (530, 534, 535, 538, 523,
// 5.7.0). A configuration fix or the relay coming back cures it, so it
// is always retried, never bounced, even as a 5xx (Postfix soft-bounces
// these too), and logged once per state rather than per mail.
type relayError struct {
	stage string // "connect", "STARTTLS", "EHLO", "AUTH", "MAIL FROM", ...
	err   error
}

func (r *relayError) Error() string { return r.stage + ": " + r.err.Error() }
func (r *relayError) Unwrap() error { return r.err }

// kind is the error without what changes between attempts (ports):
// a new kind is logged again, a repeated one not.
func (r *relayError) kind() string {
	var se *smtp.SMTPError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(r.err, &se):
		return fmt.Sprintf("%s: %d", r.stage, se.Code)
	case errors.As(r.err, &ne) && ne.Timeout():
		return r.stage + ": timeout"
	case errors.As(r.err, &oe) && oe.Err != nil:
		return r.stage + ": " + oe.Err.Error()
	}
	return r.Error()
}

// hint says what usually cures a relay failure.
func (r *relayError) hint() string {
	var se *smtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(r.err, &ne) && ne.Timeout():
		return "the relay did not answer within [outbound] command_timeout: check that relay points at a working SMTP server"
	case errors.As(r.err, &se) && (se.Code == 535 || se.Code == 534 || se.Code == 538 || r.stage == "AUTH"):
		return "the relay refused our login: check [outbound] username and password (and starttls: some relays want AUTH over TLS only)"
	case errors.As(r.err, &se) && (se.Code == 530 || se.Code == 523):
		return "the relay wants AUTH or TLS first: set [outbound] username/password or starttls = \"required\""
	case errors.As(r.err, new(x509.UnknownAuthorityError)):
		return "the relay's certificate is signed by a CA this machine does not trust: set [outbound] tls_ca_file to that CA's certificate (PEM)"
	case errors.As(r.err, new(x509.HostnameError)):
		return "the relay's certificate is not for the host name in [outbound] relay: use the name the certificate carries"
	case r.stage == "STARTTLS" || r.stage == "TLS":
		return "TLS with the relay failed: check [outbound] starttls, the relay's certificate, or tls_insecure_skip_verify for a test relay"
	case r.stage == "connect":
		return "could not connect: check [outbound] relay (host:port) and that the relay runs"
	}
	return "check the relay and the [outbound] settings"
}

// deferredError marks an item not tried because the relay failed
// earlier in the same round: it keeps its attempt count.
type deferredError struct{ relay *relayError }

func (d deferredError) Error() string { return "not tried: " + d.relay.Error() }
func (d deferredError) Unwrap() error { return d.relay }

// relayFailed records a relay failure; a new kind of failure is logged,
// repeats are counted only.
func (w *Worker) relayFailed(cfg *config.Config, re *relayError) {
	now := w.now()
	w.relayMu.Lock()
	st := &w.relay
	st.Relay = cfg.Outbound.Relay
	first := st.State != "failing"
	same := !first && st.kind == re.kind()
	if first {
		st.State, st.Since = "failing", now
	}
	st.LastError, st.LastErrorAt, st.Hint, st.kind = re.Error(), now, re.hint(), re.kind()
	st.Failures++
	w.relayMu.Unlock()
	if !same {
		w.log.Error("outbound: relay failing; mail stays queued and is retried with backoff", "relay", cfg.Outbound.Relay, "err", re.Error(), "fix", re.hint())
	}
}

// relayOK records that the relay took a command of ours.
func (w *Worker) relayOK(cfg *config.Config) {
	now := w.now()
	w.relayMu.Lock()
	st := &w.relay
	was, since, n := st.State, st.Since, st.Failures
	if was != "ok" {
		st.State, st.Since, st.Failures = "ok", now, 0
	}
	st.Relay = cfg.Outbound.Relay
	w.relayMu.Unlock()
	if was == "failing" {
		w.log.Info("outbound: relay works again", "relay", cfg.Outbound.Relay, "failing_for", now.Sub(since).Round(time.Second).String(), "failures", n)
	}
}

// Relay reports the relay's state.
func (w *Worker) Relay() RelayStatus {
	w.relayMu.Lock()
	defer w.relayMu.Unlock()
	st := w.relay
	st.Relay = w.cfg().Outbound.Relay
	return st
}

// relayBackoff is the delay for mail deferred by a failing relay.
func (w *Worker) relayBackoff(cfg *config.Config) time.Duration {
	w.relayMu.Lock()
	n := w.relay.Failures
	w.relayMu.Unlock()
	d := cfg.Outbound.RetryInitial.D() << min(max(n-1, 0), 20)
	if m := cfg.Outbound.RetryMax.D(); d > m || d <= 0 {
		d = m
	}
	return d
}

// attempt renders, signs and sends one mail; *conn is the connection,
// opened on first use and reused. texts are the comment texts the
// round read for its mails (includedTexts); a comment missing there is
// read from the store.
func (w *Worker) attempt(cfg *config.Config, o *model.Outbound, relay bool, conn **relayConn, texts map[model.CommentRef]string) error {
	if staffKinds[o.Kind] && w.cfg().Agent(o.Rcpt) == nil {
		// Removed from the staff since it was queued: a removed staff
		// member receives nothing from then on (SPEC 1). The staff list
		// in force now, not the one the round started with: a reload
		// during the round counts.
		return permanentError{fmt.Errorf("%s is no longer staff; not sent", o.Rcpt)}
	}
	// Each step's error names the step (render, sign, dial, send, or
	// writing the outbox), for the log and the item's last error; the
	// kinds of error (permanent, relay) are kept for errors.As.
	o, err := w.recoverAttachments(o)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	data, err := Render(o, w.openRaw, w.commentReader(texts), w.now())
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if w.signer != nil {
		var signed bytes.Buffer
		if err = w.signer.Sign(&signed, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("dkim sign: %w", err)
		}
		data = signed.Bytes()
	}
	if !relay {
		if err := w.writeOutbox(cfg, o, data); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
		return nil
	}
	if *conn == nil {
		c, err := openRelay(cfg)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		*conn = c
	}
	err = (*conn).send(o, data)
	var gone staleConn
	if errors.As(err, &gone) {
		// The relay closed a connection that had carried mail (an idle
		// timeout, a limit of mails per connection) before this mail's
		// MAIL FROM was taken: nothing of it reached the relay, so it
		// goes out on a new connection, once, as part of this attempt.
		(*conn).close()
		*conn = nil
		c, derr := openRelay(cfg)
		if derr != nil {
			return fmt.Errorf("dial: %w", derr)
		}
		*conn = c
		err = c.send(o, data)
	}
	if err != nil && !isSMTPReply(err) {
		// The connection is in an unknown state: do not reuse it.
		(*conn).close()
		*conn = nil
	}
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// record stores the results of a round in one write: sent, retried with
// backoff, deferred (the relay failed before the item was tried), or
// given up; the items leave the in-flight set.
func (w *Worker) record(cfg *config.Config, items []*model.Outbound, errs []error, relay bool, gen int64) {
	now := w.now()
	stale := w.settingsGen.Load() != gen // the settings changed during the round
	type outcome struct {
		giveUp, deferred bool
		backoff          time.Duration
	}
	outs := make([]outcome, len(items))
	for i, o := range items {
		err := errs[i]
		if err == nil {
			w.Metrics.Sent.Add(1)
			w.log.Info("outbound sent", "id", o.ID, "kind", o.Kind, "ticket", o.Ticket, "rcpt", o.Rcpt, "relay", relay)
			continue
		}
		var def deferredError
		if errors.As(err, &def) {
			outs[i] = outcome{deferred: true, backoff: w.relayBackoff(cfg)}
			if stale {
				outs[i].backoff = 0
			}
			continue
		}
		var perm permanentError
		var re *relayError
		isRelay := errors.As(err, &re)
		age := now.Sub(o.Created)
		if !o.Requeued.IsZero() {
			age = now.Sub(o.Requeued) // `helpdesk outbox retry` gave it a new lease
		}
		giveUp := (errors.As(err, &perm) && !isRelay) || age > cfg.Outbound.GiveUpAfter.D()
		backoff := cfg.Outbound.RetryInitial.D() << min(o.Attempts, 20)
		if max := cfg.Outbound.RetryMax.D(); backoff > max || backoff <= 0 {
			backoff = max
		}
		if stale && !giveUp {
			backoff = 0 // tried with the old settings: try the new ones now
		}
		outs[i] = outcome{giveUp: giveUp, backoff: backoff}
		switch {
		case giveUp:
			w.Metrics.Failed.Add(1)
			w.log.Error("outbound failed permanently", "id", o.ID, "rcpt", o.Rcpt, "err", err, "attempts", o.Attempts+1)
		case isRelay:
			// Logged once per relay state (relayFailed), not per mail.
			w.Metrics.Retried.Add(1)
		default:
			w.Metrics.Retried.Add(1)
			w.log.Warn("outbound attempt failed; will retry", "id", o.ID, "rcpt", o.Rcpt, "err", err, "retry_in", backoff)
		}
	}
	var lost []uint64
	record := func(tx store.Tx) error {
		lost = lost[:0] // the function may run again (group retry)
		for i, o := range items {
			// The round holds these items (leased): nobody else changes
			// them, so the snapshot is current (no need to read them back).
			x := *o
			prev := x.NextAttempt
			x.Started = time.Time{}
			switch {
			case errs[i] == nil:
				x.Attempts++
				x.State, x.Done, x.LastError = model.OutSent, now, ""
			case outs[i].deferred:
				x.LastError = errs[i].Error()
				x.NextAttempt = now.Add(outs[i].backoff)
			default:
				x.Attempts++
				x.LastError = errs[i].Error()
				if outs[i].giveUp {
					x.State, x.Done = model.OutFailed, now
				} else {
					x.NextAttempt = now.Add(outs[i].backoff)
				}
			}
			if err := tx.Settle(w.Holder, &x, prev); errors.Is(err, store.ErrLeaseLost) {
				// The lease ran out and another worker claimed the item:
				// its outcome is that worker's to record.
				lost = append(lost, x.ID)
			} else if err != nil {
				return fmt.Errorf("mark outbox item %d %s: %w", x.ID, x.State, err)
			}
		}
		// The items leave the in-flight set in this write, not after it:
		// a drain claiming between the two would find an item due again
		// (a retry without backoff) claimable but still in flight, skip
		// it, and leave it leased to nobody's round until the lease ran
		// out. Writes apply one at a time, so a claim sees both changes
		// or neither.
		w.inflMu.Lock()
		for _, o := range items {
			delete(w.inflight, o.ID)
		}
		w.inflMu.Unlock()
		return nil
	}
	// A store that fails for a moment (a database restarting) must not
	// leave delivered mail leased and unrecorded until the lease runs
	// out: the write is tried again for a while.
	hints := &store.Hints{Outbound: make([]uint64, len(items))}
	for i, o := range items {
		hints.Outbound[i] = o.ID
	}
	err := w.update(hints, record)
	for wait, deadline := 100*time.Millisecond, time.Now().Add(time.Minute); err != nil && !errors.Is(err, store.ErrClosed) && time.Now().Before(deadline); wait = min(2*wait, 2*time.Second) {
		time.Sleep(wait)
		err = w.update(hints, record)
	}
	if err != nil {
		// The mails went out; not recording it means they go out again
		// (at least once, SPEC 11), flagged by Started as duplicates.
		w.log.Error("outbound: recording results (mails may be sent again)", "count", len(items), "err", err)
	}
	if len(lost) > 0 {
		w.log.Warn("outbound: leases lost before the results were recorded (another worker delivers these again)", "ids", lost)
	}
	if err != nil {
		// Not recorded: the items stay leased to this worker until the
		// lease runs out, then are claimed and delivered again.
		w.inflMu.Lock()
		for _, o := range items {
			delete(w.inflight, o.ID)
		}
		w.inflMu.Unlock()
	}
	w.Wake()
}

// renewLeases extends the leases of a round's items still in flight,
// every third of a lease, until the round is done: a slow relay must not
// let another worker claim mail that is being delivered.
func (w *Worker) renewLeases(items []*model.Outbound, done <-chan struct{}) {
	t := time.NewTicker(max(w.Lease/3, time.Second))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		var ids []uint64
		w.inflMu.Lock()
		for _, o := range items {
			if w.inflight[o.ID] {
				ids = append(ids, o.ID)
			}
		}
		w.inflMu.Unlock()
		until := w.now().Add(w.Lease)
		err := w.update(&store.Hints{Outbound: ids}, func(tx store.Tx) error {
			for _, id := range ids {
				// Settled meanwhile (or lost): nothing to extend.
				if err := tx.Extend(w.Holder, id, until); err != nil && !errors.Is(err, store.ErrLeaseLost) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			w.log.Error("outbound: extending leases", "err", err)
		}
	}
}

// update is a store write naming the queue items it reads (Settle and
// Extend check the lease): an engine reading from a database server
// fetches them with the rest of the group in one round trip.
func (w *Worker) update(h *store.Hints, fn func(store.Tx) error) error {
	if hs, ok := w.db.(store.Hinted); ok {
		return hs.UpdateHinted(h, fn)
	}
	return w.db.Update(fn)
}

// includedTexts reads the texts of the comments items include, each
// once, in one read: a new ticket's acknowledgement and notifications
// include the same comment, and a read per mail was a transaction per
// mail (on PostgreSQL BEGIN, SELECT, ROLLBACK; its CommentTexts is one
// statement for the round). The texts are those of
// the round's claim, as the items themselves are (an erasure rewrites
// comments and queue items alike, and a round delivers the snapshots it
// claimed). A comment this read cannot give is read again by its own
// mail, whose record then carries the error.
func (w *Worker) includedTexts(items []*model.Outbound) map[model.CommentRef]string {
	var refs []model.CommentRef
	for _, o := range items {
		if o.Include != nil && !slices.Contains(refs, *o.Include) {
			refs = append(refs, *o.Include)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if ct, ok := w.db.(store.CommentTexter); ok {
		texts, err := ct.CommentTexts(refs)
		if err != nil {
			return nil
		}
		return texts
	}
	texts := make(map[model.CommentRef]string, len(refs))
	err := w.db.View(func(tx store.Tx) error {
		clear(texts)
		for _, r := range refs {
			if c, err := tx.Comment(r.Ticket, r.Comment); err == nil {
				texts[r] = c.Text
			}
		}
		return nil
	})
	if err != nil {
		return nil
	}
	return texts
}

// commentReader reads a comment's text from texts, or else the store.
func (w *Worker) commentReader(texts map[model.CommentRef]string) CommentText {
	if len(texts) == 0 {
		return w.commentText
	}
	return func(ticket uint64, id uint32) (string, error) {
		if t, ok := texts[model.CommentRef{Ticket: ticket, Comment: id}]; ok {
			return t, nil
		}
		return w.commentText(ticket, id)
	}
}

func (w *Worker) commentText(ticket uint64, id uint32) (string, error) {
	var text string
	err := w.db.View(func(tx store.Tx) error {
		c, err := tx.Comment(ticket, id)
		if err == nil {
			text = c.Text
		}
		return err
	})
	return text, err
}

func (w *Worker) openRaw(id uint64) (rc io.ReadCloser, err error) {
	var m *model.Message
	err = w.db.View(func(tx store.Tx) error {
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
func (w *Worker) writeOutbox(cfg *config.Config, o *model.Outbound, data []byte) error {
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
type relayConn struct {
	c       *smtp.Client
	conn    net.Conn
	timeout time.Duration
	// open: a transaction was begun (MAIL FROM sent) and did not end
	// with the relay's 250 to the end of DATA; the next mail sends RSET
	// first. After a completed transaction the relay is ready for the
	// next MAIL (RFC 5321 4.1.4): no RSET, and no EHLO again.
	open bool
	// sent counts the mails this connection delivered: a connection
	// that carried mail may have been closed by the relay since.
	sent int
}

// staleConn is the relay's end of a used connection (closed, or 421 to
// MAIL FROM, or RSET failing), seen before the mail's transaction began.
type staleConn struct{ err error }

func (s staleConn) Error() string { return s.err.Error() }
func (s staleConn) Unwrap() error { return s.err }

// openRelay connects, starts TLS when offered (or required) unless
// starttls = "none", says EHLO and authenticates. Every step waits at most
// [outbound] command_timeout; every failure is a relayError.
func openRelay(cfg *config.Config) (*relayConn, error) {
	oc := cfg.Outbound
	timeout := oc.CommandTimeout.D()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dial := func() (net.Conn, error) {
		conn, err := net.DialTimeout("tcp", oc.Relay, timeout)
		if err != nil {
			return nil, &relayError{"connect", fmt.Errorf("connecting to relay %s: %w", oc.Relay, err)}
		}
		return timeoutConn{Conn: conn, max: timeout}, nil
	}
	var c *smtp.Client
	var conn net.Conn
	if oc.StartTLS != "none" {
		var err error
		if conn, err = dial(); err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(oc.Relay)
		tc := &tls.Config{ServerName: host, InsecureSkipVerify: oc.TLSInsecureSkipVerify}
		if oc.TLSCAFile != "" {
			// Read for every connection: a CA file replaced on disk
			// applies without a reload, like a relay's renewed cert.
			if tc.RootCAs, err = config.LoadCAFile(oc.TLSCAFile); err != nil {
				conn.Close()
				return nil, &relayError{"TLS", fmt.Errorf("reading outbound.tls_ca_file %s: %w", oc.TLSCAFile, err)}
			}
		}
		c, err = smtp.NewClientStartTLS(conn, tc)
		if err != nil {
			if oc.StartTLS == "required" || !strings.Contains(err.Error(), "support STARTTLS") {
				return nil, &relayError{"STARTTLS", fmt.Errorf("with relay %s: %w", oc.Relay, err)}
			}
			// Opportunistic: the relay offers no STARTTLS. A password
			// never goes out in the clear, except to a relay on this
			// machine: a man in the middle could have stripped the offer.
			if oc.Username != "" && !loopbackHost(host) {
				return nil, &relayError{"STARTTLS", fmt.Errorf("relay %s offers no STARTTLS; not sending the password in the clear (set starttls = \"none\" only for a relay on a trusted network)", oc.Relay)}
			}
			c = nil
		}
	}
	if c == nil {
		var err error
		if conn, err = dial(); err != nil {
			return nil, err
		}
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = timeout
	c.SubmissionTimeout = timeout
	// After STARTTLS go-smtp greets again; our name goes with that EHLO.
	if err := c.Hello(cfg.Hostname); err != nil {
		c.Close()
		return nil, &relayError{"EHLO", err}
	}
	if oc.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", oc.Username, oc.Password)); err != nil {
			c.Close()
			return nil, &relayError{"AUTH", err}
		}
	}
	return &relayConn{c: c, conn: conn, timeout: timeout}, nil
}

// timeoutConn caps every deadline go-smtp sets (its own default is five
// minutes per command, greeting and STARTTLS included) at the command
// timeout.
type timeoutConn struct {
	net.Conn
	max time.Duration
}

func (t timeoutConn) cap(d time.Time) time.Time {
	if limit := time.Now().Add(t.max); !d.IsZero() && d.After(limit) {
		return limit
	}
	return d
}

func (t timeoutConn) SetDeadline(d time.Time) error      { return t.Conn.SetDeadline(t.cap(d)) }
func (t timeoutConn) SetReadDeadline(d time.Time) error  { return t.Conn.SetReadDeadline(t.cap(d)) }
func (t timeoutConn) SetWriteDeadline(d time.Time) error { return t.Conn.SetWriteDeadline(t.cap(d)) }

func (r *relayConn) close() {
	r.c.Quit()
	r.c.Close()
}

// send delivers one mail on the connection.
func (r *relayConn) send(o *model.Outbound, data []byte) error {
	c := r.c
	if r.open {
		// The previous mail's transaction did not complete (a refused
		// recipient, a failed DATA): abort it. go-smtp's Reset also
		// makes the next command greet again (EHLO), which only this
		// rare path pays.
		if err := c.Reset(); err != nil {
			return staleConn{classify("RSET", err)}
		}
		r.open = false
	}
	// The queue holds addresses as net/mail reads them (local part
	// unquoted); on the wire a local part that needs it is quoted.
	if err := c.Mail(threading.EnvelopePath(o.MailFrom), nil); err != nil {
		err = classify("MAIL FROM", err)
		var se *smtp.SMTPError
		if r.sent > 0 && (!isSMTPReply(err) || errors.As(err, &se) && se.Code == 421) {
			// A used connection the relay has closed since (its
			// idle timeout answers 421 and hangs up).
			return staleConn{err}
		}
		return err
	}
	r.open = true
	if err := c.Rcpt(threading.EnvelopePath(o.Rcpt), nil); err != nil {
		return classify("RCPT TO", err)
	}
	wc, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	// go-smtp sets no deadline while the message is written: each chunk
	// must leave within the command timeout (a relay that stops reading
	// does not hold the connection forever).
	if _, err := (deadlineWriter{w: wc, conn: r.conn, timeout: r.timeout}).Write(data); err != nil {
		return &relayError{"DATA", fmt.Errorf("sending the message: %w", err)}
	}
	if err := wc.Close(); err != nil {
		return classify("end of DATA", err)
	}
	r.open = false
	r.sent++
	return nil
}

// deadlineWriter writes in chunks, each with its own write deadline.
type deadlineWriter struct {
	w       io.Writer
	conn    net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	defer d.conn.SetWriteDeadline(time.Time{})
	n := 0
	for len(p) > 0 {
		k := min(len(p), 64<<10)
		d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
		m, err := d.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// isSMTPReply reports an error that is the relay's answer (the session
// is still in step), not a broken connection.
func isSMTPReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// classify sorts the relay's answer to a mail's command: a broken
// connection or timeout, or an answer about our credentials or security
// (which any mail would get), is the relay's failure; another 5xx is a
// permanent refusal of this mail; the rest is retried.
func classify(stage string, err error) error {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return &relayError{stage, err}
	}
	switch {
	case se.Code == 523 || se.Code == 530 || se.Code == 534 || se.Code == 535 || se.Code == 538,
		se.EnhancedCode == smtp.EnhancedCode{5, 7, 0}, se.EnhancedCode == smtp.EnhancedCode{4, 7, 0}:
		return &relayError{stage, err}
	case se.Code >= 500:
		return permanentError{fmt.Errorf("%s: %w", stage, err)}
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// ErrNotRetryable is returned by Requeue for an item that was sent.
var ErrNotRetryable = errors.New("already sent")

// Requeue makes failed mail (ids, or every failed item with allFailed)
// queued again and due now, with a fresh give_up_after; a queued id is
// made due now (after a configuration fix, without waiting for its
// backoff). It works on a store no daemon uses; a running daemon's
// worker does it through Worker.Requeue. It returns how many it requeued.
func Requeue(db store.Store, now time.Time, ids []uint64, allFailed bool, skip func(uint64) bool) (int, error) {
	return requeue(db, now, ids, allFailed, allFailed, skip)
}

// requeue makes items due now: ids, failed items (failed), and queued
// items waiting for a retry after an error (waiting).
func requeue(db store.Store, now time.Time, ids []uint64, failed, waiting bool, skip func(uint64) bool) (int, error) {
	n := 0
	err := db.Update(func(tx store.Tx) error {
		var items []*model.Outbound
		if failed || waiting {
			// Failed mail, and mail waiting for a retry after an error
			// (a relay that refused us is retried, not failed: once the
			// cause is fixed it should not wait out its backoff).
			err := tx.ForEachOutbound(func(o *model.Outbound) error {
				if failed && o.State == model.OutFailed || waiting && o.State == model.OutQueued && o.LastError != "" && o.NextAttempt.After(now) {
					items = append(items, o)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, id := range ids {
			o, err := tx.Outbound(id)
			if err != nil {
				return fmt.Errorf("outbox item %d: %w", id, err)
			}
			if o.State == model.OutSent {
				return fmt.Errorf("outbox item %d was sent at %s: %w", id, o.Done.Format(time.RFC3339), ErrNotRetryable)
			}
			items = append(items, o)
		}
		for _, o := range items {
			if skip != nil && skip(o.ID) {
				continue // being delivered right now
			}
			x := *o
			prev := x.NextAttempt
			if x.State == model.OutFailed {
				// PutOutbound removes a due key only for prev; a failed
				// item has none, and this one gets a new one.
				x.State, x.Done, x.Requeued = model.OutQueued, time.Time{}, now
			}
			x.NextAttempt = now
			if err := tx.PutOutbound(&x, prev); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Requeue is the package's Requeue for the running worker: it waits for
// the round taking items to finish, skips items under delivery, and
// wakes the worker.
func (w *Worker) Requeue(ids []uint64, allFailed bool) (int, error) {
	return w.requeue(ids, allFailed, allFailed)
}

// RetryWaiting makes the mail waiting for a retry after an error due now
// (the relay settings were changed, most likely to fix what failed).
func (w *Worker) RetryWaiting() (int, error) {
	w.settingsGen.Add(1) // mail being tried right now is retried too
	defer w.Wake()
	return w.requeue(nil, false, true)
}

func (w *Worker) requeue(ids []uint64, failed, waiting bool) (int, error) {
	w.round.Lock()
	n, err := requeue(w.db, w.now(), ids, failed, waiting, func(id uint64) bool {
		w.inflMu.Lock()
		defer w.inflMu.Unlock()
		return w.inflight[id]
	})
	w.round.Unlock()
	if n > 0 {
		w.Wake()
	}
	return n, err
}
