package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

// An Ed25519 key is published as its 32 raw bytes (RFC 8463), on one
// TXT string.
func TestDKIMRecordEd25519(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DKIMRecordFor("example.com.", "hd", priv)
	if err != nil {
		t.Fatal(err)
	}
	want := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	if r.Name != "hd._domainkey.example.com" || r.Value != want || r.KeyType != "ed25519" {
		t.Errorf("record %+v, want value %q", r, want)
	}
	if z := r.ZoneLine(); z != `hd._domainkey.example.com. IN TXT ( "`+want+`" )` || strings.Count(z, `"`) != 2 {
		t.Errorf("zone line %q", z)
	}
}
