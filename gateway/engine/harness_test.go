package engine

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// harness runs the engine over a real store, with a hook to set what
// Deliver computes outside the write (class, verdict), for rules whose
// inputs the real classifier or authenticator rarely produce together.
type harness struct {
	t   *testing.T
	e   *Engine
	db  store.Store
	cfg *config.Config
	// at is the store and engine clock once set (setClock); the wall
	// clock until then.
	mu sync.Mutex
	at time.Time
}

// now is the harness clock.
func (h *harness) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at.IsZero() {
		return time.Now()
	}
	return h.at
}

// setClock sets the harness clock.
func (h *harness) setClock(t time.Time) {
	h.mu.Lock()
	h.at = t
	h.mu.Unlock()
}

func newHarness(t *testing.T, extra string) *harness {
	t.Helper()
	cfg, err := config.Parse(`data_dir = "` + t.TempDir() + `"
hostname = "helpdesk.test"
[[mailbox]]
address = "support@example.com"
name = "Example Support"
group = "support"
[[group]]
name = "support"
[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
` + extra)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg}
	db, err := bolt.Open(cfg.DataDir, bolt.Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := New(cfg, db, Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	h.e, h.db = e, db
	return h
}

// apply runs one mail through the same steps as Deliver; tweak may
// change what was computed before the store write.
func (h *harness) apply(env Envelope, raw string, tweak func(*inbound)) (Result, error) {
	h.t.Helper()
	cfg := h.e.Config()
	in := &inbound{env: env, size: int64(len(raw)), started: time.Now()}
	in.mail = threading.Parse(bytes.NewReader([]byte(raw)), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
	in.mail.EnvelopeFrom = env.MailFrom
	machine.Classify(in.mail)
	h.e.identify(cfg, in)
	h.e.verifyTokens(cfg, in)
	if tweak != nil {
		tweak(in)
	}
	in.raw = h.db.PackRaw([]byte(raw))
	var res Result
	err := h.e.update(func(tx store.Tx) error {
		a := &applier{e: h.e, cfg: cfg, tx: tx, in: in, now: tx.Now()}
		if err := a.run(); err != nil {
			return err
		}
		res = a.res
		return nil
	})
	return res, err
}

// outbox lists the queued mail of one kind ("" = all).
func (h *harness) outbox(kind string) []*model.Outbound {
	h.t.Helper()
	var out []*model.Outbound
	h.db.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if kind == "" || o.Kind == kind {
				out = append(out, o)
			}
			return nil
		})
	})
	return out
}

func mailFrom(from, subject, body string) string {
	return "From: " + from + "\r\nTo: support@example.com\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "." + time.Now().Format("150405.000000000") + "@client.test>\r\n\r\n" + body + "\r\n"
}
