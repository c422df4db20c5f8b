package acceptance

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"helpdesk/gateway/internal/dnstest"
	"helpdesk/gateway/internal/testkit"
)

var _ = claim("`helpdesk dkim-record` prints the TXT record (name, value, zone-file line split into 255-character strings) of the configured DKIM key; published as printed, the daemon's signed mail verifies",
	"TestDKIMRecordVerifiesSignedMail")

// The record `helpdesk dkim-record` prints is the one to publish: put in
// DNS exactly as printed (--json for the exact value), the signature of
// every mail the daemon sends verifies against it. The key is RSA 2048, so
// the value is longer than one TXT string.
func TestDKIMRecordVerifiesSignedMail(t *testing.T) {
	dir := t.TempDir()
	key, _ := dnstest.DKIMKeyRSA(t)
	keyFile := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(keyFile, dnstest.KeyPEM(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
	e := Start(t, Options{Dir: dir, Outbound: `dkim_domain = "example.com"
dkim_selector = "hd2026"
dkim_private_key_file = "` + keyFile + `"`})

	var rec struct{ Name, Value, Key_Type string }
	e.JSON(&rec, "dkim-record")
	if rec.Name != "hd2026._domainkey.example.com" || !strings.HasPrefix(rec.Value, "v=DKIM1; k=rsa; p=") {
		t.Fatalf("dkim-record --json: %+v", rec)
	}
	human := e.MustCLI("dkim-record")
	t.Logf("helpdesk dkim-record:\n%s", human)
	for _, want := range []string{"name:  hd2026._domainkey.example.com\n", "value: " + rec.Value + "\n", "hd2026._domainkey.example.com. IN TXT ( \""} {
		if !strings.Contains(human, want) {
			t.Errorf("dkim-record output lacks %q", want)
		}
	}
	// The zone line's strings, joined, are the value; none is longer
	// than a TXT string may be.
	zone := human[strings.Index(human, "IN TXT ("):]
	var joined strings.Builder
	for _, part := range strings.Split(zone, `"`)[1:] {
		if strings.TrimSpace(part) == "" || strings.HasPrefix(strings.TrimSpace(part), ")") {
			continue
		}
		if len(part) > 255 {
			t.Errorf("a string of %d characters in the zone line", len(part))
		}
		joined.WriteString(part)
	}
	if joined.String() != rec.Value {
		t.Errorf("zone line strings join to %q, want the value %q", joined.String(), rec.Value)
	}

	e.DNS.SetTXT(rec.Name, rec.Value)
	e.Customer(testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "DKIM please", Body: "Is this signed?"})
	ack := e.Find("ken@e-fun.example", "DKIM please")
	res := resolverFor(e.DNS.Addr())
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(ack.Raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "example.com" {
		for _, v := range verifs {
			t.Logf("signature d=%s: %v", v.Domain, v.Err)
		}
		t.Fatalf("the acknowledgement's DKIM signature against the printed record: %d signatures, want one that verifies", len(verifs))
	}

	// Without a key configured it says what to set.
	e2 := Start(t, Options{})
	out, errs, code := e2.CLI("dkim-record")
	if code != 1 || !strings.Contains(errs, "dkim_private_key_file") {
		t.Errorf("dkim-record without a key: exit %d, %q %q", code, out, errs)
	}
}

// resolverFor is a resolver that asks only the test DNS server at addr.
func resolverFor(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		return d.DialContext(ctx, network, addr)
	}}
}
