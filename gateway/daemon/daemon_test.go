package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"helpdesk/config"
	"helpdesk/gateway/engine"
	"helpdesk/gateway/internal/dnstest"
	"helpdesk/threading"
)

// An SMTP client address that is missing or could not be parsed is
// untrusted: it is never taken for some address a trusted_relays prefix
// might contain (such as "::" in "::/0").
func TestAuthenticatorUnknownClientIsUntrusted(t *testing.T) {
	dns := dnstest.Start(t)
	cfg := config.Default()
	cfg.Auth.Resolver = dns.Addr()
	cfg.Auth.TrustedAuthservIDs = []string{"mx.desk.test"}
	cfg.Auth.TrustedRelays = []string{"::/0", "127.0.0.1/32"} // Validate refuses ::/0; the authenticator must not rely on that
	authn, err := NewAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// As the SMTP server spools it: our Received line, the relay's block
	// (its Authentication-Results above its Received line), the mail.
	raw := "Received: from mx.desk.test (127.0.0.1)\r\n\tby help.desk.test with ESMTP id 1;\r\n\tMon, 02 Mar 2026 10:00:02 +0000\r\n" +
		"Authentication-Results: mx.desk.test; dkim=pass header.d=example.com\r\n" +
		"Received: from mail.example.com (192.0.2.1)\r\n\tby mx.desk.test (Postfix) with ESMTP id 4Xyz;\r\n\tMon, 02 Mar 2026 10:00:01 +0000\r\n" +
		"From: Alice <alice@example.com>\r\nTo: support@example.com\r\nSubject: hi\r\n" +
		"Message-ID: <1@example.com>\r\n\r\nhello\r\n"
	m := &threading.Mail{From: threading.Address{Addr: "alice@example.com"}}
	for _, tt := range []struct {
		name string
		ip   netip.Addr
		pass bool
	}{
		{"trusted relay", netip.MustParseAddr("127.0.0.1"), true},
		{"unknown client", netip.Addr{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := authn(context.Background(), strings.NewReader(raw), int64(len(raw)), m, engine.Envelope{RemoteIP: tt.ip, Via: "smtp"})
			if v.AuthResPass != tt.pass {
				t.Fatalf("AuthResPass = %v, want %v (failed %q)", v.AuthResPass, tt.pass, v.Failed)
			}
			if !tt.pass && !strings.Contains(strings.Join(v.Failed, "\n"), "untrusted client unknown") {
				t.Errorf("Failed = %q, want an untrusted client", v.Failed)
			}
		})
	}
}
