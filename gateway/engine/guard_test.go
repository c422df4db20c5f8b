package engine

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"helpdesk/store"
)

// When the guard cannot read the ticket's comments it cannot tell
// whether a reply leaks a private note: the write fails (the sender
// retries; 451) instead of sending the reply unchecked.
func TestGuardFailsClosedWhenCommentsUnreadable(t *testing.T) {
	h := newHarness(t, "")
	if res, err := h.apply(Envelope{MailFrom: "ken@e-fun.example", Rcpts: []string{"support@example.com"}, Via: "smtp"},
		mailFrom("Ken <ken@e-fun.example>", "Refund", "I want my money back."), nil); err != nil || res.Ticket != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}

	// Corrupt the stored record of comment 1 of ticket 1.
	dir := h.cfg.DataDir
	h.db.Close()
	bdb, err := bolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 12)
	binary.BigEndian.PutUint64(key, 1)
	binary.BigEndian.PutUint32(key[8:], 1)
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("tickets"))
		if b == nil || b.Get(key) == nil {
			t.Fatal("test setup: comment 1 of ticket 1 not found under its key in bucket tickets")
		}
		return b.Put(key, []byte("{not json"))
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := New(h.cfg, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.e, h.db = e, db
	before := len(h.outbox(""))

	res, err := h.apply(Envelope{MailFrom: "victoria@certs.example", Rcpts: []string{"support@example.com"}, Via: "smtp"},
		mailFrom("Victoria <victoria@certs.example>", "Refund", "#ticket 1\n#reply\nHi Ken, the refund is on its way."), func(in *inbound) {
			in.verdict = AuthVerdict{Checked: true, DMARC: "pass"}
		})
	if err == nil || !strings.Contains(err.Error(), "comment") {
		t.Fatalf("a public reply was applied with the ticket's comments unreadable: %+v %v", res, err)
	}
	if n := len(h.outbox("")); n != before {
		t.Errorf("%d mails queued by a failed write", n-before)
	}
}
