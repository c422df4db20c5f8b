package token

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func ring(now time.Time) *Keyring {
	return &Keyring{
		Keys:  []Key{{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef"), Created: now.Add(-time.Hour)}},
		Grace: 24 * time.Hour,
		Now:   func() time.Time { return now },
	}
}

func TestRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k := ring(now)
	cases := []Token{
		{Ticket: 1, Party: 1},
		{Ticket: 123456789, Thread: 7, Party: 99999999, Seq: 4000000, Flags: FlagPrivate | FlagStaff},
		{Ticket: 1<<40 + 3, Thread: 1 << 20, Party: 1 << 40, Seq: 1 << 30},
	}
	for _, c := range cases {
		s := k.Sign(c)
		if s != strings.ToLower(s) {
			t.Errorf("token %q is not lowercase", s)
		}
		if local := "support+" + s; len(local) > 64 {
			t.Errorf("local part %q is %d chars, over 64", local, len(local))
		}
		got, err := k.Verify(s)
		if err != nil || got != c {
			t.Errorf("Verify(Sign(%+v)) = %+v, %v", c, got, err)
		}
		// Mail systems may uppercase; verification is case-insensitive.
		if got, err := k.Verify(strings.ToUpper(s)); err != nil || got != c {
			t.Errorf("uppercase: %+v, %v", got, err)
		}
	}
}

// config.MaxMailboxLocal relies on this bound.
func TestTokenLengthBound(t *testing.T) {
	k := ring(time.Now())
	s := k.Sign(Token{Ticket: 1<<35 - 1, Thread: 127, Party: 1<<35 - 1, Seq: 1<<21 - 1, Flags: FlagPrivate | FlagStaff})
	if len(s) > 42 {
		t.Errorf("token of %d characters for tickets and users below 2^35: %q", len(s), s)
	}
}

func TestForgeries(t *testing.T) {
	now := time.Now()
	k := ring(now)
	s := k.Sign(Token{Ticket: 42, Party: 7})
	// Flip every character in turn: none may verify as another token.
	for i := range s {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		if tok, err := k.Verify(string(b)); err == nil {
			t.Fatalf("altered token %q verified as %+v", b, tok)
		}
	}
	other := &Keyring{Keys: []Key{{ID: 1, Secret: []byte("another secret entirely........"), Created: now}}}
	if _, err := other.Verify(s); err != ErrBadMAC {
		t.Errorf("token of another installation: err = %v, want ErrBadMAC", err)
	}
	for _, junk := range []string{"", "abc", "hello-world", strings.Repeat("a", 80), "!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := k.Verify(junk); err == nil {
			t.Errorf("junk %q verified", junk)
		}
	}
}

func TestRotationGrace(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	k := ring(now)
	old := k.Sign(Token{Ticket: 5, Party: 2})
	// Rotate: retire key 1, add key 2.
	k.Keys[0].Retired = now
	k.Keys = append(k.Keys, Key{ID: 2, Secret: []byte("fedcba9876543210fedcba9876543210"), Created: now})
	fresh := k.Sign(Token{Ticket: 5, Party: 2})
	if fresh == old {
		t.Fatal("new key produced the same token")
	}
	if _, err := k.Verify(old); err != nil {
		t.Errorf("old token within grace: %v", err)
	}
	k.Now = func() time.Time { return now.Add(25 * time.Hour) }
	if _, err := k.Verify(old); err != ErrUnknownKey {
		t.Errorf("old token after grace: err = %v, want ErrUnknownKey", err)
	}
	if _, err := k.Verify(fresh); err != nil {
		t.Errorf("fresh token: %v", err)
	}
}

func TestAddress(t *testing.T) {
	if a := Address("support@example.com", "+", "abc"); a != "support+abc@example.com" {
		t.Fatalf("Address = %q", a)
	}
	if a := Address("nodomain", "+", "abc"); a != "nodomain" {
		t.Fatalf("Address = %q", a)
	}
}

func FuzzVerify(f *testing.F) {
	k := ring(time.Now())
	f.Add(k.Sign(Token{Ticket: 1, Party: 1}))
	f.Add("")
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Add(strings.Repeat("a", 1<<20))
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<20 {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tok, err := k.Verify(s)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("verifying %d bytes allocated %d bytes", len(s), grew)
		}
		if err == nil && k.Sign(tok) != strings.ToLower(s) {
			// A token that verifies must be the canonical encoding of
			// what it decodes to (no malleability).
			t.Errorf("non-canonical token %q verified as %+v", s, tok)
		}
	})
}
