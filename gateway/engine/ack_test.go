package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"helpdesk/store/model"
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
			if err != nil || res.Disposition != model.DispTicket {
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

// The per-client and total acknowledgement windows (issue 11) read the
// engine's clock: over a limit the ticket opens without an
// acknowledgement, and an hour later the window has room again. A trusted
// relay's address is never "the client".
func TestAckLimitsPerClientAndTotal(t *testing.T) {
	h := newHarness(t, "[auth]\ntrusted_relays = [\"10.0.0.25\"]\n[tickets]\nack_per_ip_per_hour = 2\nack_per_hour = 4\n")
	clock := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	h.e.now = func() time.Time { return clock }
	n := 0
	send := func(ip string) Result {
		t.Helper()
		n++
		from := fmt.Sprintf("user%d@d%d.example", n, n)
		res, err := h.apply(Envelope{MailFrom: from, Rcpts: []string{"support@example.com"}, RemoteIP: netip.MustParseAddr(ip), Via: "smtp"},
			mailFrom(from, fmt.Sprintf("Request%d", n), "Hello."), func(in *inbound) {
				in.verdict = AuthVerdict{Checked: true, DMARC: "none"}
			})
		if err != nil || res.Disposition != model.DispTicket {
			t.Fatalf("mail %d: %+v %v", n, res, err)
		}
		return res
	}
	for i, c := range []struct{ ip, limit string }{
		{"192.0.2.1", ""}, {"192.0.2.1", ""}, {"192.0.2.1", "ip"}, // per client
		{"10.0.0.25", ""}, {"10.0.0.25", ""}, // trusted relay: no per-client limit
		{"2001:db8::1", "global"}, {"10.0.0.25", "global"}, // total of 4 reached
	} {
		if res := send(c.ip); res.AckLimit != c.limit {
			t.Errorf("mail %d from %s: limit %q, want %q", i+1, c.ip, res.AckLimit, c.limit)
		}
	}
	if got := len(h.outbox("ack")); got != 4 {
		t.Errorf("%d acknowledgements queued, want 4", got)
	}
	clock = clock.Add(61 * time.Minute)
	if res := send("192.0.2.1"); res.AckLimit != "" {
		t.Errorf("an hour later: limit %q, want none", res.AckLimit)
	}
	if got := len(h.outbox("ack")); got != 5 {
		t.Errorf("%d acknowledgements queued, want 5", got)
	}
}

// An IPv6 client counts by its /64: hopping addresses inside it does not
// get around the limit.
func TestAckLimitIPv6CountsBySlash64(t *testing.T) {
	h := newHarness(t, "[tickets]\nack_per_ip_per_hour = 1\n")
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::99", "2001:db8:1:3::1"} {
		from := fmt.Sprintf("u%d@x%d.example", i, i)
		res, err := h.apply(Envelope{MailFrom: from, Rcpts: []string{"support@example.com"}, RemoteIP: netip.MustParseAddr(ip), Via: "smtp"},
			mailFrom(from, fmt.Sprintf("R%d", i), "Hello."), func(in *inbound) {
				in.verdict = AuthVerdict{Checked: true, DMARC: "none"}
			})
		want := []string{"", "ip", ""}[i]
		if err != nil || res.AckLimit != want {
			t.Errorf("mail from %s: %+v %v, want limit %q", ip, res, err, want)
		}
	}
}
