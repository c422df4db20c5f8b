package outbound

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// handoffSetup opens a bbolt store and returns it with its configuration
// (mail goes to the data directory's outbox unless a relay is set).
func handoffSetup(t *testing.T) (*bolt.DB, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := config.Default()
	cfg.DataDir = dir
	return db, cfg
}

// syncBuffer is a log destination tests read while workers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func enqueueN(t *testing.T, db store.Store, n int, tag string) {
	t.Helper()
	if err := db.Update(func(tx store.Tx) error {
		for i := range n {
			if err := tx.Enqueue(&model.Outbound{Kind: "ack", MailFrom: "support@example.com", Rcpt: "ken@example.net",
				From: "Support <support@example.com>", To: []string{"ken@example.net"}, Subject: "Re: x",
				MessageID: fmt.Sprintf("%s%d@example.com", tag, i), Text: "hello"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Mail this process queues is born claimed by its worker and handed to
// it once the write committed: the worker delivers it with one store
// write (the outcomes), not a claim and then the outcomes.
func TestHandedMailIsDeliveredWithoutAClaim(t *testing.T) {
	db, cfg := handoffSetup(t)
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.Parallel = 1
	// Within the second after which a round also claims (retries and
	// the like), however slow the machine.
	now := time.Now()
	w.now = func() time.Time { return now }
	stop := w.handOff()
	if stop == nil {
		t.Fatal("the bbolt store took no handoff")
	}
	defer stop()
	enqueueN(t, db, 3, "handed")
	db.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if o.LeaseHolder != w.Holder || !o.Started.IsZero() {
				t.Errorf("queued item %d: lease %q, started %v; want born claimed by %q, not started (no relay)", o.ID, o.LeaseHolder, o.Started, w.Holder)
			}
			return nil
		})
	})
	before := db.Stats().Writes
	if n := w.Drain(); n != 3 {
		t.Errorf("drained %d, want 3", n)
	}
	if writes := db.Stats().Writes - before; writes != 1 {
		t.Errorf("delivering 3 handed mails took %d store writes, want 1 (their outcomes; no claim)", writes)
	}
	// A second later a round with handed mail claims the rest too: a
	// retry due meanwhile goes out while handed mail keeps coming.
	enqueueN(t, db, 2, "more")
	if err := db.Update(func(tx store.Tx) error {
		o := &model.Outbound{Kind: "ack", MailFrom: "support@example.com", Rcpt: "kim@example.net",
			From: "Support <support@example.com>", To: []string{"kim@example.net"}, Subject: "Re: y",
			MessageID: "retry@example.com", Text: "hello", NextAttempt: now.Add(time.Second)}
		return tx.Enqueue(o)
	}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if n := w.Drain(); n != 3 {
		t.Errorf("drained %d, want 3 (2 handed, 1 claimed)", n)
	}
	if n := w.Metrics.Sent.Load(); n != 6 {
		t.Errorf("sent %d, want 6", n)
	}
	db.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if o.State != model.OutSent || o.LeaseHolder != "" {
				t.Errorf("item %d: %s, lease %q; want sent, no lease", o.ID, o.State, o.LeaseHolder)
			}
			return nil
		})
	})
}

// A worker that dies (kill -9) holding mail born claimed by it: once the
// lease runs out another worker delivers it. With a relay, its attempt
// could have started as soon as the mail was handed over, so the
// delivery is logged as a possible duplicate (SPEC 11); writing .eml
// files, nothing is (a repeat rewrites the same file).
func TestMailBornClaimedByADeadWorker(t *testing.T) {
	for _, relay := range []bool{true, false} {
		t.Run(fmt.Sprint("relay=", relay), func(t *testing.T) {
			db, cfg := handoffSetup(t)
			if relay {
				cfg.Outbound.Relay = "127.0.0.1:1" // refused: the mail stays queued, which is all this needs
			}
			dead := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
			dead.Holder = "dead"
			stop := dead.handOff()
			enqueueN(t, db, 2, "dead")
			stop() // and never delivers: killed

			var logs syncBuffer
			other := New(db, func() *config.Config { return cfg }, slog.New(slog.NewJSONHandler(&logs, nil)), nil)
			other.Holder = "other"
			if n := other.Drain(); n != 0 {
				t.Errorf("another worker attempted %d while the dead one's leases run, want 0", n)
			}
			later := time.Now().Add(time.Hour)
			other.now = func() time.Time { return later }
			if n := other.Drain(); n != 2 {
				t.Errorf("after the leases ran out another worker attempted %d, want 2", n)
			}
			want := int64(0)
			if relay {
				want = 2
			}
			if n := other.Metrics.Duplicates.Load(); n != want {
				t.Errorf("%d possible duplicates counted, want %d", n, want)
			}
			if n := int64(strings.Count(logs.String(), "may duplicate")); n != want {
				t.Errorf("%d possible duplicates logged, want %d:\n%s", n, want, logs.String())
			}
		})
	}
}

// A worker stopping with handed mail it did not take yet ends those
// leases (their attempts never started): another worker claims them at
// once, and logs no possible duplicate.
func TestStoppingWorkerReturnsHandedMail(t *testing.T) {
	db, cfg := handoffSetup(t)
	cfg.Outbound.Relay = "127.0.0.1:1"
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	stop := w.handOff()
	enqueueN(t, db, 2, "back")
	stop()
	w.returnHanded()
	db.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if o.State != model.OutQueued || o.LeaseHolder != "" || !o.Started.IsZero() {
				t.Errorf("returned item %d: %s, lease %q, started %v; want queued, no lease, not started", o.ID, o.State, o.LeaseHolder, o.Started)
			}
			return nil
		})
	})
	other := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	other.Holder = "other"
	if n := other.Drain(); n != 2 {
		t.Errorf("another worker attempted %d returned mails, want 2", n)
	}
	if n := other.Metrics.Duplicates.Load(); n != 0 {
		t.Errorf("%d possible duplicates counted for mail never attempted, want 0", n)
	}
}
