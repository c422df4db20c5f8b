package engine

import (
	"strings"
	"sync"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

const eraseAdmin = `
[[agent]]
email = "ada@certs.example"
name = "Ada"
role = "admin"
groups = ["support"]
`

// confirmed stores an erase confirmed by mail, as the confirming mail's
// write does, and returns its record id.
func (h *harness) confirmed(addr string) uint64 {
	h.t.Helper()
	var id uint64
	if err := h.e.update(func(tx store.Tx) error {
		r := &model.Erasure{By: "ada@certs.example", Via: "mail", State: model.ErasureConfirmed, Pending: &model.PendingErasure{
			Addr: addr, Ticket: 1, ByName: "Ada", Mailbox: "support@example.com", Line: "#customer erase confirm ABCD-EFGH", MessageID: "<c@certs.example>"}}
		err := tx.AddErasure(r)
		id = r.ID
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) erasures() []*model.Erasure {
	h.t.Helper()
	var rs []*model.Erasure
	h.db.View(func(tx store.Tx) (err error) { rs, err = tx.Erasures(); return })
	return rs
}

func (h *harness) transcripts(subject string) int {
	n := 0
	for _, o := range h.outbox("transcript") {
		if strings.HasPrefix(o.Subject, subject) {
			n++
		}
	}
	return n
}

// Two runs of one confirmed erase at once (a leader that lost the lead
// and the next one, each with its own engine over the one store): the
// checks in the writes let one erase and one transcript through, and a
// later run finds nothing to do.
func TestConfirmedEraseRunsOnce(t *testing.T) {
	h := newHarness(t, eraseAdmin)
	if _, err := h.apply(Envelope{MailFrom: "ken@e-fun.example"}, mailFrom("Ken <ken@e-fun.example>", "Locked", "The key is under the flowerpot."), nil); err != nil {
		t.Fatal(err)
	}
	id := h.confirmed("ken@e-fun.example")
	other, err := New(h.cfg, h.db, Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, e := range []*Engine{h.e, other} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = e.resumeErasure(id) }()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("resuming: %v, %v", errs[0], errs[1])
	}
	if err := h.e.resumeErasure(id); err != nil {
		t.Fatal(err)
	}
	rs := h.erasures()
	if len(rs) != 1 || rs[0].State != "" || rs[0].Pending != nil || rs[0].Tickets != 1 || rs[0].By != "ada@certs.example" {
		t.Fatalf("erasures: %+v", rs)
	}
	if n := h.transcripts("Customer erased: erasure record"); n != 1 {
		t.Errorf("%d transcripts, want 1", n)
	}
	var tk *model.Ticket
	h.db.View(func(tx store.Tx) (err error) { tk, err = tx.Ticket(1); return })
	if tk.Erased == nil || tk.Requester != "" {
		t.Errorf("ticket 1 is no shell: %+v", tk)
	}
}

// A confirmed erase that can no longer run (the requester became staff
// meanwhile): the record goes and the admin is told, once.
func TestConfirmedEraseRefusedIsDropped(t *testing.T) {
	h := newHarness(t, eraseAdmin)
	id := h.confirmed("victoria@certs.example")
	for range 2 {
		if err := h.e.resumeErasure(id); err != nil {
			t.Fatal(err)
		}
	}
	if rs := h.erasures(); len(rs) != 0 {
		t.Errorf("erasures after a refused erase: %+v", rs)
	}
	if n := h.transcripts("Customer NOT erased"); n != 1 {
		t.Errorf("%d refusals mailed, want 1", n)
	}
	o := h.outbox("transcript")
	if len(o) != 1 || !strings.Contains(o[0].Text, "nothing was erased: erase: victoria@certs.example is a staff member") || o[0].Rcpt != "ada@certs.example" {
		t.Errorf("the refusal: %+v", o)
	}
}
