package engine

import (
	"testing"

	"helpdesk/store"
	"helpdesk/threading"
)

// The null envelope sender never gets an acknowledgement (RFC 3834
// section 2), whatever path the mail came by, even when the mail itself
// reads as a person's.
func TestAckNeverToNullSender(t *testing.T) {
	for _, via := range []string{"smtp", "inject", "release"} {
		t.Run(via, func(t *testing.T) {
			h := newHarness(t, "")
			res, err := h.apply(Envelope{MailFrom: "", Rcpts: []string{"support@example.com"}, Via: via},
				mailFrom("Ken <ken@e-fun.example>", "Invoice", "Please call me back."), func(in *inbound) {
					in.mail.Class = threading.ClassHuman
					in.verdict = AuthVerdict{Checked: true, DMARC: "pass"}
				})
			if err != nil || res.Disposition != store.DispTicket {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if acks := h.outbox("ack"); len(acks) != 0 {
				t.Errorf("acknowledgement queued for a null-sender mail via %s: %+v", via, acks[0])
			}
			if n := len(h.outbox("notification")); n != 1 {
				t.Errorf("%d staff notifications, want 1", n)
			}
		})
	}
	// The same mail with a sender is acknowledged.
	h := newHarness(t, "")
	if _, err := h.apply(Envelope{MailFrom: "ken@e-fun.example", Rcpts: []string{"support@example.com"}, Via: "inject"},
		mailFrom("Ken <ken@e-fun.example>", "Invoice", "Please call me back."), func(in *inbound) {
			in.verdict = AuthVerdict{Checked: true, DMARC: "pass"}
		}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.outbox("ack")); n != 1 {
		t.Errorf("%d acknowledgements for a mail with a sender, want 1", n)
	}
}
