package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
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
		{Ticket: 42, Party: 7, Seq: 12, Flags: FlagSurvey}, // a survey's own kind
	}
	for _, c := range cases {
		s := k.Sign(c)
		if s != strings.ToLower(s) {
			t.Errorf("token %q is not lowercase", s)
		}
		if local := "support+" + s; len(local) > 64 {
			t.Errorf("local part %q is %d chars, over 64", local, len(local))
		}
		// The issue time comes back: the keyring's clock, in whole
		// hours since the key's creation.
		c.Issued = now
		got, err := k.Verify(s)
		if err != nil || got != c {
			t.Errorf("Verify(Sign(%+v)) = %+v, %v", c, got, err)
		}
		// Mail systems may uppercase; verification is case-insensitive.
		if got, err := k.Verify(strings.ToUpper(s)); err != nil || got != c {
			t.Errorf("uppercase: %+v, %v", got, err)
		}
		if got, _ := k.Verify(s); got.Survey() != (c.Flags&FlagSurvey != 0) {
			t.Errorf("Survey() of %+v = %v", c, got.Survey())
		}
	}
}

// config.MaxMailboxLocal relies on this bound: tickets and users below
// 2^28, side threads below 128, up to 16383 comments in a ticket, issued
// within 239 years of the key's creation.
func TestTokenLengthBound(t *testing.T) {
	k := ring(time.Now())
	k.Keys[0].Created = time.Now().Add(-200 * 365 * 24 * time.Hour)
	s := k.Sign(Token{Ticket: 1<<28 - 1, Thread: 127, Party: 1<<28 - 1, Seq: 1<<14 - 1, Flags: FlagPrivate | FlagStaff})
	if len(s) > 42 {
		t.Errorf("token of %d characters: %q", len(s), s)
	}
}

// A token carries its issue time in whole hours since its key's creation,
// rounded down (an age computed from it is never too young); Sign takes
// an explicit issue time, and a clock before the key's creation counts as
// the creation.
func TestIssued(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := &Keyring{Keys: []Key{{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef"), Created: created}}}
	for _, tt := range []struct{ issued, want time.Time }{
		{created.Add(90 * time.Minute), created.Add(time.Hour)},
		{created.Add(400 * 24 * time.Hour), created.Add(400 * 24 * time.Hour)},
		{created.Add(-time.Hour), created},
	} {
		s := k.Sign(Token{Ticket: 9, Party: 3, Flags: FlagStaff, Issued: tt.issued})
		got, err := k.Verify(s)
		if err != nil || !got.Issued.Equal(tt.want) || got.Flags != FlagStaff {
			t.Errorf("issued %v: Verify = %+v, %v; want Issued %v", tt.issued, got, err, tt.want)
		}
	}
}

// signV0 signs the way tokens were signed before they carried an issue
// time: key id, flags, four uvarints, MAC.
func signV0(key Key, t Token) string {
	buf := []byte{key.ID, t.Flags}
	for _, v := range []uint64{t.Ticket, uint64(t.Thread), t.Party, uint64(t.Seq)} {
		buf = binary.AppendUvarint(buf, v)
	}
	buf = append(buf, mac(key.Secret, buf)...)
	return strings.ToLower(enc.EncodeToString(buf))
}

// Tokens already out in the world, from before issue times, keep
// verifying (as thread keys they never expire), with no issue time.
func TestTokenWithoutIssueTime(t *testing.T) {
	k := ring(time.Now())
	want := Token{Ticket: 42, Thread: 1, Party: 7, Seq: 3, Flags: FlagStaff}
	got, err := k.Verify(signV0(k.Keys[0], want))
	if err != nil || got != want || !got.Issued.IsZero() {
		t.Fatalf("old token: %+v, %v; want %+v with no issue time", got, err, want)
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

// mac reuses HMAC states per secret: interleaved secrets and payloads
// give what a fresh hmac.New gives, also with more secrets than it keeps.
func TestMACReusedStatesMatchFresh(t *testing.T) {
	fresh := func(secret, payload []byte) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte("helpdesk-token-v1\x00"))
		h.Write(payload)
		return h.Sum(nil)[:MACBytes]
	}
	for round := 0; round < 3; round++ {
		for i := 0; i < 2*maxMACKeys; i++ {
			secret := bytes.Repeat([]byte{byte(i + 1)}, 32)
			for _, payload := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("payload"), 20)} {
				if got, want := mac(secret, payload), fresh(secret, payload); !bytes.Equal(got, want) {
					t.Fatalf("round %d secret %d payload %q: %x, want %x", round, i, payload, got, want)
				}
			}
		}
	}
}
