package auth

import (
	"bytes"
	"context"
	"crypto"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"

	"helpdesk/gateway/internal/dnstest"
)

const baseMsg = "From: Alice <alice@example.com>\r\n" +
	"To: help@desk.test\r\n" +
	"Subject: printer on fire\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n" +
	"Message-ID: <m1@example.com>\r\n" +
	"\r\n" +
	"Hello,\r\nthe printer is on fire.\r\n"

var (
	trustedRelay = netip.MustParseAddr("10.1.2.3")
	outsider     = netip.MustParseAddr("192.0.2.7")
)

func newChecker(t *testing.T, dns *dnstest.Server) *Checker {
	t.Helper()
	relays, err := ParsePrefixes([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{
		Resolver:           dns.Addr(),
		DNSTimeout:         2 * time.Second,
		TrustedAuthservIDs: []string{"MX.Desk.Test"},
		TrustedRelays:      relays,
	})
}

// sign signs msg with go-msgauth's dkim.Sign, as a sender's MTA would.
func sign(t *testing.T, key crypto.Signer, domain, selector, msg string) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatalf("dkim.Sign: %v", err)
	}
	return out.String()
}

func check(t *testing.T, c *Checker, msg, from string, ip netip.Addr, trust bool) Result {
	t.Helper()
	return c.Check(context.Background(), strings.NewReader(msg), from, Origin{ClientIP: ip, TrustAuthRes: trust})
}

// relayReceived is the Received line a Postfix relay prepends; the
// milters' Authentication-Results stand above it.
const relayReceived = "Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n" +
	"\tby mx.desk.test (Postfix) with ESMTPS id 4Xyz;\r\n\tMon, 02 Mar 2026 10:00:01 +0000\r\n"

func hasFailure(r Result, prefix, substr string) bool {
	for _, f := range r.Failed {
		if strings.HasPrefix(f, prefix) && strings.Contains(f, substr) {
			return true
		}
	}
	return false
}

func TestSignedMailPassesDMARC(t *testing.T) {
	dns := dnstest.Start(t)
	key := dns.AddDKIMKey("example.com", "sel")
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	c := newChecker(t, dns)

	r := check(t, c, sign(t, key, "example.com", "sel", baseMsg), "Example.COM", outsider, false)
	if len(r.DKIM) != 1 || !r.DKIM[0].Pass || r.DKIM[0].Domain != "example.com" || r.DKIM[0].Selector != "sel" || r.DKIM[0].Err != "" {
		t.Fatalf("DKIM = %+v", r.DKIM)
	}
	if !r.DKIMAligned || r.DMARC != DMARCPass || r.Policy != "reject" || r.FromDomain != "example.com" {
		t.Fatalf("aligned=%v dmarc=%q policy=%q from=%q", r.DKIMAligned, r.DMARC, r.Policy, r.FromDomain)
	}
	if hasFailure(r, "dmarc:", "") || !hasFailure(r, "authres:", "no Authentication-Results") || len(r.Failed) != 1 {
		t.Errorf("Failed = %q", r.Failed)
	}
	if !passesDMARCCheck(r) {
		t.Errorf("the dmarc staff check would fail: %+v", r)
	}

	// The same mail with a modified body no longer verifies.
	tampered := strings.Replace(sign(t, key, "example.com", "sel", baseMsg), "is on fire", "is fine", 1)
	r = check(t, c, tampered, "example.com", outsider, false)
	if len(r.DKIM) != 1 || r.DKIM[0].Pass || !strings.Contains(r.DKIM[0].Err, "body hash") {
		t.Fatalf("tampered DKIM = %+v", r.DKIM)
	}
	if r.DKIMAligned || r.DMARC != DMARCFail {
		t.Fatalf("tampered: aligned=%v dmarc=%q", r.DKIMAligned, r.DMARC)
	}
	if !hasFailure(r, "dmarc: ", "no DKIM signature aligned with example.com") || !hasFailure(r, "dmarc: ", "body hash") {
		t.Errorf("Failed = %q", r.Failed)
	}
	if passesDMARCCheck(r) {
		t.Errorf("tampered mail would pass the dmarc staff check: %+v", r)
	}
}

func TestRSAKeyAndSpoolFile(t *testing.T) {
	dns := dnstest.Start(t)
	key, txt := dnstest.DKIMKeyRSA(t) // > 255 bytes: split into strings by the server
	dns.SetTXT("rsa._domainkey.example.com", txt)
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=none")
	c := newChecker(t, dns)

	path := filepath.Join(t.TempDir(), "spool.eml")
	if err := os.WriteFile(path, []byte(sign(t, key, "example.com", "rsa", baseMsg)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := c.Check(context.Background(), f, "example.com", Origin{})
	if !r.DKIMAligned || r.DMARC != DMARCPass || r.Policy != "none" {
		t.Fatalf("rsa from file: %+v", r)
	}
}

func TestAlignment(t *testing.T) {
	tests := []struct {
		name        string
		signDomain  string
		from        string
		dmarc       map[string]string // name -> record
		wantAligned bool
		wantDMARC   string
		wantPolicy  string
	}{
		{"other domain, record", "other.org", "example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=reject"}, false, DMARCFail, "reject"},
		{"other domain, no record", "other.org", "example.com", nil, false, DMARCNone, ""},
		{"same domain, no record", "example.com", "example.com", nil, true, DMARCNone, ""},
		{"subdomain signer, relaxed", "mail.example.com", "example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=reject"}, true, DMARCPass, "reject"},
		{"subdomain signer, strict", "mail.example.com", "example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=reject; adkim=s"}, false, DMARCFail, "reject"},
		{"subdomain From, org record with sp", "example.com", "sub.example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=reject; sp=quarantine"}, true, DMARCPass, "quarantine"},
		{"subdomain From, strict org record", "example.com", "sub.example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=reject; adkim=s"}, false, DMARCFail, "reject"},
		{"public suffix is no organization", "other.co.uk", "example.co.uk",
			map[string]string{"_dmarc.example.co.uk": "v=DMARC1; p=reject"}, false, DMARCFail, "reject"},
		{"under a public suffix, relaxed", "mail.example.co.uk", "www.example.co.uk",
			map[string]string{"_dmarc.example.co.uk": "v=DMARC1; p=reject"}, true, DMARCPass, "reject"},
		{"malformed record", "example.com", "example.com",
			map[string]string{"_dmarc.example.com": "v=DMARC1; p=maybe"}, true, DMARCPermError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := dnstest.Start(t)
			key := dns.AddDKIMKey(tt.signDomain, "s1")
			for name, rec := range tt.dmarc {
				dns.SetTXT(name, rec)
			}
			msg := strings.Replace(baseMsg, "alice@example.com", "alice@"+tt.from, 1)
			r := check(t, newChecker(t, dns), sign(t, key, tt.signDomain, "s1", msg), tt.from, outsider, false)
			if len(r.DKIM) != 1 || !r.DKIM[0].Pass {
				t.Fatalf("signature should verify: %+v", r.DKIM)
			}
			if r.DKIMAligned != tt.wantAligned || r.DMARC != tt.wantDMARC || r.Policy != tt.wantPolicy {
				t.Fatalf("aligned=%v dmarc=%q policy=%q; want %v %q %q", r.DKIMAligned, r.DMARC, r.Policy, tt.wantAligned, tt.wantDMARC, tt.wantPolicy)
			}
			if wantFail := !tt.wantAligned && tt.wantDMARC != DMARCPass; hasFailure(r, "dmarc:", "") != wantFail {
				t.Errorf("Failed = %q", r.Failed)
			}
		})
	}
}

func TestMultipleSignatures(t *testing.T) {
	dns := dnstest.Start(t)
	other := dns.AddDKIMKey("esp.example.net", "esp")
	own := dns.AddDKIMKey("example.com", "own")
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=quarantine")
	msg := sign(t, other, "esp.example.net", "esp", sign(t, own, "example.com", "own", baseMsg))
	r := check(t, newChecker(t, dns), msg, "example.com", outsider, false)
	if len(r.DKIM) != 2 || !r.DKIM[0].Pass || !r.DKIM[1].Pass ||
		r.DKIM[0].Selector != "esp" || r.DKIM[1].Selector != "own" || r.DKIM[1].Domain != "example.com" {
		t.Fatalf("DKIM = %+v", r.DKIM)
	}
	if !r.DKIMAligned || r.DMARC != DMARCPass {
		t.Fatalf("aligned=%v dmarc=%q", r.DKIMAligned, r.DMARC)
	}
}

func TestUnsignedMail(t *testing.T) {
	dns := dnstest.Start(t)
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	r := check(t, newChecker(t, dns), baseMsg, "example.com", outsider, false)
	if len(r.DKIM) != 0 || r.DKIMAligned || r.DMARC != DMARCFail {
		t.Fatalf("unsigned: %+v", r)
	}
	if !hasFailure(r, "dmarc: ", "no DKIM signature aligned with example.com (no DKIM signature)") {
		t.Errorf("Failed = %q", r.Failed)
	}
	// No From domain at all.
	r = check(t, newChecker(t, dns), baseMsg, "", outsider, false)
	if r.DMARC != DMARCPermError || !hasFailure(r, "dmarc: ", "no From domain") {
		t.Errorf("no From domain: dmarc=%q failed=%q", r.DMARC, r.Failed)
	}
}

// closedPort returns a loopback UDP/TCP address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestDNSFailuresAreTempErrors(t *testing.T) {
	key, _ := dnstest.DKIMKey(t)
	signed := sign(t, key, "example.com", "sel", baseMsg)

	t.Run("closed port", func(t *testing.T) {
		const timeout = 2 * time.Second
		c := New(Config{Resolver: closedPort(t), DNSTimeout: timeout})
		start := time.Now()
		r := check(t, c, signed, "example.com", outsider, false)
		if d := time.Since(start); d > timeout {
			t.Errorf("Check took %v, longer than the %v DNS timeout", d, timeout)
		}
		if r.DMARC != DMARCTempError || len(r.DKIM) != 1 || r.DKIM[0].Pass || !r.DKIM[0].Temp || r.DKIMAligned {
			t.Fatalf("closed port: dmarc=%q dkim=%+v", r.DMARC, r.DKIM)
		}
		if !hasFailure(r, "dmarc: ", "temporary DNS error checking example.com") {
			t.Errorf("Failed = %q", r.Failed)
		}
	})
	t.Run("server never answers", func(t *testing.T) {
		dns := dnstest.Start(t)
		dns.SetDrop("sel._domainkey.example.com")
		dns.SetDrop("_dmarc.example.com")
		c := New(Config{Resolver: dns.Addr(), DNSTimeout: 250 * time.Millisecond})
		start := time.Now()
		r := check(t, c, signed, "example.com", outsider, false)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Check took %v with a 250ms DNS timeout", d)
		}
		if r.DMARC != DMARCTempError || !r.DKIM[0].Temp {
			t.Fatalf("dropped: dmarc=%q dkim=%+v", r.DMARC, r.DKIM)
		}
	})
	t.Run("key SERVFAIL, record present", func(t *testing.T) {
		dns := dnstest.Start(t)
		dns.SetServFail("sel._domainkey.example.com")
		dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
		r := check(t, newChecker(t, dns), signed, "example.com", outsider, false)
		if r.DMARC != DMARCTempError || !r.DKIM[0].Temp || r.Policy != "reject" {
			t.Fatalf("servfail: dmarc=%q dkim=%+v", r.DMARC, r.DKIM)
		}
	})
	t.Run("record SERVFAIL, key fine", func(t *testing.T) {
		dns := dnstest.Start(t)
		k := dns.AddDKIMKey("example.com", "sel")
		dns.SetServFail("_dmarc.example.com")
		r := check(t, newChecker(t, dns), sign(t, k, "example.com", "sel", baseMsg), "example.com", outsider, false)
		// DMARC unknown, but the aligned signature still satisfies the dmarc staff check.
		if r.DMARC != DMARCTempError || !r.DKIMAligned {
			t.Fatalf("record servfail: dmarc=%q aligned=%v", r.DMARC, r.DKIMAligned)
		}
		if !passesDMARCCheck(r) {
			t.Error("aligned DKIM pass should satisfy the dmarc check")
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		dns := dnstest.Start(t)
		dns.AddDKIMKey("example.com", "sel")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := newChecker(t, dns).Check(ctx, strings.NewReader(signed), "example.com", Origin{ClientIP: outsider})
		if r.DMARC != DMARCTempError || r.DKIM[0].Pass || dns.TotalQueries() != 0 {
			t.Fatalf("cancelled: dmarc=%q dkim=%+v queries=%d", r.DMARC, r.DKIM, dns.TotalQueries())
		}
	})
}

func TestAuthenticationResults(t *testing.T) {
	const trusted = "mx.desk.test"
	tests := []struct {
		name      string
		headers   []string // Authentication-Results values, topmost first
		ip        netip.Addr
		trust     bool
		wantPass  bool
		wantDMARC string // final DMARC (our own is "fail": record, no signature)
		wantFail  string // substring of the authres failure when !wantPass
	}{
		{"trusted dkim pass", []string{trusted + "; dkim=pass header.d=example.com header.s=sel"},
			trustedRelay, false, true, DMARCFail, ""},
		{"comments and version", []string{trusted + " 1 (Postfix); dkim=pass (2048-bit key; unprotected) header.d=example.com"},
			trustedRelay, false, true, DMARCFail, ""},
		{"v4-mapped relay address", []string{trusted + "; dkim=pass header.d=example.com"},
			netip.MustParseAddr("::ffff:10.1.2.3"), false, true, DMARCFail, ""},
		{"header.i relaxed", []string{trusted + "; dkim=pass header.i=@mail.example.com"},
			trustedRelay, false, true, DMARCFail, ""},
		{"dmarc pass overrides", []string{trusted + "; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"},
			trustedRelay, false, true, DMARCPass, ""},
		{"untrusted client ignored", []string{trusted + "; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"},
			outsider, false, false, DMARCFail, "header from untrusted client 192.0.2.7"},
		{"no client, no flag", []string{trusted + "; dkim=pass header.d=example.com"},
			netip.Addr{}, false, false, DMARCFail, "untrusted client unknown"},
		{"inject --trust-authres", []string{trusted + "; dkim=pass header.d=example.com"},
			netip.Addr{}, true, true, DMARCFail, ""},
		{"untrusted authserv-id ignored", []string{"mx.evil.test; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"},
			trustedRelay, false, false, DMARCFail, `authserv-id "mx.evil.test" is not trusted`},
		{"untrusted id even with the flag", []string{"mx.evil.test; dkim=pass header.d=example.com"},
			netip.Addr{}, true, false, DMARCFail, "not trusted"},
		{"every trusted header of the block counts", []string{trusted + "; dkim=none", trusted + "; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"},
			trustedRelay, false, true, DMARCPass, ""},
		{"another milter's id in the block is skipped", []string{"mx.evil.test; dkim=pass header.d=example.com", trusted + "; dkim=none"},
			trustedRelay, false, false, DMARCFail, "mx.desk.test reports no dkim or dmarc pass for example.com"},
		{"dkim pass for another domain", []string{trusted + "; dkim=pass header.d=other.org"},
			trustedRelay, false, false, DMARCFail, "no dkim or dmarc pass"},
		{"dkim fail", []string{trusted + "; dkim=fail header.d=example.com"},
			trustedRelay, false, false, DMARCFail, "no dkim or dmarc pass"},
		{"dmarc pass for another domain", []string{trusted + "; dmarc=pass header.from=other.org"},
			trustedRelay, false, false, DMARCFail, "no dkim or dmarc pass"},
		{"dmarc pass without header.from", []string{trusted + "; dmarc=pass"},
			trustedRelay, false, false, DMARCFail, "no dkim or dmarc pass"},
		{"upstream dmarc none overrides", []string{trusted + "; dmarc=none header.from=example.com"},
			trustedRelay, false, false, DMARCNone, "no dkim or dmarc pass"},
		{"no header", nil, trustedRelay, false, false, DMARCFail, "no Authentication-Results header"},
	}
	dns := dnstest.Start(t)
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	c := newChecker(t, dns)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msg strings.Builder
			for _, h := range tt.headers {
				msg.WriteString("Authentication-Results: " + h + "\r\n")
			}
			msg.WriteString(relayReceived + baseMsg)
			r := check(t, c, msg.String(), "example.com", tt.ip, tt.trust)
			if r.AuthResPass != tt.wantPass || r.DMARC != tt.wantDMARC {
				t.Fatalf("AuthResPass=%v DMARC=%q; want %v %q (AuthRes %+v, Failed %q)", r.AuthResPass, r.DMARC, tt.wantPass, tt.wantDMARC, r.AuthRes, r.Failed)
			}
			if tt.wantPass {
				if !r.AuthRes.Trusted || hasFailure(r, "authres:", "") {
					t.Errorf("AuthRes=%+v Failed=%q", r.AuthRes, r.Failed)
				}
				if !r.AuthResPass {
					t.Error("AuthResPass = false")
				}
			} else if !hasFailure(r, "authres: ", tt.wantFail) {
				t.Errorf("Failed = %q, want authres failure containing %q", r.Failed, tt.wantFail)
			}
		})
	}
}

// A trusted upstream's dmarc=fail overrides our DMARC, but an aligned DKIM
// pass of our own still satisfies the dmarc staff check (SPEC 5).
func TestUpstreamDMARCFailOverridesOwnPass(t *testing.T) {
	dns := dnstest.Start(t)
	key := dns.AddDKIMKey("example.com", "sel")
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	msg := "Authentication-Results: mx.desk.test; dmarc=fail header.from=example.com\r\n" + relayReceived + sign(t, key, "example.com", "sel", baseMsg)
	r := check(t, newChecker(t, dns), msg, "example.com", trustedRelay, false)
	if r.DMARC != DMARCFail || !r.DKIMAligned || r.AuthResPass || r.AuthRes.DMARC != DMARCFail {
		t.Fatalf("dmarc=%q aligned=%v authres=%+v", r.DMARC, r.DKIMAligned, r.AuthRes)
	}
	if !passesDMARCCheck(r) {
		t.Error("aligned DKIM pass should satisfy the dmarc check")
	}
	if r.AuthResPass || !hasFailure(r, "authres: ", "mx.desk.test reports no dkim or dmarc pass") {
		t.Errorf("authres pass %v, Failed %q", r.AuthResPass, r.Failed)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "a.b.example.com": "example.com",
		"www.example.co.uk": "example.co.uk", "co.uk": "co.uk",
		"foo.example.test": "example.test", "user.github.io": "user.github.io",
	} {
		if got := orgDomain(in); got != want {
			t.Errorf("orgDomain(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Example.COM.": "example.com", " bücher.example ": "xn--bcher-kva.example", "": "",
	} {
		if got := normDomain(in); got != want {
			t.Errorf("normDomain(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cleanAuthRes(`mx (a (nested) \) comment); dkim=pass reason="x (not a comment)"`); got != `mx  ; dkim=pass reason="x_(not_a_comment)"` {
		t.Errorf("cleanAuthRes = %q", got)
	}
	if !aligned("MAIL.example.com", "example.com", dmarc.AlignmentRelaxed) || aligned("", "example.com", dmarc.AlignmentRelaxed) {
		t.Error("aligned wrong")
	}
	fields, err := readHeader(strings.NewReader("A: 1\nB: two\n\tlines\nbogus line\n\nbody: no\n"))
	if err != nil || len(fields) != 2 || fields[1].value != "two lines" {
		t.Errorf("readHeader = %+v, %v", fields, err)
	}
	if _, err := readHeader(strings.NewReader("X: " + strings.Repeat("a", maxHeaderBytes) + "\r\n\r\n")); err == nil {
		t.Error("readHeader accepted an oversized header")
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1", "::1", "nonsense"}); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("ParsePrefixes error = %v", err)
	}
	p, err := ParsePrefixes([]string{"192.0.2.1", "2001:db8::/32"})
	if err != nil || p[0].Bits() != 32 || p[1].Bits() != 32 || !p[0].Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("ParsePrefixes = %v, %v", p, err)
	}
}

// FuzzAuthRes: any header value parses without panicking, and only a pass
// aligned with the From domain is ever reported.
func FuzzAuthRes(f *testing.F) {
	for _, s := range []string{
		"mx.desk.test; dkim=pass header.d=example.com",
		`mx (c (n) \)); dmarc=pass header.from="example.com"`,
		"mx 2; none", ";;;", "(", `"`, "mx; dkim=pass header.i=@", "mx; =; dkim",
		`mx; spf=pass smtp.mailfrom="x\\\";dkim=pass header.d=example.com;"@evil`, "mx; dkim=pass reason=\"\u00a0\xc2\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ar := parseAuthRes(v, "example.com", dmarc.AlignmentRelaxed)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; len(v) <= 1<<20 && grew > 64<<20 {
			t.Fatalf("%d bytes of input allocated %d MiB", len(v), grew>>20)
		}
		if ar.AuthservID != strings.ToLower(ar.AuthservID) {
			t.Errorf("authserv-id %q not lower-cased", ar.AuthservID)
		}
		if ar.DKIMPass && !strings.Contains(strings.ToLower(v), "example.com") {
			t.Errorf("dkim pass without the From domain in %q", v)
		}
	})
}

// Answers (and "no such name") are cached for CacheTTL; temporary
// failures never are.
func TestTXTCache(t *testing.T) {
	dns := dnstest.Start(t)
	dns.SetTXT("_dmarc.cached.example", "v=DMARC1; p=reject")
	c := New(Config{Resolver: dns.Addr(), DNSTimeout: time.Second, CacheTTL: time.Minute})
	look := c.lookupTXT(context.Background())
	for i := 0; i < 3; i++ {
		if txts, err := look("_dmarc.cached.example"); err != nil || len(txts) != 1 {
			t.Fatalf("lookup %d: %v %v", i, txts, err)
		}
		if _, err := look("_dmarc.missing.example"); err == nil {
			t.Fatalf("lookup of a missing name succeeded")
		}
	}
	if n := dns.Queries("_dmarc.cached.example"); n != 1 {
		t.Errorf("%d queries for a cached name, want 1", n)
	}
	if n := dns.Queries("_dmarc.missing.example"); n != 1 {
		t.Errorf("%d queries for a cached missing name, want 1", n)
	}
	dns.SetServFail("_dmarc.flaky.example")
	look("_dmarc.flaky.example")
	look("_dmarc.flaky.example")
	if n := dns.Queries("_dmarc.flaky.example"); n < 2 {
		t.Errorf("a temporary failure was cached (%d queries)", n)
	}
}

// Quoted strings in an Authentication-Results value hold text the sender
// chose (a local part in smtp.mailfrom, a reason): whatever they contain,
// they never become a result, a property or a new resinfo.
func TestAuthResQuotedContent(t *testing.T) {
	const id = "mx.desk.test"
	forged := []struct{ name, value string }{
		{"semicolon in local part", id + `; dmarc=fail smtp.mailfrom="x;dkim=pass header.d=example.com;"@evil.test`},
		{"semicolon, dmarc pass", id + `; spf=pass smtp.mailfrom="x; dmarc=pass header.from=example.com;"@evil.test`},
		{"space starts a property", id + `; dkim=pass header.d=evil.test reason="x header.d=example.com "`},
		{"tab starts a property", id + "; dkim=pass header.d=evil.test reason=\"x\theader.d=example.com\t\""},
		{"unicode space starts a property", id + "; dkim=pass header.d=evil.test reason=\"x\u00a0header.d=example.com\u2003\""},
		{"escaped quote keeps the string open", id + `; spf=pass smtp.mailfrom="x\";dkim=pass header.d=example.com;\""@evil.test`},
		{"escaped semicolon", id + `; spf=pass smtp.mailfrom="x\;dkim=pass header.d=example.com \;"@evil.test`},
		{"parentheses inside quotes", id + `; spf=pass smtp.mailfrom="(x); dmarc=pass header.from=example.com; (y)"@evil.test`},
		{"unterminated quote", id + `; spf=pass smtp.mailfrom="x; dkim=pass header.d=example.com`},
		{"quoted value after CFWS", id + `; spf=pass smtp.mailfrom= "dkim=pass header.d=example.com"`},
		{"quoted authserv-id", `"` + id + `; dkim=pass header.d=example.com"; dkim=fail header.d=example.com`},
	}
	for _, tt := range forged {
		t.Run(tt.name, func(t *testing.T) {
			ar := parseAuthRes(tt.value, "example.com", dmarc.AlignmentRelaxed)
			if ar.DKIMPass || ar.DMARC == DMARCPass {
				t.Errorf("forged quoted content read as a pass: %+v (cleaned %q)", ar, cleanAuthRes(tt.value))
			}
		})
	}
	genuine := []struct {
		name, value string
		dkim        bool
		dmarc       string
	}{
		{"quoted header.d", id + `; dkim=pass header.d="example.com"`, true, ""},
		{"quoted header.from", id + `; dmarc=pass header.from="example.com"`, false, DMARCPass},
		{"quoted header.i", id + `; dkim=pass header.i="@mail.example.com"`, true, ""},
		{"quoted local part in header.i", id + `; dkim=pass header.i="john doe;x"@example.com`, true, ""},
		{"after a quoted reason", id + `; spf=pass smtp.mailfrom="a;b c"@evil.test; dkim=pass reason="good; key" header.d=example.com; dmarc=pass header.from=example.com`, true, DMARCPass},
	}
	for _, tt := range genuine {
		t.Run(tt.name, func(t *testing.T) {
			ar := parseAuthRes(tt.value, "example.com", dmarc.AlignmentRelaxed)
			if ar.AuthservID != id || ar.DKIMPass != tt.dkim || ar.DMARC != tt.dmarc {
				t.Errorf("parseAuthRes = %+v, want dkim %v dmarc %q", ar, tt.dkim, tt.dmarc)
			}
		})
	}
}

// passesDMARCCheck is what the engine's "dmarc" staff check accepts
// (gateway/engine staffChecks): DMARC pass or an aligned DKIM pass.
func passesDMARCCheck(r Result) bool { return r.DMARC == DMARCPass || r.DKIMAligned }

// A header with a trusted authserv-id is believed only in the block of
// headers the trusted relay prepended, above its own topmost Received
// line (SPEC 5). Below it, the sender wrote it: a front MTA at its
// defaults lets such a header through (OpenDKIM adds none to unsigned
// mail, OpenDMARC skips local clients).
func TestAuthResRelayBlock(t *testing.T) {
	const (
		ours    = "Received: from mx.desk.test (10.1.2.3)\r\n\tby help.desk.test with ESMTP id 7;\r\n\tMon, 02 Mar 2026 10:00:02 +0000\r\n"
		pass    = "Authentication-Results: mx.desk.test; dkim=pass header.d=example.com header.s=sel; dmarc=pass header.from=example.com\r\n"
		none    = "Authentication-Results: mx.desk.test; dkim=none; dmarc=fail header.from=example.com\r\n"
		inner   = "Received: from internal.desk.test (10.9.9.9)\r\n\tby mx.desk.test (Postfix) with ESMTP id 5Abc;\r\n\tMon, 02 Mar 2026 10:00:00 +0000\r\n"
		pipeTop = "Return-Path: <alice@example.com>\r\nDelivered-To: help@desk.test\r\n"
	)
	smtp := Origin{ClientIP: trustedRelay, OwnReceived: 1}
	inject := Origin{TrustAuthRes: true}
	tests := []struct {
		name     string
		header   string // prepended to baseMsg
		origin   Origin
		wantPass bool
		wantFail string // substring of the authres failure when !wantPass
		ignored  int
	}{
		{"signed mail, relay's header above its Received", ours + pass + relayReceived, smtp, true, "", 0},
		{"lower-case field names", ours + strings.ToLower(pass[:23]) + pass[23:] + "received" + relayReceived[8:], smtp, true, "", 0},
		{"forged header below the relay's Received", ours + relayReceived + pass, smtp, false, "below the relay's Received line ignored", 1},
		{"relay says none, forged pass below", ours + none + relayReceived + pass, smtp, false, "mx.desk.test reports no dkim or dmarc pass", 1},
		{"only our own Received", ours + pass, smtp, false, "no Received line of the relay", 0},
		{"no Received at all", pass, smtp, false, "no Received line of the relay", 0},
		{"an earlier hop's header is below the relay's Received", ours + relayReceived + pass + inner, smtp, false, "below the relay's Received line ignored", 1},
		{"untrusted client, header in the block", ours + pass + relayReceived, Origin{ClientIP: outsider, OwnReceived: 1}, false, "untrusted client 192.0.2.7", 0},
		{"inject: pipe headers, relay's header, Received", pipeTop + pass + relayReceived, inject, true, "", 0},
		{"inject: forged header below the first Received", pipeTop + relayReceived + pass, inject, false, "below the relay's Received line ignored", 1},
		{"inject: no Received line", pipeTop + pass, inject, false, "no Received line of the relay", 0},
		{"inject without the flag", pipeTop + pass + relayReceived, Origin{}, false, "untrusted client unknown", 0},
	}
	dns := dnstest.Start(t)
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	c := newChecker(t, dns)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Check(context.Background(), strings.NewReader(tt.header+baseMsg), "example.com", tt.origin)
			if r.AuthResPass != tt.wantPass || r.AuthRes.Ignored != tt.ignored {
				t.Fatalf("AuthResPass=%v Ignored=%d, want %v %d (AuthRes %+v, Failed %q)", r.AuthResPass, r.AuthRes.Ignored, tt.wantPass, tt.ignored, r.AuthRes, r.Failed)
			}
			if tt.wantPass {
				if r.DMARC != DMARCPass || hasFailure(r, "authres:", "") {
					t.Errorf("DMARC=%q Failed=%q", r.DMARC, r.Failed)
				}
				return
			}
			if !hasFailure(r, "authres: ", tt.wantFail) {
				t.Errorf("Failed = %q, want an authres failure containing %q", r.Failed, tt.wantFail)
			}
			// A header that is not believed changes nothing: our own
			// DMARC (a reject record, no signature) stands, or the
			// relay's own dmarc=fail.
			if r.DMARC != DMARCFail || r.AuthRes.DKIMPass || r.AuthRes.DMARC == DMARCPass {
				t.Errorf("DMARC=%q AuthRes=%+v: an ignored header was believed", r.DMARC, r.AuthRes)
			}
		})
	}
}
