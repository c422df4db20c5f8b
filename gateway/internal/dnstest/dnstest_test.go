package dnstest

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// resolver returns a pure-Go resolver that sends every query to s.
func resolver(s *Server) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.Addr())
		},
	}
}

func lookup(t *testing.T, s *Server, name string, timeout time.Duration) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return resolver(s).LookupTXT(ctx, name)
}

func TestTXTAnswers(t *testing.T) {
	s := Start(t)
	s.SetTXT("_dmarc.Example.COM", "v=DMARC1; p=reject")
	s.SetTXT("multi.example.com", "one", "two")

	got, err := lookup(t, s, "_dmarc.example.com.", 2*time.Second)
	if err != nil || len(got) != 1 || got[0] != "v=DMARC1; p=reject" {
		t.Fatalf("LookupTXT = %q, %v", got, err)
	}
	// Case-insensitive and without a trailing dot.
	got, err = lookup(t, s, "_DMARC.EXAMPLE.com", 2*time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("upper-case LookupTXT = %q, %v", got, err)
	}
	got, err = lookup(t, s, "multi.example.com.", 2*time.Second)
	if err != nil || len(got) != 2 || got[0]+got[1] != "onetwo" && got[0]+got[1] != "twoone" {
		t.Fatalf("two records: %q, %v", got, err)
	}
	if n := s.Queries("_dmarc.example.com"); n != 2 {
		t.Errorf("Queries = %d, want 2", n)
	}
}

func TestLongTXTIsSplitAndJoined(t *testing.T) {
	s := Start(t)
	long := strings.Repeat("abcdefghij", 40) // 400 bytes: two character-strings
	s.SetTXT("long.example.com", long)
	got, err := lookup(t, s, "long.example.com.", 2*time.Second)
	if err != nil || len(got) != 1 || got[0] != long {
		t.Fatalf("LookupTXT = %d records, %v; want the 400-byte value back", len(got), err)
	}
	if c := chunk(strings.Repeat("x", 600)); len(c) != 3 || len(c[0]) != 255 || len(c[2]) != 90 {
		t.Errorf("chunk(600) lengths wrong: %d parts", len(c))
	}
}

// An answer larger than the UDP payload size is truncated; the resolver must
// get the full answer over TCP.
func TestTruncationFallsBackToTCP(t *testing.T) {
	s := Start(t)
	big := strings.Repeat("0123456789", 500) // 5000 bytes, above any UDP size Go advertises
	s.SetTXT("big.example.com", big)
	got, err := lookup(t, s, "big.example.com.", 2*time.Second)
	if err != nil || len(got) != 1 || got[0] != big {
		t.Fatalf("LookupTXT big = %d records, %v", len(got), err)
	}
	if n := s.Queries("big.example.com"); n < 2 {
		t.Errorf("Queries = %d, want a UDP and a TCP query", n)
	}
}

func TestNXDOMAINAndNODATA(t *testing.T) {
	s := Start(t)
	s.SetTXT("sel._domainkey.example.com", "v=DKIM1; p=")

	_, err := lookup(t, s, "nope.example.com.", 2*time.Second)
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("unknown name: err = %v, want IsNotFound", err)
	}
	// An empty non-terminal exists but has no TXT: still "not found" to Go.
	_, err = lookup(t, s, "_domainkey.example.com.", 2*time.Second)
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("empty non-terminal: err = %v, want IsNotFound", err)
	}
	// Another type at an existing name: NODATA.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = resolver(s).LookupHost(ctx, "sel._domainkey.example.com.")
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("A query: err = %v, want IsNotFound", err)
	}
	// Removing a name.
	s.SetTXT("sel._domainkey.example.com")
	_, err = lookup(t, s, "sel._domainkey.example.com.", 2*time.Second)
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("removed name: err = %v, want IsNotFound", err)
	}
}

func TestServFailIsTemporary(t *testing.T) {
	s := Start(t)
	s.SetServFail("broken.example.com")
	_, err := lookup(t, s, "broken.example.com.", 2*time.Second)
	var de *net.DNSError
	if !errors.As(err, &de) || de.IsNotFound || !de.Temporary() {
		t.Fatalf("SERVFAIL: err = %v, want a temporary error", err)
	}
	s.SetTXT("broken.example.com", "ok")
	if got, err := lookup(t, s, "broken.example.com.", 2*time.Second); err != nil || got[0] != "ok" {
		t.Fatalf("after SetTXT: %q, %v", got, err)
	}
}

func TestDropTimesOut(t *testing.T) {
	s := Start(t)
	s.SetDrop("slow.example.com")
	start := time.Now()
	_, err := lookup(t, s, "slow.example.com.", 300*time.Millisecond)
	if err == nil {
		t.Fatal("dropped query answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("lookup took %v despite a 300ms context", d)
	}
	if s.Queries("slow.example.com") == 0 {
		t.Error("the dropped query was not counted")
	}
}

func TestCloseStopsServing(t *testing.T) {
	s := Start(t)
	s.SetTXT("a.example.com", "x")
	s.Close()
	s.Close() // idempotent; t.Cleanup calls it again
	if _, err := lookup(t, s, "a.example.com.", 500*time.Millisecond); err == nil {
		t.Fatal("closed server still answers")
	}
}

func TestKeys(t *testing.T) {
	_, txt := DKIMKey(t)
	if !strings.HasPrefix(txt, "v=DKIM1; k=ed25519; p=") || len(txt) != len("v=DKIM1; k=ed25519; p=")+44 {
		t.Errorf("ed25519 record = %q", txt)
	}
	key, txt := DKIMKeyRSA(t)
	if !strings.HasPrefix(txt, "v=DKIM1; k=rsa; p=MIIBIjAN") {
		t.Errorf("rsa record = %q", txt)
	}
	if p := KeyPEM(t, key); !strings.HasPrefix(string(p), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("KeyPEM = %q", p)
	}
}
