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

func TestLeakWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello,  World!\n", "hello world"},
		{"> quoted line\n>> deeper | piped", "quoted line deeper piped"},
		{"don't; e-fun.example", "don t e fun example"},
		{"「결제하지 않았으니」 환불은… 약속하지 마세요.", "결제하지 않았으니 환불은 약속하지 마세요"},
		// Decomposed Hangul (conjoining jamo, as some clients send it)
		// and full-width letters fold to the usual forms.
		{"\u1100\u1161\u11a8 ＡＢＣ１", "각 abc1"},
		{"Ünïcödé café", "ünïcödé café"},
		{"  \t\n ", ""},
	} {
		if got := strings.Join(leakWords(tc.in), " "); got != tc.want {
			t.Errorf("leakWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSharedRun(t *testing.T) {
	const note = "Finance confirmed the customer still owes us two invoices from March"
	for _, tc := range []struct {
		name, out string
		n         int
		want      string // "" = no match
	}{
		{"eight words", "Hi, the customer still owes us two invoices from you", 8, "the customer still owes us two invoices from"},
		{"seven words", "Hi, the customer still owes us two invoices. Bye", 8, ""},
		{"longest run reported", "CONFIRMED: the customer still owes us two invoices from March!", 8, "confirmed the customer still owes us two invoices from march"},
		{"words scattered", "the customer, us, two invoices, still owes from March finance", 8, ""},
		{"n configurable", "the customer still owes us two invoices from", 9, ""},
		{"short outgoing", "owes us", 8, ""},
		{"korean", "켄 고객님 3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지 못합니다", 8, ""},
	} {
		got, ok := sharedRun(leakWords(tc.out), leakWords(note), tc.n)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: sharedRun = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
	const ko = "고객은 아직 3월 청구서 두 건을 결제하지 않았으니, 환불은 약속하지 마세요."
	if got, ok := sharedRun(leakWords("켄 고객님, 3월 청구서… 두 건을 「결제하지 않았으니」 환불은 약속하지 못합니다."), leakWords(ko), 8); !ok ||
		got != "3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지" {
		t.Errorf("korean: sharedRun = %q, %v", got, ok)
	}
	// A private text shorter than n words never matches, even whole.
	if _, ok := sharedRun(leakWords("Ken owes us 500 EUR, says finance"), leakWords("Ken owes us 500 EUR, says finance"), 8); ok {
		t.Error("a 7-word note matched with n = 8")
	}
}
