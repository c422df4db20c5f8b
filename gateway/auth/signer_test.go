package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/gateway/internal/dnstest"
)

const outboundMsg = "From: Help Desk <help@desk.test>\r\n" +
	"To: alice@example.com\r\n" +
	"Subject: [#42] printer on fire\r\n" +
	"Date: Mon, 02 Mar 2026 10:05:00 +0000\r\n" +
	"Message-ID: <t42.1@desk.test>\r\n" +
	"In-Reply-To: <m1@example.com>\r\n" +
	"References: <m1@example.com>\r\n" +
	"Auto-Submitted: auto-replied\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"We are on it.\r\n"

func writeKey(t *testing.T, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSignerRoundTrip(t *testing.T) {
	dns := dnstest.Start(t)
	dns.SetTXT("_dmarc.desk.test", "v=DMARC1; p=reject; adkim=s")
	c := newChecker(t, dns)

	edKey, edTXT := dnstest.DKIMKey(t)
	rsaKey, rsaTXT := dnstest.DKIMKeyRSA(t)
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name, blockType string
		der             []byte
		txt             string
		extraPEM        string // prepended to the key file
	}{
		{"ed25519 pkcs8", "PRIVATE KEY", pkcs8(edKey), edTXT, ""},
		{"rsa pkcs8", "PRIVATE KEY", pkcs8(rsaKey), rsaTXT, ""},
		{"rsa pkcs1", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey)), rsaTXT, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeKey(t, tt.blockType, tt.der)
			if tt.extraPEM != "" {
				data, _ := os.ReadFile(path)
				os.WriteFile(path, append([]byte(tt.extraPEM), data...), 0o600)
			}
			selector := strings.ReplaceAll(tt.name, " ", "-")
			dns.SetTXT(selector+"._domainkey.desk.test", tt.txt)
			s, err := LoadSigner("Desk.Test", selector, path)
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			if s.Domain() != "desk.test" || s.Selector() != selector {
				t.Errorf("Domain/Selector = %q/%q", s.Domain(), s.Selector())
			}
			var out bytes.Buffer
			if err := s.Sign(&out, strings.NewReader(outboundMsg)); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			signed := out.String()
			if !strings.HasPrefix(signed, "DKIM-Signature: ") || !strings.HasSuffix(signed, outboundMsg) {
				t.Fatalf("signed message malformed:\n%s", signed)
			}
			sig := strings.Join(strings.Fields(signed[:len(signed)-len(outboundMsg)]), "")
			for _, want := range []string{"c=relaxed/relaxed", "d=desk.test", "s=" + selector, "h=From:From:To:Cc:Subject:Date:Message-ID:In-Reply-To:References:Reply-To:MIME-Version:Content-Type:Content-Transfer-Encoding:Auto-Submitted"} {
				if !strings.Contains(sig, want) {
					t.Errorf("signature lacks %q: %s", want, sig)
				}
			}
			r := c.Check(context.Background(), strings.NewReader(signed), "desk.test", Origin{})
			if !r.DKIMAligned || r.DMARC != DMARCPass || len(r.DKIM) != 1 || r.DKIM[0].Selector != selector {
				t.Fatalf("Check of signed mail: %+v", r)
			}
			// Over-signed From: a second From added in transit breaks it.
			r = c.Check(context.Background(), strings.NewReader("From: mallory@desk.test\r\n"+signed), "desk.test", Origin{})
			if r.DKIMAligned || r.DMARC != DMARCFail {
				t.Errorf("added From still verifies: %+v", r.DKIM)
			}
		})
	}
}

// Header signs a spooled file without buffering it; the field prepended to
// the file verifies. A bare-LF message gets a bare-LF signature from Sign.
func TestSignerHeaderAndLineEndings(t *testing.T) {
	dns := dnstest.Start(t)
	key := dns.AddDKIMKey("desk.test", "hd")
	s, err := NewSigner("desk.test", "hd", key)
	if err != nil {
		t.Fatal(err)
	}
	c := newChecker(t, dns)

	path := filepath.Join(t.TempDir(), "out.eml")
	if err := os.WriteFile(path, []byte(outboundMsg), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	field, err := s.Header(f)
	if err != nil || !strings.HasPrefix(field, "DKIM-Signature:") || !strings.HasSuffix(field, "\r\n") {
		t.Fatalf("Header = %q, %v", field, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(f)
	if r := c.Check(context.Background(), bytes.NewReader(append([]byte(field), rest...)), "desk.test", Origin{}); !r.DKIMAligned {
		t.Fatalf("Header-signed mail: %+v", r.DKIM)
	}

	lf := strings.ReplaceAll(outboundMsg, "\r\n", "\n")
	var out bytes.Buffer
	if err := s.Sign(&out, strings.NewReader(lf)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("LF message got CRLF line endings from Sign")
	}
	if r := c.Check(context.Background(), bytes.NewReader(out.Bytes()), "desk.test", Origin{}); !r.DKIMAligned {
		t.Fatalf("LF-signed mail: %+v", r.DKIM)
	}
	// Converted to CRLF on the wire (as an SMTP client does) it still verifies.
	wire := strings.ReplaceAll(out.String(), "\n", "\r\n")
	if r := c.Check(context.Background(), strings.NewReader(wire), "desk.test", Origin{}); !r.DKIMAligned {
		t.Fatalf("LF-signed mail sent as CRLF: %+v", r.DKIM)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	t.Setenv("GODEBUG", "rsa1024min=0") // let crypto/rsa make and parse a 512-bit key
	small, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), "no such file"},
		{"not PEM", writeKey(t, "CERTIFICATE", []byte("x")), "no private key"},
		{"encrypted", writeKey(t, "ENCRYPTED PRIVATE KEY", []byte("x")), "encrypted"},
		{"short RSA", writeKey(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "at least 1024"},
		{"ECDSA", writeKey(t, "PRIVATE KEY", ecDER), "neither an RSA nor an Ed25519"},
		{"garbage DER", writeKey(t, "PRIVATE KEY", []byte("garbage")), "dkim key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := LoadSigner("desk.test", "sel", tt.path)
			if err == nil || s != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadSigner = %v, %v; want error containing %q", s, err, tt.want)
			}
		})
	}
	key, _ := dnstest.DKIMKey(t)
	if _, err := NewSigner("", "sel", key); err == nil {
		t.Error("NewSigner accepted an empty domain")
	}
	if _, err := NewSigner("desk.test", " ", key); err == nil {
		t.Error("NewSigner accepted an empty selector")
	}
}
